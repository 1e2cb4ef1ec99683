"""Example questions drawn from a corpus's units (``answer/examples``): FAQ questions as asked,
options, how-tos and terms; never a generic section name ("What do the sources say about NAME?")."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot import ChatBot
from bot.answer.examples import capitals, example_questions, faq_question, generic_headings, option_question

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_readers import DOC_HTML, MAN  # noqa: E402

GENERIC = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO", "AUTHOR", "BUGS", "EXAMPLES", "EXIT STATUS",
           "Table of Contents", "Introduction", "Description", "Synopsis", "See also")


def _no_generic(questions):
    assert questions and all(q.endswith("?") for q in questions)
    for q in questions:
        assert not q.startswith("What do the sources say about") or not any(
            g.lower() in q.lower() for g in GENERIC), q


def test_a_man_page_suggests_its_options_never_its_section_names(tmp_path):
    (tmp_path / "widget.txt").write_text(MAN)
    (tmp_path / "gadget.txt").write_text(MAN.replace("WIDGET", "GADGET").replace("widget", "gadget")
                                         .replace("--sort", "--order").replace("--drawer", "--shelf"))
    bot = ChatBot.load(tmp_path)
    got = example_questions(bot.index, (), bot.documents)
    _no_generic(got)
    assert "What does --all do?" in got and "What does --sort do?" in got
    assert not any("NAME" in q or "SYNOPSIS" in q or "SEE ALSO" in q for q in got)


def test_an_faq_suggests_its_questions_as_asked(tmp_path):
    (tmp_path / "faq.html").write_text(DOC_HTML)
    bot = ChatBot.load(tmp_path)
    got = example_questions(bot.index, (), bot.documents)
    _no_generic(got)
    assert got[0] == "How do I oil a widget?"
    assert "Can widgets get wet?" in got


def test_a_heading_many_documents_share_is_generic(tmp_path):
    for name in ("alpha", "beta", "gamma"):
        (tmp_path / f"{name}.md").write_text(
            f"# {name}\n\n## Description\n\nThe {name} tool sorts {name} files.\n\n"
            f"## Tuning the {name} cache\n\nThe {name} cache holds {name} records for a day.\n")
    bot = ChatBot.load(tmp_path)
    got = example_questions(bot.index, (), bot.documents)
    _no_generic(got)
    assert "What do the sources say about tuning the alpha cache?" in got
    assert generic_headings([("a", ("Description",)), ("b", ("Description", "x")), ("c", ("y",))]) >= {"description"}


def test_the_manifest_examples_come_first():
    bot = ChatBot.load()
    assert example_questions(bot.index, bot.manifest.examples, bot.documents) == list(bot.manifest.examples)[:6]


@pytest.mark.parametrize("heading, question", [
    ("How do I delete a file? (And other file questions...)", "How do I delete a file?"),
    ("How do you remove duplicates from a list", "How do you remove duplicates from a list?"),
    ("How the input is matched", None), ("When things go wrong", None), ("Tyre pressure", None),
])
def test_faq_questions_are_read_as_asked(heading, question):
    assert faq_question(heading) == question


def test_option_questions_and_capitals():
    assert option_question("-x, --exclude=PATTERN") == "What does --exclude do?"
    assert option_question("‘--ansi-definitions, %option ansi-definitions’".strip("‘’")) == "What does --ansi-definitions do?"
    assert option_question("-d") == "What does -d do?" and option_question("Drawers") is None
    assert capitals("SEE ALSO") and capitals("EXIT STATUS") and not capitals("See also") and not capitals("A")
