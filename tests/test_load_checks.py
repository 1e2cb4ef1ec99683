"""Loading a saved index checks what it must without walking the sources or parsing corpus.yaml
again: the snapshot the build recorded is stat'ed (an edited or removed file: stale; a folder whose
files changed: the full check decides), and the corpus.yaml's values are taken from the header while
the file is unchanged. Each check against the full one, the way users change their sources."""
import os

import pytest

from bot import ChatBot, CorpusError
from bot.index import indexer, layout, store
from mixed_corpus import write_mixed


def _no_walk(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the sources were walked at load")
    monkeypatch.setattr(layout, "source_files", refuse)


def _no_yaml(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("corpus.yaml was parsed at load")
    monkeypatch.setattr(layout, "load_manifest", refuse)
    monkeypatch.setattr(store, "load_manifest", refuse)


@pytest.fixture()
def built(tmp_path):
    src = write_mixed(tmp_path / "mixed")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    return src, idx


def test_unchanged_sources_load_without_a_walk_or_a_parse(built, monkeypatch):
    src, idx = built
    expected = store.load(idx)[0]  # parsed as the build left it
    _no_walk(monkeypatch)
    _no_yaml(monkeypatch)
    manifest, _, _, _ = store.load(idx)
    assert (manifest.name, manifest.description, manifest.examples, manifest.settings) == \
        (expected.name, expected.description, expected.examples, expected.settings)
    assert not ChatBot.load(idx).ask("when do nightly backups run?").abstained


def test_a_load_maps_the_terms_file_and_decodes_few_terms(built, tmp_path, monkeypatch):
    """A tantivy index's vocabulary stays the terms file's mapped lines: a load decodes only the
    few terms most passages hold (``common_terms``), the question's terms are found in them, and a server's warm-up decodes them all once
    into a dict (the same terms at the same ids)."""
    import mmap

    from bot.index.layout import MappedVocabulary

    src, _ = built
    idx = tmp_path / "tv"
    indexer.build([src], idx, engine="tantivy")
    decoded = []
    real, every = MappedVocabulary.__getitem__, MappedVocabulary.__iter__

    def noting(self, i):
        decoded.append(i)
        return real(self, i)

    def noting_all(self):
        decoded.extend(range(len(self)))
        return every(self)
    monkeypatch.setattr(MappedVocabulary, "__getitem__", noting)
    monkeypatch.setattr(MappedVocabulary, "__iter__", noting_all)
    bot = ChatBot.load(idx)
    vocab = bot.index.retriever.vocab
    assert isinstance(vocab, MappedVocabulary) and isinstance(vocab._data, mmap.mmap)
    term_id = bot.index.retriever.term_id
    assert term_id._ids is None and term_id._search == vocab.find  # no dict, no tuple: searched in the file
    assert len(vocab) > 50 and len(decoded) <= 5
    assert "backup" in bot.index.vocabulary and "wibbleflux" not in bot.index.vocabulary
    assert not bot.ask("when do nightly backups run?").abstained
    ids = {t: bot.index.retriever.term_id[t] for t in vocab}
    bot.warm()
    assert bot.index.retriever.term_id._ids == ids and list(ids.values()) == list(range(len(vocab)))


def test_a_vocabulary_changed_on_disk_is_said_when_read_and_by_verify(built, tmp_path, capsys):
    """A load hashes no file (``index --verify`` does), and no longer decodes the vocabulary: a
    byte of it changed in place (not UTF-8 now) is said, naming the file, when a term is read or a
    server's warm-up reads them all; never a bare decoding error."""
    import json

    from bot import cli
    from bot.index.layout import TERMS_MAGIC, terms_name

    src, _ = built
    idx = tmp_path / "tv"
    indexer.build([src], idx, engine="tantivy")
    header = layout.read_header(idx)
    path = idx / terms_name(header["files"], int(header.get("generation") or 0))
    raw = bytearray(path.read_bytes())
    body = raw.index(b"\n", len(TERMS_MAGIC)) + 1
    at = body + json.loads(raw[len(TERMS_MAGIC):body])["sections"]["vocab_lines"][0]
    where = raw.index(b"\nbackup\n", at) + 2
    raw[where] = 0xFF  # "backup" -> "b\xffckup", the size unchanged
    path.write_bytes(bytes(raw))
    bot = ChatBot.load(idx)
    with pytest.raises(CorpusError, match="changed after indexing .its vocabulary is not UTF-8"):
        bot.warm()
    with pytest.raises(CorpusError, match=str(path.name)):
        list(bot.index.retriever.vocab)
    assert cli.main(["index", "--out", str(idx), "--verify"]) == 1
    assert path.name in capsys.readouterr().err


def test_a_file_edited_in_place_is_stale_without_a_walk(built, monkeypatch):
    src, idx = built
    f = src / "notes" / "backups.md"
    f.write_text(f.read_text() + "\nBackups are also copied to tape.\n")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10_000_000))  # the same size would still count
    assert layout.stale_reason(layout.read_header(idx)) is not None  # the full check agrees
    _no_walk(monkeypatch)
    with pytest.raises(CorpusError, match="stale"):
        store.load(idx)


def test_a_removed_file_is_stale(built):
    src, idx = built
    (src / "notes" / "office.txt").unlink()
    with pytest.raises(CorpusError, match="stale"):
        store.load(idx)


def test_a_file_added_deep_in_a_folder_is_stale(built):
    src, idx = built
    deep = src / "notes" / "new" / "deeper"
    deep.mkdir(parents=True)
    (deep / "plants.md").write_text("# Plants\n\nWater the office plants on Mondays.\n")
    with pytest.raises(CorpusError, match="stale"):
        store.load(idx)
    indexer.refresh(idx)
    assert "Mondays" in ChatBot.load(idx).ask("when are the office plants watered?").answer


def test_a_file_that_is_no_source_changes_nothing(built):
    """An editor's swap file changes its folder's time: the full check runs and finds nothing."""
    src, idx = built
    (src / "notes" / ".backups.md.swp").write_bytes(b"\0swap")
    (src / "notes" / "picture.png").write_bytes(b"\x89PNG\r\n")
    store.load(idx)  # not stale


def test_corpus_yaml_answer_settings_edited_are_read_not_stale(tmp_path, monkeypatch):
    src = tmp_path / "corpus"
    src.mkdir()
    (src / "a.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    (src / "corpus.yaml").write_text("name: Office\ndocuments:\n  - path: a.md\nsettings:\n  strictness: 0.5\n")
    idx = tmp_path / "idx"
    indexer.build([src], idx)
    _no_walk(monkeypatch)
    assert store.load(idx)[0].settings.answer.strictness == 0.5
    (src / "corpus.yaml").write_text("name: Office desk\ndocuments:\n  - path: a.md\nsettings:\n  strictness: 0.7\n")
    manifest = store.load(idx)[0]  # read again, not stale: answer settings are not what the index is made of
    assert (manifest.name, manifest.settings.answer.strictness) == ("Office desk", 0.7)
    (src / "corpus.yaml").write_text("name: Office\ndocuments:\n  - path: a.md\n    title: Parking rules\n")
    with pytest.raises(CorpusError, match="stale"):  # a document entry changed
        store.load(idx)


def test_corpus_yaml_beside_the_index_edited_is_read(built):
    src, idx = built
    text = (idx / "corpus.yaml").read_text()
    assert "strictness: 0.5" in text
    (idx / "corpus.yaml").write_text(text.replace("strictness: 0.5", "strictness: 0.8"))
    assert store.load(idx)[0].settings.answer.strictness == 0.8


def test_an_index_without_a_recorded_snapshot_gets_the_full_check(built, monkeypatch):
    """An index written before the snapshot was recorded still loads, with the full check."""
    import json
    src, idx = built
    header = json.loads((idx / "index.json").read_text())
    del header["stamp"], header["manifest_seen"]
    (idx / "index.json").write_text(json.dumps(header))
    store.load(idx)
    (src / "notes" / "office.txt").write_text("changed\n")
    with pytest.raises(CorpusError, match="stale"):
        store.load(idx)


def test_index_verify_finds_a_changed_byte_that_loading_does_not_hash(built):
    """Loading checks each file's size; `index --verify` hashes every file against the checksums
    written with it, and names the one changed."""
    import subprocess
    import sys

    src, idx = built
    cmd = [sys.executable, "-m", "bot", "index", "--out", str(idx), "--verify"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "Verified" in ok.stdout, ok.stderr
    path = idx / "passages.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "passages.npz" in bad.stderr and "--full" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "bot", "index", "--out", str(idx)],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "name the files or folders" in missing.stderr


@pytest.mark.parametrize("engine", ["postings", "tantivy"])
def test_warm_loads_what_the_first_question_would(built, engine, tmp_path, monkeypatch):
    """A server warms its bot as it starts: afterwards no question loads the word-vector model or
    makes the common words' vectors, splits the speller's words or notes their letters, or parses the reply templates, and a tantivy
    engine's score bound is computed. The warm-up asks one question about the corpus's first
    topic (what a process's first question pays once), which changes no later reply."""
    import yaml

    from bot.answer.render import templates
    from bot.index.engines.tantivy_engine import TantivyRetriever
    from bot.text.paraphrase import common_words, shared_closeness

    src, _ = built
    idx = tmp_path / engine
    indexer.build([src], idx, engine=engine)
    templates.cache_clear()
    bot = ChatBot.load(idx)
    asked: list[list[tuple[int, int]]] = []
    if engine == "tantivy":  # note which uids are read (tantivy opens a segment's column on its first)
        real = bot.index.retriever._searcher

        class Noting:
            def __getattr__(self, name):
                return getattr(real, name)

            def fast_field_values(self, field, addresses):
                asked.append([(a.segment_ord, a.doc) for a in addresses])
                return real.fast_field_values(field, addresses)
        bot.index.retriever._searcher = Noting()
    responded, respond = [], bot.responder.respond
    bot.responder.respond = lambda q: responded.append(q.text) or respond(q)  # type: ignore[method-assign]
    bot.warm()
    topic = bot.index.top_sections(1)[0]
    assert responded == [f"What is {topic}?"]
    assert shared_closeness()._model is not None
    assert common_words() and common_words() <= shared_closeness()._vectors.keys()  # their vectors made once
    speller = bot.index.speller
    assert all(isinstance(v, (list, tuple)) for v in speller._by_length.values()) and set(speller._letters) == set(speller._by_length)

    def refuse(*_a, **_k):
        raise AssertionError("parsed YAML while answering")
    monkeypatch.setattr(yaml, "load", refuse)
    monkeypatch.setattr(yaml, "safe_load", refuse)
    if engine == "tantivy":
        assert isinstance(bot.index.retriever, TantivyRetriever) and bot.index.retriever._ratio is not None
        assert [(s, 0) for s in range(real.num_segments)] in asked  # each segment's first uid, in one call
        assert bot.index.retriever.term_id._ids is not None  # terms looked up in a dict, not by binary search
    # every pair of adjacent words a first answer reads is looked up in the index's terms: in C, a dict's keys
    assert type(bot.index.vocabulary) is type({}.keys()) and bot.index.speller.vocabulary is bot.index.vocabulary
    assert "backup" in bot.index.vocabulary and "wibbleflux" not in bot.index.vocabulary
    assert not bot.ask("when do nightly backups run?").abstained
    assert bot.ask("what is the wibbleflux setting?").abstained  # the refusal's templates too
    monkeypatch.undo()
    import json
    import subprocess
    import sys

    # the same replies, to the last bit of their confidence, as a process that never warmed up
    # (one of its own: the word vectors a warm-up makes are the process's)
    questions = ["when do nightly backups run?", "what is the wibbleflux setting?", f"What is {topic}?",
                 "how do I restore?"]
    script = ("import json, sys\nfrom bot import ChatBot\nbot = ChatBot.load(sys.argv[1])\n"
              "print(json.dumps([[bot.ask(q).to_dict(), repr(bot.ask(q).confidence)] for q in json.loads(sys.argv[2])]))")
    cold = subprocess.run([sys.executable, "-c", script, str(idx), json.dumps(questions)], capture_output=True,
                          text=True, timeout=300, check=True)
    assert json.loads(cold.stdout) == [[bot.ask(q).to_dict(), repr(bot.ask(q).confidence)] for q in questions]


def test_a_warm_up_question_that_fails_is_said_and_the_warm_up_goes_on(built, monkeypatch):
    """The warm-up's question is an optimization: should answering it fail, the warm-up warns
    with the reason and still freezes what it loaded (a server starts either way)."""
    import gc

    from bot.answer.respond import Responder

    src, idx = built
    bot = ChatBot.load(idx)

    def broken(self, q):
        raise RuntimeError("a bug on the answer path")
    monkeypatch.setattr(Responder, "respond", broken)
    frozen = gc.get_freeze_count()
    try:
        with pytest.warns(RuntimeWarning, match="warm-up question .* failed: RuntimeError"):
            bot.warm(freeze=True)
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_terms_file_round_trip_of_heading_paths_and_words():
    """Heading paths and words written as strings of lines come back as written, the empty path and
    a heading that holds the separator included (that one falls back to a list)."""
    from bot.index.layout import HeadingPaths, read_terms, terms_file

    for heads in ([(), ("A",), ("A", "B c"), ("",), ("x", "")], [("a\x1fb",), ()], [], [()]):
        blob = terms_file(heads, ["t1", "t2"], [], ["alpha", "beta"], [3, 1])
        full, lazy = read_terms(blob), read_terms(blob, words=False)
        assert [tuple(h) for h in full["headings"]] == [tuple(h) for h in heads]
        assert [tuple(lazy["headings"][i]) for i in range(len(heads))] == [tuple(h) for h in heads]
        assert isinstance(lazy["headings"], HeadingPaths) or any("\x1f" in p for h in heads for p in h)
        assert full["vocab"] == ["t1", "t2"] and dict(zip(full["words"], full["word_docs"])) == {"alpha": 3, "beta": 1}
        if heads and isinstance(lazy["headings"], HeadingPaths):  # a document's paths looked up at once read as one at a time, a few or many, from the end too
            for ids in ([0], list(range(len(heads))) * 9, [len(heads) - 1, -1, 0] * 12):
                assert lazy["headings"].many(ids) == [lazy["headings"][i] for i in ids]
            with pytest.raises(IndexError):
                lazy["headings"].many([0] * 40 + [len(heads)])
        if isinstance(lazy["headings"], HeadingPaths):  # handed on as lines (an update), the same file
            assert terms_file(lazy["headings"].lines(), ["t1", "t2"], [], ["alpha", "beta"], [3, 1]) == blob


def test_terms_file_sections_and_the_earlier_json_form_read_alike():
    """The terms file keeps its big strings as UTF-8 sections after a JSON line, not compressed
    (decoded when asked for); the earlier form, one gzip JSON object, still reads, to the same
    vocabulary, glossary, heading paths, words and a speller that corrects the same way."""
    import gzip
    import json

    from bot.index.layout import TERMS_MAGIC, read_terms, terms_file
    from bot.text.spelling import Speller

    heads = [(), ("Installing",), ("Installing", "On Debian — bookworm")]
    vocab = ["instal", "debian", "bookworm", "naïve"]
    glossary = [{"short": "TDS", "long": "total dissolved solids", "key": "tds", "long_terms": ["total", "dissolv", "solid"]}]
    words = ["installing", "bookworm", "debian", "naïvety", "configuration"]
    blob = terms_file(heads, vocab, glossary, words, [5, 4, 3, 2, 1])
    assert blob.startswith(TERMS_MAGIC)
    fields = read_terms(blob)
    earlier = {"headings_lines": "\n".join("".join("\x1f" + p for p in h) for h in heads), "headings_count": len(heads),
               "glossary": glossary, "vocab_lines": "\n".join(vocab),
               "words_by_length": {str(n): "\n".join(sorted(w for w in words if len(w) == n)) for n in {len(w) for w in words}},
               "word_docs_lines": "\n".join(str(dict(zip(words, [5, 4, 3, 2, 1]))[w]) for w in sorted(words, key=lambda w: (len(w), w)))}
    old = read_terms(gzip.compress(json.dumps(earlier, ensure_ascii=False).encode(), 0))
    for got in (fields, old):
        assert got["vocab"] == vocab and got["glossary"] == glossary
        assert [tuple(h) for h in got["headings"]] == heads
        assert dict(zip(got["words"], got["word_docs"])) == dict(zip(words, [5, 4, 3, 2, 1]))
    spellers = [Speller.from_words(read_terms(b, words=False)["words_by_length"], frozenset(vocab), common=frozenset)
                for b in (blob, gzip.compress(json.dumps(earlier, ensure_ascii=False).encode(), 0))]
    fixed = [s.correct("how do I change the confguration on debain") for s in spellers]
    assert fixed[0] == fixed[1] and "configuration" in fixed[0]
    assert spellers[0].words == spellers[1].words == sorted(words)
