"""The chat page (Gradio). The only module that imports gradio; all answering is ``ChatBot.ask``.

Every piece of corpus or user text is escaped before it becomes Markdown: Gradio sanitizes HTML
but still renders it, so an ``<img>`` in a question or passage would otherwise show as an image.
"""
from __future__ import annotations

import html
import itertools
import os
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bot.index import layout  # noqa: E402
from bot.chatbot import ChatBot, LiveBot  # noqa: E402
from bot.model import Citation, Reply  # noqa: E402
from bot.answer.examples import example_questions as corpus_examples  # noqa: E402
from bot.answer.examples import heading_question  # noqa: E402,F401  (re-exported: the page's tests use it)
from bot.answer.render import mark_quotes, page_escape, plain_markdown  # noqa: E402
from bot.serve import server  # noqa: E402
from bot.serve.feedback import FEEDBACK_CHARS, FeedbackLog, redact  # noqa: E402,F401  (FEEDBACK_CHARS, redact: re-exported)
from bot.serve.attachments import ATTACHED, AttachError, Attachments  # noqa: E402
from bot.serve.web import Guard, echo, make_app  # noqa: E402

ATTACH_TYPES = ".pdf,.md,.markdown,.txt,.html,.htm,.jsonl,application/pdf,text/plain,text/markdown,text/html"
GLOSSARY_ROWS = 200  # the page shows the first ones; the CLI lists all
CONCURRENCY = 16  # answering takes milliseconds and shares no state between conversations
SESSIONS = 1000  # conversations kept in memory (Gradio's default is 10,000); the oldest go first


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


class Conversation:
    """One browser tab's conversation, kept on the server. Questions sent while an answer is
    pending wait in ``pending`` and are answered in order; nothing is lost or overwritten."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []  # what the chat shows
        self.history: list[dict[str, str]] = []  # what the bot reads for follow-ups
        self.turns: list[tuple[str, str]] = []  # (question, answer) per exchange, for feedback
        self.turn_of: list[int | None] = []  # display message -> its exchange
        self.pending: list[str] = []
        self.attach_id: str | None = None  # its files' conversation in the attachments store

    def __deepcopy__(self, memo: dict) -> "Conversation":  # gr.State copies its initial value
        return Conversation()

    def shown(self) -> list[dict[str, Any]]:
        """The chat as shown now: answered exchanges, then questions waiting for their answer."""
        out = list(self.messages)
        for q in list(self.pending):
            out.append({"role": "user", "content": page_escape(echo(q))})
        if self.pending:
            out.append({"role": "assistant", "content": "*Searching the sources…*"})
        return out

    def answer_pending(self, bot: ChatBot, attachments: Attachments | None = None) -> None:
        """Answer the waiting questions in order, from the corpus and this conversation's files."""
        with self.lock:
            while self.pending:
                # stays in ``pending`` (shown, with "Searching") until its answer is in: popped
                # first, it vanished from the chat while a later question was shown alone
                question = self.pending[0]
                try:
                    reply = None
                    if attachments is not None and self.attach_id:
                        try:
                            reply = attachments.ask(self.attach_id, bot, question, self.history)
                        except AttachError:  # removed (idle, memory): the corpus alone answers
                            reply = None
                    reply = reply or bot.ask(question, self.history)
                finally:
                    self.pending.pop(0)
                turn = len(self.turns)
                self.turns.append((question, reply.answer))
                shown = [{"role": "user", "content": page_escape(echo(question))}] + \
                    reply_messages(reply, turn, self.attach_id)
                self.messages.extend(shown)
                self.turn_of.extend([turn] * len(shown))
                if reply.kind != "invalid":  # a refused question (too long, empty) is not kept
                    self.history += [{"role": "user", "content": question},
                                     {"role": "assistant", "content": reply.answer}]
                turns = bot.settings.answer.max_history_turns
                self.history = self.history[-2 * turns:] if turns else []

    def reset(self) -> None:
        with self.lock:
            self.messages, self.history, self.turns, self.turn_of, self.pending = [], [], [], [], []


def example_questions(bot: ChatBot) -> list[str]:
    """The corpus's own examples, else questions drawn from its units (``answer.examples``)."""
    return corpus_examples(bot.index, bot.manifest.examples, bot.documents)


def corpus_phrase(bot: ChatBot) -> str:
    return f"*{page_escape(bot.documents[0].title)}*" if len(bot.documents) == 1 else \
        f"the {len(bot.documents):,} documents listed under *Sources loaded*"


PAGE_CSS = """
#chat .cite { color: #1d4ed8; text-decoration: underline; cursor: pointer; position: relative; white-space: nowrap; }
.dark #chat .cite { color: #93c5fd; }
#chat .cite:focus { outline: 2px solid #2563eb; outline-offset: 1px; border-radius: 2px; }
#chat .cite-pop { display: none; position: fixed; left: 8px; top: 8px; z-index: 60; width: min(30rem, calc(100vw - 16px));
  box-sizing: border-box; overflow: auto;
  white-space: normal; text-decoration: none; cursor: auto; padding: .6rem .75rem; border-radius: 6px;
  font-size: 14px; line-height: 1.45; background: #ffffff; color: #111827; border: 1px solid #6b7280;
  box-shadow: 0 6px 24px rgba(0,0,0,.25); }
.dark #chat .cite-pop { background: #1f2937; color: #f3f4f6; border-color: #9ca3af; }
#chat .cite:hover .cite-pop, #chat .cite:focus .cite-pop, #chat .cite:focus-within .cite-pop { display: block; }
#chat .cite:hover, #chat .cite:focus, #chat .cite:focus-within { z-index: 70; }
#chat .message-content:has(.cite:hover), #chat .message-content:has(.cite:focus) { position: relative; z-index: 70; }
#chat mark { background: #fde047; color: #111827; padding: 0 1px; }
.dark #chat mark { background: #facc15; color: #111827; }
#chat .thought-group, #chat .thought-group p, #chat .thought-group .message-content { font-size: 14px; }
#chat .thought-group p { color: #1f2937; }
.dark #chat .thought-group p { color: #f3f4f6; }
#chat :has(> .src-anchor) { scroll-margin-top: 4px; }
#chat .flash { outline: 3px solid #f59e0b; border-radius: 4px; transition: outline-color 1s; }
body.cite-quiet #chat .cite-pop { display: none !important; }
#chat .copy-text { display: none; }
#chat .level { display: inline-block; font-weight: 600; font-size: 14px; line-height: 1.4; padding: 1px 10px;
  border-radius: 999px; border: 2px solid; margin-bottom: .25rem; }
#chat .level-answer { color: #065f46; background: #ecfdf5; border-color: #047857; border-style: solid; }
#chat .level-closest { color: #7c2d12; background: #fffbeb; border-color: #b45309; border-style: dashed; }
#chat .level-none { color: #1f2937; background: #f3f4f6; border-color: #4b5563; border-style: dotted; }
.dark #chat .level-answer { color: #a7f3d0; background: #022c22; border-color: #34d399; }
.dark #chat .level-closest { color: #fde68a; background: #2b1a05; border-color: #f59e0b; }
.dark #chat .level-none { color: #e5e7eb; background: #1f2937; border-color: #9ca3af; }
#chat .message:has(.level-answer) { border-left: 5px solid #047857 !important; }
#chat .message:has(.level-closest) { border-left: 5px dashed #b45309 !important; }
#chat .message:has(.level-none) { border-left: 5px dotted #4b5563 !important; }
.dark #chat .message:has(.level-answer) { border-left-color: #34d399 !important; }
.dark #chat .message:has(.level-closest) { border-left-color: #f59e0b !important; }
.dark #chat .message:has(.level-none) { border-left-color: #9ca3af !important; }
#question-count { font-size: 14px; color: #374151; padding: 2px 4px 0; }
#question-count:empty { display: none; }
#question-count.over { color: #b91c1c; font-weight: 600; }
.dark #question-count { color: #d1d5db; } .dark #question-count.over { color: #fca5a5; }
footer .show-api, footer a, footer button { color: #374151 !important; }
.dark footer .show-api, .dark footer a, .dark footer button { color: #d1d5db !important; }
#examples button.example { white-space: normal; text-align: left; }
#intro h1 { margin-bottom: .25rem; }
"""

# The page's behaviour, in the browser (no data-* attributes: the chat's sanitizer drops them):
# - a citation [n] (click, tap, Enter or Space) opens its answer's Sources panel on source n and
#   scrolls it into view; a second click keeps it open; its preview then hides until the pointer
#   or focus leaves, so it never covers the source it opened;
# - previews are placed inside the viewport;
# - a new reply is scrolled so that its first line is in view (the chat's own autoscroll is off);
# - Copy puts the reply's plain text on the clipboard, not its markup;
# - a character counter under the question box near and over the limit;
# - messages are announced by their visible text.
PAGE_SCRIPT = """<script>
(function () {
  const LIMIT = __LIMIT__;
  function messages() {
    return Array.from(document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]'));
  }
  function sourcesFor(answer) {
    const all = messages();
    for (let j = all.indexOf(answer) + 1; j < all.length && all[j].getAttribute('data-testid') === 'bot'; j++) {
      const group = all[j].querySelector('.thought-group');
      if (group) return group;
    }
    return null;
  }
  function numberOf(cite) {
    const m = /\\[(\\d+)\\]/.exec(cite.firstChild ? cite.firstChild.textContent : '');
    return m ? m[1] : null;
  }
  function reveal(anchor) {
    const block = anchor.parentElement;
    block.setAttribute('tabindex', '-1');
    block.scrollIntoView({block: 'start'});
    block.focus({preventScroll: true});
    block.classList.add('flash');
    setTimeout(function () { block.classList.remove('flash'); }, 1600);
    // the panel may still be opening (its height animating, the chat redrawing): scroll again
    // once it has settled if the source is not in view by then
    [120, 350, 700].forEach(function (ms) {
      setTimeout(function () {
        if (!block.isConnected) return;
        const r = block.getBoundingClientRect();
        if (r.top < 0 || r.top >= window.innerHeight - 20) block.scrollIntoView({block: 'start'});
      }, ms);
    });
  }
  function open(cite) {
    const n = numberOf(cite), answer = cite.closest('[data-testid="bot"]');
    document.body.classList.add('cite-quiet');  // the chat may redraw the cite: the body keeps the state
    const group = n && answer ? sourcesFor(answer) : null;
    if (!group) return;
    const title = group.querySelector('.title');
    if (title && !title.classList.contains('expanded')) title.click();
    let tries = 0;
    (function look() {
      const anchor = Array.from(group.querySelectorAll('.src-anchor')).find(function (a) { return a.id.endsWith('-' + n); });
      if (anchor) reveal(anchor); else if (++tries < 120) requestAnimationFrame(look);
    })();
  }
  function place(cite) {
    const pop = cite.querySelector('.cite-pop');
    if (!pop) return;
    const r = cite.getBoundingClientRect(), vw = document.documentElement.clientWidth, vh = window.innerHeight;
    pop.style.maxHeight = Math.max(120, vh - 16) + 'px';
    const w = pop.offsetWidth, h = pop.offsetHeight;
    let left = Math.min(Math.max(8, r.left), vw - w - 8), top = r.bottom + 6;
    if (top + h > vh - 8) top = r.top - h - 6 >= 8 ? r.top - h - 6 : Math.max(8, vh - h - 8);
    pop.style.left = Math.max(8, left) + 'px';
    pop.style.top = top + 'px';
  }
  document.addEventListener('click', function (e) {
    const copy = e.target.closest && e.target.closest('#chat button[aria-label="Copy message"]');
    if (copy) {
      let row = copy.closest('.message-buttons');
      row = row && row.previousElementSibling;
      while (row && !row.classList.contains('message-row')) row = row.previousElementSibling;
      const text = row && row.querySelector('.copy-text');
      if (text) {
        e.preventDefault(); e.stopPropagation();
        const plain = Array.from(text.querySelectorAll('.copy-line')).map(function (l) { return l.textContent.trim(); }).join('\\n');
        if (navigator.clipboard) navigator.clipboard.writeText(plain);
        window.__lastCopied = plain;
        copy.setAttribute('title', 'Copied');
        return;
      }
    }
    const cite = e.target.closest && e.target.closest('#chat .cite');
    if (cite && !e.target.closest('.cite-pop')) { e.preventDefault(); open(cite); }
  }, true);
  document.addEventListener('keydown', function (e) {
    const t = e.target;
    if ((e.key === 'Enter' || e.key === ' ') && t.classList && t.classList.contains('cite')) { e.preventDefault(); open(t); }
  });
  ['mouseover', 'focusin'].forEach(function (kind) {
    document.addEventListener(kind, function (e) {
      const cite = e.target.closest && e.target.closest('#chat .cite');
      if (cite && !cite.contains(e.relatedTarget)) place(cite);
    });
  });
  // previews come back once the pointer really moves (a tap leaves a hover behind) or a
  // citation is focused again
  let quietAt = null;
  document.addEventListener('pointerdown', function (e) { quietAt = [e.clientX, e.clientY]; }, true);
  document.addEventListener('pointermove', function (e) {
    if (e.pointerType !== 'mouse' || !document.body.classList.contains('cite-quiet')) return;
    if (!quietAt || Math.abs(e.clientX - quietAt[0]) + Math.abs(e.clientY - quietAt[1]) > 12) {
      document.body.classList.remove('cite-quiet');
    }
  });
  document.addEventListener('keyup', function (e) {
    if (e.key === 'Tab') document.body.classList.remove('cite-quiet');
  });
  // the question box: a counter near and over the limit (nothing typed or pasted is ever cut)
  function counter() {
    const box = document.querySelector('#question textarea');
    if (!box) return;
    let note = document.getElementById('question-count');
    if (!note) {
      note = document.createElement('div');
      note.id = 'question-count';
      note.setAttribute('aria-live', 'polite');
      box.setAttribute('aria-describedby', 'question-count');
      document.getElementById('question').appendChild(note);
    }
    const n = box.value.length;
    note.classList.toggle('over', n > LIMIT);
    note.textContent = n > LIMIT ? n.toLocaleString('en') + ' / ' + LIMIT.toLocaleString('en') + ' characters: ' +
      (n - LIMIT).toLocaleString('en') + ' too many. Shorten the question to send it (your text stays here).'
      : n >= LIMIT * 0.8 ? n.toLocaleString('en') + ' / ' + LIMIT.toLocaleString('en') + ' characters' : '';
  }
  document.addEventListener('input', function (e) { if (e.target.closest && e.target.closest('#question')) counter(); });
  // what each Enter or Ask sends, read at the key or click itself: Gradio reads the box a moment
  // later, when a question typed next may already be there (ten fast Enters lost some)
  window.__asked = [];
  let retrying = false;
  function asked() {
    const box = document.querySelector('#question textarea');
    if (!box) return;
    const entry = {text: box.value, at: Date.now(), retry: retrying};
    window.__asked.push(entry);
    // Gradio sometimes drops the first event after a page loads (gradio-app/gradio#13599: a second
    // click works): a question its event never took, still whole in the box, is sent once more
    setTimeout(function () {
      const i = window.__asked.indexOf(entry);
      if (i < 0 || entry.retry) return;
      window.__asked.splice(i, 1);
      const now = document.querySelector('#question textarea'), ask = document.getElementById('ask');
      if (now && ask && now.value.trim() === entry.text.trim() && entry.text.trim()) {
        retrying = true;
        try { ask.click(); } finally { retrying = false; }
      }
    }, 3000);
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.target.closest && e.target.closest('#question')) asked();
  }, true);
  document.addEventListener('click', function (e) { if (e.target.closest && e.target.closest('#ask')) asked(); }, true);
  // a new reply: scroll so that its first line is in view
  let lastReply = null;
  function followReply() {
    const bots = Array.from(document.querySelectorAll('#chat [data-testid="bot"]')).filter(function (m) {
      return !m.querySelector('.thought-group');
    });
    const last = bots[bots.length - 1];
    if (!last || last === lastReply) return;
    if (last.textContent.indexOf('Searching the sources') >= 0) {
      const users = document.querySelectorAll('#chat [data-testid="user"]');
      if (users.length) users[users.length - 1].scrollIntoView({block: 'nearest'});
      return;
    }
    lastReply = last;
    last.scrollIntoView({block: 'start'});
  }
  // Screen readers announce a message by its aria-label, which Gradio fills with the raw Markdown
  // (asterisks, escaped entities, our citation markup): name each message by its visible text.
  function relabel() {
    document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]').forEach(function (m) {
      const kind = m.getAttribute('data-testid') === 'bot' ? 'Answer' : 'Question';
      const clone = m.cloneNode(true);
      clone.querySelectorAll('.cite-pop, .copy-text').forEach(function (p) { p.remove(); });
      const text = kind + ': ' + clone.textContent.replace(/\\s+/g, ' ').trim().slice(0, 400);
      if (m.getAttribute('aria-label') !== text) m.setAttribute('aria-label', text);
    });
  }
  new MutationObserver(function () {
    clearTimeout(window.__relabel);
    window.__relabel = setTimeout(function () { relabel(); followReply(); counter(); }, 30);
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();
</script>"""


# Runs in the browser as a question is sent: the box is emptied there and then (if it still holds
# that question), so nothing typed after it is lost; the question goes on to ``send`` unchanged.
# A question over the limit stays in the box to be shortened (the reply says how long it is).
CLEAR_BOX_JS = """(message, conv, ...tab) => {
  const box = document.querySelector('#question textarea');
  const limit = __LIMIT__;
  const asked = window.__asked || [];
  while (asked.length && Date.now() - asked[0].at > 30000) asked.shift();
  const sent = asked.length ? asked.shift().text : message;
  if (box && box.value === sent && sent.length <= limit) {
    box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true}));
  }
  return [sent, conv, ...tab];
}"""


ATTACH_CSS = """
#attach-box { padding: 0; }
#attach-zone { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .6rem; font-size: 14px; }
#attach-zone .attach-button { display: inline-flex; align-items: center; gap: .3rem; cursor: pointer; font-weight: 600;
  padding: 4px 12px; border-radius: 6px; border: 1px solid #6b7280; color: #1f2937; background: #ffffff; }
#attach-zone .attach-button:focus-within { outline: 2px solid #2563eb; outline-offset: 1px; }
#attach-zone .attach-button input { position: absolute; width: 1px; height: 1px; opacity: 0; overflow: hidden; }
#attach-zone .attach-hint { color: #374151; }
#attach-zone ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .35rem; width: 100%; }
#attach-zone ul:empty { display: none; }
#attach-zone li { display: inline-flex; align-items: center; gap: .35rem; max-width: 100%; padding: 2px 4px 2px 10px;
  border-radius: 999px; border: 1px solid #6b7280; background: #f3f4f6; color: #111827; }
#attach-zone li .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 14rem; }
#attach-zone li button { border: 0; background: transparent; color: #b91c1c; font-weight: 700; cursor: pointer;
  padding: 0 6px; font-size: 16px; line-height: 1.2; border-radius: 999px; }
#attach-zone li button:focus { outline: 2px solid #2563eb; }
#attach-status { width: 100%; color: #374151; }
#attach-status:empty { display: none; }
#attach-status.error { color: #b91c1c; font-weight: 600; }
.dark #attach-zone .attach-button { color: #f3f4f6; background: #1f2937; border-color: #9ca3af; }
.dark #attach-zone .attach-hint, .dark #attach-status { color: #d1d5db; }
.dark #attach-status.error { color: #fca5a5; }
.dark #attach-zone li { background: #1f2937; color: #f3f4f6; border-color: #9ca3af; }
.dark #attach-zone li button { color: #fca5a5; }
body.dragging-files::after { content: "Drop the files to attach them to this conversation"; position: fixed; inset: 8px;
  z-index: 100; display: flex; align-items: center; justify-content: center; font-size: 20px; font-weight: 600;
  border: 3px dashed #2563eb; border-radius: 12px; background: rgba(239, 246, 255, .92); color: #1e3a8a;
  pointer-events: none; }
#chat .attached-src { font-weight: 600; }
"""

# The attach controls, in the browser: a file button and drag-and-drop anywhere on the page send
# each file to the JSON API under the tab's conversation id (kept in the hidden #attach-id element,
# which the server fills on load and renews on New conversation); the list shows the attached
# files with a remove control; every refusal is shown as the server words it.
ATTACH_SCRIPT = """<script>
(function () {
  const MAX_BYTES = __MAX_BYTES__, MAX_FILES = __MAX_FILES__, TYPES = '__TYPES__';
  const GONE = 'The files attached earlier were removed (__IDLE__ idle, or to free server memory).';
  let shownId = null, shown = [];
  function convId() {
    const box = document.getElementById('attach-id');
    const id = box ? box.textContent.trim() : '';
    return /^[A-Za-z0-9_-]{16,}$/.test(id) ? id : null;
  }
  function api(id, rest) { return '/api/conversations/' + encodeURIComponent(id) + rest; }
  function zone() {
    const z = document.getElementById('attach-zone');
    if (z && !z.firstChild) {
      z.innerHTML = '<label class="attach-button" title="PDF, Markdown, text, HTML or JSON Lines"><svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8"/></svg>' +
        '<span>Attach files</span><input type="file" multiple id="attach-input" accept="' + TYPES + '"></label>' +
        '<span class="attach-hint">or drop them here: PDF, Markdown, text, HTML, JSON Lines; up to ' + MAX_FILES +
        ' files, ' + Math.round(MAX_BYTES / 1048576) + ' MB, answered in this conversation only</span>' +
        '<ul id="attached-list" aria-label="Attached files"></ul><div id="attach-status" role="status" aria-live="polite"></div>';
      z.querySelector('input').addEventListener('change', function (e) {
        const files = Array.from(e.target.files || []); e.target.value = ''; send(files);
      });
    }
    return z;
  }
  function say(text, error) {
    zone();
    const s = document.getElementById('attach-status');
    if (!s) return;
    s.textContent = text || '';
    s.classList.toggle('error', !!error);
  }
  let changes = 0;  // lists the server sent after an attach or a removal: newer than any refresh under way
  function size(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB'; }
  function render(files) {
    zone();
    const list = document.getElementById('attached-list');
    if (!list) return;
    shown = files || [];
    list.textContent = '';
    shown.forEach(function (f) {
      const li = document.createElement('li');
      li.className = 'attached-file';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = f.name;
      name.title = f.name + ' (' + f.type + ', ' + size(f.bytes) + (f.pages ? ', ' + f.pages + ' pages' : '') + ')';
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.setAttribute('aria-label', 'Remove ' + f.name);
      remove.addEventListener('click', function () { drop(f); });
      li.append(name, remove);
      list.appendChild(li);
    });
  }
  async function detail(r) {
    try { const b = await r.json(); return typeof b.detail === 'string' ? b.detail : 'the server refused it (' + r.status + ')'; }
    catch (e) { return 'the server refused it (' + r.status + ')'; }
  }
  let queue = Promise.resolve();
  function send(files) { queue = queue.then(function () { return sendAll(files); }); return queue; }
  // the server removed the tab's conversation (idle too long, or to free memory): the page asks
  // for a new one (the hidden renew button's event) and waits for its id
  async function renew(old) {
    const button = document.querySelector('#attach-renew button, button#attach-renew');
    if (!button) return null;
    button.click();
    for (let waited = 0; waited < 20000; waited += 100) {
      await new Promise(function (done) { setTimeout(done, 100); });
      const id = convId();
      if (id && id !== old) { shownId = id; render([]); return id; }
    }
    return null;
  }
  let sending = false;  // a renewed id is taken by sendAll itself, not by refresh
  async function sendAll(files) {
    sending = true;
    try { await sendEach(files); } finally { sending = false; }
  }
  async function sendEach(files) {
    let id = convId();
    if (!id) { say('Attaching files is not ready yet; try again in a moment.', true); return; }
    if (id !== shownId) { shownId = id; window.__attachCleared = false; }  // the list drawn next is this id's
    const problems = [];
    let renewed = false, hadFiles = false;
    for (const f of files) {
      if (f.size > MAX_BYTES) { problems.push(f.name + ': ' + size(f.size) + ' is over the ' + size(MAX_BYTES) + ' limit'); continue; }
      say('Attaching ' + f.name + '…');
      let r;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          r = await fetch(api(id, '/files?filename=' + encodeURIComponent(f.name)),
            {method: 'POST', body: f, headers: {'Content-Type': 'application/octet-stream'}, credentials: 'same-origin'});
        } catch (e) { r = null; break; }
        if (r.status !== 404 || renewed) break;
        const check = await fetch(api(id, '/files'), {credentials: 'same-origin'}).catch(function () { return null; });
        if (!check || check.status !== 404) break;  // the conversation is there: not a removal
        hadFiles = shown.length > 0;
        const fresh = await renew(id);
        if (!fresh) break;
        id = fresh; renewed = true;
      }
      if (!r) { problems.push(f.name + ': the server could not be reached'); continue; }
      if (!r.ok) { problems.push(await detail(r)); continue; }
      render((await r.json()).files); changes++;
    }
    const gone = renewed && hadFiles ? GONE + ' ' : '';
    if (problems.length) say(gone + problems.join(' · '), true);
    else say(files.length ? gone + 'Attached. Questions in this conversation are answered from these files and the sources.' : '');
  }
  async function drop(f) {
    const id = convId();
    if (!id) return;
    let r;
    try {
      r = await fetch(api(id, '/files/' + encodeURIComponent(f.id)), {method: 'DELETE', credentials: 'same-origin'});
      if (r.status === 404 && (await fetch(api(id, '/files'), {credentials: 'same-origin'})).status === 404) {
        render([]); changes++; say(GONE); return;
      }
    } catch (e) { say(f.name + ': the server could not be reached', true); return; }
    if (!r.ok) { say(await detail(r), true); return; }
    render((await r.json()).files); changes++;
    say(f.name + ' removed.');
  }
  async function refresh() {
    const id = convId();
    if (!id || id === shownId || sending) return;
    const had = shownId !== null && shown.length > 0;
    shownId = id;
    render([]);
    say(had && !window.__attachCleared ? GONE : '');
    window.__attachCleared = false;
    const seen = changes;
    try {
      const r = await fetch(api(id, '/files'), {credentials: 'same-origin'});
      const files = r.ok ? (await r.json()).files : null;
      // an attach or removal answered meanwhile has the newer list
      if (files && convId() === id && seen === changes && !sending) render(files);
    } catch (e) { /* shown on the next attach */ }
  }
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('#clear')) { window.__attachCleared = true; render([]); say(''); }
  }, true);
  // drag and drop anywhere on the page
  let depth = 0;
  function hasFiles(e) { return e.dataTransfer && Array.from(e.dataTransfer.types || []).indexOf('Files') >= 0; }
  document.addEventListener('dragenter', function (e) {
    if (!hasFiles(e) || !document.getElementById('attach-zone')) return;
    depth++; document.body.classList.add('dragging-files');
  });
  document.addEventListener('dragleave', function (e) {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging-files');
  });
  document.addEventListener('dragover', function (e) {
    if (hasFiles(e) && document.getElementById('attach-zone')) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; }
  });
  document.addEventListener('drop', function (e) {
    depth = 0; document.body.classList.remove('dragging-files');
    if (!hasFiles(e) || !document.getElementById('attach-zone')) return;
    e.preventDefault();
    send(Array.from(e.dataTransfer.files || []));
  });
  window.__attach = send;
  new MutationObserver(function () {
    clearTimeout(window.__attachTick);
    window.__attachTick = setTimeout(function () { zone(); refresh(); }, 50);
  }).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(refresh, 1000);  // the id changes without a DOM change when only the hidden box is updated
})();
</script>"""


def attach_script(store: Attachments) -> str:
    return (ATTACH_SCRIPT.replace("__MAX_BYTES__", str(int(store.max_bytes)))
            .replace("__MAX_FILES__", str(int(store.max_files))).replace("__TYPES__", ATTACH_TYPES)
            .replace("__IDLE__", idle_phrase(store.idle_seconds)))


def idle_phrase(seconds: float) -> str:
    """'an hour', '5 minutes', '90 seconds': how long a conversation may sit idle."""
    seconds = max(1, round(seconds))
    if seconds % 3600 == 0:
        return "an hour" if seconds == 3600 else f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return "a minute" if seconds == 60 else f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def corpus_markdown(bot: ChatBot) -> str:
    shown = []
    for d in itertools.islice(bot.documents, 20):  # a saved index may hold a million documents
        meta = ", ".join(page_escape(str(d.metadata[k])) for k in ("author", "published", "origin") if d.metadata.get(k))
        shown.append(f"- *{page_escape(d.title)}*" + (f" — {meta}" if meta else "") + f" ({page_escape(d.source)})")
    total = len(bot.documents)
    if total > 20:
        shown.append(f"- … and {total - 20:,} more")
    text = f"**Sources loaded** ({total:,} document{'s' if total != 1 else ''}):\n\n" + "\n".join(shown)
    if bot.problems:
        text += f"\n\n**Skipped {len(bot.problems)} file(s):**\n\n" + "\n".join(
            f"- {page_escape(p)}" for p in bot.problems[:20])
    return text


def glossary_markdown(bot: ChatBot) -> str:
    entries = bot.index.glossary.entries
    if not entries:
        return "No acronyms were found in these sources."
    rows = ["| short form | long form |", "|---|---|"]
    rows += [f"| {page_escape(e.short)} | {page_escape(e.long)} |" for e in entries[:GLOSSARY_ROWS]]
    if len(entries) > GLOSSARY_ROWS:
        rows.append(f"| … | and {len(entries) - GLOSSARY_ROWS:,} more (`python -m bot glossary` lists them all) |")
    return "\n".join(rows)


def glossary_title(bot: ChatBot) -> str:
    n = len(bot.index.glossary)
    return f"Glossary: {n:,} acronym{'' if n == 1 else 's'} mined from the sources"


def glossary_accordion(bot: ChatBot) -> gr.Accordion:
    """The glossary accordion as the current index has it (title with its count; hidden when empty)."""
    return gr.Accordion(label=glossary_title(bot), visible=len(bot.index.glossary) > 0)


def build(bot: ChatBot | LiveBot | None = None, feedback_path: str | Path | None = None,
          attachments: Attachments | None = None) -> gr.Blocks:
    """The page. Feedback is recorded only when ``feedback_path`` is given or the corpus enables it.
    With ``attachments``, each tab's conversation can hold files of its own (a file button and
    drag-and-drop; the page script sends them to the JSON API with the tab's conversation id)."""
    bot = bot or ChatBot.load()
    if feedback_path is None and bot.settings.answer.feedback:
        feedback_path = Path("feedback") / "feedback.jsonl"
    log = FeedbackLog(Path(feedback_path) if feedback_path else None)
    limit = bot.settings.answer.max_question_chars

    def start(cid: Any = None) -> str:
        """The tab's conversation id in the attachments store (kept in the tab's hidden element):
        the one it holds if the store still has it (a load event run again keeps it), else a new one."""
        if attachments is None:
            return ""
        return cid if isinstance(cid, str) and cid and attachments.exists(cid) else attachments.create()

    def send(message: Any, conv: Conversation, cid: Any = None) -> tuple[list, Conversation]:
        """Shows the question at once (no queue); the answer follows in ``answer``. The box was
        emptied in the browser as the question left (``CLEAR_BOX_JS``): clearing it from here
        wiped a next question typed meanwhile. ``cid``: the tab's conversation id, whose files
        are answered from too."""
        if attachments is not None and isinstance(cid, str) and cid:
            conv.attach_id = cid  # an id the store does not know is answered from the corpus alone
        if isinstance(message, str) and message.strip():
            conv.pending.append(message)  # one over the limit is refused by ask, saying its real length
        return conv.shown(), conv

    def answer(conv: Conversation) -> tuple[list, Conversation]:
        conv.answer_pending(bot.current(), attachments)
        return conv.shown(), conv

    def clear(conv: Conversation, cid: Any = None) -> tuple[list, Conversation] | tuple[list, Conversation, str]:
        conv.reset()
        if attachments is None:
            return [], conv
        for old in {conv.attach_id, cid if isinstance(cid, str) else None} - {None, ""}:
            attachments.remove(old)  # its files go with it
        conv.attach_id = attachments.create()
        return [], conv, conv.attach_id

    def on_like(conv: Conversation, data: gr.LikeData) -> None:
        """Records the liked answer and its own question, as the server has them."""
        if log.path is None:
            return
        idx = data.index if isinstance(data.index, int) else (data.index or [None])[0]
        if not isinstance(idx, int) or not 0 <= idx < len(conv.turn_of) or conv.turn_of[idx] is None:
            return
        question, reply_text = conv.turns[conv.turn_of[idx]]
        log.record(question, reply_text, data.liked is True)

    def api_chat(message: str, history: list[dict] | None = None) -> dict:
        """Answer a question from the sources: {question, answer, abstained, support, confidence, citations}."""
        message = message if isinstance(message, str) else ""
        return bot.current().ask(message, history if isinstance(history, list) else []).to_dict(echo(message))

    examples = example_questions(bot) or ["What do the sources cover?"]
    with gr.Blocks(title="Grounded answers", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# Grounded answers\n"
            f"I answer **only from the sources** ({corpus_phrase(bot)}), quoting them word for word with "
            "numbered citations, and I say so when they do not cover a question.", elem_id="intro")
        chat = gr.Chatbot(elem_id="chat", height="min(46vh, 520px)", min_height=220, sanitize_html=True,
                          allow_tags=False, label="Conversation", show_label=False,
                          feedback_options=("Like", "Dislike") if log.path else None, buttons=["copy"],
                          autoscroll=False,  # the page script scrolls a new reply's first line into view
                          placeholder=f"Ask a question about the sources, for example *{page_escape(examples[0])}*. "
                                      "Answers quote them, with [1] citations you can hover over or open.")
        # a value, not a factory: Gradio fills a factory's State with a load event, and a question
        # sent before that event ran was answered from the fresh, empty conversation it put in
        # (the question vanished and no reply came); a value is copied for each tab at once
        conv = gr.State(Conversation())
        with gr.Row(elem_id="ask-row"):
            box = gr.Textbox(placeholder="Ask a question about the sources…", label="Your question",
                             show_label=False, scale=8, elem_id="question", autofocus=True)
            ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
        with gr.Row(elem_id="examples"):
            buttons = [gr.Button(q, size="sm", elem_classes=["example"]) for q in examples]
        if attachments is not None:
            # filled by the page script: a file button, the attached files with a remove control,
            # and what happened; the tab's conversation id sits in a hidden element (private to the
            # tab; not a text box, so the page keeps one)
            gr.HTML('<div id="attach-zone"></div>', elem_id="attach-box", padding=False)
            attach_box = gr.HTML("", visible="hidden", elem_id="attach-id", padding=False)
            # clicked by the page script when the server has removed the tab's conversation
            renew_button = gr.Button("Renew", visible="hidden", elem_id="attach-renew")
        clear_button = gr.Button("New conversation", size="sm", elem_id="clear")
        with gr.Accordion("Sources loaded", open=True, elem_id="corpus-box"):
            # a function: worked out on each page load, so an updated index lists its documents
            gr.Markdown(lambda: corpus_markdown(bot.current()), elem_id="corpus")
        # The glossary's title and list are worked out on each page load too: an updated index
        # shows its own count, and a corpus without acronyms shows no glossary at all.
        with gr.Accordion(glossary_title(bot), open=False, elem_id="glossary",
                          visible=len(bot.index.glossary) > 0) as glossary:
            gr.Markdown(lambda: glossary_markdown(bot.current()))
        demo.load(lambda: glossary_accordion(bot.current()), None, glossary, queue=False,
                  api_visibility="private")

        # every question is sent, however fast they follow each other ("multiple": Gradio's default
        # drops an event fired while the same one is pending, which lost 3 of 10 fast Enters)
        tab = [attach_box] if attachments is not None else []  # the tab's conversation id goes with each question
        for trigger, source in [(box.submit, box), (ask_button.click, box)] + [(b.click, b) for b in buttons]:
            trigger(send, [source, conv] + tab, [chat, conv], queue=False, api_visibility="private", trigger_mode="multiple",
                    js=CLEAR_BOX_JS.replace("__LIMIT__", str(int(limit))) if source is box else None).then(
                answer, [conv], [chat, conv], api_visibility="private", trigger_mode="multiple")
        clear_button.click(clear, [conv] + tab, [chat, conv] + tab, queue=False, api_visibility="private")
        chat.clear(clear, [conv] + tab, [chat, conv] + tab, queue=False, api_visibility="private")  # the trash icon
        if attachments is not None:
            demo.load(start, attach_box, attach_box, queue=False, api_visibility="private")
            renew_button.click(start, attach_box, attach_box, queue=False, api_visibility="private")
        if log.path:
            chat.like(on_like, [conv], None, api_visibility="private")
        gr.api(api_chat, api_name="chat")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.state_session_capacity = SESSIONS
    return demo


def create(bot: ChatBot | LiveBot | None = None, feedback_path: str | Path | None = None,
           allowed_hosts: tuple[str, ...] = (), attachments: bool | Attachments = True) -> Guard:
    """The whole server as one ASGI app: the JSON API and the page, behind the request guard
    (``allowed_hosts``: Host names served besides localhost and IP addresses; ``attachments``:
    files attached to a conversation, on unless False, or the store to use)."""
    bot = bot or ChatBot.load()
    store = attachments if isinstance(attachments, Attachments) else Attachments(bot) if attachments else None
    return serve_app(bot, build(bot, feedback_path, store), allowed_hosts, store)


def serve_app(bot: ChatBot | LiveBot, demo: gr.Blocks, allowed_hosts: tuple[str, ...] = (),
              attachments: Attachments | None = None) -> Guard:
    app = make_app(bot, attachments)
    # system fonts: the default theme's web fonts cannot load offline, and a fallback drew a bold
    # capital "A" in another typeface
    theme = gr.themes.Default(font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                                    "sans-serif"], font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    # contrast of at least 4.5:1 for every control's text, light and dark (the default orange Ask
    # button had 2.8:1, the placeholder 1.9:1)
    theme = theme.set(button_primary_background_fill="#c2410c", button_primary_background_fill_dark="#c2410c",
                      button_primary_background_fill_hover="#9a3412",
                      button_primary_background_fill_hover_dark="#9a3412",
                      button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff",
                      input_placeholder_color="#6b7280", input_placeholder_color_dark="#a1a1aa")
    limit = bot.current().settings.answer.max_question_chars
    head = PAGE_SCRIPT.replace("__LIMIT__", str(int(limit)))
    if attachments is not None:
        head += attach_script(attachments)
    app = gr.mount_gradio_app(app, demo, path="/", ssr_mode=False, show_error=False, max_file_size="1kb",
                              footer_links=["api"], theme=theme, css=PAGE_CSS + ATTACH_CSS, head=head)
    demo.state_session_capacity = SESSIONS
    return Guard(app, allowed_hosts=allowed_hosts, uploads=attachments is not None)


def launch(corpus: str | None = None, host: str = "127.0.0.1", port: int = 7860,
           feedback: str | None = None, strictness: float | None = None, allow_hosts: tuple[str, ...] = (),
           sock: Any = None, attachments: bool = True) -> None:
    """Take the port first (a port in use is reported before anything says "Serving"; app.py
    takes it before gradio is even imported and passes ``sock``), load the corpus, then serve
    until Ctrl-C."""
    sock = sock or server.bind(host, port)
    # a saved index is followed: `python -m bot index` updating it is picked up without a restart
    bot = LiveBot(corpus, strictness) if corpus and layout.is_index(corpus) else \
        ChatBot.load(corpus, strictness=strictness)
    app = create(bot, feedback, allowed_hosts=(host, *allow_hosts), attachments=attachments)
    print(f"Serving the chat on {server.address(sock)} (JSON API: /api/ask, documentation: /docs)", flush=True)
    server.serve(app, sock)
