"""BM25 over postings arrays (numpy): what a saved index of up to LARGE_CORPUS passages uses.
Scores equal LuceneBM25's; memory is a few arrays instead of a dict per passage."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable, KeysView, Mapping, Sequence

import numpy as np

from bot.index import files
from bot.index.engines.base import bm25_idf, bm25_norm, check_parameters
from bot.index.layout import BM25_NPZ, generation_name


class PostingsBM25:
    """Per term, the passages holding it and how often (``term_ptr`` slices ``doc_ids``/``tfs``)."""

    def __init__(self, vocab: Sequence[str], term_ptr: np.ndarray, doc_ids: np.ndarray, tfs: np.ndarray,
                 doc_len: np.ndarray, k1: float = 1.2, b: float = 0.75):
        check_parameters(k1, b)
        self.k1, self.b = k1, b
        self.vocab = list(vocab)
        self.term_id = dict(zip(self.vocab, range(len(self.vocab))))
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

    @classmethod
    def from_postings(cls, postings: Mapping[str, tuple[np.ndarray, np.ndarray]], doc_len: Sequence[int],
                      k1: float, b: float) -> "PostingsBM25":
        """The arrays of a term -> (passage ids, term frequencies) mapping (rank_bm25's, for saving)."""
        vocab = list(postings)
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(postings[t][0]) for t in vocab])
        ids = np.concatenate([postings[t][0] for t in vocab]) if vocab else np.zeros(0, np.int32)
        tfs = np.concatenate([postings[t][1] for t in vocab]) if vocab else np.zeros(0)
        return cls(vocab, ptr, ids.astype(np.int32), tfs.astype(np.float32), np.asarray(doc_len, dtype=np.int32),
                   k1, b)

    def save(self, folder: Path, generation: int = 0) -> dict[str, dict[str, Any]]:
        """``layout.BM25_NPZ`` (of the generation); the vocabulary (term order of ``term_ptr``) is
        saved with the index's terms."""
        name = generation_name(BM25_NPZ, generation)
        return {name: files.atomic_npz(folder / name, term_ptr=self.term_ptr, doc_ids=self.doc_ids,
                                       tfs=self.tfs.astype(np.float32), doc_len=np.asarray(self.doc_len, np.int32),
                                       params=np.asarray([self.k1, self.b], np.float64))}

    @classmethod
    def load(cls, folder: Path, info: Mapping[str, dict[str, Any]], vocab: Sequence[str],
             generation: int = 0) -> "PostingsBM25":
        name = generation_name(BM25_NPZ, generation)
        z = files.load_npz(folder, name, info[name])
        k1, b = (float(x) for x in z["params"])
        return cls(vocab, z["term_ptr"], z["doc_ids"], z["tfs"], z["doc_len"], k1, b)

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

    @property
    def vocabulary(self) -> KeysView[str]:
        """Every term the index holds: its term ids' keys (no second copy of them)."""
        return self.term_id.keys()

    def common_terms(self, fraction: float) -> set[str]:
        return {self.vocab[i] for i in np.flatnonzero(np.diff(self.term_ptr) > fraction * self.corpus_size)}
