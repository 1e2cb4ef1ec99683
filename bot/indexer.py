"""Read sources and build a saved index: the small exact engine in memory, or the large one
(``build.build_large``) in parallel worker processes. ``store`` reads and writes the index files."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import store
from .build import build_large
from .config import CorpusError, Manifest, Settings
from .engines import LARGE_CORPUS
from .index import CorpusIndex
from .ingest import ingest
from .load import load_corpus
from .model import Document
from .readers import LoadReport


def build(inputs: Sequence[str | Path], out: str | Path, progress: Callable[[Iterable[Any]], Any] | None = None,
          engine: str = "auto", workers: int | None = None, index_progress: Callable[[range], Any] | None = None,
          ) -> tuple[Manifest, Sequence[Document], CorpusIndex, list[str]]:
    """Read the inputs (files, folders, or a corpus folder with corpus.yaml), index and save them.

    ``engine``: "postings" (built in memory; exact rank_bm25 scores), "tantivy" (built in
    parallel, streamed; for large corpora) or "auto" (tantivy above LARGE_CORPUS passages).
    Returns (manifest, documents, index, problems). Raises CorpusError when nothing is readable."""
    out = Path(out)
    check_out(out)
    store.recover(out)
    store.remove_leftovers(out)
    inputs = [str(i) for i in inputs]
    snap = store.snapshot(store.source_files(inputs))  # before reading: edits made meanwhile make it stale
    report = LoadReport()
    if len(inputs) == 1 and (Path(inputs[0]) / "corpus.yaml").is_file():
        manifest, docs = load_corpus(inputs[0], report)
    else:
        docs = ingest(inputs, report, progress, max_mb=Settings().max_document_mb)
        if not docs:
            raise CorpusError("nothing to index: " + ("; ".join(report.problems[:5]) or "no supported files"))
        first = Path(inputs[0]).resolve()
        manifest = Manifest(out / "corpus.yaml", first.name if first.is_dir() else first.stem, "", (), Settings())
    s = manifest.settings
    if engine == "auto":
        engine = "tantivy" if estimated_passages(docs, s.passage_max_words) > LARGE_CORPUS else "postings"
    if engine not in ("postings", "tantivy"):
        raise ValueError(f"unknown engine {engine!r} (auto, postings or tantivy)")
    stage = store.staging_dir(out)
    try:
        if engine == "tantivy":
            build_large(docs, stage, manifest, inputs, report.problems, progress=index_progress, workers=workers,
                        snap=snap)
        else:
            # the postings arrays directly (the scores rank-bm25 gives, without its per-passage dicts)
            index = CorpusIndex.build(docs, max_words=s.passage_max_words, k1=s.bm25_k1, b=s.bm25_b,
                                      engine="postings")
            store.save(stage, manifest, docs, index, inputs, report.problems, snap)
        store.write_manifest(stage, manifest, docs)
        store.swap_into(stage, out)
    except BaseException:  # failed or interrupted (Ctrl-C): the earlier index at `out` is untouched
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if engine == "tantivy":
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


def rebuild(folder: str | Path) -> tuple[Manifest, Sequence[Document], CorpusIndex, list[str]]:
    """Build a saved index again from the sources it records, with the same engine."""
    header = store.read_header(folder)
    build(header.get("inputs") or [], folder, engine=header.get("engine") or "auto")
    return store.load(folder)
