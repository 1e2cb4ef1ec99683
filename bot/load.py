"""Load the documents a corpus manifest lists (or, without a manifest, every .md/.txt file)."""
from __future__ import annotations

from pathlib import Path

from .config import CorpusError, DocumentEntry, Manifest, Settings, load_manifest
from .ingest import SUFFIXES, collect, read_file
from .model import Document
from .readers import LoadReport

MANIFEST = "corpus.yaml"


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
        files = [f for f, _ in collect([root], LoadReport())]
        if not files:
            raise CorpusError(f"{root}: no {MANIFEST} and no documents ({', '.join(sorted(SUFFIXES))})")
        entries = tuple(
            DocumentEntry(str(p.relative_to(root)), str(p.relative_to(root)), None, {}, 0) for p in files
        )
        manifest = Manifest(manifest_path, root.name, "", entries, Settings())

    docs: list[Document] = []
    limit = manifest.settings.max_document_mb * 1024 * 1024
    inside = root.resolve()
    for entry in manifest.documents:
        path = (root / entry.path).resolve()
        try:
            if not manifest.settings.allow_outside_paths and not path.is_relative_to(inside):
                # said before looking at the file, so the message never tells whether it exists
                raise CorpusError(f"{manifest_path}:{entry.line}: document '{entry.path}' is outside the corpus "
                                  f"folder (set allow_outside_paths: true in settings to allow it)")
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
