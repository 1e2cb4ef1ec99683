"""Mine acronyms and their long forms from corpus text ("total dissolved solids (TDS)").

Uses the Schwartz & Hearst (2003) algorithm: a short form in parentheses is matched, letter by
letter from the end, against the words just before it; the first letter must start a word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from bot.text import analyze

_PAREN = re.compile(r"\(([^()]{1,16})\)")
_CLAUSE_BREAK = re.compile(r"[.;:!?()\[\]]|,\s")


@dataclass(frozen=True)
class Entry:
    short: str  # as written: "TDS", "Dev Ops"
    long: str  # as written: "total dissolved solids"
    key: str  # index term of the short form with spaces removed: "tds", "devop"
    long_terms: tuple[str, ...]  # index terms of the long form

    def to_dict(self) -> dict[str, object]:
        return {"short": self.short, "long": self.long}


def _is_short_form(s: str) -> bool:
    words = s.split()
    if not 1 <= len(words) <= 2 or not 2 <= len(s) <= 12:
        return False
    if not s[0].isalnum() or not any(c.isupper() for c in s):
        return False
    letters = sum(c.isalpha() for c in s)
    return letters >= 2


def best_long_form(short: str, candidate: str) -> str | None:
    """Schwartz-Hearst: the shortest tail of ``candidate`` whose letters spell ``short``."""
    s = [c.lower() for c in short if c.isalnum()]
    lf = candidate.lower()
    si, li = len(s) - 1, len(lf) - 1
    while si >= 0:
        c = s[si]
        while li >= 0 and (lf[li] != c or (si == 0 and li > 0 and lf[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return None
        si -= 1
        li -= 1
    start = lf.rfind(" ", 0, li + 1) + 1
    long_form = candidate[start:].strip()
    return long_form or None


def find_pairs(text: str) -> Iterable[tuple[str, str]]:
    """(short, long) pairs written as "long form (SHORT)" in ``text``."""
    for m in _PAREN.finditer(text):
        short = m.group(1).strip()
        if not _is_short_form(short):
            continue
        before = text[max(0, m.start() - 120) : m.start()]
        parts = _CLAUSE_BREAK.split(before)
        clause = parts[-1].strip() if parts else ""
        if not clause:
            continue
        n_letters = sum(c.isalnum() for c in short)
        words = clause.split()[-min(n_letters + 5, n_letters * 2):]
        long = best_long_form(short, " ".join(words))
        if not long or long.lower() == short.lower():
            continue
        if len(long.split()) > n_letters + 2 or long.split()[0].lower() in analyze.STOPWORDS:
            continue
        yield short, long


# "Total Dissolved Solids, better known as TDS", "TDS (short for ...)", "X, also known as Y"
_ALIAS = re.compile(
    r"(?P<long>(?:[A-Z][\w-]*[ \t]+){1,6}?[A-Z]?[\w-]+),?[ \t]+(?:better|also|commonly|often)[ \t]+known[ \t]+as[ \t]+"
    r"(?P<short>[A-Z][\w-]*(?:[ \t][A-Z][\w-]*)?)"
    r"|(?P<short2>[A-Z][\w-]*)[ \t]+\((?:short[ \t]+for|stands[ \t]+for|i\.e\.)[ \t]+(?P<long2>[^()\n]{3,80})\)")


_ALIAS_HINT = re.compile(r"known[ \t]+as|\((?:short[ \t]+for|stands[ \t]+for|i\.e\.)")


def find_aliases(text: str) -> Iterable[tuple[str, str]]:
    """(short, long) pairs written as "Long Name, better known as SHORT" and similar."""
    for m in _ALIAS.finditer(text):
        short = m.group("short") or m.group("short2")
        long = (m.group("long") or m.group("long2") or "").strip()
        if short and long and short.lower() != long.lower():
            if m.group("long"):  # keep the long form's tail that spells the short form, if any
                long = best_long_form(short, long) or long
            yield short, long


def pairs_in(text: str) -> list[tuple[str, str]]:
    """Every (short, long) pair written in one text, in order."""
    norm = analyze.normalize(text)
    pairs = list(find_pairs(norm)) if "(" in norm else []
    if _ALIAS_HINT.search(norm):
        pairs += find_aliases(norm)
    return pairs


class Glossary:
    """Acronym <-> long-form entries, looked up by index terms."""

    def __init__(self, entries: Iterable[Entry] = ()):
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.by_first: dict[str, list[Entry]] = {}  # long forms by their first term
        for e in entries:
            if e.key not in self.by_key:
                self.by_key[e.key] = e
                self.entries.append(e)
                self.by_first.setdefault(e.long_terms[0], []).append(e)
        # frozensets to intersect a text's terms with: a dict's keys view intersects a set of a hundred
        # terms ten times slower (each term is looked up through the generic sequence protocol)
        self.key_set: frozenset[str] = frozenset(self.by_key)
        self.first_set: frozenset[str] = frozenset(self.by_first)
        # the second terms of the long forms under each first term; None where a long form is that one
        # term: a text holding a first term but none of its seconds holds none of its long forms
        self.seconds_of_first: dict[str, frozenset[str] | None] = {
            f: None if any(len(e.long_terms) < 2 for e in es) else frozenset(e.long_terms[1] for e in es)
            for f, es in self.by_first.items()}

    @classmethod
    def mine(cls, texts: Iterable[str]) -> "Glossary":
        return cls.from_pairs(pair for text in texts for pair in pairs_in(text))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> "Glossary":
        """Entries from (short, long) pairs in corpus order; a repeated pair is analyzed once."""
        entries = []
        seen: set[tuple[str, str]] = set()
        for short, long in pairs:
            if (short, long) in seen:
                continue
            seen.add((short, long))
            key = analyze.term_of("".join(analyze.words(short)))
            long_terms = tuple(analyze.terms(long))
            if key and long_terms and key not in long_terms:
                entries.append(Entry(short, long, key, long_terms))
        return cls(entries)

    def expansions(self, terms: list[str]) -> list[tuple[str, tuple[str, ...]]]:
        """For each glossary entry the question touches: (key, long_terms).

        Touching means the question holds the short form's key, or every long-form term.
        """
        have = set(terms)
        out = []
        seen = set()
        for t in terms:
            for e in [self.by_key[t]] if t in self.by_key else []:
                if e.key not in seen:
                    seen.add(e.key)
                    out.append((e.key, e.long_terms))
            for e in self.by_first.get(t, ()):
                if e.key not in seen and all(x in have for x in e.long_terms):
                    seen.add(e.key)
                    out.append((e.key, e.long_terms))
        return out

    def __len__(self) -> int:
        return len(self.entries)
