"""PDF page images: the PDF file a cited document was read from (found from what the corpus records,
never from a client's path), the page an offset of its text lies on, and that page rendered as a
PNG with the quoted sentences highlighted, within ``PAGE_PIXELS``, one render at a time, the
results kept in ``PageCache``."""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from bot.chatbot import ChatBot
from bot.sources.pdf import PAGE_HEADINGS

PAGE_SCALE = 1.5  # 108 dpi: readable on a laptop screen, about 150 KB a page
PAGE_PIXELS = 4_000_000  # a page image is never larger (an A4 page at 108 dpi is 1.1 million pixels);
# a 14,400-point page rendered at full scale took 25 s and 7.45 GB
PAGE_CACHE_BYTES = 32 * 1024 * 1024  # rendered pages kept, newest first
MAX_ZOOM = 3  # "enlarge": the page rendered up to this many times larger, still within PAGE_PIXELS


def page_scale(width: float, height: float, zoom: int = 1) -> float:
    """The render scale: ``PAGE_SCALE`` times ``zoom``, or less if that would exceed ``PAGE_PIXELS``."""
    area = max(width, 1.0) * max(height, 1.0)
    return min(PAGE_SCALE * zoom, (PAGE_PIXELS / area) ** 0.5)


class PageCache:
    """Rendered page images by (file, its size and time, page, highlights), within a byte budget;
    one page is rendered at a time (rendering takes a core and memory)."""

    def __init__(self, budget: int = PAGE_CACHE_BYTES):
        self.budget = budget
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._render = threading.Lock()
        self.renders = 0

    def get(self, path: Path, page_no: int, quotes: list[str], zoom: int = 1) -> bytes:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, page_no, tuple(quotes), zoom)
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
                return png
        with self._render:
            with self._lock:
                png = self._items.get(key)  # rendered by another request meanwhile
            if png is None:
                png = render_pdf_page(path, page_no, quotes, zoom)
                self.renders += 1
        with self._lock:
            if key not in self._items and len(png) <= self.budget:
                self._items[key] = png
                self._size += len(png)
                while self._size > self.budget:
                    _, old = self._items.popitem(last=False)
                    self._size -= len(old)
        return png


def pdf_page_of(text: str, offset: int) -> int | None:
    """The PDF page an offset of an ingested PDF's text lies on ("## Page N" headings mark them)."""
    page = None
    for m in PAGE_HEADINGS.finditer(text, 0, max(0, offset) + 1):
        page = int(m.group(1))
    return page


def source_file(bot: ChatBot, doc: Any) -> Path | None:
    """The PDF file a document was read from, found from what the corpus itself records (its
    folder, or the sources a saved index was built from); never from a path sent by a client."""
    rel = str(doc.source).split("#")[0]
    roots = [bot.manifest.path.parent]
    if bot.saved_index:
        from bot.index import layout

        try:
            roots += [Path(i) for i in layout.read_header(bot.manifest.path.parent).get("inputs") or []]
        except Exception:  # an unreadable header: no file to show
            pass
    outside_ok = bot.manifest.settings.index.allow_outside_paths
    for root in roots:
        for candidate in (root / rel, root if root.name == rel else None):
            if candidate is not None and candidate.suffix.lower() == ".pdf" and candidate.is_file():
                # a file swapped for a link out of its folder since indexing is not shown
                if candidate == root or outside_ok or candidate.resolve().is_relative_to(root.resolve()):
                    return candidate
    return None


def render_pdf_page(path: Path, page_no: int, quotes: list[str], zoom: int = 1) -> bytes:
    """One PDF page as a PNG with the quoted sentences highlighted (pypdfium2 finds their
    character boxes; a quote is located by its first and last words, as extracted text and the
    PDF's own text may break lines differently)."""
    import io

    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page_no <= len(pdf):
            raise HTTPException(status_code=404, detail="no such page")
        page = pdf[page_no - 1]
        width, height = page.get_size()
        scale = page_scale(width, height, zoom)
        image = page.render(scale=scale).to_pil().convert("RGBA")
        text = page.get_textpage()
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for quote in quotes:
            words = quote.split()
            if not words:
                continue
            first = text.search(" ".join(words[:6]), match_case=False).get_next()
            if first is None:
                continue
            last = text.search(" ".join(words[-6:]), match_case=False).get_next() if len(words) > 6 else None
            start, end = first[0], (last[0] + last[1]) if last and last[0] >= first[0] else first[0] + first[1]
            for i in range(text.count_rects(start, end - start)):
                left, bottom, right, top = text.get_rect(i)
                draw.rectangle([left * scale - 2, (height - top) * scale - 2,
                                right * scale + 2, (height - bottom) * scale + 2],
                               fill=(250, 204, 21, 110), outline=(202, 138, 4, 255), width=2)
        out = io.BytesIO()
        Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG")
        return out.getvalue()
    finally:
        pdf.close()
