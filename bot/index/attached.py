"""Read and index a conversation's attached files in a limited child process, and measure what
the index costs the server that loads it.

``python -m bot.index.attached`` (started by ``serve/attachments`` through
``sources.isolated.run_child``, with its CPU, memory and time limits) takes a request as JSON on
stdin: the folder to write (``out``), the conversation's current index (``previous``) and the
ids of its documents to keep, the file to add (read by ``sources.isolated.read_limited``, within
``read_seconds`` and ``max_pages``) and the corpus's settings. It writes a saved index (the format
``python -m bot index --out`` writes: ``writer.save``) of the kept documents followed by the new
file's, then loads it as the server will (``store.load``) and measures what that holds
(``measure``). It answers with the new file's documents and the measured bytes, or
``{"error": message}``.

The server then holds only what ``store.load`` makes (document texts stay in memory-mapped
files), and the memory budget counts what was measured here, not an estimate per character.
"""
from __future__ import annotations

import gc
import json
import signal
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Sequence

from bot.config import SETTING_NAMES, CorpusError, Manifest, settings_from
from bot.index import store, writer
from bot.index.corpus import CorpusIndex
from bot.index.names import POSTINGS
from bot.model import Document
from bot.sources import isolated
from bot.sources.pdf import PAGE_HEADINGS

NAME = "attached files"  # the index's name (never shown: answers name each file)
SAMPLE = 60  # passages whose answer-time analysis is measured, then scaled to all
WARM = 10  # passages analyzed first, so the sample measures what each passage adds


def build(request: dict[str, Any]) -> dict[str, Any]:
    """Do what the request asks (see the module's docstring); raises CorpusError for the visitor."""
    out = Path(request["out"])
    settings = settings_from({k: v for k, v in request["settings"].items() if k in SETTING_NAMES},
                             lambda key: "the server's settings")
    docs: list[Document] = []
    if request.get("previous"):
        keep = set(request.get("keep") or ())
        _, kept, _, _ = store.load(request["previous"], check_stale=False)
        docs = [kept.with_blocks(i) for i in range(len(kept)) if kept[i].id in keep]
    added = None
    add = request.get("add")
    if add:
        new, problems = _read(Path(add["path"]), add["source"], int(request["max_pages"]),
                              float(request["read_seconds"]))
        if not new:
            raise CorpusError("no text found in it")
        pages = sum(1 for d in new for _ in PAGE_HEADINGS.finditer(d.text)) if Path(add["path"]).suffix == ".pdf" \
            else None
        added = {"documents": [d.id for d in new], "pages": pages, "problems": problems}
        docs += new
    if not docs:
        raise CorpusError("nothing to index")
    s = settings.index
    try:
        index = CorpusIndex.build(docs, max_words=s.passage_max_words, documentation_words=s.documentation_max_words,
                                  k1=s.bm25_k1, b=s.bm25_b, engine=POSTINGS)
    except CorpusError as exc:
        raise CorpusError(f"nothing to answer from ({exc})") from None
    manifest = Manifest(out / "corpus.yaml", NAME, "", (), settings)
    writer.save(out, manifest, docs, index, [])
    del index, docs
    return {"added": added, "memory": measure(out)}


def _read(path: Path, source: str, max_pages: int, seconds: float) -> tuple[list[Document], list[str]]:
    """The file's documents, read within ``seconds`` (an alarm: the child's own limit covers the
    indexing that follows too)."""
    def late(*_: Any) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, late)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        return isolated.read_limited(path, source, max_pages)
    except TimeoutError:
        raise CorpusError(f"took longer than {seconds:g} s to read") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def measure(folder: Path) -> int:
    """The bytes a saved index takes in a process that loads it and answers from it: what
    ``store.load`` allocates (traced by ``tracemalloc``) with every document read and every
    passage made (the caches answering fills); the answer-time analysis of passages (their terms,
    cached as questions reach them), measured on a sample after a few passages warmed the shared
    caches and scaled to every passage; and the files it maps (resident once read)."""
    gc.collect()
    tracemalloc.start()
    try:
        _, docs, index, _ = store.load(folder, check_stale=False)
        for i in range(len(docs)):
            docs[i].text  # noqa: B018 - read, decoded and cached, as citing it does
        n = len(index.passages)
        for i in range(n):
            index.passages[i]  # noqa: B018 - made and cached, as retrieving it does
        warm = _spread(n, WARM)
        for i in warm:
            _analyze(index, i)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        sample = [i for i in _spread(n, SAMPLE + WARM) if i not in set(warm)][:SAMPLE]
        for i in sample:
            _analyze(index, i)
        gc.collect()
        analysis = (tracemalloc.get_traced_memory()[0] - held) * (n - len(warm)) / len(sample) if sample else 0
        mapped = docs.parts.mapped_bytes()
    finally:
        tracemalloc.stop()
    return int(held + max(analysis, 0) + mapped)


def _analyze(index: CorpusIndex, i: int) -> None:
    """Passage ``i``'s terms as answering computes and caches them."""
    index.passage_terms[i], list(index.sentence_terms[i]), index.path_terms[i], index.heading_terms[i]  # noqa: B018


def _spread(n: int, k: int) -> Sequence[int]:
    """``k`` passage numbers spread evenly over ``n`` (all of them when ``n <= k``)."""
    return range(n) if n <= k else sorted({i * n // k for i in range(k)})


def main() -> None:
    isolated.limit_self()
    try:
        result = build(json.loads(sys.stdin.buffer.read()))
    except CorpusError as exc:
        result = {"error": str(exc)}
    except MemoryError:
        result = {"error": "needed more memory than allowed to read and index"}
    sys.stdout.write(json.dumps(result, ensure_ascii=True))


if __name__ == "__main__":
    main()
