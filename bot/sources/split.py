"""Split documents into heading-aware passages of whole sentences, keeping character offsets.

Markdown block structure (headings, paragraphs, list items) comes from markdown-it-py; only
its line map is used, so every sentence is an exact slice of the document text.
"""
from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from typing import Iterator

from markdown_it import MarkdownIt

from bot.model import Document, Passage, Sentence
from bot.sources import structure
from bot.sources.readers import text_heading

_MD = MarkdownIt("commonmark")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_PARAGRAPH = re.compile(r"(?:[^\S\n]*\S[^\n]*(?:\n|\Z))+")
_TRAILING_HASHES = re.compile(r"\s+#+\s*$")

# Words that end with a period without ending a sentence. "etc." ends one when a capital follows.
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs cf al approx fig figs no nos mr mrs ms dr prof st jr sr inc ltd co corp dept "
    "est min max vol eq eqs ref refs sec ch pp p ed eds a.m p.m u.s u.k ph.d b.sc m.sc".split()
)
_SOFT_ABBREVIATIONS = frozenset({"etc", "inc", "ltd", "co", "corp", "al"})
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


@dataclass(frozen=True)
class Block:
    """A paragraph or list item: its span in the text and its heading path. ``whole``: a unit
    that is never cut into sentences (a code block, a table row, a short list item)."""

    start: int
    end: int
    headings: tuple[str, ...]
    bullet: bool
    whole: bool = False


_NEXT_CHAR = re.compile(r"\s*(\S)")
_NEWLINE = re.compile(r"\n")


def split_sentences(text: str, offset: int = 0, bullet: bool = False) -> list[Sentence]:
    """Split a paragraph into sentences with absolute offsets (``offset`` + index in ``text``)."""
    out: list[Sentence] = []
    begin = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        nm = _NEXT_CHAR.match(text, end)
        if nm is None:
            break
        nxt = nm.group(1)
        if not (nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘([*-•"):
            continue  # "e.g. the", "3.5 million", lower-case continuation
        if text[m.start()] == ".":
            word = _WORD_BEFORE.search(text, max(begin, m.start() - 40), m.start())
            if word and (word.start() > max(begin, m.start() - 40) or word.start() == begin):
                w = word.group(1).lower().rstrip(".")
                if w in _ABBREVIATIONS and w not in _SOFT_ABBREVIATIONS:
                    continue
                if len(w) == 1 and word.group(1).isupper():
                    continue  # an initial: "J. Smith"
        out.extend(_sentence(text, begin, end, offset, bullet))
        begin = end
    out.extend(_sentence(text, begin, len(text), offset, bullet))
    return out


def _sentence(text: str, start: int, end: int, offset: int, bullet: bool) -> Iterator[Sentence]:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    yield Sentence(stripped, offset + s, offset + s + len(stripped), bullet)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in _NEWLINE.finditer(text))
    starts.append(len(text))
    return starts


def markdown_blocks(text: str) -> Iterator[Block]:
    """Paragraph and list-item blocks of a Markdown text, each with its heading path.

    A lone top-level ``# Title`` is the document title, not part of heading paths.
    """
    # Headings and blocks of every piece, in order, as four integers each (a heading: 0, level,
    # index of its title; a block: 1, start, end, bullet): a few bytes a block, not Python objects.
    events = array("q")
    titles: list[str] = []
    for offset, chunk in _chunks(text):
        for e in _events(chunk, offset, _MD.parse(_shallow_quotes(chunk))):  # one piece's tokens at a time
            if e[0] == 0:
                titles.append(e[2])
                events.extend((0, e[1], len(titles) - 1, 0))
            else:
                events.extend((1, e[1], e[2], 1 if e[3] else 0))
    h1_count = sum(1 for i in range(0, len(events), 4) if events[i] == 0 and events[i + 1] == 1)
    stack: list[tuple[int, str]] = []
    for i in range(0, len(events), 4):
        kind, a, b, c = events[i : i + 4]
        if kind == 0:
            while stack and stack[-1][0] >= a:
                stack.pop()
            if not (a == 1 and h1_count == 1):
                stack.append((a, titles[b]))
        else:
            yield Block(a, b, tuple(h for _, h in stack), bool(c))


# markdown-it stops at 20 levels of nesting and silently drops what is deeper; quote markers past
# the tenth are read as spaces (same length, so every offset still points into the real text).
_DEEP_QUOTE = re.compile(r"^((?:[ \t]*>){10})((?:[ \t]*>)+)", re.M)


def _shallow_quotes(text: str) -> str:
    if ">" not in text:
        return text
    return _DEEP_QUOTE.sub(lambda m: m.group(1) + m.group(2).replace(">", " "), text)


# Large Markdown documents are parsed in pieces of about 250 KB cut at blank lines outside code
# fences: the token list of a whole 12 MB file of short paragraphs took about 0.8 GB at once.
CHUNK_CHARS = 250_000
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)


def _chunks(text: str, size: int | None = None) -> Iterator[tuple[int, str]]:
    size = size or CHUNK_CHARS
    pos, n = 0, len(text)
    while pos < n:
        end = n if n - pos <= size else text.rfind("\n\n", pos + size // 2, pos + size)
        if end <= pos:
            end = text.find("\n\n", pos + size)
            end = n if end < 0 else end
        while end < n and len(_FENCE.findall(text, pos, end)) % 2:  # inside a fence: cut after it
            close = _FENCE.search(text, end)
            nxt = text.find("\n\n", close.end()) if close else -1
            end = n if nxt < 0 else nxt
        if end < n:
            end += 2
        yield pos, text[pos:end]
        pos = end


def markdown_pieces(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece) of a Markdown text cut where a parser can start again (``_chunks``), each
    with quote markers past the tenth level read as spaces (``_shallow_quotes``)."""
    for offset, chunk in _chunks(text):
        yield offset, _shallow_quotes(chunk)


def _events(text: str, offset: int, tokens: list) -> list[tuple]:
    """The headings and blocks of one parsed piece, in order, as small tuples (the tokens go)."""
    lines = _line_starts(text)
    out: list[tuple] = []
    depth_list = 0
    skip_until_close: str | None = None
    for i, tok in enumerate(tokens):
        if skip_until_close:
            if tok.type == skip_until_close:
                skip_until_close = None
            continue
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            depth_list += 1
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            depth_list -= 1
        elif tok.type == "heading_open":
            out.append((0, int(tok.tag[1]), _TRAILING_HASHES.sub("", tokens[i + 1].content).strip()))
            skip_until_close = "heading_close"
        elif tok.map and tok.type in ("paragraph_open", "html_block", "code_block", "fence"):
            a, b = tok.map
            start, end = lines[min(a, len(lines) - 1)], lines[min(b, len(lines) - 1)]
            bullet = depth_list > 0
            if bullet:
                m = _LIST_MARKER.match(text, start)
                if m and m.end() <= end:
                    start = m.end()
            seg = text[start:end]
            lead = len(seg) - len(seg.lstrip())
            trail = len(seg) - len(seg.rstrip())
            if seg.strip():
                out.append((1, offset + start + lead, offset + end - trail, bullet))
            if tok.type == "paragraph_open":
                skip_until_close = "paragraph_close"
    return out


# A plain-text FAQ entry's question: "Q: ...", "Q. ...", "Question 3: ..." (the marker), or a
# paragraph that is one question of at most FAQ_QUESTION_WORDS words.
_Q_MARKER = re.compile(r"(?:Q|Question)\s*\d*\s*[:.)]\s+", re.I)
_A_MARKER = re.compile(r"(?:A|Answer)\s*[:.)]\s+", re.I)
FAQ_QUESTION_WORDS = 60
FAQ_MIN_ENTRIES = 3  # a document holds at least this many questions before they head entries


def _faq_questions(runs: list[tuple[int, str]]) -> set[int]:
    """The runs that are FAQ questions, each heading the paragraphs after it (its answer). A
    document is read this way only when it has ``FAQ_MIN_ENTRIES`` such questions: marked ones
    ("Q:" lines, when the document marks its questions), else paragraphs that are a single short
    question followed by a paragraph that is not one (a prose text's rhetorical question rarely
    stands alone three times)."""
    marked = {n for n, (_, seg) in enumerate(runs) if _Q_MARKER.match(seg.lstrip())}
    if len(marked) >= FAQ_MIN_ENTRIES:
        return marked

    def alone(n: int) -> bool:
        seg = runs[n][1].strip()
        words = seg.split()
        return (0 < len(words) <= FAQ_QUESTION_WORDS and seg.endswith("?")
                and not any(seg[:-1].rstrip().endswith(c) for c in ".!?"))

    found = {n for n in range(len(runs) - 1) if alone(n) and not alone(n + 1)}
    return found if len(found) >= FAQ_MIN_ENTRIES else set()


def _question_end(text: str, start: int, end: int) -> tuple[int, int | None]:
    """Where an FAQ question paragraph's question ends, and where an answer in the same paragraph
    starts (None when it holds none): at a line marked "A:", else at an unindented line after the
    first line that ends with "?"; a question paragraph with neither is all question (an indented
    line after the "?" goes on with the question)."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[start:end])]
    for k, (a, _) in enumerate(lines):
        if k and _A_MARKER.match(text, start + a):
            return start + lines[k - 1][1], start + a
    for k, (a, b) in enumerate(lines):
        if text[start + a:start + b].rstrip().endswith("?"):
            rest = [x for x in lines[k + 1:] if text[start + x[0]:start + x[1]].strip()]
            if not rest or text[start + rest[0][0]] in " \t":
                return end, None  # nothing after it, or an indented line: the question goes on
            return start + b, start + rest[0][0]
    return end, None


def text_blocks(text: str, title: str | None = None) -> Iterator[Block]:
    """Blank-line separated paragraphs of a plain-text document. A heading line (``text_heading``)
    that stands alone before a paragraph, or opens one, heads the paragraphs after it; a first
    line equal to ``title`` is the document's title and heads nothing, as a lone Markdown H1.
    In an FAQ (``_faq_questions``), each question heads the paragraphs of its answer, under the
    section it sits in, so an entry is a unit of its own: its answer is quoted, not its question."""
    runs = [(m.start(), m.group(0)) for m in _PARAGRAPH.finditer(text)]  # runs of non-blank lines
    questions = _faq_questions(runs)
    heading: tuple[str, ...] = ()
    entry: tuple[str, ...] = ()
    for n, (at, seg) in enumerate(runs):
        lead = len(seg) - len(seg.lstrip())
        start, end = at + lead, at + len(seg.rstrip())
        if n in questions:
            head_end, body = _question_end(text, start, end)
            marker = _Q_MARKER.match(text, start)
            entry = (" ".join(text[marker.end() if marker else start:head_end].split()),)
            if body is None:
                continue
            start = body  # the answer shares the question's paragraph ("Q: ...?" then "A: ..." on the next line)
        first, _, rest = text[start:end].partition("\n")
        if text_heading(first):
            if n == 0 and title is not None and first.strip() == title.strip():
                if not rest.strip():
                    continue
            elif rest.strip() or n + 1 < len(runs):
                heading, entry = (first.strip(),), ()
                if not rest.strip():
                    continue
            if rest.strip():
                start += len(first) + 1
                start += len(text[start:end]) - len(text[start:end].lstrip())
        if entry:
            marker = _A_MARKER.match(text, start)
            if marker and marker.end() < end:
                start = marker.end()  # "A:" marks the answer; it is not part of it
        yield Block(start, end, heading + entry, False)


def structured_blocks(doc: Document) -> Iterator[Block] | None:
    """The blocks a structured reader recorded (``structure``), or None when there are none."""
    blocks = structure.decode(doc.metadata.get(structure.BLOCKS_KEY) or [], len(doc.text))
    if not blocks:
        return None
    return (Block(u.start, u.end, u.headings, u.kind in _BULLETED, u.kind in _WHOLE)
            for u in structure.units(doc.text, blocks))


_BULLETED = (structure.ITEM, structure.ROW, structure.CODE)
_WHOLE = (structure.ROW, structure.CODE)


def blocks_for(doc: Document) -> Iterator[Block]:
    fmt = doc.metadata.get("format") if doc.metadata else None
    if fmt == structure.STRUCTURED or (doc.metadata and structure.BLOCKS_KEY in doc.metadata):
        found = structured_blocks(doc)
        if found is not None:
            return found
    if fmt == "markdown" or (fmt is None and doc.source.lower().endswith((".md", ".markdown"))):
        return markdown_blocks(doc.text)
    return text_blocks(doc.text, doc.title)


CODE_LINES = 30  # a longer code block is quoted in pieces of this many lines


def _sentences_of(doc: Document, block: Block) -> list[Sentence]:
    piece = doc.text[block.start : block.end]
    if block.whole:  # a code block or a table row: a unit (a long code block in pieces of whole lines)
        if piece.count("\n") < CODE_LINES:
            return [Sentence(piece, block.start, block.end, True)]
        out, at = [], block.start
        lines = piece.split("\n")
        for k in range(0, len(lines), CODE_LINES):
            chunk = "\n".join(lines[k:k + CODE_LINES])
            out.append(Sentence(chunk, at, at + len(chunk), True))
            at += len(chunk) + 1
        return [x for x in out if x.text.strip()]
    if block.bullet and len(piece.split()) <= 60:  # a list item is one unit unless it is long
        return [Sentence(piece, block.start, block.end, True)]
    return split_sentences(piece, block.start, block.bullet)


def split_document(doc: Document, max_words: int = 120, first_id: int = 0,
                   documentation_words: int | None = None) -> list[Passage]:
    """Cut a document into passages: never across sections, at sentence boundaries.

    A section that fits in ``max_words`` is one passage; a longer one is cut at paragraph
    boundaries where it can, at sentence boundaries where it must. ``documentation_words``:
    the limit instead of ``max_words`` for documentation (``structure.is_documentation``).
    """
    if documentation_words is not None and structure.is_documentation(doc.metadata, doc.source):
        max_words = documentation_words
    passages: list[Passage] = []

    def emit(headings: tuple[str, ...], chunk: list[Sentence], first: bool) -> None:
        start, end = chunk[0].start, chunk[-1].end
        passages.append(
            Passage(first_id + len(passages), doc.id, headings, doc.text[start:end], start, end,
                    tuple(chunk), first)
        )

    # Paragraphs are fed one at a time and passages emitted as soon as they are full: only the
    # passage being filled holds Sentence objects (a long section without headings is cut as it
    # streams by, not after it was read whole).
    chunk: list[Sentence] = []
    words = 0  # words in chunk
    first = True
    headings: tuple[str, ...] | None = None
    for block in blocks_for(doc):
        para = _sentences_of(doc, block)
        if not para:
            continue
        if block.headings != headings:
            if chunk and headings is not None:
                emit(headings, chunk, first)
            headings, chunk, words, first = block.headings, [], 0, True
        counts = [len(sent.text.split()) for sent in para]
        if chunk and words + sum(counts) > max_words:
            emit(headings, chunk, first)
            chunk, words, first = [], 0, False
        for sent, n in zip(para, counts):
            if chunk and words + n > max_words:
                emit(headings, chunk, first)
                chunk, words, first = [], 0, False
            chunk.append(sent)
            words += n
    if chunk and headings is not None:
        emit(headings, chunk, first)
    return passages
