"""How close a question's missing words are to a passage's words: "photos" to "images", "five"
to "5", "price" to nothing in a passage about brewing time.

Static word embeddings from WordLlama (its 16 MB of weights ship inside the wheel, so nothing is
downloaded; loading takes about 0.3 s and happens on the first question that needs it). Each
word's vector is computed once per process and kept in a bounded cache owned by the object.
"""
from __future__ import annotations

import importlib.util
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

_CACHE_WORDS = 200_000  # vectors of 256 floats: about 200 MB at most, far less in practice


class WordCloseness:
    """Cosine similarity between single words, from WordLlama's bundled static embeddings."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}

    def load(self):
        """The model, loaded on first use (once per process)."""
        with self._lock:
            if self._model is None:
                import wordllama
                from wordllama import WordLlama

                # The package's own lookup of its bundled tokenizer file fails without a cache_dir
                # pointing at the package folder; downloads are disabled, so this never goes online.
                self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        return self._model

    def vectors(self, words: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``words`` (lower-cased), one row each."""
        todo = [w for w in dict.fromkeys(w.lower() for w in words) if w not in self._vectors]
        if todo:
            emb = self.embed(todo)
            if len(self._vectors) + len(todo) > _CACHE_WORDS:
                self._vectors.clear()
            for w, v in zip(todo, emb):
                self._vectors[w] = np.asarray(v, dtype=np.float32)
        return np.stack([self._vectors[w.lower()] for w in words]) if words else np.zeros((0, 256), np.float32)

    def text_closeness(self, a: str, b: str) -> float:
        """Cosine similarity of two texts (WordLlama's mean-pooled sentence vectors)."""
        emb = self.embed([a, b])
        return float(np.dot(emb[0], emb[1]))

    def embed(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """WordLlama's ``embed(texts, norm=True)``, row for row the same arithmetic (its own
        pooling, in its batches of 64), with each text tokenized by itself: its ``encode_batch``
        hands the few words of a question to a pool of threads, which on this 2-core machine
        took 2.5 times as long (0.43 ms against 0.17 for 30 words) and left the threads
        spinning while the answer went on."""
        model = self.load()
        encode, table = model.tokenizer.encode, model.embedding
        out = np.empty((len(texts), table.shape[1]), np.float32)
        for at in range(0, len(texts), batch):
            ids = [encode(t, add_special_tokens=False).ids for t in texts[at:at + batch]]
            width = max(map(len, ids))
            tokens = np.zeros((len(ids), width), np.int32)  # padded on the right, as its tokenizer pads
            mask = np.zeros((len(ids), width), np.float32)
            for row, got in enumerate(ids):
                tokens[row, :len(got)] = got
                mask[row, :len(got)] = 1.0
            np.clip(tokens, 0, table.shape[0] - 1, out=tokens)
            pooled = model.avg_pool(table[tokens], mask)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out[at:at + len(ids)] = pooled
        return out

    def closeness(self, missing: Iterable[str], present: Iterable[str]) -> list[float]:
        """For each missing word, its highest similarity to any present word (0 when none)."""
        missing, present = list(missing), list(dict.fromkeys(present))
        if not missing:
            return []
        if not present:
            return [0.0] * len(missing)
        sims = self.vectors(missing) @ self.vectors(present).T
        return [max(0.0, float(x)) for x in sims.max(axis=1)]


@lru_cache(maxsize=1)
def shared_closeness() -> WordCloseness:
    """One instance per process, so every bot shares the model and the word vectors."""
    return WordCloseness()


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Lower-case words of three letters or more that WordLlama's tokenizer (its 32,000
    pieces, learned from a large amount of web text) holds whole: "life", "fight", "religion".
    A word that frequent is a real word, not a typo of a corpus word ("flight", "region"), and
    meeting it once in a passage says little about what the passage is about. About 10,000
    words, read in some 20 ms on first use; empty (no word counts as common) if the file is not
    where this version of WordLlama keeps it."""
    try:
        # found, not imported: importing WordLlama (half a second) waits for a question whose
        # missing words need its vectors
        spec = importlib.util.find_spec("wordllama")
        if spec is None or not spec.submodule_search_locations:
            return frozenset()
        path = Path(spec.submodule_search_locations[0]) / "tokenizers" / "l2_supercat_tokenizer_config.json"
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(p[1:] for p in vocab if p.startswith("\u2581") and len(p) > 3 and p[1:].isalpha() and p[1:].islower())
