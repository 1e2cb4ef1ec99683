"""Reading sources a hostile or careless user hands over (issue 22): lone surrogates in JSON
Lines and file names, symlinks out of the folder or to a file already read, a JSON Lines line of
hundreds of megabytes, PDF pages that share one huge content stream."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import ChatBot, CorpusError
from bot.index import indexer
from bot.sources.readers import LoadReport

ROOT = Path(__file__).resolve().parent.parent

GOOD = {"_id": "a", "title": "Alpha", "text": "Alpha rays are emitted by radium and stopped by paper."}


def _bad_lines() -> str:
    """A good line, then lone surrogate escapes in a text and in a title (json.dumps writes them
    as "\\ud800" escapes, as any JSON writer may)."""
    return "\n".join([json.dumps(GOOD),
                      json.dumps({"_id": "s", "title": "Beta", "text": "Beta rays are electrons \ud800 here."}),
                      json.dumps({"_id": "t", "title": "Gamma \udc00", "text": "Gamma rays are light of high energy."}),
                      ]) + "\n"


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, encoding="utf-8", errors="backslashreplace")


# ---- row 2: lone surrogates ----------------------------------------------------------------------
def test_a_jsonl_line_with_a_lone_surrogate_is_skipped_the_rest_indexed(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.jsonl").write_text(_bad_lines(), encoding="ascii")
    _, docs, _, problems = indexer.build([tmp_path / "docs"], tmp_path / "idx")
    assert [d.id for d in docs] == ["data.jsonl#a"]
    assert any("data.jsonl:2: document 's' holds a lone surrogate" in p for p in problems), problems
    assert any("data.jsonl:3: document 't' holds a lone surrogate" in p for p in problems), problems
    for corpus in (tmp_path / "idx", tmp_path / "docs"):  # the saved index and the folder itself
        bot = ChatBot.load(corpus)
        reply = bot.ask("what are alpha rays stopped by")
        assert reply.support == "answer" and "paper" in reply.answer
        for q in ("what are beta rays", "what are gamma rays"):
            json.dumps(bot.ask(q).to_dict(q), ensure_ascii=False).encode("utf-8")  # nothing unencodable


def test_the_cli_indexes_and_answers_past_a_surrogate_line(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.jsonl").write_text(_bad_lines(), encoding="ascii")
    built = _cli("index", str(tmp_path / "docs"), "--out", str(tmp_path / "idx"))
    assert built.returncode == 0, built.stderr
    assert "data.jsonl:2" in built.stdout and "Traceback" not in built.stderr
    asked = _cli("ask", "--json", "--corpus", str(tmp_path / "docs"), "what are beta rays")
    assert asked.returncode == 0 and "Traceback" not in asked.stderr, asked.stderr
    assert "data.jsonl:2" in asked.stderr
    json.loads(asked.stdout)


def test_a_manifest_value_with_a_lone_surrogate_names_its_line(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nAlpha rays are stopped by paper.\n")
    (tmp_path / "corpus.yaml").write_text('name: x\ndocuments:\n  - path: a.md\n    title: "bad \\ud800"\n')
    with pytest.raises(CorpusError, match=r"corpus\.yaml:4: documents\[0\]\.title holds a lone surrogate"):
        ChatBot.load(tmp_path)


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_message(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "coffee.md").write_text("# Coffee\n\nEspresso is brewed under nine bars of pressure.\n")
    (docs / os.fsdecode(b"caf\xe9.md")).write_text("# Tea\n\nGreen tea is steeped at eighty degrees.\n")
    _, got, _, problems = indexer.build([docs], tmp_path / "idx")
    assert [d.source for d in got] == ["coffee.md"]
    assert any("caf\\xe9.md: the file name is not valid UTF-8" in p for p in problems), problems
    json.dumps(problems, ensure_ascii=False).encode("utf-8")
    bot = ChatBot.load(docs)
    assert [d.source for d in bot.documents] == ["coffee.md"]
    assert any("caf\\xe9.md" in p for p in bot.problems)


# ---- rows 3 and 17: symlinks ---------------------------------------------------------------------
@pytest.fixture
def linked(tmp_path) -> Path:
    """A plain folder with a link to a file outside it and a second name for one of its files."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("Secret\n\nThe root password is hunter2.\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "coffee.md").write_text("# Coffee\n\nEspresso is brewed under nine bars of pressure.\n")
    (docs / "secret.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (docs / "coffee-link.md").symlink_to("coffee.md")
    return docs


def test_a_link_out_of_a_plain_folder_is_not_indexed_or_served(linked, tmp_path):
    _, docs, _, problems = indexer.build([linked], tmp_path / "idx")
    assert [d.source for d in docs] == ["coffee.md"]
    assert any("secret.txt: a link to a file outside" in p for p in problems), problems
    for corpus in (tmp_path / "idx", linked):
        bot = ChatBot.load(corpus)
        assert [d.source for d in bot.documents] == ["coffee.md"]
        assert "hunter2" not in bot.ask("what is the root password").answer


def test_a_file_reached_twice_is_indexed_once_and_the_index_stays_up_to_date(linked, tmp_path):
    _, docs, _, problems = indexer.build([linked], tmp_path / "idx")
    assert len(docs) == 1 and docs[0].source == "coffee.md"  # its own name, not the link's
    assert any("coffee-link.md: the same file as" in p for p in problems), problems
    again = indexer.update(tmp_path / "idx", [str(linked)])
    assert again.full is None and not again.touched, (again.changed, again.added, again.removed)
    out = _cli("index", str(linked), "--out", str(tmp_path / "idx"))
    assert out.returncode == 0 and "Up to date" in out.stdout, out.stdout + out.stderr


def test_manifest_entries_naming_one_file_read_it_once(tmp_path):
    (tmp_path / "coffee.md").write_text("# Coffee\n\nEspresso is brewed under nine bars of pressure.\n")
    (tmp_path / "coffee-link.md").symlink_to("coffee.md")
    (tmp_path / "corpus.yaml").write_text("documents:\n  - coffee.md\n  - coffee-link.md\n")
    bot = ChatBot.load(tmp_path)
    assert [d.source for d in bot.documents] == ["coffee.md"]
    assert any("corpus.yaml:3: document 'coffee-link.md' is the same file as 'coffee.md'" in p
               for p in bot.problems), bot.problems
    indexer.build([tmp_path], tmp_path / "idx")
    again = indexer.update(tmp_path / "idx", [str(tmp_path)])
    assert again.full is None and not again.touched


def test_a_manifest_path_through_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "outside.md").write_text("# Secret\n\nThe root password is hunter2.\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.md").write_text("# Coffee\n\nEspresso is brewed under nine bars of pressure.\n")
    (corpus / "inner.md").symlink_to(tmp_path / "outside.md")
    (corpus / "corpus.yaml").write_text("documents: [ok.md, inner.md]\n")
    for load in (lambda: ChatBot.load(corpus), lambda: ChatBot.load(indexer.build([corpus], tmp_path / "idx")[0]
                                                                     and tmp_path / "idx")):
        bot = load()
        assert [d.source for d in bot.documents] == ["ok.md"]
        assert any("inner.md' is outside the corpus folder" in p for p in bot.problems), bot.problems


def test_a_pdf_swapped_for_a_link_out_of_the_folder_is_not_shown(tmp_path):
    from mixed_corpus import make_pdf

    from bot.serve.web import source_file

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "manual.pdf", ["The widget manual explains installation on page one."])
    make_pdf(tmp_path / "other.pdf", ["Another manual nobody listed."])
    bot = ChatBot.load(docs)
    doc = bot.documents[0]
    assert source_file(bot, doc) == docs / "manual.pdf"
    (docs / "manual.pdf").unlink()
    (docs / "manual.pdf").symlink_to(tmp_path / "other.pdf")
    assert source_file(bot, doc) is None


def test_a_folder_given_through_a_link_is_read(tmp_path, linked):
    (tmp_path / "via").symlink_to(linked)
    report = LoadReport()
    from bot.sources.ingest import collect

    files = collect([tmp_path / "via"], report)
    assert [f.name for f, _ in files] == ["coffee.md"]


# ---- row 18: a JSON Lines line far over the document size limit -----------------------------------
def test_a_line_over_the_limit_is_skipped_and_never_held_whole(tmp_path):
    import io

    from bot.sources.ingest import bounded_lines, ingest

    huge = json.dumps({"_id": "huge", "title": "Huge", "text": "word " * 600_000})  # 3 MB
    unnamed = json.dumps({"title": "No id first", "text": "word " * 600_000, "_id": "late"})
    lines = [json.dumps(GOOD), huge, unnamed, json.dumps({"_id": "b", "text": "Beta rays are electrons."})]
    (tmp_path / "kb.jsonl").write_text("\n".join(lines) + "\n")
    report = LoadReport()
    docs = ingest([tmp_path], report, max_mb=1)
    assert [d.id for d in docs] == ["kb.jsonl#a", "kb.jsonl#b"]  # the line after the long ones is read whole
    assert report.problems == [
        f"{tmp_path / 'kb.jsonl'}:2: document 'huge' is over the 1 MB limit (settings.index.max_document_mb); skipped",
        f"{tmp_path / 'kb.jsonl'}:3: a line is over the 1 MB limit (settings.index.max_document_mb); skipped"]

    class Counting(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            got = super().readline(size)
            Counting.largest = max(Counting.largest, len(got))
            return got

    got = list(bounded_lines(Counting("\n".join(lines).encode()), 1 << 20))
    assert [type(x).__name__ for x in got] == ["bytes", "_Over", "_Over", "bytes"]
    assert Counting.largest <= (1 << 20) + 1  # no read returned more than the limit


def test_reading_a_line_over_the_limit_takes_no_more_memory_than_the_limit(tmp_path):
    """Peak memory of reading a 60 MB line with a 1 MB limit, in a fresh process: it
    grew by over 180 MB (the line, its text and the parse) before it was refused."""
    big = tmp_path / "big.jsonl"
    with big.open("w") as f:
        f.write(json.dumps(GOOD) + "\n" + '{"_id": "huge", "text": "' + "word " * 12_000_000 + '"}\n')
    script = (  # VmHWM: this process's peak (ru_maxrss would start at the forking pytest's)
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.sources.ingest import jsonl_documents\n"
        "from bot.sources.readers import LoadReport\n"
        "def peak():\n"
        "    status = Path('/proc/self/status').read_text()\n"
        "    return int(status.split('VmHWM:')[1].split()[0]) // 1024\n"
        "small = Path(sys.argv[1]).with_name('small.jsonl')\n"
        "small.write_text(open(sys.argv[1]).readline())\n"
        "list(jsonl_documents(small, 's', LoadReport(), max_mb=1))\n"
        "before = peak()\n"
        "r = LoadReport()\n"
        "docs = list(jsonl_documents(Path(sys.argv[1]), 'big', r, max_mb=1))\n"
        "print(len(docs), peak() - before, r.problems[0])\n")
    out = subprocess.run([sys.executable, "-c", script, str(big)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    n, grown_mb, problem = out.stdout.split(" ", 2)
    assert n == "1" and "big.jsonl:2: document 'huge' is over the 1 MB limit" in problem
    assert int(grown_mb) < 16, f"peak memory grew by {grown_mb} MB reading past a 60 MB line"
