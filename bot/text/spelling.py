"""Typo tolerance: map a question word the corpus never uses to a close corpus word.

Only words of five letters or more that are not stopwords, and not written with capitals past
their first letter (names and acronyms: "McKay" is not a typo of "mckey"), are corrected, and
only to a corpus word at least 85% similar (rapidfuzz's normalized Indel ratio), or one swap of
neighbouring letters away (Damerau-Levenshtein distance 1, same letters: "netwrok" -> "network"),
so "calibraton" finds "calibration" but "water" never becomes "later". A common English word
("fight", "religion": see ``paraphrase.common_words``) is not a typo, unless the corpus spells it
the other side of the Atlantic ("center" -> "centre", "organizations" -> "organisations"), and no
correction adds or drops a negating prefix ("unofficial" never becomes "official", nor
"synchronously" "asynchronously"). Shorter words are corrected only to an acronym of the
sources' glossary with two neighbouring letters swapped ("tsl" -> "TLS", "AIP" -> "API"). The first word of a question may also be a misspelt question
word ("wat", "hwo", "whats"): within one edit of exactly one of them, it is replaced by it.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from bot.text import analyze
from bot.text.paraphrase import common_words

MIN_LENGTH = 5
CUTOFF = 85.0
QUESTION_WORDS = ("what", "who", "whom", "whose", "when", "where", "which", "why", "how")
NEGATING_PREFIXES = ("un", "in", "im", "ir", "il", "dis", "non", "a", "an", "anti", "mis")
# British and American spellings of one word: "centre"/"center", "colour"/"color", "organise"/"organize"
_SPELLING_VARIANTS = ((re.compile(r"our"), "or"), (re.compile(r"(?<=[bcdfghkmnpstvz])re(?=s?$|d$)"), "er"),
                      (re.compile(r"is(?=e|ed|es|ing|ation|ations)"), "iz"), (re.compile(r"ys(?=e|ed|es|ing)"), "yz"),
                      (re.compile(r"ll(?=ed|ing|er)"), "l"), (re.compile(r"s$"), ""))


def spelling_variants(a: str, b: str) -> bool:
    """The same word in British and American spelling (plural or not): "centre", "centers"."""
    def plain(w: str) -> str:
        for pattern, repl in _SPELLING_VARIANTS:
            w = pattern.sub(repl, w)
        return w
    return a != b and plain(a) == plain(b)


def negation_flip(a: str, b: str) -> bool:
    """One word is the other with a negating prefix: "official"/"unofficial", "relevant"/"irrelevant"."""
    return any(a == p + b or b == p + a for p in NEGATING_PREFIXES)


def by_length(words: Iterable[str]) -> dict[int, list[str]]:
    """Words grouped by their length, each group in alphabetical order."""
    out: dict[int, list[str]] = {}
    for w in sorted(words):
        out.setdefault(len(w), []).append(w)
    return out


_OTHER = 26  # the bit of any character but a-z


def letter_sets(words: Sequence[str], n: int) -> np.ndarray:
    """Which letters each word (of ``n`` characters) holds, as bits: a-z, and one for any other
    character."""
    if not words:
        return np.zeros(0, np.uint32)
    codes = np.frombuffer("".join(words).encode("utf-32-le"), np.uint32).reshape(len(words), n)
    bits = np.left_shift(np.uint32(1), np.where((codes >= 97) & (codes <= 122), codes - 97, _OTHER).astype(np.uint32))
    return np.bitwise_or.reduce(bits, axis=1)


def candidate_words(surface: Iterable[str]) -> set[str]:
    """The corpus words a typo may be corrected to: lower-cased, letters only, five or more, no
    stopwords."""
    words = {w.lower() for w in surface if len(w) >= MIN_LENGTH and "-" not in w}
    return {w for w in words if w.isalpha() and w not in analyze.STOPWORDS}


class Speller:
    """``common``: the words that are never typos (default: ``paraphrase.common_words``, read on
    the first correction that needs it)."""

    def __init__(self, corpus_words: Iterable[str], vocabulary: frozenset[str],
                 common: Callable[[], frozenset[str]] = common_words, acronyms: Iterable[str] = ()):
        self.vocabulary = vocabulary
        self._by_length: dict[int, list[str] | str | bytes | memoryview] = by_length(candidate_words(corpus_words))
        self._common = common
        # the glossary's short forms of three or four letters, by their letters: "tsl" finds "TLS"
        self._acronyms: dict[str, list[str]] = {}
        for a in dict.fromkeys(acronyms):
            if 3 <= len(a) < MIN_LENGTH and a.isalpha():
                self._acronyms.setdefault("".join(sorted(a.lower())), []).append(a)
        self._letters: dict[int, np.ndarray] = {}
        self._lookup = lru_cache(maxsize=4096)(self._closest)

    @classmethod
    def from_words(cls, words: Iterable[str] | Mapping[int, str], vocabulary: frozenset[str],
                   common: Callable[[], frozenset[str]] = common_words, acronyms: Iterable[str] = ()) -> "Speller":
        """A speller from a saved word list (already filtered), or from the words of each length
        as one string of lines each (``by_length``'s, as a saved index keeps them: only the
        lengths a correction needs are split, the first time it needs them)."""
        self = cls([], vocabulary, common, acronyms)
        self._by_length = dict(words) if isinstance(words, Mapping) else by_length(words)
        return self

    @property
    def words(self) -> list[str]:
        """Every word a question word may be corrected to, in alphabetical order."""
        return sorted(w for n in self._by_length for w in self._of_length(n))

    def words_by_length(self) -> dict[int, Sequence[str]]:
        """The words of each length, each list in alphabetical order (what an index saves)."""
        return {n: self._of_length(n) for n in sorted(self._by_length)}

    def _acceptable(self, word: str, candidate: str) -> bool:
        if negation_flip(word, candidate):
            return False
        return word not in self._common() or spelling_variants(word, candidate)

    def warm(self) -> None:
        """Split every length's words and note the letters each holds now (a server's start), not on the
        first correction."""
        for n in list(self._by_length):
            self._letters_of_length(n)

    def _letters_of_length(self, n: int) -> np.ndarray:
        got = self._letters.get(n)
        if got is None:
            got = self._letters[n] = letter_sets(self._of_length(n), n)
        return got

    def _within(self, letters: int, length: int, most: float) -> Sequence[str]:
        """The words of ``length`` letters ``most`` insertions and deletions may reach from a word
        holding ``letters`` (``letter_sets``), and a few more, in alphabetical order: those with at
        most that many letters that only one of the two words holds (each such letter takes an
        insertion or a deletion, so no word within reach is left out; the scorer then measures the
        few left)."""
        words = self._of_length(length)
        if len(words) < 64:
            return words
        apart = np.bitwise_count(self._letters_of_length(length) ^ letters)
        return [words[i] for i in np.flatnonzero(apart <= most + 1e-6).tolist()]

    def _of_length(self, n: int) -> Sequence[str]:
        """The words of ``n`` letters, in alphabetical order (split from a saved index's string of
        them the first time: one length at a time, never a pass over every word). Split into a
        tuple, which the garbage collector stops tracking: its full passes walked lists of every
        word of a large index (2.4 million at 1.28M passages)."""
        got = self._by_length.get(n)
        if got is None:
            return ()
        if isinstance(got, (str, bytes, memoryview)):  # a string of lines, or its UTF-8 bytes as a saved index keeps them
            text = got if isinstance(got, str) else str(got, "utf-8")
            got = self._by_length[n] = tuple(text.split("\n")) if text else ()
        return got

    def _closest(self, word: str) -> str | None:
        cutoff = CUTOFF if len(word) >= 8 else CUTOFF + 3
        # fuzz.ratio is at most 2 * shorter / (both lengths): only words of these lengths can reach the cutoff
        c, n = cutoff / 100.0, len(word)
        mine = letter_sets([word], n)[0]  # the letters it holds, as bits
        lo, hi = math.ceil(n * c / (2.0 - c) - 1e-9), math.floor(n * (2.0 - c) / c + 1e-9)
        # the most similar word of any of those lengths; of equally similar ones the first in
        # alphabetical order (what one scan of all of them in that order finds). Lengths nearest
        # the word's first: a length whose best possible ratio is below the best found is skipped,
        # and the best found, less a margin, is the cutoff for the next. Ties are kept, so the
        # choice does not depend on the order the lengths are read in: rapidfuzz
        # drops a word whose score equals the cutoff where rounding puts it a hair below (6/7 at
        # lengths 9 and 16 for a 12-letter typo), and a cutoff too low only scores a few more.
        best: tuple[float, str] | None = None
        for length in sorted(range(lo, hi + 1), key=lambda k: abs(k - n)):
            if best is not None and 200.0 * min(n, length) / (n + length) < best[0] - 1e-6:
                continue
            least = cutoff if best is None else max(cutoff, best[0] - 0.1)
            # fuzz.ratio is 1 - indel / (n + length): the cutoff bounds the distance
            most = (1.0 - least / 100.0) * (n + length)
            found = process.extractOne(word, self._within(mine, length, most), scorer=fuzz.ratio, score_cutoff=least)
            if found and (best is None or found[1] > best[0] or (found[1] == best[0] and found[0] < best[1])):
                best = (found[1], found[0])
        if best:
            return best[1] if self._acceptable(word, best[1]) else None
        # two neighbouring letters swapped ("netwrok"): same letters, one Damerau-Levenshtein step
        letters = sorted(word)
        # a Damerau-Levenshtein step (a swap, a changed letter) changes at most 2 letters held
        near = [w for w, _, _ in process.extract(word, self._within(mine, n, 2), scorer=DamerauLevenshtein.distance,
                                                 score_cutoff=1, limit=5) if sorted(w) == letters]
        return near[0] if len(near) == 1 and self._acceptable(word, near[0]) else None

    def _acronym(self, word: str) -> str | None:
        """The one acronym of the sources two neighbouring letters of ``word`` swapped give."""
        low = word.lower()
        near = [a for a in self._acronyms.get("".join(sorted(low)), ())
                if DamerauLevenshtein.distance(low, a.lower()) == 1]
        return near[0] if len(near) == 1 else None

    @staticmethod
    def _question_word(word: str) -> str | None:
        near = [q for q in QUESTION_WORDS if DamerauLevenshtein.distance(word, q) <= 1]
        return near[0] if len(near) == 1 and word not in near else None

    def correct(self, text: str) -> str:
        """The question with unknown long words replaced by their closest corpus word."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            low = word.lower()
            if m.start() == first and low not in analyze.STOPWORDS and low.isalpha():
                q = self._question_word(low)
                if q is not None and analyze.term_of(word) not in self.vocabulary:
                    return q.capitalize() if word[:1].isupper() else q
            term = analyze.term_of(word)
            if term is None or term in self.vocabulary or not low.isalpha():
                return word
            if len(low) < MIN_LENGTH:  # short: only a swap of two letters of one of the sources' acronyms
                return (self._acronym(word) or word) if len(low) >= 3 and low not in analyze.STOPWORDS else word
            if any(c.isupper() for c in word[1:]):  # "McKay", "NASA", "iPhone": a name, not a typo
                return word
            return self._lookup(low) or word

        text = analyze.normalize(text)
        start = analyze.WORD.search(text)
        first = start.start() if start else -1
        return analyze.WORD.sub(fix, text)
