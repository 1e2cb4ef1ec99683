"""Run a reader in a child process with CPU, memory and time limits: for files a visitor sends,
whose PDF or HTML could make a parser run for minutes or take gigabytes, and whose text could take
the server's memory and cores while it is indexed.

A child lowers its own limits before it imports any reader (``limit_self``; ``resource.setrlimit``:
setting them from the parent would need ``preexec_fn``, which is unsafe in a threaded server),
takes its request as JSON on stdin and writes its answer as JSON to stdout (never pickle: a parser
bug exploited in the child must not run code in the server). The parent waits at most the time
allowed and kills it after that (``run_child``).

``python -m bot.sources.isolated FILE SOURCE MAX_PAGES`` reads one file (``read_limited``: the
same ``ingest.read_file`` every corpus goes through, a PDF's pages counted first) and writes its
documents; ``bot.index.attached`` reads and indexes a conversation's files the same way.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import CorpusError
from bot.model import Document

PARSE_SECONDS = 60  # wall-clock and CPU time one file may take to read
INDEX_SECONDS = 120  # and then to index (a 3 MB text of distinct words takes ~20 s on one core)
PARSE_MEMORY = 1024 * 1024 * 1024  # address space of a reading child (the readers' libraries need ~300 MB)
INDEX_MEMORY = 2 * 1024 * 1024 * 1024  # of a child that also indexes (a 3 MB text of distinct words: ~600 MB resident)
MAX_PAGES = 500  # a PDF with more pages is refused before its text is read
KILLED = (-9, -24, 137, 152)  # SIGKILL, SIGXCPU: a time limit was reached


@dataclass(frozen=True)
class Limits:
    seconds: float = PARSE_SECONDS
    memory: int = PARSE_MEMORY
    max_pages: int = MAX_PAGES
    index_seconds: float = INDEX_SECONDS
    index_memory: int = INDEX_MEMORY


def run_child(module: str, request: dict[str, Any], seconds: float, memory: int, doing: str = "read",
              ) -> dict[str, Any]:
    """Run ``python -m MODULE`` with ``request`` as JSON on stdin, within ``seconds`` (wall clock
    and CPU) and ``memory`` (address space); its JSON answer. Raises CorpusError with a message
    for the visitor when the child fails, runs out of time ("took longer than S s to ``doing``")
    or memory, or answers ``{"error": ...}``."""
    env = {**os.environ, "BOT_PARSE_MEMORY": str(memory), "BOT_PARSE_SECONDS": str(int(seconds) + 1)}
    try:
        p = subprocess.run([sys.executable, "-m", module], input=json.dumps(request).encode("utf-8"),
                           capture_output=True, timeout=seconds, env=env)
    except subprocess.TimeoutExpired:
        raise CorpusError(f"took longer than {seconds:g} s to {doing}") from None
    return _answer(p, seconds, memory, doing)


def _answer(p: subprocess.CompletedProcess, seconds: float, memory: int, doing: str = "read") -> dict[str, Any]:
    try:
        out = json.loads(p.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        if p.returncode in KILLED:
            raise CorpusError(f"took longer than {seconds:g} s to {doing}") from None
        if b"MemoryError" in p.stderr:
            raise CorpusError(f"needed more than {memory // 1048576:,} MB to {doing}") from None
        raise CorpusError("could not be read") from None
    if "error" in out:
        raise CorpusError(str(out["error"]))
    return out


def read_isolated(path: Path, source: str, limits: Limits = Limits()) -> tuple[list[Document], list[str]]:
    """The documents of one file and the problems met (lines skipped), read in a limited child
    process. Raises CorpusError with a message for the visitor when the file cannot be read."""
    env = {**os.environ, "BOT_PARSE_MEMORY": str(limits.memory), "BOT_PARSE_SECONDS": str(int(limits.seconds) + 1)}
    try:
        p = subprocess.run([sys.executable, "-m", "bot.sources.isolated", str(path), source, str(limits.max_pages)],
                           capture_output=True, timeout=limits.seconds, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CorpusError(f"took longer than {limits.seconds:g} s to read") from None
    out = _answer(p, limits.seconds, limits.memory)
    return [document_of(d) for d in out["documents"]], [str(x) for x in out.get("problems", [])]


def document_of(d: dict[str, Any]) -> Document:
    return Document(d["id"], d["title"], d["source"], d["text"], d["metadata"])


def limit_self() -> None:
    """Lower this process's limits to what its parent set (``run_child``) before reading anything."""
    import resource

    memory = int(os.environ.get("BOT_PARSE_MEMORY", PARSE_MEMORY))
    seconds = int(os.environ.get("BOT_PARSE_SECONDS", PARSE_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


_limit_self = limit_self  # the name tests and earlier callers use


def read_limited(path: Path, source: str, max_pages: int) -> tuple[list[Document], list[str]]:
    """Read one file as ``ingest.read_file`` does (a PDF of more than ``max_pages`` pages refused
    before its text is read): (documents, problems), messages naming ``source``, never the path.
    Raises CorpusError with a message for the visitor."""
    from bot.sources.ingest import read_file
    from bot.sources.readers import LoadReport

    name = source
    try:
        if path.suffix.lower() == ".pdf":
            import logging

            from pypdf import PdfReader

            logging.getLogger("pypdf").setLevel(logging.ERROR)
            try:
                pages = len(PdfReader(str(path)).pages)
            except Exception:  # noqa: BLE001 - read_file below names the problem
                pages = 0
            if pages > max_pages:
                raise CorpusError(f"{pages:,} pages; at most {max_pages:,} pages are read")
        report = LoadReport()
        docs = read_file(path, source, report, doc_id=source)
    except CorpusError as exc:
        raise CorpusError(_without(str(exc), path, name)) from None
    except MemoryError:
        raise CorpusError("needed more memory than allowed to read") from None
    except Exception as exc:  # noqa: BLE001 - a library failing on an odd file
        raise CorpusError(f"could not be read ({type(exc).__name__})") from None
    return docs, [_without(p, path, name) for p in report.problems]


def document_dict(d: Document) -> dict[str, Any]:
    return {"id": d.id, "title": d.title, "source": d.source, "text": d.text, "metadata": dict(d.metadata)}


def _child(path: Path, source: str, max_pages: int) -> dict:
    """What the child prints: {"documents": [...], "problems": [...]} or {"error": message}."""
    try:
        docs, problems = read_limited(path, source, max_pages)
    except CorpusError as exc:
        return {"error": str(exc)}
    return {"documents": [document_dict(d) for d in docs], "problems": problems}


def _without(message: str, path: Path, name: str) -> str:
    """A reader's message without the child's file path (the caller names the file itself)."""
    if message.startswith(f"{path}: "):
        message = message[len(f"{path}: "):]
    return message.replace(str(path), name)


if __name__ == "__main__":
    limit_self()
    result = _child(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    sys.stdout.write(json.dumps(result, ensure_ascii=True))
