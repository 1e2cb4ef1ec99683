"""Small frozen data objects passed along the pipeline (load -> split -> index -> respond)."""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class Document:
    """One source document as loaded from the corpus."""

    id: str
    title: str
    source: str  # path relative to the corpus folder, shown in citations
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)  # author, published, origin, ...


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or list item) with its character span in the document text."""

    text: str
    start: int
    end: int
    bullet: bool = False


class SentenceList(Sequence):
    """A passage's sentences kept as offsets into the passage text (a dozen bytes a sentence
    instead of two hundred); each ``Sentence`` is made when it is read."""

    __slots__ = ("_text", "_base", "_spans")

    def __init__(self, text: str, base: int, spans: array):
        self._text, self._base, self._spans = text, base, spans

    @classmethod
    def of(cls, text: str, base: int, sentences: Sequence[Sentence]) -> "Sequence[Sentence]":
        """Compact form of ``sentences``; the tuple itself where a sentence is not a slice of ``text``."""
        spans = array("i")  # offsets within a document of at most max_document_mb
        for s in sentences:
            if text[s.start - base : s.end - base] != s.text:
                return tuple(sentences)
            spans.extend((s.start, s.end, 1 if s.bullet else 0))
        return cls(text, base, spans)

    def __len__(self) -> int:
        return len(self._spans) // 3

    def _one(self, i: int) -> Sentence:
        a, b, bullet = self._spans[3 * i : 3 * i + 3]
        return Sentence(self._text[a - self._base : b - self._base], a, b, bool(bullet))

    def __getitem__(self, i):  # type: ignore[override]
        n = len(self)
        if isinstance(i, slice):
            return tuple(self._one(j) for j in range(*i.indices(n)))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("sentence index out of range")
        return self._one(i)

    def __iter__(self):
        return (self._one(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SentenceList({list(self)!r})"


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrievable unit: part of one section, with its heading path and offsets.

    ``text`` is exactly ``document.text[start:end]``, so any quote that is a substring
    of the passage is also a verbatim substring of the source document.
    """

    id: int
    doc_id: str
    headings: tuple[str, ...]  # heading path below the document title
    text: str
    start: int
    end: int
    sentences: Sequence[Sentence]  # kept compact (SentenceList); read as Sentence objects
    section_first: bool = True  # the passage opens its section

    def __post_init__(self) -> None:
        if not isinstance(self.sentences, SentenceList):
            object.__setattr__(self, "sentences", SentenceList.of(self.text, self.start, self.sentences))

    @property
    def title(self) -> str:
        return " > ".join(self.headings)


@dataclass(frozen=True)
class Citation:
    id: int
    source: str
    title: str
    passage: str
    quotes: list[str]
    score: float
    doc_title: str = ""
    author: str = ""
    published: str = ""
    doc_id: str = ""  # for front ends that open the cited document (not in the JSON contract)
    start: int = -1  # the passage's character offsets in the document text
    end: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "passage": self.passage,
            "quotes": list(self.quotes),
            "score": round(float(self.score), 3),
        }


SUPPORT_LEVELS = ("answer", "closest", "none")


@dataclass(frozen=True)
class Reply:
    """What ``ChatBot.ask`` returns.

    ``support`` says how far the sources back the reply: ``answer`` (quoted sentences that answer
    the question), ``closest`` (the sources do not clearly answer; the closest passages are quoted,
    never presented as an answer) or ``none`` (nothing relevant, no citations). ``abstained`` is
    true exactly when no answer is claimed (``closest`` or ``none``). ``confidence`` is the
    calibrated probability that the reply answers the question.
    ``kind`` tells front ends why the bot answered as it did: ``answer``, ``closest``, ``abstain``
    (nothing relevant), ``smalltalk`` or ``invalid`` (bad input).
    """

    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    kind: str = "answer"
    support: str = ""
    confidence: float = -1.0

    def __post_init__(self) -> None:
        support = self.support or ("none" if self.abstained else "answer")
        if support not in SUPPORT_LEVELS:
            raise ValueError(f"support must be one of {SUPPORT_LEVELS}, got {support!r}")
        if (support != "answer") != self.abstained:
            raise ValueError(f"abstained={self.abstained} contradicts support={support!r}")
        if support == "none" and self.citations:
            raise ValueError("a reply with support 'none' has no citations")
        object.__setattr__(self, "support", support)
        conf = self.confidence
        if conf < 0:
            conf = 0.0 if self.abstained else 1.0
        object.__setattr__(self, "confidence", min(1.0, max(0.0, float(conf))))

    def to_dict(self, question: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if question is not None:
            out["question"] = question
        out["answer"] = self.answer
        out["abstained"] = self.abstained
        out["support"] = self.support
        out["confidence"] = round(self.confidence, 3)
        out["citations"] = [c.to_dict() for c in self.citations]
        return out
