"""Incremental updates: `python -m bot index SRC --out DIR` on an existing index reads only the
files that changed and ends with exactly the index a full build gives."""
import gc
import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot import ChatBot, CorpusError
from bot.index import indexer
from bot.index import layout
from bot.index import store
from bot.index import writer
from bot.index.update import update
from mixed_corpus import write_mixed

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "eval-data" / "scifact" / "beir"

QUESTIONS = [
    "What is a magnetic optical probe?", "What colour is the zeta widget?", "How often is the zeta widget cleaned?",
    "What does ZW stand for?", "What does MOP stand for?", "Which cells produce interleukin-6?",
    "Does vitamin D lower the risk of fractures?", "What is the role of TDP-43 in neurons?",
    "How do statins affect cholesterol?", "What is the boiling point of water?", "who wrote the notes?",
]


def scifact_lines(n: int) -> list[str]:
    if not SCIFACT.is_dir():
        pytest.skip("needs ../shared/eval-data/scifact")
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        return [line for _, line in zip(range(n), f)]


def write_sources(src: Path, lines: list[str]) -> None:
    src.mkdir(parents=True, exist_ok=True)
    for i in range(40):
        (src / f"part-{i:02d}.jsonl").write_text("".join(lines[i * 8:(i + 1) * 8]), encoding="utf-8")
    (src / "notes.md").write_text("# Notes\n\nThe zeta widget (ZW) is blue.\n\n## Care\n\n"
                                  "Clean the zeta widget weekly.\n", encoding="utf-8")


def large_index(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """SciFact abstracts and a Markdown file in ``tmp_path/src``, indexed with tantivy at
    ``tmp_path/idx``: (the abstracts' lines, the sources, the index)."""
    lines = scifact_lines(340)
    src, idx = tmp_path / "src", tmp_path / "idx"
    write_sources(src, lines)
    indexer.build([src], idx, engine="tantivy", workers=1)
    return lines, src, idx


def change_sources(src: Path, lines: list[str], round_: int) -> None:
    """Edit, delete and add files; the new files define acronyms whose long forms older
    documents use (so their terms change too)."""
    if round_ == 1:
        (src / "part-03.jsonl").write_text("".join(lines[320:330]), encoding="utf-8")
        (src / "part-10.jsonl").unlink()
        (src / "new.md").write_text("# Probes\n\nA magnetic optical probe (MOP) measures zeta widget fields. "
                                    "Interleukin 6 (IL6) rises with inflammation.\n", encoding="utf-8")
        (src / "notes.md").write_text("# Notes\n\nThe zeta widget (ZW) is green now.\n\n## Care\n\n"
                                      "Clean the zeta widget daily.\n", encoding="utf-8")
    else:
        (src / "new.md").unlink()  # its acronyms go again
        (src / "part-20.jsonl").write_text("".join(lines[330:334]), encoding="utf-8")
        (src / "zz-more.jsonl").write_text("".join(lines[334:340]), encoding="utf-8")


def assert_same_index(updated: Path, full: Path) -> None:
    a, b = ChatBot.load(updated), ChatBot.load(full)
    ia, ib = a.index, b.index
    assert len(ia.passages) == len(ib.passages) and len(a.documents) == len(b.documents)
    assert [(p.doc_id, p.headings, p.text, p.start, p.end) for p in ia.passages] == \
        [(p.doc_id, p.headings, p.text, p.start, p.end) for p in ib.passages]
    assert [[s.text for s in p.sentences] for p in ia.passages] == [[s.text for s in p.sentences] for p in ib.passages]
    assert [(d.id, d.title, d.text) for d in a.documents] == [(d.id, d.title, d.text) for d in b.documents]
    assert ia.vocabulary == ib.vocabulary
    assert ia.glossary.entries == ib.glossary.entries
    assert ia.speller.words == ib.speller.words
    for t in list(ia.vocabulary)[:3000]:
        assert ia.retriever.document_frequency(t) == ib.retriever.document_frequency(t), t
    assert ia.retriever.size == ib.retriever.size
    for i in range(len(ia.passages)):
        assert sorted(ia.bm25_terms(ia.passages[i])) == sorted(ib.bm25_terms(ib.passages[i])), i
    for q in QUESTIONS:
        assert a.ask(q).to_dict() == b.ask(q).to_dict(), q
        wa = a.responder.weights(a.question(q, None))
        ha, hb = ia.retriever.search(wa, 10), ib.retriever.search(wa, 10)
        assert [h.index for h in ha] == [h.index for h in hb], q
        assert [h.score for h in ha] == pytest.approx([h.score for h in hb], rel=1e-9), q
    assert ia.top_sections() == ib.top_sections()


def test_large_index_update_equals_a_full_build(tmp_path):
    lines, src, idx = large_index(tmp_path)
    for round_ in (1, 2):
        change_sources(src, lines, round_)
        r = update(idx)
        print(r)
        assert r.full is None and r.touched
        if round_ == 1:
            assert sorted(r.changed) == ["notes.md", "part-03.jsonl"] and r.added == ["new.md"]
            assert r.removed == ["part-10.jsonl"] and r.reanalyzed > 0  # IL6's long form is in older abstracts
        full = tmp_path / f"full-{round_}"
        indexer.build([src], full, engine="tantivy", workers=1)
        assert_same_index(idx, full)
        header = layout.read_header(idx)
        assert header["generation"] == round_ and layout.stale_reason(header) is None
    # only the files of the current generation and the one before (a server may still read it) are left
    listed = {n.split("/")[0] for n in layout.read_header(idx)["files"]} | {"index.json", "corpus.yaml"}
    left = {p.name for p in idx.iterdir()}
    assert listed <= left and {n for n in left - listed if ".1." not in n and n != "tantivy.1"} == set()


def test_an_updates_engine_folder_links_the_files_it_keeps_and_leaves_the_one_in_use_as_it_was(tmp_path, monkeypatch):
    """The update's copy of the tantivy folder hard-links the files it keeps (tantivy never changes
    a file it wrote), keeps their recorded checksums, and every record is still true: the new
    generation's files and the previous one's, which a server may still be reading."""
    lines, src, idx = large_index(tmp_path)
    before = layout.read_header(idx)
    change_sources(src, lines, 1)
    from bot.index import files as index_files

    hashed = []
    real_checksum = index_files.checksum

    def counted(path):
        hashed.append(Path(path))
        return real_checksum(path)

    monkeypatch.setattr(index_files, "checksum", counted)
    assert update(idx).touched
    after = layout.read_header(idx)
    old = {n.split("/", 1)[1] for n in before["files"] if n.startswith("tantivy/")}
    new = {n.split("/", 1)[1] for n in after["files"] if n.startswith("tantivy.1/")}
    shared = {n for n in old & new if not n.endswith(".json")}  # meta.json is written anew, renamed into place
    assert shared and new - old  # segments kept, and the new passages' segment
    assert all(os.path.samefile(idx / "tantivy" / n, idx / "tantivy.1" / n) for n in shared)
    assert all(after["files"][f"tantivy.1/{n}"] == before["files"][f"tantivy/{n}"] for n in shared)
    assert not {p.name for p in hashed if p.parent.name == "tantivy.1"} & shared  # kept, not read again
    assert layout.damage(idx, after, full=True) is None
    assert layout.damage(idx, {"files": {n: i for n, i in before["files"].items() if n.startswith("tantivy/")}},
                         full=True) is None
    ChatBot.load(idx)


def sentences_in_passage_arrays(idx: Path) -> None:
    """Turn a fresh large build into the layout before the parts had sentences files: each
    passage's sentences in passages.npz, rows ``sent_ptr[i]:sent_ptr[i + 1]``."""
    import numpy as np
    from bot.index.files import atomic_npz, load_npz

    header = layout.read_header(idx)
    files = header["files"]
    sname = layout.part_files("")["sentences"]
    arrays = dict(load_npz(idx, layout.PASSAGES_NPZ, files[layout.PASSAGES_NPZ]))
    sentences = load_npz(idx, sname, files.pop(sname))
    arrays["sent_ptr"] = np.append(arrays.pop("sent_at"), int(arrays.pop("sent_n").astype(np.int64).sum()))
    arrays.update({k: np.array(sentences[k]) for k in layout.SENTENCE_ARRAYS})
    files[layout.PASSAGES_NPZ] = atomic_npz(idx / layout.PASSAGES_NPZ, **{k: np.array(v) for k, v in arrays.items()})
    (idx / sname).unlink()
    header["version"] = 3  # as that version wrote it
    (idx / layout.INDEX_JSON).write_text(json.dumps(header), encoding="utf-8")


def test_an_update_writes_only_the_new_passages_sentences_and_moves_an_earlier_versions_once(tmp_path):
    """A large index keeps its passages' sentences in its parts' files: an update writes the new
    part's alone. An index of the version that kept them in its passage arrays is read as it is,
    and its first update moves them all into the new part's file; both end as a full build."""
    from bot.index.files import load_npz

    lines, src, idx = large_index(tmp_path)
    assert layout.part_files("")["sentences"] in layout.read_header(idx)["files"]
    before = [ChatBot.load(idx).ask(q).to_dict() for q in QUESTIONS]
    sentences_in_passage_arrays(idx)
    assert [ChatBot.load(idx).ask(q).to_dict() for q in QUESTIONS] == before
    sizes = []
    for round_ in (1, 2):
        change_sources(src, lines, round_)
        assert update(idx).touched
        header = layout.read_header(idx)
        assert header["version"] == layout.VERSION  # a reader of version 3 refuses it at load, saying why
        files = header["files"]
        name = layout.part_files(f".{round_}")["sentences"]
        pz = load_npz(idx, f"passages.{round_}.npz", files[f"passages.{round_}.npz"])
        assert "sent_ptr" not in pz and "sent_start" not in pz and name in files
        sizes.append(len(load_npz(idx, name, files[name])["sent_start"]))
        full = tmp_path / f"full-{round_}"
        indexer.build([src], full, engine="tantivy", workers=1)
        assert_same_index(idx, full)
    # the first update moved every passage's sentences; the second wrote its new passages' alone
    assert sizes[0] > 1000 and 0 < sizes[1] < sizes[0] / 10, sizes


def test_an_index_of_another_version_or_missing_a_parts_sentences_file_is_refused_saying_so(tmp_path, capsys):
    """A header of a version this code does not read, or one whose list of files leaves out a
    part's sentences file (every later passage's sentences would shift), is refused at load,
    found damaged, and failed by ``index --verify``: never answered from with wrong sentences."""
    from bot.cli import main

    lines, src, idx = large_index(tmp_path)
    for round_ in (1, 2):
        change_sources(src, lines, round_)
        assert update(idx).touched
    good = (idx / layout.INDEX_JSON).read_text(encoding="utf-8")
    header = json.loads(good)
    header["version"] = layout.VERSION + 1
    (idx / layout.INDEX_JSON).write_text(json.dumps(header), encoding="utf-8")
    with pytest.raises(CorpusError, match="another version"):
        ChatBot.load(idx)
    header = json.loads(good)
    del header["files"][layout.part_files(".1")["sentences"]]  # the middle part's
    (idx / layout.INDEX_JSON).write_text(json.dumps(header), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"sentences\.1\.npz: a part's sentences file is not in the index's list"):
        ChatBot.load(idx)
    assert "sentences.1.npz" in layout.damage(idx, layout.read_header(idx))
    assert main(["index", "--verify", "--out", str(idx)]) == 1
    assert "sentences.1.npz" in capsys.readouterr().err
    (idx / layout.INDEX_JSON).write_text(good, encoding="utf-8")
    assert main(["index", "--verify", "--out", str(idx)]) == 0


def test_part_sentences_rows_lie_in_one_part_and_the_check_finds_those_that_do_not():
    """Passage sentences are rows of one part's file; a passage without sentences at the very end
    reads none; rows reaching past their part are an error, never another part's sentences."""
    import numpy as np
    from bot.index.store import PartSentences

    def part(*starts):
        return {"sent_start": np.asarray(starts, np.int32), "sent_end": np.asarray(starts, np.int32) + 1,
                "sent_bullet": np.zeros(len(starts), np.bool_)}

    ps = PartSentences([part(0, 5), part(), part(7, 8, 9)])
    assert len(ps) == 5 and ps.starts == [0, 2, 2, 5]
    assert ps.rows(0, 2)[0].tolist() == [0, 5] and ps.rows(2, 4)[0].tolist() == [7, 8]
    assert [r.tolist() for r in ps.rows(5, 5)] == [[], [], []]  # none, at the very end
    assert ps.rows(2, 2)[0].tolist() == []
    with pytest.raises(CorpusError, match="do not match its passages"):
        ps.rows(1, 3)  # past the first part's end
    assert ps.mismatch(np.asarray([0, 2, 5]), np.asarray([2, 3, 0])) is None
    assert ps.mismatch(np.asarray([0, 1, 4]), np.asarray([1, 2, 1])) == 1
    assert ps.mismatch(np.asarray([0, 4]), np.asarray([1, 2])) == 1  # past the last part


def test_an_update_that_only_removes_files_equals_a_full_build(tmp_path):
    """No new document at all: the passages kept are gathered from the old rows alone."""
    lines = scifact_lines(320)
    src, idx = tmp_path / "src", tmp_path / "idx"
    write_sources(src, lines)
    indexer.build([src], idx, engine="tantivy", workers=1)
    (src / "notes.md").unlink()  # its acronym's long form is in no other file: nothing is analyzed again
    r = update(idx)
    assert r.full is None and r.removed == ["notes.md"] and not r.changed and not r.added and not r.reanalyzed
    full = tmp_path / "full"
    indexer.build([src], full, engine="tantivy", workers=1)
    assert_same_index(idx, full)


def test_small_index_update_equals_a_full_build(tmp_path):
    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    first = sorted(p for p in src.rglob("*.md"))[0]
    (src / "extra.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage (HSG), on level two.\n")
    first.write_text(first.read_text() + "\n\nDev Ops teams rotate the API key monthly.\n")
    from bot.index import corpus as corpus_module, update as update_module
    from bot.sources.split import split_document

    split: list[str] = []  # only the changed and added files' documents are cut into passages again

    def counted(doc, *a, **k):
        split.append(doc.source)
        return split_document(doc, *a, **k)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(update_module, "split_document", counted)
        mp.setattr(corpus_module, "split_document", counted)
        r = update(idx)
    assert r.full is None and r.added == ["extra.md"] and len(r.changed) == 1
    assert sorted(set(split)) == sorted([first.relative_to(src).as_posix(), "extra.md"]), split
    full = tmp_path / "full"
    indexer.build([src], full)
    assert_same_index(idx, full)
    assert "level two" in ChatBot.load(idx).ask("where do visitors park?").answer


def test_a_build_and_an_update_walk_the_sources_once(tmp_path, monkeypatch):
    """The snapshot and the plan of a build or an update share one walk of the source folders,
    and a problem met on the walk is reported once."""
    from bot.sources import ingest

    src = write_mixed(tmp_path / "mixed")
    (tmp_path / "outside.md").write_text("# Elsewhere\n\nNot in the sources.\n")
    (src / "link.md").symlink_to(tmp_path / "outside.md")  # the walk reports it, once
    walks = []
    real_collect = ingest._collect  # what every walk of folders goes through (``walk``, ``collect``)

    def counted(*a, **k):
        walks.append(a)
        return real_collect(*a, **k)
    monkeypatch.setattr(ingest, "_collect", counted)
    idx = tmp_path / "idx"
    _, _, _, problems = indexer.build([src], idx)
    assert len(walks) == 1 and sum("link.md" in p for p in problems) == 1, (walks, problems)
    f = sorted(p for p in src.rglob("*.md") if not p.is_symlink())[0]
    f.write_text(f.read_text() + "\n\nOne more line.\n")
    walks.clear()
    r = update(idx)
    assert r.touched and len(walks) == 1 and sum("link.md" in p for p in r.problems) == 1, (walks, r.problems)


def test_sources_named_relatively_update_only_the_file_that_changed(tmp_path, monkeypatch):
    """``index docs --out idx`` run again from the same folder: the walk's paths are relative and
    the index records real ones; each file is matched to its record through its real path, so
    one edited file is the only one read again (not every file added and every record removed)."""
    write_mixed(tmp_path / "mixed")
    monkeypatch.chdir(tmp_path)
    indexer.build(["mixed"], Path("idx"))
    f = sorted(p for p in Path("mixed").rglob("*.md") if not p.is_symlink())[0]
    f.write_text(f.read_text() + "\n\nOne more line about the loading dock.\n")
    r = update(Path("idx"), ["mixed"])
    assert r.touched and len(r.changed) == 1 and not r.added and not r.removed, r


def test_nothing_changed_reads_nothing_and_a_touched_file_stays_current(tmp_path, monkeypatch):
    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    f = sorted(src.rglob("*.md"))[0]
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # touched, same content
    assert layout.stale_reason(layout.read_header(idx)) is not None

    def no_reading(*a, **k):
        raise AssertionError("an unchanged file was read")

    monkeypatch.setattr("bot.index.reading.read_planned", no_reading)
    r = update(idx)
    assert r.full is None and not r.touched
    assert layout.stale_reason(layout.read_header(idx)) is None
    ChatBot.load(idx)


@pytest.mark.parametrize("collecting", [True, False])
def test_an_update_pauses_the_cycle_collector_and_leaves_it_as_it_was(tmp_path, monkeypatch, collecting):
    """The collector is off while an update runs (its full passes walked the millions of objects
    an update holds) and back as it was after, a failed update included."""
    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    f = sorted(p for p in src.rglob("*.md") if not p.is_symlink())[0]
    f.write_text(f.read_text() + "\n\nOne more line.\n")
    seen = []
    real_read = store.load

    def watched(*a, **k):
        seen.append(gc.isenabled())
        return real_read(*a, **k)

    monkeypatch.setattr(store, "load", watched)
    (gc.enable if collecting else gc.disable)()
    try:
        assert update(idx).touched and seen == [False]
        assert gc.isenabled() == collecting

        def broken(*a, **k):
            raise OSError("disk gone")

        f.write_text(f.read_text() + "\n\nAnd another.\n")
        monkeypatch.setattr(writer, "write_header", broken)
        with pytest.raises(OSError, match="disk gone"):
            update(idx)
        assert gc.isenabled() == collecting
    finally:
        gc.enable()


def manifest_corpus(folder: Path, manifest: str) -> Path:
    """A one-document corpus folder with the given corpus.yaml."""
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nWidgets are blue.\n")
    (folder / "corpus.yaml").write_text(manifest)
    return folder


def test_other_sources_or_index_settings_need_a_full_build(tmp_path):
    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    assert update(idx, [str(tmp_path)]).full is not None
    corpus = manifest_corpus(tmp_path / "corpus", "name: A\ndocuments:\n  - path: a.md\n")
    indexer.build([corpus], tmp_path / "c-idx")
    (corpus / "corpus.yaml").write_text("name: A\ndocuments:\n  - path: a.md\nsettings:\n  passage_max_words: 60\n")
    assert "settings" in update(tmp_path / "c-idx").full
    (corpus / "corpus.yaml").write_text("name: A\ndocuments:\n  - path: a.md\n    title: Widgets\n")
    indexer.build([corpus], tmp_path / "c-idx")
    (corpus / "corpus.yaml").write_text("name: A\ndocuments:\n  - path: a.md\n    title: All about widgets\n")
    r = update(tmp_path / "c-idx")  # a new title in the manifest: that document is read again
    assert r.full is None and r.changed == ["a.md"]
    assert ChatBot.load(tmp_path / "c-idx").documents[0].title == "All about widgets"


def test_answer_settings_edited_after_indexing_apply_at_once_without_a_rebuild(tmp_path):
    """strictness, top_k, name and examples are read at load time: editing them never makes the
    index stale, and the next load answers with them (the index files are not touched)."""
    corpus = manifest_corpus(tmp_path / "corpus", "name: A\ndocuments:\n  - path: a.md\nsettings:\n  strictness: 0.5\n")
    idx = tmp_path / "idx"
    indexer.build([corpus], idx)
    before = ChatBot.load(idx)
    answered = before.ask("What colour are widgets?")
    assert answered.support == "answer" and before.settings.answer.strictness == 0.5
    files = {p.name: p.stat().st_mtime_ns for p in idx.iterdir()}
    (corpus / "corpus.yaml").write_text("name: Widget notes\ndocuments:\n  - path: a.md\nsettings:\n  strictness: 1.0\n"
                                        "  top_k: 2\nexamples: [\"What colour are widgets?\"]\n")
    assert layout.stale_reason(layout.read_header(idx)) is None
    assert update(idx).touched is False
    after = ChatBot.load(idx)  # no "stale" refusal
    assert after.settings.answer.strictness == 1.0 and after.settings.answer.top_k == 2
    assert after.responder.decider.settings.strictness == 1.0
    assert after.name == "Widget notes" and after.manifest.examples == ("What colour are widgets?",)
    strict = after.ask("What colour are widgets?")
    assert strict.support == "closest" and strict.confidence == answered.confidence  # same estimate, new threshold
    assert {p.name: p.stat().st_mtime_ns for p in idx.iterdir()} == files  # nothing rebuilt or rewritten
    (corpus / "corpus.yaml").write_text("name: A\ndocuments:\n  - path: a.md\nsettings:\n  strictness: 2\n")
    with pytest.raises(CorpusError, match=r"corpus.yaml:5: settings.strictness must be between 0 and 1"):
        ChatBot.load(idx)  # a bad value names its file and line


def test_interrupted_update_leaves_the_old_index(tmp_path, monkeypatch):
    lines, src, idx = large_index(tmp_path)
    before = {p.name for p in idx.iterdir()}
    answer = ChatBot.load(idx).ask(QUESTIONS[5]).to_dict()
    change_sources(src, lines, 1)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "write_header", interrupted)
    with pytest.raises(KeyboardInterrupt):
        update(idx)
    monkeypatch.undo()
    assert {p.name for p in idx.iterdir()} == before  # nothing of the new generation is left
    header = layout.read_header(idx)
    assert header["generation"] == 0
    old = ChatBot(*store.load(idx, check_stale=False))  # stale (the sources changed), but whole
    assert len(old.index.passages) == header["passages"]
    assert old.ask(QUESTIONS[5]).to_dict() == answer
    r = update(idx)
    assert r.full is None and r.touched


def test_killed_update_keeps_the_old_index_and_the_next_one_cleans_up(tmp_path):
    lines, src, idx = large_index(tmp_path)
    before = {p.name for p in idx.iterdir()}
    change_sources(src, lines, 1)
    driver = textwrap.dedent(f"""
        import os, signal, sys
        from bot.index import layout
        from bot.index import store
        from bot.index import writer
        from bot.index import update
        real = writer.write_header
        def killed(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or `kill -9` would, before the switch
        writer.write_header = killed
        update.update({str(idx)!r})
    """)
    p = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == -9, p.stderr
    assert {p.name for p in idx.iterdir()} > before  # the new generation's files were left behind
    _, _, index, _ = store.load(idx, check_stale=False)  # the old index still loads whole
    assert len(index.passages) == layout.read_header(idx)["passages"]
    r = update(idx)
    assert r.full is None and r.touched
    listed = {n.split("/")[0] for n in layout.read_header(idx)["files"]} | {"index.json", "corpus.yaml"}
    assert {p.name for p in idx.iterdir()} == listed | before  # the killed run's files are gone


def test_cli_index_updates_an_existing_index(tmp_path):
    src = write_mixed(tmp_path / "mixed")
    out = tmp_path / "idx"

    def index(*extra):
        p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out), *extra],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    assert "Indexed" in index()
    assert "Up to date" in index()
    (src / "extra.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    said = index()
    assert "Updated" in said and "1 added" in said
    p = subprocess.run([sys.executable, "-m", "bot", "ask", "where do visitors park?", "--corpus", str(out), "--json"],
                       capture_output=True, text=True, timeout=60)
    assert "level two" in json.loads(p.stdout)["answer"]
    assert "Indexed" in index("--full")


def test_live_bot_follows_an_updated_index(tmp_path, monkeypatch):
    """What app.py serves: the next question after an update is answered from the new index."""
    from bot.chatbot import LiveBot

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx)
    monkeypatch.setattr(LiveBot, "CHECK_SECONDS", 0.0)
    assert live.ask("where do visitors park?").support == "none"
    (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    update(idx)
    assert "level two" in live.ask("where do visitors park?").answer and live.reloads == 1
    (src / "parking.md").write_text("# Parking\n\nVisitors park on level three now.\n")  # stale, not updated
    assert "level two" in live.ask("where do visitors park?").answer and live.reloads == 1


def test_a_second_writer_is_refused(tmp_path):
    """Two `python -m bot index` runs on one folder: the second says so instead of mixing files."""
    from bot.config import CorpusError

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    with writer.writing(idx):
        with pytest.raises(CorpusError, match="another `python -m bot index` is writing"):
            update(idx)
        with pytest.raises(CorpusError, match="another"):
            indexer.build([src], idx)
    assert update(idx).full is None  # released


def test_a_new_corpus_name_needs_no_reading(tmp_path, monkeypatch):
    corpus = manifest_corpus(tmp_path / "corpus", "name: Old name\ndocuments:\n  - path: a.md\n")
    indexer.build([corpus], tmp_path / "idx")
    (corpus / "corpus.yaml").write_text("name: New name\ndocuments:\n  - path: a.md\n")
    monkeypatch.setattr("bot.index.reading.read_planned", lambda *a, **k: pytest.fail("a.md was read again"))
    r = update(tmp_path / "idx")
    assert r.full is None and not r.touched
    assert ChatBot.load(tmp_path / "idx").manifest.name == "New name"


def test_live_bot_answers_from_the_loaded_index_while_a_newer_one_loads(tmp_path, monkeypatch):
    """A large index takes a while to load: questions arriving meanwhile are answered by the bot
    already loaded, none waits for the load (they all waited for its lock)."""
    import threading

    from bot.chatbot import ChatBot, LiveBot

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx)
    old = live.current()
    monkeypatch.setattr(LiveBot, "CHECK_SECONDS", 0.0)
    (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    update(idx)
    loading, release = threading.Event(), threading.Event()
    real_load = ChatBot.load.__func__

    def slow_load(cls, *a, **k):
        loading.set()
        assert release.wait(60), "the test never released the load"
        return real_load(cls, *a, **k)

    monkeypatch.setattr(ChatBot, "load", classmethod(slow_load))
    errors: list[BaseException] = []

    def reload() -> None:
        try:
            live.current()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    t = threading.Thread(target=reload)
    t.start()
    try:
        assert loading.wait(60)
        assert live.current() is old  # answered at once by the loaded bot, while the other thread loads
        assert live.ask("where do visitors park?").support == "none"
    finally:
        release.set()
        t.join(60)
    assert not errors and live.reloads == 1 and "level two" in live.ask("where do visitors park?").answer


def test_a_served_bot_replaced_by_an_update_is_freed_though_frozen_at_the_servers_start(tmp_path, monkeypatch):
    """A server warms its bot with ``freeze`` (the collector's full passes skip what was loaded).
    When an update replaces that bot, it must still be freed: its index holds reference cycles,
    which a frozen heap never collects, so the update unfreezes it."""
    import gc
    import weakref

    from bot.chatbot import LiveBot

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx)
    monkeypatch.setattr(LiveBot, "CHECK_SECONDS", 0.0)
    try:
        frozen = gc.get_freeze_count()
        live.current().warm(freeze=True)
        assert gc.get_freeze_count() > frozen + 1000
        first = weakref.ref(live.current().index)
        assert live.ask("where do visitors park?").support == "none"
        (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
        update(idx)
        assert "level two" in live.ask("where do visitors park?").answer and live.reloads == 1
        gc.collect()
        assert first() is None  # collected: not kept for the server's life by the freeze
    finally:
        gc.unfreeze()


def test_a_servers_live_bot_warms_each_updated_index_it_loads(tmp_path, monkeypatch):
    """The first questions after an update pay no more than those after the server's start: the
    new index is warmed in a thread of its own once it answers (here: its speller's word lists
    split and their letters noted, as ``warm`` does at the start)."""
    from bot.chatbot import LiveBot

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx, warm_updates=True)
    monkeypatch.setattr(LiveBot, "CHECK_SECONDS", 0.0)
    assert live.ask("where do visitors park?").support == "none" and live.warming is None
    (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    update(idx)
    assert "level two" in live.ask("where do visitors park?").answer and live.reloads == 1
    assert live.warming is not None
    try:
        live.warming.join(120)
        speller = live.current().index.speller
        assert not live.warming.is_alive() and speller._letters and set(speller._letters) == set(speller._by_length)
        assert live.frozen == 1  # and, the replaced bot gone, what is loaded is frozen as at the start
    finally:
        gc.unfreeze()
    assert LiveBot(idx).warm_updates is False  # only a server's


def test_a_warm_up_freezes_nothing_while_the_bot_it_replaced_is_in_use_or_once_replaced(tmp_path, monkeypatch):
    """Frozen, a bot's reference cycles are never freed: a warm-up freezes only once the bot it
    replaced is gone (a request may still hold it), and not at all if an update replaced the bot
    it warmed meanwhile."""
    import threading
    import weakref

    from bot.chatbot import ChatBot, LiveBot

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx)
    monkeypatch.setattr(LiveBot, "FREEZE_TRIES", 2)
    in_use = ChatBot.load(idx)  # a request still answering from the replaced bot
    try:
        live.start_warm(weakref.ref(in_use)).join(120)
        assert live.frozen == 0 and gc.get_freeze_count() == 0
        del in_use
        warming, real_warm = threading.Event(), ChatBot.warm

        def slow_warm(self, *a, **k):
            warming.set()
            real_warm(self, *a, **k)
            live._bot = ChatBot.load(idx)  # an update lands while this one warms

        monkeypatch.setattr(ChatBot, "warm", slow_warm)
        t = live.start_warm()
        assert warming.wait(60)
        t.join(120)
        assert live.frozen == 0 and gc.get_freeze_count() == 0
        monkeypatch.setattr(ChatBot, "warm", real_warm)
        live.start_warm().join(120)  # nothing replaced, nothing in the way: frozen
        assert live.frozen == 1 and gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def test_the_apis_copies_at_other_strictness_let_go_of_an_updated_index_at_the_next_question(tmp_path, monkeypatch):
    """``/api/ask`` keeps copies of the bot at the strictness values asked for; after an update
    the next question, at whatever strictness, drops the copies of the replaced bot, which can
    then be freed (they kept it, with its index, until a question at another strictness came)."""
    import weakref

    from bot.chatbot import LiveBot
    from bot.serve.api import BotsByStrictness

    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    live = LiveBot(idx)
    monkeypatch.setattr(LiveBot, "CHECK_SECONDS", 0.0)
    bots = BotsByStrictness(live)
    stricter = bots.get(0.9)
    assert stricter.settings.answer.strictness == 0.9 and bots.get(0.9) is stricter
    old = weakref.ref(live.current().index)
    del stricter
    (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    update(idx)
    assert "level two" in bots.get(None).ask("where do visitors park?").answer  # the default strictness
    gc.collect()
    assert old() is None and not bots._bots


def _fake_update(rng, n_old_docs: int, n_new_docs: int):
    """An old index's passage arrays and a new part's, with random passages (some documents have
    none) and sentences, and a new document order mixing kept old documents and new ones."""
    import numpy as np
    from types import SimpleNamespace

    def side(n_docs, first_uid):
        per_doc = rng.integers(0, 4, n_docs)
        per_doc[rng.random(n_docs) < 0.1] = 0
        doc = np.repeat(np.arange(n_docs, dtype=np.int32), per_doc)
        n = len(doc)
        n_sent = rng.integers(1, 4, n)
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(n_sent, out=ptr[1:])
        m = int(ptr[-1])
        return dict(doc=doc, start=rng.integers(0, 10**6, n).astype(np.int32), end=rng.integers(0, 10**6, n).astype(np.int32),
                    first=rng.random(n) < 0.5, uid=np.arange(first_uid, first_uid + n, dtype=np.int64),
                    terms_start=rng.integers(0, 10**9, n), terms_end=rng.integers(0, 10**9, n),
                    byte_start=rng.integers(0, 10**10, n),
                    lengths=rng.integers(1, 100, n).astype(np.int32), n_sent=n_sent, sent_ptr=ptr,
                    sent_start=rng.integers(0, 10**6, m).astype(np.int32), sent_end=rng.integers(0, 10**6, m).astype(np.int32),
                    sent_bullet=rng.random(m) < 0.3, heads=[("h", str(x)) for x in rng.integers(0, 5, n)]), per_doc

    old, old_per_doc = side(n_old_docs, 0)
    new, _ = side(n_new_docs, len(old["doc"]))
    for k in ("start", "end", "lengths", "sent_start"):  # a new part's arrays may come wider: cast to the old ones'
        new[k] = new[k].astype(np.int64)
    heads_old = sorted(set(old["heads"]))
    old["path"] = np.asarray([heads_old.index(h) for h in old["heads"]], np.int32)
    kept = [int(x) for x in rng.permutation(n_old_docs)[: n_old_docs * 3 // 4]]
    if rng.random() < 0.5:
        kept.sort()  # files kept in place: long runs
    order = [(p, None, 0) for p in kept]
    for j in range(n_new_docs):
        order.insert(int(rng.integers(0, len(order) + 1)), (None, object(), 0))
    from bot.index.update import Order

    order = Order(np.asarray([-1 if p is None else p for p, _, _ in order], np.int64), np.zeros(len(order), np.int32),
                  [d for _, d, _ in order if d is not None])
    doc_lo = np.zeros(n_old_docs + 1, np.int64)
    np.cumsum(old_per_doc, out=doc_lo[1:])
    prev = SimpleNamespace(passages={k: old[k] for k in ("doc", "start", "end", "first", "path", "terms_start",
                                                          "terms_end", "uid", "sent_ptr", "sent_start", "sent_end",
                                                          "sent_bullet", "byte_start")},
                           statistics={"doc_len": old["lengths"]}, meta={"headings": heads_old}, doc_lo=doc_lo)
    part = SimpleNamespace(analyzed=new, uids=new["uid"], ranges={"terms_start": new["terms_start"],
                                                                  "terms_end": new["terms_end"]})
    return prev, part, order, old, new, heads_old


def test_an_updates_passage_arrays_are_the_kept_rows_and_the_new_ones_in_the_new_order():
    """Copied a run of rows at a time or gathered row by row, the new generation's passage arrays
    are, passage by passage, what the old or the new part held for it, in the new order (the
    documents renumbered, the sentences moved with their passages)."""
    from types import SimpleNamespace

    import numpy as np
    from bot.index.store import PartSentences
    from bot.index.update import _passage_arrays

    rng = np.random.default_rng(7)
    for trial in range(40):
        prev, part, order, old, new, heads_old = _fake_update(rng, int(rng.integers(1, 60)), int(rng.integers(0, 20)))
        # the reference: passage by passage
        rows, new_at = [], 0
        for d, pos in enumerate(order.pos.tolist()):
            side, src_doc = (old, pos) if pos >= 0 else (new, new_at)
            new_at += pos < 0
            rows += [(side, i, d) for i in np.flatnonzero(side["doc"] == src_doc)]
        heads = list(heads_old) + [h for h in dict.fromkeys(new["heads"]) if h not in heads_old]
        want_sent = [[(int(s["sent_start"][j]), int(s["sent_end"][j]), bool(s["sent_bullet"][j]))
                      for j in range(s["sent_ptr"][i], s["sent_ptr"][i + 1])] for s, i, _ in rows]
        in_parts = trial % 2 == 1  # the sentences in the parts' files; else in the old passage arrays
        if in_parts:  # the old rows' sentences as an earlier part's file, after another part's
            before = {k: np.asarray([9, 9, 9], old[k].dtype) for k in ("sent_start", "sent_end", "sent_bullet")}
            earlier = PartSentences([before, {k: old[k] for k in ("sent_start", "sent_end", "sent_bullet")}])
            prev.index = SimpleNamespace(passages=SimpleNamespace(sentences=earlier))
            for k in ("sent_ptr", "sent_start", "sent_end", "sent_bullet"):
                del prev.passages[k]
            prev.passages["sent_at"] = old["sent_ptr"][:-1] + 3
            prev.passages["sent_n"] = np.diff(old["sent_ptr"]).astype(np.int32)
        for sliced_up_to in (0, 4096):
            got, lengths, got_heads, sentences = _passage_arrays(prev, order, part, sliced_up_to=sliced_up_to)
            got = {k: np.asarray(v) for k, v in got.items()}  # a few runs' slices come unjoined (written a run at a time)
            sentences = {k: np.asarray(v) for k, v in sentences.items()}
            parts = PartSentences([*earlier.parts, sentences]) if in_parts else PartSentences([sentences])
            assert "sent_ptr" not in got and got["sent_at"].dtype == np.int64 and got["sent_n"].dtype == np.int32
            assert [[(int(a), int(b), bool(c)) for a, b, c in zip(*parts.rows(int(at), int(at) + int(n)))]
                    for at, n in zip(got["sent_at"], got["sent_n"])] == want_sent, (trial, sliced_up_to)
            # the new part's file: the new passages' sentences alone, or (first) every passage's
            assert len(sentences["sent_start"]) == (len(new["sent_start"]) if in_parts else sum(map(len, want_sent)))
            assert all(sentences[k].dtype == old[k].dtype for k in sentences)
            assert got["doc"].tolist() == [d for _, _, d in rows], (trial, sliced_up_to)
            for k in ("start", "end", "first", "uid", "terms_start", "terms_end", "byte_start"):
                assert got[k].tolist() == [s[k][i] for s, i, _ in rows], (trial, sliced_up_to, k)
            assert lengths.tolist() == [s["lengths"][i] for s, i, _ in rows]
            assert [list(got_heads)[p] for p in got["path"]] == [s["heads"][i] for s, i, _ in rows]
            assert list(got_heads) == heads
            assert lengths.dtype == old["lengths"].dtype
            assert all(got[k].dtype == old[k].dtype for k in got if k not in ("sent_at", "sent_n")), (trial, sliced_up_to)
        del prev.passages["byte_start"]  # an index written before passages had byte offsets: still none
        assert "byte_start" not in _passage_arrays(prev, order, part)[0]


def test_an_updates_document_order_is_a_full_builds_reading_order():
    """Worked out per file, the new order is, document by document, what reading the plan gives:
    an unchanged file's documents in their old order and positions (those holding a long form
    that moved, the first document included, analyzed again from their stored text), a changed
    or added file's documents as read now; the old documents by file, whatever their order."""
    import random
    from types import SimpleNamespace

    import numpy as np
    from bot.index.update import _new_order, _stored_order

    class Stored:
        def __init__(self, source_file):
            self.source_file = np.asarray(source_file, np.int32)

        def __len__(self):
            return len(self.source_file)

        def with_blocks(self, i):
            return ("stored", i)

    rng = random.Random(5)
    orders = 0
    for trial in range(3000):
        n_files = rng.randint(0, 7)
        source_file = [f for f in range(n_files) for _ in range(rng.choice([0, 1, 2, 3, 5]))]
        if rng.random() < 0.3:
            rng.shuffle(source_file)
        stored = Stored(source_file)
        want_by_file: dict[int, list[int]] = {}
        for pos, f in enumerate(source_file):
            want_by_file.setdefault(f, []).append(pos)
        by_file, lo = _stored_order(stored, np.repeat(np.arange(len(source_file), dtype=np.int32), 2))
        assert {f: v.tolist() for f, v in by_file.items()} == want_by_file and lo.tolist() == list(range(0, 2 * len(source_file) + 1, 2))
        old_files = list(range(n_files))
        rng.shuffle(old_files)
        kept, fresh = {}, {}
        n_planned = rng.randint(0, 7)
        for k in range(n_planned):
            if old_files and rng.random() < 0.6:
                kept[k] = old_files.pop()
            elif rng.random() < 0.9:
                fresh[k] = [("read", k, j) for j in range(rng.choice([0, 1, 2, 4]))]
        kept_docs = [pos for f in kept.values() for pos in want_by_file.get(f, [])]
        affected = {pos for pos in kept_docs if rng.random() < 0.3 or (pos == 0 and trial % 4 == 0)}
        want = []
        for k in range(n_planned):
            if k in kept:
                want += [(-1, ("stored", pos), k) if pos in affected else (pos, None, k) for pos in want_by_file.get(kept[k], [])]
            else:
                want += [(-1, d, k) for d in fresh.get(k, [])]
        mask = np.zeros(len(source_file), bool)
        mask[sorted(affected)] = True
        changes = SimpleNamespace(planned=[None] * n_planned, kept=kept, fresh=fresh)
        prev = SimpleNamespace(stored=stored, by_file=by_file)
        if not want:
            with pytest.raises(CorpusError):
                _new_order(prev, changes, mask)
            continue
        got = _new_order(prev, changes, mask)
        orders += 1
        assert got.pos.tolist() == [p for p, _, _ in want], trial
        assert got.file.tolist() == [k for _, _, k in want], trial
        assert got.new_docs == [d for _, d, _ in want if d is not None], trial
        assert {f: v.tolist() for f, v in by_file.items()} == want_by_file  # left as it was
    assert orders > 1500
