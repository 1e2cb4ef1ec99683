"""Exact BM25 scoring every passage that holds a query term: rank_bm25 in memory for small
corpora, postings arrays for saved indexes (the same scores either way)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, KeysView, Mapping, Sequence

from bot.index.engines.base import LARGE_CORPUS, Hit, top_hits
from bot.index.engines.memory import LuceneBM25
from bot.index.engines.postings import PostingsBM25
from bot.index.names import POSTINGS

RANK_BM25 = "rank-bm25"
# The exact scorers, by name: rank_bm25 in memory, or postings arrays (what a saved index holds).
SCORERS: dict[str, Callable[[Iterable[Sequence[str]], float, float], "LuceneBM25 | PostingsBM25"]] = {
    RANK_BM25: lambda docs, k1, b: LuceneBM25(list(docs), k1=k1, b=b),
    POSTINGS: lambda docs, k1, b: PostingsBM25.from_terms(docs, k1=k1, b=b),
}


@dataclass
class BM25Retriever:
    """The exact engine: a scorer (rank_bm25's LuceneBM25 or PostingsBM25) behind ``Retriever``.
    Saved, it is the "postings" engine (``registry``): built in memory, its postings arrays saved."""

    engine: LuceneBM25 | PostingsBM25
    name: ClassVar[str] = POSTINGS
    streamed: ClassVar[bool] = False  # built in memory (``CorpusIndex.build``) and rebuilt so by an update

    @classmethod
    def build(cls, passage_terms: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75,
              engine: str = "auto", count: int | None = None) -> "BM25Retriever":
        """rank_bm25 (``engine="rank-bm25"``) for small corpora, postings arrays above
        LARGE_CORPUS passages or when asked (``engine="postings"``): the same scores either way.
        The postings path reads ``passage_terms`` once, so it may be a generator."""
        if engine == "auto":
            n = count if count is not None else len(passage_terms)  # type: ignore[arg-type]
            engine = POSTINGS if n > LARGE_CORPUS else RANK_BM25
        if engine not in SCORERS:
            raise ValueError(f"unknown exact engine {engine!r} (auto, {', '.join(SCORERS)})")
        return cls(SCORERS[engine](passage_terms, k1, b))

    @property
    def k1(self) -> float:
        return self.engine.k1

    @property
    def b(self) -> float:
        return self.engine.b

    def search(self, query: Mapping[str, float], k: int) -> list[Hit]:
        return top_hits(self.engine.get_scores(query), k)

    def idf(self, term: str) -> float:
        return self.engine.term_idf(term)

    def score(self, query: Mapping[str, float], index: int) -> float:
        return float(self.engine.get_scores(query)[index])

    def document_frequency(self, term: str) -> int:
        return self.engine.term_df(term)

    def common_terms(self, fraction: float) -> set[str]:
        return self.engine.common_terms(fraction)

    @property
    def vocabulary(self) -> KeysView[str]:
        """Every term the index holds (its postings arrays' term ids, as saved and loaded)."""
        return self.postings_arrays().vocabulary

    def postings_arrays(self) -> PostingsBM25:
        """The index as postings arrays, whichever scorer built it."""
        e = self.engine
        if isinstance(e, PostingsBM25):
            return e
        return PostingsBM25.from_postings(e.postings, e.doc_len, e.k1, e.b)

    def save(self, folder: Path, generation: int = 0) -> dict[str, dict[str, Any]]:
        return self.postings_arrays().save(folder, generation)

    @classmethod
    def load(cls, folder: Path, info: Mapping[str, dict[str, Any]], vocab: Sequence[str], generation: int = 0,
             passages: Mapping[str, Any] | None = None,
             terms_of: Callable[[int], Sequence[str]] | None = None) -> "BM25Retriever":
        """The saved engine (``registry``'s load hook: ``passages`` and ``terms_of`` unused)."""
        return cls(PostingsBM25.load(folder, info, vocab, generation))

    @property
    def size(self) -> int:
        return self.engine.corpus_size
