"""A corpus index: passages with their vocabulary, glossary, section tree and retriever.

``CorpusIndex.build`` splits and analyzes documents (a corpus folder answered in memory, or the
index ``python -m bot index`` saves); ``store.load`` gives the same object from a saved index
without analyzing any text. ``PassageAnalyzer`` is what both index for one passage.
"""
from __future__ import annotations


import itertools
from array import array
from collections.abc import KeysView
import re
from typing import Callable, Iterable, Iterator, Sequence

from bot.text.analyze import Analyzer, words
from bot.config import CorpusError
from bot.index.engines import LARGE_CORPUS, BM25Retriever, Retriever
from bot.text.glossary import Glossary
from bot.model import Document, Passage, Sentence
from bot.text.spelling import Speller
from bot.sources import structure
from bot.sources.split import split_document

_PAGE_HEADING = re.compile(r"Page \d+$")


class PassageAnalyzer:
    """What the retriever indexes for a passage: its heading path, its leaf heading again (a
    heading match counts twice) and its text's terms, each with the glossary keys whose long
    form appears ("total dissolved solids" adds "tds"). Heading terms are cached: many passages
    share a heading."""

    def __init__(self, glossary: Glossary, analyzer: Analyzer | None = None):
        self.glossary = glossary
        self.analyzer = analyzer or Analyzer()
        self._long_forms, self._firsts, self._seconds = glossary.by_first, glossary.first_set, glossary.seconds_of_first
        self._headings: dict[tuple[tuple[str, ...], bool], tuple[str, ...]] = {}

    def text_terms(self, text: str, joined: frozenset[str] | set[str] | None = None) -> list[str]:
        """A text's terms with glossary keys; with ``joined``, split spellings found in it are joined."""
        return self.with_keys(self.analyzer.terms(text, joined))

    def heading_terms(self, headings: tuple[str, ...], joined: frozenset[str] | set[str] | None = None) -> list[str]:
        key = (headings, joined is not None)
        got = self._headings.get(key)
        if got is None:
            if len(self._headings) > 200_000:
                self._headings.clear()
            got = self._headings[key] = tuple(self.text_terms(" ".join(headings), joined))
        return list(got)

    def passage_terms(self, p: Passage, joined: frozenset[str] | set[str] | None = None,
                      text_terms: list[str] | None = None, title: str | None = None) -> list[str]:
        """``text_terms``: the text's terms (without keys) when the caller has them already;
        ``title``: the document's title, indexed with the heading path where a corpus has more
        than one document (there it tells documents apart: "tar", "rsync")."""
        leaf = self.heading_terms(p.headings[-1:], joined) if p.headings else []
        path = self.heading_terms(((title,) if title else ()) + p.headings, joined)
        body = self.with_keys(text_terms) if text_terms is not None else self.text_terms(p.text, joined)
        return path + leaf + body

    def with_keys(self, terms: list[str]) -> list[str]:
        """Add a glossary key wherever its long form appears as a run ("total dissolv solid" -> "tds")."""
        long_forms = self._long_forms
        if not long_forms:
            return terms
        have = set(terms)
        firsts = have & self._firsts
        if not firsts:
            return terms
        # only entries whose every long-form word is present need the (slower) check for a run; a
        # first term whose long forms' second terms are all absent has none (most texts: "class", "type")
        seconds = self._seconds
        candidates = [e for f in firsts if (s := seconds[f]) is None or not have.isdisjoint(s)
                      for e in long_forms[f] if e.key not in have and have.issuperset(e.long_terms)]
        if not candidates:
            return terms
        out = list(terms)
        for e in candidates:
            if e.key in have:  # another long form of the same short form matched already
                continue
            run, n = e.long_terms, len(e.long_terms)
            i = terms.index(run[0])
            while True:
                if tuple(terms[i : i + n]) == run:
                    out.append(e.key)
                    have.add(e.key)
                    break
                try:
                    i = terms.index(run[0], i + 1)
                except ValueError:
                    break
        return out


def indexed_title(doc: Document, documents: int) -> str | None:
    """The title indexed with a document's passages: a structured document's (a man page's
    "tar - an archiving utility", a documentation page's), in a corpus of more than one
    document. Their units are small and lean on the document for context ("--skip-old-files:
    Don't replace existing files" says nothing of tar); an article's passages carry their own
    context, and in a one-document corpus the title tells no passage from another."""
    if documents < 2 or (doc.metadata or {}).get("format") != structure.STRUCTURED:
        return None
    return doc.title


def titles_of(documents: Sequence[Document]) -> dict[str, str] | None:
    """Document id -> indexed title (``indexed_title``), or None when no document has one."""
    got = {d.id: t for d in documents if (t := indexed_title(d, len(documents)))}
    return got or None


class PassageList(list):
    """Passages built in memory, with the lookups a saved index's ``PassageStore`` answers from arrays."""

    _by_doc: dict[str, list[int]] | None = None  # document id -> its passages, built on first lookup

    def passages_of_document(self, doc_id: str) -> list[int]:
        """One document's passages, in order."""
        if self._by_doc is None:
            self._by_doc = {}
            for i, p in enumerate(self):
                self._by_doc.setdefault(p.doc_id, []).append(i)
        return list(self._by_doc.get(doc_id, ()))

    def paths_of_document(self, doc_id: str) -> list[tuple[tuple[str, ...], list[int]]]:
        """One document's heading paths in order of first appearance, each with its passages."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in self.passages_of_document(doc_id):
            groups.setdefault(self[i].headings, []).append(i)
        return list(groups.items())

    def distinct_paths(self) -> Iterator[tuple[str, ...]]:
        return iter(dict.fromkeys(p.headings for p in self))

    def headings_of(self, i: int) -> tuple[str, ...]:
        return self[i].headings

    def section_first(self, i: int) -> bool:
        return self[i].section_first

    def sentence_count(self, i: int) -> int:
        return len(self[i].sentences)

    def section(self, doc_id: str, path: tuple[str, ...]) -> None:
        """None: the index builds the document's tree (cheap for passages in memory)."""
        return None

    def children(self, doc_id: str, path: tuple[str, ...], limit: int | None = None) -> None:
        """None: as ``section``."""
        return None


class LazyTerms(Sequence):
    """Per-passage analysis computed on first use and kept: answering reads a handful of
    passages, so a large or loaded index never analyzes the rest."""

    def __init__(self, n: int, compute: Callable[[int], object]):
        self._n, self._compute = n, compute
        self._cache: dict[int, object] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        got = self._cache.get(i)
        if got is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            got = self._cache[i] = self._compute(i)
        return got


class SentenceTerms(Sequence):
    """A passage's sentences' terms (``CorpusIndex.sentence_terms``), each sentence analyzed when
    first read and kept: the support check stops at the first sentence that holds enough of the
    question (``Support.sentence_support``), so a first answer does not analyze every sentence
    of every passage it weighs (200 questions at 1.28M passages: 3,773 of the 12,491 it analyzed before)."""

    __slots__ = ("_sentences", "_analyze", "_got")

    def __init__(self, sentences: Sequence[Sentence], analyze: Callable[[str], frozenset[str]]):
        self._sentences, self._analyze = sentences, analyze
        self._got: list[frozenset[str] | None] = [None] * len(sentences)

    def __len__(self) -> int:
        return len(self._got)

    def __getitem__(self, j):  # type: ignore[override]
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        got = self._got[j]  # an IndexError past the end (ends iteration)
        if got is None:
            got = self._got[j] = self._analyze(self._sentences[j].text)
        return got


class TermSets(Sequence):
    """Each passage's set of terms, kept compactly while a corpus is indexed in memory: term ids
    (into one list of the terms met) back to back, four bytes each, not a string per passage."""

    def __init__(self) -> None:
        self._id: dict[str, int] = {}
        self.terms: list[str] = []
        self._ids, self._ends = array("i"), array("q")

    def append(self, terms: Iterable[str]) -> None:
        for t in terms:
            i = self._id.get(t)
            if i is None:
                i = self._id[t] = len(self.terms)
                self.terms.append(t)
            self._ids.append(i)
        self._ends.append(len(self._ids))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        start = self._ends[i - 1] if i > 0 else 0
        return [self.terms[j] for j in self._ids[start:self._ends[i]]]


class CorpusIndex:
    """Passages of a corpus with their vocabulary, glossary, section tree and retriever.

    Made from its parts; ``CorpusIndex.build(documents)`` computes them, ``store.load`` reads them.
    """

    def __init__(self, documents: Sequence[Document] | dict[str, Document], passages: Sequence[Passage],
                 glossary: Glossary, vocabulary: Iterable[str] | None, retriever: Retriever, speller: Speller,
                 stored_terms: Sequence[list[str]] | None = None, analyzer: PassageAnalyzer | None = None,
                 whole_terms: Sequence[str | list[str]] | None = None):
        """``documents``: a sequence, a mapping by id, or a lazy store with a ``by_id`` mapping;
        ``vocabulary``: every term the index holds (None: the retriever's own table of terms);
        ``stored_terms``: each passage's indexed terms when the index kept them (a large index
        does, so answering never re-analyzes a passage); ``whole_terms``: otherwise each passage's
        ``passage_terms`` set where the build kept it (a line of terms, or a list), so a first
        question does not analyze the passages it reads."""
        by_id = getattr(documents, "by_id", None)
        if isinstance(documents, dict):
            self.documents = documents
        else:
            self.documents = by_id if by_id is not None else {d.id: d for d in documents}
        self.passages = passages if hasattr(passages, "paths_of_document") else PassageList(passages)
        self.glossary = glossary
        # a saved index's vocabulary is its engine's term ids' keys: a second copy of a million terms is not made
        self._engine_vocabulary = vocabulary is None
        if vocabulary is None:
            vocabulary = retriever.vocabulary
        self.vocabulary = vocabulary if isinstance(vocabulary, (frozenset, KeysView)) else frozenset(vocabulary)
        self.retriever = retriever
        self.speller = speller
        self.analyzer = analyzer or PassageAnalyzer(glossary)
        self._stored_terms = stored_terms
        self.whole_terms = whole_terms
        n = len(self.passages)
        self.heading_terms: Sequence[frozenset[str]] = LazyTerms(n, self._leaf_terms)  # leaf heading
        self.path_terms: Sequence[frozenset[str]] = LazyTerms(n, self._path_terms)  # whole heading path
        self.sentence_terms: Sequence[Sequence[frozenset[str]]] = LazyTerms(n, self._sentence_terms)
        self.passage_terms: Sequence[frozenset[str]] = LazyTerms(n, self._whole_terms)  # text + headings + keys
        self._heading_sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._doc_trees: dict[str, tuple[dict, dict]] = {}
        self._sections: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}  # (document, path) -> its passages, without a tree
        self._topics: dict[int, list[str]] = {}
        self._titled: bool | None = None  # whether document titles are indexed (more than one document)
        self.units = self._units()  # document structure read on the answer path

    def _units(self) -> structure.DocumentUnits:
        """Document structure from where this index keeps it: a saved index reads blocks from its
        blocks file when first asked for, an index built in memory from each document's metadata."""
        docs = self.documents

        def metadata(doc_id: str, key: str) -> object:
            return (docs[doc_id].metadata or {}).get(key)

        stored = getattr(docs, "blocks", None)
        return structure.DocumentUnits(lambda doc_id: docs[doc_id].text,
                                       stored if stored is not None else lambda doc_id: metadata(doc_id, structure.BLOCKS_KEY),
                                       lambda doc_id: metadata(doc_id, structure.CODE_KEY))

    @classmethod
    def build(cls, documents: Sequence[Document], max_words: int = 120, k1: float = 1.2, b: float = 0.75,
              passages: Sequence[Passage] | None = None, engine: str = "auto",
              progress: Callable[[Document], None] | None = None,
              documentation_words: int | None = None) -> "CorpusIndex":
        """Split ``documents`` into passages (or take ``passages`` already cut) and index them with
        an exact engine (``rank-bm25`` in memory, ``postings`` arrays, or ``auto``);
        ``documentation_words``: the passage size of documentation (``split_document``)."""
        if not documents:
            raise CorpusError("a corpus needs at least one document")
        cut = PassageList(passages or [])
        if passages is None:
            for doc in documents:
                cut.extend(split_document(doc, max_words, first_id=len(cut), documentation_words=documentation_words))
                if progress:
                    progress(doc)
        if not cut:
            raise CorpusError("the corpus has no text to index (no words in any document)")
        glossary = Glossary.mine(d.text for d in documents)
        analyzer = PassageAnalyzer(glossary)
        # Pass 1: the vocabulary, so pass 2 can join split spellings ("Dev Ops" -> "devop").
        # Above LARGE_CORPUS passages that second pass is skipped (questions still join split words).
        large = len(cut) > LARGE_CORPUS
        vocab: set[str] = set()
        surface: set[str] = set()
        first_pass: list[list[str]] = []
        seen_heads: set[tuple[str, ...]] = set()
        for p in cut:
            text_terms = analyzer.analyzer.terms(p.text, words_out=surface)
            vocab.update(text_terms)
            vocab.update(analyzer.heading_terms(p.headings))
            if p.headings not in seen_heads:
                seen_heads.add(p.headings)
                surface.update(words(" ".join(p.headings)))
            if large:
                first_pass.append(text_terms)
        vocab.update(e.key for e in glossary.entries)
        vocabulary = frozenset(vocab)
        joined = None if large else vocabulary
        canonical: dict[str, str] = {}  # one string per distinct term: the lists below share them

        titles = titles_of(documents)
        # each passage's ``passage_terms`` set, as answering computes it (where the text's split
        # spellings are joined, as they are here below LARGE_CORPUS): one line of terms each
        whole: TermSets | None = None if large else TermSets()

        def bm25_docs() -> Iterable[list[str]]:  # one passage at a time: nothing kept but postings
            for i, p in enumerate(cut):
                title = titles.get(p.doc_id) if titles else None
                raw = first_pass[i] if large else analyzer.analyzer.terms(p.text, joined)
                terms = analyzer.passage_terms(p, joined, raw, title)
                yield [canonical.setdefault(t, t) for t in terms]
                if large:
                    first_pass[i] = []
                else:
                    assert whole is not None
                    kept = set(analyzer.with_keys(raw)).union(analyzer.heading_terms(p.headings, joined))
                    if title:
                        kept.update(analyzer.heading_terms((title,), joined))
                    whole.append(kept)

        retriever = BM25Retriever.build(bm25_docs(), k1=k1, b=b, engine=engine, count=len(cut))
        return cls(documents, cut, glossary, vocabulary, retriever,
                   Speller(surface, vocabulary, acronyms=[e.short for e in glossary.entries]),
                   analyzer=analyzer, whole_terms=whole)

    def warm(self) -> None:
        """What a server does for this index as it starts (``ChatBot.warm``): the speller's lists
        and the engine's own warm-up, after which an index that answers from its engine's table
        of terms takes that table's view again. A warmed tantivy engine's is a dict's keys
        (``SortedTerms.keys``), looked up in C: every pair of adjacent words a first answer
        reads is looked up (a split spelling joins if the index knows the joined term), and a
        binary search written in Python took about a microsecond each."""
        engine_warm = getattr(self.retriever, "warm", None)
        if engine_warm is not None:
            engine_warm()
        if self._engine_vocabulary:
            self.vocabulary = self.speller.vocabulary = self.retriever.vocabulary
        self.speller.warm()

    def bm25_terms(self, p: Passage) -> list[str]:
        """What the retriever indexed for a passage."""
        if self._stored_terms is not None:
            return list(self._stored_terms[p.id])
        return self.analyzer.passage_terms(p, self.vocabulary, title=self.title_of(p.doc_id))

    def blocks_of(self, doc_id: str) -> tuple[list[int], Sequence[structure.Block]]:
        """A document's blocks and their starts (``units.blocks_of``)."""
        return self.units.blocks_of(doc_id)

    def title_of(self, doc_id: str) -> str | None:
        """The document title indexed with a passage's headings (``indexed_title``)."""
        if self._titled is None:
            self._titled = len(self.documents) > 1
        if not self._titled:
            return None
        return indexed_title(self.documents[doc_id], len(self.documents))

    def headings_of(self, i: int) -> tuple[str, ...]:
        """Passage ``i``'s heading path, which a saved index reads without building the passage
        (``PassageStore.headings_of``): a first answer weighs the headings of passages whose text
        it never reads."""
        return self.passages.headings_of(i)  # type: ignore[attr-defined]

    def section_first(self, i: int) -> bool:
        """Whether passage ``i`` opens its section (a saved index: without building it)."""
        return self.passages.section_first(i)  # type: ignore[attr-defined]

    def sentence_count(self, i: int) -> int:
        """How many sentences passage ``i`` has (a saved index: without building it)."""
        return self.passages.sentence_count(i)  # type: ignore[attr-defined]

    def _leaf_terms(self, i: int) -> frozenset[str]:
        headings = self.headings_of(i)
        return self.heading_terms_of(headings[-1:]) if headings else frozenset()

    def _path_terms(self, i: int) -> frozenset[str]:
        return self.heading_terms_of(self.headings_of(i))

    def _sentence_terms(self, i: int) -> "SentenceTerms":
        return SentenceTerms(self.passages[i].sentences, self._one_sentence_terms)

    def _one_sentence_terms(self, text: str) -> frozenset[str]:
        return frozenset(self.analyzer.text_terms(text, self.vocabulary))

    def _whole_terms(self, i: int) -> frozenset[str]:
        if self._stored_terms is not None:  # what the engine indexed: text (without joined pairs) + headings + keys
            return frozenset(self._stored_terms[i])
        if self.whole_terms is not None:  # what is computed below, kept by the build
            kept = self.whole_terms[i]
            return frozenset(kept.split() if isinstance(kept, str) else kept)
        p = self.passages[i]
        title = self.title_of(p.doc_id)
        terms = frozenset(self.analyzer.text_terms(p.text, self.vocabulary)) | self.path_terms[i]
        return terms | self.heading_terms_of((title,)) if title else terms

    def heading_terms_of(self, headings: tuple[str, ...]) -> frozenset[str]:
        """Terms of a heading path as the index sees them (joined spellings, glossary keys), cached."""
        got = self._heading_sets.get(headings)
        if got is None:
            got = self._heading_sets[headings] = frozenset(self.analyzer.heading_terms(headings, self.vocabulary))
        return got

    def section(self, doc_id: str, path: tuple[str, ...]) -> list[int]:
        """Passage indexes of one section of a document (heading path), in document order: from
        the document's section tree where it is built, else from the store's path ids where it
        can (``PassageStore.section``: a definition's section opening needs no tree)."""
        if doc_id not in self._doc_trees:
            found = self._sections.get((doc_id, path))
            if found is None:
                found = self.passages.section(doc_id, path)  # type: ignore[attr-defined]
                if found is not None:
                    if len(self._sections) > 10_000:
                        self._sections.clear()
                    self._sections[doc_id, path] = found = tuple(found)
            if found is not None:
                return list(found)
        return list(self._doc_tree(doc_id)[0].get(path, ()))

    def document_passages(self, doc_id: str) -> list[int]:
        """Passage indexes of one document, in document order."""
        return self.passages.passages_of_document(doc_id)  # type: ignore[attr-defined]

    def children(self, doc_id: str, path: tuple[str, ...], limit: int | None = None) -> list[tuple[str, ...]]:
        """Direct subsections of a section, in document order (the first ``limit``): from the
        document's section tree where it is built, else from the store's path ids where it can
        (``PassageStore.children``: a list of a long reference page's sections needs no tree)."""
        if doc_id not in self._doc_trees:
            found = self.passages.children(doc_id, path, limit)  # type: ignore[attr-defined]
            if found is not None:
                return found
        return list(self._doc_tree(doc_id)[1].get(path, ()))[:limit]

    def _doc_tree(self, doc_id: str) -> tuple[dict, dict]:
        """A document's sections (heading path -> passages, every prefix present) and subsections,
        built when first asked for: a loaded index of a million passages never builds them all."""
        got = self._doc_trees.get(doc_id)
        if got is None:
            tree: dict[tuple[str, ...], list[int]] = {}
            for headings, ids in self.passages.paths_of_document(doc_id):  # type: ignore[attr-defined]
                if len(headings) > 1 and headings[:-1] not in tree:  # a path in the tree has its prefixes there
                    for n in range(1, len(headings)):
                        tree.setdefault(headings[:n], [])
                under = tree.setdefault(headings, [])
                under.extend(ids)
                if len(under) > len(ids):  # one path under two ids (an update's): in document order
                    under.sort()
            kids: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
            for path in tree:  # dict order is document order
                if path:
                    kids.setdefault(path[:-1], []).append(path)
            if len(self._doc_trees) > 10_000:
                self._doc_trees.clear()
            got = self._doc_trees[doc_id] = (tree, kids)
        return got

    def top_sections(self, limit: int = 6) -> list[str]:
        """Top-level headings, in document order: topics to suggest."""
        if limit not in self._topics:
            self._topics[limit] = self._top_sections(limit)
        return list(self._topics[limit])

    def _top_sections(self, limit: int) -> list[str]:
        seen: dict[str, None] = {}
        for path in self.passages.distinct_paths():  # type: ignore[attr-defined]
            if len(path) >= 1 and not _PAGE_HEADING.match(path[0]):  # a PDF's "Page N" is no topic
                seen.setdefault(path[0], None)
                if len(seen) >= limit:
                    break
        titles = list(seen) or [d.title for d in itertools.islice(self.documents.values(), limit)]
        return titles[:limit]
