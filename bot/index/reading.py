"""Read the planned source files of a build or an update: each file's documents and its record
(size, time, hash, problems, manifest entry), in order, in forked worker processes when there are
many files (parsing Markdown, HTML or PDFs costs milliseconds a document: one process took about
50 CPU-minutes on the 191,250 documents of the real-text corpus)."""
from __future__ import annotations

import multiprocessing
from typing import Any, Callable, Iterable, Iterator, Sequence

from bot.config import Manifest
from bot.index import writer
from bot.index.build import default_workers
from bot.model import Document
from bot.sources.load import Planned, read_planned
from bot.sources.readers import LoadReport

IN_WORKERS_FROM = 32  # files: fewer are read in this process (a pool's start costs more than they do)...
IN_WORKERS_FROM_BYTES = 256 * 1024  # ...unless they are this large together: an update's 8 changed files of
# the real text (540 KB, 160 Markdown documents) took 2-3 s of one core
FILES_PER_TASK = 4  # files a worker takes at a time: enough to amortize messaging, small enough to balance

# Set in each worker as it starts (``_start``; forked, so never pickled); the parent's stay unset.
_MANIFEST: Manifest | None = None
_PLANNED: Sequence[Planned] = ()


def _start(manifest: Manifest, planned: Sequence[Planned]) -> None:
    global _MANIFEST, _PLANNED
    _MANIFEST, _PLANNED = manifest, planned


def record_of(p: Planned) -> dict[str, Any]:
    """A source file's record: its size, time and hash (what an update compares)."""
    try:
        return writer.file_record(p.path, p.source)
    except OSError:  # listed in the manifest but missing or unreadable: recorded, so it is retried
        return {"path": str(p.path.resolve()), "source": p.source, "size": -1, "mtime": 0, "sha256": ""}


def read_one(manifest: Manifest, p: Planned) -> tuple[dict[str, Any], list[Document]]:
    """One file's record (its problems and manifest entry included) and its documents."""
    rec = record_of(p)  # before reading: an edit made meanwhile is seen by the next update
    own = LoadReport()
    docs = read_planned(manifest, p, own)
    rec["problems"] = own.problems
    if p.entry is not None:
        rec["entry"] = p.signature()
    return rec, docs


class _Counted:
    """Results that say how many they will be (a progress bar's total)."""

    def __init__(self, items: Iterable[Any], n: int):
        self.items, self.n = items, n

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return self.n


def _read_at(k: int) -> tuple[int, dict[str, Any], list[Document]]:
    assert _MANIFEST is not None
    return (k, *read_one(_MANIFEST, _PLANNED[k]))


def _worth_a_pool(planned: Sequence[Planned], which: Sequence[int]) -> bool:
    """Whether the files are many enough, or large enough, to be read in worker processes."""
    if len(which) >= IN_WORKERS_FROM:
        return True
    if len(which) < 2:
        return False
    size = 0
    for k in which:
        try:
            size += planned[k].path.stat().st_size
        except OSError:  # reported when it is read
            continue
    return size >= IN_WORKERS_FROM_BYTES


def read_files(manifest: Manifest, planned: Sequence[Planned], which: Sequence[int] | None = None,
               progress: Callable[[Iterable[Any]], Any] | None = None, workers: int | None = None,
               ) -> Iterator[tuple[int, dict[str, Any], list[Document]]]:
    """(k, record, documents) for each planned file ``k`` in ``which`` (default: all), in that
    order. From ``IN_WORKERS_FROM`` files on, or two files of ``IN_WORKERS_FROM_BYTES``, they are
    read by ``workers`` forked processes (default: one a core); ``progress`` counts the files as
    they come."""
    which = list(range(len(planned))) if which is None else list(which)
    workers = workers or default_workers()
    if workers <= 1 or not _worth_a_pool(planned, which) or "fork" not in multiprocessing.get_all_start_methods():
        done: Iterable[tuple[int, dict[str, Any], list[Document]]] = (
            (k, *read_one(manifest, planned[k])) for k in which)
        yield from (progress(_Counted(done, len(which))) if progress else done)
        return
    # a Pool, terminated on the way out: Ctrl-C or a kill stops its workers with the build (an
    # executor's threads and atexit hook outlived an interrupted build and printed tracebacks)
    pool = multiprocessing.get_context("fork").Pool(min(workers, len(which)), initializer=_start,
                                                    initargs=(manifest, planned))
    try:
        chunk = FILES_PER_TASK if len(which) >= 4 * FILES_PER_TASK * workers else 1  # a few files: shared out one by one
        done = pool.imap(_read_at, which, chunksize=chunk)
        yield from (progress(_Counted(done, len(which))) if progress else done)
    finally:
        pool.terminate()
