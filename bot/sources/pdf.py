"""PDF: each page's text under its "## Page N" heading (``page_heading``; ``PAGE_HEADINGS`` finds
them again, so a citation names its page), heading lines marked, within ``PdfLimits``; the
document information's author and creation date."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import CorpusError
from bot.sources.readers import LoadReport, Read

_PAGE = "## Page "  # a PDF page's heading: this and its number, a line of its own
PAGE_HEADINGS = re.compile(rf"^{re.escape(_PAGE)}(\d+)$", re.M)  # group 1: the page number


def page_heading(n: int) -> str:
    """The heading line page ``n``'s text is written under."""
    return f"{_PAGE}{n}"


@dataclass(frozen=True)
class PdfLimits:
    """How much page content text extraction parses. pypdf parses about half a megabyte of
    content a second, and a 5 KB file can hold far more: 20 pages sharing one 1 MB stream of
    ``0 0 m`` took 23.5 s. Content is counted decompressed, a form XObject once for each time a
    page draws it; a stream shared by pages is parsed once; a page with no text operator costs
    nothing (pypdf does not parse it)."""

    page_bytes: int = 2 * 2**20  # a page holding more is left out (its text only); real pages: 5-20 KB
    document_bytes: int = 2 * 2**20  # what the pages may hold in all, at least ...
    ratio: int = 10  # ... or this many times the file's size (real documents hold 0.1 to 2 times)

    def budget(self, file_size: int) -> int:
        return max(self.document_bytes, self.ratio * file_size)


_TEXT_OPERATOR = re.compile(rb"T[jJ]|Do|['\"]")  # what can add text (pypdf parses only content holding one)
_MAX_FORM_DEPTH = 12


def _streams(obj: Any) -> list[Any]:
    """The streams of a page's /Contents (one, or an array of them)."""
    from pypdf.generic import ArrayObject, StreamObject

    obj = obj.get_object() if obj is not None else None
    items = obj if isinstance(obj, ArrayObject) else [obj]
    return [s for s in (x.get_object() if x is not None else None for x in items) if isinstance(s, StreamObject)]


def _content_cost(streams: list[Any], resources: Any, forms: dict[int, int], depth: int = 0) -> int:
    """Bytes of content extracting the text of ``streams`` parses: their own, and each form
    XObject they draw times the number of times they draw it (``forms``: a form's cost, by id)."""
    from pypdf.generic import DictionaryObject

    datas = [s.get_data() for s in streams]
    if not any(_TEXT_OPERATOR.search(d) for d in datas):
        return 0
    cost = sum(len(d) for d in datas)
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not isinstance(xobjects, DictionaryObject) or depth >= _MAX_FORM_DEPTH:
        return cost
    for name, ref in xobjects.items():
        form = ref.get_object() if ref is not None else None
        if not isinstance(form, DictionaryObject) or form.get("/Subtype") != "/Form":
            continue
        drawn = re.compile(re.escape(str(name).encode("latin-1", "replace")) + rb"\s*Do\b")
        times = sum(len(drawn.findall(d)) for d in datas)
        if times:
            if id(form) not in forms:
                forms[id(form)] = 0  # a form drawing itself: pypdf stops there
                forms[id(form)] = _content_cost([form], form.get("/Resources", resources), forms, depth + 1)
            cost += times * forms[id(form)]
    return cost


def _page_key(page: Any) -> tuple[Any, ...]:
    """What a page's text depends on: its content streams, the fonts and forms its resources
    name (the objects, not the dictionary: each page may have its own) and its rotation."""
    from pypdf.generic import DictionaryObject

    key: list[Any] = [tuple(id(s) for s in _streams(page.get("/Contents"))), page.rotation]
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    if isinstance(resources, DictionaryObject):
        for kind in ("/Font", "/XObject"):
            named = resources.get(kind)
            named = named.get_object() if named is not None else None
            if isinstance(named, DictionaryObject):
                key.append(tuple(sorted((str(k), id(v.get_object()) if v is not None else 0)
                                        for k, v in named.items())))
            else:
                key.append(None)
        key.append(tuple(sorted(str(k) for k in resources if k not in ("/Font", "/XObject"))))
    return tuple(key)


def _page_numbers(pages: list[int]) -> str:
    """ "page 3", "pages 1-20", "pages 2, 5, 7-9" (ascending page numbers; ten runs at most)."""
    runs: list[list[int]] = []
    for n in pages:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:10]) + (", ..." if len(runs) > 10 else "")
    return f"page {shown}" if len(pages) == 1 else f"pages {shown}"


def pdf_to_markdown(path: Path, report: LoadReport | None = None,
                    limits: PdfLimits = PdfLimits()) -> tuple[str, str | None]:
    """Each page's text under its heading (``page_heading``: "## Page N"), so citations keep page
    numbers. Pages over ``limits`` are left out, each named in ``report``."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would bypass our report
    notes = report.problems if report is not None else []
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise CorpusError(f"{path}: the PDF is encrypted (save an unprotected copy to index it)")
        budget = limits.budget(path.stat().st_size)
        spent = 0
        seen: dict[tuple[Any, ...], tuple[Any, str]] = {}  # page key -> (the page, keeping ids alive; text)
        forms: dict[int, int] = {}
        over_budget: list[int] = []
        over_page: list[tuple[int, int]] = []  # (page, its content's size)
        pages = []
        for n, page in enumerate(reader.pages, 1):
            key = _page_key(page)
            if key in seen:  # content shared with an earlier page: parsed once
                text = seen[key][1]
            else:
                cost = _content_cost(_streams(page.get("/Contents")), page.get("/Resources"), forms)
                if cost > limits.page_bytes:
                    over_page.append((n, cost))
                    text = ""
                elif over_budget or spent + cost > budget:
                    over_budget.append(n)
                    continue
                else:
                    spent += cost
                    try:
                        text = (page.extract_text() or "").strip()
                    except LimitReachedError as exc:  # pypdf's own limits: this page only
                        notes.append(f"{path}: page {n} could not be read ({exc}); its text left out")
                        text = ""
                seen[key] = (page, text)
            if text:
                pages.append(f"{page_heading(n)}\n\n{_pdf_headings(text)}\n")
        if over_page:
            notes.append(f"{path}: {_page_numbers([n for n, _ in over_page])} left out: over the "
                         f"{limits.page_bytes / 2**20:.3g} MB of content a page may hold "
                         f"({max(c for _, c in over_page) / 2**20:.1f} MB)")
        if over_budget:
            notes.append(f"{path}: {_page_numbers(over_budget)} left out: the PDF's pages hold over "
                         f"{budget / 2**20:.3g} MB of content in all ({limits.ratio} times its size, at least "
                         f"{limits.document_bytes / 2**20:.3g} MB)")
        title = str(reader.metadata.title) if reader.metadata and reader.metadata.title else None
    except CorpusError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise CorpusError(f"{path}: cannot read the PDF ({exc})") from None
    if not pages:
        raise CorpusError(f"{path}: the PDF has no extractable text (scanned images?)")
    return "\n".join(pages), title


def pdf_credits(path: Path) -> dict[str, str]:
    """A PDF's author (/Author) and creation date (/CreationDate, as YYYY-MM-DD) from its document
    information, where it states them; /Creator and /Producer name software, not people."""
    from pypdf import PdfReader

    try:
        info = PdfReader(str(path)).metadata
        if not info:
            return {}
        out: dict[str, str] = {}
        author = " ".join(str(info.author or "").split())
        if author and len(author) <= 200:
            out["author"] = author
        try:
            created = info.creation_date
        except (ValueError, TypeError):  # a date in a shape pypdf cannot read: left out
            created = None
        if created is not None:
            out["published"] = created.date().isoformat()
        return out
    except Exception:  # noqa: BLE001 - credits are extra; the text was read already, or its error reported
        return {}


_PDF_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?[A-Z][^.!?;:,]{0,80}$")


def _pdf_headings(text: str) -> str:
    """A PDF page's text with its heading lines marked as Markdown headings: a short line (eight
    words or fewer, capitalized, no closing punctuation) followed by a line that starts a sentence.
    Otherwise the heading would be glued onto the first sentence of the paragraph below it."""
    lines = text.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        nxt = next((x.strip() for x in lines[i + 1:] if x.strip()), "")
        if (stripped and len(stripped.split()) <= 8 and _PDF_HEADING.match(stripped) and nxt[:1].isupper()
                and not stripped.endswith(("-", "–"))):
            out.append(f"\n### {stripped}\n")
        else:
            out.append(line)
    return "\n".join(out)


def read_pdf(path: Path, report: LoadReport) -> Read:
    """A PDF file: its pages' text as Markdown, its author and date (the manifest's own win)."""
    text, found = pdf_to_markdown(path, report)
    return Read(text, found, "markdown", credits=pdf_credits(path))
