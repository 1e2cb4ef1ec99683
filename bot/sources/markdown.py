"""Markdown read as its structure: the text a reader sees, with its headings, items, code and rows.

Quotes are cut from a document's text, so a Markdown file's text must be what its reader sees, not
its source: ``**read**`` is "read", ``lsb\\_release`` is "lsb_release", ``[the guide](guide.md)``
is "the guide", a footnote marker ``[^2]`` is nothing. markdown-it-py parses the file (CommonMark
with tables and strikethrough) and its tokens become ``structure.Builder`` blocks, as
``htmldoc`` does for documentation pages:

- headings are headings; a paragraph that is all bold ("**How do I reset it?**") is a key heading
  what follows it, as in documentation HTML;
- list items are items (a list whose every item is only a link to a section of the same page, a
  table of contents, is dropped); fenced and indented code is code, kept verbatim; table rows are
  rows, the header row first; block quotes and HTML blocks give their text;
- inline code keeps its characters (no backticks); emphasis, link syntax, images, inline HTML
  tags and footnote markers go; their text stays.

YAML front matter (``---`` / ``title: ...`` / ``---``, which static site generators read) gives
the title and its description, and is not text.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from bot.config import CorpusError
from bot.sources import split
from bot.sources.readers import LoadReport, Read, read_text
from bot.sources.structure import (BLOCKS_KEY, CODE, CODE_KEY, HEADING, ITEM, KEY, PARAGRAPH, ROW, STRUCTURED,
                                   Builder)


def _parser() -> MarkdownIt:
    """CommonMark with tables and strikethrough, as markdown-it parses it."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


_MD = _parser()
# Where an inline rule of ``_MD`` can start (newline, escape, backticks, strikethrough, emphasis,
# link and image, autolink and inline HTML, entity): a run holding none of these parses to one text
# token, its content; ``test_markdown`` checks every character against the full parse.
_INLINE_SYNTAX = re.compile(r"[\n\\`~*_\[<&]")
# An underscore between two ASCII letters or digits (snake_case_name) can neither open nor close
# emphasis (CommonMark's intraword rule for "_"): the parse gives the run its one text token all the same.
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])_+(?=[A-Za-z0-9])")


def _plain(run: str) -> bool:
    """Whether markdown-it parses ``run`` to one text token holding it."""
    if not _INLINE_SYNTAX.search(run):
        return True
    return "_" in run and not _INLINE_SYNTAX.search(_INTRAWORD_UNDERSCORE.sub("", run))


def _inline(state: StateCore) -> None:
    """markdown-it's core ``inline`` rule, with plain runs given their one text token directly:
    most runs of prose hold no inline syntax, and the inline tokenizer was a third of the parse."""
    for token in state.tokens:
        if token.type != "inline":
            continue
        if token.children is None:
            token.children = []
        if token.content and _plain(token.content):
            text = Token("text", "", 0)
            text.content = token.content
            token.children.append(text)
        else:
            state.md.inline.parse(token.content, state.md, state.env, token.children)


_MD.core.ruler.at("inline", _inline)
_FRONT_MATTER = re.compile(r"\A[ \t]*---[ \t]*\n((?:[^\n]*\n){0,200}?)(?:---|\.\.\.)[ \t]*(?:\n|\Z)")
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]{1,40}\](?::[ \t]*)?")
_FOOTNOTE_MARK = re.compile(r"^\s*\[?\s*(?:\d{1,3}|[a-z]|\*|†)\s*\]?\s*$")
_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][\w-]*)")
_WS = re.compile(r"\s+")


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """(the front matter's ``key: value`` pairs, the text after it): a block between ``---``
    lines at the very top whose lines are YAML keys (or their indented continuations)."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    pairs: dict[str, str] = {}
    for line in m.group(1).split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _FRONT_KEY.match(line)
        if found:
            pairs[found.group(1).lower()] = found.group(2).strip().strip("\"'")
        elif not line[:1].isspace() and not line.lstrip().startswith("- "):
            return {}, text  # not front matter: a horizontal rule and a paragraph
    if not pairs:
        return {}, text
    return pairs, text[m.end():]


class _Reader:
    def __init__(self) -> None:
        self.b = Builder()
        self.level = 0  # the current heading level
        self.items: list[bool] = []  # per open list item: whether its first paragraph was read

    def read(self, tokens: Sequence[Any]) -> None:
        i, n = 0, len(tokens)
        while i < n:
            tok = tokens[i]
            t = tok.type
            if t == "heading_open":
                text = inline_text(tokens[i + 1])
                if text:
                    self.level = int(tok.tag[1])
                    self.b.add(HEADING, text, self.level)
                i += 3
                continue
            if t == "paragraph_open":
                inline = tokens[i + 1]
                text = inline_text(inline)
                if text:
                    if self.items and not self.items[-1]:
                        self.items[-1] = True
                        self.b.add_inline(ITEM, inline_pieces(inline))
                    elif not self.items and _bold_only(inline) and len(text.split()) <= 25:
                        self.b.add(KEY, text, self.level + 1)  # an FAQ's question, a term set in bold
                    else:
                        self.b.add_inline(PARAGRAPH, inline_pieces(inline))
                i += 3
                continue
            if t in ("fence", "code_block"):
                self.b.add(CODE, tok.content)
            elif t == "html_block":
                text = _html_text(tok.content)
                if text:
                    self.b.add(PARAGRAPH, text)
            elif t in ("bullet_list_open", "ordered_list_open"):
                end = _close(tokens, i)
                if _link_list(tokens[i:end]):
                    i = end + 1  # a table of contents: links to this page's own sections
                    continue
            elif t == "list_item_open":
                self.items.append(False)
            elif t == "list_item_close":
                self.items.pop()
            elif t == "table_open":
                end = _close(tokens, i)
                self._table(tokens[i:end])
                i = end + 1
                continue
            i += 1

    def _table(self, tokens: Sequence[Any]) -> None:
        cells: list[str] = []
        for tok in tokens:
            if tok.type == "inline":
                cells.append(inline_text(tok))
            elif tok.type == "tr_close":
                row = [c for c in cells if c]
                if row:
                    self.b.add(ROW, " | ".join(row))
                cells = []


def _close(tokens: Sequence[Any], i: int) -> int:
    """The index of the token closing the one at ``i`` (same nesting level)."""
    level = tokens[i].level
    closing = tokens[i].type.replace("_open", "_close")
    for j in range(i + 1, len(tokens)):
        if tokens[j].type == closing and tokens[j].level == level:
            return j
    return len(tokens) - 1


def _link_list(tokens: Sequence[Any]) -> bool:
    """A list of three or more items, each only links to anchors of this page (``#section``)."""
    items = 0
    for tok in tokens:
        if tok.type == "list_item_open":
            items += 1
        if tok.type != "inline":
            continue
        inside = 0
        for child in tok.children or ():
            if child.type == "link_open":
                if not (child.attrs.get("href") or "").startswith("#"):
                    return False
                inside += 1
            elif child.type == "link_close":
                inside -= 1
            elif child.type in ("text", "code_inline") and not inside and child.content.strip():
                return False
    return items >= 3


def _bold_only(inline: Any) -> bool:
    """All of a paragraph's text is inside strong emphasis."""
    depth, bold = 0, False
    for child in inline.children or ():
        if child.type == "strong_open":
            depth += 1
        elif child.type == "strong_close":
            depth -= 1
        elif child.type in ("text", "code_inline") and child.content.strip():
            if not depth:
                return False
            bold = True
    return bold


def inline_pieces(inline: Any) -> list[tuple[str, bool]]:
    """What a reader sees of an inline run, as (text, is inline code) pieces: text and code
    spans as written, line breaks as spaces; emphasis, link and image syntax, inline HTML tags
    and footnote markers gone."""
    out: list[tuple[str, bool]] = []
    sup: list[tuple[str, bool]] | None = None  # inside <sup>...</sup>: kept unless a footnote marker
    for child in inline.children or ():
        t = child.type
        if t in ("text", "code_inline"):
            piece = (child.content, True) if t == "code_inline" else (_FOOTNOTE_REF.sub("", child.content), False)
            (sup if sup is not None else out).append(piece)
        elif t in ("softbreak", "hardbreak"):
            out.append((" ", False))
        elif t == "html_inline":
            tag = _TAG.match(child.content)
            if tag and tag.group(2).lower() == "sup":
                if not tag.group(1):
                    sup = []
                elif sup is not None:
                    if not _FOOTNOTE_MARK.match("".join(x for x, _ in sup)):
                        out.extend(sup)
                    sup = None
            elif tag and tag.group(2).lower() == "br":
                out.append((" ", False))
    if sup:
        out.extend(sup)
    return out


def inline_text(inline: Any) -> str:
    """What a reader sees of an inline run (``inline_pieces``), whitespace folded."""
    return _WS.sub(" ", "".join(x for x, _ in inline_pieces(inline))).strip()


def _html_text(html: str) -> str:
    """The text of an HTML block inside Markdown (comments and scripts give none; the text after a
    script's end on its line does: a block that starts with a script runs to that line's end)."""
    if not html.strip() or html.lstrip().startswith(("<!--", "<?", "<!")):
        return ""
    import lxml.html

    try:
        # parsed as a document, not wrapped in one (``fragment_fromstring``): a textarea or title
        # left open (CommonMark runs such a block to the document's end) took the wrapper's own
        # "</body></html>" as its text
        root = lxml.html.document_fromstring(html)
    except (ValueError, TypeError, AssertionError, IndexError, lxml.etree.ParserError):  # nothing in it ("<html>" alone)
        return ""
    for el in root.xpath(".//script|.//style|.//noscript|.//template"):  # what the HTML reader drops too
        el.drop_tree()
    return _WS.sub(" ", root.text_content() or "").strip()


def read_markdown(text: str) -> tuple[str, list[int], str | None, bool, list[int]] | None:
    """(reader-visible text, blocks, title, documentation, inline code spans) of a Markdown
    document, or None when it has no text. The title is the front matter's, else the document's first level-1 heading.
    ``documentation``: a page of a documentation site, not an article: it has front matter (what
    site generators read) or code blocks, as ``htmldoc.is_documentation`` tells documentation
    HTML by its generator and its code blocks."""
    meta, body = front_matter(text)
    r = _Reader()
    if meta.get("description"):
        r.b.add(PARAGRAPH, meta["description"])
    for _, piece in split.markdown_pieces(body):  # large documents are parsed a piece at a time
        r.read(_MD.parse(piece))
    if r.b.empty():
        return None
    out, flat = r.b.build()
    h1 = [out[b.start:b.end] for b in r.b.blocks if b.kind == HEADING and b.level == 1]
    title = meta.get("title") or (h1[0] if h1 else None)
    documentation = bool(meta) or any(b.kind == CODE for b in r.b.blocks)
    return out, flat, title or None, documentation, r.b.code


def read_markdown_file(path: Path, report: LoadReport) -> Read:
    """A Markdown file: the text its reader sees, with its units; documentation or an article."""
    got = read_markdown(read_text(path))
    if got is None:
        raise CorpusError(f"{path}: the document is empty")
    text, blocks, found, documentation, code = got
    structure: dict[str, Any] = {BLOCKS_KEY: blocks}
    if code:
        structure[CODE_KEY] = code
    # an article keeps the article decision model
    return Read(text, found, STRUCTURED if documentation else "markdown", structure)
