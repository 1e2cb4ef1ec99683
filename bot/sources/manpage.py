"""Man pages rendered as text (``man -P cat``, ``MANWIDTH=80 man ls > ls.txt``) read as their structure.

A rendered man page says everything with indentation: section names (NAME, SYNOPSIS, OPTIONS,
EXIT STATUS, ...) at the left margin, subsections indented a little, body text indented more and
hard-wrapped, a tagged paragraph (an option entry) as its tag line with the description indented
further below it, and examples indented deeper still. This reader turns that into units:

- sections and subsections become headings;
- an option entry becomes a key (its tag, "-x, --exclude=PATTERN") with its description below
  it, the wrapped lines joined into paragraphs;
- a line of a summary table ("--exclude=PATTERN   exclude files matching PATTERN", "0   Success")
  becomes one row, its wrapped continuation lines joined to it;
- lines indented deeper than the paragraph they follow are code (examples), kept line by line.

The running header and footer lines ("TAR(1)  GNU TAR Manual  TAR(1)") are dropped, and the
document's title is its NAME line ("tar - an archiving utility").
"""
from __future__ import annotations

import re

from bot.sources.structure import CODE, HEADING, ITEM, KEY, PARAGRAPH, ROW, Builder

_HEADER = re.compile(r"^(\S+)\((\d[\w+-]*)\)\s{2,}.*?\s{2,}\1\(\2\)\s*$")
_FOOTER = re.compile(r"^\S.*\s{3,}\S.*\s{3,}(\S+)\((\d[\w+-]*)\)\s*$")
_SECTION = re.compile(r"^[A-Z][A-Z0-9 /&,()'-]{1,60}$")
# an option tag or a short key: starts with a dash or plus, or is one short token of a table
_TAG_START = re.compile(r"^[-+]{1,2}[\w?#@]|^[A-Z_][A-Z0-9_]{1,}\b|^\w{1,12}$")
# a lower-case key followed by its syntax: a mount option ("commit=<seconds>", "compress, compress=<type>"),
# a subcommand with its arguments ("resize [options] <path>", "sync <path>")
_WORD_TAG = re.compile(r"^[a-z][\w.-]*(?:=|,\s|\s+[\[<{(]|\s*[|\[<{])")
# an admonition's label ("NOTE:", "Warning:") over its indented text: a note, not a key
_LABEL = re.compile(r"^[A-Za-z]+:$")
_ROW = re.compile(r"^(\S(?:\S| (?! ))*?)\s{2,}(\S.*)$")  # key, two or more spaces, description
_OVERSTRIKE = re.compile(r".\x08")


def looks_like_man(text: str) -> bool:
    """A man page rendered as text: its first line is the running header ``NAME(1) ... NAME(1)``,
    or it opens with a NAME section whose body is indented."""
    lines = [x for x in text[:4000].split("\n") if x.strip()]
    if not lines:
        return False
    if _HEADER.match(_OVERSTRIKE.sub("", lines[0])):
        return True
    return len(lines) > 2 and lines[0].strip() == "NAME" and lines[1].startswith((" ", "\t"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _join(lines: list[str]) -> str:
    """Wrapped lines as one paragraph (a word broken at a hyphen keeps its hyphen)."""
    out = ""
    for line in lines:
        s = line.strip()
        if not out:
            out = s
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and s[:1].islower():
            out += s
        else:
            out += " " + s
    return out


def read_man(text: str) -> tuple[str, list[int], str | None]:
    """(clean text, its blocks, the title from the NAME section) of a rendered man page."""
    text = _OVERSTRIKE.sub("", text.replace("\t", "        "))
    raw = text.split("\n")
    lines = [x.rstrip() for x in raw]
    if lines and _HEADER.match(lines[0].strip() and lines[0] or ""):
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and _FOOTER.match(lines[-1]):
        lines = lines[:-1]
    b = Builder()
    title: str | None = None
    runs = _runs(lines)
    i = 0
    # open keys: (indent of the tag line, level); the description of a key is indented deeper
    keys: list[tuple[int, int]] = []
    section_level = 0
    para_indent: int | None = None  # indent of the last paragraph's text (code is deeper)
    while i < len(runs):
        run = runs[i]
        first = run[0]
        ind = _indent(first)
        body = first.strip()
        level = _heading_level(run)
        if level:  # a section at the margin, or a subsection indented a little
            keys.clear()
            section_level = level
            b.add(HEADING, body, level)
            para_indent = None
            i += 1
            continue
        while keys and ind <= keys[-1][0]:
            keys.pop()
        if para_indent is not None and ind > para_indent + 1 and not _is_tag_run(run):
            b.add(CODE, "\n".join(run))
            i += 1
            continue
        if _LABEL.match(body) and (len(run) > 1 and _indent(run[1]) > ind or _next_is_deeper(runs, i, ind)):
            # "NOTE:" with its text indented below it: the label opens a paragraph of the unit it sits in
            rest = run[1:]
            if rest:  # the label opens the note's first paragraph ("NOTE: Scrub is not ...")
                para_indent = _indent(rest[0])
                _paragraphs(b, [" " * para_indent + body + " " + rest[0].strip(), *rest[1:]])
            else:
                b.add(PARAGRAPH, body)
                para_indent = None  # the text below is read as paragraphs, not as code
            i += 1
            continue
        if _is_tag_run(run) or (len(run) == 1 and _next_is_deeper(runs, i, ind) and _tag_line(first)):
            # a tag line (maybe several, "-a" / "--all" on their own lines) and its description
            tags = [run[0]]
            k = 1
            while k < len(run) and _indent(run[k]) == ind and _tag_more(run[k]):
                tags.append(run[k])
                k += 1
            level = section_level + 1 + len(keys)
            b.add(KEY, _join_tags(tags), level)
            keys.append((ind, level))
            rest = run[k:]
            if rest:
                para_indent = _indent(rest[0])
                _paragraphs(b, rest)
            else:
                para_indent = ind + 1
            i += 1
            continue
        if _table_like(run):
            _rows(b, run)
            para_indent = ind
            i += 1
            continue
        if title is None and b.blocks and b.blocks[-1].kind == HEADING and b.text_of(-1) == "NAME":
            title = _join(run)
        _paragraphs(b, run)
        para_indent = ind
        i += 1
    out, flat = b.build()
    return out, flat, title


def _join_tags(tags: list[str]) -> str:
    """Tag lines as one key: "-a" / "--all" -> "-a, --all"; a line ending in a comma, or one of
    arguments ("<path>"), goes on the line before."""
    out = ""
    for t in (x.strip() for x in tags):
        out = t if not out else out + (" " if out.endswith(",") or t[:1] in "<[{" else ", ") + t
    return out


def _heading_level(run: list[str]) -> int:
    """1 for a section name at the margin, 2 for a subsection indented a little, 0 otherwise."""
    if len(run) != 1:
        return 0
    ind, body = _indent(run[0]), run[0].strip()
    if ind == 0 and _SECTION.match(body):
        return 1
    if 0 < ind <= 4 and len(body.split()) <= 10 and not body.endswith((".", ",", ";")):
        return 2
    return 0


def _heading_line(line: str) -> bool:
    """A section or subsection name: at the margin or indented a little, short, no sentence end."""
    body = line.strip()
    return (_indent(line) <= 4 and len(body.split()) <= 10 and not body.endswith((".", ",", ";", ":"))
            and (_indent(line) > 0 or _SECTION.match(body) is not None))


def _runs(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines; a heading line is a run of its own even without blank lines around it."""
    runs: list[list[str]] = []
    cur: list[str] = []
    for line in lines:
        if line.strip() and _heading_line(line):
            if cur:
                runs.append(cur)
            runs.append([line])
            cur = []
        elif line.strip():
            cur.append(line)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


_BULLET = re.compile(r"^(?:[o•*·+-]|\d{1,2}[.)])(?:\s+|$)")


def _tag_line(line: str) -> bool:
    """An option tag or a key alone on its line ("-a, --all", "--exclude=PATTERN", "TAR_SIZE",
    "commit=<seconds>", "resize [options] <path>"); an admonition's label ("NOTE:") is none."""
    body = line.strip()
    keyish = (_TAG_START.match(body) is not None and not _LABEL.match(body)) or \
        (_WORD_TAG.match(body) is not None and not body.endswith(":"))
    return (keyish and "  " not in body and len(body) <= 80 and not body.endswith(".")
            and not (_BULLET.match(body) and not body.startswith(("-", "+"))))


def _tag_more(line: str) -> bool:
    """A line continuing a tag: another tag, or the arguments of a long one ("<path>")."""
    body = line.strip()
    return _tag_line(line) or (body[:1] in "<[{" and "  " not in body and len(body) <= 80)


def _is_tag_run(run: list[str]) -> bool:
    """A run whose first line is a tag and whose next line is indented deeper (the description)."""
    if len(run) < 2 or not _tag_line(run[0]):
        return False
    ind = _indent(run[0])
    j = 1
    while j < len(run) and _indent(run[j]) == ind and _tag_more(run[j]):
        j += 1
    return j < len(run) and _indent(run[j]) >= ind + 3


def _next_is_deeper(runs: list[list[str]], i: int, ind: int) -> bool:
    return i + 1 < len(runs) and _indent(runs[i + 1][0]) >= ind + 3


def _table_like(run: list[str]) -> bool:
    """Lines of key, gap, description (continuation lines indented to the description column).
    The key is short and is not a sentence: "0", "SSH_AUTH_SOCK", "--exclude=PATTERN"."""
    m = _ROW.match(run[0].strip())
    if not m or len(m.group(1)) > 40 or len(m.group(1).split()) > 3 or m.group(1).endswith((".", ",", ";", ":")):
        return False
    col = _indent(run[0]) + run[0].strip().index(m.group(2))
    for line in run[1:]:
        if _ROW.match(line.strip()) and _indent(line) == _indent(run[0]):
            continue
        if _indent(line) < col - 1:
            return False
    return True


def _rows(b: Builder, run: list[str]) -> None:
    base = _indent(run[0])
    cur: list[str] = []
    for line in run:
        if _indent(line) == base and cur:
            b.add(ROW, _join(cur))
            cur = []
        cur.append(line)
    if cur:
        b.add(ROW, _join(cur))


def _paragraphs(b: Builder, run: list[str]) -> None:
    """A run of lines as paragraphs; a line opening with a bullet ("o", "•") starts a list item
    (its wrapped lines, indented to its text, belong to it); other lines indented deeper than
    the run's first are code."""
    base = _indent(run[0])
    prose: list[str] = []
    code: list[str] = []
    item_col: int | None = None
    for line in run:
        m = _BULLET.match(line.strip())
        if m and _indent(line) == base and not line.strip().startswith(("-", "+")):
            if prose or code:
                _flush(b, prose, code)
                prose, code = [], []
            item_col = base + m.end()
            prose.append(line)
            continue
        if item_col is not None and _indent(line) >= item_col - 1 and not code:
            prose.append(line)
            continue
        if _indent(line) > base + 1 and prose:
            code.append(line)
            continue
        item_col = None
        if code:
            _flush(b, prose, code)
            prose, code = [], []
        prose.append(line)
    _flush(b, prose, code)


def _flush(b: Builder, prose: list[str], code: list[str]) -> None:
    if prose:
        m = _BULLET.match(prose[0].strip())
        if m and not prose[0].strip().startswith(("-", "+")):
            first = prose[0].strip()[m.end():]
            b.add(ITEM, _join([first, *prose[1:]]))
        else:
            b.add(PARAGRAPH, _join(prose))
    if code:
        b.add(CODE, "\n".join(code))
