"""Example questions to suggest for a corpus: the manifest's own, else questions drawn from its units.

A unit says what a reader can ask of it: an FAQ entry is headed by its question, an option entry
by its option ("--exclude=PATTERN": "What does --exclude do?"), a how-to section by what it does
("How to rotate a key": "How do I rotate a key?"), a defined term by the term. Those come first;
a topic heading ("Tyre pressure": "What do the sources say about tyre pressure?") only fills up.

Never a generic section name: "What do the sources say about NAME?" helps nobody. A heading is
generic when the corpus says so (it heads sections in many of its documents: "Description",
"See also" across a documentation site), when it is set in capitals as man pages set their
section names (NAME, SYNOPSIS, EXIT STATUS), or when it is one of the few names every kind of
document uses for its furniture (Table of Contents, Introduction).
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any, Iterable, Sequence

SCAN_PASSAGES = 5_000  # passages looked at (in document order) for a large corpus
MAX_EXAMPLES = 5
_HOW_TO = re.compile(r"^how to\s+(.+)$", re.I)
_SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.|[A-Z]\.|chapter \d+\.?)\s+", re.I)
_PAGE = re.compile(r"page \d+", re.I)
_OPTION = re.compile(r"^[-+]{1,2}[A-Za-z0-9?#@]")
_LONG_OPTION = re.compile(r"--[A-Za-z0-9][\w-]*")
_SHORT_OPTION = re.compile(r"(?<![\w-])-[A-Za-z0-9?#@]\b")
_CAPITALS = re.compile(r"[A-Z][A-Z0-9 /&,()'-]*")
# what any kind of document names its furniture (the corpus's own frequent headings are found, not listed)
_FURNITURE = frozenset("""table of contents|contents|introduction|overview|summary|index|preface|foreword|
    appendix|references|bibliography|acknowledgements|acknowledgments|copyright|license|about|see also|
    notes|further reading|footnotes|changelog|glossary""".replace("\n", "").replace("    ", "").split("|"))


_QUOTES = "‘’“”\"'`"
# a question without its question mark: a question word and an auxiliary ("How do I ...", "Why is ...")
_QUESTION_START = re.compile(r"^(?:(?:how|what|why|when|where|who|which)\s+(?:do|does|did|can|could|should|would|will|"
                             r"is|are|was|were)|(?:can|could|does|do|should|will|would)\s+(?:i|you|we|it|they))\b", re.I)
_NOT_A_TOPIC = re.compile(r"[=!#$%{}<>|\\;_]|\w:\w")  # code or a configuration line set as a heading
_LAYOUT = re.compile(r"\t| {3,}")  # a heading of plain text holding columns or a comment is no topic


def clean_heading(heading: str) -> str:
    """A heading without its section number, the quotes around it and a trailing colon or full stop."""
    h = _SECTION_NUMBER.sub("", heading.strip()).strip(" :.")
    while len(h) > 2 and h[0] in _QUOTES and h[-1] in _QUOTES:
        h = h[1:-1].strip()
    return h


def faq_question(heading: str) -> str | None:
    """A heading that is a question, as it asks it: "How do I delete a file? (And other file
    questions...)" -> "How do I delete a file?", "How do you remove items from a list" -> with
    its question mark."""
    h = clean_heading(heading)
    if "?" in h and len(h[:h.index("?")].split()) >= 2:
        h = h[:h.index("?") + 1]
    elif _QUESTION_START.match(h) and len(h.split()) >= 3 and not h.endswith("."):
        h += "?"
    else:
        return None
    return h[:1].upper() + h[1:]


def heading_question(heading: str) -> str | None:
    """A heading read as the question it answers: "How to rotate a key" -> "How do I rotate a
    key?", "What is extraction?" as is, "Tyre pressure" -> "What do the sources say about tyre
    pressure?"; None for page furniture such as "Page 3"."""
    h = clean_heading(heading)
    if not h or _PAGE.fullmatch(h) or len(h) > 80:
        return None
    if h.endswith("?"):
        return h
    m = _HOW_TO.match(h)
    if m:
        what = m.group(1)
        return f"How do I {what.lower() if capitals(what) else what}?"
    words = h.split()
    low = h if any(w.isupper() and len(w) > 1 for w in words[:1]) else h[:1].lower() + h[1:]
    return f"What do the sources say about {low}?"


def option_question(key: str) -> str | None:
    """"-x, --exclude=PATTERN" -> "What does --exclude do?" (the long form when there is one)."""
    if not _OPTION.match(key):
        return None
    found = _LONG_OPTION.search(key) or _SHORT_OPTION.search(key)
    return f"What does {found.group(0)} do?" if found else None


def capitals(heading: str) -> bool:
    """A heading set in capitals, as man pages set their section names ("SEE ALSO")."""
    return sum(c.isalpha() for c in heading) >= 2 and _CAPITALS.fullmatch(heading) is not None


def generic_headings(paths: Iterable[tuple[str, tuple[str, ...]]]) -> set[str]:
    """Headings (folded) that head sections in many documents of the corpus: in at least two and
    at least a quarter of those with headings. ``paths``: (document id, heading path) pairs."""
    docs: dict[str, set[str]] = {}
    for doc_id, path in paths:
        docs.setdefault(doc_id, set()).update(clean_heading(h).casefold() for h in path)
    counts = Counter(h for hs in docs.values() for h in hs)
    floor = max(2, len(docs) / 4)
    return {h for h, n in counts.items() if n >= floor}


def is_generic(heading: str, frequent: set[str]) -> bool:
    h = clean_heading(heading)
    return not h or capitals(h) or h.casefold() in frequent or h.casefold() in _FURNITURE or bool(_PAGE.fullmatch(h))


# kinds of example, in the order they are offered
FAQ, HOW, OPTION, TERM, TOPIC = range(5)


def unit_questions(index: Any, scan: int = SCAN_PASSAGES) -> list[tuple[int, str, str]]:
    """(kind, document id, question) for the units of the corpus's first ``scan`` passages, in
    document order, one per heading path."""
    units: list[tuple[str, tuple[str, ...], bool]] = []  # (document, path, its leaf is a key)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for p in itertools.islice(index.passages, scan):
        if p.headings and (p.doc_id, p.headings) not in seen:
            seen.add((p.doc_id, p.headings))
            units.append((p.doc_id, p.headings, bool(index.units.key_of(p))))
    frequent = generic_headings((d, path) for d, path, key in units if not key)
    out: list[tuple[int, str, str]] = []
    for doc_id, path, key in units:
        leaf = clean_heading(path[-1])
        if not leaf or len(leaf) > 80 or _LAYOUT.search(leaf):
            continue
        if (q := faq_question(leaf)) is not None:
            out.append((FAQ, doc_id, q))
        elif _HOW_TO.match(leaf):
            out.append((HOW, doc_id, heading_question(leaf) or leaf))
        elif (q := option_question(leaf)) is not None:
            out.append((OPTION, doc_id, q))
        elif key and len(leaf.split()) <= 4 and not path[-1].rstrip().endswith(".") and "," not in leaf \
                and not is_generic(leaf, frequent):  # a defined term, not a sentence set in bold
            out.append((TERM, doc_id, f"What is {leaf}?"))
        elif not key and not is_generic(leaf, frequent) and not _NOT_A_TOPIC.search(leaf) \
                and not path[-1].rstrip().endswith("."):  # a sentence is no topic
            q = heading_question(leaf)
            if q:
                out.append((TOPIC, doc_id, q))
    return out


def example_questions(index: Any, examples: Sequence[str] = (), documents: Iterable[Any] = (),
                      limit: int = MAX_EXAMPLES) -> list[str]:
    """The corpus's own examples (its manifest's), else questions drawn from its units: FAQ
    questions, how-tos, options and terms first, topics after, no more than two of a kind or
    from one document while others are left, and one acronym from the glossary; the first
    ``documents``' titles when the corpus has no headings."""
    if examples:
        return list(examples)[:6]
    found = unit_questions(index)
    out: list[str] = []
    per_kind: Counter[int] = Counter()
    per_doc: Counter[str] = Counter()
    room = limit - (1 if index.glossary.entries else 0)
    for cap in (2, room):  # first at most two of a kind and two per document, then whatever is left
        for kind, doc_id, q in sorted(found, key=lambda x: x[0]):
            if len(out) >= room:
                break
            if q in out or (cap == 2 and (per_kind[kind] >= 2 or per_doc[doc_id] >= 2)):
                continue
            out.append(q)
            per_kind[kind] += 1
            per_doc[doc_id] += 1
    out += [f"What does {e.short} stand for?" for e in index.glossary.entries[:1]]
    if not out:
        out = [heading_question(d.title) or f"What is {d.title} about?" for d in itertools.islice(documents, 2)]
    return out[:limit]
