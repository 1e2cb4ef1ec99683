"""BM25 engines behind one ``Retriever`` protocol (``base``): exact scoring in memory
(rank_bm25) or over postings arrays (``exact``, ``postings``), and tantivy for large corpora
(``tantivy_engine``: tantivy's candidates rescored exactly). ``registry`` maps the name a saved
index records to its engine; each engine saves and loads its own files under ``layout``'s names."""
from bot.index.names import ENGINES, POSTINGS, TANTIVY
from bot.index.engines.base import LARGE_CORPUS, Hit, Retriever, bm25_idf, bm25_norm, bm25_tf, count, top_hits
from bot.index.engines.exact import BM25Retriever
from bot.index.engines.memory import LuceneBM25
from bot.index.engines.postings import PostingsBM25
from bot.index.engines.registry import REGISTRY, auto_engine, engine_class
from bot.index.engines.tantivy_engine import TantivyRetriever, TantivyWriter

__all__ = ["ENGINES", "LARGE_CORPUS", "POSTINGS", "TANTIVY", "Hit", "Retriever", "bm25_idf", "bm25_norm", "bm25_tf", "count", "top_hits",
           "BM25Retriever", "LuceneBM25", "PostingsBM25", "REGISTRY", "TantivyRetriever", "TantivyWriter",
           "auto_engine", "engine_class"]
