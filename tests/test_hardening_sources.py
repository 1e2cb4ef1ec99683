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
    assert any("caf\\xe9.md: the path is not valid UTF-8" in p for p in problems), problems
    json.dumps(problems, ensure_ascii=False).encode("utf-8")
    bot = ChatBot.load(docs)
    assert [d.source for d in bot.documents] == ["coffee.md"]
    assert any("caf\\xe9.md" in p for p in bot.problems)
    report = LoadReport()  # a file named on the command line
    from bot.sources.ingest import collect

    assert collect([docs / os.fsdecode(b"caf\xe9.md"), docs / "coffee.md"], report) == [(docs / "coffee.md", docs)]
    assert "caf\\xe9.md: the path is not valid UTF-8" in report.problems[0]


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

    from bot.serve.pdf_pages import source_file

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


# ---- row 10: PDF pages holding far more content than text -----------------------------------------
PAGE_TEXT = b"BT /F1 12 Tf 72 712 Td (Calibrate the sensor on page %d.) Tj ET\n"


def make_heavy_pdf(path: Path, pages: list[str]) -> None:
    """A PDF written with pypdf whose pages are "text" (a sentence), "shared" (the sentence and
    300 KB of ``0 0 m``, one stream for all such pages), "own:<bytes>" (a stream of its own with
    that much ``0 0 m``) or "forms" (a 100 KB form XObject drawn 50 times)."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

    w = PdfWriter()

    def stream(data: bytes, extra: dict | None = None):
        s = StreamObject()
        s.set_data(data)
        s = s.flate_encode()
        for k, v in (extra or {}).items():
            s[NameObject(k)] = v
        return w._add_object(s)

    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"):
                                           NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}))
    fonts = DictionaryObject({NameObject("/F1"): font})
    shared = stream(PAGE_TEXT % 0 + b"0 0 m\n" * 50_000)
    for n, kind in enumerate(pages, 1):
        page = w.add_blank_page(612, 792)
        resources = DictionaryObject({NameObject("/Font"): fonts})  # each page its own dictionary
        if kind == "text":
            content = stream(PAGE_TEXT % n)
        elif kind == "shared":
            content = shared
        elif kind.startswith("own:"):
            content = stream(PAGE_TEXT % n + b"0 0 m\n" * (int(kind[4:]) // 6))
        else:
            box = ArrayObject([NumberObject(0), NumberObject(0), NumberObject(612), NumberObject(792)])
            form = stream(b"0 0 m\n" * 17_000 + PAGE_TEXT % n, {
                "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"), "/BBox": box,
                "/Resources": DictionaryObject({NameObject("/Font"): fonts})})
            resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Fm0"): form})
            content = stream(PAGE_TEXT % n + b"/Fm0 Do\n" * 50)
        page[NameObject("/Contents")] = content
        page[NameObject("/Resources")] = resources
    with path.open("wb") as f:
        w.write(f)


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """The size of every content stream pypdf parses (a spy: the work text extraction does)."""
    from pypdf.generic import ContentStream

    seen: list[int] = []
    real = ContentStream._parse_content_stream

    def counted(self, stream):
        seen.append(len(stream.getbuffer()))
        return real(self, stream)

    monkeypatch.setattr(ContentStream, "_parse_content_stream", counted)
    return seen


def test_pages_sharing_one_content_stream_parse_it_once(tmp_path, parses):
    from bot.sources.ingest import read_checked

    make_heavy_pdf(tmp_path / "shared.pdf", ["shared"] * 20)
    report = LoadReport()
    [doc] = read_checked(tmp_path / "shared.pdf", "shared.pdf", report)
    assert doc.text.count("Calibrate the sensor on page 0.") == 20 and "## Page 20" in doc.text
    assert len(parses) == 1 and report.problems == []  # it was parsed 20 times: 23.5 s for 1 MB


def test_a_page_over_the_content_limit_is_left_out_unparsed(tmp_path, parses):
    from bot.sources.ingest import read_checked

    make_heavy_pdf(tmp_path / "heavy.pdf", ["text", "own:2500000", "text", "forms"])
    report = LoadReport()
    [doc] = read_checked(tmp_path / "heavy.pdf", "heavy.pdf", report)
    assert "page 1." in doc.text and "page 3." in doc.text
    assert "page 2." not in doc.text and "page 4." not in doc.text
    assert max(parses) < 1000  # neither the 2.5 MB stream nor the form drawn 50 times was parsed
    assert report.problems == [f"{tmp_path / 'heavy.pdf'}: pages 2, 4 left out: over the 2 MB of content "
                               "a page may hold (4.9 MB)"]


def test_a_pdfs_pages_share_one_content_budget(tmp_path, parses):
    from bot.sources.ingest import PdfLimits, pdf_to_markdown

    make_heavy_pdf(tmp_path / "many.pdf", ["text"] + ["own:100000"] * 5)
    report = LoadReport()
    text, _ = pdf_to_markdown(tmp_path / "many.pdf", report, PdfLimits(document_bytes=250_000, ratio=1))
    assert [n for n in range(1, 7) if f"page {n}." in text] == [1, 2, 3]
    assert len(parses) == 3
    assert report.problems == [f"{tmp_path / 'many.pdf'}: pages 4-6 left out: the PDF's pages hold over "
                               "0.238 MB of content in all (1 times its size, at least 0.238 MB)"]


def test_a_normal_pdfs_text_is_unchanged(tmp_path):
    from mixed_corpus import make_pdf
    from pypdf import PdfReader

    from bot.sources.ingest import pdf_to_markdown

    pages = ["Widget Manual\nThe widget manual explains installation.", "Calibrate the sensor every six months.",
             "Safety\nNever open the case while it is plugged in."]
    make_pdf(tmp_path / "manual.pdf", pages)
    make_heavy_pdf(tmp_path / "small.pdf", ["text", "own:50000", "text"])
    for f in ("manual.pdf", "small.pdf"):
        report = LoadReport()
        text, _ = pdf_to_markdown(tmp_path / f, report)
        plain = [p.extract_text().strip() for p in PdfReader(str(tmp_path / f)).pages]
        assert text.count("## Page ") == len(plain) and report.problems == []
        for n, page in enumerate(plain, 1):
            assert f"## Page {n}\n" in text
            for line in page.splitlines():
                assert line.strip() in text


@pytest.mark.parametrize("engine", ["postings", "tantivy"])
def test_two_jsonl_documents_under_one_id_are_each_indexed_and_cited_as_themselves(engine, tmp_path):
    """A JSON Lines file giving one `_id` to two documents: the later one is indexed under the id
    and its line (said so, naming both lines), and each passage of a saved index is its own
    document's text (two documents under one id gave one's passages the other's text, cut at
    the wrong places)."""
    src, idx = tmp_path / "src", tmp_path / "idx"
    src.mkdir()
    lines = [{"_id": "same", "title": "First", "text": "Première ligne: the walrus sleeps on ice floes. " * 30},
             {"_id": "same", "title": "Second", "text": "The second document says cats hunt mice at night. " * 30},
             {"_id": "same (line 4)", "title": "Third", "text": "Owls fly silently through dark forests. " * 5},
             {"_id": "same", "title": "Fourth", "text": "Moles dig tunnels under the garden lawn. " * 5}]
    (src / "x.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    indexer.build([src], idx, engine=engine, workers=1)
    p = subprocess.run([sys.executable, "-m", "bot", "search", "cats hunt mice", "--corpus", str(idx), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    bot = ChatBot.load(idx)
    written = {x["title"]: x["text"] for x in lines}
    texts = {d.id: d.text for d in bot.index.documents.values()}
    assert sorted(texts) == ["x.jsonl#same", "x.jsonl#same (line 2)", "x.jsonl#same (line 4)", "x.jsonl#same (line 4)'"]
    assert sorted(texts.values()) == sorted(written.values())
    passages = [p.text for p in bot.index.passages]
    for title, text in written.items():  # every document's passages are its own text, from its start
        assert any(p.startswith(text[:40]) for p in passages), title
    for passage in bot.index.passages:
        assert passage.text == texts[passage.doc_id][passage.start:passage.end]
        assert passage.text in written[bot.index.documents[passage.doc_id].title]
    problems = " ".join(bot.problems)
    assert "x.jsonl:2: document id 'same' is also on line 1; indexed as 'same (line 2)'" in problems
    assert "x.jsonl:4: document id 'same' is also on line 1; indexed as 'same (line 4)''" in problems
    reply = bot.ask("what do cats hunt at night?")
    assert any(c.source == "x.jsonl#same (line 2)" for c in reply.citations), reply.text
