"""Turn text into index terms. The same analyzer serves passages and questions.

Steps: Unicode NFKC, fold curly quotes and dashes, drop zero-width marks, split into words
(hyphenated words kept whole *and* split into parts), drop English stopwords and possessive
's, fold plural acronyms ("GPUs" -> "gpu"), lower-case, Snowball-stem.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import KeysView
from typing import Iterable

import snowballstemmer

_FOLD = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹘": "-", "－": "-",
    "\u00a0": " ", "\u202f": " ", "\u2007": " ",
})
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# A word: letters/digits, optionally joined by single hyphens or apostrophes ("text-to-image").
WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
_VOWEL = re.compile(r"[aeiouy]")
_ACRONYM_PLURAL = re.compile(r"[A-Z][A-Za-z0-9]*[A-Z0-9]s")  # GPUs, APIs, URLs, PhDs

# English stopwords (the usual IR list: function words and auxiliaries).
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren arent as at be because been before
being below between both but by can cannot could couldn couldnt did didn didnt do does doesn doesnt
doing don dont down during each few for from further had hadn hadnt has hasn hasnt have haven havent
having he hed hes her here heres hers herself him himself his how hows i id ill im ive if in into is
isn isnt it its itself just lets me more most mustn mustnt my myself no nor not now of off on once
only or other ought our ours ourselves out over own same shan shant she shed shell shes should
shouldn shouldnt so some such than that thats the their theirs them themselves then there theres
these they theyd theyll theyre theyve this those through to too under until up very was wasn wasnt we
wed well were weren werent weve what whats when whens where wheres which while who whos whom why
whys will with won wont would wouldn wouldnt you youd youll youre youve your yours yourself
yourselves also may might must shall s t d ll m o re ve y us
""".split())

_stemmer = snowballstemmer.stemmer("english")
if hasattr(_stemmer, "maxCacheSize"):  # PyStemmer: its own cache holds a [stem, age] list a word, which the
    _stemmer.maxCacheSize = 0  # garbage collector walks at every full pass; ``stem``'s lru_cache keeps them


def normalize(text: str) -> str:
    """NFKC, fold typographic quotes/dashes/spaces, drop invisible marks (not lower-cased)."""
    if text.isascii():  # NFKC leaves ASCII alone; the only ASCII fold is the backtick
        return text.replace("`", "'") if "`" in text else text
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text).translate(_FOLD))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


@dataclass(frozen=True)
class Token:
    """An index term with the surface word it came from and that word's position."""

    term: str
    surface: str
    position: int


def _fold_word(raw: str) -> str:
    """Lower-case a word, dropping possessives and apostrophes, folding plural acronyms."""
    if raw.isalnum() and raw.isascii():  # most words, and every pair of folded ones: no apostrophe, hyphen or accent
        if not raw.islower() and _ACRONYM_PLURAL.fullmatch(raw):
            raw = raw[:-1]
        w = raw.lower()
    else:
        if raw.endswith(("'s", "'S")):
            raw = raw[:-2]
        elif raw.endswith("'"):
            raw = raw[:-1]
        if _ACRONYM_PLURAL.fullmatch(raw) and "-" not in raw:
            raw = raw[:-1]
        w = raw.lower().replace("'", "")
        if not w.isascii():
            w = fold_accents(w)
    if len(w) >= 4 and w.endswith("s") and not _VOWEL.search(w[:-1]):
        w = w[:-1]  # a lower-cased plural acronym: "apis" -> "api"
    return w


def fold_accents(word: str) -> str:
    """Drop accents from Latin letters ("hervé" -> "herve", "naïve" -> "naive"); other scripts,
    whose marks change the letter itself (Japanese dakuten, Devanagari vowel signs), keep them."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", word):
        if unicodedata.combining(ch) and out and "a" <= out[-1] <= "z":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# Number words are indexed as digits, so "five types" finds "5 types" and the other way round.
# ("one" is left out: far more often a pronoun, "which one", than a count.)
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split()) if w not in ("zero", "one")}


def term_of(word: str) -> str | None:
    """The index term of one plain word, or None for a stopword."""
    return _term_of_folded(_fold_word(word))


def _term_of_folded(w: str) -> str | None:
    if w in NUMBER_WORDS:
        return NUMBER_WORDS[w]
    if not w or w in STOPWORDS or (len(w) == 1 and w.isalpha()):
        return None
    return stem(w)


def words(text: str) -> list[str]:
    """Surface words of a text after normalization (case kept)."""
    return WORD.findall(normalize(text))


def tokens(text: str, vocabulary: Iterable[str] | None = None) -> list[Token]:
    """Analyze text into Tokens.

    A hyphenated word gives its joined form ("texttoimag") and its parts ("text", "imag").
    With a ``vocabulary``, two adjacent words whose joined form is a known term also give
    that term, so "Dev Ops" matches "DevOps" when the corpus uses both.
    """
    vocab = vocabulary if vocabulary is not None else ()
    out: list[Token] = []
    ws = words(text)
    for pos, raw in enumerate(ws):
        if "-" in raw:
            parts = [p for p in raw.split("-") if p]
            joined = term_of("".join(parts))
            if joined:
                out.append(Token(joined, raw, pos))
            for part in parts:
                t = term_of(part)
                if t and t != joined:
                    out.append(Token(t, raw, pos))
        else:
            t = term_of(raw)
            if t:
                out.append(Token(t, raw, pos))
        if vocab and pos > 0:
            prev = ws[pos - 1]
            if "-" not in prev and "-" not in raw and len(prev) > 1 and len(raw) > 1 \
                    and _fold_word(prev) not in STOPWORDS and _fold_word(raw) not in STOPWORDS:
                pair = term_of(_fold_word(prev) + _fold_word(raw))
                if pair and pair in vocab:
                    out.append(Token(pair, f"{prev} {raw}", pos))
    return out


def _hyphenated_terms(raw: str) -> list[str]:
    """Index terms of a hyphenated word: its joined form, then each part's other terms."""
    parts = [p for p in raw.split("-") if p]
    joined = term_of("".join(parts))
    out = [joined] if joined else []
    for part in parts:
        t = term_of(part)
        if t and t != joined:
            out.append(t)
    return out


def _word_info(raw: str) -> tuple[str, str | None]:
    """One surface word's terms joined by spaces ("" for a stopword), and its folded form where
    it may join its neighbour ("Gen" + "AI"), else None: the word is folded once for both."""
    if "-" in raw:
        return " ".join(_hyphenated_terms(raw)), None
    w = _fold_word(raw)
    t = _term_of_folded(w)
    return t or "", None if len(raw) <= 1 or w in STOPWORDS else w


# the vocabularies split spellings are looked up in as they are (a saved index's term ids' keys: a
# Mapping's ``KeysView``), known by their type: an ABC's ``isinstance`` takes microseconds a sentence
_DICT_KEYS = type({}.keys())
_AS_THEY_ARE = frozenset({set, frozenset, _DICT_KEYS, KeysView})


class PairTerms:
    """The term of two adjacent joinable words written as one ("dev" + "ops": "devops" -> "devop";
    "" for none), cached by the written pair, up to ``limit`` pairs, then cleared. A text of n
    words has n - 1 pairs, mostly never met again, so one cache is shared by every analyzer of a
    process (``SHARED_PAIRS``) and bounded once: a conversation's index that a server loads adds
    none of its own (the memory budget for attached files counts what each index adds)."""

    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self._known: dict[str, str] = {"": ""}  # "": a pair with a word that never joins

    def __len__(self) -> int:
        return len(self._known)

    def of(self, written: list[str]) -> list[str]:
        """The term of each written pair (those not met before are made and cached, and used as
        made, not read back: a clear by another thread loses nothing)."""
        known = self._known
        pairs = list(map(known.get, written))
        if None in pairs:
            if len(known) > self.limit:
                known.clear()
                known[""] = ""
            for k, got in enumerate(pairs):
                if got is None:
                    pairs[k] = known[written[k]] = term_of(written[k]) or ""
        return pairs  # type: ignore[return-value]


SHARED_PAIRS = PairTerms()


class Analyzer:
    """``terms`` with a per-word cache of its own: an index (or a build worker) owns one, so no
    index's words grow another's cache; the pairs of words are cached once for the process
    (``PairTerms``)."""

    def __init__(self, limit: int = 2_000_000, pairs: PairTerms | None = None):
        """``limit``: the words cached before the cache is cleared; ``pairs``: the cache of pairs
        (default: the process's)."""
        # surface word -> (its terms joined by spaces, "" for a stopword; its folded form if it may
        # join a neighbour, else None): one entry, so a clear by another thread (a server answers
        # from several) never leaves one half of a word without the other
        self._words: dict[str, tuple[str, str | None]] = {}
        self._pairs = pairs if pairs is not None else SHARED_PAIRS
        self._limit = limit

    def terms(self, text: str, vocabulary: Iterable[str] | None = None,
              words_out: set[str] | None = None) -> list[str]:
        """The terms ``tokens`` gives, in the same order, without building Token objects.
        With ``words_out``, the text's surface words are added to that set too."""
        ws = WORD.findall(normalize(text))
        if words_out is not None:
            words_out.update(ws)
        if not ws:
            return []
        cache = self._words
        infos = list(map(cache.get, ws))
        if None in infos:  # words not seen before: analyze and cache them (kept here as made, not read back)
            if len(cache) > self._limit:
                cache.clear()
            for k, got in enumerate(infos):
                if got is None:
                    got = cache.get(ws[k])
                    if got is None:
                        got = cache[ws[k]] = _word_info(ws[k])
                    infos[k] = got
        per_word, joinable = zip(*infos)  # each word's terms as one space-separated string; its joinable form
        if not vocabulary or len(ws) < 2:
            return " ".join(per_word).split()
        kind = type(vocabulary)
        if kind not in _AS_THEY_ARE and not isinstance(vocabulary, (set, frozenset, KeysView)):
            vocabulary, kind = set(vocabulary), set
        # pairs[i]: the term of words i and i + 1 joined ("" where either never joins)
        written = [a + b if a and b else "" for a, b in zip(joinable, joinable[1:])]
        pairs = self._pairs.of(written)
        if kind is set or kind is frozenset:
            found = vocabulary.intersection(pairs)
        elif kind is _DICT_KEYS:  # a dict's keys: the intersection runs in C
            found = vocabulary & pairs
        else:  # a saved index's term ids' keys: asked, never copied
            found = {p for p in pairs if p and p in vocabulary}
        if "" in found:  # (a vocabulary that holds the empty string: no pair is written as it)
            found = {p for p in found if p}
        if not found:
            return " ".join(per_word).split()
        at = sorted(i for pair in found for i, p in enumerate(pairs) if p == pair)
        out: list[str] = []
        last = 0
        for i in at:  # the pair of words i and i + 1 follows the terms of word i + 1
            out.extend(" ".join(per_word[last : i + 2]).split())
            out.append(pairs[i])  # type: ignore[arg-type]
            last = i + 2
        out.extend(" ".join(per_word[last:]).split())
        return out


def terms(text: str, vocabulary: Iterable[str] | None = None, words_out: set[str] | None = None) -> list[str]:
    """``Analyzer.terms`` without a lasting cache (questions, glossary entries, one-off texts)."""
    return Analyzer(limit=0).terms(text, vocabulary, words_out)

