"""The saved index's layout, written once: its format marker, the names of its files (per
generation and part), which source files a build reads, the fingerprint that tells a stale
index, and the checked header (``index.json``). Read by both sides: ``store`` (answering) and
``writer`` (building)."""
from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import mmap
import operator
import os
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from bot.config import MANIFEST, SETTING_NAMES, CorpusError, IndexSettings, load_manifest, settings_from
from bot.index.names import ENGINES
from bot.index.files import IndexFileError, checked, read_checked
from bot.sources.ingest import Walk, path_text_order, walk
from bot.sources.readers import LoadReport

FORMAT = "grounded-bot-index"
# 4: a large index keeps its sentences in its parts' files (``SENTENCE_ARRAYS``), which a reader of
# version 3 would not find (it would fail at every question instead of saying so at load).
VERSION = 4
READ_VERSIONS = (3, VERSION)  # version 3's indexes are read as they are; their next write makes them 4
ANALYZER = "nfkc-fold/latin-accent-fold/number-words/stopwords-v1/snowball-english/acronym-plurals/hyphen-parts/joined-pairs"
INDEX_JSON = "index.json"
# The files rewritten at each generation (one table: the writers, the reader and the updater use it).
DOCUMENTS_NPZ, PASSAGES_NPZ, BM25_NPZ = "documents.npz", "passages.npz", "bm25.npz"
TERMS_FILE, SOURCES_JSON = "terms.bin", "sources.json.gz"
EARLIER_TERMS = "terms.json.gz"  # the terms file as earlier versions wrote it (gzip JSON), still read
GENERATION_FILES = (DOCUMENTS_NPZ, PASSAGES_NPZ, BM25_NPZ, TERMS_FILE, EARLIER_TERMS, SOURCES_JSON)
TANTIVY_DIR = "tantivy"  # the tantivy engine's folder, also rewritten at each generation ("tantivy.3")


def is_index(path: str | Path) -> bool:
    return (Path(path) / INDEX_JSON).is_file()


def looks_like_index(path: str | Path) -> bool:
    """Index files without their index.json (deleted, or an interrupted first build)."""
    folder = Path(path)
    return folder.is_dir() and any((folder / name).exists() for name in (part_files("")["texts"], PASSAGES_NPZ, BM25_NPZ))


# ---- sources and fingerprint ----------------------------------------------------------------
def source_files(inputs: Sequence[str], walked: Walk | None = None) -> list[Path]:
    """Every document file a build reads: files under the inputs and the documents a corpus
    folder's manifest lists (also those outside the folder, where it allows them). The manifest
    itself is not one of them: ``manifest_state`` takes what of it the index is made of.
    ``walked``: the inputs' ``walk``, taken already."""
    files = list((walked if walked is not None else walk(inputs)).real)
    for raw in inputs:
        m = Path(raw) / MANIFEST
        if m.is_file():
            try:
                listed = load_manifest(m).documents
            except CorpusError:
                listed = ()
            files.extend((Path(raw) / e.path).resolve() for e in listed if (Path(raw) / e.path).is_file())
    unique = {str(f): f for f in files}  # a Path keeps its text once made; its hash and order are Python calls
    return [unique[name] for name in sorted(unique, key=path_text_order)]


def source_manifest(inputs: Sequence[str]) -> Path | None:
    """The corpus.yaml of an index built from one corpus folder (None for files and plain folders)."""
    if len(inputs) == 1 and (Path(inputs[0]) / MANIFEST).is_file():
        return Path(inputs[0]) / MANIFEST
    return None


Snapshot = list[tuple[str, int, int]]


def describing_manifest(folder: Path, inputs: Sequence[str]) -> tuple[Path, bool]:
    """The corpus.yaml whose name, description, examples and answer settings an index at
    ``folder`` answers with: its source folder's, else the one beside it; and whether it is the
    one beside it (whose document entries may hold an earlier version's private keys)."""
    source = source_manifest(inputs)
    return (source, False) if source is not None else (folder / MANIFEST, True)


def manifest_seen(folder: Path, inputs: Sequence[str], before: Any = None) -> dict[str, Any] | None:
    """What the describing corpus.yaml says (name, description, examples, answer settings) with
    its size and time, recorded in the header when an index is written: a load finding the file
    unchanged takes these values instead of parsing it (a corpus.yaml listing 10,000 documents
    took most of a second to parse). None when there is none or it does not read. ``before``: what
    the header being replaced (an update's) recorded, taken as it is where the file is unchanged."""
    path, beside = describing_manifest(folder, inputs)
    try:
        st = path.stat()
        if isinstance(before, dict) and (before.get("size"), before.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
            return before
        m = load_manifest(path, beside=beside)
    except (OSError, CorpusError):
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "description": m.description,
            "name": None if m.name == path.parent.name else m.name,  # None: named after its folder
            "examples": list(m.examples), "answer": asdict(m.settings.answer)}

_MANIFEST_PART = "#documents-and-index-settings"


def manifest_state(path: Path) -> tuple[str, int, int]:
    """A snapshot entry for what of a corpus.yaml the index is made of: its document entries and
    its index settings. Its answer settings, name, description and examples are read again at
    every load, so editing them (``strictness: 0.7``) never makes the index stale."""
    try:
        m = load_manifest(path)
        blob = json.dumps([[e.path, e.id, e.title, e.metadata] for e in m.documents] + [asdict(m.settings.index)],
                          sort_keys=True)
    except CorpusError as exc:  # broken now: stale until it reads again (the build then names the line)
        blob = f"unreadable: {exc}"
    digest = hashlib.sha256(blob.encode()).hexdigest()
    return str(path.resolve()) + _MANIFEST_PART, len(blob), int(digest[:15], 16)


# A snapshot entry's size for what is watched, not fingerprinted: a folder (its modification time
# changes when a file is added, removed or renamed in it) and a corpus.yaml file (edited: its
# manifest entry is read again). ``stale_at_load`` stats these instead of walking the sources.
FOLDER, MANIFEST_FILE = -1, -2


def snapshot_sources(inputs: Sequence[str], walked: Walk | None = None) -> Snapshot:
    """The state of everything an index of ``inputs`` is made of, taken before a build reads it:
    each source file, what of each corpus.yaml the index is made of (``manifest_state``), and
    the folders and corpus.yaml files watched at load (``FOLDER``, ``MANIFEST_FILE``)."""
    files = source_files(inputs, walked)
    snap = snapshot(files)
    manifests = [Path(raw) / MANIFEST for raw in inputs if (Path(raw) / MANIFEST).is_file()]
    snap += [manifest_state(m) for m in manifests]
    snap += _watched(manifests, MANIFEST_FILE)
    snap += _watched(_folders(inputs, files), FOLDER)
    return snap


def _folders(inputs: Sequence[str], files: Sequence[Path]) -> list[Path]:
    """The folders a file added to the sources would change: each input folder, and every folder
    between it and a source file (a file outside them, named by a manifest: its own folder)."""
    roots = [str(Path(raw).resolve()) for raw in inputs if Path(raw).is_dir()]
    found: set[str] = set(roots)  # on the paths' text: a Path's hash and parent are Python calls
    for f in files:
        parent = os.path.dirname(f)
        if parent in found:  # most files: their folder is known already
            continue
        root = next((r for r in roots if parent == r or parent.startswith(os.path.join(r, ""))), None)
        while parent not in found:
            found.add(parent)
            if root is None or parent == root:
                break
            parent = os.path.dirname(parent)
    return sorted(Path(p) for p in found)


def _watched(paths: Iterable[Path], kind: int) -> Snapshot:
    out: Snapshot = []
    for p in paths:
        try:
            out.append((str(p.resolve()), kind, p.stat().st_mtime_ns))
        except OSError:
            continue
    return out


def index_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The index part of a header's settings (what the fingerprint covers)."""
    return {k: v for k, v in settings.items() if k in IndexSettings.__dataclass_fields__}


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
    """What the index is made of: its source files, its manifests' documents and index settings,
    the analyzer. Watched entries (folders, manifest files) are not part of it: a folder's time
    changes with an editor's swap file, which changes no source."""
    h = hashlib.sha256()
    for name, size, mtime in snap:
        if size in (FOLDER, MANIFEST_FILE):
            continue
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(ANALYZER.encode())
    return h.hexdigest()


def generation_name(name: str, generation: int) -> str:
    """An index file's name at a generation of updates: "passages.npz" at 3 is "passages.3.npz";
    generation 0 (a full build) keeps the plain name, as does a folder ("tantivy" -> "tantivy.3")."""
    if not generation:
        return name
    stem, dot, ext = name.partition(".")
    return f"{stem}.{generation}{dot}{ext}"


def generation_of(name: str) -> int | None:
    """The generation a file the header names was written for, when it is one written anew at
    each generation (``GENERATION_FILES``, the tantivy folder and the files in it): "passages.3.npz"
    -> 3, "tantivy/meta.json" -> 0; None for the others (a part's files)."""
    first = name.split("/")[0]
    for base in GENERATION_FILES + (TANTIVY_DIR,):
        stem, dot, ext = base.partition(".")
        if first == base:
            return 0
        if first.startswith(stem + ".") and first.endswith(dot + ext):
            middle = first[len(stem) + 1 : len(first) - len(dot + ext)]
            if middle.isdigit():
                return int(middle)
    return None


def part_files(suffix: str) -> dict[str, str]:
    """The append-only files of one part: document texts, their metadata, their structure (the
    blocks a documentation reader recorded, ``sources.structure``: little-endian int32s, each
    document's byte range in ``documents.npz``), passage terms, and the sentences of a large
    index's passages (``SENTENCE_ARRAYS``; see ``sentences_in_parts``)."""
    return {"texts": f"texts{suffix}.bin", "meta": f"documents{suffix}.jsonl", "blocks": f"blocks{suffix}.bin",
            "terms": f"terms{suffix}.txt", "sentences": f"sentences{suffix}.npz"}


# Each sentence of a passage: its start and end in the document's text and whether it is a list
# item. A large index keeps them in its parts' sentences files (an update writes only its new
# passages' sentences, not the 700 MB of all of them at 10M passages), and each passage in
# passages.npz has ``sent_at``, where its sentences start in the parts' files taken one after
# the other in the header's part order (the parts without one count for none), and ``sent_n``,
# how many it has. A small index, and a large one of an earlier version, keep them in
# passages.npz with ``sent_ptr`` (passage i's are rows ``sent_ptr[i]:sent_ptr[i + 1]``).
SENTENCE_ARRAYS = ("sent_start", "sent_end", "sent_bullet")


def sentences_in_parts(passages: Mapping[str, Any]) -> bool:
    """Whether a generation's passage arrays point into the parts' sentences files."""
    return "sent_at" in passages


def sentence_files(header: Mapping[str, Any]) -> list[str]:
    """The sentences files of an index whose passages point into them, in part order. Every part
    from the first that has one on has one (an earlier version's parts before it have none): a
    header listing fewer would shift every passage's sentences after the gap, so it is refused."""
    files = header.get("files") or {}
    names = [part_files(str(suffix))["sentences"] for suffix in header.get("parts") or [""]]
    have = [name in files for name in names]
    first = have.index(True) if True in have else len(have)
    if first == len(have) or not all(have[first:]):
        missing = next((n for n, h in zip(names[first:], have[first:]) if not h), names[-1])
        raise IndexFileError(f"{missing}: a part's sentences file is not in the index's list of files")
    return names[first:]


BLOCKS_DTYPE = "<i4"
# An index written before document structure had a file of its own kept it in each document's
# metadata (documents.jsonl) and wrote it into corpus.yaml; it is still read (the structure from
# the metadata), and `python -m bot index` builds it anew, saying so.
EARLIER_LAYOUT = ("the index was written by an earlier version, which kept each document's structure in "
                  "documents.jsonl and corpus.yaml (it now has a file of its own)")


def blocks_saved(header: dict[str, Any]) -> bool:
    """Whether every part of the index has its blocks file (False: the earlier layout)."""
    files = header.get("files") or {}
    return all(part_files(str(s))["blocks"] in files for s in header.get("parts") or [""])


def outdated(header: dict[str, Any]) -> str | None:
    """Why an index that still reads should be built anew by the current version, or None."""
    return None if blocks_saved(header) else EARLIER_LAYOUT


TERMS_MAGIC = b"grounded-bot-terms 2\n"  # then a JSON line naming the sections, then the sections


def terms_name(files: Mapping[str, Any], generation: int) -> str:
    """The terms file of a generation: ``TERMS_FILE``, or ``EARLIER_TERMS`` in an earlier version's index."""
    name = generation_name(TERMS_FILE, generation)
    return name if name in files else generation_name(EARLIER_TERMS, generation)


def strictly_increasing(items: Sequence[str]) -> bool:
    """Each item sorts after the one before it: in order, without repeats."""
    return all(map(operator.lt, items, itertools.islice(items, 1, None)))


class HeadingLines(list):
    """Heading paths as the terms file keeps them: a line of UTF-8 bytes each (``heading_line``),
    handed from one terms file to the next without making a tuple of every path."""


def heading_lines(paths: Iterable[Sequence[str]]) -> HeadingLines | None:
    """Heading paths' lines in the terms file; None where a part of one holds a line break or the
    separator (the file then keeps them as a list of lists)."""
    if any("\n" in part or _PART in part for path in paths for part in path):
        return None
    return HeadingLines("".join(_PART + part for part in path).encode("utf-8") for path in paths)


def terms_file(headings: Sequence[Sequence[str]] | HeadingLines, vocab: Sequence[str], glossary: list[dict[str, Any]],
               words: Sequence[str], word_docs: Sequence[int] | None = None) -> bytes:
    """The terms file: heading paths, glossary, the vocabulary (in term-id order) as one string of
    lines, and the speller's words as one such string per word length, each in alphabetical order
    (a correction splits only the lengths it needs). A line of JSON (the glossary, whether the
    vocabulary is sorted, and where each section's bytes are), then the sections back to back, not
    compressed: a load decodes the vocabulary, reads a heading path when a passage under it is
    read (its line's end is in a section of little-endian int64s) and leaves the speller's words as
    bytes until a correction needs them. (As one gzip JSON object, a million passages' terms took
    half a second to read at every load.)"""
    lengths = [len(w) for w in words]
    if strictly_increasing(words):  # alphabetical already (an update's):
        order = sorted(range(len(words)), key=lengths.__getitem__)  # a stable sort by length keeps it so
    else:
        order = sorted(range(len(words)), key=lambda i: (lengths[i], words[i]))
    groups: dict[str, list[str]] = {}
    for i in order:
        groups.setdefault(str(len(words[i])), []).append(words[i])
    lines = headings if isinstance(headings, HeadingLines) else heading_lines(headings)
    head: dict[str, Any] = {**({"headings_count": len(lines)} if lines is not None
                               else {"headings": [list(h) for h in headings]}),
                            "glossary": glossary,
                            "vocab_sorted": strictly_increasing(vocab)}
    sections: dict[str, bytes] = {"vocab_lines": "\n".join(vocab).encode("utf-8")}
    if lines is not None:
        sections["headings_lines"] = b"\n".join(lines)
        ends = np.cumsum([len(x) + 1 for x in lines], dtype=np.int64) - 1  # each line's end (its newline's place)
        sections["headings_ends"] = ends.astype("<i8").tobytes()
    sections.update({f"words_{n}": "\n".join(ws).encode("utf-8") for n, ws in groups.items()})
    if word_docs is not None:  # in the words' order here: by length, then alphabetical
        sections["word_docs_lines"] = "\n".join(str(int(word_docs[i])) for i in order).encode("utf-8")
    at, spans = 0, {}
    for name, b in sections.items():
        spans[name] = [at, at + len(b)]
        at += len(b)
    head["sections"] = spans
    line = json.dumps(head, ensure_ascii=False).encode("utf-8") + b"\n"
    return b"".join([TERMS_MAGIC, line, *sections.values()])


_PART = "\x1f"  # before each part of a heading path in its line ("\x1fA\x1fB"; the empty path: "")
_PART_BYTES = _PART.encode("utf-8")


class HeadingPaths(Sequence):
    """The heading paths of a terms file's ``headings_lines``: each made into a tuple when asked."""

    def __init__(self, text: str | memoryview, count: int, ends: np.ndarray | None = None):
        """``text``: the lines; ``ends``: where each line ends in ``text``'s UTF-8 bytes (then
        ``text`` is those bytes, and a line is decoded when asked for)."""
        self._ends = ends
        if ends is not None:
            self._bytes, self._lines = text, None
            n = len(ends)
        else:
            self._lines = text.split("\n") if count else []
            n = len(self._lines)
        if n != count:
            raise ValueError(f"{count} heading paths expected, {n} found")
        self._n = n

    def __len__(self) -> int:
        return self._n

    def lines(self) -> HeadingLines:
        """Every path's line, as bytes (``terms_file`` writes them as they are)."""
        if self._lines is not None:
            return HeadingLines(x.encode("utf-8") for x in self._lines)
        return HeadingLines(bytes(self._bytes).split(b"\n") if self._n else [])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._lines is not None:
            return tuple(self._lines[i].split(_PART)[1:])
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        start = int(self._ends[i - 1]) + 1 if i else 0
        return tuple(str(self._bytes[start:int(self._ends[i])], "utf-8").split(_PART)[1:])


    def matching(self, ids: np.ndarray, path: Sequence[str]) -> np.ndarray | None:
        """Those of ``ids`` (each in range) whose path is ``path``, found by comparing the lines'
        bytes (only those of its length), none decoded; None where the lines are not kept as
        bytes. A line is its parts each after the separator, so equal bytes are equal paths."""
        if self._lines is not None:
            return None
        want = "".join(_PART + part for part in path).encode("utf-8")
        at, starts, ends = self._places(ids)
        same = np.flatnonzero(ends - starts == len(want))
        data = self._bytes
        return at[[k for k in same.tolist() if data[int(starts[k]):int(ends[k])] == want]]

    def children(self, ids: np.ndarray, path: Sequence[str], limit: int | None = None) -> list[tuple[str, ...]] | None:
        """The paths one part longer than ``path`` that begin with it, made from those of ``ids``
        (each in range) that are ``path`` followed by one or more parts, in the order of ``ids``
        (a document's paths in order of first appearance: a section's subsections in document
        order), each once, at most ``limit``. Found by comparing the lines' bytes; only each
        child's own part is decoded. None where the lines are not kept as bytes."""
        if self._lines is not None:
            return None
        want = "".join(_PART + part for part in path).encode("utf-8") + _PART_BYTES
        n = len(want)
        _, starts, ends = self._places(ids)
        under = np.flatnonzero(ends - starts >= n)
        if len(under) and n > 1:  # most lines are elsewhere: two bytes each, then every byte of the few left
            buf = np.frombuffer(self._bytes, np.uint8)
            key = np.frombuffer(want, np.uint8)
            for j in (n - 2, 1):
                under = under[buf[starts[under] + j] == key[j]]
            if len(under):
                under = under[(buf[starts[under][:, None] + np.arange(n)] == key).all(axis=1)]
        data, seen = self._bytes, {}
        for a, b in zip((starts[under] + n).tolist(), ends[under].tolist()):
            part = bytes(data[a:b]).split(_PART_BYTES, 1)[0]
            if part not in seen:
                seen[part] = None
                if limit is not None and 0 < limit <= len(seen):
                    break
        return [(*path, str(part, "utf-8")) for part in seen][:limit]  # (a limit of 0 or below: as a slice takes it)

    def _places(self, ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``ids`` (each in range, else ``IndexError``: a damaged index) and where their lines
        start and end in the bytes."""
        at = np.asarray(ids, np.int64)
        if len(at) and (at.min() < -self._n or at.max() >= self._n):  # a damaged index: as ``many`` says it
            raise IndexError(f"heading path index out of range (of {self._n})")
        at %= max(self._n, 1)
        ends = self._ends[at]
        return at, np.where(at > 0, self._ends[at - 1] + 1, 0), ends

    def many(self, ids: Sequence[int]) -> list[tuple[str, ...]]:
        """``[self[i] for i in ids]``, the lines' places looked up at once (a document's paths:
        a reference page has a thousand)."""
        if self._lines is not None or len(ids) < 32:  # a few: numpy's calls would cost more than they save
            return [self[int(i)] for i in ids]
        at = np.asarray(ids, np.int64)
        if at.min() < -self._n or at.max() >= self._n:
            raise IndexError(f"heading path index out of range (of {self._n})")
        at %= self._n
        ends = self._ends[at]
        starts = np.where(at > 0, self._ends[at - 1] + 1, 0)  # at - 1 is -1 only where at is 0
        data = self._bytes
        return [tuple(str(data[a:b], "utf-8").split(_PART)[1:]) for a, b in zip(starts.tolist(), ends.tolist())]


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def _text(section: str | memoryview | bytes) -> str:
    return section if isinstance(section, str) else str(section, "utf-8")


def read_terms(blob: bytes | mmap.mmap, words: bool = True, lazy_headings: bool = False,
               name: str = "the terms file") -> dict[str, Any]:
    """``terms_file``'s contents (also as an earlier version wrote them, with plain lists):
    headings, glossary, vocab and, with ``words``, the speller's words and for a large index
    word_docs (how many documents hold each); without it (a load), ``words_by_length`` (length ->
    string of lines) where the file has them, else ``words``, and headings as ``HeadingPaths``
    (each path made when a passage under it is; also with ``lazy_headings``), and a sorted
    vocabulary as the file's lines (``MappedVocabulary``); ``name``: the file, for messages."""
    if blob[:len(TERMS_MAGIC)] == TERMS_MAGIC:  # bytes, or a memory map of the file (a load's)
        meta = _sections(blob)
    else:  # as earlier versions wrote it: one JSON object, gzip'ed
        meta = json.loads(gzip.decompress(bytes(blob)))
    if "headings_lines" in meta:
        paths = HeadingPaths(meta.pop("headings_lines"), int(meta.pop("headings_count")), meta.pop("headings_ends", None))
        meta["headings"] = [paths[i] for i in range(len(paths))] if words and not lazy_headings else paths
    if "vocab_lines" in meta:
        lines, in_order = meta.pop("vocab_lines"), meta.pop("vocab_sorted", False)
        if not words and in_order and isinstance(lines, tuple):  # a load: left as the file's bytes
            meta["vocab"] = MappedVocabulary(*lines, name=name)
        else:
            vocab = _lines(_text(lines[0][lines[1]:lines[1] + lines[2]]) if isinstance(lines, tuple) else lines)
            meta["vocab"] = SortedVocabulary(vocab) if in_order else vocab
        groups = meta["words_by_length"] = {int(n): text for n, text in meta["words_by_length"].items()}
        if words:
            meta["words"] = [w for n in sorted(groups) for w in _lines(_text(groups[n]))]
            if "word_docs_lines" in meta:
                meta["word_docs"] = [int(c) for c in _lines(meta.pop("word_docs_lines"))]
    return meta


class SortedVocabulary(Sequence[str]):
    """A vocabulary its terms file says is in sorted order, without repeats (``SortedTerms``
    finds terms in it by binary search). The terms are a tuple: the garbage collector stops
    tracking a tuple of strings after its first look, where every full pass walked a list of them
    (35 ms at 694,000 terms, paid by whichever question was being answered)."""

    __slots__ = ("terms",)

    def __init__(self, terms: Iterable[str]):
        self.terms: tuple[str, ...] = tuple(terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, i):  # type: ignore[override]
        return self.terms[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SortedVocabulary):
            return self.terms == other.terms
        if isinstance(other, (list, tuple)):
            return self.terms == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class MappedVocabulary(Sequence[str]):
    """A sorted vocabulary left as its lines in the terms file (read or memory-mapped): a term is
    decoded when asked for, and ``find`` looks one up by binary search on the bytes (UTF-8 bytes
    sort as their code points do). A load decodes and splits none of the terms (at 1.28M
    passages, 700,000 terms: 0.08 s of a 0.3 s load, and their strings in every process);
    iterating decodes them all at once (``SortedTerms.warm``, at a server's start). Bytes that
    are not UTF-8 (a file changed after indexing, which only ``index --verify`` hashes) raise
    ``IndexFileError`` when decoded."""

    __slots__ = ("_data", "_at", "_size", "_ends", "_n", "_name")

    def __init__(self, data: bytes | mmap.mmap, at: int, size: int, name: str = "the terms file"):
        """``data[at:at + size]``: the terms, one a line, in order, without a last line break;
        ``name``: the file, for messages."""
        self._data, self._at, self._size, self._name = data, at, size, name
        if size:
            breaks = np.flatnonzero(np.frombuffer(data, np.uint8, count=size, offset=at) == 10)
            ends = np.empty(len(breaks) + 1, np.int64)  # where each line ends (the next starts one after)
            ends[:-1], ends[-1] = breaks, size
            ends += at
        else:
            ends = np.empty(0, np.int64)
        self._ends = memoryview(ends)  # each item a Python int
        self._n = len(ends)

    def __len__(self) -> int:
        return self._n

    def _line(self, i: int) -> bytes:
        return self._data[self._ends[i - 1] + 1 if i else self._at:self._ends[i]]

    def _decoded(self, raw: bytes) -> str:
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            raise IndexFileError(f"{self._name}: index file was changed after indexing (its vocabulary is "
                                 "not UTF-8)") from None

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._decoded(self._line(int(i) % self._n))

    def __iter__(self) -> Iterator[str]:
        return iter(_lines(self._decoded(self._data[self._at:self._at + self._size])))

    def find(self, term: str) -> int:
        """The term's place, or -1."""
        try:
            key = term.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no term of the file holds one
            return -1
        data, ends, at = self._data, self._ends, self._at
        lo, hi = 0, self._n
        while lo < hi:
            mid = (lo + hi) >> 1
            if data[ends[mid - 1] + 1 if mid else at:ends[mid]] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < self._n and self._line(lo) == key else -1

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.find(term) >= 0

    def index(self, term: object, start: int = 0, stop: int | None = None) -> int:
        i = self.find(term) if isinstance(term, str) else -1
        if i < 0 or i < start or (stop is not None and i >= stop):
            raise ValueError(f"{term!r} is not in the vocabulary")
        return i

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (MappedVocabulary, SortedVocabulary, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _sections(raw: bytes | mmap.mmap) -> dict[str, Any]:
    """A terms file's JSON line with its sections: the vocabulary's place in ``raw``, the heading
    paths and each length's words left as bytes (decoded when a passage or a correction needs them)."""
    body_at = raw.find(b"\n", len(TERMS_MAGIC)) + 1
    if not body_at:
        raise ValueError("the terms file's first line has no end")
    meta = json.loads(raw[len(TERMS_MAGIC):body_at])
    view = memoryview(raw)[body_at:]
    groups: dict[str, Any] = {}
    for name, (a, b) in meta.pop("sections").items():
        if name.startswith("words_"):
            groups[name[len("words_"):]] = view[a:b]
        elif name == "headings_lines":
            meta[name] = view[a:b]
        elif name == "headings_ends":
            meta[name] = np.frombuffer(view[a:b], "<i8")
        elif name == "vocab_lines":  # (the file, where the lines start in it, their size)
            meta[name] = (raw, body_at + a, b - a)
        else:
            meta[name] = str(view[a:b], "utf-8")
    meta["words_by_length"] = groups
    return meta


def read_sources(folder: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    name = generation_name(SOURCES_JSON, int(header.get("generation") or 0))
    return json.loads(gzip.decompress(read_checked(folder, name, header["files"][name])))["files"]


def read_header(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    try:
        header = json.loads((folder / INDEX_JSON).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{folder / INDEX_JSON}: not a readable index ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorpusError(f"{folder / INDEX_JSON}: not an index written by `python -m bot index`")
    if header.get("version") not in READ_VERSIONS or header.get("analyzer") != ANALYZER:
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

    if header.get("engine") not in ENGINES:
        raise bad("engine", " or ".join(f'"{e}"' for e in ENGINES))
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
    settings_from({k: v for k, v in settings.items() if k in SETTING_NAMES}, lambda key: str(path))


def repair_command(folder: str | Path, header: dict[str, Any]) -> str:
    """The command that brings the index at ``folder`` back in line with its sources (an update
    when it can, a full build when the index is damaged)."""
    inputs = " ".join(shlex.quote(i) for i in header.get("inputs") or []) or "SOURCES"
    return f"`python -m bot index {inputs} --out {shlex.quote(str(folder))}`"


def damage(folder: str | Path, header: dict[str, Any], full: bool = False) -> str | None:
    """What is wrong with the files ``index.json`` names (missing or truncated: the checks the
    loader makes; with ``full``, changed too: each file's checksum), or None. Asked before an
    update or ``--rebuild`` trusts the index, so a damaged one is built anew instead of being
    called up to date, and by ``index --verify``."""
    for name, info in (header.get("files") or {}).items():
        try:
            checked(Path(folder), name, info, full)
        except IndexFileError as exc:
            return exc.problem
    files = header.get("files") or {}
    if any(part_files(str(suffix))["sentences"] in files for suffix in header.get("parts") or [""]):
        try:
            sentence_files(header)  # a part's file left out of the list
        except IndexFileError as exc:
            return exc.problem
    return None


CHANGED = "its source files changed since it was built (added, removed or edited)"


def stale_reason(header: dict[str, Any]) -> str | None:
    """Why the index no longer matches its sources, or None when it does: the full check (every
    source file found again and stat'ed, every corpus.yaml read), made by `python -m bot index`."""
    inputs = header.get("inputs") or []
    missing = [i for i in inputs if not Path(i).exists()]
    if missing:
        return f"source {missing[0]} no longer exists"
    if fingerprint(snapshot_sources(inputs), index_settings(header.get("settings") or {})) != header.get("fingerprint"):
        return CHANGED
    return None


def stale_at_load(header: dict[str, Any]) -> str | None:
    """``stale_reason``'s answer, found at load from the snapshot the build recorded (``stamp``)
    without walking the sources: each recorded file stat'ed (edited or removed: stale), each
    watched folder's time compared (a file added, removed or renamed there: the full check
    decides), each corpus.yaml read again only if it was edited. An index without a stamp (an
    earlier version's) gets the full check."""
    stamp = header.get("stamp")
    inputs = header.get("inputs") or []
    if not isinstance(stamp, list):
        return stale_reason(header)
    missing = [i for i in inputs if not Path(i).exists()]
    if missing:
        return f"source {missing[0]} no longer exists"
    states = {name: (size, mtime) for name, size, mtime in stamp if name.endswith(_MANIFEST_PART)}
    for name, size, mtime in stamp:
        if name.endswith(_MANIFEST_PART):
            continue
        try:
            st = os.stat(name)  # a string: a Path object each cost more than the stat (9,565 files)
        except OSError:
            return CHANGED if size != FOLDER else stale_reason(header)
        if size == FOLDER:
            if st.st_mtime_ns != mtime:
                return stale_reason(header)
        elif size == MANIFEST_FILE:
            if st.st_mtime_ns != mtime:  # edited: changed documents or index settings make it stale
                now = manifest_state(Path(name))
                if states.get(now[0]) != (now[1], now[2]):
                    return CHANGED
        elif (st.st_size, st.st_mtime_ns) != (size, mtime):
            return CHANGED
    return None


