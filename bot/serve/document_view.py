"""The document view: a cited document as a page of its own (its text escaped, the passage
outlined and scrolled to, the quotes highlighted; a PDF's page image above it) and that page image,
under ``/documents/{id}`` for the loaded corpus (an attached file's, under ``/conversations/{id}``,
are ``attach_routes``'s)."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from bot.chatbot import ChatBot, LiveBot
from bot.serve.pdf_pages import MAX_ZOOM, PageCache, pdf_page_of, source_file


VIEW_CSS = """
body { font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 48rem;
       padding: 1rem 1.25rem 4rem; color: #111827; background: #ffffff; }
header p { color: #374151; margin-top: -.5rem; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.h { font-weight: 700; } .h1 { font-size: 1.6em; } .h2 { font-size: 1.35em; } .h3 { font-size: 1.15em; }
.passage { background: #eef2ff; outline: 2px solid #6366f1; border-radius: 3px; scroll-margin-top: 30vh; }
mark { background: #fde047; color: #111827; }
img.page { max-width: 100%; border: 1px solid #9ca3af; }
figure { margin: 1rem 0; } figcaption a, summary { color: #1d4ed8; } summary { cursor: pointer; margin: .25rem 0; }
.zoom-box { overflow: auto; max-height: 85vh; border: 1px solid #9ca3af; }
.zoom-box img { width: 250%; max-width: none; display: block; }
@media (prefers-color-scheme: dark) {
  body { color: #f3f4f6; background: #111827; } header p { color: #d1d5db; }
  .passage { background: #1e1b4b; outline-color: #a5b4fc; } mark { background: #facc15; color: #111827; }
  figcaption a, summary { color: #93c5fd; }
}
"""


def render_document(text: str, passage: tuple[int, int] | None, marks: list[tuple[int, int]]) -> str:
    """The document's text, escaped (shown as text, never as markup), with the cited passage
    wrapped in ``<span id="passage">`` and the quoted sentences in ``<mark>``."""
    n = len(text)
    events: list[tuple[int, int, str]] = []  # (offset, order, markup): closings before openings
    if passage is not None:
        a, b = passage
        events += [(a, 1, '<span id="passage" class="passage">'), (b, 0, "</span>")]
    for a, b in marks:
        events += [(a, 2, "<mark>"), (b, 0, "</mark>")]
    out, pos = [], 0
    for offset, _, markup in sorted(events):
        offset = max(pos, min(offset, n))
        out.append(html.escape(text[pos:offset]))
        out.append(markup)
        pos = offset
    out.append(html.escape(text[pos:]))
    # Markdown heading lines read as headings (the text itself is never interpreted as markup)
    return _HEADING_LINE.sub(lambda m: f'<span class="h h{len(m.group(1))}">{m.group(2)}</span>', "".join(out))


_HEADING_LINE = re.compile(r"^(#{1,6})[ \t]+([^\n<]+)$", re.M)


def _spans(raw: str, n: int) -> list[tuple[int, int]]:
    """"a-b,c-d" -> [(a, b), (c, d)] within 0..n; anything malformed is ignored."""
    out = []
    for part in raw.split(",")[:50]:
        a, _, b = part.partition("-")
        if a.isdigit() and b.isdigit() and int(a) < int(b) <= n:
            out.append((int(a), int(b)))
    return out


def document_view(d: Any, start: int, end: int, hl: str, has_pdf: bool) -> HTMLResponse:
    """A document's page: its text escaped, the passage ``start..end`` outlined and scrolled to,
    the ``hl`` spans highlighted; a PDF's page image above it (``page.png`` next to this URL)."""
    n = len(d.text)
    passage = (start, end) if 0 <= start < end <= n else None
    figure = ""
    page_no = pdf_page_of(d.text, start) if passage else None
    if page_no is not None and has_pdf:
        src = f"page.png?page={page_no}&hl={html.escape(hl, quote=True)}"
        alt = f"Page {page_no} of the PDF, the quoted sentences highlighted"
        # enlarge without a script (the view allows none): a larger rendering, scrolled in its box
        figure = (f'<figure id="page" style="scroll-margin-top:1rem"><img src="{src}" alt="{alt}" class="page">'
                  f'<figcaption>Page {page_no} · <a href="{src}&amp;zoom=2">open the page at full size</a>'
                  f'</figcaption><details class="zoom"><summary>Enlarge the page here</summary>'
                  f'<div class="zoom-box"><img src="{src}&amp;zoom=2" alt="{alt}, enlarged" loading="lazy">'
                  f"</div></details></figure>")
    credit = ", ".join(html.escape(str(d.metadata[k])) for k in ("author", "published") if d.metadata.get(k))
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(d.title)}</title><style>{VIEW_CSS}</style></head><body>"
            f"<header><h1>{html.escape(d.title)}</h1><p>{credit + ' — ' if credit else ''}"
            f"{html.escape(d.source)}</p></header>{figure}"
            f"<main class=\"text\">{render_document(d.text, passage, _spans(hl, n))}</main></body></html>")
    return HTMLResponse(body, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                  "img-src 'self'; frame-ancestors 'none'"})


def page_response(pages: PageCache, d: Any, path: Path | None, page: int, hl: str, zoom: int) -> Response:
    """A document's PDF page as a PNG, the ``hl`` spans highlighted; 404 when it has no PDF."""
    if path is None:
        raise HTTPException(status_code=404, detail="this document has no PDF to show")
    quotes = [d.text[a:b] for a, b in _spans(hl, len(d.text))]
    try:
        png = pages.get(path, page, quotes, zoom)
    except HTTPException:
        raise
    except Exception:  # a PDF changed or damaged since it was indexed
        raise HTTPException(status_code=404, detail="the PDF page cannot be shown") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


def add_document_routes(app: FastAPI, bot: "ChatBot | LiveBot", pages: PageCache) -> None:
    """A document of the loaded corpus as a page (``/documents/{id}/view``) and its cited PDF page
    as an image (``/documents/{id}/page.png``)."""

    @app.get("/documents/{doc_id:path}/view", response_class=HTMLResponse, include_in_schema=False)
    def view(doc_id: str, start: int = Query(-1), end: int = Query(-1), hl: str = Query("", max_length=2000)):
        """The whole cited document, the passage outlined and scrolled to, its quotes highlighted."""
        d = corpus_document(doc_id)
        return document_view(d, start, end, hl, source_file(bot.current(), d) is not None)

    @app.get("/documents/{doc_id:path}/page.png", include_in_schema=False)
    def page_image(doc_id: str, page: int = Query(..., ge=1, le=100_000), hl: str = Query("", max_length=2000),
                   zoom: int = Query(1, ge=1, le=MAX_ZOOM)):
        """A cited PDF page as an image, the quoted sentences highlighted on it."""
        d = corpus_document(doc_id)
        return page_response(pages, d, source_file(bot.current(), d), page, hl, zoom)

    def corpus_document(doc_id: str) -> Any:
        try:
            return bot.current().index.documents[doc_id]
        except (KeyError, IndexError, TypeError):
            raise HTTPException(status_code=404, detail="no document with that id in the loaded corpus") from None
