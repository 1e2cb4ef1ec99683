"""``python -m bot eval realdocs``: the scoring rule of the realdocs layout, on small inline sets."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import CorpusError
from bot.eval.realdocs import contains, evaluate, misses, norm, table
from bot.model import Citation, Reply

ROOT = Path(__file__).resolve().parent.parent


def test_normalisation_is_the_sets_own():
    assert norm("Use `--exclude=PATTERN`\\_now") == "use --exclude=pattern_now"
    assert contains("Run  `rsync  --link-dest`", "--LINK-DEST")
    assert not contains("--exclude-from", "--exclude-dir")


class FakeBot:
    """Replies chosen per question, to pin down how each kind of reply is scored."""

    def __init__(self, replies):
        self.replies = replies

    def ask(self, question, history=None):
        return self.replies[question]

    def search(self, question, k):
        passage = {"skip files": "use --exclude to skip", "tar leave out": "nothing here"}.get(question, "x")
        return [{"rank": 1, "title": "OPTIONS", "passage": passage}]


def cite(quote, passage=None):
    return Citation(1, "a.txt", "T", passage or quote, (quote,), 1.0)


def write_set(root: Path, lines):
    (root / "c" / "docs").mkdir(parents=True)
    (root / "c" / "docs" / "a.md").write_text("# A\n\nUse --exclude to skip files.\n")
    (root / "c" / "questions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_each_kind_of_reply_is_scored_by_the_rule(tmp_path):
    write_set(tmp_path, [
        {"question": "skip files", "answerable": True, "gold": "--exclude", "file": "a.md"},
        {"question": "tar leave out", "answerable": True, "gold": "--exclude", "file": "a.md"},
        {"question": "shown only", "answerable": True, "gold": "--exclude", "file": "a.md"},
        {"question": "websockets?", "answerable": False, "gold": None, "file": None},
        {"question": "venv?", "answerable": False, "gold": None, "file": None},
    ])
    replies = {
        "skip files": Reply("Use --exclude to skip files. [1]", False, [cite("Use --exclude to skip files.")],
                            support="answer"),
        "tar leave out": Reply("Use tar. [1]", False, [cite("Use tar.")], support="answer"),  # confidently wrong
        "shown only": Reply("The closest passages: ... [1]", True,
                            [cite("Skip them.", "Skip them. Use --exclude to skip files.")], support="closest"),
        "websockets?": Reply("I could not find ...", True, [], support="none"),
        "venv?": Reply("Make one. [1]", False, [cite("Make one.")], support="answer"),  # wrong too
    }
    summary, rows = evaluate(tmp_path, load=lambda folder, s: FakeBot(replies))
    m = summary["c"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["answered_right"] == pytest.approx(100 / 3, abs=0.1)
    assert m["shown"] == pytest.approx(200 / 3, abs=0.1)  # the right answer and the closest passage holding it
    assert m["shown1"] == pytest.approx(200 / 3, abs=0.1)  # both hold it in their first cited passage
    assert m["quoted"] == pytest.approx(100 / 3, abs=0.1)  # only the answer quotes the gold itself
    assert m["wrong_answerable"] == pytest.approx(100 / 3, abs=0.1)
    assert m["wrong_all"] == pytest.approx(40.0)  # two confident wrong replies of five
    assert m["unanswerable_not_answered"] == pytest.approx(50.0)
    assert m["top1"] == pytest.approx(100 / 3, abs=0.1)  # only "skip files" retrieves a passage with the gold
    assert summary["all"] == m
    lines = misses(rows)
    assert len(lines) == 3 and any("WRONG" in x and "venv?" in x for x in lines)
    assert "| c | 5 (3+2) | 33.3% |" in table(summary)


def test_shown_at_1_needs_the_gold_in_the_first_cited_passage(tmp_path):
    write_set(tmp_path, [
        {"question": "first", "answerable": True, "gold": "--exclude", "file": "a.md"},
        {"question": "second", "answerable": True, "gold": "--exclude", "file": "a.md"},
    ])
    later = Citation(2, "a.txt", "T", "Use --exclude to skip files.", ("Use --exclude to skip files.",), 0.5)
    replies = {
        "first": Reply("The closest passages: ... [1]", True, [cite("Use --exclude.")], support="closest"),
        "second": Reply("The closest passages: ... [1] [2]", True, [cite("Skip them."), later], support="closest"),
    }
    summary, _ = evaluate(tmp_path, load=lambda folder, s: FakeBot(replies))
    assert summary["c"]["shown"] == pytest.approx(100.0)
    assert summary["c"]["shown1"] == pytest.approx(50.0)  # "second" shows it only in its later source


def test_real_bot_on_an_inline_documentation_set(tmp_path):
    write_set(tmp_path, [
        {"question": "how do I skip some files?", "answerable": True, "gold": "--exclude", "file": "a.md"},
        {"question": "does it support websockets?", "answerable": False, "gold": None, "file": None},
    ])
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "realdocs", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)["all"]
    assert m["questions"] == 2 and m["answered_right"] == 100.0 and m["unanswerable_not_answered"] == 100.0
    assert m["top1"] == 100.0


def test_a_broken_question_file_names_its_line(tmp_path):
    write_set(tmp_path, [{"question": "ok", "answerable": False}])
    with (tmp_path / "c" / "questions.jsonl").open("a") as f:
        f.write('{"question": "no gold", "answerable": true}\n')
    with pytest.raises(CorpusError, match=r"questions.jsonl:2: an answerable question needs a 'gold'"):
        evaluate(tmp_path)
    with pytest.raises(CorpusError, match="no corpus folders"):
        evaluate(tmp_path / "c" / "docs")


def test_the_set_is_answered_through_a_saved_index_as_from_the_folder(tmp_path):
    """By default each corpus folder is indexed as users do (`index` into a folder of its own,
    outside the data) and answered from that index; --from-folder reads it in memory. Same rows."""
    import os
    import sys as _sys

    _sys.path.insert(0, str(ROOT / "tests"))
    from doc_kinds import KINDS, write_all

    from bot.eval import CorpusBots

    data = tmp_path / "data"
    write_all(data / "c" / "docs")
    (data / "c" / "questions.jsonl").write_text("".join(
        json.dumps({"question": k.question, "answerable": True, "gold": k.before, "file": None}) + "\n"
        for k in KINDS.values()))
    os.chmod(data / "c" / "docs", 0o555)  # read-only, as shared/ is: nothing is written beside the data
    try:
        kept = tmp_path / "indexes"
        with CorpusBots(index_dir=kept) as bots:
            saved, saved_rows = evaluate(data, load=bots)
            again = bots(data / "c" / "docs")  # a second run finds the index up to date
        with CorpusBots(from_folder=True) as bots:
            folder, folder_rows = evaluate(data, load=bots)
    finally:
        os.chmod(data / "c" / "docs", 0o755)
    (index,) = [p for p in kept.iterdir() if not p.name.startswith(".")]  # beside it: the writers' lock file
    assert index.name.startswith("c-docs-") and (index / "index.json").is_file() and again.saved_index
    def same(rows):  # the saved engine's scores are float32 (the in-memory one's float64)
        return [dict(r, confidence=round(r["confidence"], 6)) for r in rows]

    assert same(saved_rows) == same(folder_rows) and saved == folder
    assert saved["all"]["answered_right"] == 100.0
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "realdocs", str(data), "--json", "--from-folder"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0 and json.loads(p.stdout) == folder, p.stderr
