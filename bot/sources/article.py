"""Article HTML: a web page's main content as Markdown (trafilatura, after page furniture is
removed; block by block where it would lose the headings), its marked-up author and date, and the
HTML file reader: a documentation page is read by ``htmldoc``, any other page as an article, its
Markdown through the Markdown reader."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.config import CorpusError
from bot.sources.htmldoc import read_html_doc_code
from bot.sources.markdown import read_markdown
from bot.sources.readers import LoadReport, Read, read_html
from bot.sources.structure import BLOCKS_KEY, CODE_KEY, STRUCTURED

# Page furniture that is never a passage: navigation, headers and footers, cookie and consent
# banners, menus, sidebars, sharing and newsletter boxes.
_BOILERPLATE_TAGS = ("nav", "header", "footer", "aside", "form", "script", "style", "noscript", "template",
                     "iframe", "svg", "button", "select", "dialog")
_BOILERPLATE_NAMES = re.compile(r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|breadcrumbs?|cookies?|consent|gdpr|"
                                r"banner|footer|header|sidebar|social|share|sharing|newsletter|subscribe|signup|"
                                r"advert|ads?|promo|popup|modal|skip-link)(?:$|[\s_-])", re.I)
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td",
               "th", "thead", "tbody", "blockquote", "pre", "figure", "figcaption", "caption", "br", "hr",
               "h1", "h2", "h3", "h4", "h5", "h6", "body", "center", "address", "details", "summary"}
_WS = re.compile(r"\s+")


def _clean_dom(html: str):
    """The page's DOM without boilerplate (by tag, role, id and class), or None if unparsable."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, TypeError, lxml.etree.ParserError):
        return None
    drop = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            drop.append(el)  # comments, processing instructions
            continue
        role = (el.get("role") or "").lower()
        names = f"{el.get('id') or ''} {el.get('class') or ''}"
        if (el.tag in _BOILERPLATE_TAGS or role in ("navigation", "banner", "contentinfo", "complementary",
                                                    "search", "dialog")
                or (el.tag not in ("html", "body", "main", "article") and _BOILERPLATE_NAMES.search(names))):
            drop.append(el)
    for el in drop:
        parent = el.getparent()
        if parent is not None:
            tail = el.tail
            parent.remove(el)
            if tail and tail.strip():  # keep the text that followed the removed element
                prev = parent[-1] if len(parent) else None
                if prev is not None:
                    prev.tail = (prev.tail or "") + tail
                else:
                    parent.text = (parent.text or "") + tail
    return root


_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _md_literal(text: str) -> str:
    """Page text as Markdown that reads as itself (every ASCII punctuation mark escaped)."""
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def _dom_markdown(root) -> str:
    """Markdown blocks from a cleaned DOM: h1-h6 as headings, every block element its own paragraph
    (list items as "- " items), inline text joined."""
    blocks: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = _WS.sub(" ", "".join(run)).strip()
        run.clear()
        if text:
            blocks.append(text)

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            flush()
            text = _WS.sub(" ", el.text_content()).strip()
            if text:
                blocks.append("#" * int(tag[1]) + " " + _md_literal(text))
            return
        block = tag in _BLOCK_TAGS
        if block:
            flush()
            if tag == "li":
                run.append("- ")
        if el.text:
            run.append(_md_literal(el.text))
        for child in el:
            walk(child)
            if child.tail:
                run.append(_md_literal(child.tail))
        if block:
            flush()

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
    return "\n\n".join(b for b in blocks if b.strip("- "))


def html_to_markdown(html: str, path: Path) -> tuple[str, str | None, dict[str, str]]:
    """Main content of an HTML page as Markdown with its headings, its title, and its author and
    publication date where the page marks them up (trafilatura's metadata: meta tags, bylines).

    Boilerplate (navigation, headers, footers, cookie banners, menus) is removed first; trafilatura
    then extracts the main text. Where it loses the page's h1-h6 headings (pages without semantic
    markup), the cleaned page is converted block by block instead, so headings become the
    passages' heading path and nothing is glued onto a first sentence."""
    import trafilatura

    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None and meta.title else None
    found = _credits(meta)
    root = _clean_dom(html)
    cleaned = html
    n_headings = 0
    if root is not None:
        import lxml.html

        n_headings = sum(1 for el in root.iter("h1", "h2", "h3", "h4", "h5", "h6") if el.text_content().strip())
        cleaned = lxml.html.tostring(root, encoding="unicode")
    text = trafilatura.extract(cleaned, output_format="markdown", include_formatting=True, include_links=False,
                               include_images=False, include_comments=False, favor_recall=True) or ""
    kept = sum(1 for line in text.splitlines() if line.lstrip().startswith("#"))
    if root is not None and (not text.strip() or (n_headings >= 1 and kept < (n_headings + 1) // 2)):
        text = _dom_markdown(root)
    if not text.strip():
        raise CorpusError(f"{path}: no main text found in the HTML")
    return text.strip() + "\n", title, found


def _credits(meta: Any) -> dict[str, str]:
    return {k: str(v).strip() for k, v in (("author", getattr(meta, "author", None)),
                                           ("published", getattr(meta, "date", None))) if v and str(v).strip()}


def html_metadata(html: str) -> dict[str, str]:
    """A documentation page's author and publication date where its markup states them (meta
    tags, structured data). No guessing: a documentation page's copyright year ("2026") is not
    its publication date."""
    import trafilatura

    return _credits(trafilatura.extract_metadata(html, extensive=False,
                                                 date_config={"extensive_search": False, "original_date": True}))



def read_html_file(path: Path, report: LoadReport) -> Read:
    """An HTML file: documentation in its own structure (``htmldoc``), else an article's main content."""
    html = read_html(path)  # decoded as a browser does: byte-order mark, XML declaration, <meta charset>
    doc = read_html_doc_code(html)  # documentation: its own structure; else an article: the extractor
    structure: dict[str, Any] = {}
    if doc is not None:
        text, blocks, found, code = doc
        if code:
            structure[CODE_KEY] = code
        page_meta = html_metadata(html)
        structure[BLOCKS_KEY] = blocks
        return Read(text, found, STRUCTURED, structure, page_meta)
    markdown, found, page_meta = html_to_markdown(html, path)
    got = read_markdown(markdown)  # the text a reader sees: no emphasis marks or escapes
    if got is None:
        raise CorpusError(f"{path}: no main text found in the HTML")
    text, structure[BLOCKS_KEY], h1, _, code = got
    if code:
        structure[CODE_KEY] = code
    # an article (is_documentation said no): the article decision model
    return Read(text, found or h1, "markdown", structure, page_meta)
