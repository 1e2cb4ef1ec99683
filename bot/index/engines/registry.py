"""The engines a saved index can use, by the name its header records (``names``): one line each.

Callers look an engine up here and never compare names. An engine is a class with
- ``name`` and ``streamed``: how it is built and updated. An engine built in memory
  (``streamed = False``) is built by ``CorpusIndex.build(engine=name)`` (``exact.SCORERS``) and
  saved by ``writer.save`` through its ``postings_arrays().save(folder, generation)``; an update
  rebuilds it in memory. A streamed engine (``streamed = True``) is fed each passage's terms by
  ``build.build_large`` through its ``writer`` (``add``, ``finish``), saved by
  ``save_built(folder, generation, ...)``, and updated in place a generation at a time; its
  passages' terms are kept (``terms*.txt``) and given to ``load`` as ``terms_of``.
- ``load(folder, files, vocab, generation, passages, terms_of)``: the saved engine.
Each saves and loads its files only under ``layout``'s names (``layout.generation_name``)."""
from __future__ import annotations

from bot.index.engines.base import LARGE_CORPUS
from bot.index.engines.exact import BM25Retriever
from bot.index.engines.tantivy_engine import TantivyRetriever
from bot.index.names import POSTINGS, TANTIVY

REGISTRY: dict[str, type] = {POSTINGS: BM25Retriever, TANTIVY: TantivyRetriever}


def engine_class(name: str | None) -> type:
    """The engine a saved index (or ``--engine``) names; ValueError for an unknown name."""
    got = REGISTRY.get(name or "")
    if got is None:
        raise ValueError(f"unknown engine {name!r} (auto, {', '.join(REGISTRY)})")
    return got


def auto_engine(passages: float) -> str:
    """The engine ``--engine auto`` picks for about ``passages`` passages: exact postings in
    memory up to LARGE_CORPUS, tantivy above."""
    return TANTIVY if passages > LARGE_CORPUS else POSTINGS
