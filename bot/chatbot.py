"""The one entry point every front end calls: ``ChatBot.load(...).ask(question, history)``."""
from __future__ import annotations

import gc
import html
import re
import threading
import time
import unicodedata
import warnings
import weakref
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from bot.text import analyze
from bot.index import layout
from bot.index import store
from bot.config import MANIFEST, CorpusError, Manifest, Settings, check_setting
from bot.answer.decide import DecisionSettings
from bot.index.corpus import CorpusIndex
from bot.sources.load import load_corpus
from bot.sources.readers import LoadReport
from bot.model import Document, Reply
from bot.answer.render import fill, join_words, md_escape
from bot.answer.respond import Responder
from bot.answer.understand import Question, message_text, understand

def _default_corpus() -> Path:
    """The bundled corpus: the ``bot.corpus`` package data of an install, else the checkout's corpus/."""
    try:
        found = Path(str(resources.files("bot.corpus")))
        if (found / MANIFEST).is_file():
            return found.resolve()
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "corpus"


DEFAULT_CORPUS = _default_corpus()
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # and lone surrogates


_SCRIPT = re.compile(r"<(script|style)\b[^>]{0,500}>.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]{0,500})?/?>", re.S)
# Markup seldom more than triples a text: a message is cut to this many times its character cap
# before it is cleaned, so cleaning costs the same for a 20 KB message and a 20 MB one.
MARKUP_SLACK = 4


def drop_comments(text: str) -> str:
    """``<!-- ... -->`` removed (an unclosed ``<!--`` is kept as text), in one left-to-right pass: a
    regular expression such as ``<!--.*?-->`` rescans the rest of the text from every ``<!--``
    and took 47 s on 65,000 of them."""
    out, pos = [], 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            out.append(text[pos:])
            return " ".join(out)
        out.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            out.append(text[start:])
            return " ".join(out)
        pos = end + 3


def strip_markup(text: str) -> str:
    """A question pasted with HTML: drop scripts and styles with their content, then the tags
    ("<b>how</b> do I <script>x()</script> reset it" -> "how do I reset it"); entities are decoded."""
    if "<" not in text and "&" not in text:
        return text
    text = _TAG.sub(" ", _SCRIPT.sub(" ", drop_comments(text)))
    return html.unescape(text) if "&" in text else text


def clean_question(text: Any, limit: int | None = None) -> str:
    """Drop markup and control characters and fold whitespace; anything not a string counts as empty.
    With ``limit``, at most that many characters are returned, and only a bounded prefix of the
    text is read (``MARKUP_SLACK`` times the limit)."""
    if not isinstance(text, str):
        return ""
    if limit is not None:
        return clean_question(text[:max(limit, 0) * MARKUP_SLACK])[:max(limit, 0)]
    text = _CONTROL.sub(" ", strip_markup(_CONTROL.sub(" ", text)))
    return re.sub(r"\s+", " ", text).strip()


def has_words(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def recent_turns(history: Sequence[Any], turns: int) -> list[Any]:
    """The last ``turns`` exchanges of a history (two messages each, oldest first); none when
    ``turns`` is 0 (``max_history_turns``)."""
    return list(history)[-2 * turns:] if turns else []


def prepare_question(question: Any, history: Sequence[dict[str, Any]] | None, index: CorpusIndex,
                     settings: Settings, about_sources: bool = True) -> Question | Reply:
    """Clean -> check -> correct typos -> understand: the one pipeline every caller uses (ask,
    search, the evaluations). ``history`` must already be bounded."""
    raw = question if isinstance(question, str) else ""
    limit = settings.answer.max_question_chars
    if len(raw) > limit:
        return Reply(fill("invalid", "too_long", length=f"{len(raw):,}", limit=f"{limit:,}"), True, [],
                     kind="invalid")
    text = clean_question(raw)
    if not text:
        return Reply(fill("invalid", "empty"), True, [], kind="invalid")
    if not has_words(text):
        return Reply(fill("invalid", "no_words"), True, [], kind="invalid")
    text = index.speller.correct(text)
    return understand(text, history, index.vocabulary, settings.answer.max_history_turns, about_sources=about_sources)


class ChatBot:
    """Answers questions from one corpus, quoting it with citations, or says it cannot."""

    def __init__(self, manifest: Manifest, documents: Sequence[Document], index: CorpusIndex | None = None,
                 problems: Sequence[str] = ()):
        self.manifest = manifest
        self.problems = list(problems)  # documents skipped at load time, "path: problem; skipped"
        self.saved_index = False  # loaded from `python -m bot index` output
        self.settings: Settings = manifest.settings
        # a saved index's documents are a lazy sequence: keep it (a million documents load on demand)
        self.documents = documents if isinstance(documents, Sequence) else list(documents)
        self.index = index or CorpusIndex.build(self.documents, max_words=self.settings.index.passage_max_words,
                                          documentation_words=self.settings.index.documentation_max_words,
                                          k1=self.settings.index.bm25_k1, b=self.settings.index.bm25_b)
        self.responder = Responder(self.index, top_k=self.settings.answer.top_k,
                                   decision=DecisionSettings(strictness=self.settings.answer.strictness))

    @classmethod
    def load(cls, path: str | Path | None = None, strictness: float | None = None) -> "ChatBot":
        """Load a corpus folder (default: the bundled ``corpus/``) or an index saved by
        ``python -m bot index``. A stale saved index is refused (``bot.index.indexer.refresh``,
        ``--rebuild`` on the CLI and app.py, brings it up to date first: answering never writes).
        ``strictness`` (0..1) overrides the corpus's setting. The default bot is cached."""
        if strictness is not None:
            strictness = check_setting("strictness", strictness)
        if path is None or Path(path).resolve() == DEFAULT_CORPUS:
            base = _default_bot()
            if strictness is None or strictness == base.settings.answer.strictness:
                return base
            return base.with_strictness(strictness)
        if layout.is_index(path):
            manifest, docs, index, problems = store.load(path)
            bot = cls(_with_strictness(manifest, strictness), docs, index=index, problems=problems)
            bot.saved_index = True
            return bot
        if layout.looks_like_index(path):
            raise CorpusError(f"{path}: a saved index whose index.json is missing or unreadable; rebuild it "
                              f"with `python -m bot index SOURCES --out {path}`")
        report = LoadReport()
        manifest, docs = load_corpus(path, report)
        return cls(_with_strictness(manifest, strictness), docs, problems=report.problems)

    def current(self) -> "ChatBot":
        """The bot to answer with now (a ``LiveBot`` gives the one of the newest index)."""
        return self

    def warm(self, freeze: bool = False) -> None:
        """Load now what answering otherwise loads on the way, on the first question that needs it:
        the word-vector model, the list of common words and their vectors (half a second
        together) and the speller's word lists. A server calls it as it starts, so its first visitors wait no longer
        than later ones; a single `ask` from the command line does not (it may not need them).
        Also what every first answer pays once: the reply templates and the engine's own
        (a tantivy index's score bound), and then one question about the corpus's first topic
        through every stage, its reply dropped: the first question of a process pays for its
        first search and for what libraries do on their first call (regular expressions compiled
        when first used, numpy's): about 0.6 ms of 7.5 at 1.28M passages.

        ``freeze``: a server's start. What is loaded then lives as long as the process, so the
        collector's full passes skip it from then on (``gc.freeze``, after a collection): each
        walked every object of the modules and the index, 30-60 ms at 1.28M passages, paid by
        whichever question was being answered. Frozen objects are still freed when no longer
        used, but not those in reference cycles: ``LiveBot`` unfreezes them when it replaces the
        bot by an updated index's."""
        from bot.answer.render import templates
        from bot.text.paraphrase import common_words, shared_closeness

        closeness = shared_closeness()
        closeness.load()
        closeness.vectors(sorted(common_words()))  # 10,000 words in 0.1 s: a question's paraphrases weigh many of them
        templates()
        self.index.warm()
        topics = self.index.top_sections(1)
        if topics:
            try:
                self.ask(f"What is {topics[0]}?")
            except Exception as e:  # noqa: BLE001 - a warm-up must not stop a server; the questions it serves would say it
                warnings.warn(f"the warm-up question about {topics[0]!r} failed: {e!r}", RuntimeWarning, stacklevel=2)
        if freeze:
            gc.collect()
            gc.freeze()

    def with_strictness(self, strictness: float) -> "ChatBot":
        """The same corpus and index answering at another strictness (nothing is re-read)."""
        bot = ChatBot(_with_strictness(self.manifest, strictness), self.documents, index=self.index,
                      problems=self.problems)
        bot.saved_index = self.saved_index
        return bot

    def _bounded_history(self, history: Any) -> list[dict[str, Any]] | None:
        """The most recent well-formed messages, within the turn and character caps of the config."""
        if not isinstance(history, (list, tuple)):
            return None
        turns = self.settings.answer.max_history_turns
        budget = self.settings.answer.max_history_chars
        out: list[dict[str, Any]] = []
        for msg in reversed(recent_turns(history, turns)):
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                continue
            text = message_text(msg)
            if not isinstance(text, str):
                continue
            text = clean_question(text, budget)
            budget -= len(text)
            if budget < 0:
                break
            out.append({"role": msg["role"], "content": text})
        return list(reversed(out))

    @property
    def name(self) -> str:
        return self.manifest.name

    def describe_corpus(self) -> str:
        if len(self.documents) == 1:
            return f"*{md_escape(self.documents[0].title)}*"
        return f"the {len(self.documents)} documents of *{md_escape(self.manifest.name)}*"

    def topics(self, limit: int = 4) -> str:
        return join_words(self.index.top_sections(limit))

    def search(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """Retrieval only: the top ``k`` passages for a query, as the bot's own retrieval sees it."""
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ValueError(f"k must be a positive whole number, got {k!r}")
        k = min(k, max(self.index.retriever.size, 1))  # never more than there are passages
        text = clean_question(query, self.settings.answer.max_question_chars)  # a long query is cut, not refused
        q = self.question(text)  # the same pipeline as ask: clean, correct, understand
        if isinstance(q, Reply):
            return []
        weights = self.responder.weights(q) if q.kind not in ("smalltalk", "meta") else {}
        if not weights:
            weights = {t: 1.0 for t in analyze.terms(text, self.index.vocabulary)}
        out = []
        for rank, hit in enumerate(self.index.retriever.search(weights, k), 1):
            p = self.index.passages[hit.index]
            doc = self.index.documents[p.doc_id]
            out.append({"rank": rank, "doc_id": doc.id, "source": doc.source, "title": p.title or doc.title,
                        "document": doc.title, "passage": p.text, "score": round(hit.score, 4)})
        return out

    def question(self, question: Any, history: Sequence[dict[str, Any]] | None = None) -> Question | Reply:
        """The question pipeline (clean -> correct typos -> understand, with the history): a
        :class:`Question` for the responder, or the finished :class:`Reply` for bad input."""
        return prepare_question(question, self._bounded_history(history), self.index, self.settings)

    def ask(self, question: str, history: Sequence[dict[str, Any]] | None = None) -> Reply:
        """Answer ``question`` (with earlier ``history`` messages for follow-ups)."""
        q = self.question(question, history)
        if isinstance(q, Reply):
            return q
        if q.kind == "smalltalk":
            return Reply(fill("smalltalk", q.smalltalk, corpus=self.describe_corpus(), topics=self.topics()),
                         False, [], kind="smalltalk")
        if q.kind == "meta":
            reply = self.responder.about_sources(q.extra["meta"], self.documents, self.manifest.description)
            if reply.support != "none":
                return reply
            # no author or date in the documents' metadata: perhaps their text says it ("By Jo Rider")
            content = prepare_question(question, self._bounded_history(history), self.index, self.settings,
                                       about_sources=False)
            if not isinstance(content, Question) or not content.focus_terms:
                return reply
            found = self.responder.respond(content)
            return found if found.support == "answer" else reply
        return self.responder.respond(q)


def _with_strictness(manifest: Manifest, strictness: float | None) -> Manifest:
    if strictness is None:
        return manifest
    return replace(manifest, settings=manifest.settings.with_values(strictness=float(strictness)))


@lru_cache(maxsize=1)
def _default_bot() -> ChatBot:
    manifest, docs = load_corpus(DEFAULT_CORPUS)
    return ChatBot(manifest, docs)


class LiveBot:
    """A saved index that follows its updates: ``current()`` is the bot of the newest index at
    ``folder``. Its ``index.json`` is looked at, at most once a second, and when an update or a
    rebuild (``python -m bot index``) replaced it the index is loaded again; questions asked
    meanwhile are answered by the bot already loaded. Other attributes are the current bot's.
    What ``app.py`` serves, so the page picks up updates without a restart."""

    CHECK_SECONDS = 1.0

    FREEZE_TRIES = 60  # seconds a warm-up waits for the bot it replaced to be gone before freezing

    def __init__(self, folder: str | Path, strictness: float | None = None, warm_updates: bool = False):
        """``warm_updates``: a server's; each newly loaded index is warmed (``start_warm``) in a
        thread of its own once it answers, so the first questions after an update do not pay for
        what the first questions after the server's start do not."""
        self.folder = Path(folder)
        self.strictness = strictness
        self.warm_updates = warm_updates
        self.warming: threading.Thread | None = None  # the last warm-up (tests wait for it)
        self.frozen = 0  # warm-ups that froze what was loaded (``ChatBot.warm``'s ``freeze``)
        self._bot = ChatBot.load(self.folder, strictness=strictness)
        self._seen = self._signature()
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.reloads = 0

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = (self.folder / layout.INDEX_JSON).stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def current(self) -> ChatBot:
        """The newest index's bot. One caller looks for (and loads) a newer index; callers arriving
        meanwhile are answered by the bot already loaded, never kept waiting for the load."""
        if time.monotonic() - self._checked < self.CHECK_SECONDS or not self._lock.acquire(blocking=False):
            return self._bot
        try:
            if time.monotonic() - self._checked >= self.CHECK_SECONDS:
                seen = self._signature()
                if seen is not None and seen != self._seen:
                    try:
                        replaced = weakref.ref(self._bot)
                        self._bot = ChatBot.load(self.folder, strictness=self.strictness)
                        self.reloads += 1
                        gc.unfreeze()  # the bot it replaces may have been frozen (``warm``): collectable again
                        if self.warm_updates:
                            self.start_warm(replaced)
                    except CorpusError:  # mid-swap or stale again: keep answering from the loaded one
                        seen = self._seen
                    self._seen = seen
                self._checked = time.monotonic()
        finally:
            self._lock.release()
        return self._bot

    def start_warm(self, replaced: "weakref.ref[ChatBot] | None" = None) -> threading.Thread:
        """A server's: warm the current bot in a thread of its own (``ChatBot.warm``), then freeze
        what is loaded, as ``warm(freeze=True)`` does, once the bot it ``replaced`` is gone (a
        request may still be answering from it; frozen, its reference cycles would never be
        freed). No freeze if that takes over ``FREEZE_TRIES`` seconds, or if an update replaced
        this bot meanwhile (its own warm-up does)."""
        bot = self._bot

        def run() -> None:
            bot.warm()
            for _ in range(self.FREEZE_TRIES):
                gc.collect()
                with self._lock:  # no update swaps the bot while this one is frozen
                    if self._bot is not bot:
                        return
                    if replaced is None or replaced() is None:
                        gc.freeze()
                        self.frozen += 1
                        return
                time.sleep(1.0)

        self.warming = threading.Thread(target=run, name="warm", daemon=True)
        self.warming.start()
        return self.warming

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)
