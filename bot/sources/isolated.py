"""Read one file in a child process with CPU, memory and time limits: for files a visitor sends,
whose PDF or HTML could make a parser run for minutes or take gigabytes.

The child runs ``python -m bot.sources.isolated FILE SOURCE MAX_PAGES``, lowers its own limits
before it imports any reader (``resource.setrlimit``; setting them from the parent would need
``preexec_fn``, which is unsafe in a threaded server), reads the file with the same
``ingest.read_file`` every corpus goes through, and writes the documents to stdout as JSON (never
pickle: a parser bug exploited in the child must not run code in the server). The parent waits
at most ``seconds`` and kills it after that.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.config import CorpusError
from bot.model import Document

PARSE_SECONDS = 60  # wall-clock and CPU time one file may take
PARSE_MEMORY = 1024 * 1024 * 1024  # address space of the child (the readers' libraries need ~300 MB)
MAX_PAGES = 500  # a PDF with more pages is refused before its text is read


@dataclass(frozen=True)
class Limits:
    seconds: float = PARSE_SECONDS
    memory: int = PARSE_MEMORY
    max_pages: int = MAX_PAGES


def read_isolated(path: Path, source: str, limits: Limits = Limits()) -> tuple[list[Document], list[str]]:
    """The documents of one file and the problems met (lines skipped), read in a limited child
    process. Raises CorpusError with a message for the visitor when the file cannot be read."""
    env = {**os.environ, "BOT_PARSE_MEMORY": str(limits.memory), "BOT_PARSE_SECONDS": str(int(limits.seconds) + 1)}
    try:
        p = subprocess.run([sys.executable, "-m", "bot.sources.isolated", str(path), source, str(limits.max_pages)],
                           capture_output=True, timeout=limits.seconds, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CorpusError(f"took longer than {limits.seconds:g} s to read") from None
    try:
        out = json.loads(p.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        if p.returncode in (-9, -24, 137, 152):  # SIGKILL, SIGXCPU: a limit was reached
            raise CorpusError(f"took longer than {limits.seconds:g} s to read") from None
        if b"MemoryError" in p.stderr:
            raise CorpusError(f"needed more than {limits.memory // 1048576:,} MB to read") from None
        raise CorpusError("could not be read") from None
    if "error" in out:
        raise CorpusError(str(out["error"]))
    docs = [Document(d["id"], d["title"], d["source"], d["text"], d["metadata"]) for d in out["documents"]]
    return docs, [str(x) for x in out.get("problems", [])]


def _limit_self() -> None:
    import resource

    memory = int(os.environ.get("BOT_PARSE_MEMORY", PARSE_MEMORY))
    seconds = int(os.environ.get("BOT_PARSE_SECONDS", PARSE_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(path: Path, source: str, max_pages: int) -> dict:
    """What the child prints: {"documents": [...], "problems": [...]} or {"error": message}."""
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
                return {"error": f"{pages:,} pages; at most {max_pages:,} pages are read"}
        report = LoadReport()
        docs = read_file(path, source, report, doc_id=source)
    except CorpusError as exc:
        return {"error": _without(str(exc), path, name)}
    except MemoryError:
        return {"error": "needed more memory than allowed to read"}
    except Exception as exc:  # noqa: BLE001 - a library failing on an odd file
        return {"error": f"could not be read ({type(exc).__name__})"}
    return {"documents": [{"id": d.id, "title": d.title, "source": d.source, "text": d.text,
                           "metadata": dict(d.metadata)} for d in docs],
            "problems": [_without(p, path, name) for p in report.problems]}


def _without(message: str, path: Path, name: str) -> str:
    """A reader's message without the child's file path (the caller names the file itself)."""
    if message.startswith(f"{path}: "):
        message = message[len(f"{path}: "):]
    return message.replace(str(path), name)


if __name__ == "__main__":
    _limit_self()
    result = _child(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
    sys.stdout.write(json.dumps(result, ensure_ascii=True))
