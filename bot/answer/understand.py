"""Understand a question: small talk or not, question type, focus terms, follow-up context.

Only general English question patterns live here; nothing about any corpus's topics.
"""
from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from bot.text import analyze
from bot.text.paraphrase import common_words
from bot.text.analyze import Token

_TRAILING = re.compile(r"[\s\W_]+$")
_SPACES = re.compile(r"\s+")

SMALLTALK = (
    ("greeting", re.compile(
        r"^(hi|hello|hey|hiya|howdy|greetings|yo|good (morning|afternoon|evening|day))"
        r"( there| bot| again| all)?$")),
    ("thanks", re.compile(
        r"^(thanks|thank you|thank u|thx|ty|cheers|many thanks|much appreciated|great|awesome|perfect|"
        r"cool|nice|ok|okay|got it|great thanks|ok thanks|okay thanks)( (so|very) much| a lot| again)?"
        r"( for (the|your) (help|answer|answers))?$")),
    ("bye", re.compile(r"^(bye|goodbye|good bye|see you|see ya|farewell|later)( (now|then|later))?$")),
    ("capabilities", re.compile(
        r"^(what can you do|what do you do|who are you|what are you|help|help me|what do you know"
        r"( about)?|what can i ask( you)?|what should i ask|how do(es)? (you|this) work|what is this"
        r"|what are you for|what topics( do you (cover|know))?|what do you cover)$")),
)

# Words that frame a question rather than name its subject (stemmed when compared).
_FRAME_WORDS = {
    "common": "define definition explain explanation describe description tell mean meaning means "
              "stand stands refer refers called call know understand info information overview "
              "summary summarize briefly detail details something thing things please exactly "
              "want need needs let able like "
              # fillers and hedges: they color a question, never name what it asks about
              "actually just really still ok okay anyway basically ever now simply somehow possible "
              "possibly way ways also even already currently instead",
    "comparison": "difference differences differ different compare compared comparison versus vs "
                  "distinguish contrast similar similarity similarities same",
    "list": "type types kind kinds sort sorts example examples list categories category variety "
            "varieties name names main popular common",
    "who": "company companies organization organisation firm who made make makes built build "
           "builds create created creates develop developed develops invent invented design "
           "designed launch launched release released own owns owned behind responsible person",
    "when": "when year date released release launched launch introduced created happen happened",
    "how": "work works working function functions operate operates",
    "duration": "long often take takes took time",
    "where": "where located locate place country city situated find found",
    "quantity": "many much number amount",
    "money": "price prices cost costs much expensive cheap pay paid fee fees charge charges spend",
    "colour": "colour color colours colors coloured colored shade hue",
    "why": "problem problems issue issues important importance matter matters reason reasons cause "
           "causes concern concerns bad good useful",
}
# Light verbs: they help pick the sentence ("used for") but a passage need not contain them.
SOFT_TERMS = frozenset(t for w in ("use uses used using make makes making made get gets getting give gives take "
                                   "takes go goes come comes put face faces involve involves").split()
                       if (t := analyze.term_of(w)))
FRAME_TERMS: dict[str, frozenset[str]] = {
    kind: frozenset(t for w in words.split() if (t := analyze.term_of(w)))
    for kind, words in _FRAME_WORDS.items()
}
# Frame words that name the same kind of list: "kinds of X" asks for what a heading calls "types of X".
LIST_CLASSES: tuple[frozenset[str], ...] = tuple(
    frozenset(t for w in group.split() if (t := analyze.term_of(w)))
    for group in ("type types kind kinds sort sorts category categories variety varieties form forms class classes",
                  "example examples instance instances")
)
_ANAPHORA = frozenset("it its it's they them their theirs this that these those one ones he she him her "
                      "former latter".split())
_COMPARISON = re.compile(r"\b(difference|differences|differ|differs|compare|compared|comparison|"
                         r"versus|vs\.?|distinguish|contrast)\b|\bsame as\b|\bdifferent from\b")
_LIST = re.compile(r"\b(types|kinds|sorts|examples|list|categories|varieties)\b|"
                   r"^(name|give me|give|list) (some|a few|the|all)\b|^what are some\b|"
                   r"^(what|which) are (the|its|their|some) \w+s\b|"
                   r"^(what|which) (\w+ )?\w+s (do|does|did|can|could|are|were|will|would)\b")
_DEFINITION = re.compile(
    r"^(what|who)(\s+is|\s+are|\s+was|\s+were|'s|'re|s)\s+(an?\s+|the\s+)?(?P<x>.+)$|"
    r"^(define|explain|describe|tell me (more )?about|what about|meaning of|definition of)\s+(?P<y>.+)$|"
    r"^what (does|do|is meant by)\s+(?P<z>.+?)(\s+(mean|stand for|refer to))?$")
# A request to produce something new ("give me a recipe", "write a poem"): quoting cannot do it.
# Requests for what the sources hold (examples, a list, a summary, an explanation) are questions.
_REQUEST = re.compile(
    r"^(?:please |can you |could you |would you )?(?:give|write|generate|create|compose|draw|make|produce|"
    r"invent|design|cook|build|plan|translate|code)(?: me| us)?\s+(?!(?:an?\s+|some\s+|the\s+|more\s+)?"
    r"(?:examples?|list|overview|summary|definition|explanation|description|comparison|types?|kinds?|"
    r"details?|information|info|idea|sense|difference|reasons?)\b)(?:an?|some|the|me|my)\b")
_DOC = r"(?:article|articles|document|documents|doc|docs|text|texts|source|sources|post|paper|papers|report|" \
       r"page|book|corpus|files?|material|materials|collection|knowledge base|manuals?|guides?|handbooks?|" \
       r"documentation|pdfs?)"
_THE = r"(?:(?:this|these|the|your|those|all the|all (?:of )?(?:the|your|these)) )"
_SOURCES = rf"(?:{_THE}?{_DOC})"  # "the article", "your documents", "sources"
_IT = rf"(?:it|this|these|they|them|{_SOURCES})"  # "it" and "this": the sources, when nothing else is named
# Questions about the sources themselves, answered from the manifest and document metadata. Only
# when the question names the sources or leaves its object out ("who wrote this?"); "who wrote
# Hamlet?" and "when was the printer released?" ask about the content.
META = (
    ("author", re.compile(rf"^who (?:wrote|authored|is the author of|are the authors of|is the writer of|"
                          rf"published) {_IT}$|^who (?:wrote|created|made|compiled|put together) {_SOURCES}$|"
                          rf"^who (?:is|are) (?:the|its|their) (?:author|writer)s?(?: of {_IT})?$|"
                          rf"^(?:the |what is the )?(?:author|writer)s?(?: of {_IT})?$|"
                          rf"^by whom (?:was|were) {_IT} written$|^who (?:wrote|is the author)$")),
    ("published", re.compile(rf"^(?:when|what year|what date|which year) (?:was|were) {_IT} "
                             rf"(?:published|written|posted|updated|last updated)$|"
                             rf"^when (?:was|were) {_SOURCES} (?:released|created|made)$|"
                             rf"^(?:what is )?(?:the )?(?:publication|published|release) date(?: of {_IT})?$|"
                             rf"^how (?:old|recent|new|current|up to date) (?:is|are) {_IT}$|"
                             rf"^(?:when|what date) (?:is|are|was|were) {_IT} from$")),
    ("title", re.compile(rf"^what (?:is|are) {_SOURCES} (?:called|titled|named)$|"
                         rf"^what (?:is|are) (?:the )?(?:title|name)s? of {_SOURCES}$|"
                         rf"^what (?:is|are) (?:the|its|their) titles?$|^what (?:is|are) {_SOURCES}(?:'s|’s)? titles?$|"
                         rf"^(?:what|which) titles? (?:does|do) {_SOURCES} (?:have|bear|carry)$")),
    ("documents", re.compile(rf"^(?:which|what) {_DOC} (?:do you have|are (?:there|loaded|available|indexed)|"
                             rf"do you (?:use|know|cover|answer from|draw on|rely on|search|have access to)|"
                             rf"can you (?:see|search|read|access))$|^what are (?:your|the) sources$|"
                             rf"^what (?:is|are) your {_DOC}$|^(?:list|show)(?: me)?(?: all)? (?:your|the) {_DOC}$|"
                             rf"^how many {_DOC} (?:do you have|are there|are loaded)$|"
                             rf"^where do (?:you get )?(?:your|the) (?:answers|information|info|facts)(?: come from)?$|"
                             rf"^what do you answer from$")),
    ("about", re.compile(rf"^what (?:is|are) {_IT} (?:all )?about$|"
                         rf"^what (?:is|are) (?:the )?(?:main )?(?:topics?|subjects?|themes?)(?: of {_IT})?$|"
                         rf"^what (?:topics|subjects) (?:do|does|can) (?:you|{_IT}) (?:cover|know about|discuss|know|answer)$|"
                         rf"^what do(?:es)? {_SOURCES} (?:cover|discuss|talk about|deal with)$|"
                         rf"^what do you (?:know|cover)(?: about)?$|^what can (?:i|we) ask(?: you)?(?: about)?$|"
                         rf"^what can you (?:answer|tell me)(?: about)?$|"
                         rf"^(?:summari[sz]e|give (?:me )?an overview of|describe) {_SOURCES}$")),
)
# Advice rather than history: "when should I ...", "when do you ...", "when is it time to ...".
_PROCEDURAL = re.compile(r"^when\s+(?:should|do|does|must|can|could|would|to|is it (?:best|time) to|"
                         r"is the best time to)\b")
_CONTRACTED = re.compile(r"\b(what|who|when|where|how)['’]s\b")
# "What does X stand for?", "what is X short for", "what is the full form of X": the glossary's long form.
_EXPAND = re.compile(r"^what (?:does|do) (?P<a>.+?) (?:stand for|abbreviate)$|^what (?:is|are) (?P<b>.+?) short for$|"
                     r"^what (?:is|are) the (?:full|long) (?:form|name)s? (?:of|for) (?P<c>.+)$|"
                     r"^(?:expand|spell out) (?P<d>.+)$")
# "What colour is X?", "which color are the Y": the answer names a colour.
_COLOUR_Q = re.compile(r"^(?:what|which) (?:colou?r|shade)s? (?:is|are|was|were|does|do|did)\b|"
                       r"^(?:what|which) (?:is|are|was|were) the colou?rs? of\b")
# A question about what something costs: "how much is X", "what is the price of X", "how expensive".
_MONEY_Q = re.compile(r"^(?:what(?:'s| is| are| was| were)? (?:the )?(?:price|cost|fee)s? (?:of|for)\b|"
                      r"how much (?:does|do|did|is|are|was|were) .+ (?:cost|charge)\b|how (?:expensive|cheap)\b|"
                      r"how much (?:money|does it cost)\b)")
_FOLLOW_ABOUT = re.compile(r"^(and |so )?(what|how) about\s+(?P<x>.+)$|^and\s+(?P<y>.+)$")
# A follow-up that goes on from the previous turn with a conjunction and then asks a question of
# its own ("and how is it trained?", "so what does it cost?", "and to print only the names?"): the
# question after the conjunction is read as asked, about the previous turn's subject.
_GO_ON = re.compile(r"^(?:and|so|but|also|then|and so|and also|but then|ok so|okay so)\s+(?P<rest>"
                    r"(?:what|which|who|whose|whom|when|where|why|how|is|are|am|can|could|does|do|did|was|"
                    r"were|will|would|should|shall|has|have|had|may|might|must|to)\b.+)$")
_WHICH = re.compile(r"^which ((?:[\w-]+ ){0,2}?[\w-]+s)\b|"
                    r"^what ((?:[\w-]+ ){0,2}?[\w-]+s) (?:do|does|did|can|could|are|were|will|would|have|has)\b")
_YESNO = re.compile(r"^(is|are|can|could|does|do|did|was|were|will|would|should|has|have|had|may|might)\b")
_SIDES = re.compile(r"\b(?:between\s+)?(?P<a>.+?)\s+(?:and|vs\.?|versus|or|from|with|to)\s+(?P<b>.+)$", re.I)
_SIDE_FRAME = re.compile(
    r"^(what(?:'s| is| are)?\s+(?:the\s+)?(?:main\s+|key\s+)?(?:differences?|distinction)\s+"
    r"(?:between|of)\s+|how (?:do|does|is|are)\s+|compare\s+|differences?\s+between\s+|"
    r"(?:is|are)\s+)", re.I)


@dataclass(frozen=True)
class Question:
    """What the responder needs to know about a question."""

    text: str  # the cleaned question as asked
    kind: str  # smalltalk, meta, definition, list, comparison, who, when, how, yesno, money, other
    smalltalk: str = ""  # greeting, thanks, bye, capabilities
    focus: tuple[Token, ...] = ()  # subject terms the answer must be about
    soft: tuple[Token, ...] = ()  # light verbs ("used", "make"): rank sentences, not required
    frame: tuple[Token, ...] = ()  # terms that shape the question (types, difference, made ...)
    sides: tuple[tuple[Token, ...], ...] = ()  # comparison: the two things compared
    context: tuple[Token, ...] = ()  # focus terms carried over from earlier turns
    followup: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def focus_terms(self) -> list[str]:
        return _unique(t.term for t in (*self.focus, *self.context))


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def simplify(text: str) -> str:
    """Lower-case, fold quotes and spaces, strip trailing punctuation: for pattern matching."""
    t = _SPACES.sub(" ", analyze.normalize(text).lower()).strip()
    return _TRAILING.sub("", t)


def question_kind(s: str) -> str:
    if _COMPARISON.search(s):
        return "comparison"
    if _LIST.search(s):
        return "list"
    if re.match(r"^(who|whose|whom)\b|^which (company|companies|organi[sz]ation|firm|person|people|team)\b", s):
        if re.match(r"^who (is|are|was|were) (behind|responsible)\b", s):
            return "who"
        return "definition" if re.match(r"^who (is|are|was|were)\b", s) else "who"
    if re.match(r"^(when|what year|in what year|what date|since when|how long ago)\b", s):
        return "when"
    if re.match(r"^where\b|^in (what|which) (country|city|state|place|region)\b", s):
        return "where"
    if re.match(r"^how (long|often)\b", s):
        return "duration"
    if _MONEY_Q.search(s):
        return "money"
    if _COLOUR_Q.search(s):
        return "colour"
    if re.match(r"^how (many|much)\b", s):
        return "quantity"
    if re.match(r"^why\b", s):
        return "why"
    if re.match(r"^how\b", s):
        return "how"
    if _DEFINITION.match(s):
        return "definition"
    if _YESNO.match(s):
        return "yesno"
    if len(s.split()) <= 4 and not re.match(r"^(what|which|where|whom?|why|how)\b", s):
        return "definition"  # a bare term: "TDS?"
    return "other"


def _frame_set(kind: str) -> frozenset[str]:
    """Frame words of every question plus those of its kind."""
    return FRAME_TERMS["common"] | FRAME_TERMS.get(kind, frozenset())


def _split_tokens(toks: Sequence[Token], kind: str) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
    # "Dev Ops" also gave "devop": the joined term stands for both words
    joined = {(t.position - 1, t.position) for t in toks if " " in t.surface}
    parts = {p for pair in joined for p in pair}
    toks = [t for t in toks if " " in t.surface or t.position not in parts]
    frame_set = _frame_set(kind)
    focus = tuple(t for t in toks if t.term not in frame_set and t.surface.lower() not in _ANAPHORA)
    frame = tuple(t for t in toks if t.term in frame_set)
    return focus, frame


def _soften(focus: tuple[Token, ...]) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
    """Move light verbs out of the focus, unless nothing else would be left."""
    hard = tuple(t for t in focus if t.term not in SOFT_TERMS)
    if not hard:
        return focus, ()
    return hard, tuple(t for t in focus if t.term in SOFT_TERMS)


def message_text(message: Mapping[str, Any] | Any) -> str:
    """Text of a chat message whose content is a string or a list of parts (Gradio 6)."""
    content = message.get("content") if isinstance(message, Mapping) else message
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return " ".join(parts)
    return ""


def previous_questions(history: Sequence[Any] | None, limit: int) -> list[str]:
    """The user's earlier questions, most recent first (wrong shapes are ignored)."""
    out: list[str] = []
    if not history:
        return out
    for msg in reversed(list(history)[-max(limit, 0) * 2 or None:] if limit else []):
        if isinstance(msg, Mapping) and msg.get("role") == "user":
            text = message_text(msg).strip()
            if text:
                out.append(text)
    return out


def _elliptical(s: str, kind: str, focus: Sequence[Token]) -> bool:
    """A short follow-up that names only a common unit or thing ("how many days?", "how much
    money?", "what time?"): it asks about the previous question's subject."""
    if kind not in ("quantity", "duration", "when", "where", "who", "money") or len(s.split()) > 4:
        return False
    common = common_words()
    return bool(focus) and all(t.surface.lower() in common or t.surface.lower().rstrip("s") in common for t in focus)


def understand(text: str, history: Sequence[Any] | None = None, vocabulary: Iterable[str] | None = None,
               max_turns: int = 20, _depth: int = 0, about_sources: bool = True) -> Question:
    """Classify ``text`` and find its focus, resolving follow-ups against earlier user turns.
    ``about_sources=False`` reads a question about the sources as a question about their text
    (when their metadata do not answer it: "who wrote it?" and the text says "By Jo Rider")."""
    s = simplify(text)
    for name, pattern in SMALLTALK:
        if pattern.match(s):
            return Question(text, "smalltalk", smalltalk=name)
    plain = _CONTRACTED.sub(r"\1 is", s)  # "what's this about?"
    for name, pattern in META if about_sources else ():
        if pattern.match(plain):
            return Question(text, "meta", extra={"meta": name})
    # a set as given (a saved index's vocabulary is its term ids' keys: copying a million of them
    # took a tenth of a second a question); any other iterable of terms made one
    vocab = vocabulary if vocabulary is None or isinstance(vocabulary, AbstractSet) else set(vocabulary)
    prev = previous_questions(history, max_turns) if _depth == 0 else []
    go_on = _GO_ON.match(s) if prev else None
    if go_on:
        s = go_on.group("rest")
    about = None if go_on else _FOLLOW_ABOUT.match(s)
    if about and prev:
        # "what about the French press?" -> ask the previous question's kind about the new subject
        subject = about.group("x") or about.group("y")
        before = understand(prev[0], None, vocab, max_turns, _depth + 1)
        toks = analyze.tokens(subject, vocab)
        focus, frame = _split_tokens(toks, before.kind)
        kind = before.kind if before.kind not in ("smalltalk", "comparison") else "definition"
        return Question(text, kind, focus=focus or tuple(toks), frame=before.frame, followup=True)
    kind = "how" if go_on and s.startswith("to ") else question_kind(s)  # "and to X?": how to X
    toks = analyze.tokens(text, vocab)
    focus, frame = _split_tokens(toks, kind)
    sides: tuple[tuple[Token, ...], ...] = ()
    if kind == "comparison":
        sides = _comparison_sides(_SPACES.sub(" ", analyze.normalize(text)).strip(), vocab)
    words = set(re.findall(r"[a-z']+", s))
    anaphoric = bool(words & _ANAPHORA)
    context: tuple[Token, ...] = ()
    followup = False
    if prev and (anaphoric or not focus or go_on or _elliptical(s, kind, focus)):
        before = understand(prev[0], None, vocab, max_turns, _depth + 1)
        carried = before.focus or before.context
        if carried:
            mine = {t.term for t in focus}
            context = tuple(t for t in carried if t.term not in mine)
            followup = True
            if kind == "definition" and not focus:
                kind = "how" if re.match(r"^(how|why)\b", s) else before.kind
    focus, soft = _soften(focus)
    extra: dict[str, Any] = {}
    expand = _EXPAND.match(s)
    if expand:
        extra["expand"] = next(g for g in expand.groups() if g)
        kind = "definition"
    if _REQUEST.match(s):
        extra["request"] = True
    if kind == "when" and _PROCEDURAL.match(s):
        extra["procedural"] = True  # "when should I replace it?": a condition answers too
    which = _WHICH.match(s)
    if which and kind not in ("who", "comparison"):
        # "Which cooking techniques ...?" asks for named items, not that some exist
        extra["which"] = tuple(analyze.terms(which.group(1) or which.group(2), vocab))
    return Question(text, kind, focus=focus, soft=soft, frame=frame, sides=sides, context=context,
                    followup=followup, extra=extra)


def _comparison_sides(s: str, vocab: set[str] | None) -> tuple[tuple[Token, ...], ...]:
    body = _TRAILING.sub("", _SIDE_FRAME.sub("", s, count=1))
    body = re.sub(r"\b(differ|differs|different|compared?|comparison|the same|same as|similar)\b", " ", body,
                  flags=re.I)
    m = _SIDES.search(_SPACES.sub(" ", body).strip())
    if not m:
        return ()
    frame_set = FRAME_TERMS["comparison"] | FRAME_TERMS["common"]
    a = tuple(t for t in analyze.tokens(m.group("a"), vocab) if t.term not in frame_set)
    b = tuple(t for t in analyze.tokens(m.group("b"), vocab) if t.term not in frame_set)
    return (a, b) if a and b else ()
