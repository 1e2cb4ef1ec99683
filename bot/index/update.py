"""Update a saved index when some source files changed: re-read only files whose size, time or
hash changed, drop what was removed, add what is new, and end with the index a full build of
the same sources would give (same documents, passages, statistics and scores, in the same order).

A large (tantivy) index is updated in place without touching a file the current index uses:
new documents go to a new part (``texts.<n>.bin``, ``documents.<n>.jsonl``, ``blocks.<n>.bin``,
``terms.<n>.txt``, ``sentences.<n>.npz``: the new passages' sentences; the kept passages' stay
in the parts that hold them), tantivy gets the new passages in a copy of its folder (its files
hard-linked; the passages they replace stay there, marked dead), and the arrays, statistics and word lists are written as generation ``n``; the
rename of ``index.json`` is the one step that switches to them, then the files of the previous
generation are deleted. Killed before that rename, the old index stays whole, and the next run
deletes the leftovers. Acronyms defined or dropped by the changed files change the terms of
other passages (a long form gets its acronym's key): those passages' documents are re-analyzed
from their stored text too.

A small (postings) index is rebuilt in memory from the documents it stores plus the files that
changed (its analysis joins split spellings across the whole corpus, so it cannot be patched);
only changed files are read. Settings or manifest titles that changed, other inputs, a first
build or an index of an earlier layout (``layout.outdated``) need a full build: ``update`` says so
and the caller builds.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from bot.index import layout
from bot.index import store
from bot.index import writer
from bot.text.analyze import Analyzer, WORD, normalize, words as surface_words
from bot.index.build import analyze_all, analyze_documents
from bot.config import MANIFEST, CorpusError, Manifest
from bot.index.engines import engine_class
from bot.index.files import Joined, load_npz, remove, remove_temporaries
from bot.text.glossary import Glossary, pairs_in
from bot.index.corpus import CorpusIndex, PassageAnalyzer
from bot.index.reading import read_files
from bot.sources.ingest import RealPaths, walk
from bot.sources.load import Planned, plan_sources
from bot.model import Document, Passage
from bot.sources.split import split_document
from bot.sources.readers import LoadReport
from bot.text.spelling import candidate_words


class _FullBuild(Exception):
    """Raised inside an update that finds only a full build can do it (nothing was switched)."""


@dataclass
class UpdateReport:
    """What an update did (or why it could not: ``full`` says why a full build is needed)."""

    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reanalyzed: int = 0  # documents of unchanged files analyzed again (an acronym they use changed)
    documents: int = 0
    passages: int = 0
    problems: list[str] = field(default_factory=list)
    full: str | None = None

    @property
    def touched(self) -> bool:
        return bool(self.changed or self.added or self.removed)


@dataclass
class _Changes:
    """What the sources are now, against the index: the files to read in order, those unchanged
    (planned position -> old record position), the documents read anew, every file's record."""

    manifest: Manifest
    inputs: Sequence[str]
    planned: Sequence[Planned]
    kept: dict[int, int]
    fresh: dict[int, list[Document]]
    records: list[dict[str, Any]]
    snap: layout.Snapshot


def _same_file(old: dict[str, Any], p: Planned, now: tuple[int, int] | None) -> dict[str, Any] | None:
    """The record of ``p`` when its content is the one ``old`` describes (None: read it again);
    ``now``: its size and modification time in the sources' snapshot (None: not there)."""
    if old.get("source") != p.source or old.get("entry") != p.signature() or old.get("size", -1) < 0:
        return None
    if now is None or now[0] != old["size"]:
        return None
    if now[1] == old["mtime"]:
        return old
    fresh = writer.file_record(p.path, p.source)  # same size, new time: compare the hashes
    if fresh["sha256"] != old["sha256"]:
        return None
    return {**old, "mtime": fresh["mtime"]}


def _pairs_of(docs: Iterable[Document]) -> list[list[str]]:
    out: list[list[str]] = []
    for d in docs:
        for short, long in pairs_in(d.text):
            if [short, long] not in out:
                out.append([short, long])
    return out


def update(folder: str | Path, inputs: Sequence[str] | None = None,
           progress: Callable[[Iterable[Any]], Any] | None = None) -> UpdateReport:
    """Bring the index at ``folder`` up to date with its sources (``inputs``: must be the ones it
    was built from; default: those). ``report.full`` is set, and nothing changed, when only a
    full build can do it."""
    folder = Path(folder)
    if not layout.is_index(folder):
        return UpdateReport(full=f"{folder} holds no index yet")
    with writer.writing(folder) as real:
        with writer.collector_paused():
            return _update(real, inputs, progress)


def _update(folder: Path, inputs: Sequence[str] | None,
            progress: Callable[[Iterable[Any]], Any] | None) -> UpdateReport:
    try:
        header = layout.read_header(folder)
    except CorpusError as exc:
        return UpdateReport(full=str(exc))
    why = layout.outdated(header)
    if why:
        return UpdateReport(full=why)
    inputs = [str(i) for i in (inputs if inputs is not None else header.get("inputs") or [])]
    if [str(Path(i).resolve()) for i in inputs] != header.get("inputs"):
        return UpdateReport(full="the sources given differ from the ones the index was built from")
    damaged = layout.damage(folder, header)
    if damaged:
        return UpdateReport(full=f"the index is damaged ({damaged})")
    writer.remove_unreferenced(folder, header.get("files") or {})  # what a killed update left
    try:
        old_records = layout.read_sources(folder, header)
    except (CorpusError, KeyError):
        return UpdateReport(full="the index does not record its source files")
    walked = walk(inputs)  # once, for the snapshot and the plan
    snap = layout.snapshot_sources(inputs, walked)
    report = LoadReport()
    manifest, planned = plan_sources(inputs, report, folder / MANIFEST, walked)  # a broken manifest raises
    if dataclasses.asdict(manifest.settings.index) != layout.index_settings(header.get("settings") or {}):
        return UpdateReport(full="the index settings changed")
    real, walked_real = RealPaths(), walked.real_of()  # a walked file's real path, as the walk found it
    planned_paths = [str(walked_real.get(p.path) or real(p.path)) for p in planned]
    by_path = {r["path"]: (k, r) for k, r in enumerate(old_records)}
    stat_of = {name: (size, mtime) for name, size, mtime in snap if size >= 0}  # a stat a file, taken once
    kept: dict[int, int] = {}  # planned position -> old record position, for files that did not change
    records: list[dict[str, Any]] = []
    out = UpdateReport()
    for k, p in enumerate(planned):
        old = by_path.get(planned_paths[k])
        same = _same_file(old[1], p, stat_of.get(planned_paths[k])) if old else None
        if same is not None:
            kept[k] = old[0]
            records.append(same)
        else:
            records.append({})  # read below
            (out.changed if old else out.added).append(p.source)
    planned_set = set(planned_paths)
    out.removed = [r["source"] for r in old_records if r["path"] not in planned_set]
    fresh: dict[int, list[Document]] = {}
    for k, rec, got in read_files(manifest, planned, [k for k in range(len(planned)) if k not in kept], progress):
        fresh[k] = got
        records[k] = rec
    for k, p in enumerate(planned):
        if p.entry is not None and "entry" not in records[k]:
            records[k]["entry"] = p.signature()
    out.problems = report.problems + [x for r in records for x in r.get("problems", [])]  # as a build reports them
    if not out.touched:
        if layout.fingerprint(snap, layout.index_settings(header.get("settings") or {})) != header.get("fingerprint"):
            _rewrite_header(folder, header, snap, manifest, inputs)
        out.documents, out.passages = header["documents"], header["passages"]
        return out
    changes = _Changes(manifest, inputs, planned, kept, fresh, records, snap)
    if engine_class(header.get("engine")).streamed:  # updated in place, a generation at a time
        try:
            _update_large(folder, header, changes, out)
        except _FullBuild as exc:
            return UpdateReport(full=str(exc))
    else:
        _update_small(folder, header, changes, out)
    return out


def _rewrite_header(folder: Path, header: dict[str, Any], snap: layout.Snapshot, manifest: Manifest,
                    inputs: Sequence[str]) -> None:
    """Only modification times moved (content unchanged, by hash): the same files under a header
    with the new fingerprint, so the index is current again."""
    writer.write_header(folder, manifest, inputs, header["files"], header["engine"], header["documents"],
                       header["passages"], header.get("problems") or [], snap,
                       int(header.get("generation") or 0), header.get("parts") or [""],
                       seen_before=header.get("manifest_seen"))


def _stored_order(stored: Any, passage_doc: np.ndarray) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """A saved index's documents by source file (file -> their positions, in order), and each
    document's passages: ``lo[d]..lo[d + 1]`` (``passage_doc``: each passage's document, in order).
    Worked out per file, not per document (1.5 million documents at 10M passages)."""
    source_file = np.asarray(stored.source_file)
    by_position = np.argsort(source_file, kind="stable")
    files, first = np.unique(source_file[by_position], return_index=True)
    bounds = np.append(first, len(by_position)).tolist()
    by_file = {f: by_position[bounds[i]:bounds[i + 1]] for i, f in enumerate(files.tolist())}
    return by_file, np.searchsorted(passage_doc, np.arange(len(stored) + 1))


# ---- small index: rebuilt in memory from stored documents and the changed files -----------------
def _update_small(folder: Path, header: dict[str, Any], changes: _Changes, out: UpdateReport) -> None:
    """Indexed again in memory: the documents of unchanged files with the passages they were cut
    into (the same settings cut them the same way, so they are not split again), the changed
    files' documents split anew."""
    manifest, planned, kept, fresh = changes.manifest, changes.planned, changes.kept, changes.fresh
    s = manifest.settings
    _, stored, old_index, _ = store.load(folder, check_stale=False)
    old_passages = old_index.passages
    by_file, first_passage = _stored_order(stored, old_passages.a["doc"])  # type: ignore[attr-defined]
    docs: list[Document] = []
    doc_file: list[int] = []
    passages: list[Passage] = []
    for k in range(len(planned)):
        if k in kept:
            for i in by_file.get(kept[k], _NONE).tolist():
                docs.append(stored.with_blocks(i))
                passages.extend(dataclasses.replace(old_passages[j], id=len(passages) + n)
                                for n, j in enumerate(range(int(first_passage[i]), int(first_passage[i + 1]))))
                doc_file.append(k)
        else:
            for d in fresh.get(k, []):
                docs.append(d)
                passages.extend(split_document(d, s.index.passage_max_words, first_id=len(passages),
                                               documentation_words=s.index.documentation_max_words))
                doc_file.append(k)
    if not docs:
        raise CorpusError("nothing to index: no readable documents left in the sources")
    index = CorpusIndex.build(docs, max_words=s.index.passage_max_words,
                              documentation_words=s.index.documentation_max_words, k1=s.index.bm25_k1,
                              b=s.index.bm25_b, engine=header["engine"], passages=passages)
    stage = writer.staging_dir(folder)
    try:
        writer.save(stage, manifest, docs, index, changes.inputs, out.problems, changes.snap, changes.records,
                    doc_file)
        writer.swap_into(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    out.documents, out.passages = len(docs), len(index.passages)


# ---- large index: a new part and a new generation, in place ---------------------------------------
def _update_large(folder: Path, header: dict[str, Any], changes: _Changes, out: UpdateReport) -> None:
    gen = int(header.get("generation") or 0) + 1
    try:
        files = _write_generation(folder, header, changes, out, gen)
    except BaseException:  # nothing switched: what generation `gen` wrote goes
        _remove_generation(folder, gen)
        raise
    # the previous generation stays until the next update: a server still answering from it
    # (app.py looks for a newer index once a second) keeps every file it may open
    writer.remove_unreferenced(folder, {**header["files"], **files})


def _remove_generation(folder: Path, gen: int) -> None:
    """Delete what an unfinished update to generation ``gen`` wrote: its part, its generation's
    files, and this process's temporary files."""
    part = set(layout.part_files(f".{gen}").values())
    for f in folder.iterdir():
        if f.name in part or layout.generation_of(f.name) == gen:
            remove(f)
    remove_temporaries(folder)


@dataclass
class _Previous:
    """The index being updated, as its current generation holds it."""

    generation: int
    files: dict[str, Any]
    stored: Any  # store.DocumentStore
    index: CorpusIndex
    passages: Any  # the passages' arrays (passages.npz)
    statistics: Any  # the engine's statistics (bm25.npz)
    meta: dict[str, Any]  # headings, vocabulary, glossary, words (terms.bin)
    doc_lo: np.ndarray  # passages of old document d: doc_lo[d]..doc_lo[d+1]
    by_file: dict[int, np.ndarray]  # source file -> its documents' positions
    parts: list[str]  # the header's parts (their suffixes)

    @classmethod
    def read(cls, folder: Path, header: dict[str, Any]) -> "_Previous":
        gen = int(header.get("generation") or 0)
        files = header["files"]
        _, stored, index, _ = store.load(folder, check_stale=False)

        def name(base: str) -> str:
            return layout.generation_name(base, gen)

        pz = load_npz(folder, name(layout.PASSAGES_NPZ), files[name(layout.PASSAGES_NPZ)])
        bz = load_npz(folder, name(layout.BM25_NPZ), files[name(layout.BM25_NPZ)])
        meta = layout.read_terms((folder / layout.terms_name(files, gen)).read_bytes(), lazy_headings=True)
        by_file, doc_lo = _stored_order(stored, pz["doc"])
        return cls(gen, files, stored, index, pz, bz, meta, doc_lo, by_file, list(header.get("parts") or [""]))

    @property
    def retriever(self) -> Any:
        return self.index.retriever


def _glossary_change(prev: _Previous, changes: _Changes) -> tuple[Glossary, np.ndarray, np.ndarray]:
    """The glossary a full build would mine (each file's acronym pairs, in reading order), and
    which old documents are of unchanged files, and which of those hold a long form that moved
    (as masks over the old documents)."""
    for k, docs in changes.fresh.items():
        changes.records[k]["pairs"] = _pairs_of(docs)
    glossary = Glossary.from_pairs(tuple(pair) for r in changes.records for pair in r.get("pairs", []))
    old_glossary = prev.index.glossary
    old_entries = {(e.short, e.long, e.key, e.long_terms) for e in old_glossary.entries}
    new_entries = {(e.short, e.long, e.key, e.long_terms) for e in glossary.entries}
    moved = old_entries ^ new_entries
    for key in set(old_glossary.by_key) | set(glossary.by_key):  # a key whose first long form changed
        a, b = old_glossary.by_key.get(key), glossary.by_key.get(key)
        if a != b:
            for e in (a, b):
                if e is not None:
                    moved.add((e.short, e.long, e.key, e.long_terms))
    kept = np.zeros(len(prev.stored), bool)
    if changes.kept:
        kept[np.concatenate([prev.by_file.get(f, _NONE) for f in changes.kept.values()])] = True
    affected = np.zeros(len(prev.stored), bool)
    for _, _, _, long_terms in moved:
        docs = prev.passages["doc"][np.fromiter(prev.retriever.containing_all(long_terms), np.int64)]
        affected[docs[kept[docs]]] = True
    return glossary, kept, affected


_NONE = np.zeros(0, np.int64)


@dataclass
class Order:
    """The new document order, as a full build reads them: each document's old position (-1: a
    new document, read or analyzed again) and source file (its place in the plan), and the new
    documents in order."""

    pos: np.ndarray
    file: np.ndarray
    new_docs: list[Document]

    def __len__(self) -> int:
        return len(self.pos)


def _new_order(prev: _Previous, changes: _Changes, affected: np.ndarray) -> Order:
    """The new document order, worked out per file: an unchanged file's documents keep their old
    positions (those holding a long form that moved are analyzed again: new), a changed file's
    are the ones read now."""
    planned = range(len(changes.planned))
    docs_of = [prev.by_file.get(changes.kept[k], _NONE) if k in changes.kept else _NONE for k in planned]
    counts = np.asarray([len(docs_of[k]) if k in changes.kept else len(changes.fresh.get(k, ())) for k in planned],
                        np.int64)
    if not counts.sum():
        raise CorpusError("nothing to index: no readable documents left in the sources")
    file = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    pos = np.concatenate([docs_of[k] if k in changes.kept else np.full(counts[k], -1, np.int64) for k in planned])
    pos = pos.astype(np.int64, copy=False)
    old = pos >= 0
    again = old & affected[np.where(old, pos, 0)] if len(affected) else np.zeros(len(pos), bool)
    new_docs: list[Document] = []
    start = (np.cumsum(counts) - counts).tolist()
    for at in np.flatnonzero(~old | again).tolist():
        k = int(file[at])
        new_docs.append(prev.stored.with_blocks(int(pos[at])) if again[at] else changes.fresh[k][at - start[k]])
    pos[again] = -1
    return Order(pos, file, new_docs)


@dataclass
class _Part:
    """The new documents analyzed, written as part ``suffix`` and fed to a copy of the engine."""

    analyzed: dict[str, Any]  # build.analyze_documents' result
    uids: np.ndarray  # each new passage's uid in the engine
    engine_tmp: Path  # the engine's copy, being written
    files: dict[str, Any]  # the part's files with their checksums
    ranges: dict[str, np.ndarray]  # each new document's byte ranges, each new passage's terms'
    number: int  # the part's position in the header's parts


def _write_part(folder: Path, prev: _Previous, manifest: Manifest, glossary: Glossary, order: Order,
                gen: int) -> _Part:
    """Analyze and write the new part."""
    settings = manifest.settings.index
    new_docs = order.new_docs
    suffix = f".{gen}"
    ix = PassageAnalyzer(glossary, Analyzer())
    if (len(order) > 1) != (len(prev.stored) > 1):
        raise _FullBuild("the index goes from one document to several or back (titles are indexed with several)")
    sizes = (settings.passage_max_words, settings.documentation_max_words)
    res = analyze_all(new_docs, ix, sizes, n_docs=len(order)) if len(new_docs) > 50 else \
        analyze_documents(new_docs, (0, len(new_docs)), ix, sizes, len(order))
    doc_writer = writer.DocumentWriter(folder, suffix)
    terms_writer = writer.TermsWriter(folder, suffix)
    for d, m in zip(new_docs, res["meta"]):
        doc_writer.add(d, m)
    first_uid = int(len(prev.statistics["uid_len"]))
    tmp = folder / f".{layout.TANTIVY_DIR}.tmp-{os.getpid()}"
    engine_writer = type(prev.retriever).writer(tmp, threads=1, copy_of=Path(prev.retriever.path),
                                                first_uid=first_uid, heap=50_000_000)
    new_uids = np.fromiter((engine_writer.add(body) for body in res["bodies"]), np.int64, count=len(res["bodies"]))
    for body in res["bodies"]:
        terms_writer.add(body)
    engine_writer.finish(counts=False)
    del engine_writer
    part_files, part_ranges = doc_writer.close()
    terms_files, terms_ranges = terms_writer.close()
    return _Part(res, new_uids, tmp, {**part_files, **terms_files}, {**part_ranges, **terms_ranges},
                 len(prev.parts))


def _document_arrays(prev: _Previous, order: Order, part: _Part) -> dict[str, np.ndarray]:
    """Documents, in the new order."""
    pick_old = order.pos
    is_new = pick_old < 0
    n_new = int(is_new.sum())
    docs_out: dict[str, np.ndarray] = {}
    for k in ("part", "text_start", "text_end", "meta_start", "meta_end", "blocks_start", "blocks_end"):
        col = getattr(prev.stored, k)
        arr = np.empty(len(order), col.dtype)
        arr[~is_new] = col[pick_old[~is_new]]
        arr[is_new] = np.full(n_new, part.number) if k == "part" else part.ranges[k]  # new documents, in order
        docs_out[k] = arr
    docs_out["source_file"] = order.file
    return docs_out


# Runs of passages in the new order that are consecutive rows of one side, the old arrays or the new
# part's: up to this many, each array is made by copying the runs' slices (an update edits a few
# files, so a 10M-passage index is a handful of runs), else by gathering row by row.
SLICED_RUNS = 4096


@dataclass
class _Runs:
    """The new passages as runs of rows: run r is rows ``lo[r]:hi[r]`` of the new part's arrays
    when ``new[r]``, else of the old ones; it starts document ``doc[r]`` of the new order, whose
    position among the old or new documents is ``doc_at[r]``."""

    new: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    doc: np.ndarray
    doc_at: np.ndarray

    def __len__(self) -> int:
        return len(self.new)


def _row_runs(prev: _Previous, order: Order, part: _Part) -> _Runs:
    pos = order.pos
    is_new = pos < 0
    n_new = int(is_new.sum())
    new_lo = np.zeros(n_new + 1, np.int64)
    np.cumsum(np.bincount(part.analyzed["doc"], minlength=n_new), out=new_lo[1:])
    at = np.where(is_new, np.cumsum(is_new) - 1, pos)  # a document's place among the new ones, or the old
    lo = np.where(is_new, new_lo[np.minimum(at, n_new)], prev.doc_lo[np.where(is_new, 0, at)])
    hi = np.where(is_new, new_lo[np.minimum(at + 1, n_new)], prev.doc_lo[np.where(is_new, 0, at) + 1])
    starts = np.ones(len(order), bool)
    # a run: documents of one side, next to each other there (their numbers move together, and
    # their rows follow each other: a document's rows end where the next one's start)
    starts[1:] = (is_new[1:] != is_new[:-1]) | (at[1:] != at[:-1] + 1)
    first = np.flatnonzero(starts)
    last = np.append(first[1:], len(order)) - 1
    return _Runs(is_new[first], lo[first], hi[last], first, at[first])


def _gather(old: np.ndarray, new: np.ndarray, runs: _Runs, shift: np.ndarray | None = None,
            sliced_up_to: int = SLICED_RUNS) -> "np.ndarray | Joined":
    """The runs' rows of ``old`` and ``new`` in order (``new`` cast to ``old``'s type); ``shift``:
    what to add to each run's values. A few runs give the runs' slices as a ``Joined``,
    written a slice at a time, never copied into one array (``np.asarray`` joins them)."""
    new = np.asarray(new).astype(old.dtype, copy=False)
    add = shift is not None and len(runs)
    if len(runs) <= sliced_up_to:
        pieces = [(new if n else old)[a:b] for n, a, b in zip(runs.new.tolist(), runs.lo.tolist(), runs.hi.tolist())]
        if add:
            pieces = [x + k for x, k in zip(pieces, shift.tolist())]
        return Joined(pieces, old.dtype)
    # many runs (the order changed, or many documents were read again): row by row
    counts = runs.hi - runs.lo
    ends = np.cumsum(counts)
    pooled_lo = np.where(runs.new, runs.lo + len(old), runs.lo)
    take = np.repeat(pooled_lo - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)
    out = np.concatenate([old, new])[take]
    if add:
        out += np.repeat(shift, counts).astype(out.dtype)
    return out


def _heading_ids(old: Sequence[tuple[str, ...]], new: Sequence[tuple[str, ...]],
                 ) -> tuple[np.ndarray, Sequence[tuple[str, ...]] | layout.HeadingLines]:
    """The ids of the new passages' heading paths, and every path: the old ones in their order,
    then those new here. Where the terms file keeps paths as lines, they are matched and handed
    on as lines (a million paths are not each made into a tuple and joined again)."""
    new_lines = layout.heading_lines(new) if isinstance(old, layout.HeadingPaths) else None
    if new_lines is not None:
        line_id = {line: i for i, line in enumerate(old.lines())}  # type: ignore[attr-defined]
        ids = np.fromiter((line_id.setdefault(x, len(line_id)) for x in new_lines), np.int32, count=len(new_lines))
        return ids, layout.HeadingLines(line_id)
    head_id = {tuple(h): i for i, h in enumerate(old)}
    ids = np.fromiter((head_id.setdefault(h, len(head_id)) for h in new), np.int32, count=len(new))
    return ids, list(head_id)


def _passage_arrays(prev: _Previous, order: Order, part: _Part, sliced_up_to: int = SLICED_RUNS,
                    ) -> tuple[dict[str, np.ndarray | Joined], np.ndarray, Sequence[tuple[str, ...]] | layout.HeadingLines,
                               dict[str, np.ndarray | Joined]]:
    """Passages: the old rows of kept documents and the new part's, in the new order, copied a run
    of consecutive rows at a time (``_Runs``); with each passage's length, the heading paths and
    the new part's sentences file (``layout.SENTENCE_ARRAYS``: the new passages' sentences, or
    every passage's where the index kept them in its passage arrays)."""
    pz, res = prev.passages, part.analyzed
    runs = _row_runs(prev, order, part)
    new_path, heads = _heading_ids(prev.meta["headings"], res["heads"])
    p_out: dict[str, np.ndarray | Joined] = {}
    for k, new in (("start", res["start"]), ("end", res["end"]), ("first", res["first"]), ("path", new_path),
                   ("terms_start", part.ranges["terms_start"]), ("terms_end", part.ranges["terms_end"]),
                   ("uid", part.uids)):
        p_out[k] = _gather(pz[k], new, runs, sliced_up_to=sliced_up_to)
    if "byte_start" in pz:  # an index written before passages had byte offsets goes on without them
        p_out["byte_start"] = _gather(pz["byte_start"], res["byte_start"], runs, sliced_up_to=sliced_up_to)
    lengths = np.asarray(_gather(prev.statistics["doc_len"], res["lengths"], runs, sliced_up_to=sliced_up_to))
    # a run's passages belong to consecutive documents: their numbers move by where the run starts
    p_out["doc"] = _gather(pz["doc"], res["doc"], runs, runs.doc - runs.doc_at, sliced_up_to)
    new_sent_at = np.zeros(len(res["n_sent"]) + 1, np.int64)  # where each new passage's sentences start in the part
    np.cumsum(res["n_sent"], out=new_sent_at[1:])
    if layout.sentences_in_parts(pz):  # the kept passages' sentences stay in their parts' files
        earlier = prev.index.passages.sentences
        p_out["sent_at"] = _gather(pz["sent_at"], new_sent_at[:-1] + len(earlier), runs, sliced_up_to=sliced_up_to)
        p_out["sent_n"] = _gather(pz["sent_n"], res["n_sent"], runs, sliced_up_to=sliced_up_to)
        return p_out, lengths, heads, {k: np.asarray(res[k]).astype(earlier.parts[-1][k].dtype, copy=False)
                                       for k in layout.SENTENCE_ARRAYS}  # as the earlier parts keep them
    # an earlier version's index keeps them in its passage arrays: the new part's file takes those of
    # every passage, in the new order (a run of passages holds a run of sentences), once
    old_ptr = pz["sent_ptr"]
    s_lo = np.where(runs.new, new_sent_at[np.minimum(runs.lo, len(new_sent_at) - 1)], old_ptr[np.where(runs.new, 0, runs.lo)])
    s_hi = np.where(runs.new, new_sent_at[np.minimum(runs.hi, len(new_sent_at) - 1)], old_ptr[np.where(runs.new, 0, runs.hi)])
    s_n = s_hi - s_lo
    s_at = np.cumsum(s_n) - s_n  # where each run's sentences start in the new file
    p_out["sent_at"] = np.asarray(_gather(old_ptr[:-1], new_sent_at[:-1], runs, s_at - s_lo, sliced_up_to))
    p_out["sent_n"] = np.diff(np.append(p_out["sent_at"], int(s_n.sum()))).astype(np.int32)
    s_runs = _Runs(runs.new, s_lo, s_hi, runs.doc, runs.doc_at)
    return p_out, lengths, heads, {k: _gather(pz[k], res[k], s_runs, sliced_up_to=sliced_up_to)
                                   for k in layout.SENTENCE_ARRAYS}


def _statistics(prev: _Previous, gone_docs: Iterable[int], part: _Part, glossary: Glossary,
                ) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Document frequencies over live passages, the vocabulary, the speller's words (with how
    many documents hold each): the old ones minus the passages gone plus the new ones."""
    res, meta, retriever = part.analyzed, prev.meta, prev.retriever
    delta: Counter[str] = Counter()
    words = dict(zip(meta["words"], meta.get("word_docs") or [1] * len(meta["words"])))
    for pos in gone_docs:
        surface: set[str] = set()
        for pi in range(int(prev.doc_lo[pos]), int(prev.doc_lo[pos + 1])):
            delta.subtract(set(retriever.terms_of(pi)))
            p = prev.index.passages[pi]  # as the build saw it: no need to split the document again
            surface.update(WORD.findall(normalize(p.text)))
            surface.update(surface_words(" ".join(p.headings)))
        for w in candidate_words(surface):
            words[w] = words.get(w, 0) - 1
    for body in res["bodies"]:
        delta.update(set(body.split()))
    for w, c in res["word_docs"].items():
        words[w] = words.get(w, 0) + c
    vocab, df = _vocabulary(meta["vocab"], prev.statistics["df"], retriever.term_id, delta, prev.index.glossary,
                            glossary)
    return vocab, df, {w: c for w, c in words.items() if c > 0}


def _write_generation(folder: Path, header: dict[str, Any], changes: _Changes, out: UpdateReport,
                      gen: int) -> dict[str, Any]:
    """Write generation ``gen`` (a new part, the arrays, statistics and word lists), then switch to
    it with the header; the files the header names."""
    prev = _Previous.read(folder, header)
    glossary, kept_docs, affected = _glossary_change(prev, changes)
    out.reanalyzed = int(affected.sum())
    order = _new_order(prev, changes, affected)
    part = _write_part(folder, prev, changes.manifest, glossary, order, gen)
    docs_out = _document_arrays(prev, order, part)
    p_out, lengths, heads, sentences = _passage_arrays(prev, order, part)
    part.files.update(writer.write_sentences(folder, f".{gen}", sentences))
    gone_docs = np.flatnonzero(~kept_docs | affected).tolist()
    vocab, df, words = _statistics(prev, gone_docs, part, glossary)
    word_list = sorted(words)
    old_uid_len = prev.statistics["uid_len"]
    uid_len = np.concatenate([old_uid_len, part.analyzed["lengths"].astype(old_uid_len.dtype)])
    settings, engine = changes.manifest.settings.index, type(prev.retriever)
    generation = writer.Generation(
        documents=docs_out, passages=p_out, records=changes.records, number=gen,
        terms=lambda: writer.terms_blob(heads, vocab, glossary, word_list, [words[w] for w in word_list]),
        save_engine=lambda: engine.save_built(folder, gen, part.engine_tmp, df, lengths.astype(np.int32),
                                              settings.bm25_k1, settings.bm25_b, uid_len,
                                              copied_from=prev.generation, known=prev.files))
    kept_files = {n: info for n, info in prev.files.items() if layout.generation_of(n) is None}
    files = writer.write_generation(folder, generation, {**kept_files, **part.files}, changes.manifest,
                                    changes.inputs, engine.name, out.problems, changes.snap, prev.parts + [f".{gen}"],
                                    seen_before=header.get("manifest_seen"))
    out.documents, out.passages = len(order), len(p_out["doc"])
    return files


def _vocabulary(old_vocab: list[str], df_old: np.ndarray, term_id: Mapping[str, int], delta: Counter[str],
                old_glossary: Glossary, glossary: Glossary) -> tuple[list[str], np.ndarray]:
    """The sorted vocabulary and document frequencies after ``delta`` (passages added minus
    passages gone, per term): a full build's are the terms some passage holds plus the glossary
    keys. Only the terms that moved are touched; the rest keep their place."""
    def old_df(t: str) -> int:
        i = term_id.get(t)
        return 0 if i is None else int(df_old[i])

    keys = {e.key for e in glossary.entries}
    changed = {t: old_df(t) + c for t, c in delta.items() if c}  # terms whose document frequency moved
    dropped = {t for t, c in changed.items() if c <= 0 and t not in keys}
    dropped |= {e.key for e in old_glossary.entries if e.key not in keys and changed.get(e.key, old_df(e.key)) <= 0}
    added = sorted({t for t, c in changed.items() if c > 0 and t not in term_id} | {k for k in keys if k not in term_id})
    if dropped or added:
        # the old terms kept, in their order, with the added ones in their sorted places (term ids
        # are places in the old vocabulary): worked out on the few terms that moved, not looked up
        # term by term (694,000 lookups and a dict of them: a second of each update)
        sorted_old = getattr(old_vocab, "terms", old_vocab)  # a SortedVocabulary's tuple: bisected in C
        gone = np.asarray(sorted({term_id[t] for t in dropped if t in term_id}), np.int64)
        keep = np.ones(len(sorted_old), bool)
        keep[gone] = False
        at = np.asarray([bisect.bisect_left(sorted_old, t) for t in added], np.int64)  # old terms before each
        old_pos = np.insert(np.flatnonzero(keep), at - np.searchsorted(gone, at), -1)
        fresh = iter(added)
        vocab = [sorted_old[i] if i >= 0 else next(fresh) for i in old_pos.tolist()]
        df = np.where(old_pos >= 0, df_old[np.clip(old_pos, 0, None)], 0).astype(np.int64)
        place = lambda t: bisect.bisect_left(vocab, t)  # noqa: E731
    else:
        vocab, df, place = old_vocab, df_old.astype(np.int64).copy(), term_id.__getitem__
    for t, c in changed.items():
        if t not in dropped:
            df[place(t)] = max(c, 0)
    return vocab, df
