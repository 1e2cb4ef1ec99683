"""Read and validate a corpus manifest (``corpus.yaml``), naming file and line on any error.

The manifest is small, so validation walks PyYAML's node tree directly: that keeps the line
number of every value (schema libraries such as pydantic lose it) and keeps the CLI light.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import yaml


MANIFEST = "corpus.yaml"  # a corpus folder's manifest: its documents, metadata and settings


class CorpusError(ValueError):
    """A corpus that cannot be loaded; the message names the file (and line) at fault."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: a JSON or YAML escape such as "\\ud800", or a file
    name's undecodable byte. It is not Unicode text: it cannot be written as UTF-8 or sent as JSON."""
    return _SURROGATE.search(text) is not None


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so it can be written as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _limits(low: float, high: float) -> dict[str, Any]:
    """The range of a numeric setting: every one has both ends, so no value too large for an
    engine (tantivy panics on a result limit over 2**32; numpy overflows on 10**23) gets past
    ``check_setting``."""
    return {"low": low, "high": high}


@dataclass(frozen=True)
class IndexSettings:
    """What the index is made of: a change means indexing again (only these are fingerprinted)."""

    passage_max_words: int = field(default=120, metadata=_limits(20, 2000))
    # a documentation unit (an option entry, an FAQ answer; see structure.is_documentation) is
    # kept whole up to this many words: cut at 120, its answer often lands in a second passage
    # that ranks below the first
    documentation_max_words: int = field(default=160, metadata=_limits(20, 2000))
    # offsets within a document are 32-bit: 1,024 MB keeps them in range
    max_document_mb: int = field(default=20, metadata=_limits(1, 1024))
    bm25_k1: float = field(default=1.2, metadata=_limits(0, 10))
    bm25_b: float = field(default=0.75, metadata=_limits(0, 1))
    allow_outside_paths: bool = False  # may the manifest list documents outside its own folder?


@dataclass(frozen=True)
class AnswerSettings:
    """How questions are answered: read again at every load, never a reason to rebuild."""

    top_k: int = field(default=5, metadata=_limits(1, 100))
    max_question_chars: int = field(default=2000, metadata=_limits(10, 100_000))
    max_history_turns: int = field(default=20, metadata=_limits(0, 1000))
    max_history_chars: int = field(default=20000, metadata=_limits(0, 200_000))
    feedback: bool = False
    # 0 = answer whenever the closest passage is at all likely to hold the answer, 1 = only when
    # nearly certain; 0.5 is the operating point measured in README ("How strict it is").
    strictness: float = field(default=0.5, metadata=_limits(0, 1))


_GROUPS = {"index": IndexSettings, "answer": AnswerSettings}


def _spec(name: str) -> tuple[str, Any]:
    """(group, dataclass field) of a setting; KeyError for an unknown name."""
    for group, cls in _GROUPS.items():
        for f in fields(cls):
            if f.name == name:
                return group, f
    raise KeyError(name)


SETTING_NAMES = tuple(f.name for cls in _GROUPS.values() for f in fields(cls))


def check_setting(name: str, value: Any) -> Any:
    """The one range and type check of every setting (manifest, saved index, CLI, HTTP, API):
    the value as its type, or ValueError saying what is wrong."""
    try:
        _, f = _spec(name)
    except KeyError:
        raise ValueError(f"unknown setting '{name}' (known: {', '.join(sorted(SETTING_NAMES))})") from None
    kind = {"int": int, "float": float, "bool": bool}[f.type if isinstance(f.type, str) else f.type.__name__]
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    low, high = f.metadata["low"], f.metadata["high"]
    between = f"between {low:,g} and {high:,g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{name} must be {'a whole number' if kind is int else 'a number'} {between}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number {between}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be {between}, got {_shown(value)}")
    return kind(value)


def _shown(value: float) -> str:
    """A number for a message: whole numbers with thousands separators, however many digits
    (``str`` refuses integers over 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"{'-' if value < 0 else ''}about 10^{int(math.log10(abs(value)))}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def setting_arg(name: str) -> Callable[[str], Any]:
    """An argparse ``type`` for a command-line setting (``--strictness 0.7``), checked by ``check_setting``."""
    import argparse

    def parse(text: str) -> Any:
        try:
            value: Any = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text  # check_setting says what it must be
        try:
            return check_setting(name, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


@dataclass(frozen=True)
class Settings:
    """A corpus's settings: ``index`` (fingerprinted with the sources) and ``answer`` (not)."""

    index: IndexSettings = field(default_factory=IndexSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)

    def flat(self) -> dict[str, Any]:
        """Every setting by name, as corpus.yaml writes them."""
        return {**asdict(self.index), **asdict(self.answer)}

    def with_values(self, **values: Any) -> "Settings":
        """These settings with some values replaced (each checked by ``check_setting``)."""
        groups: dict[str, dict[str, Any]] = {"index": {}, "answer": {}}
        for name, value in values.items():
            group, _ = _spec(name) if name in SETTING_NAMES else (None, None)
            if group is None:
                raise ValueError(f"unknown setting '{name}'")
            groups[group][name] = check_setting(name, value)
        return Settings(replace(self.index, **groups["index"]), replace(self.answer, **groups["answer"]))


@dataclass(frozen=True)
class DocumentEntry:
    path: str
    id: str
    title: str | None
    metadata: dict[str, Any]
    line: int


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    description: str
    documents: tuple[DocumentEntry, ...]
    settings: Settings = field(default_factory=Settings)
    examples: tuple[str, ...] = ()  # example questions shown on the page


_DOC_KEYS = {"path", "id", "title", "author", "published", "origin", "url", "license", "tags"}


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


MAX_MANIFEST_BYTES = 1024 * 1024
MAX_VALUE_CHARS = 10_000  # a title, an author, a path: never longer
# What a manifest may hold once its YAML aliases are expanded (``title: *v`` repeats the anchored
# value): room for aliases shared by many documents, none for a 190 KB file that expands to 600 MB.
MAX_EXPANDED_CHARS = 16 * MAX_MANIFEST_BYTES
# The corpus.yaml `python -m bot index` writes beside an index lists every file it read (a path and
# a title each, about 28 bytes a file: 76,520 files make 2.1 MB): it may be this large (600,000 files),
# with aliases expanding it to twice that at most.
MAX_LISTING_BYTES = 16 * MAX_MANIFEST_BYTES
MAX_EXAMPLES, MAX_EXAMPLE_CHARS = 50, 500  # example questions: copied into index.json, shown on the page


def _expanded_chars(path: Path, root: yaml.Node, limit: int = MAX_EXPANDED_CHARS) -> int:
    """How many characters of keys and values the manifest holds with every alias expanded: each
    node is sized once (a shared node counts once per use), so a billion-laughs nest is sized in
    a moment; sizing stops past ``limit``; an alias inside its own anchor is refused."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key] = len(node.value)
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        if done:
            open_.discard(key)
            size[key] = min(sum(size[id(c)] for c in children), limit + 1)
            continue
        if key in open_:
            raise CorpusError(f"{_where(path, node)}: a YAML alias refers to the value it is part of")
        open_.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in open_:
                raise CorpusError(f"{_where(path, c)}: a YAML alias refers to the value it is part of")
            stack.append((c, False))
    return size[id(root)]


def _scalar(path: Path, node: yaml.Node, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise CorpusError(f"{_where(path, node)}: {what} must be a single value, not a list or mapping")
    if len(node.value) > MAX_VALUE_CHARS:
        raise CorpusError(f"{_where(path, node)}: {what} is {len(node.value):,} characters long "
                          f"(at most {MAX_VALUE_CHARS:,})")
    # built from the node itself: re-serializing each value made 2,000 aliases of one large value
    # take minutes to load
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node)
    except (ValueError, yaml.YAMLError) as exc:  # an integer of 5,000 digits, a date such as 2024-13-45
        raise CorpusError(f"{_where(path, node)}: {what} is not a value that can be read "
                          f"({str(exc)[:120]})") from None
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.isoformat()
    if isinstance(value, str) and has_surrogates(value):
        raise CorpusError(f"{_where(path, node)}: {what} holds a lone surrogate escape (such as \\ud800), "
                          "which is not text")
    return value


def _mapping(path: Path, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise CorpusError(f"{_where(path, node)}: {what} must be a mapping of keys to values")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for knode, vnode in node.value:
        key = str(_scalar(path, knode, "a key"))
        if key in out:
            raise CorpusError(f"{_where(path, knode)}: duplicate key '{key}' in {what}")
        out[key] = (knode, vnode)
    return out


def settings_from(values: dict[str, Any], where: Callable[[str], str]) -> Settings:
    """Validated Settings from plain values (a manifest's or a saved index's); ``where(key)``
    names the file (and line) of a value for the error message."""
    for key in values:
        if key not in SETTING_NAMES:
            raise CorpusError(f"{where(key)}: unknown setting '{key}' (known: {', '.join(sorted(SETTING_NAMES))})")
    try:
        return Settings().with_values(**values)
    except ValueError:
        pass
    for key, value in values.items():  # which one: the message names its file and line
        try:
            check_setting(key, value)
        except ValueError as exc:
            raise CorpusError(f"{where(key)}: settings.{exc}") from None
    raise AssertionError("unreachable")


def yaml_error(path: Path, exc: yaml.YAMLError) -> CorpusError:
    """``file:line: invalid YAML: problem`` for a YAML file that does not parse."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return CorpusError(f"{path}{line}: invalid YAML: {problem}")


def load_manifest(path: str | Path, beside: bool = False) -> Manifest:
    """Parse and validate ``path``; raise CorpusError with ``file:line: problem`` on failure.
    ``beside``: the corpus.yaml `python -m bot index` wrote beside a saved index, listing every
    file it read: it may be as large as ``MAX_LISTING_BYTES``, and
    document keys starting with "_" are passed over (an earlier version wrote each document's
    structure as "_blocks"); elsewhere they are unknown keys like any other."""
    path = Path(path)
    root = _compose(path, *((MAX_LISTING_BYTES, 2 * MAX_LISTING_BYTES) if beside else (MAX_MANIFEST_BYTES, MAX_EXPANDED_CHARS)))
    top = _mapping(path, root, "the manifest")
    if "documents" not in top:
        raise CorpusError(f"{_where(path, root)}: the manifest has no 'documents' list")
    entries = _documents(path, top["documents"][1], beside)
    settings = _settings(path, top["settings"][1]) if "settings" in top else Settings()
    examples = _examples(path, top["examples"][1]) if "examples" in top else []
    unknown = set(top) - {"name", "description", "documents", "settings", "examples"}
    if unknown:
        key = sorted(unknown)[0]
        raise CorpusError(f"{_where(path, top[key][0])}: unknown key '{key}' "
                          "(known: name, description, documents, settings, examples)")
    name = top.get("name")
    desc = top.get("description")
    return Manifest(
        path=path,
        name=str(_scalar(path, name[1], "name")) if name else path.parent.name,
        description=str(_scalar(path, desc[1], "description")) if desc else "",
        documents=tuple(entries),
        settings=settings,
        examples=tuple(examples),
    )


def _compose(path: Path, max_bytes: int, max_chars: int) -> yaml.Node:
    """The manifest's YAML tree, read within its size limits: bytes, and characters once its
    aliases are expanded."""
    try:
        if path.stat().st_size > max_bytes:
            raise CorpusError(f"{path}: the manifest is over {max_bytes // 1024:,} KB; "
                              "list documents, not their text")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the manifest ({exc})") from None
    try:  # PyYAML's own parser: libyaml's is faster but accepts some files PyYAML refuses (a tab after a value)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if root is None:
        raise CorpusError(f"{path}: the manifest is empty; it needs a 'documents' list")
    if _expanded_chars(path, root, max_chars) > max_chars:
        raise CorpusError(f"{path}: the manifest holds over {max_chars:,} characters once its YAML aliases "
                          "(*name) are expanded; list documents, not their text")
    return root


def _documents(path: Path, docs_node: yaml.Node, skip_private: bool) -> list[DocumentEntry]:
    """The 'documents' list: each entry's path, id (unique), title and metadata."""
    if not isinstance(docs_node, yaml.SequenceNode) or not docs_node.value:
        raise CorpusError(f"{_where(path, docs_node)}: 'documents' must be a non-empty list")
    entries: list[DocumentEntry] = []
    seen: dict[str, int] = {}
    for i, dnode in enumerate(docs_node.value):
        what = f"documents[{i}]"
        if isinstance(dnode, yaml.ScalarNode):  # a bare path is allowed
            fields = {"path": (dnode, dnode)}
        else:
            fields = _mapping(path, dnode, what)
        if skip_private:
            fields = {k: v for k, v in fields.items() if not k.startswith("_")}
        for key, (knode, _) in fields.items():
            if key not in _DOC_KEYS:
                known = ", ".join(sorted(_DOC_KEYS))
                raise CorpusError(f"{_where(path, knode)}: unknown key '{key}' in {what} (known: {known})")
        if "path" not in fields:
            raise CorpusError(f"{_where(path, dnode)}: {what} has no 'path'")
        values = {k: _scalar(path, v, f"{what}.{k}") for k, (_, v) in fields.items() if k != "tags"}
        doc_path = str(values.pop("path") or "").strip()
        if not doc_path:
            raise CorpusError(f"{_where(path, fields['path'][1])}: {what}.path is empty")
        doc_id = str(values.pop("id", None) or Path(doc_path).name)
        if doc_id in seen:
            raise CorpusError(
                f"{_where(path, dnode)}: {what} repeats id '{doc_id}' (first at line {seen[doc_id]})"
            )
        seen[doc_id] = dnode.start_mark.line + 1
        title = values.pop("title", None)
        meta = {k: str(v) for k, v in values.items() if v is not None}
        entries.append(DocumentEntry(doc_path, doc_id, None if title is None else str(title), meta,
                                     dnode.start_mark.line + 1))
    return entries


def _settings(path: Path, node: yaml.Node) -> Settings:
    """The 'settings' mapping: known names only, each value range-checked where it is written."""
    given = {}
    where: dict[str, str] = {}
    for key, (knode, vnode) in _mapping(path, node, "settings").items():
        if key not in SETTING_NAMES:
            known = ", ".join(sorted(SETTING_NAMES))
            raise CorpusError(f"{_where(path, knode)}: unknown setting '{key}' (known: {known})")
        given[key] = _scalar(path, vnode, f"settings.{key}")
        where[key] = _where(path, vnode)
    return settings_from(given, lambda key: where[key])


def _examples(path: Path, enode: yaml.Node) -> list[str]:
    """The 'examples' list of questions, bounded in number and length."""
    if not isinstance(enode, yaml.SequenceNode):
        raise CorpusError(f"{_where(path, enode)}: 'examples' must be a list of questions")
    if len(enode.value) > MAX_EXAMPLES:
        raise CorpusError(f"{_where(path, enode)}: 'examples' lists {len(enode.value):,} questions "
                          f"(at most {MAX_EXAMPLES})")
    examples: list[str] = []
    for n in enode.value:
        examples.append(str(_scalar(path, n, "an example")))
        if len(examples[-1]) > MAX_EXAMPLE_CHARS:
            raise CorpusError(f"{_where(path, n)}: an example question is {len(examples[-1]):,} characters "
                              f"long (at most {MAX_EXAMPLE_CHARS})")
    return examples
