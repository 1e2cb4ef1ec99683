"""Read sources and build a saved index: the small exact engine in memory, or the large one
(``build.build_large``) in parallel worker processes. ``store`` reads and writes the index files."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from bot.index import layout
from bot.index import store
from bot.index import writer
from bot.index.build import build_large
from bot.config import MANIFEST, CorpusError, Manifest
from bot.index.engines import auto_engine, engine_class
from bot.index.corpus import CorpusIndex
from bot.index.reading import read_files
from bot.sources.ingest import Walk, walk
from bot.sources.load import plan_sources
from bot.model import Document
from bot.sources.readers import LoadReport
from bot.index.update import update


def read_sources(inputs: Sequence[str], out: Path, progress: Callable[[Iterable[Any]], Any] | None = None,
                 workers: int | None = None, walked: Walk | None = None,
                 ) -> tuple[Manifest, list[Document], list[int], list[dict[str, Any]], LoadReport]:
    """Read every source file: (manifest, documents, the file each document came from, a record
    of each file read (size, time, hash, problems), report). Raises CorpusError when nothing is
    readable. ``walked``: the inputs' ``walk``, taken already."""
    report = LoadReport()
    manifest, planned = plan_sources(inputs, report, out / MANIFEST, walked)
    docs: list[Document] = []
    doc_file: list[int] = []
    records: list[dict[str, Any]] = []
    for k, rec, got in read_files(manifest, planned, progress=progress, workers=workers):
        report.problems.extend(rec["problems"])
        records.append(rec)
        docs.extend(got)
        doc_file.extend([k] * len(got))
    if not docs:
        if planned and planned[0].entry is not None:
            raise CorpusError(f"{inputs[0]}: no readable documents ({'; '.join(report.problems[:5])})")
        raise CorpusError("nothing to index: " + ("; ".join(report.problems[:5]) or "no supported files"))
    return manifest, docs, doc_file, records, report


def build(inputs: Sequence[str | Path], out: str | Path, progress: Callable[[Iterable[Any]], Any] | None = None,
          engine: str = "auto", workers: int | None = None, index_progress: Callable[[range], Any] | None = None,
          ) -> tuple[Manifest, Sequence[Document], CorpusIndex, list[str]]:
    """Read the inputs (files, folders, or a corpus folder with corpus.yaml), index and save them.

    ``engine``: "postings" (built in memory; exact rank_bm25 scores), "tantivy" (built in
    parallel, streamed; for large corpora) or "auto" (tantivy above LARGE_CORPUS passages).
    Returns (manifest, documents, index, problems). Raises CorpusError when nothing is readable."""
    out = Path(out)
    check_out(out)
    with writer.writing(out) as real:
        return _build(inputs, real, progress, engine, workers, index_progress)


def _build(inputs: Sequence[str | Path], out: Path, progress: Callable[[Iterable[Any]], Any] | None,
           engine: str, workers: int | None, index_progress: Callable[[range], Any] | None,
           ) -> tuple[Manifest, Sequence[Document], CorpusIndex, list[str]]:
    inputs = [str(i) for i in inputs]
    with writer.collector_paused():  # a file at a time, no cycles
        walked = walk(inputs)  # once, for the snapshot and the plan
        snap = layout.snapshot_sources(inputs, walked)  # before reading: edits made meanwhile make it stale
    manifest, docs, doc_file, records, report = read_sources(inputs, out, progress, workers, walked)
    s = manifest.settings
    kind = engine_class(auto_engine(estimated_passages(docs, s.index.passage_max_words)) if engine == "auto"
                        else engine)
    stage = writer.staging_dir(out)
    try:
        writer.write_manifest(stage, manifest, docs)  # first: the header records what it says
        if kind.streamed:
            build_large(docs, stage, manifest, inputs, report.problems, progress=index_progress, workers=workers,
                        snap=snap, records=records, doc_file=doc_file, engine=kind)
        else:
            # the engine's own arrays directly (for postings: rank-bm25's scores, without its per-passage dicts)
            index = CorpusIndex.build(docs, max_words=s.index.passage_max_words,
                                      documentation_words=s.index.documentation_max_words, k1=s.index.bm25_k1,
                                      b=s.index.bm25_b, engine=kind.name)
            writer.save(stage, manifest, docs, index, inputs, report.problems, snap, records, doc_file)
        writer.swap_into(stage, out)
    except BaseException:  # failed or interrupted (Ctrl-C): the earlier index at `out` is untouched
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if kind.streamed:  # built on disk: loaded from there
        return store.load(out, check_stale=False)
    return manifest, docs, index, report.problems


def check_out(out: Path) -> None:
    """--out must be (or become) a folder: not a file, not under a file, and writable."""
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            raise CorpusError(f"{out}: --out must be a folder, but {p} is a file")
        if p.exists():
            if not os.access(p, os.W_OK):
                raise CorpusError(f"{out}: cannot write there ({p} is not writable)")
            break


def estimated_passages(docs: Sequence[Document], max_words: int) -> float:
    """About how many passages the documents make (six characters a word, passages 90% full)."""
    return sum(len(d.text) for d in docs) / 6 / (0.9 * max_words)


def rebuild(folder: str | Path) -> None:
    """Bring a saved index up to date with the sources it records: an update when it can (only
    changed files are read), else a full build with the same engine."""
    if update(folder).full is not None:
        header = layout.read_header(folder)
        build(header.get("inputs") or [], folder, engine=header.get("engine") or "auto")


def refresh(path: str | Path | None) -> bool:
    """``--rebuild``: when ``path`` is a saved index whose sources changed, whose files are
    damaged (missing, truncated) or whose layout is an earlier version's, bring it up to date (before a bot loads it); True when it did.
    Anything else is left alone."""
    if path is None or not layout.is_index(path):
        return False
    header = layout.read_header(path)
    if layout.stale_reason(header) is None and layout.damage(path, header) is None and layout.outdated(header) is None:
        return False
    rebuild(path)
    return True
