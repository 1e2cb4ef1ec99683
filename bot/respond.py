"""Choose passages and sentences, decide whether to answer or abstain, fill templates.

Every quote is a whole sentence (or list item) copied from a passage: the only text of an
answer that does not come from the corpus is the fixed framing in ``templates.yaml``.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from rapidfuzz import fuzz as rf_fuzz
from rapidfuzz import process as rf_process

from .analyze import STOPWORDS
from .analyze import terms as analyze_terms
from .analyze import words as analyze_words
from .decide import Decider, DecisionSettings, LogisticModel, kind_features
from .index import CorpusIndex, Hit, bm25_idf
from .paraphrase import WordCloseness, shared_closeness
from .render import fill, join_words, md_escape, templates
from .model import Citation, Document, Reply
from .understand import FRAME_TERMS, LIST_CLASSES, Question

# A sentence that leans on the one before it ("It uses ...", "This makes ...").
_DANGLING = re.compile(r"^(It|Its|It's|It’s|This|That|These|Those|They|Their|Them|He|She|His|Her|Such|"
                       r"Both|Also|However|But|And|So|Then|Thus|Therefore|Here|Essentially|Basically)\b")
_AGENT = re.compile(r"\b(?:by|from)\s+[A-Z][\w-]*|\b[A-Z][\w-]*['’]s\s+[A-Z\w]|"
                    r"\b\w+(?:ed|en|wn|lt|de)\b[^.;]{0,40}?\bby\s+(?:the\s+|its\s+|their\s+)?[a-z]\w+")
_DURATION = re.compile(r"\b(?:\d+(?:[.,]\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
                       r"several|few|many)(?:\s+to\s+\d+)?\s+(?:seconds?|minutes?|hours?|days?|weeks?|months?|"
                       r"years?|decades?)\b|\b(?:daily|weekly|monthly|yearly|annually|hourly)\b", re.I)
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
_CONTRAST = re.compile(r"\b(while|whereas|unlike|differs?|differences?|in contrast|on the other hand|rather than|"
                       r"instead of|compared (to|with)|versus)\b", re.I)
# Abstention thresholds. A passage supports an answer when it holds PASSAGE_SUPPORT of the focus
# (IDF-weighted; a word the corpus never uses weighs as much as its rarest) and one sentence with
# its headings holds SENTENCE_SUPPORT. Chosen with eval/tune_wikiqa.py (WikiQA train triggering F1)
# and eval/tune_gold.py (abstention recall / false abstentions on the article's gold set):
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
# weighs EVIDENCE_BOOST times more. WikiQA train (eval/tune_wikiqa.py), MAP / triggering F1:
#   1.0: 0.645 / 0.326   1.5: 0.660 / 0.334   2: 0.664 / 0.336   3: 0.670 / 0.338
#   5: 0.673 / 0.340 (chosen: the plateau starts)   10: 0.676 / 0.341; gold sets unchanged throughout.
EVIDENCE_BOOST = 5.0
PARAPHRASE_CLOSE = 0.6  # word-vector similarity from which a missing word counts as said otherwise
MAX_LISTED_DOCUMENTS = 8  # questions about the sources list at most this many documents
POSITION_PRIOR = 1e-3  # far below any term weight: only breaks ties
# "where" needs a place: a capitalized name after a preposition of place ("in Paris", "near the Alps").
_PLACE = re.compile(r"\b(?:in|at|near|on|from|across|throughout|between|north|south|east|west|located|"
                    r"borders?)\s+(?:the\s+|northern\s+|southern\s+|eastern\s+|western\s+|central\s+)?[A-Z][a-z]")
# "money" needs an amount of money: a currency sign or name next to a number, or "free".
_MONEY = re.compile(r"[$€£¥₹]\s?\d|\b\d[\d,.]*\s?(?:k|m|bn|million|billion)?\s?(?:dollars?|euros?|pounds?|cents?|"
                    r"pence|yen|yuan|rupees?|francs?|USD|EUR|GBP|JPY|CHF)\b|\b(?:USD|EUR|GBP)\s?\d|\bfree of charge\b|"
                    r"\bfor free\b|\bcosts? nothing\b", re.I)
_COLOUR = re.compile(r"\b(?:red|orange|yellow|green|blue|indigo|violet|purple|pink|brown|black|white|gr[ae]y|silver|"
                     r"gold|golden|beige|cream|ivory|teal|turquoise|cyan|magenta|maroon|navy|olive|lime|amber|"
                     r"crimson|scarlet|tan|khaki|bronze|copper|transparent|clear|colou?rless)(?:ish)?\b", re.I)
_EVIDENCE = {"who": _AGENT, "when": _TIME, "duration": _DURATION, "quantity": _NUMBER, "where": _PLACE,
             "money": _MONEY, "colour": _COLOUR}
# A focus term found in over COMMON_DF of all passages (a corpus's main subject, e.g. "AI" in an
# article about AI) may be left implied by a passage that has the question's rarer terms. Chosen on
# the gold sets (answers correct / abstention recall / false abstentions, article | second corpus):
#   0.1-0.3: 99.0% / 97.3% / 1.0% | 100% / 100% / 0%
#   0.4-0.5 and never (1.01): 98.0% / 97.3% / 2.0% | 100% / 100% / 0%
# 0.3 is the strictest value with the fewest false abstentions.
COMMON_DF = 0.3


@dataclass
class _Cites:
    """Citations in order of first use; the same passage keeps one number."""

    index: CorpusIndex
    scores: dict[int, float]
    weights: dict[str, float]

    def __post_init__(self) -> None:
        self.order: list[int] = []
        self.quotes: dict[int, list[str]] = {}

    def mark(self, pi: int, quotes: Iterable[str]) -> str:
        if pi not in self.quotes:
            self.order.append(pi)
            self.quotes[pi] = []
        for q in quotes:
            if q not in self.quotes[pi]:
                self.quotes[pi].append(q)
        return f"[{self.order.index(pi) + 1}]"

    def _score(self, pi: int) -> float:
        if pi not in self.scores:
            self.scores[pi] = self.index.retriever.score(self.weights, pi)
        return self.scores[pi]

    def citations(self) -> list[Citation]:
        out = []
        for n, pi in enumerate(self.order, 1):
            p = self.index.passages[pi]
            doc = self.index.documents[p.doc_id]
            out.append(Citation(
                id=n, source=doc.source, title=p.title or doc.title, passage=p.text,
                quotes=list(self.quotes[pi]), score=self._score(pi), doc_title=doc.title,
                author=str(doc.metadata.get("author", "")), published=str(doc.metadata.get("published", "")),
                doc_id=doc.id, start=p.start, end=p.end,
            ))
        return out


_WHAT_IS = re.compile(r"^\W*(?:what|who)(?:\s+is|\s+are|\s+was|\s+were|['’]s|['’]re|s)\s", re.I)
_TRAILING_PREPOSITIONS = frozenset("on for with in of to by from about at into like as".split())
_COPULA = re.compile(r"\b(?:is|are|was|were|means|refers? to|stands? for|describes?)\b")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|cannot)\b|n['’]t\b", re.I)


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


class Responder:
    def __init__(self, index: CorpusIndex, top_k: int = 5, decision: DecisionSettings | None = None,
                 model: LogisticModel | None = None, closeness: WordCloseness | None = None,
                 rules: RuleSettings | None = None):
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        self.index = index
        self.top_k = top_k
        self.decider = Decider(decision, model)
        self.rules = rules or RuleSettings()
        self.closeness = closeness or shared_closeness()
        common = getattr(index.retriever, "common_terms", None)
        if common is not None:
            self._common = common(self.rules.common_df)
        else:
            n = index.retriever.size
            self._common = {t for t in index.vocabulary
                            if index.retriever.document_frequency(t) > self.rules.common_df * n}

    # ---- support -------------------------------------------------------------------------
    def _have(self, pi: int, terms: Sequence[str]) -> set[str]:
        """Terms of a passage, plus a long form's words where the passage has its acronym and the
        question names the whole long form ("total dissolved solids" is supported by "TDS")."""
        have = set(self.index.passage_terms[pi])
        asked = set(terms)
        by_key = self.index.glossary.by_key
        for key in have & by_key.keys():
            e = by_key[key]
            if set(e.long_terms) <= asked:
                have.update(e.long_terms)
        return have

    def missing(self, pi: int, terms: Sequence[str]) -> list[str]:
        """Focus terms the passage does not support (a common term may be implied by rarer ones)."""
        have = self._have(pi, terms)
        miss = [t for t in terms if t not in have]
        rare_found = any(t in have and t not in self._common for t in terms)
        if rare_found:
            miss = [t for t in miss if t not in self._common]
        return miss

    def weights(self, q: Question) -> dict[str, float]:
        w: dict[str, float] = {}
        for t in q.focus:
            w[t.term] = 1.0
        for t in (*q.context, *q.soft):
            w.setdefault(t.term, 0.8)
        for t in q.frame:
            w.setdefault(t.term, 0.4)
        for key, long_terms in self.index.glossary.expansions(list(w)):
            w.setdefault(key, 0.6)
            for lt in long_terms:
                w.setdefault(lt, 0.3)
        return w

    # ---- entry point ---------------------------------------------------------------------
    def respond(self, q: Question) -> Reply:
        focus = q.focus_terms
        if not focus:
            name = "followup" if q.followup or any(t.surface.lower() in ("it", "they", "this", "that") for t in q.frame) else "no_focus"
            return self._abstain(fill("abstain", name, question=md_escape(q.text[:200])))
        weights = self.weights(q)
        if q.extra.get("expand"):
            expanded = self._long_form(q, weights)
            if expanded is not None:
                return expanded
        hits = self.index.retriever.search(weights, self.top_k * 2)
        scores = {h.index: h.score for h in hits}
        cites = _Cites(self.index, scores, weights)
        assessment = self.assess(q, hits, weights)
        if assessment is None:
            return self._abstain_for(q, hits, focus)
        chosen, features = assessment
        decision = self.decider.decide(features)
        # Comparisons and lists are answered from the section tree when it names every side or
        # item (rules measured on the gold sets); their confidence is at least the answer threshold.
        shaped = None
        if q.kind == "comparison" and len(q.sides) == 2:
            shaped = self._comparison(q, hits, weights, cites)
        elif q.kind == "list":
            shaped = self._list(q, hits, weights, cites)
        if shaped:
            confidence = max(decision.confidence, self.decider.settings.answer_threshold)
            return Reply(shaped, False, cites.citations(), confidence=confidence)
        cites = _Cites(self.index, scores, weights)
        if decision.support == "answer":
            return Reply(self._single(q, chosen, weights, cites), False, cites.citations(),
                         confidence=decision.confidence)
        if decision.support == "closest":
            return self._closest(q, chosen, hits, weights, cites, bool(features["rule_support"]),
                                 decision.confidence)
        return self._abstain_for(q, hits, focus, decision.confidence)

    def assess(self, q: Question, hits: Sequence[Hit], weights: dict[str, float]) -> tuple[Hit, dict[str, float]] | None:
        """The best candidate passage for ``q`` and the decision's features for it (None: no hits)."""
        focus = q.focus_terms
        if not focus or not hits:
            return None
        chosen = self._choose(q, hits, focus)
        rule_ok = chosen is not None
        if chosen is None:
            chosen = self._choose(q, hits, focus, require_support=False)
        if chosen is None:
            return None
        return chosen, self.features(q, chosen, hits, weights, rule_ok)

    def features(self, q: Question, hit: Hit, hits: Sequence[Hit], weights: dict[str, float],
                 rule_ok: bool) -> dict[str, float]:
        """What the answer decision sees of a candidate (see ``decide.FEATURES``)."""
        focus = q.focus_terms
        pi = hit.index
        idf = self.index.retriever.idf
        fw = self._focus_weights(focus)
        total = sum(fw.values()) or 1.0
        unseen = max(fw.values()) if fw else 1.0
        rarest = bm25_idf(self.index.retriever.size, 0)
        miss = self.missing(pi, focus)
        quotes = self._span(pi, weights, focus, q.kind, soft=[t.term for t in q.soft])
        sents = self.index.passages[pi].sentences
        span_idx = [i for i, s in enumerate(sents) if s.text in quotes]
        span_terms: set[str] = set(self.index.path_terms[pi])
        for i in span_idx:
            span_terms |= set(self.index.sentence_terms[pi][i])
        span_terms |= self._expand(span_terms)
        span_cov = sum(w for t, w in fw.items() if t in span_terms) / total
        have = self._have(pi, focus)
        fuzzy = 1.0
        if miss:
            pool = list(have)
            fuzzy = sum((rf_process.extractOne(t, pool, scorer=rf_fuzz.ratio) or (None, 0.0))[1] / 100.0
                        for t in miss) / len(miss) if pool else 0.0
        evidence = _EVIDENCE.get(q.kind)
        in_span = bool(evidence is not None and any(evidence.search(x) for x in quotes))
        best_possible = sum(w * (idf(t) or unseen) for t, w in weights.items()) * 2.2 or 1.0
        others = [h.score for h in hits if h.index != pi]
        top_other = max(others) if others else 0.0
        margin = (hit.score - top_other) / hit.score if hit.score > 0 else -1.0
        heading = self.index.heading_terms[pi]
        asked = {t.term for t in (*q.focus, *q.context, *q.soft, *q.frame)}
        content = [t for i in span_idx for t in self.index.sentence_terms[pi][i]]
        novelty = sum(1 for t in content if t not in asked) / len(content) if content else 0.0
        q_neg = bool(_NEGATION.search(q.text))
        s_neg = any(_NEGATION.search(x) for x in quotes)
        rank = next((i for i, h in enumerate(hits) if h.index == pi), len(hits))
        vocab = self.index.vocabulary
        gone = [t for t in focus if t not in span_terms]
        gone_known = [t for t in gone if t in vocab]
        best_sentence = max((sum(w for t, w in fw.items() if t in set(self.index.sentence_terms[pi][i])) / total
                             for i in span_idx), default=0.0)
        span_text = " ".join(quotes)
        numbers = [n for n in _DIGITS.findall(q.text) if n not in span_text]
        names = [t for t in q.focus if t.position > 0 and t.surface[:1].isupper()]
        names_gone = [t for t in names if t.term not in span_terms]
        defines = 1.0 if q.kind == "definition" and self.defines(focus, pi, quotes) else 0.0
        # how close each missing focus word is to a word of the quoted span ("photos" ~ "images")
        gone_surface = [t.surface for t in (*q.focus, *q.context) if t.term in set(gone)]
        span_words = [w for w in analyze_words(" ".join(quotes)) if w.lower() not in STOPWORDS and len(w) > 1]
        close = self.closeness.closeness(gone_surface, span_words) if gone_surface else []
        out = {
            "rule_support": 1.0 if rule_ok else 0.0,
            "coverage": self.coverage(pi, focus),
            "sentence_support": self.sentence_support(pi, focus),
            "span_coverage": span_cov,
            "missing_idf": max((fw[t] for t in miss), default=0.0) / rarest,
            "missing_share": len(miss) / len(focus),
            "unknown_share": sum(1 for t in focus if t not in self.index.vocabulary) / len(focus),
            "fuzzy_missing": fuzzy,
            "n_focus": math.log1p(len(focus)),
            "evidence_needed": 1.0 if evidence is not None else 0.0,
            "evidence_in_span": 1.0 if in_span else 0.0,
            "score_norm": min(1.0, hit.score / best_possible),
            "margin": max(-1.0, min(1.0, margin)),
            "heading_share": sum(1 for t in focus if t in heading) / len(focus),
            "novelty": novelty,
            "negation_mismatch": 1.0 if q_neg != s_neg else 0.0,
            "rank": math.log1p(rank),
            "span_words": math.log1p(sum(len(x.split()) for x in quotes)),
            "span_missing_known": sum(fw[t] for t in gone_known) / total,
            "span_missing_known_idf": max((fw[t] for t in gone_known), default=0.0) / rarest,
            "span_best_sentence": best_sentence,
            "number_missing": 1.0 if numbers else 0.0,
            "names_missing": len(names_gone) / len(names) if names else 0.0,
            "span_coverage_sq": span_cov * span_cov,
            "rule_and_span": (1.0 if rule_ok else 0.0) * span_cov,
            "definition_match": defines,
            "paraphrase_mean": sum(close) / len(close) if close else 1.0,
            "paraphrase_min": min(close) if close else 1.0,
            "type_ok": 1.0 if self.type_ok(q, pi, focus) and self.shape_ok(q, defines) else 0.0,
        }
        out.update(kind_features(q.kind))
        return out

    def _closest(self, q: Question, hit: Hit, hits: Sequence[Hit], weights: dict[str, float], cites: _Cites,
                 rule_ok: bool, confidence: float) -> Reply:
        """Not a confirmed answer: one sentence saying so, then the closest passages quoted (the
        candidate and the next best passage that holds as much of the focus, if any)."""
        focus = q.focus_terms
        why = self._why_not(q, hits, focus) if not rule_ok or q.extra.get("request") else None
        lines = [fill("closest", "intro", why=why or fill("closest", "unclear"))]
        picked = [hit.index]
        floor = self.coverage(hit.index, focus)
        for h in hits:
            if len(picked) >= 2:
                break
            if h.index not in picked and self.coverage(h.index, focus) >= min(floor, self.decider.settings.closest_coverage):
                picked.append(h.index)
        for pi in picked:
            quotes = self._span(pi, weights, focus, q.kind, max_sentences=2, soft=[t.term for t in q.soft])
            cite = cites.mark(pi, quotes)
            p = self.index.passages[pi]
            heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
            lines.append(fill("closest", "quote", heading=md_escape(heading), quote=md_escape(" ".join(quotes)),
                              cite=cite))
        return Reply("\n".join(lines), True, cites.citations(), kind="closest", support="closest",
                     confidence=confidence)

    def _long_form(self, q: Question, weights: dict[str, float]) -> Reply | None:
        """ "What does X stand for?": the glossary's long form of X, quoted where the sources
        spell it out (the sentence, or the opening of the section whose heading does)."""
        asked = set(analyze_terms(str(q.extra["expand"]), self.index.vocabulary))
        entry = next((self.index.glossary.by_key[t] for t in asked if t in self.index.glossary.by_key), None)
        if entry is None:
            return None
        look = {entry.key: 1.0, **{t: 0.5 for t in entry.long_terms}}
        long_l = entry.long.lower()
        for h in self.index.retriever.search(look, self.top_k * 2):
            p = self.index.passages[h.index]
            cites = _Cites(self.index, {h.index: h.score}, look)
            spelled = [s.text for s in p.sentences if long_l in s.text.lower()]
            if spelled:
                quote = spelled[:1]
            elif any(long_l in x.lower() for x in p.headings) and p.sentences:
                quote = [p.sentences[0].text]
            else:
                continue
            text = fill("answer", "expand", short=md_escape(entry.short), long=md_escape(entry.long),
                        quote=md_escape(" ".join(quote)), cite=cites.mark(h.index, quote))
            return Reply(text, False, cites.citations(), confidence=0.95)
        return None

    # ---- questions about the sources themselves ------------------------------------------
    def about_sources(self, what: str, documents: Sequence[Document], description: str = "") -> Reply:
        """Author, date, the list of documents, or what they are about: from the manifest and the
        documents' metadata, each document cited by its opening sentence."""
        shown = list(itertools.islice(documents, MAX_LISTED_DOCUMENTS))
        cites = _Cites(self.index, {}, {})
        lines: list[str] = []
        known = 0
        for d in shown:
            ids = self.index.document_passages(d.id)
            if not ids or not self.index.passages[ids[0]].sentences:
                continue
            pi = ids[0]
            opening = self.index.passages[pi].sentences[0].text
            title = md_escape(d.title)
            author, date = (str(d.metadata.get(k) or "") for k in ("author", "published"))
            if what == "author" and author:
                known += 1
                lines.append(fill("meta", "author", title=title, author=md_escape(author), cite=cites.mark(pi, [opening])))
            elif what == "published" and date:
                known += 1
                lines.append(fill("meta", "published", title=title, date=md_escape(date), cite=cites.mark(pi, [opening])))
            elif what in ("documents", "about"):
                known += 1
                credit = ", ".join(md_escape(x) for x in (author, date) if x)
                lines.append(fill("meta", "document", title=title, credit=f" ({credit})" if credit else "",
                                  quote=md_escape(opening), cite=cites.mark(pi, [opening])))
        if not known:
            return self._abstain(fill("meta", "no_" + what) if what in ("author", "published") else
                                 fill("meta", "no_documents"))
        if len(documents) > len(shown):
            lines.append(fill("meta", "more", count=f"{len(documents) - len(shown):,}"))
        if what in ("documents", "about"):
            intro = fill("meta", "documents_intro", count=f"{len(documents):,}")
            if what == "about" and description:
                intro = fill("meta", "about_intro", description=md_escape(description)) + " " + intro
            lines.insert(0, intro)
        return Reply("\n".join(lines), False, cites.citations(), confidence=1.0)

    # ---- choosing ------------------------------------------------------------------------
    def supports(self, q: Question, pi: int, focus: Sequence[str] | None = None) -> bool:
        """The abstention decision for one passage: does it support an answer to ``q``?

        Every required focus term must be in the passage (text or heading path, with the
        glossary); who/when/how-long/how-many questions also need an agent, a time, a duration or
        a number near the focus; "which X" needs X named, not just "various X"."""
        focus = list(focus if focus is not None else q.focus_terms)
        if not focus:
            return False
        required = self._required(q, focus)
        if self.missing(pi, required) and self.coverage(pi, required) < self.rules.passage_support:
            return False
        if q.kind == "yesno" and len(self.missing(pi, focus)) * 2 > len(focus):
            return False
        if not self.type_ok(q, pi, focus):
            return False
        if self.rules.sentence_support > 0 and self.sentence_support(pi, focus) < self.rules.sentence_support:
            return False
        return True

    def defines(self, focus: Sequence[str], pi: int, quotes: Sequence[str]) -> bool:
        """The passage is about the focus: its heading path names all of it, or a quote has it as
        its subject (before "is / are / means / refers to ...", or among its first six words)."""
        path = self.index.path_terms[pi]
        if set(focus) <= path | self._expand(set(path)):
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
            if set(focus) <= subject | self._expand(subject):
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
        """The passage holds the kind of fact asked for: a time for "when", an agent for "who",
        a place, a duration, a number; "which X" needs X named, not "various X"."""
        pattern = _EVIDENCE.get(q.kind)
        if pattern is not None and not self._evidence(pi, focus, pattern):
            return False
        if q.extra.get("which") and self._unspecified(pi, q.extra["which"]):
            return False
        return True

    def _focus_weights(self, focus: Sequence[str]) -> dict[str, float]:
        """IDF of each focus term; a term the corpus never uses weighs as much as the rarest."""
        unseen = bm25_idf(self.index.retriever.size, 0)  # a word no passage holds
        return {t: self.index.retriever.idf(t) or unseen for t in focus}

    def coverage(self, pi: int, focus: Sequence[str]) -> float:
        """IDF-weighted share of the focus terms the passage supports."""
        weight = self._focus_weights(focus)
        miss = set(self.missing(pi, focus))
        return sum(w for t, w in weight.items() if t not in miss) / (sum(weight.values()) or 1.0)

    def sentence_support(self, pi: int, focus: Sequence[str]) -> float:
        """The largest IDF-weighted share of the focus that one sentence (with the heading path)
        holds: a passage that mentions every focus word, but never together, supports little."""
        weight = self._focus_weights(focus)
        total = sum(weight.values()) or 1.0
        path = self.index.path_terms[pi]
        best = 0.0
        for terms in self.index.sentence_terms[pi]:
            have = set(terms) | path
            have |= self._expand(have)
            best = max(best, sum(w for t, w in weight.items() if t in have) / total)
        return best

    def _choose(self, q: Question, hits: Sequence[Hit], focus: Sequence[str],
                require_support: bool = True) -> Hit | None:
        """The best passage among ``hits``: among those that support the question, or (when
        ``require_support`` is false) among all, weighed by how much of the focus they hold."""
        best: tuple[float, Hit] | None = None
        for h in hits:
            if require_support and not self.supports(q, h.index, focus):
                continue
            heading = self.index.heading_terms[h.index]
            in_heading = sum(1 for t in focus if t in heading) / len(focus)
            if q.kind == "definition" and heading:
                # "What is X?" is best answered by the section whose heading is about X alone.
                in_heading *= len(heading & set(focus)) / len(heading - FRAME_TERMS["common"] or heading)
            p = self.index.passages[h.index]
            bonus = 1.0 + 0.5 * in_heading + (0.15 if p.section_first else 0.0)
            value = h.score * bonus
            if not require_support:
                value *= 0.25 + self.coverage(h.index, focus)
            if best is None or value > best[0]:
                best = (value, h)
        return best[1] if best else None

    def _required(self, q: Question, focus: Sequence[str]) -> list[str]:
        """Terms a passage must support. A yes/no question's claim may be what is wrong
        ("Can X produce video?"), so there only its named subjects (and half the rest) must be found."""
        if q.kind != "yesno":
            return list(focus)
        named = [t.term for t in (*q.focus, *q.context)
                 if any(c.isupper() for c in t.surface) and t.position > 0]
        return named or list(focus[:1])

    def _unspecified(self, pi: int, which: Sequence[str]) -> bool:
        """True when the passage names the asked-for things only vaguely ("various techniques")."""
        from .analyze import tokens

        head = which[-1] if which else None
        if head is None:
            return False
        named = False
        for s in self.index.passages[pi].sentences:
            for t in tokens(s.text):
                if t.term != head:
                    continue
                i = s.text.find(t.surface)
                before, after = s.text[:i], s.text[i + len(t.surface):]
                if _VAGUE.search(before) and not _SPECIFY.match(after):
                    continue
                named = True
        return not named

    def _evidence(self, pi: int, focus: Sequence[str], pattern: re.Pattern[str]) -> bool:
        p = self.index.passages[pi]
        if p.headings and pattern.search(p.headings[-1]):
            return True
        for s, terms in zip(p.sentences, self.index.sentence_terms[pi]):
            if pattern.search(s.text) and (terms & set(focus) or len(p.sentences) <= 2):
                return True
        return False

    def sentence_scores(self, pi: int, weights: dict[str, float], focus: Sequence[str],
                        kind: str = "") -> list[float]:
        """Query-term weight of each sentence; terms the heading already names count less, and
        for who/when/where/how-long/how-many questions a sentence with the kind of fact asked
        for (an agent, a time, a place, a duration, a number) counts more."""
        evidence = _EVIDENCE.get(kind)
        idf = self.index.retriever.idf
        heading = self.index.path_terms[pi]
        out = []
        for i, (s, terms) in enumerate(zip(self.index.passages[pi].sentences, self.index.sentence_terms[pi])):
            score = sum(w * idf(t) * (0.3 if t in heading else 1.0) for t, w in weights.items() if t in terms)
            if s.text.endswith("?"):
                score *= 0.2  # a question in the text rarely answers one
            head = set(self.index.sentence_terms[pi][i]) & set(focus)
            if head and re.search(r"\b(is|are|was|were|means|refers to)\b", s.text[:80]):
                score *= 1.2  # "X is a ...": reads as a definition
            if evidence is not None and evidence.search(s.text):
                score *= self.rules.evidence_boost
            # Equal scores go to the earlier sentence: a section's opening sentences state its subject.
            out.append(score + POSITION_PRIOR / (1 + i))
        return out

    def _span(self, pi: int, weights: dict[str, float], focus: Sequence[str], kind: str,
              max_sentences: int = 3, max_words: int = 75, soft: Sequence[str] = ()) -> list[str]:
        p = self.index.passages[pi]
        sents = p.sentences
        scores = self.sentence_scores(pi, weights, focus, kind)
        heading = self.index.heading_terms[pi]
        beyond_heading = [t for t in (*focus, *soft) if t not in self.index.path_terms[pi]]
        idf = self.index.retriever.idf
        for i, terms in enumerate(self.index.sentence_terms[pi]):
            # what the heading does not already say is what the question asks of this section
            scores[i] += sum(weights.get(t, 0.5) * idf(t) for t in beyond_heading if t in terms)
        first_terms = self.index.sentence_terms[pi][0]
        opener = p.section_first and kind in ("definition", "how", "why", "list") and (
            (set(focus) & heading and not beyond_heading and (kind != "how" or scores[0] >= 0.8 * max(scores))) or
            (scores[0] >= 0.6 * max(scores) and all(t in first_terms for t in beyond_heading)))
        best = 0 if opener else max(range(len(sents)), key=lambda i: (scores[i], -i))
        lo = hi = best
        while lo > 0 and _DANGLING.match(sents[lo].text) and hi - lo + 1 < max_sentences:
            lo -= 1
        words = sum(len(sents[i].text.split()) for i in range(lo, hi + 1))
        want = 2 if kind in ("definition", "how", "why") else 1
        while hi + 1 < len(sents) and hi - lo + 1 < max_sentences and not sents[hi + 1].bullet:
            nxt = sents[hi + 1]
            n = len(nxt.text.split())
            follows = _DANGLING.match(nxt.text) or scores[hi + 1] > 0
            if words + n > max_words or not (hi - lo + 1 < want or (follows and words < 25)):
                break
            hi += 1
            words += n
        return [sents[i].text for i in range(lo, hi + 1)]

    def _single(self, q: Question, hit: Hit, weights: dict[str, float], cites: _Cites) -> str:
        focus = q.focus_terms
        pi = hit.index
        p = self.index.passages[pi]
        if (q.kind in ("how", "definition") and p.section_first and len(p.sentences) <= 2
                and set(focus) <= self.index.heading_terms[pi] | self._expand(self.index.heading_terms[pi])):
            listed = self._subsections(p.doc_id, p.headings, cites)
            if listed:
                return listed
        if q.kind == "definition":
            pi = self._section_opening(pi, focus)
        quotes = self._span(pi, weights, focus, q.kind, soft=[t.term for t in q.soft])
        listed = self._bullets_after(pi, quotes, focus, q, cites)
        if listed:
            return listed
        cite = cites.mark(pi, quotes)
        p = self.index.passages[pi]
        heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
        name = q.kind if q.kind in templates()["answer"] else "other"
        return fill("answer", name, quote=md_escape(" ".join(quotes)), cite=cite, heading=md_escape(heading))

    def _bullets_after(self, pi: int, quotes: list[str], focus: Sequence[str], q: Question,
                       cites: _Cites) -> str | None:
        """A quote that introduces a list ("... pain points:") or a question about a section
        made of a list is answered with the list items, each cited."""
        p = self.index.passages[pi]
        about_section = set(focus) <= self.index.heading_terms[pi] and q.kind in ("how", "definition", "list")
        if about_section and not any(s.bullet for s in p.sentences):
            for other in self.index.section(p.doc_id, p.headings):
                if any(s.bullet for s in self.index.passages[other].sentences):
                    pi, p = other, self.index.passages[other]
                    break
        bullets = [s for s in p.sentences if s.bullet]
        if len(bullets) < 2:
            return None
        if not (quotes and quotes[-1].endswith(":")) and not about_section:
            return None
        lead = [s.text for s in p.sentences if s.text.endswith(":") and not s.bullet][:1]
        lines = [fill("answer", "other", quote=md_escape(" ".join(lead)), cite=cites.mark(pi, lead))] if lead else []
        for b in bullets:
            lines.append(fill("answer", "bullet_item", quote=md_escape(b.text), cite=cites.mark(pi, [b.text])))
        return "\n".join(lines)

    def _section_opening(self, pi: int, focus: Sequence[str]) -> int:
        """For a definition, the first passage of the section when its heading names the focus."""
        p = self.index.passages[pi]
        if p.section_first or not set(focus) <= self.index.heading_terms[pi]:
            return pi
        return (self.index.section(p.doc_id, p.headings) or [pi])[0]

    # ---- lists ---------------------------------------------------------------------------
    def _list(self, q: Question, hits: Sequence[Hit], weights: dict[str, float], cites: _Cites) -> str | None:
        focus = q.focus_terms
        idf = self.index.retriever.idf
        heading_terms = self.index.heading_terms_of
        frame = {t.term for t in q.frame}
        best: tuple[float, str, tuple[str, ...]] | None = None
        for h in hits:
            p = self.index.passages[h.index]
            for n in range(len(p.headings), 0, -1):
                path = p.headings[:n]
                kids = self.index.children(p.doc_id, path)
                if len(kids) < 2:
                    continue
                head_terms = heading_terms(path[-1:])
                named = head_terms | self._expand(head_terms)
                covered = named.union(*(heading_terms(k[-1:]) for k in kids))
                if [t for t in focus if t not in covered] or not set(focus) & named:
                    continue
                value = h.score + sum(w * idf(t) for t, w in weights.items() if t in head_terms)
                for cls in LIST_CLASSES:  # "kinds of X" finds "Types of X"; "examples" finds "Examples"
                    if cls & frame and cls & head_terms:
                        value += 5.0
                if best is None or value > best[0]:
                    best = (value, p.doc_id, path)
        if best is not None:
            listed = self._subsections(best[1], best[2], cites)
            if listed:
                return listed
        for h in hits:  # a passage with a bulleted list that supports the focus
            p = self.index.passages[h.index]
            bullets = [s.text for s in p.sentences if s.bullet]
            if len(bullets) >= 2 and not self.missing(h.index, focus):
                heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
                lines = [fill("answer", "bullets_intro", heading=md_escape(heading))]
                for b in bullets:
                    lines.append(fill("answer", "bullet_item", quote=md_escape(b), cite=cites.mark(h.index, [b])))
                return "\n".join(lines)
        return None

    def _subsections(self, doc_id: str, path: tuple[str, ...], cites: _Cites) -> str | None:
        """List a section's subsections: each heading with its opening sentence, cited."""
        if not path:
            return None
        lines = [fill("answer", "list_intro", heading=md_escape(path[-1]))]
        for kid in self.index.children(doc_id, path)[:10]:
            ids = self.index.section(doc_id, kid)
            if not ids:
                continue
            pi = ids[0]
            quotes = self._span(pi, {}, [], "list", max_sentences=1)
            lines.append(fill("answer", "list_item", heading=md_escape(kid[-1]),
                              quote=md_escape(" ".join(quotes)), cite=cites.mark(pi, quotes)))
        return "\n".join(lines) if len(lines) > 2 else None

    def _expand(self, terms: set[str]) -> set[str]:
        """Long-form terms of the acronyms among ``terms``."""
        out: set[str] = set()
        by_key = self.index.glossary.by_key
        for key in terms & by_key.keys():
            out.update(by_key[key].long_terms)
        return out

    # ---- comparisons ---------------------------------------------------------------------
    def _comparison(self, q: Question, hits: Sequence[Hit], weights: dict[str, float], cites: _Cites) -> str | None:
        a, b = ([t.term for t in side] for side in q.sides)
        both = a + b
        idf = self.index.retriever.idf
        best: tuple[float, int, int] | None = None
        for h in hits:
            if self.missing(h.index, both):
                continue
            for i, terms in enumerate(self.index.sentence_terms[h.index]):
                if self.index.passages[h.index].sentences[i].text.endswith("?"):
                    continue
                have = set(terms) | self._expand(set(terms))
                if all(t in have for t in a) and all(t in have for t in b):
                    # Both sides are named; prefer a sentence that contrasts them ("while X ..., Y ...").
                    value = 0.2 * h.score + 0.1 * sum(w * idf(t) for t, w in weights.items() if t in terms)
                    if _CONTRAST.search(self.index.passages[h.index].sentences[i].text):
                        value += 2.0
                    if best is None or value > best[0]:
                        best = (value, h.index, i)
        if best is not None:
            _, pi, i = best
            sents = self.index.passages[pi].sentences
            lo = i
            while lo > 0 and _DANGLING.match(sents[lo].text) and i - lo < 2:
                lo -= 1
            quotes = [s.text for s in sents[lo : i + 1]]
            return fill("answer", "comparison_both", quote=md_escape(" ".join(quotes)), cite=cites.mark(pi, quotes))
        lines = [fill("answer", "comparison_intro")]
        for side in (a, b):
            sw = {t: 1.0 for t in side}
            side_hits = self.index.retriever.search(sw, self.top_k)
            chosen = None
            for h in side_hits:
                if not self.missing(h.index, side):
                    chosen = h
                    break
            if chosen is None:
                return None
            pi = self._section_opening(chosen.index, side)
            quotes = self._span(pi, sw, side, "definition", max_sentences=2)
            p = self.index.passages[pi]
            heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
            lines.append(fill("answer", "comparison_side", heading=md_escape(heading),
                              quote=md_escape(" ".join(quotes)), cite=cites.mark(pi, quotes)))
        return "\n".join(lines)

    # ---- abstaining ----------------------------------------------------------------------
    def _surface(self, q: Question, terms: Iterable[str], but_not: Iterable[str] = ()) -> list[str]:
        """The question's words for ``terms``; a word that also gives a term of ``but_not`` (a
        hyphenated word, one part found and the whole not) is left out."""
        wanted, unwanted = set(terms), set(but_not)
        seen: dict[str, None] = {}
        for t in (*q.focus, *q.context):
            if t.term in wanted:
                seen.setdefault(t.surface, None)
        if unwanted:
            for t in (*q.focus, *q.context):
                if t.term in unwanted:
                    seen.pop(t.surface, None)
        return list(seen)

    def _phrase(self, q: Question) -> str:
        """The question's words from its first to its last focus word: "boiling point of water"."""
        from .analyze import words

        toks = [t for t in q.focus if t.position >= 0]
        ws = words(q.text)
        if not toks or not ws:
            return q.text[:80]
        lo, hi = min(t.position for t in toks), max(t.position for t in toks)
        return " ".join(ws[lo : hi + 1])[:120]

    def _why_not(self, q: Question, hits: Sequence[Hit], focus: Sequence[str]) -> str:
        """One sentence on what the sources lack for ``q``."""
        vocab = self.index.vocabulary
        best = hits[0].index if hits else None
        unknown = [t for t in focus if t not in vocab and t not in self._expand(set(focus))]
        if unknown and best is not None and len(unknown) * 2 <= len(focus):
            unknown = [t for t in unknown if not self._paraphrased(q, t, best)]
        known = [t for t in focus if t not in unknown]
        if not known or len(unknown) * 2 > len(focus):
            return fill("abstain", "unknown", missing=join_words([self._phrase(q)]))
        if unknown and self._surface(q, known, but_not=unknown):
            return fill("abstain", "partly_unknown", found=join_words(self._surface(q, known, but_not=unknown)),
                        missing=join_words(self._surface(q, unknown)))
        if unknown:  # the known terms are parts of an unknown word ("alpha-synuclein"): say the word
            return fill("abstain", "unknown", missing=join_words([self._phrase(q)]))
        if q.kind in ("who", "when", "where", "duration", "quantity", "money", "colour") and any(not self.missing(h.index, focus) for h in hits):
            return fill("abstain", q.kind, found=join_words(self._surface(q, focus)))
        if q.extra.get("which") and any(not self.missing(h.index, focus) for h in hits):
            return fill("abstain", "which", found=join_words(self._surface(q, focus)))
        if q.extra.get("request"):
            return fill("abstain", "request", found=join_words(self._surface(q, known)))
        miss = self.missing(best, focus) if best is not None else list(focus)
        if miss and best is not None:  # a word the passage says in other words is not missing ("photos" ~ "images")
            miss = [t for t in miss if not self._paraphrased(q, t, best)]
        if not miss:
            return fill("closest", "unclear")
        found = [t for t in focus if t not in miss] or known
        return fill("abstain", "not_together", found=join_words(self._surface(q, found, but_not=miss) or
                                                                  self._surface(q, found)),
                    missing=join_words(self._surface(q, miss or focus)))

    def _paraphrased(self, q: Question, term: str, pi: int, at_least: float = PARAPHRASE_CLOSE) -> bool:
        surfaces = [t.surface for t in (*q.focus, *q.context) if t.term == term]
        words = [w for w in analyze_words(self.index.passages[pi].text) if w.lower() not in STOPWORDS and len(w) > 1]
        return bool(surfaces) and max(self.closeness.closeness(surfaces[:1], words), default=0.0) >= at_least

    def _abstain_for(self, q: Question, hits: Sequence[Hit], focus: Sequence[str], confidence: float = 0.0) -> Reply:
        return self._abstain(self._why_not(q, hits, focus), confidence)

    def _abstain(self, text: str, confidence: float = 0.0) -> Reply:
        topics = join_words(self.index.top_sections(4))
        return Reply(text + " " + fill("abstain", "topics", topics=topics), True, [], kind="abstain",
                     support="none", confidence=confidence)
