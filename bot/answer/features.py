"""What the answer decision sees of a candidate passage: a table of small named measures.

Each ``Feature`` names one number, says what it measures, the group it belongs to and its role:

- ``WEIGHED``: an input of the logistic model (``decide.LogisticModel``); ``FEATURES`` lists them,
  in the table's order, and a model naming one that is not here is refused on load;
- ``VETO``: 1.0 when the quote cannot be the answer whatever the model says (``VETOES``; the
  decider caps the confidence below every answer threshold);
- ``GATE``: read by the decider's rules, not weighed (whether the passage meets the question only
  in passing, and then how close question and quote are).

A measure is a function of ``Measure``, which computes what several measures share (the quoted
span, its terms, the focus weights, ...) once per candidate. To add a decision feature: write its
function, add a row to ``TABLE`` (role ``WEIGHED``), retrain (``tuning/train_decision.py``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Sequence

from rapidfuzz import fuzz as rf_fuzz
from rapidfuzz import process as rf_process

from bot.answer.support import EVIDENCE
from bot.index.engines import Hit, bm25_idf
from bot.sources.structure import is_documentation
from bot.text.analyze import STOPWORDS
from bot.text.analyze import terms as analyze_terms
from bot.text.analyze import words as analyze_words
from bot.text.paraphrase import common_words

if TYPE_CHECKING:
    from bot.answer.quote import Quoter
    from bot.answer.support import Support
    from bot.answer.understand import Question
    from bot.index.corpus import CorpusIndex

WEIGHED, VETO, GATE = "weighed", "veto", "gate"

# Question kinds with a one-hot feature each (others count as "other").
KINDS = ("definition", "who", "when", "where", "duration", "quantity", "how", "why", "yesno", "list",
         "comparison", "other")  # "money" questions count as "quantity", "colour" ones as "other"

_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Words that state a fact as exactly as a number does: days, months and ordinals ("the third
# university" is not answered by a sentence about the first).
_CALENDAR = frozenset(analyze_terms("monday tuesday wednesday thursday friday saturday sunday january february "
                                    "march april may june july august september october november december "
                                    "first second third fourth fifth sixth seventh eighth ninth tenth last"))
_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|cannot)\b|n['’]t\b", re.I)


def kind_of(kind: str) -> str:
    return "quantity" if kind == "money" else kind if kind in KINDS else "other"


class Measure:
    """One candidate (question, chosen hit, all hits, query weights, whether the rules support
    it) and what several features share, each computed once, when first asked for."""

    def __init__(self, index: "CorpusIndex", support: "Support", quoter: "Quoter", q: "Question", hit: Hit,
                 hits: Sequence[Hit], weights: dict[str, float], rule_ok: bool):
        self.index, self.support, self.quoter = index, support, quoter
        self.q, self.hit, self.hits, self.weights, self.rule_ok = q, hit, hits, weights, rule_ok
        self.pi = hit.index
        self.focus = q.focus_terms

    @cached_property
    def fw(self) -> dict[str, float]:
        """The focus terms' weights (IDF-based, ``Support.focus_weights``)."""
        return self.support.focus_weights(self.focus)

    @cached_property
    def total(self) -> float:
        return sum(self.fw.values()) or 1.0

    @cached_property
    def rarest(self) -> float:
        """The IDF of a term no passage holds: the scale of the IDF-based features."""
        return bm25_idf(self.index.retriever.size, 0)

    @cached_property
    def miss(self) -> list[str]:
        """Focus terms the passage does not hold."""
        return self.support.missing(self.pi, self.focus)

    @cached_property
    def quotes(self) -> list[str]:
        """The sentences an answer from this passage would quote."""
        return self.quoter.span(self.pi, self.weights, self.focus, self.q.kind, soft=[t.term for t in self.q.soft])

    @cached_property
    def span_idx(self) -> list[int]:
        sents = self.index.passages[self.pi].sentences
        return [i for i, s in enumerate(sents) if s.text in self.quotes]

    @cached_property
    def span_terms(self) -> set[str]:
        """The quoted sentences' terms, the heading path's, and their glossary expansions."""
        terms: set[str] = set(self.index.path_terms[self.pi])
        for i in self.span_idx:
            terms |= set(self.index.sentence_terms[self.pi][i])
        return terms | self.support.expand(terms)

    @cached_property
    def span_cov(self) -> float:
        return sum(w for t, w in self.fw.items() if t in self.span_terms) / self.total

    @cached_property
    def gone(self) -> list[str]:
        """Focus terms the quote (with its headings) does not hold."""
        return [t for t in self.focus if t not in self.span_terms]

    @cached_property
    def gone_known(self) -> list[str]:
        vocab = self.index.vocabulary
        return [t for t in self.gone if t in vocab]

    @cached_property
    def evidence(self):
        return EVIDENCE.get(self.q.kind)

    @cached_property
    def defines(self) -> float:
        return 1.0 if self.q.kind == "definition" and self.support.defines(self.focus, self.pi, self.quotes) else 0.0

    @cached_property
    def names(self) -> list:
        """Capitalised focus words past the question's first word: names."""
        return [t for t in self.q.focus if t.position > 0 and t.surface[:1].isupper()]

    @cached_property
    def negated(self) -> tuple[bool, bool]:
        """(the question states a negation, the quote does)."""
        return bool(_NEGATION.search(self.q.text)), any(_NEGATION.search(x) for x in self.quotes)

    @cached_property
    def closeness(self) -> list[float]:
        """How close each missing focus word is to a word of the quoted span ("photos" ~ "images")."""
        gone = set(self.gone)
        surface = [t.surface for t in (*self.q.focus, *self.q.context) if t.term in gone]
        if not surface:
            return []
        words = [w for w in analyze_words(" ".join(self.quotes)) if w.lower() not in STOPWORDS and len(w) > 1]
        return self.support.closeness.closeness(surface, words)

    @cached_property
    def doc(self):
        return self.index.documents[self.index.passages[self.pi].doc_id]


# --- coverage: how much of the question the passage and its quote hold ---

def _rule_support(m: Measure) -> float:
    return 1.0 if m.rule_ok else 0.0


def _coverage(m: Measure) -> float:
    return m.support.coverage(m.pi, m.focus)


def _sentence_support(m: Measure) -> float:
    return m.support.sentence_support(m.pi, m.focus)


def _span_best_sentence(m: Measure) -> float:
    return max((sum(w for t, w in m.fw.items() if t in set(m.index.sentence_terms[m.pi][i])) / m.total
                for i in m.span_idx), default=0.0)


def _heading_share(m: Measure) -> float:
    heading = m.index.heading_terms[m.pi]
    return sum(1 for t in m.focus if t in heading) / len(m.focus)


# --- missing: what of the question is not there, and how much that matters ---

def _missing_idf(m: Measure) -> float:
    return max((m.fw[t] for t in m.miss), default=0.0) / m.rarest


def _unknown_share(m: Measure) -> float:
    return sum(1 for t in m.focus if t not in m.index.vocabulary) / len(m.focus)


def _fuzzy_missing(m: Measure) -> float:
    """How close (edit distance) the missing focus terms are to ones the passage holds."""
    if not m.miss:
        return 1.0
    pool = list(m.support.have(m.pi, m.focus))
    if not pool:
        return 0.0
    return sum((rf_process.extractOne(t, pool, scorer=rf_fuzz.ratio) or (None, 0.0))[1] / 100.0
               for t in m.miss) / len(m.miss)


def _number_missing(m: Measure) -> float:
    span_text = " ".join(m.quotes)
    return 1.0 if [n for n in _DIGITS.findall(m.q.text) if n not in span_text] else 0.0


def _names_missing(m: Measure) -> float:
    if not m.names:
        return 0.0
    return sum(1 for t in m.names if t.term not in m.span_terms) / len(m.names)


# --- the fact asked for: its kind, negation, definitions ---

def _evidence_in_span(m: Measure) -> float:
    return 1.0 if m.evidence is not None and any(m.evidence.search(x) for x in m.quotes) else 0.0


def _type_ok(m: Measure) -> float:
    return 1.0 if m.support.type_ok(m.q, m.pi, m.focus) and m.support.shape_ok(m.q, m.defines) else 0.0


# --- retrieval: how the candidate scored against the others ---

def _score_norm(m: Measure) -> float:
    """The candidate's BM25 score over the best a passage could score for these query weights:
    each term's IDF times BM25's term-frequency ceiling, ``k1 + 1``."""
    idf = m.index.retriever.idf
    unseen = max(m.fw.values()) if m.fw else 1.0
    best = sum(w * (idf(t) or unseen) for t, w in m.weights.items()) * (m.index.retriever.k1 + 1) or 1.0
    return min(1.0, m.hit.score / best)


def _margin(m: Measure) -> float:
    others = [h.score for h in m.hits if h.index != m.pi]
    top_other = max(others) if others else 0.0
    margin = (m.hit.score - top_other) / m.hit.score if m.hit.score > 0 else -1.0
    return max(-1.0, min(1.0, margin))


def _rank(m: Measure) -> float:
    return math.log1p(next((i for i, h in enumerate(m.hits) if h.index == m.pi), len(m.hits)))


# --- the quoted span itself ---

def _novelty(m: Measure) -> float:
    """The share of the quote's terms the question did not use: a quote that only restates the
    question adds nothing."""
    asked = {t.term for t in (*m.q.focus, *m.q.context, *m.q.soft, *m.q.frame)}
    content = [t for i in m.span_idx for t in m.index.sentence_terms[m.pi][i]]
    return sum(1 for t in content if t not in asked) / len(content) if content else 0.0


def _span_code(m: Measure) -> float:
    sents = m.index.passages[m.pi].sentences
    doc_id = m.index.passages[m.pi].doc_id
    return 1.0 if any(m.quoter.is_code(doc_id, s.start) for s in sents if s.text in m.quotes) else 0.0


# --- vetoes: the quote cannot be the answer ---

def _negation_unmet(m: Measure) -> float:
    asked, stated = m.negated
    return 1.0 if asked and not stated else 0.0


def _number_unmet(m: Measure) -> float:
    """A number, a day or a month the question states ("in 1755", "the 300 men", "five types",
    "at 1pm", "on Tuesday") that neither the quote nor its headings hold."""
    return 1.0 if any(t not in m.span_terms for t in analyze_terms(m.q.text)
                      if any(c.isdigit() for c in t) or t in _CALENDAR) else 0.0


def _followup_unmet(m: Measure) -> float:
    """A follow-up read against an earlier turn's subject ("what is a French press?" -> "and how is
    it cleaned?") is answered only by a quote that holds something of what the follow-up itself
    asks, from a passage that still names that subject (text, heading path or glossary): a
    sentence about the subject that says nothing of cleaning, or one about cleaning something
    else, is not its answer."""
    q = m.q
    if not (q.followup and q.context):
        return 0.0
    own = [t.term for t in q.focus]
    if own and not any(t in m.span_terms for t in own):
        return 1.0
    return 0.0 if m.support.names_subject(q, m.pi) else 1.0


# --- gates: nothing relevant ---

def _incidental(m: Measure) -> float:
    """The passage meets the question only in passing: the one word of the question it holds is
    a common English word, said once, outside its headings ("life" in "brings the story to life"
    for "What is the meaning of life?")."""
    q = m.q
    named = (*q.focus, *q.context, *q.soft)  # a follow-up's subject counts too ("what is it used for?")
    have = m.support.have(m.pi, [t.term for t in named])
    met = [t for t in named if t.term in have]
    if len({t.term for t in met}) != 1:
        return 0.0
    common = common_words()
    path = m.index.path_terms[m.pi]
    sentences = m.index.sentence_terms[m.pi]
    return 1.0 if all(t.surface.lower() in common and t.term not in path
                      and sum(1 for st in sentences if t.term in st) <= 1 for t in met) else 0.0


def _text_closeness(m: Measure) -> float | None:
    """How close the question and the quote are (sentence vectors); only for an incidental
    match, so the word vectors load on first use there (about 0.3 s)."""
    if not _incidental(m):
        return None
    return m.support.closeness.text_closeness(m.q.text, " ".join(m.quotes))


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    role: str
    measure: Callable[[Measure], float | None]


def _kind(kind: str) -> Callable[[Measure], float]:
    return lambda m: 1.0 if kind_of(m.q.kind) == kind else 0.0


TABLE: tuple[Feature, ...] = (
    Feature("rule_support", "coverage", WEIGHED, _rule_support),
    Feature("coverage", "coverage", WEIGHED, _coverage),
    Feature("sentence_support", "coverage", WEIGHED, _sentence_support),
    Feature("span_coverage", "coverage", WEIGHED, lambda m: m.span_cov),
    Feature("missing_idf", "missing", WEIGHED, _missing_idf),
    Feature("missing_share", "missing", WEIGHED, lambda m: len(m.miss) / len(m.focus)),
    Feature("unknown_share", "missing", WEIGHED, _unknown_share),
    Feature("fuzzy_missing", "missing", WEIGHED, _fuzzy_missing),
    Feature("n_focus", "question", WEIGHED, lambda m: math.log1p(len(m.focus))),
    Feature("evidence_needed", "fact", WEIGHED, lambda m: 1.0 if m.evidence is not None else 0.0),
    Feature("evidence_in_span", "fact", WEIGHED, _evidence_in_span),
    Feature("score_norm", "retrieval", WEIGHED, _score_norm),
    Feature("margin", "retrieval", WEIGHED, _margin),
    Feature("heading_share", "coverage", WEIGHED, _heading_share),
    Feature("novelty", "span", WEIGHED, _novelty),
    Feature("negation_mismatch", "fact", WEIGHED, lambda m: 1.0 if m.negated[0] != m.negated[1] else 0.0),
    Feature("rank", "retrieval", WEIGHED, _rank),
    Feature("span_words", "span", WEIGHED, lambda m: math.log1p(sum(len(x.split()) for x in m.quotes))),
    Feature("span_missing_known", "missing", WEIGHED, lambda m: sum(m.fw[t] for t in m.gone_known) / m.total),
    Feature("span_missing_known_idf", "missing", WEIGHED,
            lambda m: max((m.fw[t] for t in m.gone_known), default=0.0) / m.rarest),
    Feature("span_best_sentence", "coverage", WEIGHED, _span_best_sentence),
    Feature("number_missing", "missing", WEIGHED, _number_missing),
    Feature("names_missing", "missing", WEIGHED, _names_missing),
    Feature("span_coverage_sq", "coverage", WEIGHED, lambda m: m.span_cov * m.span_cov),
    Feature("rule_and_span", "coverage", WEIGHED, lambda m: _rule_support(m) * m.span_cov),
    Feature("definition_match", "fact", WEIGHED, lambda m: m.defines),
    Feature("type_ok", "fact", WEIGHED, _type_ok),
    Feature("paraphrase_mean", "missing", WEIGHED,
            lambda m: sum(m.closeness) / len(m.closeness) if m.closeness else 1.0),
    Feature("paraphrase_min", "missing", WEIGHED, lambda m: min(m.closeness) if m.closeness else 1.0),
    # documentation units: an option entry or a defined term (its key labels the quote), a code
    # block quoted (a command, a config line), and the document kind itself
    Feature("unit_key", "unit", WEIGHED, lambda m: 1.0 if m.index.units.key_of(m.index.passages[m.pi]) else 0.0),
    Feature("span_code", "unit", WEIGHED, _span_code),
    Feature("structured", "unit", WEIGHED, lambda m: 1.0 if is_documentation(m.doc.metadata, m.doc.source) else 0.0),
    *(Feature(f"kind_{k}", "question", WEIGHED, _kind(k)) for k in KINDS),
    Feature("negation_unmet", "veto", VETO, _negation_unmet),
    Feature("number_unmet", "veto", VETO, _number_unmet),
    Feature("followup_unmet", "veto", VETO, _followup_unmet),
    Feature("incidental", "gate", GATE, _incidental),
    Feature("text_closeness", "gate", GATE, _text_closeness),
)

FEATURES: Sequence[str] = tuple(f.name for f in TABLE if f.role == WEIGHED)
VETOES: Sequence[str] = tuple(f.name for f in TABLE if f.role == VETO)


def measure(m: Measure) -> dict[str, float]:
    """Every feature of the table for one candidate (a gate that does not apply is left out)."""
    out: dict[str, float] = {}
    for f in TABLE:
        value = f.measure(m)
        if value is not None:
            out[f.name] = value
    return out
