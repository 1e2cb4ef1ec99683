"""Save and load a built index, so ``ask``, ``search`` and the page start without analyzing text.

An index folder holds ``index.json`` (format marker, settings, engine, a fingerprint of the
sources and the size and SHA-256 of every other file), the document texts (one file read through
a memory map, so loading a million passages reads none of it), document metadata, passage
offsets, the BM25 engine (postings arrays, or a tantivy folder for large corpora), the
vocabulary, the glossary and the spelling word list. Every file is written to a temporary name
and renamed into place, ``index.json`` last, so a crash never leaves a half-written index that
looks whole; a truncated, edited or foreign file is detected on load (files over 64 MB are
checked by size and a hash of their first and last 4 MB, to keep loading fast).
"""
from __future__ import annotations

import dataclasses
import fcntl
from array import array
from collections import OrderedDict
from contextlib import contextmanager
import gzip
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .config import CorpusError, Manifest, Settings, load_manifest, settings_from
from .glossary import Entry, Glossary
from .ingest import collect
from .engines import BM25Retriever, TantivyRetriever
from .files import atomic_npz, atomic_write, checked, checksum, load_npz, map_file, read_checked, temporary
from .index import CorpusIndex
from .model import Document, Passage, Sentence
from .readers import LoadReport
from .spelling import Speller

FORMAT = "grounded-bot-index"
VERSION = 3
ANALYZER = "nfkc-fold/latin-accent-fold/number-words/stopwords-v1/snowball-english/acronym-plurals/hyphen-parts/joined-pairs"
INDEX_JSON = "index.json"


def is_index(path: str | Path) -> bool:
    return (Path(path) / INDEX_JSON).is_file()


def looks_like_index(path: str | Path) -> bool:
    """Index files without their index.json (deleted, or an interrupted first build)."""
    folder = Path(path)
    return folder.is_dir() and any((folder / name).exists() for name in ("texts.bin", "passages.npz", "bm25.npz"))


# ---- sources and fingerprint ----------------------------------------------------------------
def source_files(inputs: Sequence[str]) -> list[Path]:
    """Every file a build reads: files under the inputs, a corpus folder's manifest, and the
    documents that manifest lists (also those outside the folder, where it allows them)."""
    files = [f.resolve() for f, _ in collect(inputs, LoadReport())]
    for raw in inputs:
        m = Path(raw) / "corpus.yaml"
        if m.is_file():
            files.append(m.resolve())
            try:
                listed = load_manifest(m).documents
            except CorpusError:
                listed = ()
            files.extend((Path(raw) / e.path).resolve() for e in listed if (Path(raw) / e.path).is_file())
    return sorted(set(files))


Snapshot = list[tuple[str, int, int]]


def snapshot(files: Iterable[Path]) -> Snapshot:
    """(path, size, modification time) of each file, taken before a build reads them: a file
    edited while the build runs then makes the index stale instead of being recorded as current."""
    out: Snapshot = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return out


def fingerprint(snap: Snapshot, settings: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name, size, mtime in snap:
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(ANALYZER.encode())
    return h.hexdigest()


# ---- one writer at a time ------------------------------------------------------------------
@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Hold the index folder ``out`` for one build or update: a second `python -m bot index` on
    the same folder is refused at once instead of interleaving its files with the first's."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError(f"{out}: another `python -m bot index` is writing this index; run it again when "
                              "that one has finished") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---- building into a fresh folder, then one swap -----------------------------------------
def staging_dir(out: Path) -> Path:
    """A fresh folder beside ``out`` to build into (the earlier index stays untouched meanwhile)."""
    stage = out.parent / f".{out.name}.new-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    if (out / "corpus.yaml").is_file():  # a corpus.yaml the user edited beside the index is kept
        shutil.copy2(out / "corpus.yaml", stage / "corpus.yaml")
    return stage


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if the
    system cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, str(a).encode(), at_fdcwd, str(b).encode(), rename_exchange) == 0


def swap_into(stage: Path, out: Path) -> None:
    """Make the finished ``stage`` folder the index at ``out``: a reader sees the old index or the
    new one, never a mix of both."""
    if not out.exists():
        os.rename(stage, out)
        return
    if _exchange(stage, out):  # stage now holds the old index
        shutil.rmtree(stage, ignore_errors=True)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.rename(out, old)
    os.rename(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def recover(out: Path) -> None:
    """An index folder lost between the two renames of ``swap_into``'s fallback: put the old back."""
    if out.exists():
        return
    for old in sorted(out.parent.glob(f".{out.name}.old-*")):
        if (old / INDEX_JSON).is_file():
            os.rename(old, out)
            return


def remove_leftovers(out: Path) -> None:
    """Staging folders of builds that were killed before they finished."""
    for left in out.parent.glob(f".{out.name}.new-*"):
        shutil.rmtree(left, ignore_errors=True)


# ---- writing --------------------------------------------------------------------------------
def meta_line(d: Document) -> bytes:
    return (json.dumps({"id": d.id, "title": d.title, "source": d.source, "metadata": dict(d.metadata)},
                       ensure_ascii=False) + "\n").encode("utf-8")


def generation_name(name: str, generation: int) -> str:
    """An index file's name at a generation of updates: "passages.npz" at 3 is "passages.3.npz";
    generation 0 (a full build) keeps the plain name, as does a folder ("tantivy" -> "tantivy.3")."""
    if not generation:
        return name
    stem, dot, ext = name.partition(".")
    return f"{stem}.{generation}{dot}{ext}"


def part_files(suffix: str) -> dict[str, str]:
    """The append-only files of one part: document texts, their metadata, passage terms."""
    return {"texts": f"texts{suffix}.bin", "meta": f"documents{suffix}.jsonl", "terms": f"terms{suffix}.txt"}


class DocumentWriter:
    """Writes documents one at a time: texts to ``texts.bin`` (UTF-8, back to back) and metadata to
    ``documents.jsonl`` (a part of an update writes ``texts.<n>.bin`` and ``documents.<n>.jsonl``),
    keeping each document's byte range in both."""

    def __init__(self, out: Path, suffix: str = ""):
        self.out = out
        self.names = part_files(suffix)
        self._tmp = {k: temporary(out / self.names[k]) for k in ("texts", "meta")}
        self._texts = open(self._tmp["texts"], "wb")
        self._meta = open(self._tmp["meta"], "wb")
        self._text_at = self._meta_at = 0
        self.ranges: dict[str, array] = {k: array("q") for k in ("text_start", "text_end", "meta_start", "meta_end")}

    def add(self, d: Document, meta: bytes | None = None) -> None:
        r = self.ranges
        r["text_start"].append(self._text_at)
        for i in range(0, len(d.text), 1 << 20):  # in 1 MB pieces: no second copy of a large text
            piece = d.text[i : i + (1 << 20)].encode("utf-8")
            self._texts.write(piece)
            self._text_at += len(piece)
        r["text_end"].append(self._text_at)
        meta = meta if meta is not None else meta_line(d)
        self._meta.write(meta)
        r["meta_start"].append(self._meta_at)
        self._meta_at += len(meta)
        r["meta_end"].append(self._meta_at)

    def close(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(the files written with their checksums, each document's byte ranges)."""
        files = {}
        for f in (self._texts, self._meta):
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for k, tmp in self._tmp.items():
            os.replace(tmp, self.out / self.names[k])
            files[self.names[k]] = checksum(self.out / self.names[k])
        return files, {k: np.frombuffer(v, np.int64) if len(v) else np.zeros(0, np.int64)
                       for k, v in self.ranges.items()}

    def abort(self) -> None:
        for f in (self._texts, self._meta):
            f.close()
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)


class TermsWriter:
    """Each passage's indexed terms, one line per passage (``terms.txt``, or ``terms.<n>.txt`` in a
    part of an update), with each line's byte range."""

    def __init__(self, out: Path, suffix: str = ""):
        self.path = out / part_files(suffix)["terms"]
        self._tmp = temporary(self.path)
        self._f = open(self._tmp, "wb")
        self._at = 0
        self.start, self.end = array("q"), array("q")

    def add(self, body: str) -> None:
        line = body.encode("utf-8") + b"\n"
        self._f.write(line)
        self.start.append(self._at)
        self._at += len(line)
        self.end.append(self._at - 1)

    def close(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self._tmp, self.path)
        arrays = {"terms_start": np.frombuffer(self.start, np.int64) if len(self.start) else np.zeros(0, np.int64),
                  "terms_end": np.frombuffer(self.end, np.int64) if len(self.end) else np.zeros(0, np.int64)}
        return {self.path.name: checksum(self.path)}, arrays

    def abort(self) -> None:
        self._f.close()
        self._tmp.unlink(missing_ok=True)


def passage_arrays(passages: Sequence[Passage], doc_pos: dict[str, int],
                   heads: dict[tuple[str, ...], int]) -> dict[str, np.ndarray]:
    """Offsets of passages and their sentences (heading paths numbered in ``heads``)."""
    n = len(passages)
    doc = np.zeros(n, np.int32)
    start = np.zeros(n, np.int32)
    end = np.zeros(n, np.int32)
    first = np.zeros(n, np.bool_)
    path_id = np.zeros(n, np.int32)
    sent_ptr = np.zeros(n + 1, np.int64)
    s_start, s_end, s_bullet = array("i"), array("i"), array("b")  # compact while they grow
    for i in range(n):
        p = passages[i]
        doc[i], start[i], end[i], first[i] = doc_pos[p.doc_id], p.start, p.end, p.section_first
        path_id[i] = heads.setdefault(p.headings, len(heads))
        for s in p.sentences:
            s_start.append(s.start)
            s_end.append(s.end)
            s_bullet.append(1 if s.bullet else 0)
        sent_ptr[i + 1] = len(s_start)
    return dict(doc=doc, start=start, end=end, first=first, path=path_id, sent_ptr=sent_ptr,
                sent_start=np.frombuffer(s_start, np.int32), sent_end=np.frombuffer(s_end, np.int32),
                sent_bullet=np.frombuffer(s_bullet, np.int8).astype(np.bool_))


def write_header(out: Path, manifest: Manifest, inputs: Sequence[str], files: dict[str, Any], engine: str,
                 documents: int, passages: int, problems: Sequence[str], snap: Snapshot | None = None,
                 generation: int = 0, parts: Sequence[str] = ("",), extra: dict[str, Any] | None = None) -> None:
    """``index.json``, written last (its rename is what makes a build or an update count)."""
    settings = dataclasses.asdict(manifest.settings)
    inputs = [str(Path(i).resolve()) for i in inputs]
    snap = snap if snap is not None else snapshot(source_files(inputs))
    header = {
        "format": FORMAT, "version": VERSION, "analyzer": ANALYZER, "engine": engine,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "name": manifest.name, "description": manifest.description,
        "examples": list(manifest.examples), "settings": settings, "inputs": inputs,
        "fingerprint": fingerprint(snap, settings), "documents": documents, "passages": passages,
        "problems": list(problems), "generation": generation, "parts": list(parts), "files": files,
        **(extra or {}),
    }
    atomic_write(out / INDEX_JSON, json.dumps(header, ensure_ascii=False, indent=1).encode("utf-8"))


def file_record(path: Path, source: str) -> dict[str, Any]:
    """What an update compares to tell a source file changed: size, modification time, SHA-256."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"path": str(path.resolve()), "source": source, "size": st.st_size, "mtime": st.st_mtime_ns,
            "sha256": h.hexdigest()}


def sources_blob(records: Sequence[dict[str, Any]]) -> bytes:
    """Each source file a build read, in reading order, with its size, time, hash, the acronym
    pairs its documents define and the problems met reading it."""
    return gzip.compress(json.dumps({"files": list(records)}, ensure_ascii=False).encode(), 1)


def read_sources(folder: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    name = generation_name("sources.json.gz", int(header.get("generation") or 0))
    return json.loads(gzip.decompress(read_checked(folder, name, header["files"][name])))["files"]


def terms_blob(heads: Iterable[tuple[str, ...]], vocab: Sequence[str], glossary: Glossary,
               words: Sequence[str], word_docs: Sequence[int] | None = None) -> bytes:
    """Heading paths, vocabulary, glossary and the speller's words (with, for a large index, how
    many documents hold each word, so an update can tell when the last one went)."""
    meta_json = {
        "headings": [list(h) for h in heads],
        "vocab": list(vocab),
        "glossary": [{"short": e.short, "long": e.long, "key": e.key, "long_terms": list(e.long_terms)}
                     for e in glossary.entries],
        "words": list(words),
    }
    if word_docs is not None:
        meta_json["word_docs"] = [int(c) for c in word_docs]
    return gzip.compress(json.dumps(meta_json, ensure_ascii=False).encode(), 1)


def save(out: str | Path, manifest: Manifest, documents: Sequence[Document], index: CorpusIndex,
         inputs: Sequence[str], problems: Sequence[str] = (), snap: Snapshot | None = None,
         records: Sequence[dict[str, Any]] = (), doc_file: Sequence[int] | None = None) -> Path:
    """Save an index built in memory (the postings engine). ``records``: the source files read
    (``file_record``), ``doc_file``: the record each document came from."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = DocumentWriter(out)
    for d in documents:
        writer.add(d)
    files, ranges = writer.close()
    n = len(documents)
    files["documents.npz"] = atomic_npz(out / "documents.npz", part=np.zeros(n, np.int16), **ranges,
                                        source_file=np.asarray(doc_file if doc_file is not None else np.zeros(n), np.int32))
    heads: dict[tuple[str, ...], int] = {}
    doc_pos = {d.id: i for i, d in enumerate(documents)}
    files["passages.npz"] = atomic_npz(out / "passages.npz", **passage_arrays(index.passages, doc_pos, heads))
    engine = index.retriever.postings_arrays()
    files.update(engine.save(out))
    files["terms.json.gz"] = atomic_write(out / "terms.json.gz",
                                          terms_blob(heads, engine.vocab, index.glossary, index.speller.words))
    files["sources.json.gz"] = atomic_write(out / "sources.json.gz", sources_blob(records))
    write_header(out, manifest, inputs, files, "postings", len(documents), len(index.passages), problems, snap)
    return out


INDEX_FILE = re.compile(r"(?:texts|documents|passages|bm25|terms|sources)(?:\.\d+)?\.(?:bin|jsonl|npz|json\.gz|txt)|"
                        r"tantivy(?:\.\d+)?|documents\.jsonl\.gz")


def remove_unreferenced(out: Path, files: Mapping[str, Any]) -> None:
    """Delete index files the header no longer lists (an update's earlier generation, another
    engine's files, a killed update's leftovers)."""
    keep = {name.split("/")[0] for name in files}
    for f in out.iterdir():
        leftover = f.name.startswith(".") and re.search(r"\.(?:tmp|old)-\d+$", f.name) is not None
        if not leftover and (f.name in keep or not INDEX_FILE.fullmatch(f.name)):
            continue
        if f.is_dir():
            shutil.rmtree(f, ignore_errors=True)
        else:
            f.unlink(missing_ok=True)


def _plain(value: Any) -> Any:
    """A metadata value as a built-in type YAML can write (a PDF library's str subclass is not)."""
    if value is None:
        return None
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def write_manifest(out: Path, manifest: Manifest, documents: Sequence[Document]) -> None:
    """A corpus.yaml beside the index listing what was indexed (titles can be edited, then re-index)."""
    import yaml

    if (out / "corpus.yaml").exists():
        return
    seen: dict[str, dict[str, Any]] = {}
    for d in documents:
        src = d.source.split("#")[0]
        if src not in seen:
            entry: dict[str, Any] = {"path": src, "title": str(d.title) if "#" not in d.source else None}
            # plain types only: a PDF library's str subclass would make PyYAML fail (RepresenterError)
            entry.update({str(k): _plain(v) for k, v in d.metadata.items() if k != "format"})
            seen[src] = {k: v for k, v in entry.items() if v is not None}
    body = {"name": manifest.name, "documents": list(seen.values()),
            "settings": dataclasses.asdict(manifest.settings)}
    text = "# Written by `python -m bot index`: what this index holds (paths relative to the sources).\n"
    atomic_write(out / "corpus.yaml", (text + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)).encode())


# ---- reading --------------------------------------------------------------------------------
CACHE_CHARS = 16_000_000  # document text kept decoded (the documents answers cite are read again when evicted)


class Parts:
    """The append-only files of an index's parts, memory-mapped when first read."""

    def __init__(self, folder: Path, suffixes: Sequence[str]):
        self.folder, self.suffixes = folder, list(suffixes)
        self._maps: dict[tuple[int, str], Any] = {}

    def map(self, part: int, kind: str) -> Any:
        got = self._maps.get((part, kind))
        if got is None:
            got = self._maps[(part, kind)] = map_file(self.folder / part_files(self.suffixes[part])[kind])
        return got


class DocumentStore(Sequence):
    """Documents read on demand: texts through memory maps of ``texts*.bin``, metadata from
    ``documents*.jsonl``, each by its part and byte range. ``by_id`` looks documents up by id."""

    def __init__(self, parts: Parts, arrays: Mapping[str, np.ndarray]):
        self.parts = parts
        self.part = arrays["part"]
        self.text_start, self.text_end = arrays["text_start"], arrays["text_end"]
        self.meta_start, self.meta_end = arrays["meta_start"], arrays["meta_end"]
        self.source_file = arrays["source_file"]
        self._cache: OrderedDict[int, Document] = OrderedDict()  # most recently read last
        self._cached_chars = 0
        self._pos: dict[str, int] = {}
        self._all_ids = False
        self.by_id = _ById(self)

    def __len__(self) -> int:
        return len(self.part)

    def _meta(self, i: int) -> dict[str, Any]:
        return json.loads(self.parts.map(int(self.part[i]), "meta")[int(self.meta_start[i]):int(self.meta_end[i])])

    def meta_bytes(self, i: int) -> bytes:
        return bytes(self.parts.map(int(self.part[i]), "meta")[int(self.meta_start[i]):int(self.meta_end[i])])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        got = self._cache.get(i)
        if got is not None:
            self._cache.move_to_end(i)
        else:
            o = self._meta(i)
            texts = self.parts.map(int(self.part[i]), "texts")
            text = texts[int(self.text_start[i]):int(self.text_end[i])].decode("utf-8")
            got = Document(o["id"], o["title"], o["source"], text, o.get("metadata") or {})
            self._cache[i] = got
            self._cached_chars += len(text)
            while len(self._cache) > 1 and (self._cached_chars > CACHE_CHARS or len(self._cache) > 20_000):
                _, old = self._cache.popitem(last=False)  # a few huge documents must not fill memory
                self._cached_chars -= len(old.text)
            self._pos[got.id] = i
        return got

    def position(self, doc_id: str) -> int:
        i = self._pos.get(doc_id)
        if i is None and not self._all_ids:  # an id never reached through a passage: read them all once
            for j in range(len(self)):
                self._pos.setdefault(self._meta(j)["id"], j)
            self._all_ids = True
            i = self._pos.get(doc_id)
        if i is None:
            raise KeyError(doc_id)
        return i


class _ById(Mapping):
    def __init__(self, store: DocumentStore):
        self._store = store

    def __getitem__(self, doc_id: str) -> Document:
        return self._store[self._store.position(doc_id)]

    def __iter__(self):
        return (d.id for d in self._store)

    def __len__(self) -> int:
        return len(self._store)

    def values(self) -> Iterator[Document]:  # type: ignore[override]
        return iter(self._store)


class PassageStore(Sequence):
    """Passages rebuilt on demand from offset arrays and the document texts (no per-passage objects
    until they are read)."""

    def __init__(self, docs: DocumentStore, heads: list[tuple[str, ...]], arrays: dict[str, np.ndarray]):
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
        pos = int(a["doc"][i])
        d = self.docs[pos]  # the store notes its id, so lookups by id stay cheap
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

    def heads_of_document(self, doc_id: str) -> list[tuple[int, tuple[str, ...]]]:
        """(passage index, heading path) of one document's passages: they are contiguous."""
        pos = self.docs.position(doc_id)
        lo, hi = np.searchsorted(self.a["doc"], [pos, pos + 1])
        return [(i, self.head_paths[int(self.a["path"][i])]) for i in range(int(lo), int(hi))]

    def distinct_paths(self) -> Iterator[tuple[str, ...]]:
        """Heading paths in order of first appearance (numpy: no loop over passages)."""
        ids, first = np.unique(self.a["path"], return_index=True)
        return (self.head_paths[int(ids[j])] for j in np.argsort(first, kind="stable"))


class StoredTerms(Sequence):
    """Each passage's indexed terms (heading path, leaf heading, text with glossary keys), one line
    per passage of ``terms*.txt`` (the part of the passage's document), read through memory maps."""

    def __init__(self, parts: Parts, part: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.parts, self.part, self.start, self.end = parts, part, start, end

    def __len__(self) -> int:
        return len(self.start)

    def __getitem__(self, i):  # type: ignore[override]
        m = self.parts.map(int(self.part[i]), "terms")
        return m[int(self.start[i]):int(self.end[i])].decode("utf-8").split()


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
    _check_header(folder / INDEX_JSON, header)
    return header


def _check_header(path: Path, header: dict[str, Any]) -> None:
    """Every field of index.json has the type the loader relies on (an edited header must give a
    clear message, not a traceback)."""

    def bad(field: str, wanted: str) -> CorpusError:
        return CorpusError(f"{path}: '{field}' must be {wanted}; rebuild the index with `python -m bot index`")

    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(x, str) for x in value)

    if header.get("engine") not in ("postings", "tantivy"):
        raise bad("engine", '"postings" or "tantivy"')
    if not strings(header.get("inputs")):
        raise bad("inputs", "a list of paths")
    for field in ("problems", "examples"):
        if field in header and not strings(header[field]):
            raise bad(field, "a list of strings")
    for field in ("name", "description", "fingerprint"):
        if header.get(field) is not None and not isinstance(header[field], str):
            raise bad(field, "a string")
    files = header.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise bad("files", "a mapping of file names to sizes and checksums")
    settings = header.get("settings")
    if not isinstance(settings, dict):
        raise bad("settings", "a mapping")
    settings_from({k: v for k, v in settings.items() if k in Settings.__dataclass_fields__}, lambda key: str(path))


def stale_reason(header: dict[str, Any]) -> str | None:
    """Why the index no longer matches its sources, or None when it does."""
    inputs = header.get("inputs") or []
    missing = [i for i in inputs if not Path(i).exists()]
    if missing:
        return f"source {missing[0]} no longer exists"
    if fingerprint(snapshot(source_files(inputs)), header.get("settings") or {}) != header.get("fingerprint"):
        return "its source files changed since it was built (added, removed or edited)"
    return None


def load(folder: str | Path, check_stale: bool = True,
         ) -> tuple[Manifest, "DocumentStore", CorpusIndex, list[str]]:
    """(Manifest, documents, CorpusIndex, problems) from an index folder, analyzing no text."""
    folder = Path(folder)
    header = read_header(folder)
    if check_stale:
        why = stale_reason(header)
        if why:
            raise CorpusError(f"{folder}: the index is stale: {why}. Rebuild it with `python -m bot index "
                              f"{' '.join(header.get('inputs') or [])} --out {folder}` or pass --rebuild")
    files = header.get("files") or {}
    engine_name = header.get("engine")
    try:
        gen = int(header.get("generation") or 0)
        suffixes = [str(x) for x in header.get("parts") or [""]]
        for suffix in suffixes:
            names = part_files(suffix)
            for kind in ("texts", "meta") + (("terms",) if engine_name == "tantivy" else ()):
                checked(folder, names[kind], files[names[kind]])
        parts = Parts(folder, suffixes)
        dz = load_npz(folder, generation_name("documents.npz", gen), files[generation_name("documents.npz", gen)])
        docs = DocumentStore(parts, {k: dz[k] for k in ("part", "text_start", "text_end", "meta_start", "meta_end",
                                                         "source_file")})
        pname = generation_name("passages.npz", gen)
        pz = load_npz(folder, pname, files[pname])
        arrays = {k: pz[k] for k in ("doc", "start", "end", "first", "path", "sent_ptr", "sent_start", "sent_end",
                                      "sent_bullet")}
        tname = generation_name("terms.json.gz", gen)
        meta = json.loads(gzip.decompress(read_checked(folder, tname, files[tname])))
        stored_terms = None
        if engine_name == "tantivy":
            stored_terms = StoredTerms(parts, docs.part[pz["doc"]], pz["terms_start"], pz["terms_end"])
            engine = TantivyRetriever.load(folder, files, meta["vocab"], stored_terms.__getitem__, gen, pz["uid"])
        elif engine_name == "postings":
            engine = BM25Retriever.load(folder, files, meta["vocab"])
        else:
            raise ValueError(f"unknown engine {engine_name!r}")
        glossary = Glossary(Entry(g["short"], g["long"], g["key"], tuple(g["long_terms"])) for g in meta["glossary"])
        heads = [tuple(h) for h in meta["headings"]]
    except CorpusError:
        raise
    except Exception as exc:  # numpy, zlib, json and tantivy each raise their own kinds on a damaged file
        raise CorpusError(f"{folder}: the index is damaged ({type(exc).__name__}: {exc}); "
                          "rebuild it with `python -m bot index`") from None
    settings_dict = {k: v for k, v in (header.get("settings") or {}).items() if k in Settings.__dataclass_fields__}
    settings = settings_from(settings_dict, lambda key: str(folder / INDEX_JSON))
    manifest = Manifest(folder / INDEX_JSON, header.get("name") or folder.name, header.get("description") or "",
                        (), settings, tuple(header.get("examples") or ()))
    passages = PassageStore(docs, heads, arrays)
    vocabulary = frozenset(meta["vocab"])
    speller = Speller.from_words(meta["words"], vocabulary, acronyms=[e.short for e in glossary.entries])
    index = CorpusIndex(docs, passages, glossary, vocabulary, engine, speller, stored_terms)
    return manifest, docs, index, list(header.get("problems") or [])
