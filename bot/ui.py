"""The chat page (Gradio). The only module that imports gradio; all answering is ``ChatBot.ask``.

Every piece of corpus or user text is escaped before it becomes Markdown: Gradio sanitizes HTML
but still renders it, so an ``<img>`` in a question or passage would otherwise show as an image.
"""
from __future__ import annotations

import html
import itertools
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from .chatbot import ChatBot  # noqa: E402
from .model import Citation, Reply  # noqa: E402
from .respond import md_escape  # noqa: E402
from .understand import message_text  # noqa: E402

GLOSSARY_ROWS = 200  # the page shows the first ones; the CLI lists all
CONCURRENCY = 16  # answering takes milliseconds and shares no state between conversations
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()./-]{6,}\d(?!\w)")


def page_escape(text: str) -> str:
    """Corpus or user text -> Markdown that displays it literally (HTML entities + Markdown escapes)."""
    return md_escape(html.escape(text, quote=False)).replace("\\&", "&")


def highlighted_passage(c: Citation) -> str:
    """The passage, escaped, with the quoted sentences wrapped in <mark>."""
    text = c.passage
    spans = sorted((i, i + len(q)) for q in c.quotes if (i := text.find(q)) >= 0)
    out, pos = [], 0
    for a, b in spans:
        if a < pos:
            continue
        out.append(page_escape(text[pos:a]))
        out.append(f"<mark>{page_escape(text[a:b])}</mark>")
        pos = b
    out.append(page_escape(text[pos:]))
    return "".join(out)


def sources_markdown(citations: list[Citation]) -> str:
    blocks = []
    for c in citations:
        credit = ", ".join(page_escape(x) for x in (c.author, c.published) if x)
        doc = f"*{page_escape(c.doc_title)}*" + (f" ({credit})" if credit else "")
        blocks.append(f"**[{c.id}] {page_escape(c.title)}** — {doc}\n\n{highlighted_passage(c)}")
    return "\n\n---\n\n".join(blocks)


def reply_messages(reply: Reply) -> list[dict[str, Any]]:
    """Chat messages for a reply: the answer, then a collapsed "Sources" panel when it cites."""
    answer = reply.answer
    if reply.support == "closest":
        answer = "🔶 **Not a confirmed answer.** The sources may not answer this; judge the closest passages " \
                 f"yourself (confidence {reply.confidence:.0%}).\n\n" + answer
    elif reply.abstained and reply.kind == "abstain":
        answer = "**Not covered by the sources.** " + answer
    out: list[dict[str, Any]] = [{"role": "assistant", "content": answer}]
    if reply.citations:
        out.append({"role": "assistant", "content": sources_markdown(reply.citations),
                    "metadata": {"title": f"Sources ({len(reply.citations)})", "status": "done"}})
    return out


def redact(text: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


class FeedbackLog:
    """Appends like/dislike records (with e-mail addresses and phone numbers redacted) to a file."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()

    def record(self, question: str, answer: str, liked: Any) -> None:
        if self.path is None:
            return
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "liked": liked,
               "question": redact(question), "answer": redact(answer)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def example_questions(bot: ChatBot) -> list[str]:
    """The corpus's own examples, else questions made from its headings, acronyms and titles."""
    if bot.manifest.examples:
        return list(bot.manifest.examples)[:6]
    out = [h for h in bot.index.top_sections(6) if h.endswith("?")][:2]
    out += [f"What is {e.short}?" for e in bot.index.glossary.entries[:1]]
    out += [f"Tell me about {h}" for h in bot.index.top_sections(6) if not h.endswith("?")][: 3 - len(out)]
    out += [f"Tell me about {d.title}" for d in bot.documents[: max(0, 3 - len(out))]]
    out.append("What is the weather like today?")  # never in a corpus: shows how the bot declines
    return out


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


def build(bot: ChatBot | None = None, feedback_path: str | Path | None = None) -> gr.Blocks:
    """The page. Feedback is recorded only when ``feedback_path`` is given or the corpus enables it."""
    bot = bot or ChatBot.load()
    if feedback_path is None and bot.settings.feedback:
        feedback_path = Path("feedback") / "feedback.jsonl"
    log = FeedbackLog(Path(feedback_path) if feedback_path else None)

    def converse(message: str, chat: list, history: list) -> tuple[str, list, list]:
        message = message if isinstance(message, str) else ""
        if not message.strip():
            return "", chat, history
        reply = bot.ask(message, history)
        chat = list(chat or []) + [{"role": "user", "content": page_escape(message)}] + reply_messages(reply)
        history = list(history or []) + [{"role": "user", "content": message},
                                         {"role": "assistant", "content": reply.answer}]
        return "", chat, history

    def on_like(history: list, data: gr.LikeData) -> None:
        if log.path is None:
            return
        idx = data.index if isinstance(data.index, int) else data.index[0]
        value = data.value
        answer = message_text(value if isinstance(value, dict) else {"content": value})
        question = ""
        # the user turn that preceded the liked assistant message
        users = [m for m in history if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            question = message_text(users[-1])
        log.record(question, answer if answer else str(idx), data.liked)

    def api_chat(message: str, history: list[dict] | None = None) -> dict:
        """Answer a question from the sources: {question, answer, abstained, support, confidence, citations}."""
        return bot.ask(message, history or []).to_dict(message)

    with gr.Blocks(title="Grounded answers") as demo:
        gr.Markdown(
            "# Grounded answers\n"
            "I answer **only from the sources listed below**, quoting them word for word with numbered "
            "citations, and I say so when they do not cover a question.", elem_id="intro")
        gr.Markdown(corpus_markdown(bot), elem_id="corpus")
        with gr.Accordion(f"Glossary: {len(bot.index.glossary)} acronyms mined from the sources", open=False,
                          elem_id="glossary"):
            gr.Markdown(glossary_markdown(bot))
        chat = gr.Chatbot(elem_id="chat", height=520, sanitize_html=True, allow_tags=False,
                          feedback_options=("Like", "Dislike"), label="Chat")
        history = gr.State([])
        with gr.Row():
            box = gr.Textbox(placeholder="Ask a question about the sources…", show_label=False, scale=8,
                             elem_id="question", max_length=bot.settings.max_question_chars * 2)
            send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        gr.Markdown("**Try:**")
        with gr.Row(elem_id="examples"):
            buttons = [gr.Button(q, size="sm") for q in example_questions(bot)]
        clear = gr.Button("New conversation", size="sm", elem_id="clear")

        box.submit(converse, [box, chat, history], [box, chat, history], api_visibility="private")
        send.click(converse, [box, chat, history], [box, chat, history], api_visibility="private")
        for b in buttons:
            b.click(converse, [b, chat, history], [box, chat, history], api_visibility="private")
        clear.click(lambda: ([], []), None, [chat, history], api_visibility="private")
        chat.like(on_like, [history], None, api_visibility="private")
        gr.api(api_chat, api_name="chat")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def launch(corpus: str | None = None, host: str = "127.0.0.1", port: int = 7860,
           feedback: str | None = None, rebuild: bool = False, strictness: float | None = None) -> None:
    bot = ChatBot.load(corpus, rebuild=rebuild, strictness=strictness)
    demo = build(bot, feedback)
    demo.launch(server_name=host, server_port=port, ssr_mode=False, show_error=False)
