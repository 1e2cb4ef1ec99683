"""HTML documentation (Sphinx, DocBook, the Apache manual, Doxygen-like pages) read as its structure.

An article extractor is made for news and blog pages: on documentation it loses code blocks,
definition lists and tables, or turns them into Markdown whose marks end up in quotes. This
reader walks the page's own DOM instead and builds clean text with its blocks
(``structure.Builder``): headings, paragraphs, list items, ``pre`` blocks kept verbatim as code,
definition terms as keys over their definitions, table rows with their header row. Navigation,
tables of contents, language switchers, permalinks ("¶"), footnote markers and "See also"
boxes are dropped first.

``is_documentation`` tells such a page from an article (which still goes to the extractor).
"""
from __future__ import annotations

import re
from typing import Any

from bot.sources.readers import decode_html, with_body_open, without_xml_declaration
from bot.sources.structure import CODE, HEADING, ITEM, KEY, PARAGRAPH, ROW, Builder

_GENERATORS = re.compile(r"sphinx|docutils|docbook|doxygen|mkdocs|asciidoc|texinfo|javadoc|pandoc|hugo|"
                         r"docusaurus|gitbook|jsdoc|pydoc|rustdoc|godoc", re.I)
# Page furniture of documentation generators, by a whole class name or id (a section's id is a
# slug of its heading, so words inside ids are not looked at: "how-to-set-up-a-path" is content).
_FURNITURE = frozenset("""toc toctree-wrapper quickview toplang bottomlang related sphinxsidebar sphinxsidebarwrapper
    sidebar headerlink permalink footnote-reference fn-backref breadcrumb breadcrumbs nav navbar navigation
    navheader navfooter menu menu-wrapper mobile-nav version_switcher_placeholder language_switcher_placeholder
    inline-search searchbox search footer header page-header path top up clearer seealso see-also edit-link
    editthispage prev-next pager copyright comments skip-link sidebarbutton cookie cookies cookie-banner banner
    contents local-contents table-of-contents footnotes""".split())
_FURNITURE_PREFIX = re.compile(r"^(?:nav|sidebar|breadcrumb|footer|cookie|menu|site)[-_]?(?:bar|wrapper|inner|menu|links?|"
                               r"nav|header|footer|container|area|main|list)?$", re.I)
_ID_TAGS = {"div", "ul", "ol", "nav", "p", "span", "table", "aside", "dl"}  # a section's or heading's id is a slug
_DROP_TAGS = {"script", "style", "noscript", "template", "svg", "button", "form", "nav", "header", "footer",
              "aside", "iframe", "select", "dialog", "input", "label", "head", "img", "map", "object"}
_DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "dialog"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_CONTAINERS = {"div", "section", "article", "main", "body", "blockquote", "center", "figure", "details", "td",
               "th", "span", "font", "header"}
_FOOTNOTE_MARK = re.compile(r"^\s*\[?\s*(?:\d{1,3}|[a-z]|\*|†)\s*\]?\s*$")
_SEE_ALSO = re.compile(r"^\s*see also\b", re.I)
_WS = re.compile(r"\s+")


def is_documentation(root: Any) -> bool:
    """A page made by a documentation generator, or one built like documentation: code blocks,
    definition lists, or many headings without an ``article`` element."""
    for meta in root.iter("meta"):
        if (meta.get("name") or "").lower() == "generator" and _GENERATORS.search(meta.get("content") or ""):
            return True
    if root.find(".//pre") is not None or root.find(".//dl") is not None:
        return True
    n_headings = sum(1 for _ in root.iter("h2", "h3", "h4"))
    return n_headings >= 3 and root.find(".//article") is None


def _furniture(el: Any, page_words: int = 0) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _DROP_TAGS:
        return True
    if (el.get("role") or "").lower() in _DROP_ROLES or (el.get("aria-hidden") or "").lower() == "true":
        return True
    names = [*(el.get("class") or "").split(), el.get("id") or "" if tag in _ID_TAGS else ""]
    if tag not in ("html", "body", "main", "article") and any(
            n.lower() in _FURNITURE or _FURNITURE_PREFIX.match(n) for n in names if n):
        # a class name says furniture, but an element that holds most of the page's words is the
        # page itself (a Sphinx theme's "document clearer body" wraps all the content)
        return not page_words or len((el.text_content() or "").split()) <= page_words // 2
    if tag == "a" and (el.text_content() or "").strip() in ("¶", "#", "§", "🔗"):
        return True  # a permalink
    if tag == "sup" and _FOOTNOTE_MARK.match(el.text_content() or ""):
        return True  # a footnote marker
    return False


def _strip(root: Any) -> None:
    """Remove page furniture, keeping the text that followed each removed element."""
    body = root.find(".//body")
    words = len(((body if body is not None else root).text_content() or "").split())
    drop = [el for el in root.iter() if not isinstance(el.tag, str) or _furniture(el, words)]
    for el in drop:
        parent = el.getparent()
        if parent is None:
            continue
        tail = el.tail
        prev = el.getprevious()
        parent.remove(el)
        if tail:
            if prev is not None:
                prev.tail = (prev.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail


def _main(root: Any) -> Any:
    """The content root: the page's main element when it marks one, else the body."""
    for path in ("//*[@role='main']", "//main", "//*[@id='page-content']", "//*[@class='body']",
                 "//*[@id='content']", "//*[@id='main-content']", "//article"):
        found = next(iter(root.xpath(path)), None)
        if found is not None and len((found.text_content() or "").split()) > 20:
            return found
    body = root.find(".//body")
    return body if body is not None else root


def _bold_only(el: Any) -> bool:
    """All of the element's text is inside bold (``b``, ``strong``) children."""
    if (el.text or "").strip():
        return False
    bold = False
    for child in el:
        if not isinstance(child.tag, str) or (child.tail or "").strip():
            return False
        if child.tag in ("b", "strong"):
            bold = bold or bool(_inline(child))
        elif _inline(child):
            return False
    return bold


def _in_page_toc(el: Any) -> bool:
    """A list whose every item is a link to an anchor of this page (``href="#..."``)."""
    items = [li for li in el if isinstance(li.tag, str) and li.tag == "li"]
    if len(items) < 3:
        return False
    for li in items:
        links = li.findall(".//a")
        if not links or not all((a.get("href") or "").startswith("#") for a in links):
            return False
        if len(_inline(li)) > sum(len(_inline(a)) for a in links) + 12:
            return False
    return True


_CODE_TAGS = {"code", "tt", "kbd", "samp"}


def _pieces(el: Any) -> list[tuple[str, bool]]:
    """An inline element's text as (text, is inline code) pieces: ``code``, ``tt``, ``kbd`` and
    ``samp`` are code, whatever they are nested in."""
    if not isinstance(el.tag, str):
        return []
    if el.tag in _CODE_TAGS:
        return [(el.text_content() or "", True)]
    out = [(el.text or "", False)]
    for child in el:
        out.extend(_pieces(child))
        out.append((child.tail or "", False))
    return out


def _inline(el: Any) -> str:
    """The text of an element, whitespace folded (inline code keeps its characters, no marks)."""
    return _WS.sub(" ", el.text_content() or "").strip()


class _Walker:
    def __init__(self) -> None:
        self.b = Builder()
        self.level = 0  # the current heading level
        self.run: list[tuple[str, bool]] = []  # loose inline text waiting to become a paragraph (text, is code)

    def flush(self) -> None:
        pieces = list(self.run)
        self.run.clear()
        if "".join(x for x, _ in pieces).strip():
            self.b.add_inline(PARAGRAPH, pieces)

    def walk(self, el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _HEADINGS:
            self.flush()
            text = _inline(el)
            if text:
                self.level = _HEADINGS[tag]
                self.b.add(HEADING, text, self.level)
            return
        if tag == "pre":
            self.flush()
            self.b.add(CODE, el.text_content() or "")
            return
        if tag == "p":
            self.flush()
            text = _inline(el)
            if _SEE_ALSO.match(text):
                return
            if _bold_only(el) and len(text.split()) <= 25:
                # a paragraph that is all bold ("(1) How do I create an AUTOINCREMENT field?") is
                # how many FAQs and manuals set a question or a term: it heads what follows
                self.b.add(KEY, text, self.level + 1)
                return
            self._children_with_blocks(el, PARAGRAPH)
            return
        if tag in ("ul", "ol"):
            self.flush()
            if _in_page_toc(el):
                return  # a list of links to this page's own sections: a table of contents
            for li in el:
                if isinstance(li.tag, str) and li.tag == "li":
                    self._children_with_blocks(li, ITEM)
            return
        if tag == "dl":
            self.flush()
            self._definitions(el)
            return
        if tag == "table":
            self.flush()
            self._table(el)
            return
        if tag in ("br", "hr"):
            self.run.append((" ", False))
            return
        if tag in _CONTAINERS or tag == "":
            if el.text:
                self.run.append((el.text, False))
            for child in el:
                self.walk(child)
                if child.tail:
                    self.run.append((child.tail, False))
            if tag in ("div", "section", "article", "main", "blockquote", "figure", "details", "td", "th", "body"):
                self.flush()
            return
        # any other inline element: its text joins the current run
        self.run.extend(_pieces(el))

    def _children_with_blocks(self, el: Any, kind: int) -> None:
        """An element's inline text as one block of ``kind``; block children (a nested list, a
        code block, a paragraph inside a list item) become blocks of their own after it."""
        parts: list[tuple[str, bool]] = [(el.text or "", False)]
        later: list[Any] = []
        for child in el:
            ctag = child.tag if isinstance(child.tag, str) else ""
            if ctag in ("ul", "ol", "pre", "dl", "table", "div", "p", "blockquote") and not (ctag == "p" and not later and not "".join(x for x, _ in parts).strip()):
                later.append(child)
            else:
                if later:
                    later.append(child)
                else:
                    parts.extend(_pieces(child))
                    parts.append((child.tail or "", False))
                    continue
            if child.tail and child.tail.strip():
                later.append(child.tail)
        if "".join(x for x, _ in parts).strip():
            self.b.add_inline(kind, parts)
        for item in later:
            if isinstance(item, str):
                self.run.append((item, False))
            else:
                self.walk(item)
        self.flush()

    def _definitions(self, dl: Any) -> None:
        level = self.level + 1
        for child in dl:
            ctag = child.tag if isinstance(child.tag, str) else ""
            if ctag == "dt":
                text = _inline(child)
                if text:
                    self.b.add(KEY, text, level)
            elif ctag == "dd":
                saved = self.level
                self.level = level
                self._children_with_blocks(child, PARAGRAPH)
                self.level = saved

    def _table(self, table: Any) -> None:
        rows = table.findall(".//tr")
        for tr in rows:
            cells = [_inline(c) for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
            cells = [c for c in cells if c]
            if cells:
                self.b.add(ROW, " | ".join(cells))


def read_html_doc(html: str | bytes) -> tuple[str, list[int], str | None] | None:
    """(clean text, blocks, title) of a documentation page, or None when it is not one (or has no
    text). Bytes are decoded as a browser decodes them (``readers.decode_html``). Inline code
    spans: ``read_html_doc_code``."""
    got = read_html_doc_code(html)
    return got[:3] if got is not None else None


def read_html_doc_code(html: str | bytes) -> tuple[str, list[int], str | None, list[int]] | None:
    """``read_html_doc`` and the page's inline code spans (``structure.CODE_KEY``)."""
    import lxml.html

    html = with_body_open(decode_html(html) if isinstance(html, bytes) else without_xml_declaration(html))
    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, TypeError, lxml.etree.ParserError):
        return None
    if not is_documentation(root):
        return None
    title_el = root.find(".//title")
    _strip(root)
    main = _main(root)
    w = _Walker()
    w.walk(main)
    w.flush()
    if w.b.empty():
        return None
    text, flat = w.b.build()
    h1 = next((text[b.start:b.end] for b in w.b.blocks if b.kind == HEADING and b.level == 1), None)
    title = h1 or (_inline(title_el) if title_el is not None else None)
    return text, flat, title or None, w.b.code
