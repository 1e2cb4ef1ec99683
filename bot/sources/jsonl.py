"""JSON Lines: BEIR-style lines {"_id", "title", "text"}, each a document, read through a bounded
line reader (a line over the size limit is read past, never held whole)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from bot.config import CorpusError, has_surrogates
from bot.model import Document
from bot.sources.markdown import read_markdown
from bot.sources.readers import LoadReport, shown
from bot.sources.structure import BLOCKS_KEY, CODE_KEY, pack


@dataclass(frozen=True)
class _Over:
    """A line over the size limit: only its first bytes are kept (to name its document)."""

    head: bytes


_HEAD_BYTES = 4096
_LEADING_ID = re.compile(rb'"_id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,30})')


def _named(head: bytes) -> str:
    """What a line over the limit is, from its first bytes: "document 'kb7'" where its "_id" comes first."""
    found = _LEADING_ID.search(head)
    try:
        return f"document '{shown(str(json.loads(found.group(1))))}'" if found else "a line"
    except ValueError:
        return "a line"


def bounded_lines(f: BinaryIO, limit: int) -> Iterator[bytes | _Over]:
    """The lines of a binary file, each at most ``limit`` bytes (its newline aside); a longer line
    is read past in 1 MB pieces and given as ``_Over``, never held whole (a 200 MB line of one
    document took 629 MB before it was refused)."""
    while True:
        line = f.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        head = line[:_HEAD_BYTES]
        del line
        while (piece := f.readline(1 << 20)) and not piece.endswith(b"\n"):
            pass
        yield _Over(head)


def jsonl_documents(path: Path, source: str, report: LoadReport, max_mb: float = 20) -> Iterator[Document]:
    """BEIR-style lines {"_id", "title", "text"}; a bad line is reported and skipped. The size limit
    applies to each line's document, not to the file (a knowledge base export can be gigabytes).
    An optional "format": "markdown" reads the text as Markdown (its headings become each
    passage's heading path); the default is plain text."""
    limit = int(max_mb * 1024 * 1024)
    first_line: dict[str, int] = {}  # each id given so far, with the line it was first on
    with path.open("rb") as f:
        for lineno, raw in enumerate(bounded_lines(f, limit), 1):
            if isinstance(raw, _Over):
                what = _named(raw.head)
                report.problems.append(f"{path}:{lineno}: {what} is over the {max_mb} MB limit "
                                       "(settings.index.max_document_mb); skipped")
                continue
            line = raw.decode("utf-8", errors="replace")
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                doc_id, text, title = obj["_id"], obj.get("text") or "", obj.get("title") or ""
                fmt = obj.get("format") or "text"
                if fmt not in ("text", "markdown"):
                    raise ValueError("'format' must be \"text\" or \"markdown\"")
                if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
                    raise ValueError("'_id' must be a string or a whole number")
                if not isinstance(text, str) or not isinstance(title, str):
                    raise ValueError("'text' and 'title' must be strings")
                doc_id = str(doc_id)
            except (ValueError, KeyError, RecursionError) as exc:
                reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
                report.problems.append(f"{path}:{lineno}: not a BEIR line with '_id' and 'text' ({reason}); skipped")
                continue
            if has_surrogates(doc_id) or has_surrogates(title) or has_surrogates(text):
                report.problems.append(f"{path}:{lineno}: document '{shown(doc_id)}' holds a lone surrogate escape "
                                       "(such as \\ud800), which is not text; skipped")
                continue
            if not text.strip():
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' has no text; skipped")
                continue
            if "\x00" in text:
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' holds NUL bytes (binary data); skipped")
                continue
            title = title.strip() or doc_id
            meta: dict[str, Any] = {"format": fmt}
            if fmt == "markdown":  # the text its reader sees, with its units (``markdown``)
                try:
                    got = read_markdown(text)
                except Exception as exc:  # a parser failing on one document loses only that document
                    report.problems.append(f"{path}:{lineno}: document '{shown(doc_id)}' could not be read as Markdown "
                                           f"({type(exc).__name__}: {str(exc)[:120]}); skipped")
                    continue
                if got is None:
                    report.problems.append(f"{path}:{lineno}: document '{doc_id}' has no text; skipped")
                    continue
                text, meta[BLOCKS_KEY] = got[0], pack(got[1])
                if got[4]:
                    meta[CODE_KEY] = pack(got[4])
            if doc_id in first_line:  # two documents under one id: each cited as itself, the later one renamed
                given, doc_id = doc_id, f"{doc_id} (line {lineno})"
                while doc_id in first_line:
                    doc_id += "'"
                report.problems.append(f"{path}:{lineno}: document id '{shown(given)}' is also on line "
                                       f"{first_line[given]}; indexed as '{shown(doc_id)}'")
            first_line.setdefault(doc_id, lineno)
            yield Document(id=f"{source}#{doc_id}", title=title, source=f"{source}#{doc_id}", text=text,
                           metadata=meta)



def read_jsonl(path: Path, source: str, report: LoadReport, max_mb: float = 20) -> list[Document]:
    """A JSON Lines file's documents; CorpusError when it holds none."""
    docs = list(jsonl_documents(path, source, report, max_mb))
    if not docs:
        raise CorpusError(f"{path}: no documents in the JSON Lines file")
    return docs
