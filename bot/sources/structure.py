"""A document read as its own units: clean text (no markup) plus the list of blocks it is made of.

Readers of structured formats (documentation HTML, man pages) do not hand the splitter Markdown:
Markdown would put escapes, emphasis marks and code fences into the text quotes are cut from.
They build the document with :class:`Builder` instead: each heading, paragraph, list item, code
block, definition term, option entry or table row is appended as plain text, separated by blank
lines, and recorded as a block (kind, level, start, end). The blocks travel with the document as
``metadata["_blocks"]`` (a flat list of integers, packed into a string: ``pack``; saved with the index
like other metadata) and
the splitter turns them into passages: a heading, a definition term and an option tag head the
blocks that follow them, so an FAQ entry, a term with its definition and an option with its
description each become a unit of their own.

Metadata keys starting with "_" are the reader's, never shown as document metadata.
"""
from __future__ import annotations

import base64
import binascii
import bisect
import re
import sys
import zlib
from array import array
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

STRUCTURED = "structured"  # the document format of texts built here
BLOCKS_KEY = "_blocks"
CODE_KEY = "_code"  # inline code inside prose (a command, an option, a file name): start, end, ...


def is_documentation(metadata: dict | None, source: str) -> bool:
    """Whether a document reads as documentation rather than an article, for the answer decision
    (documentation has weights and an operating point of its own): a structured document (man
    page, documentation HTML), plain text (FAQs, READMEs, manuals as shipped) or a PDF (manuals);
    Markdown and article HTML read as prose."""
    fmt = (metadata or {}).get("format")
    return fmt in (STRUCTURED, "text") or source.lower().endswith(".pdf")

# Block kinds. A heading (with its level) opens a section; a "key" (definition term, option tag)
# opens a unit one level below the current heading and heads the blocks after it up to the next
# heading or key of the same or a higher level; the rest are content.
HEADING, KEY, PARAGRAPH, ITEM, CODE, ROW = range(6)
KIND_NAMES = ("heading", "key", "paragraph", "item", "code", "row")
_WS = re.compile(r"[ \t\r\f\v]+")
_U32 = next(t for t in "IL" if array(t).itemsize == 4)  # offsets: 32-bit unsigned (a document is at most 1 GB)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Block:
    kind: int
    level: int  # headings and keys: their depth (1 = top); others: 0
    start: int
    end: int


class Builder:
    """Appends blocks of clean text; ``build()`` gives the text and its blocks."""

    def __init__(self) -> None:
        # compact: a large Markdown file has hundreds of thousands of blocks; a Block object and
        # a string for each took more memory than the text itself
        self._done: list[str] = []  # text of earlier blocks, joined a few thousand at a time
        self._parts: list[str] = []  # the latest blocks' texts
        self._last = ""
        self._built: str | None = None
        self._n = 0
        self._at = 0
        self._flat = array(_U32)  # kind, level, start, end of each block
        self._code = array(_U32)  # inline code spans: start and end in the text, in order
        self.blocks = BlockList(self._flat)

    def add_inline(self, kind: int, pieces: Sequence[tuple[str, bool]], level: int = 0) -> None:
        """One block of prose made of pieces, each (text, is inline code): folded to single
        spaces as ``add`` folds it, the code pieces' spans recorded (``code``)."""
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        at = 0
        for text, code in pieces:
            folded = _SPACES.sub(" ", text)
            if folded.startswith(" ") and (not out or out[-1].endswith(" ")):
                folded = folded[1:]
            if not folded:
                continue
            if code and folded.strip():
                lead = len(folded) - len(folded.lstrip(" "))
                spans.append((at + lead, at + len(folded.rstrip(" "))))
            out.append(folded)
            at += len(folded)
        body = "".join(out)
        lead = len(body) - len(body.lstrip(" "))
        body = body.strip(" ")
        if not body:
            return
        start = self._at + (2 if self._n else 0)  # where add() puts it
        self.add(kind, body, level)
        for a, b in spans:
            a, b = max(a - lead, 0), min(b - lead, len(body))
            if a < b:
                self._code.extend((start + a, start + b))

    def add(self, kind: int, text: str, level: int = 0) -> None:
        """One block. Prose is folded to single spaces; code keeps its lines (trailing spaces go)."""
        if kind == CODE:
            lines = [line.rstrip() for line in text.replace("\t", "    ").split("\n")]
            while lines and not lines[0].strip():
                lines.pop(0)
            while lines and not lines[-1].strip():
                lines.pop()
            body = "\n".join(_dedent(lines))
            body = re.sub(r"\n{2,}", "\n", body)  # a blank line inside code would read as a block break
        else:
            body = _SPACES.sub(" ", text).strip()
        if not body:
            return
        if self._n:
            self._at += 2  # the blank line before it
        self._flat.extend((kind, level, self._at, self._at + len(body)))
        self._parts.append(body)
        self._last = body
        self._n += 1
        self._at += len(body)
        if len(self._parts) >= 4096:
            self._done.append("\n\n".join(self._parts))
            self._parts.clear()

    def text_of(self, k: int) -> str:
        """The text of block ``k`` (negative counts from the end)."""
        if k == -1 and self._n:
            return self._last
        b = self.blocks[k]
        return self._text()[b.start:b.end]

    def _text(self) -> str:
        if self._built is not None:
            return self._built[:-1]
        return "\n\n".join(x for x in (*self._done, "\n\n".join(self._parts)) if x)

    def empty(self) -> bool:
        return not self._n

    @property
    def code(self) -> Sequence[int]:
        """Inline code spans (``add_inline``): start, end, ... in the text."""
        return self._code

    def build(self) -> tuple[str, Sequence[int]]:
        """The text and its blocks (kind, level, start, end, ...; ``pack`` them for metadata)."""
        pieces = [*self._done, "\n\n".join(self._parts)] if self._parts else self._done
        out: list[str] = []
        for piece in pieces:
            out += ["\n\n", piece] if out else [piece]
        text = "".join([*out, "\n"])  # one copy of the text (a large file's is megabytes)
        self._done, self._parts, self._built = [], [], text
        return text, self._flat


class BlockList(Sequence):
    """Blocks read from their flat list of integers (kind, level, start, end, ...) as they are
    asked for: a large document's hundreds of thousands of blocks are never all objects at once."""

    def __init__(self, flat: Sequence[int]) -> None:
        self._flat = flat

    @property
    def flat(self) -> Sequence[int]:
        """The integers themselves: kind, level, start, end of each block in turn."""
        return self._flat

    def __len__(self) -> int:
        return len(self._flat) // 4

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        n = k if k >= 0 else len(self) + k
        if not 0 <= n < len(self):
            raise IndexError(k)
        f = self._flat
        return Block(f[4 * n], f[4 * n + 1], f[4 * n + 2], f[4 * n + 3])

    def __iter__(self) -> Iterator[Block]:  # not Sequence's, which asks for each index until IndexError
        f = self._flat
        return (Block(f[i], f[i + 1], f[i + 2], f[i + 3]) for i in range(0, 4 * len(self), 4))


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(x) - len(x.lstrip(" ")) for x in lines if x.strip()]
    cut = min(indents) if indents else 0
    return [x[cut:] for x in lines]


# Offsets in a document's metadata are packed into a string: 32-bit little-endian words,
# compressed (zlib), in base64. A large Markdown file's 1.4 million block offsets took 31 MB as
# a list of Python integers, 1.9 MB so. A list (what earlier versions saved) is read as well.
def pack(values: Sequence[int]) -> str:
    """Offsets (0 <= value < 2**32) as a compact string for a document's metadata."""
    a = values if isinstance(values, array) and values.typecode == _U32 else array(_U32, values)
    if sys.byteorder == "big":
        a = array(_U32, a)
        a.byteswap()
    return base64.b64encode(zlib.compress(a.tobytes(), 6)).decode("ascii")


def unpack(value: object, most: int | None = None) -> Sequence[int] | None:
    """The offsets ``pack`` wrote (or a list of them), at most ``most`` of them; None when the
    value is not such (damaged, or more than ``most``)."""
    if isinstance(value, (list, tuple, array)):
        return value if most is None or len(value) <= most else None
    if not isinstance(value, str):
        return None
    try:
        z = zlib.decompressobj()
        raw = z.decompress(base64.b64decode(value, validate=True), 4 * most if most is not None else 0)
    except (ValueError, binascii.Error, zlib.error):
        return None
    if z.unconsumed_tail or not z.eof or len(raw) % 4:
        return None  # more than ``most`` offsets, or cut short
    a = array(_U32)
    a.frombytes(raw)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def decode_spans(flat: object, text_length: int) -> list[tuple[int, int]]:
    """Inline code spans stored in a document's metadata (``CODE_KEY``), checked against its
    text: in order, inside it, not overlapping (a damaged list gives none)."""
    flat = unpack(flat, 2 * text_length)
    if flat is None or len(flat) % 2:
        return []
    out: list[tuple[int, int]] = []
    last = 0
    for i in range(0, len(flat), 2):
        a, b = flat[i], flat[i + 1]
        if not (isinstance(a, int) and isinstance(b, int) and last <= a < b <= text_length):
            return []
        out.append((a, b))
        last = b
    return out


def decode(flat: object, text_length: int) -> Sequence[Block]:
    """The blocks stored in a document's metadata (``pack``), checked against its text (a
    damaged list gives no blocks, and the splitter then reads the text as plain paragraphs)."""
    flat = unpack(flat, 4 * text_length)
    if flat is None or len(flat) % 4:
        return []
    if not flat:
        return BlockList(flat)
    if not isinstance(flat, array) and set(map(type, flat)) != {int}:  # (an array holds only ints)
        return []
    try:  # checked a column at a time (a large document has hundreds of thousands of blocks);
        # a level may be any int, a kind or an offset too large for int64 is wrong anyway
        kind, start, end = (np.asarray(flat[k::4], dtype=np.int64) for k in (0, 2, 3))
    except OverflowError:
        return []
    # each block a known kind, inside the text, not empty, and after the one before it
    if not ((kind >= 0) & (kind < len(KIND_NAMES)) & (start < end) & (end <= text_length)).all() \
            or start[0] < 0 or bool((start[1:] < end[:-1]).any()):
        return []
    return BlockList(flat)


@dataclass(frozen=True)
class Unit:
    """A content block with the heading path it sits under (keys included)."""

    start: int
    end: int
    headings: tuple[str, ...]
    kind: int


def units(text: str, blocks: Sequence[Block]) -> Iterator[Unit]:
    """Content blocks with their heading paths. A lone level-1 heading is the title, not a path
    part; a key with nothing under it (a term without a definition) is content itself."""
    top = [b for b in blocks if b.kind == HEADING and b.level == 1]
    stack: list[tuple[int, str]] = []
    for n, b in enumerate(blocks):
        if b.kind in (HEADING, KEY):
            if b.kind == HEADING and b.level == 1 and len(top) == 1:
                stack.clear()
                continue
            level = b.level
            while stack and stack[-1][0] >= level:
                stack.pop()
            nxt = blocks[n + 1] if n + 1 < len(blocks) else None
            if b.kind == KEY and (nxt is None or (nxt.kind in (HEADING, KEY) and nxt.level <= level)):
                yield Unit(b.start, b.end, tuple(h for _, h in stack), ITEM)
                continue
            stack.append((level, text[b.start:b.end]))
            continue
        yield Unit(b.start, b.end, tuple(h for _, h in stack), b.kind)


class DocumentUnits:
    """Documents' structure read on the answer path: what kind of block a quote is (code, a
    table row), the inline code it holds, and whether a passage's heading is a key (an option
    tag, a defined term). Empty for Markdown read as prose and plain text.

    Made from three lookups by document id: its text, its flat blocks (``BLOCKS_KEY``: in a
    document's metadata in memory, a saved index's blocks file) and its inline code spans
    (``CODE_KEY``). Each document's decoded blocks and spans are cached for a few documents."""

    def __init__(self, text: Callable[[str], str], blocks: Callable[[str], object],
                 code: Callable[[str], object]) -> None:
        self._text, self._flat_blocks, self._flat_code = text, blocks, code
        self._blocks: dict[str, tuple[list[int], Sequence[Block]]] = {}
        self._code: dict[str, list[tuple[int, int]]] = {}

    def blocks_of(self, doc_id: str) -> tuple[list[int], Sequence[Block]]:
        """A document's blocks and their starts (read when first asked for)."""
        got = self._blocks.get(doc_id)
        if got is None:
            text = self._text(doc_id)
            blocks = decode(self._flat_blocks(doc_id) or [], len(text))
            if len(self._blocks) > 256:
                self._blocks.clear()
            flat = getattr(blocks, "flat", None)  # the starts without a Block object each
            got = self._blocks[doc_id] = (list(flat[2::4]) if flat is not None else [b.start for b in blocks], blocks)
        return got

    def code_in(self, doc_id: str, start: int, end: int) -> list[tuple[int, int]]:
        """The inline code spans (a command, an option, a file name inside prose) of a document
        that overlap ``start``..``end``, cut to it."""
        spans = self._code.get(doc_id)
        if spans is None:
            text = self._text(doc_id)
            spans = decode_spans(self._flat_code(doc_id) or [], len(text))
            if len(self._code) > 256:
                self._code.clear()
            self._code[doc_id] = spans
        k = bisect.bisect_right(spans, (start, start)) - 1
        out = []
        for a, b in spans[max(k, 0):]:
            if a >= end:
                break
            if b > start:
                out.append((max(a, start), min(b, end)))
        return out

    def block_at(self, doc_id: str, offset: int) -> Block | None:
        """The block of a document that holds ``offset`` (None for a document without blocks)."""
        starts, blocks = self.blocks_of(doc_id)
        k = bisect.bisect_right(starts, offset) - 1
        if k >= 0 and blocks[k].start <= offset < blocks[k].end:
            return blocks[k]
        return None

    def key_of(self, passage) -> str | None:
        """A passage's leaf heading when it is a key (an option tag, a defined term, an FAQ-free
        label the document gives the unit), not a section heading; None otherwise. ``passage``:
        anything with ``doc_id``, ``start`` and ``headings`` (a ``bot.model.Passage``)."""
        if not passage.headings:
            return None
        starts, blocks = self.blocks_of(passage.doc_id)
        k = bisect.bisect_right(starts, passage.start) - 1
        text = self._text(passage.doc_id)
        while k >= 0:
            b = blocks[k]
            if b.kind in (HEADING, KEY):
                return passage.headings[-1] if b.kind == KEY and text[b.start:b.end] == passage.headings[-1] else None
            k -= 1
        return None
