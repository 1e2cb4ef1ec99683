"""The file formats sources may hold: each kind's file name suffixes and its reader, the one
table ``ingest`` (which files a folder holds, how each is read) and the attachments store use.

A reader of ``one`` document takes (path, report) and returns a ``readers.Read``; a reader of
``many`` (a collection in one file) takes (path, source, report, max_mb) and returns Documents,
the size limit then applying to each document instead of the file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bot.model import Document
from bot.sources.article import read_html_file
from bot.sources.jsonl import read_jsonl
from bot.sources.markdown import read_markdown_file
from bot.sources.pdf import read_pdf
from bot.sources.plaintext import read_text_file
from bot.sources.readers import LoadReport, Read


@dataclass(frozen=True)
class Reader:
    suffixes: tuple[str, ...]  # lower case; the first is the one a file of this kind is saved under
    one: Callable[[Path, LoadReport], Read] | None = None  # a file that is one document
    many: Callable[[Path, str, LoadReport, float], list[Document]] | None = None  # a file of documents


READERS: dict[str, Reader] = {  # kind -> its reader
    "markdown": Reader((".md", ".markdown"), one=read_markdown_file),
    "text": Reader((".txt",), one=read_text_file),
    "html": Reader((".html", ".htm"), one=read_html_file),
    "pdf": Reader((".pdf",), one=read_pdf),
    "jsonl": Reader((".jsonl",), many=read_jsonl),
}
SUFFIXES = {suffix: kind for kind, reader in READERS.items() for suffix in reader.suffixes}  # ".md" -> "markdown"


def reader_of(path: Path) -> Reader | None:
    """The reader of a file by its name's suffix; None for a file type sources cannot hold."""
    kind = SUFFIXES.get(path.suffix.lower())
    return READERS[kind] if kind is not None else None
