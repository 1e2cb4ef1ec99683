"""What the sources lack, in one sentence: the words they never use, the words they hold but not
together, the kind of fact missing; and the topics they do cover. Used for "none" and, when a
rule failed, for "closest" replies.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from bot.text.analyze import STOPWORDS, Token
from bot.text.analyze import words as analyze_words
from bot.index.engines import Hit
from bot.index.corpus import CorpusIndex
from bot.model import Reply
from bot.answer.render import fill, join_words
from bot.answer.support import Support
from bot.answer.understand import Question


_PHRASE_GLUE = frozenset("of the a an in on for to and with from by at about".split())


class Explainer:
    """Abstention wording over one index."""

    def __init__(self, index: CorpusIndex, support: Support):
        self.index = index
        self.support = support

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

    def _phrase(self, q: Question, tokens: Sequence[Token] | None = None) -> str:
        """The question's words from its first to its last focus word (or of ``tokens``):
        "boiling point of water"."""
        toks = [t for t in (q.focus if tokens is None else tokens) if t.position >= 0]
        ws = analyze_words(q.text)
        if not toks or not ws:
            return q.text[:80]
        lo, hi = min(t.position for t in toks), max(t.position for t in toks)
        return " ".join(ws[lo : hi + 1])[:120]

    def subject_lacks(self, q: Question) -> str:
        """A follow-up whose subject's passage says nothing of what it asks: "The sources mention
        *French press*, but say nothing about *cleaned* in that connection"."""
        found = self._surface(q, [t.term for t in q.context])
        missing = self._surface(q, [t.term for t in q.focus], but_not=[t.term for t in q.context])
        if not found or not missing:
            return fill("closest", "unclear")
        return fill("abstain", "not_together", found=join_words(found), missing=join_words(missing))

    def why_not(self, q: Question, hits: Sequence[Hit], focus: Sequence[str]) -> str:
        """One sentence on what the sources lack for ``q``."""
        vocab = self.index.vocabulary
        best = hits[0].index if hits else None
        unknown = [t for t in focus if t not in vocab and t not in self.support.expand(set(focus))]
        if unknown and best is not None and len(unknown) * 2 <= len(focus):
            unknown = [t for t in unknown if not self.support.paraphrased(q, t, best)]
        known = [t for t in focus if t not in unknown]
        if not known or len(unknown) * 2 > len(focus):
            return fill("abstain", "unknown", missing=join_words([self._phrase(q)]))
        if unknown and self._surface(q, known, but_not=unknown):
            return fill("abstain", "partly_unknown", found=join_words(self._surface(q, known, but_not=unknown)),
                        missing=join_words(self._surface(q, unknown)))
        if unknown:  # the known terms are parts of an unknown word ("alpha-synuclein"): say the word
            return fill("abstain", "unknown", missing=join_words([self._phrase(q)]))
        if q.kind in ("who", "when", "where", "duration", "quantity", "money", "colour") and any(not self.support.missing(h.index, focus) for h in hits):
            return fill("abstain", q.kind, found=join_words(self._surface(q, focus)))
        if q.extra.get("which") and any(not self.support.missing(h.index, focus) for h in hits):
            return fill("abstain", "which", found=join_words(self._surface(q, focus)))
        if q.extra.get("request"):
            return fill("abstain", "request", found=join_words(self._surface(q, known)))
        miss = self.support.missing(best, focus) if best is not None else list(focus)
        if miss and best is not None:  # a word the passage says in other words is not missing ("photos" ~ "images")
            miss = [t for t in miss if not self.support.paraphrased(q, t, best)]
        if not miss:
            return fill("closest", "unclear")
        found = [t for t in focus if t not in miss] or known
        return fill("abstain", "not_together", found=join_words(self._surface(q, found, but_not=miss) or
                                                                  self._surface(q, found)),
                    missing=join_words(self._surface(q, miss or focus)))

    def in_passing(self, q: Question, pi: int, confidence: float = 0.0) -> Reply:
        """"none" for a passage that holds one common word of the question, said in passing."""
        named = (*q.focus, *q.context)
        have = self.support.have(pi, [t.term for t in named])
        found = self._surface(q, [t.term for t in named if t.term in have])
        phrase = self._phrase(q, (*named, *q.frame))  # named and framing words: "meaning of life"
        # a phrase with a verb or the like inside ("temperature should the water") reads badly
        if [phrase.lower()] == [f.lower() for f in found] or any(
                w.lower() in STOPWORDS and w.lower() not in _PHRASE_GLUE for w in phrase.split()):
            return self.abstain(fill("abstain", "in_passing_only", found=join_words(found)), confidence)
        return self.abstain(fill("abstain", "in_passing", found=join_words(found),
                                 missing=join_words([phrase])), confidence)

    def abstain_for(self, q: Question, hits: Sequence[Hit], focus: Sequence[str], confidence: float = 0.0) -> Reply:
        return self.abstain(self.why_not(q, hits, focus), confidence)

    def abstain(self, text: str, confidence: float = 0.0) -> Reply:
        topics = join_words(self.index.top_sections(4))
        return Reply(text + " " + fill("abstain", "topics", topics=topics), True, [], kind="abstain",
                     support="none", confidence=confidence)
