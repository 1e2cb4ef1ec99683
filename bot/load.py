"""Load the documents a corpus manifest lists (or, without a manifest, every .md/.txt file)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import CorpusError, DocumentEntry, Manifest, Settings, load_manifest
from .model import Document

MANIFEST = "corpus.yaml"
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def read_text(path: Path) -> str:
    """Read a text document as UTF-8 with normalized newlines; CorpusError if it is not text."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in raw[:8192]:
        raise CorpusError(f"{path}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not valid UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def guess_title(text: str, path: Path) -> str:
    m = _H1.search(text)
    if m:
        return m.group(1).strip()
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


@dataclass
class LoadReport:
    """What loading skipped, one line per file ("path: problem"), for summaries and warnings."""

    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.problems)


def load_corpus(folder: str | Path, report: LoadReport | None = None) -> tuple[Manifest, list[Document]]:
    """Load a corpus folder. A broken manifest raises CorpusError naming file and line; a broken
    document is skipped and described in ``report`` (CorpusError only when nothing is left).

    A folder without ``corpus.yaml`` is read as every Markdown or text file below it.
    """
    report = report if report is not None else LoadReport()
    root = Path(folder)
    if root.is_file() and root.suffix in (".yaml", ".yml"):
        manifest_path, root = root, root.parent
    else:
        manifest_path = root / MANIFEST
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found")
    if manifest_path.is_file():
        manifest = load_manifest(manifest_path)
    else:
        from .ingest import SUFFIXES, collect

        files = [f for f, _ in collect([root], LoadReport())]
        if not files:
            raise CorpusError(f"{root}: no {MANIFEST} and no documents ({', '.join(sorted(SUFFIXES))})")
        entries = tuple(
            DocumentEntry(str(p.relative_to(root)), str(p.relative_to(root)), None, {}, 0) for p in files
        )
        manifest = Manifest(manifest_path, root.name, "", entries, Settings())
    from .ingest import read_file

    docs: list[Document] = []
    limit = manifest.settings.max_document_mb * 1024 * 1024
    for entry in manifest.documents:
        path = (root / entry.path).resolve()
        try:
            if not path.is_file():
                raise CorpusError(f"{manifest_path}:{entry.line}: document '{entry.path}' not found in {root}")
            size = path.stat().st_size
            if size > limit and path.suffix.lower() != ".jsonl":  # JSON Lines: checked per document
                raise CorpusError(f"{path}: {size / 1048576:.1f} MB is over the "
                                  f"{manifest.settings.max_document_mb} MB limit (settings.max_document_mb)")
            docs.extend(read_file(path, entry.path, report, title=entry.title, metadata=entry.metadata,
                                  doc_id=entry.id, max_mb=manifest.settings.max_document_mb))
        except CorpusError as exc:
            report.problems.append(f"{exc}; skipped")
        except Exception as exc:  # a parsing library failing on one odd file must not stop the rest
            report.problems.append(f"{path}: could not be read ({type(exc).__name__}: {exc}); skipped")
    if not docs:
        detail = "; ".join(report.problems[:5])
        raise CorpusError(f"{root}: no readable documents ({detail})")
    return manifest, docs
