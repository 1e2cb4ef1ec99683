"""Which sentences to quote and how: the span of a passage that answers, lists from the section
tree or from bullets, comparisons, each quote cited. Every quote is a whole sentence (or list
item) copied from a passage; the only other text is the framing in ``templates.yaml``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from bot.index.engines import Hit
from bot.index.corpus import CorpusIndex
from bot.model import Citation
from bot.answer.render import fill, md_code, md_escape, templates
from bot.sources import structure
from bot.answer.support import EVIDENCE, RuleSettings, Support
from bot.answer.understand import LIST_CLASSES, Question

# A sentence that leans on the one before it ("It uses ...", "This makes ...").
_DANGLING = re.compile(r"^(It|Its|It's|It’s|This|That|These|Those|They|Their|Them|He|She|His|Her|Such|"
                       r"Both|Also|However|But|And|So|Then|Thus|Therefore|Here|Essentially|Basically)\b")
_CONTRAST = re.compile(r"\b(while|whereas|unlike|differs?|differences?|in contrast|on the other hand|rather than|"
                       r"instead of|compared (to|with)|versus)\b", re.I)
# A question term the passage's heading path already names says less about which of its sentences
# answers (set by hand in the first version, 633c530; the gold sets and WikiQA are measured with it).
HEADING_NAMED = 0.3
POSITION_PRIOR = 1e-3  # far below any term weight: only breaks ties
# A documentation unit is quoted whole up to this many words: an FAQ answer's opening paragraph
# or two, an option's description (the median option entry of the open realdocs man pages is
# under 60 words).
UNIT_WORDS = 90
# A quoted sentence "echoes" the question when it is itself a question (an FAQ's "Q:" line, a
# troubleshooting entry's symptom) or when at least this share of its terms are the question's
# own (a pasted error message found verbatim): it restates what was asked, so the sentences after
# it, the answer, are quoted with it (at most ECHO_REACH sentences further on).
ECHO_SHARE = 0.75
ECHO_REACH = 3
# A sentence that introduces what follows it: a command, an example, a list.
_LEAD_IN = re.compile(r"(?::|\b(?:as follows|like this|like so|for example|for instance|such as|e\.g\.)[.,]?)\s*$", re.I)


@dataclass
class Cites:
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


class Quoter:
    """Sentence choice and answer shapes over one index."""

    def __init__(self, index: CorpusIndex, support: Support, top_k: int = 5, rules: RuleSettings | None = None):
        self.index = index
        self.support = support
        self.top_k = top_k
        self.rules = rules or support.rules

    def sentence_scores(self, pi: int, weights: dict[str, float], focus: Sequence[str],
                        kind: str = "") -> list[float]:
        """Query-term weight of each sentence; terms the heading already names count less, and
        for who/when/where/how-long/how-many questions a sentence with the kind of fact asked
        for (an agent, a time, a place, a duration, a number) counts more."""
        evidence = EVIDENCE.get(kind)
        idf = self.index.retriever.idf
        heading = self.index.path_terms[pi]
        out = []
        for i, (s, terms) in enumerate(zip(self.index.passages[pi].sentences, self.index.sentence_terms[pi])):
            score = sum(w * idf(t) * (HEADING_NAMED if t in heading else 1.0) for t, w in weights.items() if t in terms)
            if s.text.endswith("?"):
                score *= 0.2  # a question in the text rarely answers one
            head = set(self.index.sentence_terms[pi][i]) & set(focus)
            if evidence is None and head and re.search(r"\b(is|are|was|were|means|refers to)\b", s.text[:80]):
                score *= 1.2  # "X is a ...": reads as a definition (a when/how-long/... question wants its fact)
            if evidence is not None and evidence.search(s.text):
                score *= self.rules.evidence_boost
            # Equal scores go to the earlier sentence: a section's opening sentences state its subject.
            out.append(score + POSITION_PRIOR / (1 + i))
        return out

    def unit_span(self, pi: int, scores: Sequence[float], focus: Sequence[str]) -> list[str] | None:
        """A documentation unit the question is about (an FAQ entry, an option entry, a short how-to
        section whose heading names what is asked), quoted whole from its start, up to
        ``UNIT_WORDS`` words of whole sentences, code blocks and list items included; None when
        the passage is not such a unit or its best sentence lies past that window."""
        p = self.index.passages[pi]
        doc = self.index.documents[p.doc_id]
        if not p.section_first or not p.headings or not structure.is_documentation(doc.metadata, doc.source):
            return None  # an article read as its units (Markdown, an article page): its sentences are chosen one by one
        if not (self.index.units.key_of(p) or set(focus) & self.index.heading_terms[pi]):
            return None
        out: list[str] = []
        words = 0
        for s in p.sentences:
            n = len(s.text.split())
            if out and words + n > UNIT_WORDS:
                break
            out.append(s.text)
            words += n
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        if best >= len(out) or (out[-1].endswith(":") and len(out) < len(p.sentences)):
            return None  # the answer lies further on, or the window ends on a lead-in
        return out

    def span(self, pi: int, weights: dict[str, float], focus: Sequence[str], kind: str,
              max_sentences: int = 3, max_words: int = 75, soft: Sequence[str] = ()) -> list[str]:
        p = self.index.passages[pi]
        sents = p.sentences
        scores = self.sentence_scores(pi, weights, focus, kind)
        if kind not in ("list", "comparison"):
            whole = self.unit_span(pi, scores, focus)
            if whole is not None:
                return whole
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
        if sents[best].bullet and best > 0 and lo == best and _LEAD_IN.search(sents[best - 1].text):
            lo = best - 1  # a code block or list item quoted with the sentence that introduces it
        words = sum(len(sents[i].text.split()) for i in range(lo, hi + 1))
        doc = self.index.documents[p.doc_id]
        documentation = structure.is_documentation(doc.metadata, doc.source)
        # two sentences at least for a definition, a how or a why, and in documentation, whose
        # answers rarely fit in one sentence (a setting and what it does, a symptom and its fix)
        want = 2 if kind in ("definition", "how", "why") or documentation else 1
        while hi + 1 < len(sents) and hi - lo + 1 < max_sentences and not sents[hi + 1].bullet:
            nxt = sents[hi + 1]
            n = len(nxt.text.split())
            follows = _DANGLING.match(nxt.text) or scores[hi + 1] > 0
            if words + n > max_words or not (hi - lo + 1 < want or (follows and words < 25)):
                break
            hi += 1
            words += n
        hi = self._past_echo(pi, lo, hi, {*weights, *focus, *soft})
        if hi + 1 < len(sents) and sents[hi + 1].bullet and not self._list_follows(sents, hi + 1) and (
                _LEAD_IN.search(sents[hi].text)
                or (kind in ("how", "other") and self.is_code(p.doc_id, sents[hi + 1].start))):
            # "... use this command:" is quoted with the command (one code block or item); a how-to
            # answer with the example that follows it ("You can do this using mod_rewrite." + the rule)
            hi += 1
        return [sents[i].text for i in range(lo, hi + 1)]

    def _echoes(self, pi: int, i: int, asked: set[str]) -> bool:
        """Sentence ``i`` restates the question (see ``ECHO_SHARE``)."""
        if self.index.passages[pi].sentences[i].text.rstrip().endswith("?"):
            return True
        terms = self.index.sentence_terms[pi][i]
        return len(terms) >= 3 and sum(1 for t in terms if t in asked) >= ECHO_SHARE * len(terms)

    def _past_echo(self, pi: int, lo: int, hi: int, asked: set[str]) -> int:
        """The end of a span whose sentences all echo the question, moved on to the first sentence
        after them that does not (the explanation after an error message, the answer after an
        FAQ's question, the fix after a symptom); ``hi`` unchanged otherwise."""
        sents = self.index.passages[pi].sentences
        if not all(self._echoes(pi, i, asked) for i in range(lo, hi + 1)):
            return hi
        for j in range(hi + 1, min(len(sents), hi + 1 + ECHO_REACH)):
            if not self._echoes(pi, j, asked):
                return j
        return hi

    def is_code(self, doc_id: str, offset: int) -> bool:
        block = self.index.units.block_at(doc_id, offset)
        return block is not None and block.kind == structure.CODE

    @staticmethod
    def _list_follows(sents: Sequence, i: int) -> bool:
        """Two or more list items from ``i`` on: a list, answered item by item (``_bullets_after``)."""
        return i + 1 < len(sents) and sents[i].bullet and sents[i + 1].bullet and "\n" not in sents[i].text

    def quote_markdown(self, pi: int, quotes: Sequence[str]) -> str:
        """Quotes as Markdown: prose escaped, a code block as code (never re-flowed as prose),
        inline code inside prose (``Run npm ci``) as code spans."""
        p = self.index.passages[pi]
        out = []
        at = 0
        for q in quotes:
            k = p.text.find(q, at)
            block = self.index.units.block_at(p.doc_id, p.start + k) if k >= 0 else None
            if block is not None and block.kind == structure.CODE:
                out.append(md_code(q))
            else:
                start = p.start + k
                spans = self.index.units.code_in(p.doc_id, start, start + len(q)) if k >= 0 else []
                pieces, pos = [], 0
                for a, b in spans:
                    pieces += [md_escape(q[pos:a - start]), md_code(q[a - start:b - start])]
                    pos = b - start
                out.append("".join(pieces) + md_escape(q[pos:]))
            at = k + len(q) if k >= 0 else at
        return " ".join(out)

    def single(self, q: Question, hit: Hit, weights: dict[str, float], cites: Cites) -> str:
        focus = q.focus_terms
        pi = hit.index
        p = self.index.passages[pi]
        if (q.kind in ("how", "definition") and p.section_first and len(p.sentences) <= 2
                and set(focus) <= self.index.heading_terms[pi] | self.support.expand(self.index.heading_terms[pi])):
            listed = self._subsections(p.doc_id, p.headings, cites)
            if listed:
                return listed
        if q.kind == "definition":
            pi = self.section_opening(pi, focus)
        quotes = self.span(pi, weights, focus, q.kind, soft=[t.term for t in q.soft])
        listed = self._bullets_after(pi, quotes, focus, q, cites)
        if listed:
            return listed
        cite = cites.mark(pi, quotes)
        p = self.index.passages[pi]
        heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
        key = self.index.units.key_of(p)
        if key and key not in " ".join(quotes):  # an option entry or a defined term: its key says what it is
            return fill("answer", "keyed", key=md_code(key), quote=self.quote_markdown(pi, quotes), cite=cite)
        name = q.kind if q.kind in templates()["answer"] else "other"
        return fill("answer", name, quote=self.quote_markdown(pi, quotes), cite=cite, heading=md_escape(heading))

    def _bullets_after(self, pi: int, quotes: list[str], focus: Sequence[str], q: Question,
                       cites: Cites) -> str | None:
        """A quote that introduces a list ("... pain points:") or a question about a section
        made of a list is answered with the list items, each cited."""
        p = self.index.passages[pi]
        # the focus is named by the section's heading, or by it with the headings above it and the
        # document's title ("common brewing mistakes": "Common mistakes" in "... brewing coffee")
        title = self.index.heading_terms_of((self.index.documents[p.doc_id].title,))
        about_section = (q.kind in ("how", "definition", "list") and bool(set(focus) & self.index.heading_terms[pi])
                         and set(focus) <= self.index.path_terms[pi] | title)
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
        if not lead and about_section:  # the section's own opening sentences come before its list
            first_bullet = next(i for i, s in enumerate(p.sentences) if s.bullet)
            lead = [s.text for s in p.sentences[:first_bullet] if s.text in quotes][:2]
        lines = [fill("answer", "other", quote=self.quote_markdown(pi, lead), cite=cites.mark(pi, lead))] if lead else []
        for b in bullets:  # a code block among the items shows as code
            lines.append(fill("answer", "bullet_item", quote=self.quote_markdown(pi, [b.text]),
                              cite=cites.mark(pi, [b.text])))
        return "\n".join(lines)

    def section_opening(self, pi: int, focus: Sequence[str]) -> int:
        """For a definition, the first passage of the section when its heading names the focus."""
        p = self.index.passages[pi]
        if p.section_first or not set(focus) <= self.index.heading_terms[pi]:
            return pi
        return (self.index.section(p.doc_id, p.headings) or [pi])[0]

    def list_answer(self, q: Question, hits: Sequence[Hit], weights: dict[str, float], cites: Cites) -> str | None:
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
                named = head_terms | self.support.expand(head_terms)
                # a focus word the heading does not name must be named by two subsections or
                # more ("Diffusion model", "Transformer model" for "kinds of ... models"), not
                # by one in passing ("Personalized promotional content" for "kinds of content")
                kid_terms = [heading_terms(k[-1:]) for k in kids]
                if [t for t in focus if t not in named and sum(t in k for k in kid_terms) < 2] \
                        or not set(focus) & named:
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
            if len(bullets) >= 2 and not self.support.missing(h.index, focus):
                heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
                lines = [fill("answer", "bullets_intro", heading=md_escape(heading))]
                for b in bullets:
                    lines.append(fill("answer", "bullet_item", quote=md_escape(b), cite=cites.mark(h.index, [b])))
                return "\n".join(lines)
        return None

    def _subsections(self, doc_id: str, path: tuple[str, ...], cites: Cites) -> str | None:
        """List a section's subsections: each heading with its opening sentence, cited."""
        if not path:
            return None
        lines = [fill("answer", "list_intro", heading=md_escape(path[-1]))]
        for kid in self.index.children(doc_id, path, limit=10):
            ids = self.index.section(doc_id, kid)
            if not ids:
                continue
            pi = ids[0]
            quotes = self.span(pi, {}, [], "list", max_sentences=1)
            lines.append(fill("answer", "list_item", heading=md_escape(kid[-1]),
                              quote=md_escape(" ".join(quotes)), cite=cites.mark(pi, quotes)))
        return "\n".join(lines) if len(lines) > 2 else None

    def comparison(self, q: Question, hits: Sequence[Hit], weights: dict[str, float], cites: Cites) -> str | None:
        a, b = ([t.term for t in side] for side in q.sides)
        both = a + b
        idf = self.index.retriever.idf
        best: tuple[float, int, int] | None = None
        for h in hits:
            if self.support.missing(h.index, both):
                continue
            for i, terms in enumerate(self.index.sentence_terms[h.index]):
                if self.index.passages[h.index].sentences[i].text.endswith("?"):
                    continue
                have = set(terms) | self.support.expand(set(terms))
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
                if not self.support.missing(h.index, side):
                    chosen = h
                    break
            if chosen is None:
                return None
            pi = self.section_opening(chosen.index, side)
            quotes = self.span(pi, sw, side, "definition", max_sentences=2)
            p = self.index.passages[pi]
            heading = p.headings[-1] if p.headings else self.index.documents[p.doc_id].title
            lines.append(fill("answer", "comparison_side", heading=md_escape(heading),
                              quote=md_escape(" ".join(quotes)), cite=cites.mark(pi, quotes)))
        return "\n".join(lines)
