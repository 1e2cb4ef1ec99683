"""What every engine shares: the Retriever protocol, the BM25 formulas (written once) and the
top-k selection."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Protocol, Sequence, TypeVar

import numpy as np

Number = TypeVar("Number", float, np.ndarray)  # a number, or a numpy array of them
LARGE_CORPUS = 50_000  # passages; above it rank_bm25's dict per passage costs too much memory


class Hit(NamedTuple):
    index: int  # position of the passage in the index
    score: float


class Retriever(Protocol):
    """What the responder, the evaluations and the saved index need from an engine."""

    k1: float
    b: float

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        """Top ``k`` passages for weighted query terms, best first (ties: lower index first),
        positive scores only."""
        ...

    def idf(self, term: str) -> float:
        ...

    def score(self, query: Mapping[str, float], index: int) -> float:
        """The score of one passage for the query (for citing passages found by structure)."""
        ...

    def document_frequency(self, term: str) -> int:
        ...

    def common_terms(self, fraction: float) -> set[str]:
        """Terms found in more than ``fraction`` of the passages."""
        ...

    @property
    def size(self) -> int:
        """How many passages the engine holds."""
        ...

    def save(self, folder: Path) -> dict[str, dict[str, Any]]:
        """Write the engine's files into ``folder``; their names with sizes and checksums."""
        ...


# ---- the BM25 formulas, written once for every engine -----------------------------------------
def bm25_idf(n: int, df: Number) -> Number:
    """Lucene's IDF, never negative even for terms in most passages (textbook BM25's can be):
    ``log(1 + (N - df + 0.5) / (df + 0.5))``. ``df`` a number or a numpy array."""
    if isinstance(df, np.ndarray):
        return np.log1p((n - df + 0.5) / (df + 0.5))
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25_norm(k1: float, b: float, length: Number, avgdl: float) -> Number:
    """The document-length part of BM25's denominator: ``k1 * (1 - b + b * |d| / avgdl)``."""
    return k1 * (1.0 - b + b * length / (avgdl or 1.0))


def bm25_tf(tf: Number, k1: float, norm: Number) -> Number:
    """BM25's saturating term frequency: ``tf * (k1 + 1) / (tf + norm)``."""
    return tf * (k1 + 1.0) / (tf + norm)


def check_parameters(k1: float, b: float) -> None:
    if k1 < 0 or not 0 <= b <= 1:
        raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")


def count(terms: Sequence[str]) -> dict[str, float]:
    """Term frequencies of a list of terms."""
    out: dict[str, float] = {}
    for t in terms:
        out[t] = out.get(t, 0.0) + 1.0
    return out


def top_hits(scores: np.ndarray, k: int) -> list[Hit]:
    """The ``k`` best positive scores of an array of per-passage scores, best first, ties by index."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    positive = np.flatnonzero(scores > 0)
    if positive.size == 0:
        return []
    if positive.size > k:
        part = np.argpartition(-scores[positive], k - 1)[:k]
        positive = positive[part]
    order = sorted(positive.tolist(), key=lambda i: (-scores[i], i))
    return [Hit(i, float(scores[i])) for i in order]
