"""Typo tolerance: map a question word the corpus never uses to a close corpus word.

Only words of five letters or more that are not stopwords, and not written with capitals past
their first letter (names and acronyms: "McKay" is not a typo of "mckey"), are corrected, and
only to a corpus word at least 85% similar (rapidfuzz's normalized Indel ratio), so
"transfomer" finds "transformer" but "water" never becomes "later".
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from rapidfuzz import fuzz, process

from . import analyze

MIN_LENGTH = 5
CUTOFF = 85.0


class Speller:
    def __init__(self, corpus_words: Iterable[str], vocabulary: frozenset[str]):
        self.vocabulary = vocabulary
        words = {w.lower() for w in corpus_words if len(w) >= MIN_LENGTH and "-" not in w}
        self.words = sorted(w for w in words if w.isalpha() and w not in analyze.STOPWORDS)
        self._lookup = lru_cache(maxsize=4096)(self._closest)

    @classmethod
    def from_words(cls, words: list[str], vocabulary: frozenset[str]) -> "Speller":
        """A speller from a saved word list (already filtered and sorted)."""
        self = cls.__new__(cls)
        self.vocabulary = vocabulary
        self.words = list(words)
        self._lookup = lru_cache(maxsize=4096)(self._closest)
        return self

    def _closest(self, word: str) -> str | None:
        cutoff = CUTOFF if len(word) >= 8 else CUTOFF + 3
        found = process.extractOne(word, self.words, scorer=fuzz.ratio, score_cutoff=cutoff)
        return found[0] if found else None

    def correct(self, text: str) -> str:
        """The question with unknown long words replaced by their closest corpus word."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            low = word.lower()
            term = analyze.term_of(word)
            if term is None or term in self.vocabulary or len(low) < MIN_LENGTH or not low.isalpha():
                return word
            if any(c.isupper() for c in word[1:]):  # "McKay", "NASA", "iPhone": a name, not a typo
                return word
            return self._lookup(low) or word

        return analyze.WORD.sub(fix, analyze.normalize(text))
