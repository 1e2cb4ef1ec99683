"""Rendering, for every front end: the reply templates, Markdown and HTML escaping, quote
marking in a passage (terminal and page), text safe for a terminal, and JSON lines.

Templates never carry facts: their placeholders are filled with corpus quotes, headings,
citation markers or the user's own words, all escaped here.
"""
from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Sequence

import yaml

from bot.config import without_surrogates

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~#!{}])")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
LINE_BREAKERS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}


@lru_cache(maxsize=1)
def templates() -> dict:
    text = resources.files(__package__).joinpath("templates.yaml").read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml's where installed


def fill(section: str, name: str, **values: str) -> str:
    return templates()[section][name].format(**values)


def md_escape(text: str) -> str:
    """Escape text for Markdown so it shows literally (HTML and Markdown syntax alike)."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def md_code(text: str) -> str:
    """Text as a Markdown code span (a command, an option, a code block): shown as written, in a
    code font; the fence is longer than any run of backticks inside, and lines are joined."""
    body = " ".join(text.replace("\r", " ").split("\n"))
    fence = "`" * (max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def plain_markdown(md: str) -> str:
    """Answer Markdown shown as plain text: drop our emphasis marks, then the backslash escapes
    (corpus text keeps its own asterisks: they are escaped)."""
    md = re.sub(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", r"\1", md)  # **heading** -> heading
    md = re.sub(r"(?<!\\)\*(.+?)(?<!\\)\*", r'"\1"', md)  # *word* -> "word"
    return re.sub(r"\\([\\`*_\[\]<>&|~#!{}])", r"\1", md)


def join_words(items: Sequence[str]) -> str:
    items = [f"*{md_escape(i)}*" for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def page_escape(text: str) -> str:
    """Corpus or user text -> Markdown that displays it literally (HTML entities + Markdown escapes)."""
    return md_escape(html.escape(text, quote=False)).replace("\\&", "&")


def mark_quotes(passage: str, quotes: Sequence[str], mark: Callable[[str], str],
                plain: Callable[[str], str] = lambda s: s) -> str:
    """The passage with each quoted sentence passed through ``mark`` and the rest through ``plain``
    (the terminal bolds or brackets quotes; the page escapes text and wraps quotes in <mark>)."""
    spans = sorted((i, i + len(q)) for q in quotes if (i := passage.find(q)) >= 0)
    out, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        out.append(plain(passage[pos:a]))
        out.append(mark(passage[a:b]))
        pos = b
    out.append(plain(passage[pos:]))
    return "".join(out)


def term(text: Any, one_line: bool = False) -> str:
    """Text from a corpus, a file name or a question, safe to print on a terminal: control
    characters (ESC, OSC, CSI, C1, bidirectional overrides) shown as escapes, never sent raw;
    ``one_line`` escapes line breaks too (a file name with a newline cannot forge an extra line)."""
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       without_surrogates(str(text)))


def printable(text: Any) -> Any:
    """Text that can be written as UTF-8: lone surrogates (from JSON escapes) become U+FFFD."""
    return without_surrogates(text) if isinstance(text, str) else text


def jsonl(obj: Any) -> str:
    """One JSON line: UTF-8 kept readable, but the characters that line-splitting readers
    (Python's str.splitlines, JavaScript) take for line ends are escaped."""
    line = json.dumps(obj, ensure_ascii=False)
    for raw, escaped in LINE_BREAKERS.items():
        line = line.replace(raw, escaped)
    return line
