"""The answer engine's entry point: retrieve, pick the candidate passage, compute the features
the decision reads, and shape the reply (answer, closest passages, or nothing found).

The measures live in ``support``, the quoting in ``quote``, the abstention wording in ``explain``
and the decision itself in ``decide``.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Sequence

from rapidfuzz import fuzz as rf_fuzz
from rapidfuzz import process as rf_process

from bot.text.analyze import STOPWORDS
from bot.text.analyze import terms as analyze_terms
from bot.text.analyze import words as analyze_words
from bot.answer.decide import Decider, DecisionSettings, LogisticModel, kind_features
from bot.index.engines import Hit, bm25_idf
from bot.answer.explain import Explainer
from bot.index.corpus import CorpusIndex
from bot.model import Document, Reply
from bot.text.paraphrase import WordCloseness, common_words
from bot.answer.quote import Cites, Quoter
from bot.answer.render import fill, md_escape
from bot.answer.support import EVIDENCE, RuleSettings, Support
from bot.answer.understand import FRAME_TERMS, Question
from bot.sources.structure import STRUCTURED

MAX_LISTED_DOCUMENTS = 8  # questions about the sources list at most this many documents
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Words that state a fact as exactly as a number does: days, months and ordinals ("the third
# university" is not answered by a sentence about the first).
_CALENDAR = frozenset(analyze_terms("monday tuesday wednesday thursday friday saturday sunday january february "
                                    "march april may june july august september october november december "
                                    "first second third fourth fifth sixth seventh eighth ninth tenth last"))
_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|cannot)\b|n['’]t\b", re.I)


@dataclass(frozen=True)
class Candidate:
    """What retrieval found for a question: the query weights, the hits, and the passage chosen
    to answer from with the decision's features for it (None and {} when nothing was found)."""

    weights: dict[str, float]
    hits: list[Hit]
    chosen: Hit | None
    features: dict[str, float]


class Responder:
    """Answers one understood question from one index (``ChatBot`` makes one per corpus)."""

    def __init__(self, index: CorpusIndex, top_k: int = 5, decision: DecisionSettings | None = None,
                 model: LogisticModel | None = None, closeness: WordCloseness | None = None,
                 rules: RuleSettings | None = None):
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        self.index = index
        self.top_k = top_k
        self.decider = Decider(decision, model)
        self.rules = rules or RuleSettings()
        self.support = Support(index, self.rules, closeness)
        self.quoter = Quoter(index, self.support, top_k, self.rules)
        self.explainer = Explainer(index, self.support)

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

    def respond(self, q: Question) -> Reply:
        focus = q.focus_terms
        if not focus:
            name = "followup" if q.followup or any(t.surface.lower() in ("it", "they", "this", "that") for t in q.frame) else "no_focus"
            return self.explainer.abstain(fill("abstain", name, question=md_escape(q.text[:200])))
        if q.extra.get("expand"):
            expanded = self._long_form(q, self.weights(q))
            if expanded is not None:
                return expanded
        c = self.candidate(q)
        weights, hits = c.weights, c.hits
        scores = {h.index: h.score for h in hits}
        cites = Cites(self.index, scores, weights)
        if c.chosen is None:
            return self.explainer.abstain_for(q, hits, focus)
        chosen, features = c.chosen, c.features
        decision = self.decider.decide(features)
        # Comparisons and lists are answered from the section tree when it names every side or
        # item (rules measured on the gold sets); their confidence is at least the answer threshold.
        shaped = None
        if features.get("structured") and decision.support != "answer":
            pass  # documentation: a list or comparison shaped from weak matches would read as an answer
        elif q.kind == "comparison" and len(q.sides) == 2:
            shaped = self.quoter.comparison(q, hits, weights, cites)
        elif q.kind == "list":
            shaped = self.quoter.list_answer(q, hits, weights, cites)
        if shaped:
            confidence = max(decision.confidence, self.decider.threshold_for(features))
            return Reply(shaped, False, cites.citations(), confidence=confidence)
        cites = Cites(self.index, scores, weights)
        if decision.support == "answer":
            return Reply(self.quoter.single(q, chosen, weights, cites), False, cites.citations(),
                         confidence=decision.confidence)
        if decision.support == "closest":
            unmet = bool(features.get("followup_unmet"))  # say what the subject's passage lacks
            return self._closest(q, chosen, hits, weights, cites, bool(features["rule_support"]) and not unmet,
                                 decision.confidence, explain_chosen=unmet)
        if decision.in_passing and q.kind not in EVIDENCE:  # "life" in "brings the story to life"
            # (a who/when/colour/... question keeps its own wording: "do not say what colour")
            return self.explainer.in_passing(q, chosen.index, decision.confidence)
        return self.explainer.abstain_for(q, hits, focus, decision.confidence)

    def candidate(self, q: Question) -> "Candidate":
        """Retrieval and the best candidate passage with the decision's features: the first half
        of ``respond``, shared with the decision's training (``eval/train_decision.py``)."""
        weights = self.weights(q)
        hits = self.index.retriever.search(weights, self.top_k * 2)
        assessed = self.assess(q, hits, weights)
        if assessed is None:
            return Candidate(weights, list(hits), None, {})
        return Candidate(weights, list(hits), assessed[0], assessed[1])

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

    def _choose(self, q: Question, hits: Sequence[Hit], focus: Sequence[str],
                require_support: bool = True) -> Hit | None:
        """The best passage among ``hits``: among those that support the question, or (when
        ``require_support`` is false) among all, weighed by how much of the focus they hold."""
        best: tuple[float, Hit] | None = None
        for h in hits:
            if require_support and not self.support.supports(q, h.index, focus):
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
                value *= 0.25 + self.support.coverage(h.index, focus)
            if best is None or value > best[0]:
                best = (value, h)
        return best[1] if best else None

    def features(self, q: Question, hit: Hit, hits: Sequence[Hit], weights: dict[str, float],
                 rule_ok: bool) -> dict[str, float]:
        """What the answer decision sees of a candidate (see ``decide.FEATURES``)."""
        focus = q.focus_terms
        pi = hit.index
        idf = self.index.retriever.idf
        fw = self.support.focus_weights(focus)
        total = sum(fw.values()) or 1.0
        unseen = max(fw.values()) if fw else 1.0
        rarest = bm25_idf(self.index.retriever.size, 0)
        miss = self.support.missing(pi, focus)
        quotes = self.quoter.span(pi, weights, focus, q.kind, soft=[t.term for t in q.soft])
        sents = self.index.passages[pi].sentences
        span_idx = [i for i, s in enumerate(sents) if s.text in quotes]
        span_terms: set[str] = set(self.index.path_terms[pi])
        for i in span_idx:
            span_terms |= set(self.index.sentence_terms[pi][i])
        span_terms |= self.support.expand(span_terms)
        span_cov = sum(w for t, w in fw.items() if t in span_terms) / total
        have = self.support.have(pi, focus)
        fuzzy = 1.0
        if miss:
            pool = list(have)
            fuzzy = sum((rf_process.extractOne(t, pool, scorer=rf_fuzz.ratio) or (None, 0.0))[1] / 100.0
                        for t in miss) / len(miss) if pool else 0.0
        evidence = EVIDENCE.get(q.kind)
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
        defines = 1.0 if q.kind == "definition" and self.support.defines(focus, pi, quotes) else 0.0
        # how close each missing focus word is to a word of the quoted span ("photos" ~ "images")
        gone_surface = [t.surface for t in (*q.focus, *q.context) if t.term in set(gone)]
        span_words = [w for w in analyze_words(" ".join(quotes)) if w.lower() not in STOPWORDS and len(w) > 1]
        close = self.support.closeness.closeness(gone_surface, span_words) if gone_surface else []
        out = {
            "rule_support": 1.0 if rule_ok else 0.0,
            "coverage": self.support.coverage(pi, focus),
            "sentence_support": self.support.sentence_support(pi, focus),
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
            "negation_unmet": 1.0 if q_neg and not s_neg else 0.0,
            # a number, a day or a month the question states ("in 1755", "the 300 men", "five
            # types", "at 1pm", "on Tuesday") that neither the quote nor its headings hold
            "number_unmet": 1.0 if any(t not in span_terms for t in analyze_terms(q.text)
                                       if any(c.isdigit() for c in t) or t in _CALENDAR) else 0.0,
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
            "type_ok": 1.0 if self.support.type_ok(q, pi, focus) and self.support.shape_ok(q, defines) else 0.0,
        }
        doc = self.index.documents[self.index.passages[pi].doc_id]
        # documentation units: an option entry or a defined term (its key labels the quote), a
        # code block quoted (a command, a config line), and the document kind itself
        out["unit_key"] = 1.0 if self.index.key_of(pi) else 0.0
        p = self.index.passages[pi]
        out["span_code"] = 1.0 if any(self.quoter.is_code(p.doc_id, s.start) for s in sents
                                      if s.text in quotes) else 0.0
        out["structured"] = 1.0 if (doc.metadata or {}).get("format") == STRUCTURED else 0.0
        out.update(kind_features(q.kind))
        out["followup_unmet"] = 1.0 if self._followup_unmet(q, pi, span_terms) else 0.0
        out["incidental"] = 1.0 if self._incidental(q, pi) else 0.0
        if out["incidental"]:  # only then: the word vectors load on first use (about 0.3 s)
            out["text_closeness"] = self.support.closeness.text_closeness(q.text, " ".join(quotes))
        return out

    def _followup_unmet(self, q: Question, pi: int, span_terms: set[str]) -> bool:
        """A follow-up read against an earlier turn's subject ("what is a French press?" -> "and how is it
        cleaned?") is answered only by a quote that holds something of what the follow-up itself
        asks, from a passage that still names that subject (text, heading path or glossary): a
        sentence about the subject that says nothing of cleaning, or one about cleaning something
        else, is not its answer."""
        if not (q.followup and q.context):
            return False
        own = [t.term for t in q.focus]
        if own and not any(t in span_terms for t in own):
            return True
        return not self.support.names_subject(q, pi)

    def _incidental(self, q: Question, pi: int) -> bool:
        """The passage meets the question only in passing: the one word of the question it holds
        is a common English word, said once, outside its headings ("life" in "brings the
        story to life" for "What is the meaning of life?")."""
        named = (*q.focus, *q.context, *q.soft)  # a follow-up's subject counts too ("what is it used for?")
        have = self.support.have(pi, [t.term for t in named])
        met = [t for t in named if t.term in have]
        if len({t.term for t in met}) != 1:
            return False
        common = common_words()
        path = self.index.path_terms[pi]
        sentences = self.index.sentence_terms[pi]
        return all(t.surface.lower() in common and t.term not in path
                   and sum(1 for st in sentences if t.term in st) <= 1 for t in met)

    def _closest(self, q: Question, hit: Hit, hits: Sequence[Hit], weights: dict[str, float], cites: Cites,
                 rule_ok: bool, confidence: float, explain_chosen: bool = False) -> Reply:
        """Not a confirmed answer: one sentence saying so, then the closest passages quoted (the
        candidate and the next best passage that holds as much of the focus, if any)."""
        focus = q.focus_terms
        if explain_chosen:
            why: str | None = self.explainer.subject_lacks(q)
        else:
            why = self.explainer.why_not(q, hits, focus) if not rule_ok or q.extra.get("request") else None
        lines = [fill("closest", "intro", why=why or fill("closest", "unclear"))]
        picked = [hit.index]
        floor = self.support.coverage(hit.index, focus)
        for h in hits:
            if len(picked) >= 2:
                break
            if h.index not in picked and self.support.coverage(h.index, focus) >= min(floor, self.decider.thresholds.closest_coverage):
                picked.append(h.index)
        for pi in picked:
            quotes = self.quoter.span(pi, weights, focus, q.kind, max_sentences=2, soft=[t.term for t in q.soft])
            cite = cites.mark(pi, quotes)
            p = self.index.passages[pi]
            heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
            lines.append(fill("closest", "quote", heading=md_escape(heading), quote=self.quoter.quote_markdown(pi, quotes),
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
        def folded(text: str) -> str:  # a long form wrapped over two lines is still spelled out
            return " ".join(text.split()).lower()

        long_l = folded(entry.long)
        for h in self.index.retriever.search(look, self.top_k * 2):
            p = self.index.passages[h.index]
            cites = Cites(self.index, {h.index: h.score}, look)
            spelled = [s.text for s in p.sentences if long_l in folded(s.text)]
            if spelled:
                quote = spelled[:1]
            elif any(long_l in folded(x) for x in p.headings) and p.sentences:
                quote = [p.sentences[0].text]
            else:
                continue
            text = fill("answer", "expand", short=md_escape(entry.short), long=md_escape(entry.long),
                        quote=md_escape(" ".join(quote)), cite=cites.mark(h.index, quote))
            return Reply(text, False, cites.citations(), confidence=0.95)
        return None

    def about_sources(self, what: str, documents: Sequence[Document], description: str = "") -> Reply:
        """Author, date, the list of documents, or what they are about: from the manifest and the
        documents' metadata, each document cited by its opening sentence."""
        shown = list(itertools.islice(documents, MAX_LISTED_DOCUMENTS))
        cites = Cites(self.index, {}, {})
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
            return self.explainer.abstain(fill("meta", "no_" + what) if what in ("author", "published") else
                                 fill("meta", "no_documents"))
        if len(documents) > len(shown):
            lines.append(fill("meta", "more", count=f"{len(documents) - len(shown):,}"))
        if what in ("documents", "about"):
            intro = fill("meta", "documents_intro", count=f"{len(documents):,}")
            if what == "about" and description:
                intro = fill("meta", "about_intro", description=md_escape(description)) + " " + intro
            lines.insert(0, intro)
        return Reply("\n".join(lines), False, cites.citations(), confidence=1.0)
