"""Issue 22, the saved index and its settings: defects found by attacking the product (each test
failed before its fix)."""
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot import ChatBot, CorpusError
from bot.config import SETTING_NAMES, Settings, check_setting, load_manifest
from bot.index import indexer, layout, writer
from bot.index.update import update

ALPHA = "# Alpha\n\nThe alpha widget is painted red.\n"
BETA = "# Beta\n\nThe beta gadget runs on solar power.\n"


def two_documents(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "a.md").write_text(ALPHA)
    (folder / "b.md").write_text(BETA)
    return folder


@pytest.mark.parametrize("engine", ["postings", "tantivy"])
def test_a_loaded_index_keeps_reading_its_own_generation_after_an_update(tmp_path, engine):
    """Row 5: document text was memory-mapped on first read, so a bot loaded before an update
    (the live server's path) read the new texts.bin at the old offsets: garbled quotes cited to
    the wrong source."""
    src, idx = two_documents(tmp_path / "src"), tmp_path / "idx"
    indexer.build([src], idx, engine=engine, workers=1)
    bot = ChatBot.load(idx)  # no document text read yet
    (src / "a.md").write_text("# Alpha\n\n" + "Filler about nothing in particular. " * 20 + ALPHA.split("\n\n")[1])
    if engine == "postings":
        assert update(idx).changed == ["a.md"]  # the folder is swapped under the loaded bot
    else:
        indexer.build([src], idx, engine=engine, workers=1)  # `index --full`: a new texts.bin swapped in
    reply = bot.ask("what does the beta gadget run on?")
    assert reply.support == "answer", reply.answer
    assert [(c.source, c.quotes) for c in reply.citations] == [("b.md", ["The beta gadget runs on solar power."])]
    old = {"a.md": ALPHA, "b.md": BETA}
    for p in bot.index.passages:  # every passage is the old generation's text, none a mix
        assert p.text in old[bot.index.documents[p.doc_id].source], p.text


def test_the_writer_lock_holds_the_folder_under_any_name(tmp_path):
    """Row 9: the lock was per path string, so `--out idx` and `--out alias` (alias -> idx) wrote
    at once; a build through the symlink also swapped the symlink itself for a folder."""
    src, idx = two_documents(tmp_path / "src"), tmp_path / "idx"
    indexer.build([src], idx)
    alias = tmp_path / "alias"
    alias.symlink_to(idx.name)
    for held, other in ((alias, idx), (idx, alias)):
        with writer.writing(held):
            with pytest.raises(CorpusError, match="another `python -m bot index` is writing"):
                update(other)
            with pytest.raises(CorpusError, match="another"):
                indexer.build([src], other)
    (src / "c.md").write_text("# Gamma\n\nGamma rays are energetic.\n")
    assert update(alias).added == ["c.md"]
    indexer.build([src], alias)
    assert alias.is_symlink() and alias.resolve() == idx.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idx.lock", "alias", "idx", "src"]
    assert "Gamma rays are energetic." in ChatBot.load(alias).ask("what are gamma rays?").answer


def _damage(idx: Path, how: str) -> None:
    if how == "truncated":
        with open(idx / "passages.npz", "r+b") as f:
            f.truncate(100)
    elif how == "missing":
        (idx / "texts.bin").unlink()
    else:  # a file of an update's part, the one a racing writer deleted
        name = next(n for n in layout.read_header(idx)["files"] if n.startswith("texts.1."))
        (idx / name).unlink()


@pytest.mark.parametrize("how", ["truncated", "missing", "missing-part"])
def test_a_damaged_index_is_repaired_by_the_command_its_error_names(tmp_path, how):
    """Row 9: a damaged index (a file its header names missing or truncated) made `index` say "Up
    to date" and `ask --rebuild` fail; only `index --full` repaired it."""
    src, idx = two_documents(tmp_path / "src"), tmp_path / "idx"
    if how == "missing-part":  # a large index's update writes texts.1.bin
        indexer.build([src], idx, engine="tantivy", workers=1)
        (src / "c.md").write_text("# Gamma\n\nGamma rays are energetic.\n")
        assert update(idx).added == ["c.md"]
    else:
        indexer.build([src], idx)
    _damage(idx, how)
    with pytest.raises(CorpusError) as err:
        ChatBot.load(idx)
    command = re.search(r"repair it with `([^`]+)` or pass --rebuild", str(err.value))
    assert command, str(err.value)
    assert indexer.refresh(idx) is True  # `ask --rebuild`, `app.py --rebuild`
    assert "solar power" in ChatBot.load(idx).ask("what does the beta gadget run on?").answer
    _damage(idx, "truncated")
    args = shlex.split(command.group(1))
    assert args[:4] == ["python", "-m", "bot", "index"]
    p = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Building anew: the index is damaged" in p.stdout and "passages.npz" in p.stdout
    assert "solar power" in ChatBot.load(idx).ask("what does the beta gadget run on?").answer
    assert layout.damage(idx, layout.read_header(idx)) is None
    assert indexer.refresh(idx) is False  # whole and current: nothing to do


def test_a_killed_update_leaves_nothing_the_next_run_keeps(tmp_path):
    """Row 15: SIGKILL during a postings update left `.idx.new-PID` (the staging folder) that no
    later update removed."""
    src, idx = two_documents(tmp_path / "src"), tmp_path / "idx"
    indexer.build([src], idx)
    (src / "c.md").write_text("# Gamma\n\nGamma rays are energetic.\n")
    driver = textwrap.dedent(f"""
        import os, signal
        from bot.index import writer
        from bot.index.update import update
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)  # as `kill -9` would, before the swap
        writer.write_header = killed
        update({str(idx)!r})
    """)
    p = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert [re.sub(r"\d+$", "PID", x.name) for x in tmp_path.glob(".idx.*-*")] == [".idx.new-PID"]
    old = tmp_path / ".idx.old-4194304"  # an earlier index an interrupted swap left (no such process)
    shutil.copytree(idx, old)
    assert update(idx).added == ["c.md"]
    assert sorted(x.name for x in tmp_path.iterdir()) == [".idx.lock", "idx", "src"]
    shutil.copytree(idx, old)
    assert not update(idx).touched  # a run with nothing to update cleans up too
    assert sorted(x.name for x in tmp_path.iterdir()) == [".idx.lock", "idx", "src"]


NUMERIC = [name for name in SETTING_NAMES if name not in ("feedback", "allow_outside_paths")]


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_setting_has_a_range_with_two_ends(name):
    """Row 11: only a lower bound was checked, so top_k 4294967296 reached tantivy (a Rust panic,
    SIGABRT) and 10**23 numpy (OverflowError)."""
    default = Settings().flat()[name]
    for bad in (10**23, 4294967296, -1, 1e23, float("inf")):
        with pytest.raises(ValueError, match=rf"^{name} must be .*between [\d,.]+ and [\d,.]+"):
            check_setting(name, bad)
    assert check_setting(name, default) == default


@pytest.mark.parametrize("value,shown", [("4294967296", "got 4,294,967,296"), ("100000000000000000000000",
                                         "got about 10\\^23"), ("1.0e+23", "a whole number"),
                                         ("9" * 5000, "not a value that can be read")])
def test_a_huge_top_k_in_corpus_yaml_is_refused_with_its_file_and_line(tmp_path, value, shown):
    (tmp_path / "a.md").write_text(ALPHA)
    (tmp_path / "corpus.yaml").write_text(f"documents: [a.md]\nsettings:\n  top_k: {value}\n")
    with pytest.raises(CorpusError, match=rf"corpus.yaml:3: settings.top_k (must be|is) .*{shown}"):
        load_manifest(tmp_path / "corpus.yaml")


def test_a_huge_top_k_never_reaches_the_tantivy_engine(tmp_path):
    """Row 11 end to end: `ask` on a tantivy index whose corpus.yaml says top_k: 4294967296 died
    with SIGABRT; now it exits 2 naming the file, the setting and its range. The engine itself
    also takes any k (clamped to its passages)."""
    src = two_documents(tmp_path / "src")
    (src / "corpus.yaml").write_text("documents: [a.md, b.md]\n")
    idx = tmp_path / "idx"
    indexer.build([src], idx, engine="tantivy", workers=1)
    (src / "corpus.yaml").write_text("documents: [a.md, b.md]\nsettings:\n  top_k: 4294967296\n")  # read at load
    p = subprocess.run([sys.executable, "-m", "bot", "ask", "what colour is the alpha widget?", "--corpus", str(idx)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stderr[-500:])
    assert "corpus.yaml:3: settings.top_k must be between 1 and 100, got 4,294,967,296" in p.stderr
    (src / "corpus.yaml").write_text("documents: [a.md, b.md]\n")
    probe = textwrap.dedent(f"""
        from bot import ChatBot
        bot = ChatBot.load({str(idx)!r})
        hits = bot.index.retriever.search({{"alpha": 1.0, "beta": 1.0}}, 2**32)
        print(len(hits))
    """)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.split() == ["2"], (p.returncode, p.stderr[-500:])


@pytest.mark.parametrize("program", [["-m", "bot", "ask", "hello"], ["app.py", "--port", "0"]])
def test_out_of_range_flags_are_refused_by_name(program):
    """CLI and app.py flags go through the same check: exit 2, the flag and the range named."""
    p = subprocess.run([sys.executable, *program, "--strictness", "1e23"], capture_output=True, text=True,
                       timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == 2
    assert "argument --strictness: strictness must be between 0 and 1, got 1e+23" in p.stderr


def test_yaml_aliases_cannot_blow_a_manifest_up(tmp_path):
    """Row 8: `description: &v "<9,999 x>"` and `examples: [*v x 60000]`, a 190 KB corpus.yaml, made
    a 600 MB index.json that every `ask` parsed (3.3 s, 1.2 GB). Refused now, naming the file."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text(ALPHA)
    (src / "corpus.yaml").write_text(f'description: &v "{"x" * 9999}"\ndocuments: [a.md]\n'
                                     f'examples: [{",".join(["*v"] * 60000)}]\n')
    assert (src / "corpus.yaml").stat().st_size < 200_000
    with pytest.raises(CorpusError, match=r"corpus.yaml: the manifest holds over 16,777,216 characters once its "
                                          r"YAML aliases \(\*name\) are expanded"):
        load_manifest(src / "corpus.yaml")
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(tmp_path / "idx")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "corpus.yaml: the manifest holds over" in p.stderr, p.stderr[-500:]
    assert not (tmp_path / "idx" / "index.json").exists()


@pytest.mark.parametrize("body,needle", [
    ("documents: [a.md]\nexamples:\n" + "".join(f"  - Question {i}?\n" for i in range(51)),
     r"corpus.yaml:3: 'examples' lists 51 questions \(at most 50\)"),
    ('documents: [a.md]\nexamples:\n  - short?\n  - "' + "w" * 501 + '"\n',
     r"corpus.yaml:4: an example question is 501 characters long \(at most 500\)"),
    ("lol0: &l0 " + "x" * 1000 + "\n" + "".join(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 6))
     + "documents: [a.md]\n", r"corpus.yaml: the manifest holds over 16,777,216 characters"),
    ("documents: [a.md]\nexamples: &a [*a]\n", r"corpus.yaml:\d+: a YAML alias refers to the value it is part of"),
])
def test_manifest_examples_and_nested_aliases_are_bounded(tmp_path, body, needle):
    (tmp_path / "a.md").write_text(ALPHA)
    (tmp_path / "corpus.yaml").write_text(body)
    with pytest.raises(CorpusError, match=needle):
        load_manifest(tmp_path / "corpus.yaml")


def test_aliases_within_the_bounds_still_load(tmp_path):
    (tmp_path / "a.md").write_text(ALPHA)
    (tmp_path / "b.md").write_text(BETA)
    (tmp_path / "corpus.yaml").write_text(
        "documents:\n  - {path: a.md, author: &who Jane Doe, license: &lic CC BY 4.0}\n"
        "  - {path: b.md, author: *who, license: *lic}\nexamples: [&q 'What is the alpha widget?']\n")
    m = load_manifest(tmp_path / "corpus.yaml")
    assert [d.metadata["author"] for d in m.documents] == ["Jane Doe", "Jane Doe"]
    assert m.examples == ("What is the alpha widget?",)


def test_an_out_of_range_setting_over_http_is_a_422_naming_it():
    from fastapi.testclient import TestClient

    from bot.serve.web import make_app

    client = TestClient(make_app(ChatBot.load()))
    r = client.post("/api/ask", json={"question": "what is a VAE", "strictness": 1e23})
    assert r.status_code == 422 and "strictness must be between 0 and 1, got 1e+23" in r.text


def test_the_corpus_yaml_listing_every_file_beside_an_index_loads_past_a_hand_written_ones_limit(tmp_path, monkeypatch):
    """`index` writes a corpus.yaml beside the index listing every file it read: 76,520 files made
    2.1 MB, over the 1 MB a hand-written manifest may be, and every load of that index failed. The
    listing may be 16 MB; its aliases are still bounded; an update that leaves it unchanged takes
    what the header it replaces recorded instead of parsing it again (8 s at 76,520 files)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.md").write_text(ALPHA)
    (src / "b.md").write_text(BETA)
    idx = tmp_path / "idx"
    indexer.build([src], idx, engine="tantivy")
    listing = idx / "corpus.yaml"
    entries = "".join(f"  - path: docs-{i:05d}.jsonl\n    title: Docs {i:05d}\n" for i in range(40_000))
    listing.write_text("name: Forty thousand files\ndocuments:\n" + entries + "settings:\n  strictness: 0.7\n")
    assert listing.stat().st_size > 1024 * 1024
    with pytest.raises(CorpusError, match=r"the manifest is over 1,024 KB"):
        load_manifest(listing)
    bot = ChatBot.load(idx)
    assert bot.manifest.name == "Forty thousand files" and bot.manifest.settings.answer.strictness == 0.7
    nest = tmp_path / "nest.yaml"  # 100 million characters once expanded
    nest.write_text("lol0: &l0 " + "x" * 1000 + "\n" + "".join(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n"
                                                             for i in range(1, 6)) + "documents: [a.md]\n")
    with pytest.raises(CorpusError, match=r"the manifest holds over 33,554,432 characters"):
        load_manifest(nest, beside=True)

    indexer.build([src], idx, engine="tantivy")  # built again: the edited listing is kept, and recorded
    seen = layout.read_header(idx)["manifest_seen"]
    assert seen["name"] == "Forty thousand files" and seen["size"] == listing.stat().st_size
    (src / "b.md").write_text(BETA + "\n\nThe beta widget also hums.\n")

    def parse(*args, **kwargs):
        raise AssertionError("an unchanged corpus.yaml parsed again")

    monkeypatch.setattr(layout, "load_manifest", parse)
    report = update(idx)
    assert report.full is None and report.changed
    assert layout.read_header(idx)["manifest_seen"] == seen
