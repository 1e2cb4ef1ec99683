"""Read one source file's text, guess its title, and report what was skipped: the helpers every
file reader (``ingest``) and the manifest loader (``load``) share."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import CorpusError

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def shown(value: str | os.PathLike) -> str:
    """A path or name as it can be printed and stored: a file name's undecodable bytes as ``\\xe9``,
    a lone surrogate as ``\\ud800``."""
    text = os.fspath(value)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def read_text(path: Path) -> str:
    """Read a text document as UTF-8 with normalized newlines; CorpusError if it is not text."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark (Windows "Unicode")
        try:
            return raw.decode("utf-16").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            raise CorpusError(f"{path}: not valid UTF-16 text") from None
    if b"\x00" in raw:
        raise CorpusError(f"{path}: looks like a binary file, not text (it holds NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not valid UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# A plain-text heading: a short line (eight words at most) that starts with a capital or a digit
# and does not end a sentence or open a list item ("Safety", "Using the kettle", "WARRANTY").
_TEXT_HEADING = re.compile(r"[A-Z0-9][^\n]{0,59}")
_LINE_END = re.compile(r"[.!?,;:…\"”’)]$")
_ITEM = re.compile(r"(?:[-*+•]|\d{1,9}[.)])\s")


def text_heading(line: str) -> bool:
    """Whether a line of plain text reads as a heading."""
    line = line.strip()
    return (bool(line) and len(line.split()) <= 8 and _TEXT_HEADING.fullmatch(line) is not None
            and not _LINE_END.search(line) and not _ITEM.match(line))


def text_title(text: str) -> str | None:
    """A plain-text document's title: its first line, when that reads as a heading and stands alone."""
    stripped = text.lstrip()
    first, _, rest = stripped.partition("\n")
    if text_heading(first) and (not rest.strip() or rest.startswith(("\n", "\r\n")) or not rest.split("\n", 1)[0].strip()):
        return first.strip()
    return None


def guess_title(text: str, path: Path) -> str:
    m = _H1.search(text)
    if m:
        return m.group(1).strip()
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


@dataclass
class LoadReport:
    """What loading skipped, one line per file ("path: problem"), for summaries and warnings."""

    problems: list[str] = field(default_factory=list)
