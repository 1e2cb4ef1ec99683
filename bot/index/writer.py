"""Write a saved index: one writer at a time (a lock), a fresh staging folder swapped in at once,
the documents, passages, terms and header written atomically (``index.json`` last: its rename is
the commit). The answering side never imports this module."""
from __future__ import annotations

import fcntl
import gc
import gzip
import hashlib
import json
import os
import re
import shutil
import time
from array import array
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from bot.config import MANIFEST, MAX_LISTING_BYTES, CorpusError, Manifest
from bot.index.corpus import CorpusIndex
from bot.index.files import Joined, atomic_npz, atomic_write, checksum, remove, temporary
from bot.index.layout import (ANALYZER, BLOCKS_DTYPE, DOCUMENTS_NPZ, FORMAT, INDEX_JSON, PASSAGES_NPZ, SOURCES_JSON,
                              EARLIER_TERMS, SENTENCE_ARRAYS, TERMS_FILE, VERSION, Snapshot, fingerprint, generation_name,
                              index_settings, manifest_seen,
                              HeadingLines, part_files, snapshot_sources, terms_file)
from bot.model import Document, Passage
from bot.sources import structure
from bot.sources.structure import BLOCKS_KEY
from bot.text.glossary import Glossary

# ---- one writer at a time ------------------------------------------------------------------
@contextmanager
def writing(out: Path) -> Iterator[Path]:
    """Hold the index folder ``out`` for one build or update and give its real path (symlinks
    resolved), which the writer must use from then on: a second `python -m bot index` on the same
    folder, under any name (``--out idx`` and ``--out alias`` with ``alias -> idx``), is refused
    at once instead of interleaving its files with the first's, and a swap replaces the folder,
    not the symlink. Holding the lock, it puts back a folder lost mid-swap and removes what
    killed writers left beside it (no writer of this folder is alive then)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError(f"{out}: another `python -m bot index` is writing this index; run it again when "
                              "that one has finished") from None
        try:
            recover(out)
            remove_leftovers(out)
            yield out
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while an index is built or updated, then as it was: such a
    run holds millions of objects to its end and makes few cycles, and each of the collector's
    full passes walked them all (at 10M passages: 1.2 s of a 15 s update; a walk of the 76,490
    source files took 1.5-2.3 s with it, 0.9 s without)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


# ---- building into a fresh folder, then one swap -----------------------------------------
def staging_dir(out: Path) -> Path:
    """A fresh folder beside ``out`` to build into (the earlier index stays untouched meanwhile)."""
    stage = out.parent / f".{out.name}.new-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    if (out / MANIFEST).is_file():  # a corpus.yaml the user edited beside the index is kept
        shutil.copy2(out / MANIFEST, stage / MANIFEST)
        without_private_keys(stage / MANIFEST)
    return stage


def private(key: Any) -> bool:
    """A reader's own metadata key ("_blocks"): kept with the index, never in corpus.yaml."""
    return str(key).startswith("_")


_PRIVATE_LINE = re.compile(r"^\s*(?:-\s+)?_\w*\s*:", re.M)


def without_private_keys(path: Path) -> bool:
    """Take the reader's own keys (``private``) out of the document entries of a corpus.yaml an
    earlier version of `python -m bot index` wrote them into (each document's "_blocks"); True
    when it rewrote the file. Its other entries, keys and settings stay as they are."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if not _PRIVATE_LINE.search(text):
            return False
        body = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # can be megabytes
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # left as it is: loading it names its problem
    docs = body.get("documents") if isinstance(body, dict) else None
    if not isinstance(docs, list) or not any(isinstance(e, dict) and any(private(k) for k in e) for e in docs):
        return False
    body["documents"] = [{k: v for k, v in e.items() if not private(k)} if isinstance(e, dict) else e for e in docs]
    head = text.split("\n", 1)[0] + "\n" if text.startswith("#") else ""  # what wrote it
    atomic_write(path, (head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)).encode())
    return True


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


def leftovers(out: Path) -> list[Path]:
    """What writers of ``out`` killed midway left beside it: staging folders (``.idx.new-PID``) and
    earlier indexes of an unfinished swap (``.idx.old-PID``)."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?:new|old)-\d+")
    return sorted(p for p in out.parent.glob(f".{out.name}.*-*") if pattern.fullmatch(p.name))


def remove_leftovers(out: Path) -> None:
    """Remove ``leftovers``: call it holding ``writing``'s lock (then none is a live writer's)."""
    for left in leftovers(out):
        remove(left)


# ---- writing --------------------------------------------------------------------------------
def meta_line(d: Document) -> bytes:
    """A document's line of ``documents.jsonl``: its metadata without its structure (which goes to
    the part's blocks file, ``blocks_bytes``)."""
    meta = {k: v for k, v in d.metadata.items() if k != BLOCKS_KEY}
    return (json.dumps({"id": d.id, "title": d.title, "source": d.source, "metadata": meta},
                       ensure_ascii=False) + "\n").encode("utf-8")


def blocks_bytes(d: Document) -> bytes:
    """A document's blocks (``sources.structure``) as the blocks file keeps them: the flat list as
    little-endian int32s; nothing for a document without blocks, or with a list that is not one
    (the splitter would read neither: ``structure.decode`` gives no blocks for it)."""
    flat = structure.unpack((d.metadata or {}).get(BLOCKS_KEY))  # packed by the reader (or a plain list)
    if flat is None or not len(flat) or len(flat) % 4:
        return b""
    if not all(type(x) is int and 0 <= x < 2**31 for x in flat):
        return b""
    return np.asarray(flat, BLOCKS_DTYPE).tobytes()


class DocumentWriter:
    """Writes documents one at a time: texts to ``texts.bin`` (UTF-8, back to back), metadata to
    ``documents.jsonl`` and structure to ``blocks.bin`` (a part of an update writes
    ``texts.<n>.bin``, ``documents.<n>.jsonl`` and ``blocks.<n>.bin``), keeping each document's
    byte range in each."""

    KINDS = ("texts", "meta", "blocks")

    def __init__(self, out: Path, suffix: str = ""):
        self.out = out
        self.names = part_files(suffix)
        self._tmp = {k: temporary(out / self.names[k]) for k in self.KINDS}
        self._files = {k: open(self._tmp[k], "wb") for k in self.KINDS}
        self._text_at = self._meta_at = self._blocks_at = 0
        self.ranges: dict[str, array] = {k: array("q") for k in ("text_start", "text_end", "meta_start", "meta_end",
                                                                 "blocks_start", "blocks_end")}

    def add(self, d: Document, meta: bytes | None = None) -> None:
        r = self.ranges
        r["text_start"].append(self._text_at)
        for i in range(0, len(d.text), 1 << 20):  # in 1 MB pieces: no second copy of a large text
            piece = d.text[i : i + (1 << 20)].encode("utf-8")
            self._files["texts"].write(piece)
            self._text_at += len(piece)
        r["text_end"].append(self._text_at)
        meta = meta if meta is not None else meta_line(d)
        self._files["meta"].write(meta)
        r["meta_start"].append(self._meta_at)
        self._meta_at += len(meta)
        r["meta_end"].append(self._meta_at)
        blocks = blocks_bytes(d)
        self._files["blocks"].write(blocks)
        r["blocks_start"].append(self._blocks_at)
        self._blocks_at += len(blocks)
        r["blocks_end"].append(self._blocks_at)

    def close(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(the files written with their checksums, each document's byte ranges)."""
        files = {}
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for k, tmp in self._tmp.items():
            os.replace(tmp, self.out / self.names[k])
            files[self.names[k]] = checksum(self.out / self.names[k])
        return files, {k: np.frombuffer(v, np.int64) if len(v) else np.zeros(0, np.int64)
                       for k, v in self.ranges.items()}

    def abort(self) -> None:
        for f in self._files.values():
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


def write_sentences(out: Path, suffix: str, arrays: Mapping[str, "np.ndarray | Joined"]) -> dict[str, Any]:
    """A part's sentences file (``layout.SENTENCE_ARRAYS``); its name with its size and checksum."""
    name = part_files(suffix)["sentences"]
    return {name: atomic_npz(out / name, **{k: arrays[k] for k in SENTENCE_ARRAYS})}


def byte_offsets(text: str, chars: Sequence[int]) -> list[int]:
    """Where each of these character offsets of ``text`` is in its UTF-8 bytes (as the texts
    file holds it): a passage's text is then decoded from its own bytes, not its whole document's."""
    if text.isascii():
        return list(chars)
    at: dict[int, int] = {}
    done = byte = 0
    for c in sorted(set(chars)):  # each piece of the text encoded once
        byte += len(text[done:c].encode("utf-8"))
        at[c], done = byte, c
    return [at[c] for c in chars]


def passage_arrays(passages: Sequence[Passage], doc_pos: dict[str, int],
                   heads: dict[tuple[str, ...], int], texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Offsets of passages and their sentences (heading paths numbered in ``heads``); ``texts``:
    each document's text, by position (the passages' byte offsets in it)."""
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
    byte_start = np.zeros(n, np.int64)
    bounds = np.searchsorted(doc, np.arange(len(texts) + 1)) if n else np.zeros(len(texts) + 1, np.int64)
    for pos, text in enumerate(texts):  # a document's passages are next to each other
        lo, hi = int(bounds[pos]), int(bounds[pos + 1])
        if hi > lo:
            byte_start[lo:hi] = byte_offsets(text, start[lo:hi].tolist())
    return dict(doc=doc, start=start, end=end, first=first, path=path_id, sent_ptr=sent_ptr, byte_start=byte_start,
                sent_start=np.frombuffer(s_start, np.int32), sent_end=np.frombuffer(s_end, np.int32),
                sent_bullet=np.frombuffer(s_bullet, np.int8).astype(np.bool_))


def write_header(out: Path, manifest: Manifest, inputs: Sequence[str], files: dict[str, Any], engine: str,
                 documents: int, passages: int, problems: Sequence[str], snap: Snapshot | None = None,
                 generation: int = 0, parts: Sequence[str] = ("",), extra: dict[str, Any] | None = None,
                 seen_before: Any = None) -> None:
    """``index.json``, written last (its rename is what makes a build or an update count).
    ``seen_before``: the replaced header's ``manifest_seen`` (``layout.manifest_seen``)."""
    settings = manifest.settings.flat()
    inputs = [str(Path(i).resolve()) for i in inputs]
    snap = snap if snap is not None else snapshot_sources(inputs)
    header = {
        "format": FORMAT, "version": VERSION, "analyzer": ANALYZER, "engine": engine,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "name": manifest.name, "description": manifest.description,
        "examples": list(manifest.examples), "settings": settings, "inputs": inputs,
        "fingerprint": fingerprint(snap, index_settings(settings)), "stamp": list(snap),  # tuples: JSON arrays
        "documents": documents, "passages": passages,
        "problems": list(problems), "generation": generation, "parts": list(parts), "files": files,
        "manifest_seen": manifest_seen(out, inputs, seen_before),
        **(extra or {}),
    }
    # a key a line, each value compact: json's indented output is its pure-Python encoder, 0.26 s
    # for the 76,520 source files' stamp at 10M passages (0.05 s so)
    text = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in header.items())
    atomic_write(out / INDEX_JSON, ("{\n" + text + "\n}\n").encode("utf-8"))


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


def terms_blob(heads: Iterable[tuple[str, ...]], vocab: Sequence[str], glossary: Glossary,
               words: Sequence[str], word_docs: Sequence[int] | None = None) -> bytes:
    """Heading paths, vocabulary, glossary and the speller's words (with, for a large index, how
    many documents hold each word, so an update can tell when the last one went): ``layout.terms_file``."""
    entries = [{"short": e.short, "long": e.long, "key": e.key, "long_terms": list(e.long_terms)}
               for e in glossary.entries]
    return terms_file(heads if isinstance(heads, HeadingLines) else list(heads), vocab, entries, words, word_docs)


def save(out: str | Path, manifest: Manifest, documents: Sequence[Document], index: CorpusIndex,
         inputs: Sequence[str], problems: Sequence[str] = (), snap: Snapshot | None = None,
         records: Sequence[dict[str, Any]] = (), doc_file: Sequence[int] | None = None) -> Path:
    """Save an index built in memory (an engine that is not ``streamed``: its postings arrays).
    ``records``: the source files read (``file_record``), ``doc_file``: the record each document
    came from."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = DocumentWriter(out)
    for d in documents:
        writer.add(d)
    files, ranges = writer.close()
    n = len(documents)
    heads: dict[tuple[str, ...], int] = {}
    doc_pos = {d.id: i for i, d in enumerate(documents)}
    engine = index.retriever.postings_arrays()  # what an engine built in memory saves
    passages = passage_arrays(index.passages, doc_pos, heads, [d.text for d in documents])
    if index.whole_terms is not None:  # each passage's terms as answering reads them (``terms.txt``)
        kept = TermsWriter(out)
        for line in index.whole_terms:
            kept.add(line if isinstance(line, str) else " ".join(line))
        kept_files, kept_ranges = kept.close()
        files.update(kept_files)
        passages.update(kept_ranges)
    generation = Generation(
        documents=dict(part=np.zeros(n, np.int16), **ranges,
                       source_file=np.asarray(doc_file if doc_file is not None else np.zeros(n), np.int32)),
        passages=passages,
        terms=lambda: terms_blob(heads, engine.vocab, index.glossary, index.speller.words),
        records=records, save_engine=lambda: engine.save(out))
    write_generation(out, generation, files, manifest, inputs, index.retriever.name, problems, snap)
    return out


@dataclass
class Generation:
    """What a generation of an index holds beside its parts' files (the files of
    ``layout.GENERATION_FILES``): written by ``write_generation``."""

    documents: Mapping[str, np.ndarray]  # per document: its part, byte ranges, source file
    passages: Mapping[str, np.ndarray]  # per passage: offsets, heading path, sentences (``passage_arrays``)
    terms: Callable[[], bytes]  # the ``terms_blob`` (asked for once the passages are written)
    records: Sequence[dict[str, Any]]  # the source files read (``sources_blob``)
    save_engine: Callable[[], dict[str, Any]]  # writes the engine's files under this generation's names
    number: int = 0  # 0: a full build (plain file names)


def write_generation(out: Path, gen: Generation, files: Mapping[str, Any], manifest: Manifest,
                     inputs: Sequence[str], engine: str, problems: Sequence[str], snap: Snapshot | None = None,
                     parts: Sequence[str] = ("",), seen_before: Any = None) -> dict[str, Any]:
    """The one writer of an index's generation, for full builds, large builds and updates:
    documents, passages, terms, sources and the engine's files under ``gen.number``'s names, then
    ``index.json`` naming them with ``files`` (the parts' files and others kept). Returns every
    file the header names. ``seen_before``: an update's (``write_header``)."""
    files = dict(files)

    def name(base: str) -> str:
        return generation_name(base, gen.number)

    for base, arrays in ((DOCUMENTS_NPZ, gen.documents), (PASSAGES_NPZ, gen.passages)):
        files[name(base)] = atomic_npz(out / name(base), **arrays)
    files.pop(name(EARLIER_TERMS), None)  # an update of an earlier version's index writes the new file
    files[name(TERMS_FILE)] = atomic_write(out / name(TERMS_FILE), gen.terms())
    files[name(SOURCES_JSON)] = atomic_write(out / name(SOURCES_JSON), sources_blob(gen.records))
    files.update(gen.save_engine())
    write_header(out, manifest, inputs, files, engine, len(gen.documents["part"]), len(gen.passages["doc"]),
                 problems, snap, gen.number, parts, seen_before=seen_before)
    return files


INDEX_FILE = re.compile(r"(?:texts|documents|blocks|passages|bm25|terms|sources|sentences)(?:\.\d+)?\.(?:bin|jsonl|npz|json\.gz|txt)|"
                        r"tantivy(?:\.\d+)?|documents\.jsonl\.gz")


def remove_unreferenced(out: Path, files: Mapping[str, Any]) -> None:
    """Delete index files the header no longer lists (an update's earlier generation, another
    engine's files, a killed update's leftovers)."""
    keep = {name.split("/")[0] for name in files}
    for f in out.iterdir():
        leftover = f.name.startswith(".") and re.search(r"\.(?:tmp|old)-\d+$", f.name) is not None
        if leftover or (f.name not in keep and INDEX_FILE.fullmatch(f.name)):
            remove(f)


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
    """A corpus.yaml beside the index listing what was indexed (titles can be edited, then re-index),
    where the listing is at most ``MAX_LISTING_BYTES``."""
    import yaml

    if (out / MANIFEST).exists():
        return
    seen: dict[str, dict[str, Any]] = {}
    for d in documents:
        src = d.source.split("#")[0]
        if src not in seen:
            entry: dict[str, Any] = {"path": src, "title": str(d.title) if "#" not in d.source else None}
            # plain types only: a PDF library's str subclass would make PyYAML fail (RepresenterError)
            entry.update({str(k): _plain(v) for k, v in d.metadata.items() if k != "format" and not private(k)})
            seen[src] = {k: v for k, v in entry.items() if v is not None}
    body = {"name": manifest.name, "documents": list(seen.values()),
            "settings": manifest.settings.flat()}
    text = "# Written by `python -m bot index`: what this index holds (paths relative to the sources).\n"
    data = (text + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)).encode()
    if len(data) <= MAX_LISTING_BYTES:  # else (over 600,000 files) none: the index answers as its header says
        atomic_write(out / MANIFEST, data)


