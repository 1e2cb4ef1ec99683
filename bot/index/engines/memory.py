"""rank_bm25 in memory: the engine of a corpus folder answered without a saved index.

rank_bm25's BM25Okapi gives words found in over half the passages a zero or negative IDF
(rank_bm25 issues #39, #43); in a 30-passage corpus that silences words like "AI". LuceneBM25
keeps IDF positive with Lucene's ``log(1 + (N - n + 0.5) / (n + 0.5))`` and adds weighted
queries and an inverted index (rank_bm25 scores every passage for every term).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from rank_bm25 import BM25

from bot.index.engines.base import bm25_idf, bm25_norm, bm25_tf, check_parameters, count


class LuceneBM25(BM25):
    """rank_bm25's BM25 with a never-negative IDF, weighted queries and an inverted index."""

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        check_parameters(k1, b)
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
        self.postings = {
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
        weights = query if isinstance(query, Mapping) else count(query)
        scores = np.zeros(self.corpus_size)
        for term, weight in weights.items():
            post = self.postings.get(term)
            if post is None or weight <= 0:
                continue
            ids, tfs = post
            scores[ids] += weight * self.idf[term] * bm25_tf(tfs, self.k1, self._norm[ids])
        return scores
