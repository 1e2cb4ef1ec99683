"""Read a user's files and folders into Documents: which files a folder holds (links kept inside
it, a file reached twice read once) and each file read by its kind's reader (``formats.READERS``:
Markdown, text, HTML, PDF, JSON Lines).

Every file is tried on its own: a file that cannot be read is reported ("path: problem") and
skipped, never aborting the rest.
"""
from __future__ import annotations

import operator
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from bot.config import MANIFEST, CorpusError, has_surrogates
from bot.model import Document
from bot.sources.formats import SUFFIXES, reader_of
from bot.sources.jsonl import bounded_lines, jsonl_documents  # noqa: F401 - imported from here by tests
from bot.sources.pdf import PdfLimits, pdf_to_markdown  # noqa: F401 - imported from here by tests
from bot.sources.readers import LoadReport, guess_title, shown
from bot.sources.structure import BLOCKS_KEY, CODE_KEY, pack

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv"}


SAVED_INDEX_MARKERS = ("index.json", "texts.bin")  # files every saved index folder holds


class Walk(NamedTuple):
    """``collect``'s pairs, the problems it met, and each pair's file's real path."""

    found: list[tuple[Path, Path]]
    problems: list[str]
    real: list[Path]

    def real_of(self) -> dict[Path, Path]:
        """file -> its real path (``RealPaths``), as the walk found it."""
        return {f: r for (f, _), r in zip(self.found, self.real)}


def walk(paths: Iterable[str | Path]) -> Walk:
    """``collect`` once, for the several steps of a build that need it (its snapshot and its plan)."""
    report = LoadReport()
    found = _collect(paths, report)
    return Walk([(f, root) for f, root, _ in found], report.problems, [real for _, _, real in found])


def collect(paths: Iterable[str | Path], report: LoadReport) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every supported file under ``paths``, in a stable order (``_collect``)."""
    return [(f, root) for f, root, _ in _collect(paths, report)]


def _collect(paths: Iterable[str | Path], report: LoadReport) -> list[tuple[Path, Path, Path]]:
    """(file, root, the file's real path) for every supported file under ``paths``, in a stable order.

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
    # keyed on the paths' text, which equals where the paths do (Path's own hash and equality are
    # Python calls: a third of a walk's time on 76,520 files)
    first: dict[str, Path] = {}  # real path -> the file it is read as
    for f, _, real in found:  # the file's own name wins over a link's
        key = str(real)
        if key not in first or (f.is_symlink() < first[key].is_symlink()):
            first[key] = f
    out: list[tuple[Path, Path, Path]] = []
    taken: set[str] = set()
    for f, root, real in found:
        key = str(real)
        if str(first[key]) != str(f):
            report.problems.append(f"{shown(f)}: the same file as {shown(first[key])}; read once")
        elif key not in taken:
            taken.add(key)
            out.append((f, root, real))
    return out


def _storable(f: Path, real: Path, report: LoadReport) -> bool:
    """Whether a file's path can be stored and served: one that is not valid UTF-8 (an undecodable
    byte in its name or a folder's) is reported and skipped."""
    if has_surrogates(str(f)) or has_surrogates(str(real)):
        report.problems.append(f"{shown(f)}: the path is not valid UTF-8 (rename it to index it); skipped")
        return False
    return True


class RealPaths:
    """``f.resolve()`` of many files, each folder resolved once (a file that is a link on its own)."""

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}

    def __call__(self, f: Path) -> Path:
        if f.is_symlink() or f.name in ("", ".", ".."):
            return f.resolve()
        return self.in_folder(f.parent, f)

    def folder(self, folder: Path) -> Path:
        """``folder.resolve()``, once a folder."""
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = folder.resolve()
        return real

    def in_folder(self, folder: Path, f: Path) -> Path:
        """The real path of ``f``, a file in ``folder`` that is not a link: itself where the
        folder's real path is the folder (a path built again cost more than the rest of a walk)."""
        real = self.folder(folder)
        return f if real == folder else real / f.name


def path_text_order(path: str) -> str:
    """A key sorting absolute paths' text as pathlib orders the paths (part by part), without
    making them Paths: the separator goes below every character a name can hold."""
    return path.replace(os.sep, "\0")


def _suffix(name: str) -> str:
    """``Path(name).suffix``, of a name."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _below(path: Path) -> list[tuple[Path, str, os.DirEntry]]:
    """(folder, file name, its directory entry) of every file under a folder, none under a skipped
    or hidden folder below it (not walked into), links to folders not followed; in Path order (part
    by part), sorted on tuples of parts, each folder's taken once: pathlib's own comparison builds
    them again at each comparison. A folder's Path is one object for all its files. The entries
    say what each is from the folder's listing (``_kind``), with no system call a file."""
    keyed: list[tuple[tuple[str, ...], Path, os.DirEntry]] = []
    folders = [path]
    while folders:
        base = folders.pop()
        try:
            with os.scandir(base) as listing:
                entries = list(listing)
        except OSError:  # unreadable, or gone since it was listed: as os.walk, nothing under it
            continue
        parts = base.parts
        below: list[Path] = []
        for e in entries:
            if _is_folder(e):
                if not e.is_symlink() and e.name not in SKIP_DIRS and not e.name.startswith("."):
                    below.append(base / e.name)
            else:
                keyed.append((parts + (e.name,), base, e))
        folders.extend(reversed(below))
    keyed.sort(key=operator.itemgetter(0))
    return [(base, e.name, e) for _, base, e in keyed]


def _is_folder(e: os.DirEntry) -> bool:
    """Whether an entry is a folder, behind a link too (as ``os.walk`` sorts them from files)."""
    try:
        return e.is_dir()
    except OSError:
        return False


def _kind(e: os.DirEntry) -> tuple[bool, bool]:
    """(a regular file, behind links included; a link), from a folder's listing: a system call
    only for a link (or a file system that does not say the kind of its entries)."""
    try:
        if not e.is_symlink():
            return e.is_file(follow_symlinks=False), False
        return e.is_file(), True
    except OSError:  # gone, or unreachable
        return False, False


def _folder_files(path: Path, report: LoadReport) -> Iterator[tuple[Path, Path, Path]]:
    """(file, folder, real path) of the supported files under a folder, links kept inside it.
    What holds for a whole folder (inside a saved index, its real path inside ``path``) is found
    once a folder, not once a file."""
    inside = path.resolve()
    saved: dict[Path, bool] = {}

    def in_saved_index(folder: Path) -> bool:  # an index written inside the sources (--out docs/idx)
        while folder != path and folder.is_relative_to(path):
            if folder not in saved:
                saved[folder] = all((folder / m).is_file() for m in SAVED_INDEX_MARKERS)
            if saved[folder]:
                return True
            folder = folder.parent
        if path not in saved:  # asked for every file directly under the folder: looked at once
            saved[path] = all((path / m).is_file() for m in SAVED_INDEX_MARKERS)
        return saved[path]

    real_path = RealPaths()
    facts: dict[Path, tuple[bool, Path | None, bool, bool]] = {}  # folder -> (inside a saved index, its real path
    # where it is not the folder itself, that inside ``path``, both paths storable)
    last: Path | None = None  # the folder of the file before: most files follow one of their folder
    for base, name, entry in _below(path):
        if _suffix(name).lower() not in SUFFIXES or name == MANIFEST:
            continue
        regular, link = _kind(entry)
        if not regular:
            continue
        if base is not last:
            last = base
            if base not in facts:
                folder_real = real_path.folder(base)
                facts[base] = (in_saved_index(base), None if folder_real == base else folder_real,
                               folder_real.is_relative_to(inside),
                               not has_surrogates(str(base)) and not has_surrogates(str(folder_real)))
            in_saved, folder_real, folder_inside, folder_storable = facts[base]
        if in_saved:
            continue
        f = base / name
        if link or name in ("", ".", ".."):
            real = f.resolve()
            ok = real.is_relative_to(inside)
            storable = _storable(f, real, report)
        else:  # its folder's real path, and inside where that is (a file below a folder is below what it is)
            real, ok = (f if folder_real is None else folder_real / name), folder_inside
            # a name storable in a storable folder (known once a folder); else the check says why not
            storable = (folder_storable and not has_surrogates(name)) or _storable(f, real, report)
        if not storable:
            continue
        if not ok:
            report.problems.append(f"{shown(f)}: a link to a file outside {shown(path)}; skipped")
        else:
            yield f, path, real


def read_file(path: Path, source: str, report: LoadReport, title: str | None = None,
              metadata: dict | None = None, doc_id: str | None = None, max_mb: float = 20) -> list[Document]:
    """Documents in one file (several for JSON Lines). Raises CorpusError for an unreadable file."""
    reader = reader_of(path)
    if reader is None:
        raise CorpusError(f"{path}: unsupported file type '{path.suffix}'")
    if reader.many is not None:
        return reader.many(path, source, report, max_mb)
    read = reader.one(path, report)
    text = read.text
    meta = dict(metadata or {})
    meta.update(read.structure)
    for key, value in read.credits.items():  # what the manifest says wins
        meta.setdefault(key, value)
    if not text.strip():
        raise CorpusError(f"{path}: the document is empty")
    for key in (BLOCKS_KEY, CODE_KEY):  # offsets: packed (a large document's take a quarter of a list's memory)
        if key in meta:
            meta[key] = pack(meta[key])
    meta["format"] = read.format
    return [Document(id=doc_id or source, title=title or read.title or guess_title(text, path), source=source,
                     text=text, metadata=meta)]


def named_files(paths: Iterable[str | Path], report: LoadReport, walked: Walk | None = None) -> list[tuple[Path, str]]:
    """(file, source name) for every supported file under ``paths``, in reading order: the name is
    the path below the folder given (the full path when two would share one). ``walked``: their
    ``walk``, taken already."""
    out: list[tuple[Path, str]] = []
    seen: set[str] = set()
    if walked is not None:
        found = walked.found
        report.problems.extend(walked.problems)
    else:
        found = collect(paths, report)
    for f, root in found:
        source = _relative(f, root)
        if source in seen:
            source = str(f)
        seen.add(source)
        out.append((f, source))
    return out


def _relative(f: Path, root: Path) -> str:
    """``str(f.relative_to(root))`` where ``f`` is below ``root``, else its name: on the parts,
    as pathlib compares them, without building a path (most of a plan's time on 76,520 files)."""
    fp, rp = f.parts, root.parts
    if fp[:len(rp)] != rp or (not rp and f.anchor):  # not below it (an absolute path is not below ".")
        return f.name
    return os.sep.join(fp[len(rp):]) or "."


def read_checked(f: Path, source: str, report: LoadReport, max_mb: float = 20, **entry: Any) -> list[Document]:
    """``read_file`` with the size limit, every failure reported in ``report`` (nothing raised)."""
    try:
        size = f.stat().st_size
        reader = reader_of(f)
        if size > max_mb * 1024 * 1024 and (reader is None or reader.many is None):  # a collection: per document
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
