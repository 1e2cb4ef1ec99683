"""Markdown read as the text its reader sees (``sources/markdown``): no emphasis marks, escapes,
link syntax or footnote markers in the text quotes are cut from; headings, items, code and rows
kept as units. And across readers: no quote holds markup outside a code block."""
from __future__ import annotations

import textwrap

import pytest

from bot import ChatBot
from bot.sources.ingest import read_file
from bot.sources.markdown import front_matter, read_markdown
from bot.sources.readers import LoadReport
from bot.sources.structure import CODE, HEADING, ITEM, KEY, PARAGRAPH, ROW, decode, decode_spans, pack, unpack

GUIDE = textwrap.dedent("""\
    ---
    title: sprocket-install
    section: 1
    description: Install a sprocket
    ---

    ### Overview

    - [Before you start](#before-you-start)
    - [Installing](#installing)
    - [Checking](#checking)

    ### Before you start

    **Note for Mac:** you must **read** the `sprocket_config` file and lid\\_clip first.[^1] See the
    [setup guide](setup.md) and \\[optional\\] steps; a \\*star\\* is literal.<sup>2</sup>

    **How do I know it worked?**

    Run `sprocket --check` and look for *OK*.

    ### Installing

    1. Download the sprocket.
    2. Run the installer:

       ```sh
       sprocket-install --prefix=/opt/sprocket
       ```

    | Flag | Meaning |
    |------|---------|
    | `-q` | quiet   |
    | `-v` | verbose |

    > The installer never asks for a password.

    [^1]: The file lives in your home folder.
    """)

MARKUP = ("<sup", "</", "\\_", "\\[", "\\*", "**", "[^", "](", "`")


def test_front_matter_gives_the_title_and_is_not_text():
    meta, rest = front_matter(GUIDE)
    assert meta["title"] == "sprocket-install" and rest.lstrip().startswith("### Overview")
    assert front_matter("---\n\nA paragraph after a rule.\n\n---\n")[0] == {}  # rules, not front matter


def test_markdown_is_read_as_the_text_its_reader_sees():
    text, flat, title, documentation, _ = read_markdown(GUIDE)
    assert title == "sprocket-install" and documentation  # front matter and code: a documentation page
    for mark in MARKUP:
        assert mark not in text, mark
    assert "Note for Mac: you must read the sprocket_config file and lid_clip first. See the setup guide and [optional] " \
           "steps; a *star* is literal." in text  # escapes resolved, the footnote marker gone
    blocks = decode(flat, len(text))
    got = [(b.kind, text[b.start:b.end]) for b in blocks]
    assert (HEADING, "Before you start") in got
    assert (KEY, "How do I know it worked?") in got  # a bold-only paragraph heads what follows
    assert (PARAGRAPH, "Run sprocket --check and look for OK.") in got  # inline code kept verbatim
    assert (ITEM, "Download the sprocket.") in got and (ITEM, "Run the installer:") in got
    assert (CODE, "sprocket-install --prefix=/opt/sprocket") in got
    assert [t for k, t in got if k == ROW] == ["Flag | Meaning", "-q | quiet", "-v | verbose"]
    assert (PARAGRAPH, "The installer never asks for a password.") in got
    assert (PARAGRAPH, "The file lives in your home folder.") in got
    assert "Installing\n" not in [t for k, t in got if k == ITEM]  # the in-page table of contents is dropped
    assert not any(t.startswith("Before you start") for k, t in got if k == ITEM)


def test_an_article_in_markdown_keeps_the_article_model_and_its_title():
    text, _, title, documentation, _ = read_markdown("# Coffee\n\nCoffee is *roasted* seeds.\n\n## Tea\n\nTea is leaves.\n")
    assert title == "Coffee" and not documentation and text.startswith("Coffee\n\nCoffee is roasted seeds.")


def test_a_markdown_file_is_a_structured_document(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE)
    (doc,) = read_file(tmp_path / "guide.md", "guide.md", LoadReport())
    assert doc.metadata["format"] == "structured" and doc.title == "sprocket-install"
    (tmp_path / "article.md").write_text("# Coffee\n\nCoffee is **roasted** seeds.\n")
    (doc,) = read_file(tmp_path / "article.md", "article.md", LoadReport())
    assert doc.metadata["format"] == "markdown" and doc.text == "Coffee\n\nCoffee is roasted seeds.\n"
    assert doc.metadata["_blocks"]


DOCBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Gizmo</title>
<meta name="generator" content="DocBook XSL Stylesheets" /></head><body><div class="chapter">
<h1 class="title">Gizmo manual</h1><div class="section"><h2 class="title">Resetting the gizmo</h2>
<p>Hold the <code class="literal">reset_button</code> for ten seconds.<sup>[<a href="#f1">1</a>]</sup></p>
<pre class="screen"># gizmo --reset &lt;/dev/null</pre></div></div></body></html>"""
ARTICLE = ("<html><head><title>Our kettle</title></head><body><article><h1>Our kettle</h1>"
           "<p>The <b>kettle</b> boils water in <i>two</i> minutes; its lid_clip snaps shut [firmly].</p>"
           "<p>We descale the kettle every month with vinegar.</p></article></body></html>")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "guide.md").write_text(GUIDE)
    (folder / "gizmo.html").write_bytes(DOCBOOK.encode("utf-8"))
    (folder / "kettle.html").write_text(ARTICLE)
    return ChatBot.load(folder)


@pytest.mark.parametrize("question", ["what must I read first on a Mac?", "how do I know the sprocket worked?",
                                      "how do I install the sprocket?", "which flag makes the installer verbose?",
                                      "how do I reset the gizmo?", "how fast does the kettle boil water?",
                                      "how often is the kettle descaled?"])
def test_no_quote_holds_markup_outside_a_code_block(mixed, question):
    reply = mixed.ask(question)
    assert reply.citations, reply.answer
    for c in reply.citations:
        doc = next(d for d in mixed.documents if d.source == c.source)
        blocks = decode(doc.metadata.get("_blocks") or [], len(doc.text))
        for q in c.quotes:
            at = doc.text.find(q)
            assert at >= 0
            if any(b.kind == CODE and b.start <= at < b.end for b in blocks):
                continue  # code is quoted as written
            for mark in ("<sup", "</", "\\_", "\\[", "\\*", "**"):
                assert mark not in q, (mark, q)


def test_inline_code_is_quoted_as_code(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE)
    (tmp_path / "gizmo.html").write_bytes(DOCBOOK.encode("utf-8"))
    bot = ChatBot.load(tmp_path)
    doc = next(d for d in bot.documents if d.source == "guide.md")
    spans = [doc.text[a:b] for a, b in decode_spans(doc.metadata["_code"], len(doc.text))]
    assert spans == ["sprocket_config", "sprocket --check"]
    reply = bot.ask("how do I know the sprocket worked?")
    assert "Run `sprocket --check` and look for OK." in reply.answer, reply.answer  # a code span, not escaped prose
    gizmo = next(d for d in bot.documents if d.source == "gizmo.html")
    assert [gizmo.text[a:b] for a, b in decode_spans(gizmo.metadata["_code"], len(gizmo.text))] == \
        ["reset_button"]  # <code class="literal"> in documentation HTML
    reply = bot.ask("how long do I hold the reset button of the gizmo?")
    assert "`reset_button`" in reply.answer, reply.answer


def test_offsets_are_packed_compactly_and_old_lists_still_read():
    flat = [0, 1, 0, 5, 2, 0, 7, 4_000_000_000]
    packed = pack(flat)
    assert isinstance(packed, str) and list(unpack(packed)) == flat and unpack(flat) == flat
    assert unpack("not base64!") is None and unpack("abc") is None and unpack(7) is None
    assert unpack(pack(range(1000)), most=999) is None and len(unpack(pack(range(1000)), most=1000)) == 1000
    assert [(b.kind, b.start, b.end) for b in decode(pack([1, 1, 0, 5, 4, 0, 7, 9]), 10)] == [(1, 0, 5), (4, 7, 9)]
    assert [(b.start, b.end) for b in decode([1, 1, 0, 5], 10)] == [(0, 5)]  # as an earlier index saved them
    assert decode(pack([1, 1, 0, 50]), 10) == [] and decode_spans(pack([3, 4, 1, 2]), 10) == []


def test_a_lone_html_tag_block_is_read_past_not_fatal(tmp_path):
    """lxml asserts on an HTML block that is only "<html>" (a Markdown export of a web page): the
    reader takes it as no text, and the rest of the document and of its JSON Lines file are read
    (two real-text files, 40 documents, were skipped whole)."""
    import json

    from bot.sources.jsonl import jsonl_documents
    from bot.sources.markdown import read_markdown
    from bot.sources.readers import LoadReport

    text = "<html>\n\n# Backups\n\nNightly backups run at 02:00 UTC.\n"
    got = read_markdown(text)
    assert got is not None and "Nightly backups run at 02:00 UTC." in got[0]
    f = tmp_path / "kb.jsonl"
    f.write_text("\n".join(json.dumps({"_id": f"d{i}", "title": "T", "text": t, "format": "markdown"})
                           for i, t in enumerate([text, "# Other\n\nThe office opens at nine.\n"])) + "\n")
    report = LoadReport()
    docs = list(jsonl_documents(f, "kb.jsonl", report))
    assert [d.id for d in docs] == ["kb.jsonl#d0", "kb.jsonl#d1"] and not report.problems


def _children(tokens):
    return [(t.type, t.content, [(c.type, c.content, c.markup, sorted((c.attrs or {}).items())) for c in t.children or ()])
            for t in tokens]


def test_a_plain_inline_run_parses_as_markdown_it_parses_it(monkeypatch):
    """The reader gives a run with no inline syntax its one text token without the inline
    tokenizer; every character, alone, in pairs and beside others, parses as markdown-it's own
    parse does (a rule enabled later whose start character the shortcut does not know fails here)."""
    from bot.sources import markdown

    full = markdown._parser()  # the reader's parser with markdown-it's own inline rule
    chars = [chr(c) for c in range(32, 127)] + ["\t", "\u00a0", "é", "—", "“", "€"]
    texts = []
    for c in chars:
        texts += [f"a{c}b", f"{c}word", f"{c}a{c} and {c}{c}b{c}{c}", f"word {c}{c} more", f"x{c}[y](z){c}",
                  f"line one{c}\nline two", f"# Head{c}ing\n\nText {c} here.", f"- item{c}\n- {c}item",
                  f"| a{c} | b |\n|---|---|\n| {c} | d |",
                  f"a_{c}b", f"a{c}_b", f"x_y{c}z_w", f"{c}__a__{c}", f"snake_{c}case_name", f"a_b {c}c_d{c}"]
    texts += ["plain prose with no syntax at all.", "two  spaces\nnext", "ends with two spaces  \nnext",
              "&amp; entity", "a <b>tag</b>", "<http://example.com>", "a\\*b", "`code`", "~~gone~~", "snake_case_name",
              "a__b__c", "1_000_000", "é_a", "a_é", "_a_b", "a_b_", "a_b _c_", "x_y *z*",
              "*a* and _b_", "**bold** and __strong__"]
    for text in texts:
        assert _children(markdown._MD.parse(text)) == _children(full.parse(text)), repr(text)
    tokenized = []
    real_parse = markdown._MD.inline.parse
    monkeypatch.setattr(markdown._MD.inline, "parse", lambda src, *a: (tokenized.append(src), real_parse(src, *a)))
    markdown._MD.parse("Plain words, no syntax.\n\nAnd *one* with some.\n\nA snake_case_name.\n\nAn _emphasis_.")
    assert tokenized == ["And *one* with some.", "An _emphasis_."]  # the plain runs took the shortcut


@pytest.mark.parametrize("block, text", [
    # a script never closed runs to the document's end, as CommonMark and a browser take it (hypothesis found it)
    ("<SCRIPT>0", "Ops\n"),
    ("<style>p { color: red }</style>", "Ops\n\nThe office opens at nine.\n"),
    ("<script>track()</script> Nightly backups run at 02:00.",
     "Ops\n\nNightly backups run at 02:00.\n\nThe office opens at nine.\n"),
    ("<Script src='x.js'></Script> Restores take an hour.", "Ops\n\nRestores take an hour.\n\nThe office opens at nine.\n"),
    # a textarea left open runs to the end, and its text is read as a browser shows it (not "</body></html>")
    ("<textarea>Paste the key here.", "Ops\n\nPaste the key here. The office opens at nine.\n"),
    # what the HTML reader drops too: a message for browsers without scripts, a template
    ("<script src=x></script><noscript>Please enable JavaScript.</noscript><template>Hi {{name}}</template> Backups run "
     "nightly.", "Ops\n\nBackups run nightly.\n\nThe office opens at nine.\n"),
])
def test_an_html_block_gives_the_text_after_its_script_not_the_script(block, text):
    """CommonMark runs an HTML block that starts with a script or a style to the end of the line
    that closes it: what follows on that line is shown by a browser, and read; the code is not."""
    got = read_markdown(f"# Ops\n\n{block}\n\nThe office opens at nine.\n")
    assert got is not None and got[0] == text
