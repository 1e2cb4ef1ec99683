"""Save and load a built index, so ``ask``, ``search`` and the page start without analyzing text.

An index folder holds ``index.json`` (format marker, settings, a fingerprint of the sources and
the size and SHA-256 of every other file), the documents, passage offsets, the BM25 postings,
the vocabulary, the glossary and the spelling word list. Every file is written to a temporary
name and renamed into place, ``index.json`` last, so a crash never leaves a half-written index
that looks whole; a truncated, edited or foreign file is detected on load.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .config import CorpusError, Manifest, Settings
from .glossary import Entry, Glossary
from .index import BM25Retriever, CorpusIndex, PostingsBM25
from .model import Document, Passage, Sentence
from .spelling import Speller

FORMAT = "grounded-bot-index"
VERSION = 1
ANALYZER = "nfkc-fold/stopwords-v1/snowball-english/acronym-plurals/hyphen-parts/joined-pairs"
INDEX_JSON = "index.json"


def is_index(path: str | Path) -> bool:
    return (Path(path) / INDEX_JSON).is_file()


# ---- sources and fingerprint ----------------------------------------------------------------
def source_files(inputs: Sequence[str]) -> list[Path]:
    from .ingest import collect
    from .load import LoadReport

    files = [f.resolve() for f, _ in collect(inputs, LoadReport())]
    for raw in inputs:  # a corpus folder's manifest matters too
        m = Path(raw) / "corpus.yaml"
        if m.is_file():
            files.append(m.resolve())
    return sorted(set(files))


def fingerprint(files: Iterable[Path], settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(ANALYZER.encode())
    return h.hexdigest()


# ---- writing --------------------------------------------------------------------------------
def _atomic_write(path: Path, data: bytes) -> dict[str, Any]:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save(out: str | Path, manifest: Manifest, documents: Sequence[Document], index: CorpusIndex,
         inputs: Sequence[str], problems: Sequence[str] = ()) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.asdict(manifest.settings)
    doc_pos = {d.id: i for i, d in enumerate(documents)}
    files: dict[str, Any] = {}
    docs_blob = "".join(json.dumps({"id": d.id, "title": d.title, "source": d.source,
                                    "metadata": dict(d.metadata), "text": d.text}, ensure_ascii=False) + "\n"
                        for d in documents)
    files["documents.jsonl.gz"] = _atomic_write(out / "documents.jsonl.gz",
                                                gzip.compress(docs_blob.encode("utf-8"), 6))
    heads: dict[tuple[str, ...], int] = {}
    P = index.passages
    n = len(P)
    doc = np.zeros(n, np.int32)
    start = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    first = np.zeros(n, np.bool_)
    path_id = np.zeros(n, np.int32)
    sent_ptr = np.zeros(n + 1, np.int64)
    s_start: list[int] = []
    s_end: list[int] = []
    s_bullet: list[bool] = []
    for i in range(n):
        p = P[i]
        doc[i], start[i], end[i], first[i] = doc_pos[p.doc_id], p.start, p.end, p.section_first
        path_id[i] = heads.setdefault(p.headings, len(heads))
        for s in p.sentences:
            s_start.append(s.start)
            s_end.append(s.end)
            s_bullet.append(s.bullet)
        sent_ptr[i + 1] = len(s_start)
    files["passages.npz"] = _atomic_write(out / "passages.npz", _npz_bytes(
        doc=doc, start=start, end=end, first=first, path=path_id, sent_ptr=sent_ptr,
        sent_start=np.asarray(s_start, np.int64), sent_end=np.asarray(s_end, np.int64),
        sent_bullet=np.asarray(s_bullet, np.bool_)))
    engine = index.retriever.postings_arrays()
    files["bm25.npz"] = _atomic_write(out / "bm25.npz", _npz_bytes(
        term_ptr=engine.term_ptr, doc_ids=engine.doc_ids, tfs=engine.tfs.astype(np.float32),
        doc_len=np.asarray(engine.doc_len, np.int32), params=np.asarray([engine.k1, engine.b], np.float64)))
    meta_json = {
        "headings": [list(h) for h in heads],
        "vocab": engine.vocab,
        "glossary": [{"short": e.short, "long": e.long, "key": e.key, "long_terms": list(e.long_terms)}
                     for e in index.glossary.entries],
        "words": index.speller.words,
    }
    files["terms.json.gz"] = _atomic_write(out / "terms.json.gz",
                                           gzip.compress(json.dumps(meta_json, ensure_ascii=False).encode(), 6))
    inputs = [str(Path(i).resolve()) for i in inputs]
    srcs = source_files(inputs)
    header = {
        "format": FORMAT, "version": VERSION, "analyzer": ANALYZER,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "name": manifest.name, "description": manifest.description,
        "examples": list(manifest.examples), "settings": settings, "inputs": inputs,
        "fingerprint": fingerprint(srcs, settings), "documents": len(documents), "passages": n,
        "problems": list(problems), "files": files,
    }
    _atomic_write(out / INDEX_JSON, json.dumps(header, ensure_ascii=False, indent=1).encode("utf-8"))
    return out


def write_manifest(out: Path, manifest: Manifest, documents: Sequence[Document]) -> None:
    """A corpus.yaml beside the index listing what was indexed (titles can be edited, then re-index)."""
    import yaml

    if (out / "corpus.yaml").exists():
        return
    seen: dict[str, dict[str, Any]] = {}
    for d in documents:
        src = d.source.split("#")[0]
        if src not in seen:
            entry: dict[str, Any] = {"path": src, "title": d.title if "#" not in d.source else None}
            entry.update({k: v for k, v in d.metadata.items() if k != "format"})
            seen[src] = {k: v for k, v in entry.items() if v is not None}
    body = {"name": manifest.name, "documents": list(seen.values()),
            "settings": dataclasses.asdict(manifest.settings)}
    text = "# Written by `python -m bot index`: what this index holds (paths relative to the sources).\n"
    _atomic_write(out / "corpus.yaml", (text + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)).encode())


# ---- reading --------------------------------------------------------------------------------
class PassageStore(Sequence):
    """Passages rebuilt on demand from offset arrays and the document texts (no per-passage objects
    until they are read)."""

    def __init__(self, docs: list[Document], heads: list[tuple[str, ...]], arrays: dict[str, np.ndarray]):
        self.docs, self.head_paths, self.a = docs, heads, arrays
        self._cache: dict[int, Passage] = {}

    def __len__(self) -> int:
        return int(len(self.a["doc"]))

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        got = self._cache.get(i)
        if got is not None:
            return got
        a = self.a
        d = self.docs[int(a["doc"][i])]
        lo, hi = int(a["sent_ptr"][i]), int(a["sent_ptr"][i + 1])
        sents = tuple(Sentence(d.text[int(s):int(e)], int(s), int(e), bool(b))
                      for s, e, b in zip(a["sent_start"][lo:hi], a["sent_end"][lo:hi], a["sent_bullet"][lo:hi]))
        start, end = int(a["start"][i]), int(a["end"][i])
        p = Passage(i, d.id, self.head_paths[int(a["path"][i])], d.text[start:end], start, end, sents,
                    bool(a["first"][i]))
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[i] = p
        return p

    def heads(self):
        ids = [d.id for d in self.docs]
        return ((ids[int(d)], self.head_paths[int(h)]) for d, h in zip(self.a["doc"], self.a["path"]))


def _read_checked(folder: Path, name: str, info: dict[str, Any]) -> bytes:
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: index file missing or unreadable ({exc.strerror or exc}); "
                          "rebuild it with `python -m bot index`") from None
    if len(data) != info.get("size") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
        raise CorpusError(f"{path}: index file is truncated or was changed after indexing; "
                          "rebuild it with `python -m bot index`")
    return data


def read_header(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    try:
        header = json.loads((folder / INDEX_JSON).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{folder / INDEX_JSON}: not a readable index ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorpusError(f"{folder / INDEX_JSON}: not an index written by `python -m bot index`")
    if header.get("version") != VERSION or header.get("analyzer") != ANALYZER:
        raise CorpusError(f"{folder}: index written by another version (format {header.get('version')}); "
                          "rebuild it with `python -m bot index`")
    return header


def stale_reason(header: dict[str, Any]) -> str | None:
    """Why the index no longer matches its sources, or None when it does."""
    inputs = header.get("inputs") or []
    missing = [i for i in inputs if not Path(i).exists()]
    if missing:
        return f"source {missing[0]} no longer exists"
    if fingerprint(source_files(inputs), header.get("settings") or {}) != header.get("fingerprint"):
        return "its source files changed since it was built (added, removed or edited)"
    return None


def load(folder: str | Path, check_stale: bool = True):
    """(Manifest, documents, CorpusIndex, problems) from an index folder, analyzing no text."""
    folder = Path(folder)
    header = read_header(folder)
    if check_stale:
        why = stale_reason(header)
        if why:
            raise CorpusError(f"{folder}: the index is stale: {why}. Rebuild it with `python -m bot index "
                              f"{' '.join(header.get('inputs') or [])} --out {folder}` or pass --rebuild")
    files = header.get("files") or {}
    try:
        docs_raw = gzip.decompress(_read_checked(folder, "documents.jsonl.gz", files["documents.jsonl.gz"]))
        docs = [Document(o["id"], o["title"], o["source"], o["text"], o.get("metadata") or {})
                for o in map(json.loads, docs_raw.decode("utf-8").splitlines())]
        import io

        pz = np.load(io.BytesIO(_read_checked(folder, "passages.npz", files["passages.npz"])), allow_pickle=False)
        arrays = {k: pz[k] for k in ("doc", "start", "end", "first", "path", "sent_ptr", "sent_start", "sent_end",
                                      "sent_bullet")}
        bz = np.load(io.BytesIO(_read_checked(folder, "bm25.npz", files["bm25.npz"])), allow_pickle=False)
        meta = json.loads(gzip.decompress(_read_checked(folder, "terms.json.gz", files["terms.json.gz"])))
        k1, b = (float(x) for x in bz["params"])
        engine = PostingsBM25(meta["vocab"], bz["term_ptr"], bz["doc_ids"], bz["tfs"], bz["doc_len"], k1, b)
        glossary = Glossary(Entry(g["short"], g["long"], g["key"], tuple(g["long_terms"])) for g in meta["glossary"])
        heads = [tuple(h) for h in meta["headings"]]
    except CorpusError:
        raise
    except (KeyError, ValueError, TypeError, OSError, EOFError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{folder}: the index is damaged ({type(exc).__name__}: {exc}); "
                          "rebuild it with `python -m bot index`") from None
    settings_dict = {k: v for k, v in (header.get("settings") or {}).items() if k in Settings.__dataclass_fields__}
    settings = Settings(**settings_dict)
    manifest = Manifest(folder / INDEX_JSON, header.get("name") or folder.name, header.get("description") or "",
                        (), settings, tuple(header.get("examples") or ()))
    passages = PassageStore(docs, heads, arrays)
    speller = Speller.from_words(meta["words"], frozenset(meta["vocab"]))
    index = CorpusIndex.assemble(docs, passages, glossary, meta["vocab"], BM25Retriever(engine), speller)
    return manifest, docs, index, list(header.get("problems") or [])


def build(inputs: Sequence[str | Path], out: str | Path, progress=None):
    """Read the inputs (files, folders, or a corpus folder with corpus.yaml), index and save them.

    Returns (manifest, documents, index, problems). Raises CorpusError when nothing is readable."""
    from .ingest import ingest
    from .load import LoadReport, load_corpus

    report = LoadReport()
    inputs = [str(i) for i in inputs]
    if len(inputs) == 1 and (Path(inputs[0]) / "corpus.yaml").is_file():
        manifest, docs = load_corpus(inputs[0], report)
    else:
        docs = ingest(inputs, report, progress, max_mb=Settings().max_document_mb)
        if not docs:
            raise CorpusError("nothing to index: " + ("; ".join(report.problems[:5]) or "no supported files"))
        first = Path(inputs[0]).resolve()
        manifest = Manifest(Path(out) / "corpus.yaml", first.name if first.is_dir() else first.stem, "", (),
                            Settings())
    s = manifest.settings
    index = CorpusIndex(docs, max_words=s.passage_max_words, k1=s.bm25_k1, b=s.bm25_b)
    save(out, manifest, docs, index, inputs, report.problems)
    write_manifest(Path(out), manifest, docs)
    return manifest, docs, index, report.problems


def rebuild(folder: str | Path):
    header = read_header(folder)
    build(header.get("inputs") or [], folder)
    return load(folder)
