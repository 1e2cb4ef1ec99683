"""The large-corpus engine: tantivy (Rust, memory-mapped, block-max WAND top-k) gathers
candidates, and the product's own BM25 scores them, so rankings are exact BM25 at every size.

tantivy scores with k1 = 1.2, b = 0.75 and passage lengths rounded down to one byte's worth of
precision (its "fieldnorm"), which is close to exact BM25 but not equal; after incremental
updates it also still counts passages that were replaced (they stay in tantivy, marked dead
here). So ``search`` asks tantivy for a few times ``k`` candidates, rescores them exactly (our
IDF over live passages, ``bm25_k1``/``bm25_b`` from the settings, exact lengths, each passage's
stored terms) and checks a bound: a passage tantivy ranked below the candidates scores at most
``bound`` times tantivy's lowest candidate score. While the exact k-th score is below that
bound, it asks for four times as many.

Each tantivy document carries a ``uid``; ``positions`` maps uids to passage positions (-1: a
passage an update replaced or removed).
"""
from __future__ import annotations

import bisect
import os
import shutil
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, KeysView, Mapping, Sequence

import numpy as np

from bot.index import files
from bot.index.engines.base import Hit, bm25_idf, bm25_norm, bm25_tf, check_parameters
from bot.index.layout import (BM25_NPZ, TANTIVY_DIR, MappedVocabulary, SortedVocabulary, generation_name,
                              strictly_increasing)
from bot.index.names import TANTIVY

FIELD = "body"
TANTIVY_K1, TANTIVY_B = 1.2, 0.75
FIRST_DEPTH = 40  # candidates asked for first (at least 4 * k)
MAX_DEPTH = 5_000  # beyond this the ranking is taken as it stands (counted in ``inexact``)


def register_tokenizer(index: Any) -> None:
    """Our terms arrive analyzed and space-separated: split on whitespace only (no lower-casing,
    no length limit, unlike tantivy's default tokenizer)."""
    import tantivy

    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())


def schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=False, indexed=False, fast=True)
    sb.add_text_field(FIELD, stored=False, tokenizer_name="ws", index_option="freq")
    return sb.build()


class TantivyWriter:
    """Writes a tantivy folder from each passage's terms; uids count on from ``first_uid``.
    With ``copy_of``, it starts as a copy of that folder (an update adds to a copy, so the index
    in use is never changed)."""

    def __init__(self, folder: Path, threads: int = 2, copy_of: Path | None = None, first_uid: int = 0,
                 heap: int = 512_000_000):
        import tantivy

        self._tv = tantivy
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        if copy_of is not None:
            shutil.copytree(copy_of, folder, ignore=shutil.ignore_patterns(".tantivy-*"), copy_function=_link_or_copy)
            self._index = tantivy.Index.open(str(folder))
        else:
            folder.mkdir(parents=True)
            self._index = tantivy.Index(schema(), path=str(folder))
        register_tokenizer(self._index)
        self._writer = self._index.writer(heap_size=heap, num_threads=max(1, min(2, threads)))
        self.first_uid = first_uid
        self.count = 0

    def add(self, body: str) -> int:
        """One passage: its terms joined by spaces. Returns its uid."""
        uid = self.first_uid + self.count
        self._writer.add_document(self._tv.Document(id=uid, body=body))
        self.count += 1
        return uid

    def finish(self, counts: bool = True) -> dict[str, int]:
        """Commit, and return every term with its document frequency (``counts``; else nothing)."""
        self._writer.commit()
        self._writer.wait_merging_threads()
        del self._writer
        got: dict[str, int] = {}
        if counts:
            self._index.reload()
            got = dict(self._index.searcher().terms_with_prefix(FIELD, ""))
        del self._index
        return got


def _link_or_copy(src: str, dst: str) -> None:
    """A file of the folder an update starts from, in its copy: a hard link (tantivy never changes
    a file it wrote: it writes new ones and renames its meta files into place, so the folder in
    use stays as it is), a copy where the file system refuses links. Copying the 641 MB folder of
    a 10M-passage index took a part of every update."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def install(tmp: Path, out: Path, name: str = TANTIVY_DIR,
            known: Mapping[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Move a finished tantivy folder into ``out`` as ``name`` (replacing an older one) and
    checksum its files. ``known``: the records of the files of the folder it was copied from
    (names relative to ``out``): a file that is one of them (a hard link, ``_link_or_copy``)
    keeps its record instead of being read again."""
    final = out / name
    old = out / f".{name}.old-{tmp.name.rsplit('-', 1)[-1]}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    by_name = {n.rsplit("/", 1)[-1]: (n, info) for n, info in (known or {}).items()}
    out_files: dict[str, dict[str, Any]] = {}
    for f in sorted(final.iterdir()):
        if not f.is_file() or f.name.startswith(".tantivy-"):  # lock files come and go
            continue
        was = by_name.get(f.name)
        out_files[f"{name}/{f.name}"] = was[1] if was and _linked(f, out / was[0]) else files.checksum(f)
    return out_files


def _linked(a: Path, b: Path) -> bool:
    """Whether two names are one file on disk (a hard link of the other)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def save_statistics(out: Path, df: np.ndarray, doc_len: np.ndarray, k1: float, b: float,
                    uid_len: np.ndarray | None = None, name: str = BM25_NPZ) -> dict[str, dict[str, Any]]:
    """The exact statistics the rescoring uses: document frequencies over live passages, each
    live passage's length, and the length of every passage tantivy holds (by uid, dead ones too)."""
    uid_len = doc_len if uid_len is None else uid_len
    return {name: files.atomic_npz(out / name, df=df, doc_len=doc_len, uid_len=uid_len,
                                   params=np.asarray([k1, b], np.float64))}


class SortedTerms(Mapping[str, int]):
    """Term -> term id over a vocabulary in sorted order (as a tantivy index writes it), found by
    binary search: a load builds no dict of every term (0.3 s and 60 MB at 694,000 terms), and a
    question's few hundred lookups take well under a millisecond more. ``warm`` builds the dict
    for a process that will look up many terms (a server, an update)."""

    def __init__(self, vocab: Sequence[str]):
        self._vocab = vocab
        self._ids: dict[str, int] | None = None
        self._search = vocab.find if isinstance(vocab, MappedVocabulary) else self._bisect

    @classmethod
    def of(cls, vocab: Sequence[str]) -> "Mapping[str, int]":
        """A ``SortedTerms`` when ``vocab`` is sorted and has no repeats, else a dict."""
        if isinstance(vocab, MappedVocabulary):  # a load's: the terms file's lines, searched as bytes
            return cls(vocab)
        if isinstance(vocab, SortedVocabulary):  # sorted as its terms file says (tantivy's always is)
            return cls(vocab.terms)
        vocab = vocab if isinstance(vocab, (list, tuple)) else list(vocab)
        if strictly_increasing(vocab):  # or found so
            return cls(vocab)
        return dict(zip(vocab, range(len(vocab))))

    def warm(self) -> None:
        if self._ids is None:
            self._ids = dict(zip(self._vocab, range(len(self._vocab))))

    def _find(self, term: object) -> int:
        ids = self._ids
        if ids is not None:
            return ids.get(term, -1)  # type: ignore[arg-type]
        if not isinstance(term, str):
            return -1
        return self._search(term)

    def _bisect(self, term: str) -> int:
        vocab = self._vocab
        i = bisect.bisect_left(vocab, term)
        return i if i < len(vocab) and vocab[i] == term else -1

    def __getitem__(self, term: str) -> int:
        i = self._find(term)
        if i < 0:
            raise KeyError(term)
        return i

    def get(self, term: str, default: Any = None) -> Any:  # type: ignore[override]
        i = self._find(term)
        return default if i < 0 else i

    def __contains__(self, term: object) -> bool:
        return self._find(term) >= 0

    def keys(self) -> KeysView[str]:
        """The terms: once warmed, the dict's own keys, whose lookups run in C."""
        return self._ids.keys() if self._ids is not None else super().keys()

    def __len__(self) -> int:
        return len(self._vocab)

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)


class TantivyRetriever:
    """Exact BM25 over a tantivy index: tantivy's candidates rescored from stored terms. The
    "tantivy" engine of ``registry``: built streamed (``writer``), its folder and statistics saved
    by ``save_built``, updated in place a generation at a time."""

    name: ClassVar[str] = TANTIVY
    streamed: ClassVar[bool] = True  # built by worker processes, streamed (``build.build_large``); updated in place
    writer: ClassVar[type[TantivyWriter]] = TantivyWriter  # what each passage's terms are fed to

    def __init__(self, path: str | Path, vocab: Sequence[str], df: np.ndarray, doc_len: np.ndarray,
                 terms_of: Callable[[int], Sequence[str]], k1: float = 1.2, b: float = 0.75,
                 uids: np.ndarray | None = None, uid_len: np.ndarray | None = None):
        """``doc_len``: each live passage's length; ``uids``: each live passage's tantivy uid (by
        default its position); ``uid_len``: the length of every passage tantivy holds, by uid."""
        import tantivy

        check_parameters(k1, b)
        self._tv = tantivy
        self.path = str(path)
        self._index = tantivy.Index.open(self.path)
        register_tokenizer(self._index)
        self._searcher = self._index.searcher()
        self._schema = self._index.schema
        self.k1, self.b = k1, b
        self.vocab = vocab
        self.term_id: Mapping[str, int] = SortedTerms.of(vocab)
        self.df = np.asarray(df, dtype=np.int64)
        self.doc_len = np.asarray(doc_len, dtype=np.int32)
        self.corpus_size = int(len(self.doc_len))
        n = self.corpus_size
        self.idf_arr = bm25_idf(n, self.df)
        self.avgdl = float(self.doc_len.mean()) if n else 1.0
        self.terms_of = terms_of
        # many passages' lines of terms at once, as bytes (``store.StoredTerms.lines``), where kept so
        self._lines: Callable[[Sequence[int]], list[bytes]] | None = getattr(terms_of, "lines", None)
        n_uid = int(len(uid_len)) if uid_len is not None else n
        self.positions = np.full(n_uid, -1, np.int64)  # uid -> passage position, -1 for a dead uid
        self.positions[uids if uids is not None else np.arange(n)] = np.arange(n)
        self.tantivy_n = n_uid
        self.tantivy_avgdl = float(np.mean(uid_len)) if uid_len is not None and n_uid else self.avgdl
        self._ratio: float | None = None
        self.inexact = 0  # searches that stopped at MAX_DEPTH before the bound held
        self.rescored = 0  # candidates scored exactly, over all searches (for benchmarks)
        self.searches = 0

    @classmethod
    def load(cls, folder: Path, info: Mapping[str, dict[str, Any]], vocab: Sequence[str], generation: int = 0,
             passages: Mapping[str, Any] | None = None,
             terms_of: Callable[[int], Sequence[str]] | None = None) -> "TantivyRetriever":
        """The saved engine of a generation: ``passages`` (the passages' arrays) gives each
        passage's uid, ``terms_of`` each passage's stored terms."""
        assert terms_of is not None, "a tantivy index is rescored from its stored terms"
        sub = generation_name(TANTIVY_DIR, generation)
        for name, item in info.items():
            if name.startswith(sub + "/"):
                files.checked(folder, name, item)
        stats = generation_name(BM25_NPZ, generation)
        z = files.load_npz(folder, stats, info[stats])
        k1, b = (float(x) for x in z["params"])
        uids = passages["uid"] if passages is not None else None
        return cls(folder / sub, vocab, z["df"], z["doc_len"], terms_of, k1, b, uids, z["uid_len"])

    @staticmethod
    def save_built(folder: Path, generation: int, tmp: Path, df: np.ndarray, doc_len: np.ndarray, k1: float,
                   b: float, uid_len: np.ndarray | None = None, copied_from: int | None = None,
                   known: Mapping[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
        """Save what ``writer`` built in ``tmp`` as generation ``generation``: the statistics
        (``save_statistics``) and the tantivy folder (``install``). ``copied_from``: the
        generation whose folder ``tmp`` started as a copy of, with ``known``, the index's file
        records (those of that folder's files it shares are kept)."""
        files_out = save_statistics(folder, df, doc_len, k1, b, uid_len, name=generation_name(BM25_NPZ, generation))
        shared = None
        if copied_from is not None:
            sub = generation_name(TANTIVY_DIR, copied_from) + "/"
            shared = {n: info for n, info in (known or {}).items() if n.startswith(sub)}
        files_out.update(install(tmp, folder, name=generation_name(TANTIVY_DIR, generation), known=shared))
        return files_out

    def save(self, folder: Path, generation: int = 0) -> dict[str, dict[str, Any]]:
        raise NotImplementedError("a tantivy index is written by TantivyWriter while the corpus is built")

    def warm(self) -> None:
        """Do now what the first searches otherwise pay for, at a server's start: compute ``ratio``,
        open each segment's uid column (tantivy opens it on a segment's first candidate) and read
        the postings of the term most passages hold. At 1.28M passages the first ask of a question
        with 2,560 candidates took 70-110 ms instead of 40. And look terms up in a dict from now on
        (``SortedTerms.warm``), not by binary search: a first answer looks up every pair of
        adjacent words of the sentences it reads (a split spelling, "Dev Ops", joins if the index
        knows "devops")."""
        _ = self.ratio
        if isinstance(self.term_id, SortedTerms):
            self.term_id.warm()
        if not self.corpus_size or not len(self.df):
            return
        segments = range(self._searcher.num_segments)
        self._searcher.fast_field_values("id", [self._tv.DocAddress(s, 0) for s in segments])
        common = self.vocab[int(np.argmax(self.df))]
        self._candidates([(self._tv.Occur.Should, self._tv.Query.term_query(self._schema, FIELD, common))], FIRST_DEPTH)

    @property
    def ratio(self) -> float:
        """The most an exact BM25 term score, without its IDF, can exceed tantivy's for the same
        live passage and term. tantivy rounds a passage's length down, so its length part of the
        denominator is at most the one computed from the exact length; against ours,
        ``tf (k1+1) / (tf + norm)`` differs most at tf = 1 or as tf grows (then by ``(k1+1) / 2.2``).
        Equal k1 and b, and no update since the build, give 1."""
        if self._ratio is None:
            if self.corpus_size == 0:
                self._ratio = 1.0
            else:
                lengths = np.flatnonzero(np.bincount(self.doc_len)).astype(np.float64)  # np.unique's, without a sort
                ours = bm25_norm(self.k1, self.b, lengths, self.avgdl)
                theirs = bm25_norm(TANTIVY_K1, TANTIVY_B, lengths, self.tantivy_avgdl)  # upper end of its range
                worst = max(1.0, float(((1.0 + theirs) / (1.0 + ours)).max()))  # tf = 1, or tf large
                self._ratio = (self.k1 + 1.0) / (TANTIVY_K1 + 1.0) * worst * (1.0 + 1e-5)  # float32 rounding
        return self._ratio

    def bound(self, query: Mapping[str, float]) -> float:
        """``ratio`` times the most our IDF exceeds tantivy's for a query term (tantivy counts
        passages an update replaced; without updates the two are equal)."""
        if self.tantivy_n == self.corpus_size:
            return self.ratio
        worst = 1.0
        for t in query:
            theirs = bm25_idf(self.tantivy_n, self._searcher.doc_freq(FIELD, t))
            worst = max(worst, self.idf(t) / theirs if theirs > 0 else float("inf"))
        return self.ratio * worst

    def _candidates(self, clauses: list, depth: int) -> list[tuple[float, int]]:
        Q = self._tv.Query
        hits = self._searcher.search(Q.boolean_query(clauses), depth, count=False).hits
        uids = self._searcher.fast_field_values("id", [a for _, a in hits])
        pos = self.positions
        return [(float(sc), int(pos[u])) for (sc, _), u in zip(hits, uids) if sc > 0]

    def _weighted(self, query: Mapping[str, float]) -> list[tuple[str, float]]:
        """Each query term of positive weight with its weight times its IDF."""
        return [(t, w * self.idf(t)) for t, w in query.items() if w > 0]

    def _scores(self, weighted: list[tuple[str, float]], positions: list[int]) -> list[float]:
        """``_exact`` of many passages, counting terms in their stored lines without decoding or
        splitting them: with every space doubled, each term stands between two spaces of its own,
        so counting " term " counts it exactly."""
        if self._lines is None or not positions:
            return [self._exact(weighted, i) for i in positions]
        keys = [(b" " + t.encode("utf-8") + b" ", w_idf) for t, w_idf in weighted]
        k1, b, avgdl = self.k1, self.b, self.avgdl
        out = []
        for line in self._lines(positions):
            norm = bm25_norm(k1, b, line.count(b" ") + 1 if line else 0, avgdl)
            spaced = b"  " + line.replace(b" ", b"  ") + b"  "
            total = 0.0
            for key, w_idf in keys:
                tf = spaced.count(key)
                if tf:
                    total += w_idf * bm25_tf(tf, k1, norm)
            out.append(total)
        return out

    def _exact(self, weighted: list[tuple[str, float]], i: int) -> float:
        """Passage ``i``'s BM25 score; ``weighted``: each query term with its weight times its IDF."""
        terms = self.terms_of(i)
        norm = bm25_norm(self.k1, self.b, len(terms), self.avgdl)
        total = 0.0
        for t, w_idf in weighted:
            tf = terms.count(t)
            if tf:
                total += w_idf * bm25_tf(tf, self.k1, norm)
        return total

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        k = min(k, self.corpus_size)  # tantivy panics (the process aborts) on a limit over 2**32
        Q, should = self._tv.Query, self._tv.Occur.Should
        query = {t: float(w) for t, w in query.items() if w > 0 and t in self.term_id}
        if not query or not k:
            return []
        clauses = [(should, Q.boost_query(Q.term_query(self._schema, FIELD, t), w)) for t, w in query.items()]
        self.searches += 1
        depth = max(FIRST_DEPTH, 4 * k)
        weighted = self._weighted(query)  # once, not per passage rescored
        scored: dict[int, float] = {}
        bound = None
        while True:
            found = self._candidates(clauses, depth)
            # a dead uid (-1) is a passage an update replaced
            new = list(dict.fromkeys(i for _, i in found if i >= 0 and i not in scored))
            scored.update(zip(new, self._scores(weighted, new)))
            self.rescored += len(found)
            ranked = sorted(((-s, i) for i, s in scored.items() if s > 0))
            if len(found) < depth:  # every passage holding a query term was scored
                break
            kth = -ranked[k - 1][0] if len(ranked) >= k else 0.0
            bound = self.bound(query) if bound is None else bound
            if kth >= found[-1][0] * bound:  # nothing tantivy ranked lower can score more
                break
            if depth >= MAX_DEPTH:
                self.inexact += 1
                break
            depth = min(depth * 4, MAX_DEPTH)
        return [Hit(i, -s) for s, i in ranked[:k]]

    def containing_all(self, terms: Sequence[str]) -> list[int]:
        """Positions of the live passages that hold every one of ``terms``."""
        if not terms or any(t not in self.term_id for t in terms):
            return []
        Q, must = self._tv.Query, self._tv.Occur.Must
        query = Q.boolean_query([(must, Q.term_query(self._schema, FIELD, t)) for t in terms])
        limit = max(1, min(self.document_frequency(t) for t in terms) + self.tantivy_n - self.corpus_size)
        hits = self._searcher.search(query, limit, count=False).hits
        uids = self._searcher.fast_field_values("id", [a for _, a in hits])
        return sorted(int(p) for p in self.positions[np.asarray(uids, np.int64)] if p >= 0) if uids else []

    def idf(self, term: str) -> float:
        i = self.term_id.get(term)
        return 0.0 if i is None else float(self.idf_arr[i])

    def document_frequency(self, term: str) -> int:
        i = self.term_id.get(term)
        return 0 if i is None else int(self.df[i])

    @property
    def vocabulary(self) -> KeysView[str]:
        """Every term the index holds: its term ids' keys (no second copy of them)."""
        return self.term_id.keys()

    def common_terms(self, fraction: float) -> set[str]:
        return {self.vocab[i] for i in np.flatnonzero(self.df > fraction * self.corpus_size)}

    def score(self, query: Mapping[str, float], index: int) -> float:
        return self._exact(self._weighted(query), index)

    @property
    def size(self) -> int:
        return self.corpus_size
