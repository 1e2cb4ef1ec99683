"""BM25 retrieval over passages, behind a small interface so another engine can replace it.

rank_bm25's BM25Okapi gives words found in over half the passages a zero or negative IDF
(rank_bm25 issues #39, #43); in a 30-passage corpus that silences words like "AI". LuceneBM25
keeps IDF positive with Lucene's ``log(1 + (N - n + 0.5) / (n + 0.5))``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, NamedTuple, Protocol, Sequence

import numpy as np
from rank_bm25 import BM25


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
        avgdl = self.avgdl or 1.0
        self._norm = k1 * (1.0 - b + b * lengths / avgdl)
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

    def _calc_idf(self, nd: Mapping[str, int]) -> None:
        n = self.corpus_size
        self.df = dict(nd)
        for word, freq in nd.items():
            self.idf[word] = math.log(1.0 + (n - freq + 0.5) / (freq + 0.5))

    def get_scores(self, query: Sequence[str] | Mapping[str, float]) -> np.ndarray:
        weights = query if isinstance(query, Mapping) else _count(query)
        scores = np.zeros(self.corpus_size)
        for term, weight in weights.items():
            post = self._postings.get(term)
            if post is None or weight <= 0:
                continue
            ids, tfs = post
            scores[ids] += weight * self.idf[term] * tfs * (self.k1 + 1.0) / (tfs + self._norm[ids])
        return scores


def _count(terms: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in terms:
        out[t] = out.get(t, 0.0) + 1.0
    return out


@dataclass
class BM25Retriever:
    """The default engine: rank_bm25 (with Lucene IDF) over analyzed passage terms."""

    engine: LuceneBM25

    @classmethod
    def build(cls, passage_terms: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> "BM25Retriever":
        return cls(LuceneBM25(passage_terms, k1=k1, b=b))

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
        return self.engine.idf.get(term, 0.0)

    def score(self, query: Mapping[str, float], index: int) -> float:
        return float(self.engine.get_scores(query)[index])

    def document_frequency(self, term: str) -> int:
        return self.engine.df.get(term, 0)

    @property
    def size(self) -> int:
        return self.engine.corpus_size


class CorpusIndex:
    """Passages of a corpus with their terms, vocabulary, glossary, section tree and retriever."""

    def __init__(self, documents: Sequence["Document"], max_words: int = 120, k1: float = 1.2, b: float = 0.75,
                 passages: Sequence["Passage"] | None = None):
        """Split ``documents`` into passages (or take ``passages`` already cut) and index them."""
        from . import analyze
        from .config import CorpusError
        from .glossary import Glossary
        from .split import split_document

        if not documents:
            raise CorpusError("a corpus needs at least one document")
        self.documents = {d.id: d for d in documents}
        self.passages: list[Passage] = list(passages or [])
        if passages is None:
            for doc in documents:
                self.passages.extend(split_document(doc, max_words, first_id=len(self.passages)))
        if not self.passages:
            raise CorpusError("the corpus has no text to index (no words in any document)")
        self.glossary = Glossary.mine(d.text for d in documents)
        # Pass 1: the vocabulary, so pass 2 can join split spellings ("Gen AI" -> "genai").
        vocab: set[str] = set()
        for p in self.passages:
            vocab.update(analyze.terms(p.text))
            vocab.update(analyze.terms(" ".join(p.headings)))
        vocab.update(e.key for e in self.glossary.entries)
        self.vocabulary = frozenset(vocab)
        self.heading_terms: list[frozenset[str]] = []  # leaf heading
        self.path_terms: list[frozenset[str]] = []  # whole heading path
        self.sentence_terms: list[list[frozenset[str]]] = []
        self.passage_terms: list[frozenset[str]] = []  # text + headings + glossary keys
        bm25_docs: list[list[str]] = []
        for p in self.passages:
            leaf = self._with_keys(analyze.terms(p.headings[-1], vocab)) if p.headings else []
            path = self._with_keys(analyze.terms(" ".join(p.headings), vocab))
            sents = [frozenset(self._with_keys(analyze.terms(s.text, vocab))) for s in p.sentences]
            text_terms = self._with_keys(analyze.terms(p.text, vocab))
            self.heading_terms.append(frozenset(leaf))
            self.path_terms.append(frozenset(path))
            self.sentence_terms.append(sents)
            self.passage_terms.append(frozenset(text_terms) | frozenset(path))
            bm25_docs.append(path + leaf + text_terms)
        self.retriever: Retriever = BM25Retriever.build(bm25_docs, k1=k1, b=b)
        from .spelling import Speller

        self.speller = Speller((w for d in documents for w in analyze.words(d.text)), self.vocabulary)
        self.sections = self._section_tree()

    def _with_keys(self, terms: list[str]) -> list[str]:
        """Add a glossary key wherever its long form appears as a run ("variat autoencod" -> "vae")."""
        out = list(terms)
        for e in self.glossary.entries:
            n = len(e.long_terms)
            if e.key in terms:
                continue
            for i in range(len(terms) - n + 1):
                if tuple(terms[i : i + n]) == e.long_terms:
                    out.append(e.key)
                    break
        return out

    def _section_tree(self) -> dict[tuple[str, tuple[str, ...]], list[int]]:
        """(doc_id, heading path) -> passage indexes, in document order, for every path prefix."""
        tree: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for i, p in enumerate(self.passages):
            tree.setdefault((p.doc_id, p.headings), []).append(i)
        for doc_id, path in list(tree):
            for n in range(1, len(path)):
                tree.setdefault((doc_id, path[:n]), [])
        return tree

    def children(self, doc_id: str, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Direct subsections of a section, in document order."""
        kids = [p for (d, p) in self.sections if d == doc_id and len(p) == len(path) + 1 and p[: len(path)] == path]
        return sorted(kids, key=lambda p: self._first_offset(doc_id, p))

    def _first_offset(self, doc_id: str, path: tuple[str, ...]) -> int:
        offs = [self.passages[i].start for (d, p), ids in self.sections.items()
                if d == doc_id and p[: len(path)] == path for i in ids]
        return min(offs) if offs else 0

    def top_sections(self, limit: int = 6) -> list[str]:
        """Top-level headings, spread over the documents: topics to suggest."""
        seen: dict[str, None] = {}
        for p in self.passages:
            if p.headings:
                seen.setdefault(p.headings[0], None)
        titles = list(seen) or [d.title for d in self.documents.values()]
        return titles[:limit]


from .model import Document, Passage  # noqa: E402  (type names used above)
