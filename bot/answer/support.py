"""How much of a question a passage holds: the focus terms it has (with the glossary), IDF
coverage, the best single sentence, the kind of fact asked for (a time, an agent, a place ...),
and whether a passage is about the asked-for subject. The answer decision's rules and features
are built from these measures.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from bot.text.analyze import STOPWORDS
from bot.text.analyze import terms as analyze_terms
from bot.text.analyze import tokens as analyze_tokens
from bot.text.analyze import words as analyze_words
from bot.index.engines import bm25_idf
from bot.index.corpus import CorpusIndex
from bot.text.paraphrase import WordCloseness, shared_closeness
from bot.answer.understand import Question

_AGENT = re.compile(r"\b(?:by|from)\s+[A-Z][\w-]*|\b[A-Z][\w-]*['’]s\s+[A-Z\w]|"
                    r"\b\w+(?:ed|en|wn|lt|de)\b[^.;]{0,40}?\bby\s+(?:the\s+|its\s+|their\s+)?[a-z]\w+")
_DURATION = re.compile(r"\b(?:\d+(?:[.,]\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
                       r"several|few|many)(?:\s+to\s+\d+)?(?:\s+|-)(?:seconds?|minutes?|hours?|days?|weeks?|months?|"
                       r"years?|decades?)\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b|"
                       # how often, by distance, use or event: "every 200 kilometres", "after any wet ride"
                       r"\bevery\s+(?:\d[\d,.]*|other|few|two|three|four|five|six|ten)(?:\s+to\s+\d[\d,.]*)?\s*[a-z]+|"
                       r"\b(?:after|before)\s+(?:each|every|any)\s+[a-z]+", re.I)
# "When should I replace the pads?" asks for a condition as much as a time: "when they are
# thinner than 1.5 mm", "once it has stretched", "after any wet ride".
_CONDITION = re.compile(r"\b(?:when|whenever|once|as soon as|after|before|if|every time|until)\s+(?:the|they|it|you|"
                        r"your|its|their|a|an|any|each|there)\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|"
                     r"dozen|dozens|single|both)\b", re.I)
_VAGUE = re.compile(r"\b(?:various|many|several|some|different|countless|numerous|all|multiple|certain|"
                    r"hundreds of|thousands of|dozens of|lots of|a number of|a range of|other)\s+(?:[\w-]+\s+){0,3}$|"
                    r"\b(?:new|entirely new|brand new|unique|specific|such)\s+$", re.I)
_SPECIFY = re.compile(r"^\W*(?:such as|like|including|include|namely|e\.g\.|:)", re.I)
_TIME = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)days?\b|"
                   r"\b(?:every|each)\s+(?:day|week|month|year|morning|evening|night|hour)\b|"
                   r"\b(?:nightly|daily|weekly|monthly|yearly|annually|hourly)\b|\b\d{1,2}:\d\d\b|\b(?:January|February|March|April|May|June|July|August|"
                   r"September|October|November|December)\b|\b(?:last|this|next) (?:year|month|week)\b|"
                   r"\b\d+ (?:years?|months?|weeks?|days?) ago\b|\byesterday\b|\btoday\b|"
                   # relative times and frequencies: "after ninety minutes", "within 30 days", "twice a week"
                   r"(?i:\b(?:after|within|before|in|until|by|every|each|over|for)\s+(?:about\s+|around\s+|roughly\s+|"
                   r"up to\s+|at least\s+)?(?:\d+(?:[.,]\d+)?|an?|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                   r"twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|several|a few)(?:[\s-]+\w+)?\s+"
                   r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b|"
                   r"\b(?:once|twice|\w+ times) (?:a|an|per|every) (?:second|minute|hour|day|week|month|year)\b|"
                   r"\b(?:at|by) (?:dawn|dusk|night|noon|midnight|sunrise|sunset)\b|"
                   r"\bin the (?:morning|afternoon|evening)\b|\b(?:before|after) (?:each|every) \w+\b)")
# Abstention thresholds. A passage supports an answer when it holds PASSAGE_SUPPORT of the focus
# (IDF-weighted; a word the corpus never uses weighs as much as its rarest) and one sentence with
# its headings holds SENTENCE_SUPPORT. Chosen with tuning/tune_wikiqa.py (WikiQA train triggering F1)
# and tuning/tune_gold.py (abstention recall / false abstentions on the article's gold set):
#   passage  sentence | WikiQA train F1 | article recall / false abst.
#   1.0      0.0      | 0.302           | 97.3% / 1.0%
#   0.8      0.0      | 0.325           | 97.3% / 1.0%
#   0.8      0.5      | 0.325 (P .318)  | 97.3% / 1.0%   <- chosen
#   0.8      0.7      | 0.327           | 100%  / 3.0%
#   0.7      0.0      | 0.324           | 94.6% / 1.0%
#   0.6      0.0      | 0.327           | 91.9% / 1.0%
PASSAGE_SUPPORT = 0.8
SENTENCE_SUPPORT = 0.5
# A sentence holding the kind of fact asked for (a time for "when", a number for "how many" ...)
# weighs EVIDENCE_BOOST times more. WikiQA train (tuning/tune_wikiqa.py), MAP / triggering F1:
#   1.0: 0.645 / 0.326   1.5: 0.660 / 0.334   2: 0.664 / 0.336   3: 0.670 / 0.338
#   5: 0.673 / 0.340 (chosen: the plateau starts)   10: 0.676 / 0.341; gold sets unchanged throughout.
EVIDENCE_BOOST = 5.0
# "where" needs a place: a capitalized name after a preposition of place ("in Paris", "near the Alps").
_PLACE = re.compile(r"\b(?:in|at|near|on|from|across|throughout|between|north|south|east|west|located|"
                    r"borders?)\s+(?:the\s+|northern\s+|southern\s+|eastern\s+|western\s+|central\s+)?[A-Z][a-z]|"
                    # a place in or by a thing: "in the spout", "under the sink", "behind the front panel"
                    r"\b(?:inside|under|underneath|behind|beside|next to|on top of|in|at the (?:back|front|top|bottom) of)"
                    r"\s+(?:the|its|each|your)\s+(?:[a-z]+\s+)?[a-z]{3,}\b")
# "money" needs an amount of money: a currency sign or name next to a number, or "free".
_MONEY = re.compile(r"[$€£¥₹]\s?\d|\b\d[\d,.]*\s?(?:k|m|bn|million|billion)?\s?(?:dollars?|euros?|pounds?|cents?|"
                    r"pence|yen|yuan|rupees?|francs?|USD|EUR|GBP|JPY|CHF)\b|\b(?:USD|EUR|GBP)\s?\d|\bfree of charge\b|"
                    r"\bfor free\b|\bcosts? nothing\b", re.I)
_COLOUR = re.compile(r"\b(?:red|orange|yellow|green|blue|indigo|violet|purple|pink|brown|black|white|gr[ae]y|silver|"
                     r"gold|golden|beige|cream|ivory|teal|turquoise|cyan|magenta|maroon|navy|olive|lime|amber|"
                     r"crimson|scarlet|tan|khaki|bronze|copper|transparent|clear|colou?rless)(?:ish)?\b", re.I)
EVIDENCE = {"who": _AGENT, "when": _TIME, "duration": _DURATION, "quantity": _NUMBER, "where": _PLACE,
             "money": _MONEY, "colour": _COLOUR}
# A focus term found in over COMMON_DF of all passages (a corpus's main subject, e.g. "AI" in an
# article about AI) may be left implied by a passage that has the question's rarer terms. Chosen on
# the gold sets (answers correct / abstention recall / false abstentions, article | second corpus):
#   0.1-0.3: 99.0% / 97.3% / 1.0% | 100% / 100% / 0%
#   0.4-0.5 and never (1.01): 98.0% / 97.3% / 2.0% | 100% / 100% / 0%
# 0.3 is the strictest value with the fewest false abstentions.
COMMON_DF = 0.3


PARAPHRASE_CLOSE = 0.6  # word-vector similarity from which a missing word counts as said otherwise
_WHAT_IS = re.compile(r"^\W*(?:what|who)(?:\s+is|\s+are|\s+was|\s+were|['’]s|['’]re|s)\s", re.I)
_TRAILING_PREPOSITIONS = frozenset("on for with in of to by from about at into like as".split())
_COPULA = re.compile(r"\b(?:is|are|was|were|means|refers? to|stands? for|describes?)\b")


@dataclass(frozen=True)
class RuleSettings:
    """The responder's rule thresholds and sentence-scoring weights (defaults and how they were
    chosen: the comments above the module constants). Tuning scripts pass other values here."""

    passage_support: float = PASSAGE_SUPPORT
    sentence_support: float = SENTENCE_SUPPORT
    evidence_boost: float = EVIDENCE_BOOST
    common_df: float = COMMON_DF

    def __post_init__(self) -> None:
        for name in ("passage_support", "sentence_support", "common_df"):
            if not 0.0 <= getattr(self, name) <= 1.01:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.evidence_boost < 1.0:
            raise ValueError(f"evidence_boost must be at least 1, got {self.evidence_boost}")


class Support:
    """Measures of how well a passage supports a question, for one index."""

    def __init__(self, index: CorpusIndex, rules: RuleSettings | None = None,
                 closeness: WordCloseness | None = None):
        self.index = index
        self.rules = rules or RuleSettings()
        self.closeness = closeness or shared_closeness()
        self._common = index.retriever.common_terms(self.rules.common_df)

    def have(self, pi: int, terms: Sequence[str]) -> set[str]:
        """Terms of a passage, plus a long form's words where the passage has its acronym and the
        question names the whole long form ("total dissolved solids" is supported by "TDS")."""
        have = set(self.index.passage_terms[pi])
        asked = set(terms)
        glossary = self.index.glossary
        by_key = glossary.by_key
        for key in have & glossary.key_set:
            e = by_key[key]
            if set(e.long_terms) <= asked:
                have.update(e.long_terms)
        return have

    def missing(self, pi: int, terms: Sequence[str]) -> list[str]:
        """Focus terms the passage does not support (a common term may be implied by rarer ones)."""
        have = self.have(pi, terms)
        miss = [t for t in terms if t not in have]
        rare_found = any(t in have and t not in self._common for t in terms)
        if rare_found:
            miss = [t for t in miss if t not in self._common]
        return miss

    def focus_weights(self, focus: Sequence[str]) -> dict[str, float]:
        """IDF of each focus term; a term the corpus never uses weighs as much as the rarest."""
        unseen = bm25_idf(self.index.retriever.size, 0)  # a word no passage holds
        return {t: self.index.retriever.idf(t) or unseen for t in focus}

    def coverage(self, pi: int, focus: Sequence[str]) -> float:
        """IDF-weighted share of the focus terms the passage supports."""
        weight = self.focus_weights(focus)
        miss = set(self.missing(pi, focus))
        return sum(w for t, w in weight.items() if t not in miss) / (sum(weight.values()) or 1.0)

    def sentence_support(self, pi: int, focus: Sequence[str], enough: float = 1.0) -> float:
        """The largest IDF-weighted share of the focus that one sentence (with the heading path)
        holds: a passage that mentions every focus word, but never together, supports little.
        Sentences are read in order until one holds ``enough`` (``supports`` asks only whether one
        reaches its threshold; no share is over 1, so the default stops only where the largest is
        found), and later sentences are not analyzed. Where the heading path alone holds
        ``enough`` (a question naming a section's heading), none is: each sentence holds at least
        what its path does, so the path's share is returned (the largest, where ``enough`` is 1)."""
        weight = self.focus_weights(focus)
        total = sum(weight.values()) or 1.0
        path = self.index.path_terms[pi]
        held = set(path)
        held |= self.expand(held)
        from_path = sum(w for t, w in weight.items() if t in held) / total
        if from_path >= enough and self.index.sentence_count(pi):
            return from_path
        best = 0.0
        for terms in self.index.sentence_terms[pi]:
            have = set(terms) | path
            have |= self.expand(have)
            best = max(best, sum(w for t, w in weight.items() if t in have) / total)
            if best >= enough:
                break
        return best

    def expand(self, terms: set[str]) -> set[str]:
        """Long-form terms of the acronyms among ``terms``."""
        out: set[str] = set()
        glossary = self.index.glossary
        by_key = glossary.by_key
        for key in terms & glossary.key_set:
            out.update(by_key[key].long_terms)
        return out

    def supports(self, q: Question, pi: int, focus: Sequence[str] | None = None) -> bool:
        """The abstention decision for one passage: does it support an answer to ``q``?

        Every required focus term must be in the passage (text or heading path, with the
        glossary); who/when/how-long/how-many questions also need an agent, a time, a duration or
        a number near the focus; "which X" needs X named, not just "various X"."""
        focus = list(focus if focus is not None else q.focus_terms)
        if not focus:
            return False
        required = self.required(q, focus)
        if self.missing(pi, required) and self.coverage(pi, required) < self.rules.passage_support:
            return False
        if not self.names_subject(q, pi):
            return False
        if q.kind == "yesno" and len(self.missing(pi, focus)) * 2 > len(focus):
            return False
        if not self.type_ok(q, pi, focus):
            return False
        least = self.rules.sentence_support
        if least > 0 and self.sentence_support(pi, focus, enough=least) < least:
            return False
        return True

    def names_subject(self, q: Question, pi: int) -> bool:
        """A follow-up's passage still names the subject carried over from the earlier turn (at
        least half of its words by IDF, in the text, the heading path or the glossary): "and how is it cleaned?"
        after "what is a French press?" is not answered by a passage on cleaning something else."""
        if not (q.followup and q.context):
            return True
        subject = [t.term for t in q.context]
        have = self.have(pi, subject)
        have |= set(self.index.path_terms[pi]) | self.expand(have)
        weight = self.focus_weights(subject)  # by IDF: "model" alone does not name "diffusion model"
        return sum(w for t, w in weight.items() if t in have) * 2 >= sum(weight.values())

    def defines(self, focus: Sequence[str], pi: int, quotes: Sequence[str]) -> bool:
        """The passage is about the focus: its heading path names all of it, or a quote has it as
        its subject (before "is / are / means / refers to ...", or among its first six words)."""
        path = self.index.path_terms[pi]
        if set(focus) <= path | self.expand(set(path)):
            return True
        by_key = self.index.glossary.by_key
        for t in focus:  # an acronym whose long form a quote spells out: "natural language processing (NLP)"
            e = by_key.get(t)
            if e is not None and any(e.long.lower() in x.lower() for x in quotes):
                return True
        for x in quotes:
            m = _COPULA.search(x)
            # the subject: the words before "is / are / means ...", or the sentence's first six words
            head = x[: m.start()] if m else " ".join(x.split()[:6])
            subject = set(analyze_terms(head, self.index.vocabulary)) | path
            if set(focus) <= subject | self.expand(subject):
                return True
        return False

    @staticmethod
    def shape_ok(q: Question, defines: float) -> bool:
        """A short "What is X?" needs a passage that is about X (``defines``); a request to
        produce something ("give me a recipe for ...") cannot be met by quoting."""
        if q.extra.get("request"):
            return False
        m = _WHAT_IS.match(q.text)
        rest = analyze_words(q.text[m.end():]) if m else []
        short = (m is not None and len(q.focus_terms) <= 2 and not q.followup and not q.soft and len(rest) <= 5
                 and bool(rest) and rest[-1].lower() not in _TRAILING_PREPOSITIONS)
        return not (q.kind == "definition" and short and not defines)

    def type_ok(self, q: Question, pi: int, focus: Sequence[str]) -> bool:
        """The passage holds the kind of fact asked for: a time for "when" (or a condition, for
        "when should I ..."), an agent for "who", a place, a duration, a number; "which X" needs
        X named, not "various X"."""
        pattern = EVIDENCE.get(q.kind)
        if pattern is not None and not self.evidence(pi, focus, pattern):
            if not (q.extra.get("procedural") and self.evidence(pi, focus, _CONDITION)):
                return False
        if q.extra.get("which") and self.unspecified(pi, q.extra["which"]):
            return False
        return True

    def required(self, q: Question, focus: Sequence[str]) -> list[str]:
        """Terms a passage must support. A yes/no question's claim may be what is wrong
        ("Can X produce video?"), so there only its named subjects (and half the rest) must be found."""
        if q.followup and q.focus and q.context:
            # a follow-up with words of its own ("and to print only the names?" after "how do I
            # count lines with grep"): what it asks must be found; of the earlier turn's words,
            # which the follow-up may have replaced, the subject check (respond) needs one
            own = {t.term for t in q.focus}
            focus = [t for t in focus if t in own] or list(focus)
        if q.kind != "yesno":
            return list(focus)
        named = [t.term for t in (*q.focus, *q.context)
                 if any(c.isupper() for c in t.surface) and t.position > 0]
        return named or list(focus[:1])

    def unspecified(self, pi: int, which: Sequence[str]) -> bool:
        """True when the passage names the asked-for things only vaguely ("various techniques") or
        not at all. A passage whose heading names them ("Which browsers are supported?") and whose
        text lists them without the word ("Chrome, Firefox, Safari and Edge") is not vague."""
        head = which[-1] if which else None
        if head is None:
            return False
        named = vague = False
        for s in self.index.passages[pi].sentences:
            for t in analyze_tokens(s.text):
                if t.term != head:
                    continue
                i = s.text.find(t.surface)
                before, after = s.text[:i], s.text[i + len(t.surface):]
                if _VAGUE.search(before) and not _SPECIFY.match(after):
                    vague = True
                    continue
                named = True
        if named:
            return False
        return vague or head not in self.index.path_terms[pi]

    def evidence(self, pi: int, focus: Sequence[str], pattern: re.Pattern[str]) -> bool:
        p = self.index.passages[pi]
        if p.headings and pattern.search(p.headings[-1]):
            return True
        for s, terms in zip(p.sentences, self.index.sentence_terms[pi]):
            if pattern.search(s.text) and (terms & set(focus) or len(p.sentences) <= 2):
                return True
        return False

    def paraphrased(self, q: Question, term: str, pi: int, at_least: float = PARAPHRASE_CLOSE) -> bool:
        surfaces = [t.surface for t in (*q.focus, *q.context) if t.term == term]
        words = [w for w in analyze_words(self.index.passages[pi].text) if w.lower() not in STOPWORDS and len(w) > 1]
        return bool(surfaces) and max(self.closeness.closeness(surfaces[:1], words), default=0.0) >= at_least
