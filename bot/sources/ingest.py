"""Read a user's files and folders into Documents: Markdown, text, HTML, PDF and BEIR JSON Lines.

Every file is tried on its own: a file that cannot be read is reported ("path: problem") and
skipped, never aborting the rest. Markdown is read as the text its reader sees, with its units
(``markdown``); documentation HTML as its units (``htmldoc``); an article page keeps its main
content only (trafilatura drops navigation, footers and scripts), read through the Markdown
reader; PDF pages become "Page N" sections so citations name the page.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from bot.config import MANIFEST, CorpusError, has_surrogates
from bot.sources.htmldoc import read_html_doc_code
from bot.sources.manpage import looks_like_man, read_man
from bot.sources.markdown import read_markdown
from bot.sources.readers import LoadReport, guess_title, read_html, read_text, shown, text_title
from bot.sources.structure import BLOCKS_KEY, CODE_KEY, STRUCTURED, pack
from bot.model import Document

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html",
            ".pdf": "pdf", ".jsonl": "jsonl"}
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv"}


SAVED_INDEX_MARKERS = ("index.json", "texts.bin")  # files every saved index folder holds


def collect(paths: Iterable[str | Path], report: LoadReport) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every supported file under ``paths``, in a stable order.

    Links are resolved: one under a folder is followed only to a file inside that folder (a link
    to ``/etc/passwd`` would serve it), and a file reached twice (itself and a link to it) is taken
    once, under its own name. A file name that is not valid UTF-8 cannot be stored or served: it
    is reported and skipped, like a link out of the folder."""
    found: list[tuple[Path, Path, Path]] = []  # (file, root, the file's real path)
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():  # named by the user: taken wherever it leads
            if path.suffix.lower() in SUFFIXES:
                if _storable(path, path.resolve(), report):
                    found.append((path, path.parent, path.resolve()))
            else:
                report.problems.append(f"{shown(path)}: unsupported file type '{shown(path.suffix)}'; skipped")
        elif path.is_dir():
            found.extend(_folder_files(path, report))
        else:
            report.problems.append(f"{shown(path)}: not found; skipped")
    first: dict[Path, Path] = {}  # real path -> the file it is read as
    for f, _, real in found:  # the file's own name wins over a link's
        if real not in first or (f.is_symlink() < first[real].is_symlink()):
            first[real] = f
    out: list[tuple[Path, Path]] = []
    taken: set[Path] = set()
    for f, root, real in found:
        if first[real] != f:
            report.problems.append(f"{shown(f)}: the same file as {shown(first[real])}; read once")
        elif real not in taken:
            taken.add(real)
            out.append((f, root))
    return out


def _storable(f: Path, real: Path, report: LoadReport) -> bool:
    """Whether a file's path can be stored and served: one that is not valid UTF-8 (an undecodable
    byte in its name or a folder's) is reported and skipped."""
    if has_surrogates(str(f)) or has_surrogates(str(real)):
        report.problems.append(f"{shown(f)}: the path is not valid UTF-8 (rename it to index it); skipped")
        return False
    return True


def _folder_files(path: Path, report: LoadReport) -> Iterator[tuple[Path, Path, Path]]:
    """(file, folder, real path) of the supported files under a folder, links kept inside it."""
    inside = path.resolve()
    saved: dict[Path, bool] = {}

    def in_saved_index(folder: Path) -> bool:  # an index written inside the sources (--out docs/idx)
        while folder != path and folder.is_relative_to(path):
            if folder not in saved:
                saved[folder] = all((folder / m).is_file() for m in SAVED_INDEX_MARKERS)
            if saved[folder]:
                return True
            folder = folder.parent
        return all((path / m).is_file() for m in SAVED_INDEX_MARKERS)

    for f in sorted(path.rglob("*")):
        if any(part in SKIP_DIRS or part.startswith(".") for part in f.relative_to(path).parts[:-1]):
            continue
        if not (f.suffix.lower() in SUFFIXES and f.name != MANIFEST and f.is_file()) or in_saved_index(f.parent):
            continue
        real = f.resolve()
        if not _storable(f, real, report):
            continue
        if not real.is_relative_to(inside):
            report.problems.append(f"{shown(f)}: a link to a file outside {shown(path)}; skipped")
        else:
            yield f, path, real


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
    """Each page's text under a "## Page N" heading, so citations keep page numbers. Pages over
    ``limits`` are left out, each named in ``report``."""
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
                pages.append(f"## Page {n}\n\n{_pdf_headings(text)}\n")
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


@dataclass(frozen=True)
class _Over:
    """A line over the size limit: only its first bytes are kept (to name its document)."""

    head: bytes


_HEAD_BYTES = 4096
_LEADING_ID = re.compile(rb'"_id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,30})')


def _named(head: bytes) -> str:
    """What a line over the limit is, from its first bytes: "document 'kb7'" where its "_id" comes first."""
    found = _LEADING_ID.search(head)
    try:
        return f"document '{shown(str(json.loads(found.group(1))))}'" if found else "a line"
    except ValueError:
        return "a line"


def bounded_lines(f: BinaryIO, limit: int) -> Iterator[bytes | _Over]:
    """The lines of a binary file, each at most ``limit`` bytes (its newline aside); a longer line
    is read past in 1 MB pieces and given as ``_Over``, never held whole (a 200 MB line of one
    document took 629 MB before it was refused)."""
    while True:
        line = f.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        head = line[:_HEAD_BYTES]
        del line
        while (piece := f.readline(1 << 20)) and not piece.endswith(b"\n"):
            pass
        yield _Over(head)


def jsonl_documents(path: Path, source: str, report: LoadReport, max_mb: float = 20) -> Iterator[Document]:
    """BEIR-style lines {"_id", "title", "text"}; a bad line is reported and skipped. The size limit
    applies to each line's document, not to the file (a knowledge base export can be gigabytes).
    An optional "format": "markdown" reads the text as Markdown (its headings become each
    passage's heading path); the default is plain text."""
    limit = int(max_mb * 1024 * 1024)
    with path.open("rb") as f:
        for lineno, raw in enumerate(bounded_lines(f, limit), 1):
            if isinstance(raw, _Over):
                what = _named(raw.head)
                report.problems.append(f"{path}:{lineno}: {what} is over the {max_mb} MB limit "
                                       "(settings.index.max_document_mb); skipped")
                continue
            line = raw.decode("utf-8", errors="replace")
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                doc_id, text, title = obj["_id"], obj.get("text") or "", obj.get("title") or ""
                fmt = obj.get("format") or "text"
                if fmt not in ("text", "markdown"):
                    raise ValueError("'format' must be \"text\" or \"markdown\"")
                if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
                    raise ValueError("'_id' must be a string or a whole number")
                if not isinstance(text, str) or not isinstance(title, str):
                    raise ValueError("'text' and 'title' must be strings")
                doc_id = str(doc_id)
            except (ValueError, KeyError, RecursionError) as exc:
                reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
                report.problems.append(f"{path}:{lineno}: not a BEIR line with '_id' and 'text' ({reason}); skipped")
                continue
            if has_surrogates(doc_id) or has_surrogates(title) or has_surrogates(text):
                report.problems.append(f"{path}:{lineno}: document '{shown(doc_id)}' holds a lone surrogate escape "
                                       "(such as \\ud800), which is not text; skipped")
                continue
            if not text.strip():
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' has no text; skipped")
                continue
            if "\x00" in text:
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' holds NUL bytes (binary data); skipped")
                continue
            title = title.strip() or doc_id
            meta: dict[str, Any] = {"format": fmt}
            if fmt == "markdown":  # the text its reader sees, with its units (``markdown``)
                got = read_markdown(text)
                if got is None:
                    report.problems.append(f"{path}:{lineno}: document '{doc_id}' has no text; skipped")
                    continue
                text, meta[BLOCKS_KEY] = got[0], pack(got[1])
                if got[4]:
                    meta[CODE_KEY] = pack(got[4])
            yield Document(id=f"{source}#{doc_id}", title=title, source=f"{source}#{doc_id}", text=text,
                           metadata=meta)


def read_file(path: Path, source: str, report: LoadReport, title: str | None = None,
              metadata: dict | None = None, doc_id: str | None = None, max_mb: float = 20) -> list[Document]:
    """Documents in one file (several for JSON Lines). Raises CorpusError for an unreadable file."""
    kind = SUFFIXES.get(path.suffix.lower())
    meta = dict(metadata or {})
    if kind == "jsonl":
        docs = list(jsonl_documents(path, source, report, max_mb))
        if not docs:
            raise CorpusError(f"{path}: no documents in the JSON Lines file")
        return docs
    if kind == "pdf":
        text, found = pdf_to_markdown(path, report)
        fmt = "markdown"
        for key, value in pdf_credits(path).items():  # what the manifest says wins
            meta.setdefault(key, value)
    elif kind == "html":
        html = read_html(path)  # decoded as a browser does: byte-order mark, XML declaration, <meta charset>
        doc = read_html_doc_code(html)  # documentation: its own structure; else an article: the extractor
        if doc is not None:
            text, blocks, found, code = doc
            if code:
                meta[CODE_KEY] = code
            page_meta = html_metadata(html)
            meta[BLOCKS_KEY] = blocks
            fmt = STRUCTURED
        else:
            markdown, found, page_meta = html_to_markdown(html, path)
            got = read_markdown(markdown)  # the text a reader sees: no emphasis marks or escapes
            if got is None:
                raise CorpusError(f"{path}: no main text found in the HTML")
            text, meta[BLOCKS_KEY], h1, _, code = got
            if code:
                meta[CODE_KEY] = code
            found = found or h1
            fmt = "markdown"  # an article (is_documentation said no): the article decision model
        for key, value in page_meta.items():  # what the manifest says wins
            meta.setdefault(key, value)
    elif kind == "markdown":
        got = read_markdown(read_text(path))  # the text its reader sees, with its units
        if got is None:
            raise CorpusError(f"{path}: the document is empty")
        text, meta[BLOCKS_KEY], found, documentation, code = got
        if code:
            meta[CODE_KEY] = code
        fmt = STRUCTURED if documentation else "markdown"  # an article keeps the article decision model
    elif kind == "text":
        text = read_text(path)
        found = text_title(text)
        fmt = kind
        if looks_like_man(text):  # a man page rendered as text
            text, blocks, found = read_man(text)
            meta[BLOCKS_KEY] = blocks
            fmt = STRUCTURED
    else:
        raise CorpusError(f"{path}: unsupported file type '{path.suffix}'")
    if not text.strip():
        raise CorpusError(f"{path}: the document is empty")
    for key in (BLOCKS_KEY, CODE_KEY):  # offsets: packed (a large document's take a quarter of a list's memory)
        if key in meta:
            meta[key] = pack(meta[key])
    meta["format"] = fmt
    return [Document(id=doc_id or source, title=title or found or guess_title(text, path), source=source, text=text,
                     metadata=meta)]


def named_files(paths: Iterable[str | Path], report: LoadReport) -> list[tuple[Path, str]]:
    """(file, source name) for every supported file under ``paths``, in reading order: the name is
    the path below the folder given (the full path when two would share one)."""
    out: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for f, root in collect(paths, report):
        source = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
        if source in seen:
            source = str(f)
        seen.add(source)
        out.append((f, source))
    return out


def read_checked(f: Path, source: str, report: LoadReport, max_mb: float = 20, **entry: Any) -> list[Document]:
    """``read_file`` with the size limit, every failure reported in ``report`` (nothing raised)."""
    try:
        size = f.stat().st_size
        if size > max_mb * 1024 * 1024 and SUFFIXES.get(f.suffix.lower()) != "jsonl":
            raise CorpusError(f"{f}: {size / 1048576:.1f} MB is over the {max_mb} MB limit "
                              "(settings.index.max_document_mb)")
        docs = read_file(f, source, report, max_mb=max_mb, **entry)
    except CorpusError as exc:
        report.problems.append(f"{exc}; skipped")
    except Exception as exc:  # a library failing on one odd file must not stop the rest
        report.problems.append(f"{f}: could not be read ({type(exc).__name__}: {exc}); skipped")
    else:
        return [d for d in docs if _valid_text(f, d, report)]
    return []


def _valid_text(f: Path, doc: Document, report: LoadReport) -> bool:
    """Whether a document is Unicode text throughout; one holding a lone surrogate (which no
    UTF-8 file, JSON reply or page can carry) is reported and skipped, never indexed."""
    strings = [doc.id, doc.title, doc.source, doc.text]
    strings += [v for v in doc.metadata.values() if isinstance(v, str)]
    if any(has_surrogates(s) for s in strings):
        report.problems.append(f"{shown(f)}: document '{shown(doc.id)}' holds a lone surrogate (such as \\ud800), "
                               "which is not text; skipped")
        return False
    return True


def ingest(paths: Iterable[str | Path], report: LoadReport,
           progress: Callable[[Iterable], Iterable] | None = None, max_mb: int = 20) -> list[Document]:
    """Documents from files and folders; problems go to ``report``. Files over ``max_mb``
    megabytes are skipped with a warning."""
    files = named_files(paths, report)
    docs: list[Document] = []
    for f, source in (progress(files) if progress else files):
        docs.extend(read_checked(f, source, report, max_mb=max_mb))
    return docs


def progress_bar(desc: str, unit: str = "file") -> Callable[[Iterable[Any]], Any] | None:
    """tqdm on a terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=desc, unit=unit, file=sys.stderr)
