"""Read and validate a corpus manifest (``corpus.yaml``), naming file and line on any error.

The manifest is small, so validation walks PyYAML's node tree directly: that keeps the line
number of every value (schema libraries such as pydantic lose it) and keeps the CLI light.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml


class CorpusError(ValueError):
    """A corpus that cannot be loaded; the message names the file (and line) at fault."""


@dataclass(frozen=True)
class Settings:
    top_k: int = 5
    max_question_chars: int = 2000
    max_history_turns: int = 20
    passage_max_words: int = 120
    max_history_chars: int = 20000
    max_document_mb: int = 20
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    feedback: bool = False
    # 0 = answer whenever the closest passage is at all likely to hold the answer, 1 = only when
    # nearly certain; 0.5 is the operating point measured in README ("How strict it is").
    strictness: float = 0.5
    allow_outside_paths: bool = False  # may the manifest list documents outside its own folder?


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


# name -> (type, minimum); bool settings have no minimum
_SETTING_TYPES: dict[str, tuple[type, int | None]] = {
    "top_k": (int, 1),
    "max_question_chars": (int, 10),
    "max_history_turns": (int, 0),
    "passage_max_words": (int, 20),
    "max_history_chars": (int, 0),
    "max_document_mb": (int, 1),
    "feedback": (bool, None),
    "bm25_k1": (float, 0),
    "bm25_b": (float, 0),
    "strictness": (float, 0),
    "allow_outside_paths": (bool, None),
}
_DOC_KEYS = {"path", "id", "title", "author", "published", "origin", "url", "license", "tags"}


def _where(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


MAX_MANIFEST_BYTES = 1024 * 1024
MAX_VALUE_CHARS = 10_000  # a title, an author, a path: never longer


def _scalar(path: Path, node: yaml.Node, what: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise CorpusError(f"{_where(path, node)}: {what} must be a single value, not a list or mapping")
    if len(node.value) > MAX_VALUE_CHARS:
        raise CorpusError(f"{_where(path, node)}: {what} is {len(node.value):,} characters long "
                          f"(at most {MAX_VALUE_CHARS:,})")
    # built from the node itself: re-serializing each value made 2,000 aliases of one large value
    # take minutes to load
    value = yaml.constructor.SafeConstructor().construct_object(node)
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.isoformat()
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
    given: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _SETTING_TYPES:
            raise CorpusError(f"{where(key)}: unknown setting '{key}'")
        kind, minimum = _SETTING_TYPES[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise CorpusError(f"{where(key)}: settings.{key} must be a whole number")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise CorpusError(f"{where(key)}: settings.{key} must be a number")
        if kind is bool and not isinstance(value, bool):
            raise CorpusError(f"{where(key)}: settings.{key} must be true or false")
        if kind is float and not math.isfinite(value):
            raise CorpusError(f"{where(key)}: settings.{key} must be a finite number")
        if minimum is not None and value < minimum:
            raise CorpusError(f"{where(key)}: settings.{key} must be at least {minimum}")
        if key in ("bm25_b", "strictness") and value > 1:
            raise CorpusError(f"{where(key)}: settings.{key} must be between 0 and 1")
        given[key] = float(value) if kind is float else value
    return Settings(**given)


def load_manifest(path: str | Path) -> Manifest:
    """Parse and validate ``path``; raise CorpusError with ``file:line: problem`` on failure."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise CorpusError(f"{path}: the manifest is over {MAX_MANIFEST_BYTES // 1024:,} KB; "
                              "list documents, not their text")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the manifest ({exc})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CorpusError(f"{path}{line}: invalid YAML: {problem}") from None
    if root is None:
        raise CorpusError(f"{path}: the manifest is empty; it needs a 'documents' list")
    top = _mapping(path, root, "the manifest")
    if "documents" not in top:
        raise CorpusError(f"{_where(path, root)}: the manifest has no 'documents' list")
    docs_node = top["documents"][1]
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
    settings = Settings()
    if "settings" in top:
        given = {}
        where: dict[str, str] = {}
        for key, (knode, vnode) in _mapping(path, top["settings"][1], "settings").items():
            if key not in _SETTING_TYPES:
                known = ", ".join(sorted(_SETTING_TYPES))
                raise CorpusError(f"{_where(path, knode)}: unknown setting '{key}' (known: {known})")
            given[key] = _scalar(path, vnode, f"settings.{key}")
            where[key] = _where(path, vnode)
        settings = settings_from(given, lambda key: where[key])
    examples: list[str] = []
    if "examples" in top:
        enode = top["examples"][1]
        if not isinstance(enode, yaml.SequenceNode):
            raise CorpusError(f"{_where(path, enode)}: 'examples' must be a list of questions")
        examples = [str(_scalar(path, n, "an example")) for n in enode.value]
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
