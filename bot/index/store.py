"""Load a saved index, so ``ask``, ``search`` and the page start without analyzing text.

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

import bisect
import codecs
import json
from array import array
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from bot.config import SETTING_NAMES, CorpusError, Manifest, load_manifest, settings_from
from bot.index.corpus import CorpusIndex
from bot.index.engines import engine_class
from bot.index.files import IndexFileError, checked, load_npz, map_file
from bot.index.layout import (BLOCKS_DTYPE, DOCUMENTS_NPZ, INDEX_JSON, PASSAGES_NPZ, SENTENCE_ARRAYS, HeadingPaths,
                              blocks_saved, describing_manifest, generation_name, outdated, part_files, read_header,
                              read_terms, repair_command, sentence_files, sentences_in_parts, stale_at_load,
                              terms_name)
from bot.model import Document, Passage, Sentence, SentenceList
from bot.sources import structure
from bot.sources.structure import BLOCKS_KEY
from bot.text.glossary import Entry, Glossary
from bot.text.spelling import Speller

# ---- reading --------------------------------------------------------------------------------
CACHE_BYTES = 16_000_000  # bytes of document text kept (decoded once read; the documents answers cite are read again when evicted)


class Parts:
    """The append-only files of an index's parts, every one memory-mapped when the index is
    loaded: an update or a rebuild may swap another folder in under the same path (or a full
    build rewrite ``texts.bin``), and a map opened later would read the new generation's bytes at
    the old generation's offsets. A map keeps its file readable after the swap deletes it."""

    def __init__(self, folder: Path, suffixes: Sequence[str], kinds: Sequence[str] = ("texts", "meta")):
        self.folder, self.suffixes = folder, list(suffixes)
        self._maps: dict[tuple[int, str], Any] = {
            (part, kind): map_file(folder / part_files(suffix)[kind])
            for part, suffix in enumerate(self.suffixes) for kind in kinds}

    def map(self, part: int, kind: str) -> Any:
        return self._maps[(part, kind)]

    def mapped_bytes(self) -> int:
        """The bytes of all the files mapped (resident in memory once read)."""
        return sum(len(m) for m in self._maps.values())


_UNREAD = object()
_utf8 = codecs.getincrementaldecoder("utf-8")  # a character cut at a span's end is left undecoded, not an error


class StoredDocument(Document):
    """A document of a saved index whose text is read from the mapped texts file and decoded when
    first asked for: answering reads documents for their titles and metadata (a citation's,
    whether a page is documentation) far more often than for their text, and decoding a large
    page's text (a reference page of megabytes) cost milliseconds of a first answer. Equal to a
    ``Document`` with the same fields; pickled as one."""

    def __init__(self, id: str, title: str, source: str, text: Any = _UNREAD, metadata: Any = None, *,
                 read: Any = None):
        # the dataclass's fields in its order (``dataclasses.replace`` passes them all), or ``read``
        for name, value in (("id", id), ("title", title), ("source", source), ("metadata", metadata or {})):
            object.__setattr__(self, name, value)
        if text is not _UNREAD:
            object.__setattr__(self, "text", text)
        else:
            object.__setattr__(self, "_read", read)

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not hold: its text, unread
        if name != "text":
            raise AttributeError(name)
        held = self.__dict__
        read = held.get("_read")
        if read is None:  # another thread read it between this one's look and now (or nothing can)
            if "text" in held:
                return held["text"]
            raise AttributeError("text")
        text = read()
        object.__setattr__(self, "text", text)  # then the reader let go (it holds a mapped file)
        held.pop("_read", None)
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return (self.id, self.title, self.source, self.text, self.metadata) == \
            (other.id, other.title, other.source, other.text, other.metadata)

    __hash__ = None  # type: ignore[assignment]  # as a Document's (its metadata is a dict)

    def __reduce__(self) -> tuple[Any, ...]:
        return Document, (self.id, self.title, self.source, self.text, self.metadata)


class DocumentStore(Sequence):
    """Documents read on demand: texts through memory maps of ``texts*.bin``, metadata from
    ``documents*.jsonl``, each by its part and byte range. ``by_id`` looks documents up by id.

    A document's structure (a documentation reader's blocks, ``sources.structure``) is not in the
    documents it gives: ``blocks(i)`` reads it from ``blocks*.bin`` when it is first asked for, and
    ``with_blocks(i)`` gives the document as its reader made it (what splitting it again needs).
    An index of the earlier layout (no blocks files: ``arrays`` without ``blocks_start``) kept it
    in the metadata, where it is read from."""

    def __init__(self, parts: Parts, arrays: Mapping[str, np.ndarray]):
        self.parts = parts
        self.part = arrays["part"]
        self.text_start, self.text_end = arrays["text_start"], arrays["text_end"]
        self.meta_start, self.meta_end = arrays["meta_start"], arrays["meta_end"]
        self.blocks_start, self.blocks_end = arrays.get("blocks_start"), arrays.get("blocks_end")
        self.source_file = arrays["source_file"]
        self._cache: OrderedDict[int, Document] = OrderedDict()  # most recently read last
        self._cached_bytes = 0
        self._pos: dict[str, int] = {}
        self._all_ids = False
        self.by_id = _ById(self)

    def __len__(self) -> int:
        return len(self.part)

    def _meta(self, i: int) -> dict[str, Any]:
        return json.loads(self.parts.map(int(self.part[i]), "meta")[int(self.meta_start[i]):int(self.meta_end[i])])

    def blocks(self, i: int) -> Sequence[int]:
        """Document ``i``'s blocks as its reader recorded them (a flat array of ints, which
        ``structure.decode`` checks a column at a time; empty for a document without structure:
        Markdown, plain text, PDF)."""
        if i < 0:
            i += len(self)
        if self.blocks_start is None:  # the earlier layout: in the metadata
            return list(self[i].metadata.get(BLOCKS_KEY) or [])
        lo, hi = int(self.blocks_start[i]), int(self.blocks_end[i])
        if hi <= lo:
            return []
        m = self.parts.map(int(self.part[i]), "blocks")
        out = array("i")
        out.frombytes(np.frombuffer(m, BLOCKS_DTYPE, count=(hi - lo) // 4, offset=lo).astype(np.intc, copy=False).tobytes())
        return out

    def with_blocks(self, i: int) -> Document:
        """Document ``i`` with its blocks in its metadata, as its reader made it (to split it again)."""
        d = self[i]
        flat = self.blocks(i)
        return replace(d, metadata={**d.metadata, BLOCKS_KEY: structure.pack(flat)}) if flat else d

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
            got = StoredDocument(o["id"], o["title"], o["source"], metadata=o.get("metadata") or {},
                                 read=self._reader(i))
            self._cache[i] = got
            self._cached_bytes += int(self.text_end[i]) - int(self.text_start[i])  # its bytes: its text's size, read or not
            while len(self._cache) > 1 and (self._cached_bytes > CACHE_BYTES or len(self._cache) > 20_000):
                j, _ = self._cache.popitem(last=False)  # a few huge documents must not fill memory
                self._cached_bytes -= int(self.text_end[j]) - int(self.text_start[j])
            self._pos[got.id] = i
        return got

    def _reader(self, i: int) -> Callable[[], str]:
        """What reads document ``i``'s text: holding its part's mapped texts file and its byte
        range, not this store (a document kept after its index is replaced keeps one map alive,
        not the index's caches)."""
        texts, lo, hi = self.parts.map(int(self.part[i]), "texts"), int(self.text_start[i]), int(self.text_end[i])
        return lambda: texts[lo:hi].decode("utf-8")

    def span(self, i: int, start: int, end: int, byte_start: int | None = None) -> str:
        """Characters ``start:end`` of document ``i``'s text: from its text where that was read
        already, else (``byte_start``: where they start in its UTF-8 bytes) decoded from those
        bytes alone, at most four a character."""
        d = self[i]
        text = d.__dict__.get("text")
        if text is not None or byte_start is None:
            return (text if text is not None else d.text)[start:end]
        lo = int(self.text_start[i]) + byte_start
        hi = min(int(self.text_end[i]), lo + 4 * (end - start))
        return _utf8().decode(self.parts.map(int(self.part[i]), "texts")[lo:hi], False)[:end - start]

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

    def blocks(self, doc_id: str) -> list[int]:
        """A document's blocks, read from the index when first asked for (``DocumentStore.blocks``)."""
        return self._store.blocks(self._store.position(doc_id))


class PartSentences:
    """The sentences files of an index's parts taken one after the other, in the header's part
    order (``layout.SENTENCE_ARRAYS``): a passage's sentences are rows of one of them."""

    def __init__(self, parts: Sequence[Mapping[str, np.ndarray]]):
        self.parts = list(parts)
        self.starts = [0]  # where each part's rows start
        for part in self.parts:
            self.starts.append(self.starts[-1] + len(part["sent_start"]))

    def __len__(self) -> int:
        return self.starts[-1]

    def rows(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, list item or not) of rows ``lo:hi``, which lie in one part (the last
        part, for no rows at the very end)."""
        k = min(bisect.bisect_right(self.starts, lo), len(self.parts)) - 1
        part, base = self.parts[k], self.starts[k]
        if hi > self.starts[k + 1]:
            raise CorpusError(f"the index's sentences files do not match its passages ({lo}:{hi} is not in one "
                              "part); rebuild it with `python -m bot index`")
        return part["sent_start"][lo - base:hi - base], part["sent_end"][lo - base:hi - base], \
            part["sent_bullet"][lo - base:hi - base]

    def mismatch(self, at: np.ndarray, n: np.ndarray) -> int | None:
        """The first passage whose sentences (rows ``at[i]:at[i] + n[i]``) do not lie in one
        part, or None: the whole check ``index --verify`` makes."""
        at = np.asarray(at, np.int64)
        end = at + np.asarray(n, np.int64)
        starts = np.asarray(self.starts, np.int64)
        k = np.minimum(np.searchsorted(starts, at, side="right"), len(self.parts)) - 1
        bad = np.flatnonzero((at < 0) | (end < at) | (end > starts[k + 1]))
        return int(bad[0]) if len(bad) else None


# a document of at most this many passages: its heading paths grouped or searched in Python (and
# its tree built), which costs less than numpy's calls
_FEW = 64


def _first_of_each(ids: np.ndarray) -> np.ndarray:
    """Each of ``ids`` once, in order of first appearance (by a stable sort: np.unique's hash table
    costs milliseconds the first time a process makes one)."""
    order = np.argsort(ids, kind="stable")  # each id's first place comes first among its places
    ranked = ids[order]
    first = np.ones(len(ranked), bool)
    first[1:] = ranked[1:] != ranked[:-1]
    return ids[np.sort(order[first])]


class PassageStore(Sequence):
    """Passages rebuilt on demand from offset arrays and the document texts (no per-passage objects
    until they are read). ``sentences``: the parts' sentences where the arrays point into them
    (``layout.sentences_in_parts``), else None (they are in ``arrays``)."""

    def __init__(self, docs: DocumentStore, heads: Sequence[tuple[str, ...]], arrays: dict[str, np.ndarray],
                 sentences: PartSentences | None = None):
        self.docs, self.head_paths, self.a, self.sentences = docs, heads, arrays, sentences
        self._cache: dict[int, Passage] = {}

    def sentence_rows(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, list item or not) of passage ``i``'s sentences."""
        a = self.a
        if self.sentences is None:
            lo, hi = int(a["sent_ptr"][i]), int(a["sent_ptr"][i + 1])
            return a["sent_start"][lo:hi], a["sent_end"][lo:hi], a["sent_bullet"][lo:hi]
        lo = int(a["sent_at"][i])
        return self.sentences.rows(lo, lo + int(a["sent_n"][i]))

    def __len__(self) -> int:
        return int(len(self.a["doc"]))

    def headings_of(self, i: int) -> tuple[str, ...]:
        """Passage ``i``'s heading path, without building the passage (its text and sentences)."""
        got = self._cache.get(i)
        return got.headings if got is not None else self.head_paths[int(self.a["path"][i])]

    def section_first(self, i: int) -> bool:
        """Whether passage ``i`` opens its section, without building it."""
        return bool(self.a["first"][i])

    def sentence_count(self, i: int) -> int:
        """How many sentences passage ``i`` has, without building it."""
        return len(self.sentence_rows(i + len(self) if i < 0 else i)[0])

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
        start, end = int(a["start"][i]), int(a["end"][i])
        byte_start = a.get("byte_start")
        text = self.docs.span(pos, start, end, None if byte_start is None else int(byte_start[i]))
        rows = self.sentence_rows(i)
        s_start, s_end, s_bullet = rows[0].tolist(), rows[1].tolist(), rows[2].tolist()  # a few: numpy's calls cost more
        sents: Sequence[Sentence]
        # each a slice of the passage (an end before the passage's start would index from its end)
        if s_start and min(s_start) >= start and min(s_end) >= start and max(s_end) <= end:
            spans = [0] * (3 * len(s_start))  # SentenceList's (start, end, bullet) triples
            spans[0::3], spans[1::3], spans[2::3] = s_start, s_end, [1 if b else 0 for b in s_bullet]
            sents = SentenceList(text, start, array("i", spans))
        else:
            sents = tuple(Sentence(d.text[s:e], s, e, bool(b)) for s, e, b in zip(s_start, s_end, s_bullet))
        p = Passage(i, d.id, self.head_paths[int(a["path"][i])], text, start, end, sents, bool(a["first"][i]))
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[i] = p
        return p

    def _span(self, doc_id: str) -> tuple[int, int]:
        """The passages of one document: they are contiguous, ``lo`` to ``hi``."""
        pos = self.docs.position(doc_id)
        doc = self.a["doc"]
        lo, hi = np.searchsorted(doc, np.array([pos, pos + 1], doc.dtype))  # no converted copy
        return int(lo), int(hi)

    def passages_of_document(self, doc_id: str) -> list[int]:
        """One document's passages, in order."""
        return list(range(*self._span(doc_id)))

    def section(self, doc_id: str, path: tuple[str, ...]) -> list[int] | None:
        """The passages of one document whose heading path is ``path``, in order, found from the
        path ids of its passages without decoding their paths (a reference page has thousands);
        None for a document of a few passages, or where the heading paths are not kept as lines
        of bytes (the caller then builds the document's tree)."""
        matching = getattr(self.head_paths, "matching", None)
        if matching is None:
            return None
        lo, hi = self._span(doc_id)
        if hi - lo <= _FEW:  # most documents: their tree costs less than numpy's calls, and is kept
            return None
        ids = self.a["path"][lo:hi]
        found = matching(_first_of_each(ids), path)
        if found is None:
            return None
        if not len(found):
            return []
        return (lo + np.flatnonzero(np.isin(ids, found))).tolist()

    def children(self, doc_id: str, path: tuple[str, ...], limit: int | None = None) -> list[tuple[str, ...]] | None:
        """A section's direct subsections (the paths one part longer that begin with ``path``),
        in document order, at most ``limit``: found from the path ids of the document's passages
        by comparing bytes (``HeadingPaths.children``), without its tree; None where ``section``
        is (the caller then builds the tree)."""
        children = getattr(self.head_paths, "children", None)
        if children is None:
            return None
        lo, hi = self._span(doc_id)
        if hi - lo <= _FEW:
            return None
        return children(_first_of_each(self.a["path"][lo:hi]), path, limit)

    def paths_of_document(self, doc_id: str) -> list[tuple[tuple[str, ...], list[int]]]:
        """One document's heading paths in order of first appearance, each with its passages in
        order: each path is read once, not once a passage (a reference page holds thousands)."""
        lo, hi = self._span(doc_id)
        if hi <= lo:
            return []
        heads = self.head_paths
        if hi - lo <= _FEW:  # most documents: grouped in Python, without a dozen numpy calls' overhead
            groups: dict[int, list[int]] = {}
            for k, path in enumerate(self.a["path"][lo:hi].tolist(), lo):
                groups.setdefault(path, []).append(k)
            return list(zip(heads.many(list(groups)) if hasattr(heads, "many") else [heads[i] for i in groups],
                            groups.values()))
        ids, first, group = np.unique(self.a["path"][lo:hi], return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # the groups in order of first appearance
        rank = np.empty(len(ids), np.int64)
        rank[order] = np.arange(len(ids))
        ranks = rank[group.reshape(-1)]
        grouped = np.argsort(ranks, kind="stable") + lo  # passages by group, in order within each
        ends = np.cumsum(np.bincount(ranks, minlength=len(ids))).tolist()
        passages = grouped.tolist()
        paths = heads.many(ids[order]) if hasattr(heads, "many") else [heads[i] for i in ids[order].tolist()]
        return [(path, passages[a:b]) for path, a, b in zip(paths, [0, *ends[:-1]], ends)]

    def distinct_paths(self, block: int = 4096) -> Iterator[tuple[str, ...]]:
        """Heading paths in order of first appearance, read ``block`` passages at a time (a caller
        wanting the first few stops early, without a pass over a million passages)."""
        paths, seen = self.a["path"], set()
        for lo in range(0, len(paths), block):
            ids, first = np.unique(paths[lo:lo + block], return_index=True)
            for j in np.argsort(first, kind="stable").tolist():
                i = int(ids[j])
                if i not in seen:
                    seen.add(i)
                    yield self.head_paths[i]


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

    __call__ = __getitem__  # an engine's ``terms_of``

    def lines(self, positions: Sequence[int]) -> list[bytes]:
        """The lines of many passages at once, undecoded: UTF-8 terms one space apart."""
        at = np.asarray(positions, np.int64)
        parts, starts, ends = self.part[at].tolist(), self.start[at].tolist(), self.end[at].tolist()
        return [self.parts.map(p, "terms")[s:e] for p, s, e in zip(parts, starts, ends)]


def current_manifest(folder: Path, header: dict[str, Any]) -> Manifest:
    """The index's manifest as it reads now: index settings as built (the header's), and the
    answer settings, name, description and examples from the corpus.yaml that describes the
    index (its source folder's, else the one written beside it), so editing them needs no
    rebuild; from the header when neither is there. A broken corpus.yaml names its line."""
    built = settings_from({k: v for k, v in (header.get("settings") or {}).items() if k in SETTING_NAMES},
                          lambda key: str(folder / INDEX_JSON))
    manifest = Manifest(folder / INDEX_JSON, header.get("name") or folder.name, header.get("description") or "",
                        (), built, tuple(header.get("examples") or ()))
    path, beside = describing_manifest(folder, header.get("inputs") or [])
    seen = header.get("manifest_seen")
    try:
        st = path.stat()
    except OSError:
        return manifest
    if isinstance(seen, dict) and (seen.get("size"), seen.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
        try:  # unchanged since the index was written: what it said then, without parsing it again
            answer = built.with_values(**seen["answer"]).answer
            return replace(manifest, name=seen["name"] or path.parent.name, description=str(seen["description"]),
                           examples=tuple(seen["examples"]), settings=replace(built, answer=answer))
        except (KeyError, TypeError, ValueError):  # a header edited by hand: the file says
            pass
    try:
        now = load_manifest(path, beside=beside)
    except CorpusError as exc:
        why = outdated(header) if beside else None
        if why:  # an earlier version's corpus.yaml (too large with the structure in it, say)
            raise CorpusError(f"{exc}; {why}: build it anew with {repair_command(folder, header)}") from None
        raise
    return replace(manifest, name=now.name, description=now.description, examples=now.examples,
                   settings=replace(built, answer=now.settings.answer))


def load(folder: str | Path, check_stale: bool = True,
         ) -> tuple[Manifest, "DocumentStore", CorpusIndex, list[str]]:
    """(Manifest, documents, CorpusIndex, problems) from an index folder, analyzing no text."""
    folder = Path(folder)
    header = read_header(folder)
    manifest = current_manifest(folder, header)  # first: a broken corpus.yaml names its line
    if check_stale:
        why = stale_at_load(header)
        if why:
            raise CorpusError(f"{folder}: the index is stale: {why}. Rebuild it with "
                              f"{repair_command(folder, header)} or pass --rebuild")
    files = header.get("files") or {}
    try:
        saved_engine = engine_class(header.get("engine"))
        gen = int(header.get("generation") or 0)
        suffixes = [str(x) for x in header.get("parts") or [""]]
        # a streamed engine's passages keep the terms it indexed; others may keep the terms
        # answering reads (``CorpusIndex.whole_terms``)
        kept_terms = saved_engine.streamed or part_files(suffixes[0])["terms"] in files
        kinds = ("texts", "meta") + (("blocks",) if blocks_saved(header) else ()) + (
            ("terms",) if kept_terms else ())
        for suffix in suffixes:
            names = part_files(suffix)
            for kind in kinds:
                checked(folder, names[kind], files[names[kind]])
        parts = Parts(folder, suffixes, kinds)  # all mapped now: a later swap cannot mix generations
        dz = load_npz(folder, generation_name(DOCUMENTS_NPZ, gen), files[generation_name(DOCUMENTS_NPZ, gen)])
        columns = ("part", "text_start", "text_end", "meta_start", "meta_end", "source_file") + (
            ("blocks_start", "blocks_end") if blocks_saved(header) else ())
        docs = DocumentStore(parts, {k: dz[k] for k in columns})
        pname = generation_name(PASSAGES_NPZ, gen)
        pz = load_npz(folder, pname, files[pname])
        arrays = {k: pz[k] for k in ("doc", "start", "end", "first", "path", "sent_ptr", *SENTENCE_ARRAYS, "sent_at",
                                      "sent_n", "byte_start") if k in pz}  # byte offsets: not in earlier indexes
        sentences = None
        if sentences_in_parts(pz):
            sentences = PartSentences([load_npz(folder, name, files[name]) for name in sentence_files(header)])
        tname = terms_name(files, gen)
        # mapped, not read: the heading paths and the speller's words stay in the page cache until used
        meta = read_terms(map_file(checked(folder, tname, files[tname])), words=False, name=str(folder / tname))
        stored_terms = whole_terms = None
        if kept_terms:
            kept = StoredTerms(parts, docs.part[pz["doc"]], pz["terms_start"], pz["terms_end"])
            stored_terms, whole_terms = (kept, None) if saved_engine.streamed else (None, kept)
        engine = saved_engine.load(folder, files, meta["vocab"], gen, pz,
                           stored_terms)
        glossary = Glossary(Entry(g["short"], g["long"], g["key"], tuple(g["long_terms"])) for g in meta["glossary"])
        heads = meta["headings"] if isinstance(meta["headings"], HeadingPaths) else [tuple(h) for h in meta["headings"]]
    except IndexFileError as exc:
        raise CorpusError(f"{exc.problem}; repair it with {repair_command(folder, header)} "
                          "or pass --rebuild") from None
    except CorpusError:
        raise
    except Exception as exc:  # numpy, zlib, json and tantivy each raise their own kinds on a damaged file
        raise CorpusError(f"{folder}: the index is damaged ({type(exc).__name__}: {exc}); "
                          f"rebuild it with {repair_command(folder, header)} --full") from None
    passages = PassageStore(docs, heads, arrays, sentences)
    speller = Speller.from_words(meta.get("words_by_length") or meta.get("words") or [], engine.vocabulary,
                                 acronyms=[e.short for e in glossary.entries])
    # the vocabulary is the engine's own table of terms, not a second copy
    index = CorpusIndex(docs, passages, glossary, None, engine, speller, stored_terms, whole_terms=whole_terms)
    return manifest, docs, index, list(header.get("problems") or [])
