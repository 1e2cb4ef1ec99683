"""The answer engine's entry point: retrieve, pick the candidate passage, compute the features
the decision reads, and shape the reply (answer, closest passages, or nothing found).

The measures live in ``support``, the quoting in ``quote``, the abstention wording in ``explain``
and the decision itself in ``decide``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence


from bot.text.analyze import terms as analyze_terms
from bot.answer.decide import Decider, DecisionSettings, LogisticModel
from bot.answer.features import Measure, measure
from bot.index.engines import Hit
from bot.answer.explain import Explainer
from bot.index.corpus import CorpusIndex
from bot.model import Document, Reply
from bot.text.paraphrase import WordCloseness
from bot.answer.quote import Cites, Quoter
from bot.answer.render import fill, md_escape
from bot.answer.support import EVIDENCE, RuleSettings, Support
from bot.answer.understand import FRAME_TERMS, Question
from bot.sources.structure import is_documentation

MAX_LISTED_DOCUMENTS = 8  # questions about the sources list at most this many documents
# Query term weights by role. Set by hand in the first version (633c530) and kept since: every
# figure in README (gold sets, SQuAD, WikiQA, realdocs) is measured with them; an acronym's long
# form counts half its key.
QUERY_WEIGHTS = {"focus": 1.0, "context": 0.8, "frame": 0.4, "glossary_key": 0.6, "glossary_long": 0.3}
# How many passages a "closest" reply quotes: in documentation the unit that answers is often
# the second or third BM25 finds (top-1 54%, top-3 74% on the documentation pool), and each
# quote is a unit's opening, short to scan; prose keeps two.
CLOSEST_PROSE, CLOSEST_DOCUMENTATION = 2, 3


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
        """Query term weights: what is asked about counts most, then the earlier turn's subject and
        the question's softer words, then its frame ("how", "use"), then glossary expansions."""
        w: dict[str, float] = {}
        for t in q.focus:
            w[t.term] = QUERY_WEIGHTS["focus"]
        for t in (*q.context, *q.soft):
            w.setdefault(t.term, QUERY_WEIGHTS["context"])
        for t in q.frame:
            w.setdefault(t.term, QUERY_WEIGHTS["frame"])
        for key, long_terms in self.index.glossary.expansions(list(w)):
            w.setdefault(key, QUERY_WEIGHTS["glossary_key"])
            for lt in long_terms:
                w.setdefault(lt, QUERY_WEIGHTS["glossary_long"])
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
        of ``respond``, shared with the decision's training (``tuning/train_decision.py``)."""
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
        ``require_support`` is false) among all, weighed by how much of the focus they hold.
        Support is checked best first and only until one has it: the check reads a passage's
        sentences, and those of a passage weighed below the chosen one would not change it."""
        values = []
        for h in hits:
            heading = self.index.heading_terms[h.index]
            in_heading = sum(1 for t in focus if t in heading) / len(focus)
            if q.kind == "definition" and heading:
                # "What is X?" is best answered by the section whose heading is about X alone.
                in_heading *= len(heading & set(focus)) / len(heading - FRAME_TERMS["common"] or heading)
            bonus = 1.0 + 0.5 * in_heading + (0.15 if self.index.section_first(h.index) else 0.0)
            value = h.score * bonus
            if not require_support:
                value *= 0.25 + self.support.coverage(h.index, focus)
            values.append(value)
        # best first; of equal values, the earlier hit (as a scan keeping the first largest would)
        for k in sorted(range(len(hits)), key=lambda k: -values[k]):
            if not require_support or self.support.supports(q, hits[k].index, focus):
                return hits[k]
        return None

    def features(self, q: Question, hit: Hit, hits: Sequence[Hit], weights: dict[str, float],
                 rule_ok: bool) -> dict[str, float]:
        """What the answer decision sees of a candidate: every measure of ``features.TABLE``."""
        return measure(Measure(self.index, self.support, self.quoter, q, hit, hits, weights, rule_ok))

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
        doc = self.index.documents[self.index.passages[hit.index].doc_id]
        most = CLOSEST_DOCUMENTATION if is_documentation(doc.metadata, doc.source) else CLOSEST_PROSE
        for h in hits:
            if len(picked) >= most:
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
        """Author, date, title, the list of documents, or what they are about: from the manifest and the
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
            elif what == "title":
                known += 1
                lines.append(fill("meta", "title", title=title, cite=cites.mark(pi, [opening])))
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
