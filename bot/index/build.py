"""Build a saved index for a large corpus: in parallel worker processes, streamed to disk.

Two passes over the documents, each split into chunks that worker processes (forked, so they
share the documents without copying them) handle in parallel:

1. mine acronym pairs ("long form (SHORT)") from every text: the glossary;
2. split each document into passages and analyze them (the same ``PassageAnalyzer`` the
   in-memory path uses), returning compact offset arrays, each passage's terms, term document
   frequencies and surface words.

The main process writes document texts to disk as chunks come back, in order, and feeds each
passage's terms to a tantivy index writer; nothing but offsets and statistics stays in memory.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bot.index import layout
from bot.index import writer
from bot.text.analyze import Analyzer, words as surface_words
from bot.config import CorpusError, Manifest
from bot.index.engines import TantivyRetriever
from bot.index.files import remove_temporaries
from bot.index.layout import SENTENCE_ARRAYS, TANTIVY_DIR
from bot.text.glossary import Glossary, pairs_in
from bot.index.corpus import PassageAnalyzer, indexed_title
from bot.model import Document
from bot.text.spelling import candidate_words
from bot.sources.split import split_document

CHUNK_DOCS = 1000  # documents per task: big enough to amortize messaging, small enough to stream

# Set in the parent before the pool forks; workers read them (copy-on-write, never pickled).
_DOCS: Sequence[Document] = ()
_ANALYZER: PassageAnalyzer | None = None
_MAX_WORDS: tuple[int, int] = (0, 0)  # passage sizes: (any document, documentation)
_N_DOCS: int | None = None  # documents in the whole index (an update analyzes only some of them)


def _pairs(rng: tuple[int, int]) -> list[tuple[int, list[tuple[str, str]]]]:
    """(document position, the acronym pairs it defines) for the documents of a chunk that define any."""
    out = []
    for pos in range(rng[0], rng[1]):
        pairs = pairs_in(_DOCS[pos].text)
        if pairs:
            out.append((pos, pairs))
    return out


def _analyze(rng: tuple[int, int]) -> dict[str, Any]:
    gc.disable()  # millions of short-lived objects and no cycles: the collector only costs time
    try:
        return analyze_documents(_DOCS, rng, _ANALYZER, _MAX_WORDS, _N_DOCS)
    finally:
        gc.enable()


def analyze_documents(docs: Sequence[Document], rng: tuple[int, int], ix: PassageAnalyzer | None,
                      max_words: tuple[int, int], n_docs: int | None = None) -> dict[str, Any]:
    """Split and analyze ``docs[rng[0]:rng[1]]`` (``max_words``: the passage size, and that of
    documentation; see ``split_document``): passage offsets, each passage's terms, and how
    many of these documents hold each word the speller may correct to. ``n_docs``: how many
    documents the whole index holds (default: ``len(docs)``), which decides ``indexed_title``."""
    assert ix is not None, "set by the parent before the workers fork"
    doc, start, end, first, heads, n_sent, byte_start = [], [], [], [], [], [], []
    s_start: list[int] = []
    s_end: list[int] = []
    s_bullet: list[bool] = []
    bodies: list[str] = []
    lengths: list[int] = []
    word_docs: Counter[str] = Counter()
    meta: list[bytes] = []
    for pos in range(rng[0], rng[1]):
        d = docs[pos]
        meta.append(writer.meta_line(d))
        surface: set[str] = set()
        seen_heads: set[tuple[str, ...]] = set()
        first_passage = len(start)
        for p in split_document(d, max_words[0], documentation_words=max_words[1]):
            terms = ix.passage_terms(p, None, ix.analyzer.terms(p.text, words_out=surface),
                                     indexed_title(d, n_docs if n_docs is not None else len(docs)))
            if p.headings not in seen_heads:
                seen_heads.add(p.headings)
                surface.update(surface_words(" ".join(p.headings)))
            bodies.append(" ".join(terms))
            lengths.append(len(terms))
            doc.append(pos)
            start.append(p.start)
            end.append(p.end)
            first.append(p.section_first)
            heads.append(p.headings)
            n = len(s_start)
            for s in p.sentences:  # each made once (a passage keeps its sentences as offsets)
                s_start.append(s.start)
                s_end.append(s.end)
                s_bullet.append(s.bullet)
            n_sent.append(len(s_start) - n)
        byte_start.extend(writer.byte_offsets(d.text, start[first_passage:]))
        word_docs.update(candidate_words(surface))
    return {"doc": np.asarray(doc, np.int32), "start": np.asarray(start, np.int32),
            "end": np.asarray(end, np.int32), "first": np.asarray(first, np.bool_), "heads": heads,
            "byte_start": np.asarray(byte_start, np.int64),
            "n_sent": np.asarray(n_sent, np.int64), "sent_start": np.asarray(s_start, np.int32),
            "sent_end": np.asarray(s_end, np.int32), "sent_bullet": np.asarray(s_bullet, np.bool_),
            "bodies": bodies, "lengths": np.asarray(lengths, np.int32), "word_docs": word_docs,
            "meta": meta}


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _run(func, ranges, workers: int):
    """Results of ``func`` over ``ranges`` in order: a forked pool, or this process for one worker."""
    if workers <= 1 or len(ranges) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None, map(func, ranges)
    pool = multiprocessing.get_context("fork").Pool(workers)
    return pool, pool.imap(func, ranges)


def analyze_all(docs: Sequence[Document], ix: PassageAnalyzer, max_words: tuple[int, int], workers: int | None = None,
                chunk: int = 100, n_docs: int | None = None) -> dict[str, Any]:
    """``analyze_documents`` over all of ``docs`` in forked worker processes, as one result (an
    update's new documents; ``n_docs``: how many the whole index holds)."""
    global _DOCS, _ANALYZER, _MAX_WORDS, _N_DOCS
    ranges = [(i, min(i + chunk, len(docs))) for i in range(0, len(docs), chunk)] or [(0, 0)]
    _DOCS, _ANALYZER, _MAX_WORDS, _N_DOCS = docs, ix, max_words, n_docs
    try:
        pool, results = _run(_analyze, ranges, workers or default_workers())
        try:
            parts = list(results)
        finally:
            if pool:
                pool.terminate()
    finally:
        _DOCS, _ANALYZER, _N_DOCS = (), None, None
    out: dict[str, Any] = {}
    for k in parts[0]:
        if k == "word_docs":  # counted in place: sum() made a new Counter a chunk, quadratic in chunks (an
            # update adding 9,565 files of the real text, 1,912 chunks, spent over 10 minutes here)
            total: Counter[str] = Counter()
            for r in parts:
                total.update(r[k])
            out[k] = +total  # what adding Counters kept: the positive counts
        elif isinstance(parts[0][k], np.ndarray):
            out[k] = np.concatenate([r[k] for r in parts])
        else:
            out[k] = [x for r in parts for x in r[k]]
    return out


def build_large(docs: Sequence[Document], out: Path, manifest: Manifest, inputs: Sequence[str],
                problems: Sequence[str], progress: Callable[[range], Any] | None = None,
                workers: int | None = None, snap: "layout.Snapshot | None" = None,
                records: Sequence[dict[str, Any]] = (), doc_file: Sequence[int] | None = None,
                engine: type = TantivyRetriever) -> None:
    """Write a complete index folder (a ``streamed`` engine, tantivy) for ``docs`` to ``out``.
    Each passage's indexed terms are kept too (``terms.txt``, one passage per line, read through
    a memory map): answering checks a passage's terms without analyzing its text again, updates
    subtract them, and benchmarks feed other engines the very same tokens. ``records`` and
    ``doc_file``: the source files read and the one each document came from (what an update
    compares). A failed or interrupted build leaves no temporary files (and an earlier index in
    ``out`` as it was)."""
    global _DOCS, _ANALYZER, _MAX_WORDS, _N_DOCS
    workers = workers or default_workers()
    out.mkdir(parents=True, exist_ok=True)
    settings = manifest.settings.index
    _DOCS, _MAX_WORDS, _N_DOCS = docs, (settings.passage_max_words, settings.documentation_max_words), len(docs)
    doc_file = list(doc_file) if doc_file is not None else [0] * len(docs)
    records = [dict(r) for r in records] or [{"path": "", "source": "", "size": -1, "mtime": 0, "sha256": ""}]
    try:
        try:
            glossary = _mine_glossary(docs, records, doc_file, workers)
            _ANALYZER = PassageAnalyzer(glossary, Analyzer())
            streamed = _stream(docs, out, engine, progress, workers)
        finally:
            _DOCS, _ANALYZER = (), None
        if streamed.passages == 0:
            raise CorpusError("the corpus has no text to index (no words in any document)")
        streamed.glossary, streamed.doc_file, streamed.records = glossary, doc_file, records
        _write(out, streamed, engine, manifest, inputs, problems, snap)
    except BaseException:
        remove_temporaries(out)
        raise


# ---- pass 1: the glossary -------------------------------------------------------------------
def _ranges(docs: Sequence[Document]) -> list[tuple[int, int]]:
    return [(i, min(i + CHUNK_DOCS, len(docs))) for i in range(0, len(docs), CHUNK_DOCS)]


def _mine_glossary(docs: Sequence[Document], records: list[dict[str, Any]], doc_file: Sequence[int],
                   workers: int) -> Glossary:
    """The acronym pairs of every document, mined in the workers; each file's pairs, in order,
    once, noted in its record (what an update re-mines from)."""
    pool, results = _run(_pairs, _ranges(docs), workers)
    try:
        defined = [item for chunk in results for item in chunk]
    finally:
        if pool:
            pool.terminate()
    glossary = Glossary.from_pairs(p for _, pairs in defined for p in pairs)
    for pos, pairs in defined:
        have = records[doc_file[pos]].setdefault("pairs", [])
        for pair in pairs:
            if list(pair) not in have:
                have.append(list(pair))
    return glossary


# ---- pass 2: analyzed in the workers, streamed to disk and to the engine's writer ---------------
@dataclass
class _Streamed:
    """What the two passes leave in memory: the open writers, offsets and statistics, the glossary
    and the source files' records."""

    tmp: Path  # the engine's folder, being written
    doc_writer: writer.DocumentWriter
    terms_writer: writer.TermsWriter
    heads: dict[tuple[str, ...], int]
    parts: dict[str, list[np.ndarray]]
    word_docs: Counter[str]
    passages: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # every term with its document frequency
    glossary: Glossary = field(default_factory=lambda: Glossary.from_pairs(()))
    doc_file: Sequence[int] = ()  # the record each document came from
    records: Sequence[dict[str, Any]] = ()


def _stream(docs: Sequence[Document], out: Path, engine: type, progress: Callable[[range], Any] | None,
            workers: int) -> _Streamed:
    ranges = _ranges(docs)
    pool, results = _run(_analyze, ranges, workers)  # forked before tantivy starts its threads
    tmp = out / f".{TANTIVY_DIR}.tmp-{os.getpid()}"
    engine_writer = engine.writer(tmp, threads=workers)
    got = _Streamed(tmp, writer.DocumentWriter(out), writer.TermsWriter(out), {},
                    {k: [] for k in ("doc", "start", "end", "first", "path", "n_sent", "sent_start", "sent_end",
                                     "sent_bullet", "lengths", "byte_start")}, Counter())
    bar = progress(range(len(docs))) if progress else None
    gc.disable()
    try:
        for (lo, hi), r in zip(ranges, results):
            for d, m in zip(docs[lo:hi], r["meta"]):
                got.doc_writer.add(d, m)
            for body in r["bodies"]:
                engine_writer.add(body)
                got.terms_writer.add(body)
            r["path"] = np.fromiter((got.heads.setdefault(h, len(got.heads)) for h in r["heads"]), np.int32,
                                    count=len(r["heads"]))
            for k in got.parts:
                got.parts[k].append(r[k])
            got.word_docs.update(r["word_docs"])
            if bar is not None:
                bar.update(hi - lo)
    finally:
        gc.enable()
        if pool:
            pool.terminate()
        if bar is not None:
            bar.close()
    got.passages = engine_writer.count
    got.counts = engine_writer.finish()
    return got


# ---- writing the generation -----------------------------------------------------------------
def _write(out: Path, streamed: _Streamed, engine: type, manifest: Manifest, inputs: Sequence[str],
           problems: Sequence[str], snap: "layout.Snapshot | None") -> None:
    settings, glossary, doc_file = manifest.settings.index, streamed.glossary, streamed.doc_file
    counts = streamed.counts
    for e in glossary.entries:
        counts.setdefault(e.key, 0)
    vocab_list = sorted(counts)
    df = np.fromiter((counts[t] for t in vocab_list), np.int64, count=len(vocab_list))
    streamed.counts = {}
    del counts
    files, ranges_ = streamed.doc_writer.close()
    documents = dict(part=np.zeros(len(doc_file), np.int16), **ranges_, source_file=np.asarray(doc_file, np.int32))
    arrays = {k: np.concatenate(v) for k, v in streamed.parts.items()}
    # the sentences go to the part's own file, which updates leave as it is (``layout.SENTENCE_ARRAYS``)
    files.update(writer.write_sentences(out, "", {k: arrays.pop(k) for k in SENTENCE_ARRAYS}))
    n_sent = arrays.pop("n_sent")
    arrays["sent_at"] = np.zeros(len(n_sent), np.int64)
    np.cumsum(n_sent[:-1], out=arrays["sent_at"][1:])
    arrays["sent_n"] = n_sent.astype(np.int32)
    lengths = arrays.pop("lengths")
    tfiles, tranges = streamed.terms_writer.close()
    files.update(tfiles)
    arrays.update(tranges)
    arrays["uid"] = np.arange(streamed.passages, dtype=np.int64)
    words = sorted(streamed.word_docs)
    generation = writer.Generation(
        documents=documents, passages=arrays, records=streamed.records,
        terms=lambda: writer.terms_blob(streamed.heads, vocab_list, glossary, words,
                                        [streamed.word_docs[w] for w in words]),
        save_engine=lambda: engine.save_built(out, 0, streamed.tmp, df, lengths, settings.bm25_k1, settings.bm25_b))
    writer.write_generation(out, generation, files, manifest, inputs, engine.name, problems, snap)
