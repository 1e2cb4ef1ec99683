"""Bring your own corpus: every format, a broken file, the saved index, staleness, search."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bot import ChatBot, CorpusError
from bot.index import indexer
from bot.index.engines import BM25Retriever, LuceneBM25, PostingsBM25
from mixed_corpus import write_mixed


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    return write_mixed(tmp_path_factory.mktemp("mixed"))


@pytest.fixture(scope="module")
def saved(mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("idx") / "index"
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(mixed), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Indexed 6 documents" in p.stdout
    assert "broken.pdf: cannot read the PDF" in p.stdout and "kb.jsonl:2:" in p.stdout
    return out


def ask(corpus, q):
    p = subprocess.run([sys.executable, "-m", "bot", "ask", q, "--json", "--corpus", str(corpus)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("q,source,title,needle", [
    ("how do I rotate the API key?", "api-keys.html", "Rotating API keys", "rotated every 90 days"),
    ("how long are backups kept?", "notes/backups.md", "Schedule", "30 days"),
    ("how do I calibrate the widget sensor?", "manual.pdf", "Page 2", "blue dial"),
    ("what is 2FA", "kb.jsonl#kb2", "Two-factor authentication", "one-time code"),
    ("who descales the coffee machine?", "notes/office.txt", "office", "facilities"),
])
def test_each_format_answers_from_the_saved_index(saved, q, source, title, needle):
    r = ask(saved, q)
    assert not r["abstained"], r["answer"]
    c = r["citations"][0]
    assert c["source"] == source and c["title"] == title and needle in r["answer"]
    for quote in c["quotes"]:
        assert quote in c["passage"]


def test_html_keeps_main_content_only(saved):
    bot = ChatBot.load(saved)
    html_doc = next(d for d in bot.documents if d.source == "api-keys.html")
    for furniture in ("Pricing", "Log in", "Copyright", "Cookie", "tracker"):
        assert furniture not in html_doc.text
    from bot.sources.structure import HEADING

    assert "#" not in html_doc.text  # the text a reader sees: the heading is a heading block, no Markdown marks
    _, blocks = bot.index.blocks_of(html_doc.id)  # a saved index keeps them in its blocks file
    assert "How to rotate a key" in [html_doc.text[b.start:b.end] for b in blocks if b.kind == HEADING]


def test_saved_index_loads_without_analyzing(saved, monkeypatch):
    """What makes loading a saved index fast: no text analyzed, no source file read, no index or
    engine built (bench/bench_guards.py times loading against building from the folder)."""
    import bot.chatbot as chatbot
    import bot.text.analyze as analyze
    from bot.index.corpus import CorpusIndex

    calls = []

    def spy(owner, name):
        real = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, **k: calls.append(name) or real(*a, **k))

    for owner, name in [(analyze, "terms"), (analyze, "tokens"), (analyze.Analyzer, "terms"), (chatbot, "load_corpus"),
                        (CorpusIndex, "build"), (PostingsBM25, "from_terms"), (BM25Retriever, "build")]:
        spy(owner, name)
    bot = ChatBot.load(saved)
    assert calls == []
    assert len(bot.index.passages) == 9 and bot.saved_index
    assert bot.problems and "broken.pdf" in bot.problems[0]


def test_written_manifest_and_no_temp_files(saved):
    names = sorted(os.listdir(saved))
    assert names == ["blocks.bin", "bm25.npz", "corpus.yaml", "documents.jsonl", "documents.npz", "index.json", "passages.npz", "sources.json.gz",
                     "terms.bin", "terms.txt", "texts.bin"]
    assert "api-keys.html" in (saved / "corpus.yaml").read_text()


def test_stale_index_is_refused_then_rebuilt(mixed, tmp_path):
    out = tmp_path / "idx"
    indexer.build([mixed], out)
    ChatBot.load(out)
    new = mixed / "notes" / "new-note.md"
    new.write_text("# Plants\n\nWater the office plants on Mondays.\n")
    try:
        with pytest.raises(CorpusError, match="stale"):
            ChatBot.load(out)
        bot = (indexer.refresh(out), ChatBot.load(out))[1]
        assert not bot.ask("when are the office plants watered?").abstained
    finally:
        new.unlink()


def test_truncated_and_foreign_index_files(mixed, tmp_path):
    out = tmp_path / "idx"
    indexer.build([mixed], out)
    data = (out / "bm25.npz").read_bytes()
    (out / "bm25.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="truncated or was changed"):
        ChatBot.load(out)
    (out / "index.json").write_text('{"format": "something-else"}')
    with pytest.raises(CorpusError, match="not an index written by"):
        ChatBot.load(out)
    (out / "index.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not a readable index"):
        ChatBot.load(out)


def test_search_command(saved):
    p = subprocess.run([sys.executable, "-m", "bot", "search", "restore a backup", "-k", "2", "--json",
                        "--corpus", str(saved)], capture_output=True, text=True, timeout=60)
    res = json.loads(p.stdout)["results"]
    assert [r["rank"] for r in res] == [1, 2] and res[0]["title"] == "Restoring"
    assert res[0]["doc_id"] == "notes/backups.md" and res[0]["score"] >= res[1]["score"] > 0
    lines = '{"query": "password reset"}\n{"nope": 1}\n{"query": "widget calibration"}\n'
    p = subprocess.run([sys.executable, "-m", "bot", "search", "--json", "-k", "1", "--corpus", str(saved)],
                       input=lines, capture_output=True, text=True, timeout=60)
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert out[0]["results"][0]["title"] == "Password reset"
    assert "error" in out[1] and out[2]["results"][0]["title"] == "Page 2"


def test_nothing_readable(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"not a pdf")
    with pytest.raises(CorpusError, match="nothing to index"):
        indexer.build([tmp_path], tmp_path / "out")


def test_postings_engine_matches_rank_bm25(second_bot, bot):
    """The saved/large-corpus engine gives rank_bm25's scores (Lucene IDF) on the same tokens."""
    for b in (bot, second_bot):
        small = b.index.retriever
        arrays = BM25Retriever(small.postings_arrays())
        assert isinstance(small.engine, LuceneBM25) and isinstance(arrays.engine, PostingsBM25)
        for q in ("what is a VAE", "generative AI types", "espresso pressure", "cold brew", "LLM hallucinations"):
            w = b.responder.weights(__import__("bot.answer.understand", fromlist=["x"]).understand(q, None, b.index.vocabulary))
            if not w:
                continue
            s1, s2 = small.engine.get_scores(w), arrays.engine.get_scores(w)
            assert np.allclose(s1, s2, rtol=1e-5, atol=1e-5)
            assert [h.index for h in small.search(w, 10)] == [h.index for h in arrays.search(w, 10)]


def test_fifty_megabyte_file_is_skipped_not_fatal(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"lorem ipsum dolor sit amet " * 2_000_000)  # 54 MB
    (tmp_path / "ok.md").write_text("# Ok\n\nThe fire exit is behind the kitchen.\n")
    _, docs, _, problems = indexer.build([tmp_path], tmp_path / "out")
    assert [d.source for d in docs] == ["ok.md"]
    assert "over the 20 MB limit" in problems[0]


def test_large_json_lines_file_is_indexed_with_the_limit_per_document(tmp_path):
    """A knowledge-base export is one big .jsonl: the size limit applies to each of its documents."""
    from bot.sources.ingest import ingest
    from bot.sources.load import LoadReport

    lines = [json.dumps({"_id": f"kb{i}", "title": f"Article {i}", "text": f"Rotate key {i} from the console."})
             for i in range(3000)]
    lines.insert(7, json.dumps({"_id": "huge", "title": "Huge", "text": "word " * 40_000}))  # ~200 KB
    (tmp_path / "kb.jsonl").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "kb.jsonl").stat().st_size > 0.1 * 2**20
    report = LoadReport()
    docs = ingest([tmp_path], report, max_mb=0.1)
    assert len(docs) == 3000 and all("huge" not in d.id for d in docs)
    assert len(report.problems) == 1 and "kb.jsonl:8: document 'huge' is over the 0.1 MB limit" in report.problems[0]


def test_jsonl_documents_may_be_markdown(tmp_path):
    """An export whose lines say "format": "markdown" keeps its headings as heading paths."""
    from bot import ChatBot
    from bot.index import indexer

    (tmp_path / "kb.jsonl").write_text(
        '{"_id": "a", "title": "Keys", "text": "# Keys\\n\\n## Rotation\\n\\nRotate the API key every 90 days.", '
        '"format": "markdown"}\n'
        '{"_id": "b", "title": "Plain", "text": "# Not a heading here\\n\\nPlain text stays plain."}\n'
        '{"_id": "c", "title": "Bad", "text": "x", "format": "rtf"}\n')
    _, _, index, problems = indexer.build([tmp_path / "kb.jsonl"], tmp_path / "idx")
    heads = {p.doc_id.split("#")[-1]: p.headings for p in index.passages}
    assert heads["a"][-1] == "Rotation" and "Rotation" not in str(heads["b"])
    assert any("'format' must be" in p for p in problems)
    assert "[1]" in ChatBot.load(tmp_path / "idx").ask("how often do I rotate the API key?").answer


def test_a_pdfs_author_title_and_creation_date_are_its_metadata(tmp_path):
    """A PDF's /Author and /CreationDate were ignored: "who made this manual?" got none."""
    from pypdf import PdfReader, PdfWriter

    from mixed_corpus import make_pdf

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Press the red button twice to reset the kettle."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Title": "Kettle Manual", "/Author": "Acme Appliances Ltd",
                         "/CreationDate": "D:20210314093000+01'00'", "/Producer": "WordMaker 9"})
    docs = tmp_path / "docs"
    docs.mkdir()
    with open(docs / "kettle.pdf", "wb") as f:
        writer.write(f)
    (docs / "notes.md").write_text("# Notes\n\nThe kettle holds 1.7 litres.\n")
    bot = ChatBot.load(docs)
    pdf = next(d for d in bot.documents if d.source == "kettle.pdf")
    assert pdf.title == "Kettle Manual"
    assert pdf.metadata["author"] == "Acme Appliances Ltd" and pdf.metadata["published"] == "2021-03-14"
    who = bot.ask("who made this manual?")
    assert who.support == "answer" and "Acme Appliances Ltd" in who.answer and "WordMaker" not in who.answer
    when = bot.ask("when was the manual published?")
    assert "2021-03-14" in when.answer
    assert "Kettle Manual" in who.answer


def test_a_pdf_with_an_unreadable_date_keeps_its_author(tmp_path):
    from pypdf import PdfReader, PdfWriter

    from mixed_corpus import make_pdf

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Descale the kettle monthly."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Author": "Acme", "/CreationDate": "sometime in spring"})
    with open(tmp_path / "k.pdf", "wb") as f:
        writer.write(f)
    bot = ChatBot.load(tmp_path)
    assert bot.documents[0].metadata.get("author") == "Acme" and "published" not in bot.documents[0].metadata


def test_many_files_read_in_workers_as_in_one_process(tmp_path):
    """Past ``IN_WORKERS_FROM`` files a build reads them in worker processes: the documents, the
    file each came from, the records (problems and hashes included) and the index files are the
    same as when one process reads them, in the same order."""
    from bot.index.layout import read_sources as recorded
    from bot.index.reading import IN_WORKERS_FROM

    src = write_mixed(tmp_path / "docs")
    for i in range(IN_WORKERS_FROM + 5):
        (src / f"page{i:03d}.md").write_text(f"# Page {i}\n\nPage {i} says the shuttle leaves at {i % 12 + 1} pm.\n")
    (src / "unreadable.md").write_bytes(b"\xff\xfe\x00garbage\x00" * 10)
    built = {}
    for workers in (1, 2):
        out = tmp_path / f"idx{workers}"
        manifest, docs, _, problems = indexer.build([src], out, workers=workers)
        records = [{k: v for k, v in r.items() if k != "mtime"} for r in recorded(out, json.loads((out / "index.json").read_text()))]
        built[workers] = ([(d.id, d.source, d.title, d.text) for d in docs], problems, records)
        assert len(docs) > IN_WORKERS_FROM and any("broken.pdf" in p for p in problems)
    assert built[1] == built[2]
    reply = ChatBot.load(tmp_path / "idx2").ask("How often should API keys be rotated?")
    assert reply.support == "answer" and "90 days" in reply.answer


def test_a_few_large_files_are_read_in_workers_as_in_one_process(tmp_path, monkeypatch):
    """Fewer than ``IN_WORKERS_FROM`` files, large together (an update's few edited exports), are
    read in worker processes too, in order and as one process reads them; two small ones are not."""
    import multiprocessing

    from bot.index import reading
    from bot.sources.load import Planned, plan_sources
    from bot.sources.readers import LoadReport

    src = tmp_path / "docs"
    src.mkdir()
    para = "The shuttle leaves the north gate every {i} minutes and stops at the library. "
    for i in range(3):
        (src / f"big{i}.md").write_text(f"# Big {i}\n\n" + "\n\n".join(para.format(i=i + j) * 8 for j in range(150)))
    for name in ("small.md", "tiny.md"):
        (src / name).write_text("# Small\n\nA small page.\n")
    manifest, planned = plan_sources([str(src)], LoadReport(), tmp_path / "corpus.yaml")
    assert sum(p.path.stat().st_size for p in planned) > reading.IN_WORKERS_FROM_BYTES and len(planned) < reading.IN_WORKERS_FROM
    planned.append(Planned(src / "gone.md", "gone.md"))  # deleted since it was planned: sized as nothing, reported
    pools = []
    real_context = multiprocessing.get_context

    def counted(method=None):
        pools.append(method)
        return real_context(method)
    monkeypatch.setattr(reading.multiprocessing, "get_context", counted)
    one = [(k, r["sha256"], [(d.id, d.text) for d in docs]) for k, r, docs in reading.read_files(manifest, planned, workers=1)]
    assert not pools
    two = [(k, r["sha256"], [(d.id, d.text) for d in docs]) for k, r, docs in reading.read_files(manifest, planned, workers=2)]
    assert pools == ["fork"] and one == two and [k for k, _, _ in two] == [0, 1, 2, 3, 4, 5]
    assert two[5][1] == "" and two[5][2] == []  # the missing file: no hash, no documents
    small = [k for k, p in enumerate(planned) if p.path.name in ("small.md", "tiny.md")]
    pools.clear()
    assert [k for k, _, _ in reading.read_files(manifest, planned, small, workers=2)] == small
    assert not pools  # two small files: read here


def test_a_walk_finds_each_files_real_path_and_name_as_pathlib_does(tmp_path, monkeypatch):
    """A walk takes what holds for a whole folder once (its real path, inside a saved index) and
    compares paths on their parts, not pathlib's calls: the files, their real paths, names and
    problems are pathlib's, for a folder given by its name, through a link, relatively, twice."""
    import itertools
    from pathlib import Path

    from bot.index import layout
    from bot.sources import ingest
    from bot.sources.readers import LoadReport

    docs = tmp_path / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / "idx").mkdir()
    (tmp_path / "outside").mkdir()
    for f in ("a.md", "sub/b.txt", "sub/deeper/c.md", "idx/x.md", "noext", "z.md", "sub/a.md"):
        (docs / f).write_text(f"Text of {f} here.\n")
    (docs / "idx" / "index.json").write_text("{}")
    (docs / "idx" / "texts.bin").write_text("")
    (tmp_path / "outside" / "o.md").write_text("Outside text.\n")
    (docs / "in.md").symlink_to("a.md")
    (docs / "out.md").symlink_to(tmp_path / "outside" / "o.md")
    (docs / "broken.md").symlink_to("nothing.md")
    (docs / "subdir").symlink_to("sub")
    (tmp_path / "via").symlink_to(docs)
    monkeypatch.chdir(tmp_path)
    for inputs in (["docs"], [str(docs)], ["via"], ["./via/"], ["docs", "docs"], ["docs/sub", "docs"], ["docs/in.md"]):
        w = ingest.walk(inputs)
        assert [real for real in w.real] == [f.resolve() for f, _ in w.found], inputs
        named, seen, want = ingest.named_files(inputs, LoadReport(), w), set(), []
        for f, root in w.found:  # the name below the folder given, as pathlib finds it
            source = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
            want.append(str(f) if source in seen else source)
            seen.add(want[-1])
        assert [s for _, s in named] == want, inputs
        for root in {r for _, r in w.found}:  # each folder's files in pathlib's order
            files = [f for f, r in w.found if r == root]
            assert files == sorted(files), inputs
        snapshot_files = layout.source_files(inputs, w)
        assert snapshot_files == sorted({f.resolve() for f, _ in w.found}), inputs
    w = ingest.walk(["docs"])
    assert [str(f) for f, _ in w.found] == ["docs/a.md", "docs/sub/a.md", "docs/sub/b.txt", "docs/sub/deeper/c.md",
                                            "docs/z.md"]  # a folder's files and folders by name, as pathlib orders them
    assert any("out.md: a link to a file outside" in p for p in w.problems)
    assert any("in.md: the same file as docs/a.md" in p for p in w.problems)
    paths = ["/", ".", "a", "a/b", "/a", "/a/b", "/a/b/c.md", "a/b/c.md", "b", "/b/a", "a/bc", "..", "../a"]
    for f, root in itertools.product(map(Path, paths), map(Path, paths)):
        assert ingest._relative(f, root) == (str(f.relative_to(root)) if f.is_relative_to(root) else f.name)
