"""A reply as the page shows it: chat messages in Markdown with HTML (the answer with focusable
[n] citations and their passage previews, the support level badge, the hidden plain text the Copy
button copies, the collapsed Sources panel with each document's link). Every piece of corpus or
user text is escaped (``page_escape``) before it becomes Markdown."""
from __future__ import annotations

import html
import re
import urllib.parse
from typing import Any

from bot.answer.render import mark_quotes, page_escape, plain_markdown
from bot.model import Citation, Reply
from bot.serve.attachments import ATTACHED


def highlighted_passage(c: Citation) -> str:
    """The passage, escaped, with the quoted sentences wrapped in <mark>."""
    return mark_quotes(c.passage, c.quotes, lambda q: f"<mark>{page_escape(q)}</mark>", page_escape)


def document_link(c: Citation, conversation: str | None = None) -> str:
    """The cited document's own page, scrolled to the passage, its quotes highlighted (a file
    attached to the conversation: under the conversation's own address)."""
    marks = []
    for q in c.quotes:
        i = c.passage.find(q)
        if i >= 0 and c.start >= 0:
            marks.append(f"{c.start + i}-{c.start + i + len(q)}")
    anchor = "page" if c.source.split("#")[0].lower().endswith(".pdf") else "passage"  # a PDF: its page image
    prefix = f"/conversations/{urllib.parse.quote(conversation, safe='')}" \
        if conversation and c.source.startswith(ATTACHED) else ""
    return (f"{prefix}/documents/{urllib.parse.quote(c.doc_id, safe='')}/view?start={c.start}&end={c.end}"
            f"&hl={','.join(marks)}#{anchor}")


def sources_markdown(citations: list[Citation], turn: int = 0, conversation: str | None = None) -> str:
    blocks = []
    for c in citations:
        credit = ", ".join(page_escape(x) for x in (c.author, c.published) if x)
        doc = f"*{page_escape(c.doc_title)}*" + (f" ({credit})" if credit else "")
        if c.source.startswith(ATTACHED):  # a file attached to this conversation says so
            doc = f'<span class="attached-src">Attached file {page_escape(c.source[len(ATTACHED):])}</span> · {doc}'
        opener = f" · [Open the document]({document_link(c, conversation)})" if c.doc_id else ""
        blocks.append(f'<span id="src-{turn}-{c.id}" class="src-anchor"></span>**[{c.id}] {page_escape(c.title)}** — '
                      f"{doc}{opener}\n\n{highlighted_passage(c)}")
    return "\n\n---\n\n".join(blocks)


_CITE_MARK = re.compile(r"(?<!\\)\[(\d+)\]")


def cited_answer(reply: Reply, turn: int = 0) -> str:
    """The answer with each [n] a focusable citation: hovering or focusing it shows the passage
    with the quote highlighted; clicking it opens that source below the answer (page script)."""
    by_id = {c.id: c for c in reply.citations}

    def cite(m: re.Match[str]) -> str:
        c = by_id.get(int(m.group(1)))
        if c is None:
            return m.group(0)
        label = html.escape(f"Source {c.id}: {c.title}" + (f" ({c.source})" if c.source.startswith(ATTACHED) else ""),
                            quote=True)
        return (f'<span class="cite" tabindex="0" role="button" aria-label="{label}" data-target="src-{turn}-{c.id}">'
                f'[{c.id}]<span class="cite-pop" role="tooltip"><strong>{page_escape(c.title)}</strong><br>'
                f"{highlighted_passage(c)}</span></span>")

    return _CITE_MARK.sub(cite, reply.answer)


LEVELS = {  # support level -> (icon, label): each its own colour, border style and icon on the page
    "answer": ("✓", "Answer from the sources"),
    "closest": ("⚠", "Not a confirmed answer"),
    "none": ("✕", "Not covered by the sources"),
}


def level_badge(reply: Reply) -> str:
    """The reply's support level as a labelled badge, with the confidence (answers too: a 31%
    answer must not look like a 77% one); none for small talk and refused input."""
    level = reply.support
    if reply.kind == "invalid" or (level == "answer" and not reply.citations):
        return ""
    icon, label = LEVELS[level]
    confidence = f" · confidence {reply.confidence:.0%}" if reply.citations else ""
    return f'<span class="level level-{level}">{icon} {label}{confidence}</span>'


def plain_reply(reply: Reply) -> str:
    """What the copy button copies: the answer as plain text with its [n] markers, then a plain
    list of the sources (never the page's markup)."""
    lines = []
    if reply.support != "answer" and reply.citations:
        lines += [f"{LEVELS[reply.support][1]} (confidence {reply.confidence:.0%}).", ""]
    lines.append(plain_markdown(reply.answer))
    if reply.citations:
        lines += ["", "Sources:"]
        for c in reply.citations:
            credit = ", ".join(x for x in (c.author, c.published) if x)
            lines.append(f"[{c.id}] {c.title} - {c.doc_title}" + (f" ({credit})" if credit else "") + f", {c.source}")
    return "\n".join(lines)


def copy_text(reply: Reply) -> str:
    """``plain_reply`` hidden in the message, a line per span (the page's sanitizer keeps classes,
    not data attributes); the page script puts it on the clipboard when Copy is pressed."""
    spans = "".join(f'<span class="copy-line">{page_escape(line) or " "}</span>' for line in plain_reply(reply).split("\n"))
    return f'<span class="copy-text" aria-hidden="true">{spans}</span>'


def reply_messages(reply: Reply, turn: int = 0, conversation: str | None = None) -> list[dict[str, Any]]:
    """Chat messages for a reply: its level badge and the answer, then a collapsed "Sources"
    panel when it cites (``conversation``: the id whose attached files it may cite)."""
    answer = cited_answer(reply, turn)
    badge = level_badge(reply)
    if reply.support == "closest":
        answer = "The sources may not answer this; judge the closest passages yourself.\n\n" + answer
    head = badge + copy_text(reply)
    out: list[dict[str, Any]] = [{"role": "assistant", "content": f"{head}\n\n{answer}" if badge else head + answer}]
    if reply.citations:
        out.append({"role": "assistant", "content": sources_markdown(reply.citations, turn, conversation),
                    "metadata": {"title": f"Sources ({len(reply.citations)})", "status": "done"}})
    return out
