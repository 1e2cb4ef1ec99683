"""Load the documents a corpus manifest lists (or, without a manifest, every supported file below the
folder, links kept inside it)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bot.config import MANIFEST, CorpusError, DocumentEntry, Manifest, Settings, load_manifest
from bot.sources.formats import SUFFIXES
from bot.sources.ingest import Walk, collect, named_files, read_checked
from bot.model import Document
from bot.sources.readers import LoadReport



def entry_path(root: Path, entry: DocumentEntry) -> Path:
    return (root / entry.path).resolve()


def listed(root: Path, manifest: Manifest, report: LoadReport) -> list[DocumentEntry]:
    """The manifest's entries, each file once: an entry that names, through a link, the file of
    an earlier entry is reported and left out (read twice, it would be indexed twice)."""
    first: dict[Path, DocumentEntry] = {}
    out: list[DocumentEntry] = []
    for e in manifest.documents:
        real = entry_path(root, e)
        if real in first:
            report.problems.append(f"{manifest.path}:{e.line}: document '{e.path}' is the same file as "
                                   f"'{first[real].path}' (line {first[real].line}); read once")
            continue
        first[real] = e
        out.append(e)
    return out


def read_entry(root: Path, manifest: Manifest, entry: DocumentEntry, report: LoadReport) -> list[Document]:
    """The documents of one manifest entry; a problem is reported in ``report`` and gives none."""
    path = entry_path(root, entry)
    try:
        if not manifest.settings.index.allow_outside_paths and not path.is_relative_to(root.resolve()):
            # said before looking at the file, so the message never tells whether it exists
            raise CorpusError(f"{manifest.path}:{entry.line}: document '{entry.path}' is outside the corpus "
                              f"folder (set allow_outside_paths: true in settings to allow it)")
        if not path.is_file():
            raise CorpusError(f"{manifest.path}:{entry.line}: document '{entry.path}' not found in {root}")
    except CorpusError as exc:
        report.problems.append(f"{exc}; skipped")
        return []
    return read_checked(path, entry.path, report, max_mb=manifest.settings.index.max_document_mb, title=entry.title,
                        metadata=entry.metadata, doc_id=entry.id)


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
        files = [f for f, _ in collect([root], report)]
        if not files:
            raise CorpusError(f"{root}: no {MANIFEST} and no documents ({', '.join(sorted(SUFFIXES))})")
        entries = tuple(
            DocumentEntry(str(p.relative_to(root)), str(p.relative_to(root)), None, {}, 0) for p in files
        )
        manifest = Manifest(manifest_path, root.name, "", entries, Settings())

    docs: list[Document] = []
    for entry in listed(root, manifest, report):
        docs.extend(read_entry(root, manifest, entry, report))
    if not docs:
        detail = "; ".join(report.problems[:5])
        raise CorpusError(f"{root}: no readable documents ({detail})")
    return manifest, docs


@dataclass(frozen=True)
class Planned:
    """One source file a build reads: where it is, the name its documents carry, and its manifest
    entry (title, id, metadata) when a corpus.yaml lists it."""

    path: Path
    source: str
    entry: DocumentEntry | None = None

    def signature(self) -> Any:
        """What of the manifest entry the documents carry (title, id, metadata): a change re-reads it."""
        e = self.entry
        return None if e is None else [e.title, e.id, {str(k): str(v) for k, v in (e.metadata or {}).items()}]


def plan_sources(inputs: Sequence[str], report: LoadReport, manifest_path: Path,
                 walked: Walk | None = None) -> tuple[Manifest, list[Planned]]:
    """The manifest and the files a build of ``inputs`` reads, in reading order: a corpus folder's
    manifest entries, or every supported file under the inputs (``manifest_path`` names the
    corpus.yaml written for them; ``walked``: the inputs' ``ingest.walk``, taken already)."""
    if len(inputs) == 1 and (Path(inputs[0]) / MANIFEST).is_file():
        root = Path(inputs[0])
        manifest = load_manifest(root / MANIFEST)
        return manifest, [Planned(entry_path(root, e), e.path, e) for e in listed(root, manifest, report)]
    files = named_files(inputs, report, walked)
    first = Path(inputs[0]).resolve() if inputs else Path(".")
    manifest = Manifest(manifest_path, first.name if first.is_dir() else first.stem, "", (), Settings())
    return manifest, [Planned(f, source) for f, source in files]


def read_planned(manifest: Manifest, planned: Planned, report: LoadReport) -> list[Document]:
    """The documents of one planned file; problems go to ``report``."""
    if planned.entry is not None:
        return read_entry(manifest.path.parent, manifest, planned.entry, report)
    return read_checked(planned.path, planned.source, report, max_mb=manifest.settings.index.max_document_mb)
