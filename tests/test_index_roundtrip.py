"""A saved index the way users make and use one, for each kind of document: `python -m bot index
SRC --out IDX`, then `ask` and `search` on it, the page's server (app.py) answering from it, one
source file edited, `index` again (an update), and the edited text answered.

Documentation readers' documents (man pages, documentation HTML) carry their structure (blocks)
with them: it is saved in a file of its own, never in corpus.yaml (which `ask` reads and refuses
unknown keys in) nor in documents.jsonl. An index written the earlier way (tests/earlier_layout.py)
is still read, and `index` builds it anew saying why.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.config import load_manifest
from bot.index import layout, store
from bot.sources import structure
from doc_kinds import KINDS, write_all
from earlier_layout import to_earlier_layout
from waits import wait_until

ROOT = Path(__file__).resolve().parents[1]
STRUCTURED = {"markdown", "man", "sphinx", "docbook", "article"}  # kinds whose reader records blocks


def bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def ok(*args: str, stdin: str | None = None) -> str:
    p = bot(*args, stdin=stdin)
    assert p.returncode == 0, p.stderr
    return p.stdout


def ask(idx: Path, question: str) -> dict:
    return json.loads(ok("ask", question, "--corpus", str(idx), "--json"))


def ask_all(idx: Path, questions: list[str], command: str = "ask") -> list[dict]:
    """Replies (or search results) to several questions from one process (JSON Lines on stdin)."""
    lines = "".join(json.dumps({"question": q}) + "\n" for q in questions)
    got = [json.loads(x) for x in ok(command, "--corpus", str(idx), "--json", stdin=lines).splitlines()]
    assert len(got) == len(questions)
    return got


def texts(idx: Path) -> dict[str, str]:
    """Each document's text as the index holds it, by source."""
    _, docs, _, _ = store.load(idx, check_stale=False)
    return {d.source: d.text for d in docs}


def assert_answers(reply: dict, words: str, documents: dict[str, str]) -> None:
    """Answered with ``words``, every quote verbatim in its passage and the passage in its document."""
    assert reply["support"] == "answer", reply
    assert words in reply["answer"], reply["answer"]
    assert reply["citations"]
    for c in reply["citations"]:
        assert c["passage"] in documents[c["source"]]
        for q in c["quotes"]:
            assert q in c["passage"], (q, c["passage"])


def assert_saved_apart(idx: Path, structured: bool) -> None:
    """corpus.yaml reads as a manifest (no reader keys); the structure is in blocks.bin, not in
    documents.jsonl."""
    manifest = (idx / "corpus.yaml").read_text(encoding="utf-8")
    assert "_blocks" not in manifest and "_blocks" not in (idx / "documents.jsonl").read_text(encoding="utf-8")
    load_manifest(idx / "corpus.yaml")  # every key known
    header = layout.read_header(idx)
    assert layout.blocks_saved(header) and layout.outdated(header) is None
    assert ((idx / "blocks.bin").stat().st_size > 0) == structured


class Server:
    """app.py serving a saved index on a free port."""

    def __init__(self, idx: Path):
        self.proc = subprocess.Popen([sys.executable, "app.py", "--corpus", str(idx), "--port", "0",
                                      "--no-attachments"], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # printed once the index is loaded
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.close()
            raise AssertionError(f"app.py did not start: {line!r} {self.proc.stderr.read()}")
        self.url = f"http://127.0.0.1:{m.group(1)}"

    def ask(self, question: str) -> dict:
        req = urllib.request.Request(self.url + "/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("kind", [*KINDS, "mixed"])
def test_index_ask_search_update_ask(kind, tmp_path):
    src, idx = tmp_path / "src", tmp_path / "idx"
    files = write_all(src) if kind == "mixed" else {kind: KINDS[kind].write(src)}
    names = list(files)
    edited = "man" if kind == "mixed" else kind
    out = ok("index", str(src), "--out", str(idx))
    assert out.startswith("Indexed ")
    assert_saved_apart(idx, structured=bool(STRUCTURED & set(files)))
    documents = texts(idx)
    questions = [KINDS[n].question for n in names]
    server = Server(idx) if kind == "mixed" else None  # one server, for the folder of every kind
    try:
        for name, reply, found in zip(names, ask_all(idx, questions), ask_all(idx, questions, "search")):
            k = KINDS[name]
            assert_answers(reply, k.before, documents)
            if name == "man":  # the option tag heads its description: the blocks were read back
                assert reply["answer"].startswith("`-k, --keep=COUNT`:"), reply["answer"]
            assert any(k.before in r["passage"] for r in found["results"][:3]), found
            if server is not None:
                served = server.ask(k.question)
                assert_answers(served, k.before, documents)
                assert served["answer"] == reply["answer"]

        k = KINDS[edited]
        k.edit(files[edited])
        out = ok("index", str(src), "--out", str(idx))
        assert out.startswith("Updated in ") and "1 changed, 0 added, 0 removed files" in out, out
        assert_saved_apart(idx, structured=bool(STRUCTURED & set(files)))
        documents = texts(idx)
        for name, reply in zip(names, ask_all(idx, questions)):
            assert_answers(reply, KINDS[name].after if name == edited else KINDS[name].before, documents)
        assert k.before not in ask(idx, k.question)["answer"]  # one question on the command line too
        if server is not None:  # the server follows the update
            served = wait_until(lambda: (r := server.ask(k.question)) and k.after in r["answer"] and r,
                                "the server to answer from the updated index", 60)
            assert_answers(served, k.after, documents)
    finally:
        if server is not None:
            server.close()


def test_documents_of_a_large_index_keep_their_structure_through_an_update(tmp_path):
    """The tantivy engine writes its parts in place: the edited document's blocks go to the new
    part's blocks file, the others' stay in the first."""
    src, idx = tmp_path / "src", tmp_path / "idx"
    files = write_all(src)
    ok("index", str(src), "--out", str(idx), "--engine", "tantivy")
    KINDS["man"].edit(files["man"])
    out = ok("index", str(src), "--out", str(idx), "--engine", "tantivy")
    assert out.startswith("Updated in "), out
    assert (idx / "blocks.1.bin").stat().st_size > 0 and "_blocks" not in (idx / "documents.1.jsonl").read_text()
    assert ask(idx, KINDS["man"].question)["answer"].startswith("`-k, --keep=COUNT`: Keep COUNT old archives before "
                                                                 "removing")
    assert ask(idx, KINDS["sphinx"].question)["answer"].startswith("`max_retries`:")  # from part 0


def test_saved_blocks_are_the_readers_and_read_when_asked_for(tmp_path):
    from bot.sources.load import load_corpus

    src, idx = tmp_path / "src", tmp_path / "idx"
    write_all(src)
    ok("index", str(src), "--out", str(idx))
    _, read = load_corpus(src)
    _, docs, index, _ = store.load(idx)
    for d in read:
        stored = docs[docs.position(d.id)]
        assert "_blocks" not in stored.metadata  # not in documents.jsonl: read from blocks.bin on demand
        assert list(docs.blocks(docs.position(d.id))) == list(structure.unpack(d.metadata.get("_blocks")) or [])
        assert index.blocks_of(d.id) == index.blocks_of(d.id) and (bool(index.blocks_of(d.id)[1])
                                                                   == bool(d.metadata.get("_blocks")))
        assert docs.with_blocks(docs.position(d.id)).metadata == d.metadata


@pytest.mark.parametrize("engine", ["postings", "tantivy"])
def test_a_saved_index_maps_its_arrays_aligned_and_numpy_reads_them(engine, tmp_path):
    """Every array of every .npz an index writes starts at a multiple of 64 bytes of its file, so
    the memory-mapped view is aligned (numpy copies an unaligned one to search it), and the
    archives are still ones ``np.load`` reads, with the same arrays."""
    import numpy as np

    from bot.index import files

    src, idx = tmp_path / "src", tmp_path / "idx"
    write_all(src)
    ok("index", str(src), "--out", str(idx), "--engine", engine)
    info = json.loads((idx / layout.INDEX_JSON).read_text())["files"]
    archives = [name for name in info if name.endswith(".npz")]
    assert len(archives) >= 3, archives
    for name in archives:
        mapped = files.load_npz(idx, name, info[name])
        with np.load(idx / name, allow_pickle=False) as z:
            assert sorted(z.files) == sorted(mapped)
            for key, array in mapped.items():
                assert np.array_equal(z[key], array) and z[key].dtype == array.dtype
                if array.size:
                    assert array.flags["ALIGNED"] and array.ctypes.data % files.NPY_ALIGN == 0, (name, key)
                    assert not array.flags["OWNDATA"], (name, key)  # a view of the mapped file, not a copy


def test_an_archives_members_are_the_bytes_numpy_writes(tmp_path):
    """``atomic_npz`` writes a plain array from its own memory, not through numpy's copies: each
    member is still exactly what ``np.lib.format.write_array`` writes (byte order, booleans,
    empty and 0-d arrays, a strided view, Fortran order, strings and dates taking numpy's own way),
    and ``np.load`` reads every array back with its type, and CRC-checked."""
    import io
    import zipfile

    import numpy as np

    from bot.index import files

    rng = np.random.default_rng(0)
    arrays = dict(a=rng.integers(0, 1 << 40, 1000), b=rng.random(7).astype(np.float32), c=np.array([], np.int32),
                  d=rng.integers(0, 2, 33).astype(bool), e=np.arange(12, dtype=">i4").reshape(3, 4),
                  f=np.asfortranarray(np.arange(12).reshape(3, 4)), g=np.arange(10)[::2], h=np.array(5),
                  i=np.array(["ab", "c"]), j=np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"))
    files.atomic_npz(tmp_path / "x.npz", **arrays)
    with zipfile.ZipFile(tmp_path / "x.npz") as z:
        assert z.testzip() is None  # every member's CRC
        for key, array in arrays.items():
            expected = io.BytesIO()
            np.lib.format.write_array(expected, array, allow_pickle=False)
            assert z.read(key + ".npy") == expected.getvalue(), key
    with np.load(tmp_path / "x.npz", allow_pickle=False) as z:
        for key, array in arrays.items():
            assert np.array_equal(z[key], array) and z[key].dtype == array.dtype, key
    with pytest.raises(ValueError):
        files.atomic_npz(tmp_path / "y.npz", o=np.array([{"a": 1}], dtype=object))
    # an array given as pieces (an update's runs of rows): the bytes of the pieces joined, each cast
    pieces = [np.arange(5, dtype=np.int64), np.array([], np.int32), np.arange(3, dtype=np.int16)[::-1], np.ones(2, bool)]
    files.atomic_npz(tmp_path / "j.npz", j=files.Joined(pieces, np.int32), e=files.Joined([], np.bool_))
    with zipfile.ZipFile(tmp_path / "j.npz") as z:
        assert z.testzip() is None
        for key, array in (("j", np.concatenate(pieces).astype(np.int32)), ("e", np.empty(0, np.bool_))):
            expected = io.BytesIO()
            np.lib.format.write_array(expected, array, allow_pickle=False)
            assert z.read(key + ".npy") == expected.getvalue(), key
    assert np.array_equal(np.asarray(files.Joined(pieces, np.int32)), np.concatenate(pieces).astype(np.int32))


@pytest.mark.parametrize("engine", ["postings", "tantivy"])
def test_a_saved_passages_text_is_decoded_from_its_own_bytes(engine, tmp_path):
    """Each passage of a saved index knows where its text starts in its document's UTF-8 bytes,
    so reading it decodes those bytes alone: the text is the built passage's (accents, CJK, a
    four-byte emoji, a combining mark before and inside passages), and reading every passage
    leaves each document's own text unread until something asks for it. Through an update
    too, and an index without the offsets (written before them) reads the same texts."""
    import numpy as np

    from bot import ChatBot
    from bot.index import indexer
    from bot.index.update import update

    src, idx = tmp_path / "src", tmp_path / "idx"
    src.mkdir()
    para = "Crème brûlée and naïve café 😀 ok. 東京の天気は晴れです. Zoë's e\u0301clair recipe works. "
    for k in range(6):
        body = "\n\n".join(f"## Part {j} ñ\n\n" + (para * (j + k + 1)) + f"Plain ascii words {j}." for j in range(8))
        (src / f"doc{k}.md").write_text(f"# Title {k} — ü\n\n{body}\n", encoding="utf-8")
    (src / "plain.md").write_text("# Plain\n\n" + "Only ascii text here. " * 400, encoding="utf-8")
    # passages of three- and four-byte characters alone (a window of fewer bytes a character falls short)
    (src / "wide.md").write_text("# Wide\n\n" + "\n\n".join(f"## 部分 {j}\n\n" + " ".join(["😀😀😀😀😀😀😀東", "東京都😀😀😀😀"] * 90)
                                                      for j in range(3)) + "\n", encoding="utf-8")
    indexer.build([src], idx, engine=engine, workers=1)
    (src / "doc2.md").write_text("# Changed ö\n\n" + para * 30, encoding="utf-8")
    assert update(idx).full is None
    for rounds in range(2):
        built = ChatBot.load(src).index
        _, docs, index, _ = store.load(idx, check_stale=False)
        if rounds:  # as an index written before passages had byte offsets
            del index.passages.a["byte_start"]
        else:
            assert index.passages.a["byte_start"].dtype == np.int64
        got = [(p.doc_id, p.start, p.end, p.text, [x.text for x in p.sentences]) for p in index.passages]
        want = [(p.doc_id, p.start, p.end, p.text, [x.text for x in p.sentences]) for p in built.passages]
        assert sorted(got) == sorted(want) and any(not p.text.isascii() for p in built.passages)
        unread = [d for d in (docs[i] for i in range(len(docs))) if "text" not in d.__dict__]
        assert len(unread) == (len(docs) if not rounds else 0)
        for d in docs:
            assert d.text == built.documents[d.id].text
        assert any(len(p.text.encode("utf-8")) > 3.2 * len(p.text) for p in index.passages)


def test_a_stored_document_reads_its_text_when_asked_and_is_a_document_otherwise(tmp_path):
    """A saved index's documents (``StoredDocument``) read their text when first asked for, once,
    and are otherwise Documents: equal to one with the same fields (either side), copied,
    pickled (as a plain Document) and replaced as one; one that cannot read says so as a
    missing attribute does."""
    import copy
    import dataclasses
    import pickle

    from bot.index import indexer
    from bot.model import Document

    src, idx = tmp_path / "src", tmp_path / "idx"
    src.mkdir()
    (src / "a.md").write_text("# Café\n\nThe zeta widget is blue. Naïve café.\n", encoding="utf-8")
    (src / "b.md").write_text("# B\n\nSomething else entirely.\n", encoding="utf-8")
    indexer.build([src], idx)
    _, docs, _, _ = store.load(idx, check_stale=False)
    d = docs[0]
    assert isinstance(d, store.StoredDocument)
    assert (d.title, d.source) == ("Café", "a.md") and isinstance(d.metadata, dict) and d.id
    assert "text" not in d.__dict__  # its other fields read no text
    assert "zeta widget is blue. Naïve café." in d.text and "text" in d.__dict__
    plain = Document(d.id, d.title, d.source, d.text, dict(d.metadata))
    assert d == plain and plain == d and not (d != plain)
    assert d != Document(d.id, d.title, d.source, d.text + "x", dict(d.metadata))
    for other in (pickle.loads(pickle.dumps(docs[1])), copy.copy(docs[1]), copy.deepcopy(docs[1])):
        assert other == docs[1] and other.text == docs[1].text
    assert type(pickle.loads(pickle.dumps(docs[1]))) is Document
    moved = dataclasses.replace(d, metadata={"x": 1})
    assert moved.text == d.text and moved.metadata == {"x": 1} and moved.id == d.id
    lost = store.StoredDocument("i", "t", "s")
    assert not hasattr(lost, "text") and getattr(lost, "text", None) is None


# ---- an index written the earlier way -------------------------------------------------------
@pytest.fixture()
def earlier(tmp_path):
    """A folder of every kind and its index in the earlier layout (structure in corpus.yaml)."""
    src, idx = tmp_path / "src", tmp_path / "idx"
    files = write_all(src)
    ok("index", str(src), "--out", str(idx))
    to_earlier_layout(idx)
    assert "_blocks:" in (idx / "corpus.yaml").read_text() and not (idx / "blocks.bin").exists()
    return src, idx, files


def test_an_index_of_the_earlier_layout_is_still_read(earlier):
    src, idx, _ = earlier
    documents = texts(idx)
    replies = ask_all(idx, [k.question for k in KINDS.values()])
    for k, reply in zip(KINDS.values(), replies):
        assert_answers(reply, k.before, documents)
    assert replies[list(KINDS).index("man")]["answer"].startswith("`-k, --keep=COUNT`:")  # blocks from the metadata
    found = json.loads(ok("search", KINDS["sphinx"].question, "--corpus", str(idx), "--json"))["results"]
    assert KINDS["sphinx"].before in found[0]["passage"]


def test_index_builds_an_index_of_the_earlier_layout_anew_saying_why(earlier):
    src, idx, files = earlier
    KINDS["man"].edit(files["man"])
    out = ok("index", str(src), "--out", str(idx))
    assert out.startswith("Building anew: the index was written by an earlier version"), out
    assert "Indexed 9 documents" in out
    assert_saved_apart(idx, structured=True)
    assert yaml.safe_load((idx / "corpus.yaml").read_text())["documents"][0]["path"]
    assert_answers(ask(idx, KINDS["man"].question), KINDS["man"].after, texts(idx))
    assert ok("index", str(src), "--out", str(idx)).startswith("Up to date")


def test_ask_rebuild_brings_an_index_of_the_earlier_layout_up_to_date(earlier):
    src, idx, _ = earlier
    reply = json.loads(ok("ask", KINDS["sphinx"].question, "--corpus", str(idx), "--json", "--rebuild"))
    assert KINDS["sphinx"].before in reply["answer"]
    assert_saved_apart(idx, structured=True)


def test_an_earlier_corpus_yaml_too_large_to_read_names_the_command_that_repairs_it(earlier):
    """With long documents the structure made the written corpus.yaml pass the manifest size limit:
    past a hand-written manifest's 1 MB it still reads (the listing beside an index may be 16 MB),
    past 16 MB the message names the command that builds the index anew."""
    src, idx, _ = earlier
    text = (idx / "corpus.yaml").read_text()
    at = text.index("  _blocks:\n") + len("  _blocks:\n")
    more = "".join(f"  - {n}\n" for n in range(1_000_000, 1_100_000))  # 1.1 MB more of them
    (idx / "corpus.yaml").write_text(text[:at] + more + text[at:])
    assert KINDS["man"].before in ask(idx, KINDS["man"].question)["answer"]
    more = "".join(f"  - {n}\n" for n in range(1_000_000, 2_500_000))  # 18 MB more
    (idx / "corpus.yaml").write_text(text[:at] + more + text[at:])
    p = bot("ask", KINDS["man"].question, "--corpus", str(idx))
    assert p.returncode == 2 and "earlier version" in p.stderr and f"--out {idx}" in p.stderr, p.stderr
    out = ok("index", str(src), "--out", str(idx))
    assert out.startswith("Building anew: the index was written by an earlier version"), out
    assert_saved_apart(idx, structured=True)
    assert KINDS["man"].before in ask(idx, KINDS["man"].question)["answer"]


def test_a_saved_postings_index_keeps_the_terms_answering_reads(tmp_path):
    """A postings index keeps each passage's terms set as answering computes it (``terms.txt``),
    so a first question reads them instead of analyzing the passages (first asks were 3.8x the
    warm ones at 44,000 passages). What the build kept equals what answering computes in memory,
    passage by passage, on every kind of document (titles, headings, glossary keys, joined
    spellings), and a saved index, also after an update, reads the same sets as the in-memory one."""
    from bot.chatbot import ChatBot
    from bot.index import indexer
    from bot.index.corpus import CorpusIndex
    from bot.index.update import update

    src = tmp_path / "docs"
    src.mkdir()
    write_all(src)
    (src / "devops.md").write_text("# Dev Ops\n\nThe Total Dissolved Solids (TDS) meter reads total dissolved "
                                   "solids. DevOps and dev ops teams share the on-call rota.\n")

    def computed(index: CorpusIndex) -> list[frozenset[str]]:
        fresh = CorpusIndex(dict(index.documents.items()), index.passages, index.glossary, index.vocabulary, index.retriever,
                            index.speller, analyzer=index.analyzer)
        assert fresh.whole_terms is None
        return [fresh.passage_terms[i] for i in range(len(index.passages))]

    manifest, docs, built, _ = indexer.build([src], tmp_path / "idx", engine="postings")
    assert built.whole_terms is not None and len(built.whole_terms) == len(built.passages) > 10
    in_memory = [built.passage_terms[i] for i in range(len(built.passages))]
    assert in_memory == computed(built)
    assert any("tds" in t for t in in_memory) and any("devop" in t for t in in_memory)
    for step in ("saved", "updated"):
        if step == "updated":
            (src / "more.md").write_text("# More\n\nThe harbour ferry leaves at noon.\n")
            assert update(tmp_path / "idx").full is None
        loaded = ChatBot.load(tmp_path / "idx").index
        assert loaded.whole_terms is not None, step
        # as the in-memory index computes them (its build's vocabulary: a saved index's engine
        # vocabulary also holds document titles' terms, which joined split spellings against them)
        rebuilt = indexer.build([src], tmp_path / f"again-{step}", engine="postings")[2]
        assert [loaded.passage_terms[i] for i in range(len(loaded.passages))] == \
            [rebuilt.passage_terms[i] for i in range(len(rebuilt.passages))], step


def test_heading_paths_in_order_of_first_appearance_read_a_block_at_a_time():
    """A saved index lists its heading paths in the order passages first use them (the topics an
    abstention suggests), reading a block of passages at a time: whatever the block, the order is
    the one a pass over every passage gives."""
    import random

    import numpy as np

    rng = random.Random(4)
    heads = [(f"H{i}",) for i in range(40)]
    path = np.array([min(int(rng.expovariate(0.15)), 39) for _ in range(3000)], np.int32)
    passages = store.PassageStore(None, heads, {"path": path})  # type: ignore[arg-type]
    every = list(dict.fromkeys(heads[i] for i in path.tolist()))
    assert len(every) > 20
    for block in (1, 7, 64, 4096):
        assert list(passages.distinct_paths(block)) == every


def test_a_documents_heading_paths_group_its_passages_in_order_as_a_pass_over_them_does():
    """A saved index groups one document's passages by heading path from its arrays (each path
    read once): the same groups, in order of first appearance and each in passage order, as the
    in-memory list gives, two ids of one path (an update's) included, and the sections and
    subsections an answer reads are the same."""
    import random

    import numpy as np

    from bot.index.corpus import CorpusIndex, PassageList
    from bot.index.layout import read_terms, terms_file
    from bot.model import Passage

    rng = random.Random(9)
    heads = [(), ("A",), ("A", "B"), ("C",), ("A", "B", "D"), ("A",), ("Ünï", "ß 東"), ("A", "", "F"), ("A", ""), ("AxB", "G")]  # ("A",) under ids 1 and 5
    doc_of, path = [], []
    for d in range(6):
        for _ in range(0 if d == 3 else rng.randrange(1, 150)):  # d3 has none; some past 64 (grouped by numpy)
            doc_of.append(d)
            path.append(rng.choice([1, 2, 2, 3, 4, 5, 0, 6, 7, 8, 9]))

    class Docs:
        def position(self, doc_id: str) -> int:
            return int(doc_id[1:])

    arrays = {"doc": np.array(doc_of, np.int32), "path": np.array(path, np.int32)}
    saved = store.PassageStore(Docs(), heads, arrays)  # type: ignore[arg-type]
    as_lines = store.PassageStore(Docs(), read_terms(terms_file(heads, [], [], []), words=False)["headings"], arrays)  # type: ignore[arg-type]
    assert hasattr(as_lines.head_paths, "many")
    listed = PassageList(Passage(i, f"d{d}", heads[p], "x", 0, 1, ()) for i, (d, p) in enumerate(zip(doc_of, path)))
    assert {len(listed.passages_of_document(f"d{d}")) > 64 for d in range(6)} == {True, False}
    trees = []
    for passages in (saved, as_lines, listed):
        index = object.__new__(CorpusIndex)
        index.passages, index._doc_trees = passages, {}
        trees.append([(index._doc_tree(f"d{d}"), index.document_passages(f"d{d}")) for d in range(6)])
    for d in range(6):
        got = saved.paths_of_document(f"d{d}")
        assert as_lines.paths_of_document(f"d{d}") == got
        merged: dict[tuple[str, ...], list[int]] = {}
        for h, ids in got:
            merged.setdefault(h, []).extend(ids)
        assert {h: sorted(ids) for h, ids in merged.items()} == dict(listed.paths_of_document(f"d{d}")), d
        assert list(merged) == [h for h, _ in listed.paths_of_document(f"d{d}")]  # first appearances
        assert (got == []) == (d == 3)
    assert trees[0] == trees[1] == trees[2] and any(len(t[0][1]) > 1 for t in trees[0])
    # one section, without building the document's tree where the paths are lines of bytes
    # (``PassageStore.section``): the tree's passages for every path, a prefix only, none
    for passages in (saved, as_lines, listed):
        index = object.__new__(CorpusIndex)
        index.passages, index._doc_trees, index._sections = passages, {}, {}
        for d in range(6):
            for h in (*heads, ("Z",), ("A", "B", "D", "E"), ("Ünï",), ("A", "")):
                assert index.section(f"d{d}", h) == list(trees[2][d][0][0].get(h, ())), (d, h)
                assert index.section(f"d{d}", h) == list(trees[2][d][0][0].get(h, ())), (d, h)  # kept
                # its subsections, likewise (``PassageStore.children``), all or the first few
                for limit in (None, 1, 2, 10, 0, -1):
                    assert index.children(f"d{d}", h, limit) == list(trees[2][d][0][1].get(h, ()))[:limit], (d, h)
        if passages is as_lines:  # a path id past the table (a damaged index) is said, as ``many`` says it
            with pytest.raises(IndexError):
                passages.head_paths.matching(np.array([1, len(heads)]), ("A",))
            with pytest.raises(IndexError):
                passages.head_paths.children(np.array([1, len(heads)]), ("A",))
        built = set(index._doc_trees)
        assert built == ({f"d{d}" for d in range(6) if len(listed.passages_of_document(f"d{d}")) <= 64}
                         if passages is as_lines else {f"d{d}" for d in range(6)})


def test_a_saved_passages_sentences_read_from_its_arrays_as_sentence_objects_gave_them():
    """A passage's sentences are made a ``SentenceList`` straight from the arrays where each is a
    slice of the passage; random spans, damaged ones (outside the passage, ending before it starts)
    included, read as the Sentence objects compacted by ``SentenceList.of`` read."""
    import random

    import numpy as np

    from bot.model import Document, Sentence, SentenceList

    class Docs:
        def __init__(self, d: Document):
            self.d = d

        def __getitem__(self, i: int) -> Document:
            return self.d

        def span(self, i: int, start: int, end: int, byte_start: int | None = None) -> str:
            return self.d.text[start:end]

    rng = random.Random(2)
    for _ in range(3000):
        text = "".join(rng.choice("ab c") for _ in range(rng.randrange(5, 30)))
        d = Document("d", "t", "s", text)
        start = rng.randrange(0, len(text))
        end = rng.randrange(start, len(text) + 1)
        n = rng.randrange(0, 4)
        ss, ee = ([rng.randrange(0, len(text) + 1) for _ in range(n)] for _ in range(2))
        bb = [rng.randrange(2) for _ in range(n)]
        arrays = {"doc": np.zeros(1, np.int32), "sent_ptr": np.array([0, n]), "sent_start": np.array(ss, np.int32),
                  "sent_end": np.array(ee, np.int32), "sent_bullet": np.array(bb, np.int8), "start": np.array([start]),
                  "end": np.array([end]), "path": np.zeros(1, np.int32), "first": np.ones(1, bool)}
        got = store.PassageStore(Docs(d), [()], arrays)[0]  # type: ignore[arg-type]
        made = tuple(Sentence(text[s:e], s, e, bool(b)) for s, e, b in zip(ss, ee, bb))
        assert tuple(got.sentences) == tuple(SentenceList.of(text[start:end], start, made)), (text, start, end, ss, ee)


def test_a_saved_index_weighs_headings_without_building_passages(tmp_path):
    """A first answer weighs the headings of passages whose text it never reads (``headings_of``,
    whether one opens its section, how many sentences it has): a saved index reads them from its
    arrays without building the passage, the same the passage has, through an update too."""
    from bot.index import indexer
    from bot.index.update import update

    src, idx = tmp_path / "src", tmp_path / "idx"
    write_all(src)
    indexer.build([src], idx, workers=1)
    for rounds in range(2):
        _, _, index, _ = store.load(idx, check_stale=False)
        n = len(index.passages)
        got = [index.headings_of(i) for i in range(n)]
        opens = [index.section_first(i) for i in range(n)]
        counts = [index.sentence_count(i) for i in range(n)]
        assert not index.passages._cache  # no passage built
        leaves = [index.heading_terms[i] for i in range(n)] + [index.path_terms[i] for i in range(n)]
        assert not index.passages._cache and any(leaves)
        assert got == [index.passages[i].headings for i in range(n)]  # each built afterwards
        assert opens == [index.passages[i].section_first for i in range(n)] and True in opens
        assert counts == [len(index.passages[i].sentences) for i in range(n)] and min(counts) >= 1
        assert [index.headings_of(i) for i in range(n)] == got  # and read from the built ones
        assert sum(1 for h in got if h) > n // 2
        if not rounds:
            first = sorted(src.rglob("*.md"))[0]
            first.write_text(first.read_text(encoding="utf-8") + "\n\n## A new part\n\nNew words here.\n",
                             encoding="utf-8")
            assert update(idx).full is None
