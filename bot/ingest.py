"""Read a user's files and folders into Documents: Markdown, text, HTML, PDF and BEIR JSON Lines.

Every file is tried on its own: a file that cannot be read is reported ("path: problem") and
skipped, never aborting the rest. HTML keeps its main content only (trafilatura drops navigation,
footers and scripts) with headings as Markdown headings; PDF pages become "Page N" sections so
citations name the page.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .config import CorpusError
from .readers import LoadReport, guess_title, read_text
from .model import Document

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html",
            ".pdf": "pdf", ".jsonl": "jsonl"}
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv"}


SAVED_INDEX_MARKERS = ("index.json", "texts.bin")  # files every saved index folder holds


def collect(paths: Iterable[str | Path], report: LoadReport) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every supported file under ``paths``, in a stable order."""
    out: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            if path.suffix.lower() in SUFFIXES:
                out.append((path, path.parent))
            else:
                report.problems.append(f"{path}: unsupported file type '{path.suffix}'; skipped")
        elif path.is_dir():
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
                if f.is_file() and f.suffix.lower() in SUFFIXES and f.name != "corpus.yaml" \
                        and not in_saved_index(f.parent):
                    out.append((f, path))
        else:
            report.problems.append(f"{path}: not found; skipped")
    return out


def html_to_markdown(html: str, path: Path) -> tuple[str, str | None]:
    """Main content of an HTML page as Markdown (headings kept), and its title."""
    import trafilatura

    text = trafilatura.extract(html, output_format="markdown", include_formatting=True, include_links=False,
                               include_images=False, include_comments=False, favor_recall=True)
    if not text or not text.strip():
        raise CorpusError(f"{path}: no main text found in the HTML")
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None and meta.title else None
    return text.strip() + "\n", title


def pdf_to_markdown(path: Path) -> tuple[str, str | None]:
    """Each page's text under a "## Page N" heading, so citations keep page numbers."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would bypass our report

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise CorpusError(f"{path}: the PDF is encrypted (save an unprotected copy to index it)")
        pages = []
        for n, page in enumerate(reader.pages, 1):
            text = (page.extract_text() or "").strip()
            if text:
                pages.append(f"## Page {n}\n\n{text}\n")
        title = str(reader.metadata.title) if reader.metadata and reader.metadata.title else None
    except CorpusError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise CorpusError(f"{path}: cannot read the PDF ({exc})") from None
    if not pages:
        raise CorpusError(f"{path}: the PDF has no extractable text (scanned images?)")
    return "\n".join(pages), title


def jsonl_documents(path: Path, source: str, report: LoadReport, max_mb: float = 20) -> Iterator[Document]:
    """BEIR-style lines {"_id", "title", "text"}; a bad line is reported and skipped. The size limit
    applies to each line's document, not to the file (a knowledge base export can be gigabytes)."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                doc_id, text, title = obj["_id"], obj.get("text") or "", obj.get("title") or ""
                if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
                    raise ValueError("'_id' must be a string or a whole number")
                if not isinstance(text, str) or not isinstance(title, str):
                    raise ValueError("'text' and 'title' must be strings")
                doc_id = str(doc_id)
            except (ValueError, KeyError, RecursionError) as exc:
                reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
                report.problems.append(f"{path}:{lineno}: not a BEIR line with '_id' and 'text' ({reason}); skipped")
                continue
            if not text.strip():
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' has no text; skipped")
                continue
            if "\x00" in text:
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' holds NUL bytes (binary data); skipped")
                continue
            if len(text) > max_mb * 1024 * 1024:
                report.problems.append(f"{path}:{lineno}: document '{doc_id}' is over the {max_mb} MB limit "
                                       "(settings.max_document_mb); skipped")
                continue
            title = title.strip() or doc_id
            yield Document(id=f"{source}#{doc_id}", title=title, source=f"{source}#{doc_id}", text=text,
                           metadata={"format": "text"})


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
        text, found = pdf_to_markdown(path)
        fmt = "markdown"
    elif kind == "html":
        text, found = html_to_markdown(read_text(path), path)
        fmt = "markdown"
    elif kind in ("markdown", "text"):
        text, found = read_text(path), None
        fmt = kind
    else:
        raise CorpusError(f"{path}: unsupported file type '{path.suffix}'")
    if not text.strip():
        raise CorpusError(f"{path}: the document is empty")
    meta["format"] = fmt
    return [Document(id=doc_id or source, title=title or found or guess_title(text, path), source=source, text=text,
                     metadata=meta)]


def ingest(paths: Iterable[str | Path], report: LoadReport,
           progress: Callable[[Iterable], Iterable] | None = None, max_mb: int = 20) -> list[Document]:
    """Documents from files and folders; problems go to ``report``. Files over ``max_mb``
    megabytes are skipped with a warning."""
    files = collect(paths, report)
    docs: list[Document] = []
    seen: set[str] = set()
    for f, root in (progress(files) if progress else files):
        source = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
        if source in seen:
            source = str(f)
        seen.add(source)
        try:
            size = f.stat().st_size
            if size > max_mb * 1024 * 1024 and SUFFIXES.get(f.suffix.lower()) != "jsonl":
                raise CorpusError(f"{f}: {size / 1048576:.1f} MB is over the {max_mb} MB limit "
                                  "(settings.max_document_mb)")
            docs.extend(read_file(f, source, report, max_mb=max_mb))
        except CorpusError as exc:
            report.problems.append(f"{exc}; skipped")
        except Exception as exc:  # a library failing on one odd file must not stop the rest
            report.problems.append(f"{f}: could not be read ({type(exc).__name__}: {exc}); skipped")
    return docs


def progress_bar(desc: str, unit: str = "file"):
    """tqdm on a terminal, nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=desc, unit=unit, file=sys.stderr)
