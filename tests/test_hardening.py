"""Defects found by trying the product with hostile and ordinary real-world input (each test
failed before its fix)."""
import subprocess
import sys

import pytest

from bot import ChatBot, CorpusError
from bot.index import indexer
from bot.config import load_manifest
from mixed_corpus import make_pdf


def test_pdf_with_a_title_in_its_metadata_indexes(tmp_path):
    """pypdf returns titles as a str subclass, which PyYAML could not write into corpus.yaml."""
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Staff may work from home on Fridays."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Title": "Staff Handbook", "/Author": "People Team"})
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "handbook.pdf", "wb") as f:
        writer.write(f)
    out = tmp_path / "index"
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Staff Handbook" in (out / "corpus.yaml").read_text(encoding="utf-8")
    r = ChatBot.load(out).ask("when may staff work from home?")
    assert r.citations and "Fridays" in r.citations[0].quotes[0]


@pytest.mark.parametrize("path", ["../secret.md", "/etc/hostname", "sub/../../secret.md"])
def test_manifest_paths_outside_the_corpus_folder_are_refused(tmp_path, path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "secret.md").write_text("# Secret\n\nThe vault code is 4321.\n")
    (corpus / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (corpus / "corpus.yaml").write_text(f"documents:\n  - a.md\n  - {path}\n")
    bot = ChatBot.load(corpus)
    assert len(bot.documents) == 1
    assert any(f"corpus.yaml:3: document '{path}' is outside the corpus folder" in p for p in bot.problems)
    assert "4321" not in bot.ask("what is the vault code?").answer
    # an explicit setting allows it
    (corpus / "corpus.yaml").write_text("documents:\n  - a.md\n  - ../secret.md\nsettings:\n  allow_outside_paths: true\n")
    assert len(ChatBot.load(corpus).documents) == 2


def test_missing_outside_file_message_does_not_tell_whether_it_exists(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (corpus / "corpus.yaml").write_text("documents:\n  - a.md\n  - ../nothing-here.md\n")
    problems = ChatBot.load(corpus).problems
    assert problems and "outside the corpus folder" in problems[0] and "not found" not in problems[0]


def test_utf16_text_with_a_bom_is_read(tmp_path):
    (tmp_path / "notes.txt").write_bytes("Widgets are cleaned with warm water.\r\n".encode("utf-16"))
    r = ChatBot.load(tmp_path).ask("how are widgets cleaned?")
    assert r.support == "answer" and "warm water" in r.citations[0].quotes[0]


def test_nul_bytes_anywhere_mean_binary(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (tmp_path / "b.md").write_bytes(b"# B\n\n" + b"text " * 3000 + b"\x00\x01 hidden")
    bot = ChatBot.load(tmp_path)
    assert len(bot.documents) == 1 and any("b.md" in p and "binary" in p for p in bot.problems)


def test_bm25_values_must_be_finite(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (tmp_path / "corpus.yaml").write_text("documents: [a.md]\nsettings:\n  bm25_b: .nan\n")
    with pytest.raises(CorpusError, match="finite"):
        load_manifest(tmp_path / "corpus.yaml")


def test_search_api_clamps_k(bot):
    assert 1 <= len(bot.search("vae", 5_000_000_000)) <= len(bot.index.passages)
    with pytest.raises(ValueError):
        bot.search("vae", 1e23)  # type: ignore[arg-type]


def test_terminal_output_never_carries_control_sequences(tmp_path):
    (tmp_path / "a.md").write_text("# Esc\n\nWidgets are \x1b]0;pwned\x07blue \x1b[31mred\x1b[0m and \x9b2J here.\n",
                                   encoding="utf-8")
    bad = tmp_path / "b\nSkipped 9: fake.md"
    bad.write_bytes(b"\x00binary")
    for args in (["ask", "what are widgets", "--corpus", str(tmp_path)],
                 ["search", "widgets", "--corpus", str(tmp_path)],
                 ["index", str(tmp_path), "--out", str(tmp_path.parent / (tmp_path.name + "-idx"))]):
        p = subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        for stream in (p.stdout, p.stderr):
            assert "\x1b" not in stream and "\x9b" not in stream and "\x07" not in stream
            assert "\nSkipped 9: fake.md" not in stream  # a file name cannot forge a line
    p = subprocess.run([sys.executable, "-m", "bot", "ask", "what are widgets", "--corpus", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=60)
    import json

    assert "\x1b]0;pwned" in json.loads(p.stdout)["citations"][0]["quotes"][0]  # JSON keeps the text verbatim


def test_jsonl_lines_with_non_string_fields_are_refused(tmp_path):
    import json

    (tmp_path / "kb.jsonl").write_text("\n".join([
        json.dumps({"_id": "ok", "title": "Widgets", "text": "Widgets are blue."}),
        json.dumps({"_id": {"a": 1}, "text": "Gadgets are red."}),
        json.dumps({"_id": "t", "text": ["not", "a", "string"]}),
        json.dumps({"_id": "n", "text": "Sprockets are green.\x00\x01"}),
    ]) + "\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    assert [d.id for d in bot.documents] == ["kb.jsonl#ok"]
    assert sum(":2:" in p or ":3:" in p or ":4:" in p for p in bot.problems) == 3


def test_encrypted_pdf_message_names_the_file_once(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Secret plans."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt("pw")
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "locked.pdf", "wb") as f:
        writer.write(f)
    (src / "ok.md").write_text("# Ok\n\nWidgets are blue.\n")
    problems = ChatBot.load(src).problems
    assert len(problems) == 1 and "encrypted" in problems[0] and problems[0].count("locked.pdf") == 1


def test_manifest_aliases_and_huge_values_load_fast_or_are_refused(tmp_path, monkeypatch):
    """2,000 aliases of one 5,000-character value: the YAML text is read once, never a value per alias
    (re-serializing each value read 10 MB through PyYAML and took minutes; bench/bench_guards.py
    times it)."""
    import yaml

    (tmp_path / "a.md").write_text("# A\n\nWidgets are blue.\n")
    lines = ["name: &v " + "y" * 5000, "documents:"] + [f"  - {{path: a.md, id: d{i}, title: *v}}" for i in range(2000)]
    text = "\n".join(lines) + "\n"
    (tmp_path / "corpus.yaml").write_text(text)
    read: list[int] = []  # characters of each text PyYAML reads: every parse starts a Reader
    real_init = yaml.reader.Reader.__init__

    def counting_init(self, stream):
        read.append(len(stream))
        real_init(self, stream)

    monkeypatch.setattr(yaml.reader.Reader, "__init__", counting_init)
    manifest = load_manifest(tmp_path / "corpus.yaml")
    assert len(manifest.documents) == 2000 and manifest.documents[1999].title == "y" * 5000
    assert read == [len(text)]
    monkeypatch.undo()
    lines = ["name: &big " + "x" * 200_000, "documents:"] + ["  - {path: a.md, title: *big}"]
    (tmp_path / "corpus.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match="corpus.yaml:1: .*200,000 characters"):
        load_manifest(tmp_path / "corpus.yaml")


@pytest.mark.parametrize("field,value,needle", [
    ("settings", {"top_k": "5"}, "whole number"), ("settings", {"max_question_chars": None}, "whole number"),
    ("settings", {"bm25_k1": float("nan")}, "finite"), ("inputs", [123], "'inputs'"), ("engine", "x", "'engine'"),
    ("files", [], "'files'"), ("problems", "oops", "'problems'"),
])
def test_edited_index_header_gets_a_clear_message(tmp_path, field, value, needle):
    import json

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# A\n\nWidgets are blue.\n")
    out = tmp_path / "idx"
    indexer.build([src], out)
    header = json.loads((out / "index.json").read_text())
    header[field] = value
    (out / "index.json").write_text(json.dumps(header))
    with pytest.raises(CorpusError, match=needle):
        ChatBot.load(out)


def test_deleted_index_json_is_named(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# A\n\nWidgets are blue.\n")
    out = tmp_path / "idx"
    indexer.build([src], out)
    (out / "index.json").unlink()
    with pytest.raises(CorpusError, match="index.json is missing"):
        ChatBot.load(out)


def test_out_must_be_a_folder_and_is_never_ingested(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text("# A\n\nWidgets are blue.\n")
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out)], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2 and "is a file" in p.stderr and "Traceback" not in p.stderr
    indexer.build([src], src / "idx")
    _, docs, _, _ = indexer.build([src], src / "idx")  # again: its own files are not sources
    assert [d.source for d in docs] == ["a.md"]


def _small_corpus(root, n=3, word="blue"):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"d{i}.md").write_text(f"# Doc {i}\n\nWidget {i} is {word}.\n")
    return root


def test_interrupted_index_build_leaves_the_earlier_index(tmp_path, monkeypatch):
    from bot.index import writer

    src = _small_corpus(tmp_path / "src")
    out = tmp_path / "idx"
    indexer.build([src], out)
    before = sorted(p.name for p in out.iterdir())
    (src / "d0.md").write_text("# Doc 0\n\nWidget 0 is green.\n")

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "write_manifest", interrupted)  # Ctrl-C during the final writes
    with pytest.raises(KeyboardInterrupt):
        indexer.build([src], out)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.glob(".idx.*")] == [".idx.lock"]  # no staging folder left behind
    r = (indexer.refresh(out), ChatBot.load(out))[1].ask("what colour is widget 0?")  # stale -> rebuilt, answers anew
    assert any("green" in q for c in r.citations for q in c.quotes)


def test_killed_index_build_never_leaves_a_broken_index(tmp_path):
    """SIGKILL while the files are read, once they are all read (the index being built), and while
    the new index's files are written: the index at --out is always the old or the new one."""
    from waits import Terminal, wait_until

    src = tmp_path / "src"
    src.mkdir()
    for i in range(400):
        (src / f"d{i}.md").write_text(f"# Doc {i}\n\n" + f"Widget {i} is blue and sprocket {i} is red. " * 40 + "\n")
    out = tmp_path / "idx"
    indexer.build([src], out)
    for moment in ("reading", "read", "writing"):
        run = Terminal([sys.executable, "-m", "bot", "index", str(src), "--out", str(out), "--full"])
        try:
            if moment == "reading":
                run.wait_for("Reading:")
            elif moment == "read":
                run.wait_for("400/400")
            else:  # the staging folder beside --out holds more than the copied corpus.yaml
                stage = tmp_path / f".idx.new-{run.proc.pid}"

                def writing() -> bool:
                    try:
                        return any(p.name != "corpus.yaml" for p in stage.iterdir())
                    except FileNotFoundError:  # not made yet, or already swapped in
                        return run.proc.poll() is not None

                wait_until(writing, "the new index's files being written")
        finally:
            run.kill()
        bot = ChatBot.load(out)  # the old index or the new one, whichever the kill left
        assert bot.ask("what colour is widget 7?").citations
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out), "--full"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    # leftovers of killed builds are cleaned by the next one (the lock file stays, unlocked)
    assert [p.name for p in tmp_path.glob(".idx.*")] == [".idx.lock"]


@pytest.mark.parametrize("stage,engine", [("Reading", "auto"), ("Indexing", "tantivy")])
def test_ctrl_c_during_index_prints_one_line(tmp_path, stage, engine):
    """Ctrl-C at a terminal while the build shows its progress bar for ``stage`` (reading the files;
    indexing them in worker processes, which only the tantivy engine reports): one line, exit 130."""
    import signal

    from waits import Terminal

    src = tmp_path / "src"
    src.mkdir()
    for i in range(4000):
        (src / f"d{i}.md").write_text(f"# Doc {i}\n\n" + f"Widget {i} is blue. " * 60 + "\n")
    run = Terminal([sys.executable, "-m", "bot", "index", str(src), "--out", str(tmp_path / "idx"),
                    "--engine", engine])
    try:
        run.wait_for(f"{stage}:")  # the bar is drawn as the stage starts: thousands of files still to go
        run.proc.send_signal(signal.SIGINT)
        code, err = run.finish(seconds=60)
    finally:
        run.kill()
    assert code == 130 and "Traceback" not in err and "interrupted" in err, err[-2000:]
    assert not (tmp_path / "idx" / "index.json").exists()


def test_source_edited_during_the_build_makes_the_index_stale(tmp_path, monkeypatch):
    from bot.index import layout

    src = _small_corpus(tmp_path / "src")
    real = indexer.read_sources

    def read_then_edit(*a, **k):
        got = real(*a, **k)
        (src / "d1.md").write_text("# Doc 1\n\nWidget 1 is now purple, edited while indexing.\n")
        return got

    monkeypatch.setattr(indexer, "read_sources", read_then_edit)
    indexer.build([src], tmp_path / "idx")
    assert layout.stale_reason(layout.read_header(tmp_path / "idx")) is not None


def test_manifest_documents_outside_the_folder_are_fingerprinted(tmp_path):
    from bot.index import layout

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "outside.md").write_text("# Out\n\nGadgets are red.\n")
    (corpus / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (corpus / "corpus.yaml").write_text("documents:\n  - a.md\n  - ../outside.md\nsettings:\n  allow_outside_paths: true\n")
    indexer.build([corpus], tmp_path / "idx")
    assert layout.stale_reason(layout.read_header(tmp_path / "idx")) is None
    (tmp_path / "outside.md").write_text("# Out\n\nGadgets are now yellow.\n")
    assert layout.stale_reason(layout.read_header(tmp_path / "idx")) is not None


def test_html_boilerplate_is_dropped_and_headings_become_the_heading_path(tmp_path):
    (tmp_path / "bikes.html").write_text("""<html><head><title>Orbitrail Bikes</title></head><body>
<div class="top"><ul class="menu"><li><a href="/">Home</a></li><li><a href="/shop">Shop</a></li></ul></div>
<nav>Home | Shop | Login | Cart</nav>
<div id="cookie-consent">We use cookies. Accept all?</div>
<div class="content"><h1>Orbitrail Bikes</h1>
<h3>Tyre pressure</h3>
Orbitrail bikes run best at 50 psi on the road. Lower the pressure to 35 psi on gravel.
<h3>Chain care</h3>
<div>Clean the chain every 200 kilometres. Use a dry lubricant in summer.</div></div>
<div class="footer">Copyright 2024 Orbitrail Ltd. Privacy | Terms</div></body></html>""", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    text = bot.documents[0].text
    for junk in ("Home", "Login", "cookies", "Copyright", "Privacy"):
        assert junk not in text
    assert [p.headings[-1] for p in bot.index.passages] == ["Tyre pressure", "Chain care"]
    r = bot.ask("what tyre pressure on gravel?")
    assert r.citations[0].title.endswith("Tyre pressure")
    assert r.citations[0].quotes == ["Lower the pressure to 35 psi on gravel."]


def test_pdf_headings_are_not_glued_to_the_first_sentence(tmp_path):
    make_pdf(tmp_path / "handbook.pdf", ["Leave policy\nStaff may take 25 days of leave each year.\n"
                                         "Remote work\nStaff may work from home on Fridays."])
    bot = ChatBot.load(tmp_path)
    r = bot.ask("when may staff work from home?")
    assert r.citations[0].quotes[0] == "Staff may work from home on Fridays."
    assert r.citations[0].title.endswith("Page 1 > Remote work")


def test_deeply_nested_quotes_keep_their_text(tmp_path):
    (tmp_path / "a.md").write_text("# Nest\n\n" + "> " * 25 + "Widgets are blue and deeply quoted.\n\n"
                                   "Gadgets are red.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    assert any("deeply quoted" in p.text for p in bot.index.passages)
    assert bot.search("deeply quoted widgets", 1)


@pytest.mark.slow
def test_indexing_a_large_markdown_file_stays_within_eleven_times_its_size(tmp_path):
    """A 12 MB Markdown file of short paragraphs peaked at 1.1 GB (94x) while indexing. It peaks
    at about 10x now (113 MB before the index kept each passage's term set for answering, 114-115
    MB with them, as compact term ids): the bound is 11x, far below the 94x it guards against."""
    import random

    rng = random.Random(0)
    words = "alpha beta gamma delta widget sprocket gadget blue red green runs fast slow always never".split()
    src = tmp_path / "src"
    src.mkdir()
    parts, size = ["# Big manual"], 0
    while size < 12_000_000:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).capitalize() + "."
        parts.append(line)
        size += len(line) + 2
    (src / "big.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    del parts
    file_mb = (src / "big.md").stat().st_size / 1048576
    # VmHWM: the peak of this process's own memory (ru_maxrss would include the forking parent's)
    code = ("import sys; from bot.cli import main; rc = main(sys.argv[1:]); "
            "print('PEAK', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); "
            "sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, "index", str(src), "--out", str(tmp_path / "idx")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    peak_mb = int(p.stdout.split("PEAK")[1]) / 1024
    assert peak_mb <= 11 * file_mb, f"peak {peak_mb:.0f} MB for a {file_mb:.1f} MB file; {p.stdout[-300:]}"
    assert ChatBot.load(tmp_path / "idx").search("widget gadget", 1)
