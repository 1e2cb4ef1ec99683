"""Read one source file's text, guess its title, and report what was skipped: the helpers every
file reader (``ingest``) and the manifest loader (``load``) share."""
from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def read_bytes(path: Path) -> bytes:
    """A file's bytes; CorpusError naming the file when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_text(path: Path) -> str:
    """Read a text document as UTF-8 with normalized newlines; CorpusError if it is not text."""
    raw = read_bytes(path)
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


# What a browser does to find an HTML page's encoding (the WHATWG "encoding sniffing" steps, less
# the HTTP header a file does not have): a byte-order mark; then, for XHTML, the XML declaration;
# then a <meta charset> or <meta http-equiv="Content-Type" content="...; charset=..."> near the top;
# else UTF-8, a byte that is not UTF-8 read as windows-1252 (what such pages almost always are).
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_XML_DECLARATION = re.compile(rb"^\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']\s*([-\w.:]+)", re.I)
_XML_DECLARATION_TEXT = re.compile(r"^\s*<\?xml\s[^>]*\?>", re.I)
_META_CHARSET = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([-\w.:]+)", re.I)
_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.S)
PRESCAN_BYTES = 8192  # how far into a page its <meta charset> is looked for (browsers: 1024 and more)
# Labels browsers read as another encoding (WHATWG Encoding Standard): Latin-1 and ASCII pages
# are decoded as windows-1252, a superset; a <meta> cannot declare UTF-16 (it would not be legible).
_LABEL_AS = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "l1": "cp1252", "ascii": "cp1252",
             "us-ascii": "cp1252", "iso8859-1": "cp1252", "iso-ir-100": "cp1252", "cp819": "cp1252",
             "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "utf-16": "utf-8", "utf-16le": "utf-8",
             "utf-16be": "utf-8", "x-user-defined": "cp1252", "windows-874": "cp874"}
# the encodings of the web (Python's names for them); other codecs' labels are ignored
_WEB_ENCODING = re.compile(r"^(?:utf-8|utf-16-[lb]e|cp\d{3,4}|iso8859-\d{1,2}|koi8-[ru]|mac-[a-z]+|gb18030|big5(?:hkscs)?|"
                           r"euc_jp|euc_kr|iso2022_jp|shift_jis|tis-620)$")
# windows-1252 for a byte that is not UTF-8; the five bytes it leaves undefined read as Latin-1
_CP1252 = {0xDC00 + b: (bytes([b]).decode("cp1252", "ignore") or chr(b)) for b in range(0x80, 0x100)}
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def html_encoding(raw: bytes) -> str | None:
    """The encoding an HTML or XHTML page declares (byte-order mark, XML declaration, ``<meta>``),
    as a Python codec name, or None when it declares none that Python knows."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    if raw.startswith(b"<\x00?\x00x\x00"):
        return "utf-16-le"  # an XML declaration in UTF-16 without a mark
    if raw.startswith(b"\x00<\x00?\x00x"):
        return "utf-16-be"
    head = raw[:PRESCAN_BYTES]
    found = _XML_DECLARATION.match(head) or _META_CHARSET.search(_COMMENT.sub(b"", head))
    if not found:
        return None
    label = found.group(1).decode("ascii", "replace").lower()
    label = _LABEL_AS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return name if _WEB_ENCODING.match(name) else None  # not "hex", "rot13", "unicode_escape" or "utf-7"


def _utf8_else_cp1252(raw: bytes) -> str:
    """UTF-8, each byte that is not part of a UTF-8 character read as windows-1252."""
    text = raw.decode("utf-8", "surrogateescape")
    return _ESCAPED_BYTE.sub(lambda m: _CP1252[ord(m.group())], text)


def decode_html(raw: bytes) -> str:
    """An HTML page's bytes as text, its encoding found the way a browser finds it
    (``html_encoding``; UTF-8 when none is declared, stray bytes as windows-1252), newlines
    normalized and the XML declaration dropped (lxml refuses a str that declares an encoding;
    the declaration has done its work once the bytes are decoded)."""
    encoding = html_encoding(raw)
    if encoding is None or encoding == "utf-8":
        text = _utf8_else_cp1252(raw[3:] if raw.startswith(_BOMS[0][0]) else raw)
    else:
        data = raw[2:] if encoding.startswith("utf-16") and raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw
        text = data.decode(encoding, "replace")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return without_xml_declaration(text)


def without_xml_declaration(html: str) -> str:
    """A page's text without a leading ``<?xml ...?>`` declaration."""
    return _XML_DECLARATION_TEXT.sub("", html, count=1) if html.lstrip()[:5].lower() == "<?xml" else html


_BODY_END = re.compile(r"</(?:body|html)\s*>", re.I)


def with_body_open(html: str) -> str:
    """A page without its ``</body>`` and ``</html>`` end tags: a browser shows what follows them
    as part of the body (a footer pasted after ``</html>``, a fragment appended), where lxml's
    parser drops it."""
    return _BODY_END.sub("", html) if "</" in html else html


def read_html(path: Path) -> str:
    """Read an HTML page as a browser would (``decode_html``, ``with_body_open``); CorpusError if
    it is not text."""
    raw = read_bytes(path)
    text = with_body_open(decode_html(raw))
    if "\x00" in text:
        raise CorpusError(f"{path}: looks like a binary file, not text (it holds NUL bytes)")
    return text


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


@dataclass
class Read:
    """One document as a file reader read it, before ``ingest.read_file`` names it."""

    text: str  # what quotes are cut from
    title: str | None  # the title the file states; None: guessed from the text
    format: str  # "text", "markdown" or structure.STRUCTURED: the decision model that answers from it
    structure: dict[str, Any] = field(default_factory=dict)  # the reader's units (BLOCKS_KEY, CODE_KEY)
    credits: dict[str, str] = field(default_factory=dict)  # author, published: the manifest's own win
