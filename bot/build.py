"""Build a saved index for a large corpus: in parallel worker processes, streamed to disk.

Two passes over the documents, each split into chunks that worker processes (forked, so they
share the documents without copying them) handle in parallel:

1. mine acronym pairs ("long form (SHORT)") from every text: the glossary;
2. split each document into passages and analyze them (the same ``CorpusIndex.bm25_terms`` the
   in-memory path uses), returning compact offset arrays, each passage's terms, term document
   frequencies and surface words.

The main process writes document texts to disk as chunks come back, in order, and feeds each
passage's terms to a tantivy index writer; nothing but offsets and statistics stays in memory.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import Manifest
from .glossary import Glossary, pairs_in
from . import store
from .index import CorpusIndex, TantivyRetriever, register_tokenizer, tantivy_schema
from .model import Document
from .spelling import Speller
from .split import split_document

CHUNK_DOCS = 1000  # documents per task: big enough to amortize messaging, small enough to stream

# Set in the parent before the pool forks; workers read them (copy-on-write, never pickled).
_DOCS: Sequence[Document] = ()
_GLOSSARY: Glossary | None = None
_MAX_WORDS = 120


def _pairs(rng: tuple[int, int]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for d in _DOCS[rng[0]:rng[1]]:
        for pair in pairs_in(d.text):
            if pair not in seen:
                seen.add(pair)
                out.append(pair)
    return out


def _analyze(rng: tuple[int, int]) -> dict[str, Any]:
    gc.disable()  # millions of short-lived objects and no cycles: the collector only costs time
    try:
        return _analyze_chunk(rng)
    finally:
        gc.enable()


def _analyze_chunk(rng: tuple[int, int]) -> dict[str, Any]:
    from . import analyze

    ix = CorpusIndex.analyzer(_GLOSSARY)
    doc, start, end, first, heads, n_sent = [], [], [], [], [], []
    s_start: list[int] = []
    s_end: list[int] = []
    s_bullet: list[bool] = []
    bodies: list[str] = []
    lengths: list[int] = []
    words: set[str] = set()
    seen_heads: set[tuple[str, ...]] = set()
    meta: list[bytes] = []
    analyze.take_new_words()  # words met in an earlier chunk were reported with it
    for pos in range(rng[0], rng[1]):
        d = _DOCS[pos]
        meta.append(store.meta_line(d))
        for p in split_document(d, _MAX_WORDS):
            terms = ix.bm25_terms(p, None, analyze.terms(p.text))
            if p.headings not in seen_heads:
                seen_heads.add(p.headings)
                words.update(analyze.words(" ".join(p.headings)))
            bodies.append(" ".join(terms))
            lengths.append(len(terms))
            doc.append(pos)
            start.append(p.start)
            end.append(p.end)
            first.append(p.section_first)
            heads.append(p.headings)
            sents = p.sentences
            n_sent.append(len(sents))
            s_start.extend([s.start for s in sents])
            s_end.extend([s.end for s in sents])
            s_bullet.extend([s.bullet for s in sents])
    words.update(analyze.take_new_words())
    return {"doc": np.asarray(doc, np.int32), "start": np.asarray(start, np.int32),
            "end": np.asarray(end, np.int32), "first": np.asarray(first, np.bool_), "heads": heads,
            "n_sent": np.asarray(n_sent, np.int64), "sent_start": np.asarray(s_start, np.int32),
            "sent_end": np.asarray(s_end, np.int32), "sent_bullet": np.asarray(s_bullet, np.bool_),
            "bodies": bodies, "lengths": np.asarray(lengths, np.int32), "words": words,
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


def build_large(docs: Sequence[Document], out: Path, manifest: Manifest, inputs: Sequence[str],
                problems: Sequence[str], progress=None, workers: int | None = None,
                snap: "store.Snapshot | None" = None) -> None:
    """Write a complete index folder (tantivy engine) for ``docs`` to ``out``. Each passage's
    indexed terms are kept too (``terms.txt``, one passage per line, read through a memory map):
    answering checks a passage's terms without analyzing its text again, and benchmarks feed
    other engines the very same tokens. A failed or interrupted build leaves no temporary files
    (and an earlier index in ``out`` as it was)."""
    try:
        _build_large(docs, out, manifest, inputs, problems, progress, workers, snap)
    except BaseException:
        for leftover in out.glob(f".*.tmp-{os.getpid()}"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        raise


def _build_large(docs, out, manifest, inputs, problems, progress, workers, snap=None) -> None:
    import tantivy

    global _DOCS, _GLOSSARY, _MAX_WORDS
    workers = workers or default_workers()
    out.mkdir(parents=True, exist_ok=True)
    ranges = [(i, min(i + CHUNK_DOCS, len(docs))) for i in range(0, len(docs), CHUNK_DOCS)]
    _DOCS, _MAX_WORDS = docs, manifest.settings.passage_max_words
    try:
        pool, results = _run(_pairs, ranges, workers)
        try:
            glossary = Glossary.from_pairs(p for chunk in results for p in chunk)
        finally:
            if pool:
                pool.terminate()
        _GLOSSARY = glossary
        from . import analyze

        analyze.reset_word_cache()  # workers start empty, so each reports every word it meets
        pool, results = _run(_analyze, ranges, workers)  # forked before tantivy starts its threads
        tmp = out / f".tantivy.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        tv = tantivy.Index(tantivy_schema(), path=str(tmp))
        register_tokenizer(tv)
        writer = tv.writer(heap_size=512_000_000, num_threads=max(1, min(2, workers)))
        doc_writer = store.DocumentWriter(out)
        heads: dict[tuple[str, ...], int] = {}
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("doc", "start", "end", "first", "path", "n_sent",
                                                               "sent_start", "sent_end", "sent_bullet", "lengths")}
        words: set[str] = set()
        next_id = 0
        bar = progress(range(len(docs))) if progress else None
        terms_tmp = out / f".terms.txt.tmp-{os.getpid()}"
        dump = open(terms_tmp, "wb")
        terms_off = [0]
        gc.disable()
        try:
            for (lo, hi), r in zip(ranges, results):
                for d, m in zip(docs[lo:hi], r["meta"]):
                    doc_writer.add(d, m)
                for body in r["bodies"]:
                    writer.add_document(tantivy.Document(id=next_id, body=body))
                    next_id += 1
                for body in r["bodies"]:
                    line = body.encode("utf-8") + b"\n"
                    dump.write(line)
                    terms_off.append(terms_off[-1] + len(line))
                r["path"] = np.fromiter((heads.setdefault(h, len(heads)) for h in r["heads"]), np.int32,
                                        count=len(r["heads"]))
                for k in parts:
                    parts[k].append(r[k])
                words |= r["words"]
                if bar is not None:
                    bar.update(hi - lo)
        finally:
            gc.enable()
            dump.close()
            if pool:
                pool.terminate()
            if bar is not None:
                bar.close()
        writer.commit()
        writer.wait_merging_threads()
        del writer
        tv.reload()
        searcher = tv.searcher()
        counts = dict(searcher.terms_with_prefix(TantivyRetriever.FIELD, ""))  # every term with its df
        for e in glossary.entries:
            counts.setdefault(e.key, 0)
        vocab_list = sorted(counts)
        df = np.fromiter((counts[t] for t in vocab_list), np.int64, count=len(vocab_list))
        del searcher, tv, counts
    finally:
        _DOCS, _GLOSSARY = (), None
        from . import analyze

        analyze.stop_recording_words()
    if next_id == 0:
        from .config import CorpusError

        raise CorpusError("the corpus has no text to index (no words in any document)")
    files = doc_writer.close()
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    sent_ptr = np.zeros(len(arrays["doc"]) + 1, np.int64)
    np.cumsum(arrays.pop("n_sent"), out=sent_ptr[1:])
    arrays["sent_ptr"] = sent_ptr
    lengths = arrays.pop("lengths")
    arrays["terms_off"] = np.asarray(terms_off, np.int64)
    os.replace(terms_tmp, out / "terms.txt")
    files["terms.txt"] = store._checksum_file(out / "terms.txt")
    files["passages.npz"] = store.atomic_npz(out / "passages.npz", **arrays)
    files["bm25.npz"] = store.atomic_npz(out / "bm25.npz", **dict(
        df=df, doc_len=lengths,
        params=np.asarray([1.2, 0.75], np.float64)))  # tantivy's own k1 and b
    speller = Speller(words, frozenset(vocab_list))
    files["terms.json.gz"] = store._atomic_write(out / "terms.json.gz",
                                                 store.terms_blob(heads, vocab_list, glossary, speller.words))
    final = out / "tantivy"
    old = out / f".tantivy.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    for f in sorted(final.iterdir()):
        if f.is_file() and not f.name.startswith(".tantivy-"):  # lock files come and go
            files[f"tantivy/{f.name}"] = store._checksum_file(f)
    store._remove_stale_files(out, files)
    store.write_header(out, manifest, inputs, files, "tantivy", len(docs), next_id, problems, snap)
