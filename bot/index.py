"""BM25 retrieval over passages, behind a small interface so another engine can replace it.

rank_bm25's BM25Okapi gives words found in over half the passages a zero or negative IDF
(rank_bm25 issues #39, #43); in a 30-passage corpus that silences words like "AI". LuceneBM25
keeps IDF positive with Lucene's ``log(1 + (N - n + 0.5) / (n + 0.5))``.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Protocol, Sequence

import numpy as np
from rank_bm25 import BM25


_PAGE_HEADING = re.compile(r"Page \d+$")
LARGE_CORPUS = 50_000  # passages; above it rank_bm25's dict per passage costs too much memory


class Hit(NamedTuple):
    index: int  # position of the passage in the index
    score: float


class Retriever(Protocol):
    """What the responder needs from a retrieval engine."""

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        """Top ``k`` passages for weighted query terms, best first, positive scores only."""
        ...

    def idf(self, term: str) -> float:
        ...

    def score(self, query: Mapping[str, float], index: int) -> float:
        """The score of one passage for the query (for citing passages found by structure)."""
        ...

    def document_frequency(self, term: str) -> int:
        ...

    @property
    def size(self) -> int:
        ...


# ---- the BM25 formulas, written once for every engine -----------------------------------------
def bm25_idf(n: int, df):
    """Lucene's IDF, never negative even for terms in most passages (textbook BM25's can be):
    ``log(1 + (N - df + 0.5) / (df + 0.5))``. ``df`` a number or a numpy array."""
    if isinstance(df, np.ndarray):
        return np.log1p((n - df + 0.5) / (df + 0.5))
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25_norm(k1: float, b: float, length, avgdl: float):
    """The document-length part of BM25's denominator: ``k1 * (1 - b + b * |d| / avgdl)``."""
    return k1 * (1.0 - b + b * length / (avgdl or 1.0))


def bm25_tf(tf, k1: float, norm):
    """BM25's saturating term frequency: ``tf * (k1 + 1) / (tf + norm)``."""
    return tf * (k1 + 1.0) / (tf + norm)


class LuceneBM25(BM25):
    """rank_bm25's BM25 with a never-negative IDF, weighted queries and an inverted index."""

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        if not corpus:
            raise ValueError("cannot index an empty corpus")
        self.k1, self.b = k1, b
        self.df: dict[str, int] = {}
        super().__init__(corpus)
        lengths = np.asarray(self.doc_len, dtype=np.float64)
        self._norm = bm25_norm(k1, b, lengths, self.avgdl)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, freqs in enumerate(self.doc_freqs):
            for term, tf in freqs.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings = {
            t: (np.asarray(ids, dtype=np.int32), np.asarray(tfs, dtype=np.float64))
            for t, (ids, tfs) in postings.items()
        }

    def term_idf(self, term: str) -> float:
        return self.idf.get(term, 0.0)

    def term_df(self, term: str) -> int:
        return self.df.get(term, 0)

    def common_terms(self, fraction: float) -> set[str]:
        limit = fraction * self.corpus_size
        return {t for t, n in self.df.items() if n > limit}

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        n = self.corpus_size
        self.df = dict(nd)
        for word, freq in nd.items():
            self.idf[word] = bm25_idf(n, freq)

    def get_scores(self, query: Sequence[str] | Mapping[str, float]) -> np.ndarray:
        weights = query if isinstance(query, Mapping) else _count(query)
        scores = np.zeros(self.corpus_size)
        for term, weight in weights.items():
            post = self._postings.get(term)
            if post is None or weight <= 0:
                continue
            ids, tfs = post
            scores[ids] += weight * self.idf[term] * bm25_tf(tfs, self.k1, self._norm[ids])
        return scores


def _count(terms: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in terms:
        out[t] = out.get(t, 0.0) + 1.0
    return out


class PostingsBM25:
    """The same BM25 (Lucene IDF) over compressed postings arrays: what a persisted or large index
    uses. Scores equal LuceneBM25's; memory is a few arrays instead of a dict per passage."""

    def __init__(self, vocab: Sequence[str], term_ptr: np.ndarray, doc_ids: np.ndarray, tfs: np.ndarray,
                 doc_len: np.ndarray, k1: float = 1.2, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.vocab = list(vocab)
        self.term_id = {t: i for i, t in enumerate(self.vocab)}
        self.term_ptr, self.doc_ids, self.tfs = term_ptr, doc_ids, tfs.astype(np.float32, copy=False)
        self.doc_len = doc_len
        self.corpus_size = int(len(doc_len))
        df = np.diff(term_ptr).astype(np.float64)
        n = self.corpus_size
        self.idf_arr = bm25_idf(n, df)
        avgdl = float(doc_len.mean()) if n else 1.0
        self._norm = bm25_norm(k1, b, doc_len, avgdl).astype(np.float32)

    @classmethod
    def from_terms(cls, docs: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> "PostingsBM25":
        """Build from each passage's terms; ``docs`` may be a generator, read once."""
        term_id: dict[str, int] = {}
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        length_list: list[int] = []
        from collections import Counter

        for i, terms in enumerate(docs):
            length_list.append(len(terms))
            freq = Counter(terms)
            if freq:
                rows.append(np.fromiter((term_id.setdefault(t, len(term_id)) for t in freq), dtype=np.int32,
                                        count=len(freq)))
                counts.append(np.fromiter(freq.values(), dtype=np.int32, count=len(freq)))
                cols.append(np.full(len(freq), i, dtype=np.int32))
        tid_arr = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        doc_arr = np.concatenate(cols) if cols else np.zeros(0, np.int32)
        tf_arr = np.concatenate(counts) if counts else np.zeros(0, np.int32)
        lengths = np.asarray(length_list, dtype=np.int32)
        order = np.argsort(tid_arr, kind="stable")
        ptr = np.zeros(len(term_id) + 1, dtype=np.int64)
        np.cumsum(np.bincount(tid_arr, minlength=len(term_id)), out=ptr[1:])
        vocab = [""] * len(term_id)
        for t, i in term_id.items():
            vocab[i] = t
        return cls(vocab, ptr, doc_arr[order], tf_arr[order], lengths, k1, b)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self.term_id.get(term)
        if i is None:
            return None
        a, z = self.term_ptr[i], self.term_ptr[i + 1]
        return self.doc_ids[a:z], self.tfs[a:z]

    def get_scores(self, query: Mapping[str, float]) -> np.ndarray:
        scores = np.zeros(self.corpus_size, dtype=np.float32)
        for term, weight in query.items():
            i = self.term_id.get(term)
            if i is None or weight <= 0:
                continue
            a, z = self.term_ptr[i], self.term_ptr[i + 1]
            ids, tfs = self.doc_ids[a:z], self.tfs[a:z]
            # bm25_tf in float32, its factors ordered so numpy makes no float64 temporaries
            scores[ids] += np.float32(weight * self.idf_arr[i]) * tfs * np.float32(self.k1 + 1.0) / (
                tfs + self._norm[ids])
        return scores

    def term_idf(self, term: str) -> float:
        i = self.term_id.get(term)
        return 0.0 if i is None else float(self.idf_arr[i])

    def term_df(self, term: str) -> int:
        i = self.term_id.get(term)
        return 0 if i is None else int(self.term_ptr[i + 1] - self.term_ptr[i])

    def common_terms(self, fraction: float) -> set[str]:
        return {self.vocab[i] for i in np.flatnonzero(np.diff(self.term_ptr) > fraction * self.corpus_size)}


@dataclass
class BM25Retriever:
    """The default engine: rank_bm25 (with Lucene IDF) over analyzed passage terms."""

    engine: "LuceneBM25 | PostingsBM25"

    @classmethod
    def build(cls, passage_terms: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75,
              engine: str = "auto", count: int | None = None) -> "BM25Retriever":
        """rank_bm25 (``engine="rank-bm25"``) for small corpora, postings arrays above
        LARGE_CORPUS passages or when asked (``engine="postings"``): the same scores either way.
        The postings path reads ``passage_terms`` once, so it may be a generator."""
        n = count if count is not None else len(passage_terms)  # type: ignore[arg-type]
        if engine == "postings" or (engine == "auto" and n > LARGE_CORPUS):
            return cls(PostingsBM25.from_terms(passage_terms, k1=k1, b=b))
        return cls(LuceneBM25(list(passage_terms), k1=k1, b=b))

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        scores = self.engine.get_scores(query)
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0:
            return []
        if positive.size > k:
            part = np.argpartition(-scores[positive], k - 1)[:k]
            positive = positive[part]
        order = sorted(positive.tolist(), key=lambda i: (-scores[i], i))
        return [Hit(i, float(scores[i])) for i in order]

    def idf(self, term: str) -> float:
        return self.engine.term_idf(term)

    def score(self, query: Mapping[str, float], index: int) -> float:
        return float(self.engine.get_scores(query)[index])

    def document_frequency(self, term: str) -> int:
        return self.engine.term_df(term)

    def common_terms(self, fraction: float) -> set[str]:
        """Terms found in more than ``fraction`` of the passages."""
        return self.engine.common_terms(fraction)

    def postings_arrays(self) -> PostingsBM25:
        """The index as postings arrays (for saving), whichever engine built it."""
        if isinstance(self.engine, PostingsBM25):
            return self.engine
        e = self.engine
        vocab = list(e._postings)
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(e._postings[t][0]) for t in vocab])
        ids = np.concatenate([e._postings[t][0] for t in vocab]) if vocab else np.zeros(0, np.int32)
        tfs = np.concatenate([e._postings[t][1] for t in vocab]) if vocab else np.zeros(0)
        return PostingsBM25(vocab, ptr, ids.astype(np.int32), tfs.astype(np.float32),
                            np.asarray(e.doc_len, dtype=np.int32), e.k1, e.b)

    @property
    def size(self) -> int:
        return self.engine.corpus_size


class TantivyRetriever:
    """The large-corpus engine: a tantivy index (Rust, memory-mapped, block-max WAND top-k) over
    the same analyzed terms, fed through a whitespace tokenizer. tantivy fixes k1 = 1.2, b = 0.75
    and rounds passage lengths to one byte, so scores differ slightly from rank_bm25's; IDF,
    document frequencies and ``score`` of one passage come from our own term statistics."""

    FIELD = "body"

    def __init__(self, path: str, vocab: Sequence[str], df: np.ndarray, doc_len: np.ndarray,
                 k1: float = 1.2, b: float = 0.75):
        import tantivy

        self._tv = tantivy
        self.path = str(path)
        self._index = tantivy.Index.open(self.path)
        register_tokenizer(self._index)
        self._searcher = self._index.searcher()
        self._schema = self._index.schema
        self.k1, self.b = k1, b
        self.vocab = vocab
        self.term_id = {t: i for i, t in enumerate(vocab)}
        self.df = np.asarray(df, dtype=np.int64)
        self.doc_len = np.asarray(doc_len, dtype=np.int32)
        self.corpus_size = int(len(self.doc_len))
        n = self.corpus_size
        self.idf_arr = bm25_idf(n, self.df)
        self.avgdl = float(self.doc_len.mean()) if n else 1.0
        self.terms_of = None  # passage index -> its terms (set by CorpusIndex, for ``score``)

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        Q, should = self._tv.Query, self._tv.Occur.Should
        clauses = [(should, Q.boost_query(Q.term_query(self._schema, self.FIELD, t), float(w)))
                   for t, w in query.items() if w > 0 and t in self.term_id]
        if not clauses:
            return []
        hits = self._searcher.search(Q.boolean_query(clauses), k, count=False).hits
        ids = self._searcher.fast_field_values("id", [a for _, a in hits])
        found = sorted(((-float(sc), int(i)) for (sc, _), i in zip(hits, ids) if sc > 0))
        return [Hit(i, -sc) for sc, i in found]

    def idf(self, term: str) -> float:
        i = self.term_id.get(term)
        return 0.0 if i is None else float(self.idf_arr[i])

    def document_frequency(self, term: str) -> int:
        i = self.term_id.get(term)
        return 0 if i is None else int(self.df[i])

    def common_terms(self, fraction: float) -> set[str]:
        return {self.vocab[i] for i in np.flatnonzero(self.df > fraction * self.corpus_size)}

    def score(self, query: Mapping[str, float], index: int) -> float:
        if self.terms_of is None:
            return 0.0
        terms = self.terms_of(index)
        counts = _count(terms)
        norm = bm25_norm(self.k1, self.b, len(terms), self.avgdl)
        total = 0.0
        for t, w in query.items():
            tf = counts.get(t)
            if tf and w > 0:
                total += w * self.idf(t) * bm25_tf(tf, self.k1, norm)
        return total

    @property
    def size(self) -> int:
        return self.corpus_size


def register_tokenizer(index) -> None:
    """Our terms arrive analyzed and space-separated: split on whitespace only (no lower-casing,
    no length limit, unlike tantivy's default tokenizer)."""
    import tantivy

    index.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())


def tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=False, indexed=False, fast=True)
    sb.add_text_field(TantivyRetriever.FIELD, stored=False, tokenizer_name="ws", index_option="freq")
    return sb.build()


class LazyTerms(Sequence):
    """Per-passage analysis computed on first use and kept: answering reads a handful of
    passages, so a large or loaded index never analyzes the rest."""

    def __init__(self, n: int, compute):
        self._n, self._compute = n, compute
        self._cache: dict[int, object] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        got = self._cache.get(i)
        if got is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            got = self._cache[i] = self._compute(i)
        return got


class CorpusIndex:
    """Passages of a corpus with their vocabulary, glossary, section tree and retriever.

    Built from documents (``CorpusIndex(docs)``) or loaded from a saved index (``bot.store``).
    """

    def __init__(self, documents: Sequence["Document"], max_words: int = 120, k1: float = 1.2, b: float = 0.75,
                 passages: Sequence["Passage"] | None = None, engine: str = "auto", progress=None):
        """Split ``documents`` into passages (or take ``passages`` already cut) and index them."""
        from . import analyze
        from .config import CorpusError
        from .glossary import Glossary
        from .split import split_document

        if not documents:
            raise CorpusError("a corpus needs at least one document")
        self._stored_terms = None  # built in memory: passages are analyzed when first needed
        self.documents = {d.id: d for d in documents}
        self.passages: Sequence[Passage] = list(passages or [])
        if passages is None:
            for doc in documents:
                self.passages.extend(split_document(doc, max_words, first_id=len(self.passages)))
                if progress:
                    progress(doc)
        if not self.passages:
            raise CorpusError("the corpus has no text to index (no words in any document)")
        self.glossary = Glossary.mine(d.text for d in documents)
        # Pass 1: the vocabulary, so pass 2 can join split spellings ("Dev Ops" -> "devop").
        # Above LARGE_CORPUS passages that second pass is skipped (questions still join split words).
        large = len(self.passages) > LARGE_CORPUS
        vocab: set[str] = set()
        surface: set[str] = set()
        first_pass: list[list[str]] = []
        for p in self.passages:
            text_terms = analyze.terms(p.text, words_out=surface)
            vocab.update(text_terms)
            vocab.update(self._heading_terms(p.headings, None))
            if large:
                first_pass.append(text_terms)
        vocab.update(e.key for e in self.glossary.entries)
        self.vocabulary = frozenset(vocab)
        self._long_forms = self._index_long_forms()
        for headings, _ in self._heading_cache:
            surface.update(analyze.words(" ".join(headings)))
        self._heading_cache = {}  # heading terms again, now with glossary keys
        joined = None if large else vocab

        canonical: dict[str, str] = {}  # one string per distinct term: the lists below share them

        def bm25_docs() -> Iterable[list[str]]:  # one passage at a time: nothing kept but postings
            for i, p in enumerate(self.passages):
                terms = self.bm25_terms(p, joined, first_pass[i] if large else analyze.terms(p.text, vocab))
                yield [canonical.setdefault(t, t) for t in terms]
                if large:
                    first_pass[i] = []

        use = engine if engine != "auto" else ("postings" if large else "rank-bm25")
        self.retriever: Retriever = BM25Retriever.build(bm25_docs(), k1=k1, b=b, engine=use,
                                                        count=len(self.passages))
        from .spelling import Speller

        self.speller = Speller(surface, self.vocabulary)
        self._finish()

    @classmethod
    def assemble(cls, documents, passages, glossary, vocabulary, retriever, speller,
                 stored_terms: Sequence[list[str]] | None = None) -> "CorpusIndex":
        """An index from parts already computed (a saved index): no text is analyzed here.
        ``documents`` may be a lazy store with a ``by_id`` mapping; ``stored_terms`` gives each
        passage's indexed terms (a large index keeps them, so answering never re-analyzes)."""
        self = cls.__new__(cls)
        self._stored_terms = stored_terms
        by_id = getattr(documents, "by_id", None)
        self.documents = by_id if by_id is not None else {d.id: d for d in documents}
        self.passages = passages
        self.glossary = glossary
        self.vocabulary = frozenset(vocabulary)
        self.retriever = retriever
        self.speller = speller
        self._finish()
        if hasattr(retriever, "terms_of"):  # an engine that scores one passage from its terms
            retriever.terms_of = stored_terms.__getitem__ if stored_terms is not None else \
                (lambda i: self.bm25_terms(self.passages[i]))
        return self

    @classmethod
    def analyzer(cls, glossary) -> "CorpusIndex":
        """A bare index that only analyzes passages (``bm25_terms``) with a known glossary:
        what the parallel builder's workers use."""
        self = cls.__new__(cls)
        self.glossary = glossary
        self._long_forms = glossary.by_first
        return self

    def bm25_terms(self, p: "Passage", joined=None, text_terms: list[str] | None = None) -> list[str]:
        """What the retriever indexes for a passage: heading path, leaf heading again (a heading
        match counts twice), and the text's terms with glossary keys."""
        leaf = self._heading_terms(p.headings[-1:], joined) if p.headings else []
        path = self._heading_terms(p.headings, joined)
        from . import analyze

        return path + leaf + self._with_keys(text_terms if text_terms is not None else analyze.terms(p.text, joined))

    def _finish(self) -> None:
        from . import analyze

        n = len(self.passages)
        vocab = self.vocabulary
        P = self.passages

        def leaf(i: int) -> frozenset[str]:
            return self.heading_terms_of(P[i].headings[-1:]) if P[i].headings else frozenset()

        def path(i: int) -> frozenset[str]:
            return self.heading_terms_of(P[i].headings)

        def sentences(i: int) -> list[frozenset[str]]:
            return [frozenset(self._with_keys(analyze.terms(s.text, vocab))) for s in P[i].sentences]

        stored = self._stored_terms

        def whole(i: int) -> frozenset[str]:
            if stored is not None:  # what the engine indexed: text (without joined pairs) + headings + keys
                return frozenset(stored[i])
            return frozenset(self._with_keys(analyze.terms(P[i].text, vocab))) | self.path_terms[i]

        self.heading_terms: Sequence[frozenset[str]] = LazyTerms(n, leaf)  # leaf heading
        self.path_terms: Sequence[frozenset[str]] = LazyTerms(n, path)  # whole heading path
        self.sentence_terms: Sequence[list[frozenset[str]]] = LazyTerms(n, sentences)
        self.passage_terms: Sequence[frozenset[str]] = LazyTerms(n, whole)  # text + headings + glossary keys
        self._long_forms = self._index_long_forms()
        self._doc_trees: dict[str, tuple[dict, dict]] = {}
        self._doc_passages: dict[str, list[int]] | None = None

    def _heading_terms(self, headings: tuple[str, ...], vocab) -> list[str]:
        """Terms of a heading path (cached: many passages share one)."""
        from . import analyze

        cache = self.__dict__.setdefault("_heading_cache", {})
        key = (headings, vocab is not None)
        got = cache.get(key)
        if got is None:
            got = cache[key] = self._with_keys(analyze.terms(" ".join(headings), vocab)) \
                if getattr(self, "_long_forms", None) is not None else analyze.terms(" ".join(headings), vocab)
        return list(got)

    def heading_terms_of(self, headings: tuple[str, ...]) -> frozenset[str]:
        """Terms of a heading path as the index sees them (joined spellings, glossary keys), cached."""
        cache = self.__dict__.setdefault("_heading_sets", {})
        got = cache.get(headings)
        if got is None:
            got = cache[headings] = frozenset(self._heading_terms(headings, self.vocabulary))
        return got

    def _index_long_forms(self) -> dict[str, list]:
        return self.glossary.by_first

    def _with_keys(self, terms: list[str]) -> list[str]:
        """Add a glossary key wherever its long form appears as a run ("total dissolv solid" -> "tds")."""
        if not self._long_forms:
            return terms
        long_forms = self._long_forms
        have = set(terms)
        firsts = long_forms.keys() & have
        if not firsts:
            return terms
        # only entries whose every long-form word is present need the (slower) check for a run
        candidates = [e for f in firsts for e in long_forms[f] if e.key not in have and have.issuperset(e.long_terms)]
        if not candidates:
            return terms
        out = list(terms)
        for e in candidates:
            if e.key in have:  # another long form of the same short form matched already
                continue
            run, n = e.long_terms, len(e.long_terms)
            i = terms.index(run[0])
            while True:
                if tuple(terms[i : i + n]) == run:
                    out.append(e.key)
                    have.add(e.key)
                    break
                try:
                    i = terms.index(run[0], i + 1)
                except ValueError:
                    break
        return out

    def section(self, doc_id: str, path: tuple[str, ...]) -> list[int]:
        """Passage indexes of one section of a document (heading path), in document order."""
        return list(self._doc_tree(doc_id)[0].get(path, ()))

    def document_passages(self, doc_id: str) -> list[int]:
        """Passage indexes of one document, in document order."""
        return [i for i, _ in self._heads_of(doc_id)]

    def children(self, doc_id: str, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Direct subsections of a section, in document order."""
        return list(self._doc_tree(doc_id)[1].get(path, ()))

    def _doc_tree(self, doc_id: str) -> tuple[dict, dict]:
        """A document's sections (heading path -> passages, every prefix present) and subsections,
        built when first asked for: a loaded index of a million passages never builds them all."""
        got = self._doc_trees.get(doc_id)
        if got is None:
            tree: dict[tuple[str, ...], list[int]] = {}
            for i, headings in self._heads_of(doc_id):
                for n in range(1, len(headings)):
                    tree.setdefault(headings[:n], [])
                tree.setdefault(headings, []).append(i)
            kids: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
            for path in tree:  # dict order is document order
                if path:
                    kids.setdefault(path[:-1], []).append(path)
            if len(self._doc_trees) > 10_000:
                self._doc_trees.clear()
            got = self._doc_trees[doc_id] = (tree, kids)
        return got

    def _heads_of(self, doc_id: str) -> list[tuple[int, tuple[str, ...]]]:
        """(passage index, heading path) of a document's passages."""
        of_doc = getattr(self.passages, "heads_of_document", None)
        if of_doc is not None:  # a saved index: a slice of its arrays
            return of_doc(doc_id)
        if self._doc_passages is None:
            self._doc_passages = {}
            for i, p in enumerate(self.passages):
                self._doc_passages.setdefault(p.doc_id, []).append(i)
        return [(i, self.passages[i].headings) for i in self._doc_passages.get(doc_id, ())]

    def top_sections(self, limit: int = 6) -> list[str]:
        """Top-level headings, in document order: topics to suggest."""
        cache = self.__dict__.setdefault("_topics_cache", {})
        if limit not in cache:
            cache[limit] = self._top_sections(limit)
        return list(cache[limit])

    def _top_sections(self, limit: int) -> list[str]:
        seen: dict[str, None] = {}
        paths = getattr(self.passages, "distinct_paths", None)  # a saved index: no scan in Python
        for path in (paths() if paths else (p.headings for p in self.passages)):
            if len(path) >= 1 and not _PAGE_HEADING.match(path[0]):  # a PDF's "Page N" is no topic
                seen.setdefault(path[0], None)
                if len(seen) >= limit:
                    break
        titles = list(seen) or [d.title for d in itertools.islice(self.documents.values(), limit)]
        return titles[:limit]


from .model import Document, Passage  # noqa: E402  (type names used above)
