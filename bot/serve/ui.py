"""The chat page (Gradio). The only module that imports gradio; all answering is ``ChatBot.ask``.

Every piece of corpus or user text is escaped before it becomes Markdown: Gradio sanitizes HTML
but still renders it, so an ``<img>`` in a question or passage would otherwise show as an image.
"""
from __future__ import annotations

import html
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bot.index import layout  # noqa: E402
from bot.chatbot import ChatBot, LiveBot  # noqa: E402
from bot.answer.examples import example_questions as corpus_examples  # noqa: E402
from bot.answer.examples import heading_question  # noqa: E402,F401  (re-exported: the page's tests use it)
from bot.answer.render import page_escape  # noqa: E402
from bot.serve import server  # noqa: E402
from bot.serve.feedback import FEEDBACK_CHARS, FeedbackLog, redact  # noqa: E402,F401  (FEEDBACK_CHARS, redact: re-exported)
from bot.serve.attachments import UNAVAILABLE, AttachError, Attachments  # noqa: E402
from bot.serve.health import id_prefix  # noqa: E402
from bot.serve.guard import Guard  # noqa: E402
from bot.serve.api import echo  # noqa: E402
from bot.serve.web import make_app  # noqa: E402
from bot.serve.assets import ATTACH_CSS, CLEAR_BOX_JS, PAGE_CSS, PAGE_SCRIPT, attach_script  # noqa: E402
from bot.serve.conversation import Conversation  # noqa: E402

GLOSSARY_ROWS = 200  # the page shows the first ones; the CLI lists all
CONCURRENCY = 16  # answering takes milliseconds and shares no state between conversations
SESSIONS = 1000  # conversations kept in memory (Gradio's default is 10,000); the oldest go first


def example_questions(bot: ChatBot) -> list[str]:
    """The corpus's own examples, else questions drawn from its units (``answer.examples``)."""
    return corpus_examples(bot.index, bot.manifest.examples, bot.documents)


def corpus_phrase(bot: ChatBot) -> str:
    return f"*{page_escape(bot.documents[0].title)}*" if len(bot.documents) == 1 else \
        f"the {len(bot.documents):,} documents listed under *Sources loaded*"


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
    on = page_handlers(bot, log, attachments)
    examples = example_questions(bot) or ["What do the sources cover?"]
    with gr.Blocks(title="Grounded answers", delete_cache=(3600, 3600)) as demo:
        parts = page_layout(bot, log, attachments is not None, examples)
        side_panels(demo, bot)
        wire_events(demo, parts, on, limit, log)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.state_session_capacity = SESSIONS
    return demo


def page_handlers(bot: ChatBot | LiveBot, log: FeedbackLog, attachments: Attachments | None) -> SimpleNamespace:
    """What the page's events run on the server: ``start``, ``send``, ``answer``, ``clear``,
    ``on_like`` and the ``/chat`` API's ``api_chat``."""

    def new_id() -> str:
        """A new conversation's id, or ``UNAVAILABLE`` and why when the store is full (429): the
        page then says so when files are picked, and questions are still answered."""
        try:
            return attachments.create()
        except AttachError as exc:
            return UNAVAILABLE + html.escape(str(exc))

    def start(cid: Any = None) -> str:
        """The tab's conversation id in the attachments store (kept in the tab's hidden element):
        the one it holds if the store still has it (a load event run again keeps it), else a new one."""
        if attachments is None:
            return ""
        return cid if isinstance(cid, str) and cid and attachments.exists(cid) else new_id()

    def send(message: Any, conv: Conversation, cid: Any = None) -> tuple[list, Conversation]:
        """Shows the question at once (no queue); the answer follows in ``answer``. The box was
        emptied in the browser as the question left (``CLEAR_BOX_JS``): clearing it from here
        wiped a next question typed meanwhile. ``cid``: the tab's conversation id, whose files
        are answered from too."""
        if attachments is not None and isinstance(cid, str) and cid and not cid.startswith(UNAVAILABLE):
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
        got = new_id()
        conv.attach_id = "" if got.startswith(UNAVAILABLE) else got
        return [], conv, got

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

    return SimpleNamespace(start=start, send=send, answer=answer, clear=clear, on_like=on_like, api_chat=api_chat)


@dataclass
class PageParts:
    """The page's controls that events read or fill (the attach ones only with attachments)."""
    chat: gr.Chatbot
    conv: gr.State
    box: gr.Textbox
    ask_button: gr.Button
    buttons: list[gr.Button]
    clear_button: gr.Button
    attach_box: gr.HTML | None = None
    renew_button: gr.Button | None = None


def page_layout(bot: ChatBot | LiveBot, log: FeedbackLog, attach: bool, examples: list[str]) -> PageParts:
    """The introduction, the chat, the question box, the example buttons, the attach controls
    (``attach``) and New conversation, in a ``gr.Blocks`` being built."""
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
    attach_box = renew_button = None
    if attach:
        # filled by the page script: a file button, the attached files with a remove control,
        # and what happened; the tab's conversation id sits in a hidden element (private to the
        # tab; not a text box, so the page keeps one)
        gr.HTML('<div id="attach-zone"></div>', elem_id="attach-box", padding=False)
        attach_box = gr.HTML("", visible="hidden", elem_id="attach-id", padding=False)
        # clicked by the page script when the server has removed the tab's conversation
        renew_button = gr.Button("Renew", visible="hidden", elem_id="attach-renew")
    clear_button = gr.Button("New conversation", size="sm", elem_id="clear")
    return PageParts(chat, conv, box, ask_button, buttons, clear_button, attach_box, renew_button)


def side_panels(demo: gr.Blocks, bot: ChatBot | LiveBot) -> None:
    """The sources loaded and the glossary, in a ``gr.Blocks`` being built."""
    loaded = bot.current()
    with gr.Accordion("Sources loaded", open=True, elem_id="corpus-box"):
        corpus = gr.Markdown(corpus_markdown(loaded), elem_id="corpus")
    with gr.Accordion(glossary_title(loaded), open=False, elem_id="glossary",
                      visible=len(loaded.index.glossary) > 0) as glossary:
        glossary_list = gr.Markdown(glossary_markdown(loaded))

    def panels():
        # Worked out again on each page load, all from one index: an updated index lists its own
        # documents and glossary, and a corpus without acronyms shows no glossary at all. (Separate
        # load events could each meet a different index while an update is being loaded.)
        now = bot.current()
        return corpus_markdown(now), glossary_accordion(now), glossary_markdown(now)

    demo.load(panels, None, [corpus, glossary, glossary_list], queue=False, api_visibility="private")


def wire_events(demo: gr.Blocks, parts: PageParts, on: SimpleNamespace, limit: int, log: FeedbackLog) -> None:
    """The page's events, in a ``gr.Blocks`` being built: questions, New conversation and the
    trash icon, the tab's conversation id on load and renewal, likes, and the ``/chat`` API."""
    chat, conv, box = parts.chat, parts.conv, parts.box
    # every question is sent, however fast they follow each other ("multiple": Gradio's default
    # drops an event fired while the same one is pending, which lost 3 of 10 fast Enters)
    tab = [parts.attach_box] if parts.attach_box is not None else []  # the tab's conversation id goes with each question
    for trigger, source in [(box.submit, box), (parts.ask_button.click, box)] + [(b.click, b) for b in parts.buttons]:
        trigger(on.send, [source, conv] + tab, [chat, conv], queue=False, api_visibility="private", trigger_mode="multiple",
                js=CLEAR_BOX_JS.replace("__LIMIT__", str(int(limit))) if source is box else None).then(
            on.answer, [conv], [chat, conv], api_visibility="private", trigger_mode="multiple")
    parts.clear_button.click(on.clear, [conv] + tab, [chat, conv] + tab, queue=False, api_visibility="private")
    chat.clear(on.clear, [conv] + tab, [chat, conv] + tab, queue=False, api_visibility="private")  # the trash icon
    if parts.attach_box is not None:
        demo.load(on.start, parts.attach_box, parts.attach_box, queue=False, api_visibility="private")
        parts.renew_button.click(on.start, parts.attach_box, parts.attach_box, queue=False, api_visibility="private")
    if log.path:
        chat.like(on.on_like, [conv], None, api_visibility="private")
    gr.api(on.api_chat, api_name="chat")


def create(bot: ChatBot | LiveBot | None = None, feedback_path: str | Path | None = None,
           allowed_hosts: tuple[str, ...] = (), attachments: bool | Attachments = True, replica: str = "") -> Guard:
    """The whole server as one ASGI app: the JSON API and the page, behind the request guard
    (``allowed_hosts``: Host names served besides localhost and IP addresses; ``attachments``:
    files attached to a conversation, on unless False, or the store to use; ``replica``: this
    process's name behind a load balancer, which starts its conversation ids)."""
    bot = bot or ChatBot.load()
    store = attachments if isinstance(attachments, Attachments) else \
        Attachments(bot, id_prefix=id_prefix(replica)) if attachments else None
    return serve_app(bot, build(bot, feedback_path, store), allowed_hosts, store, replica)


def serve_app(bot: ChatBot | LiveBot, demo: gr.Blocks, allowed_hosts: tuple[str, ...] = (),
              attachments: Attachments | None = None, replica: str = "") -> Guard:
    app = make_app(bot, attachments, replica)
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
           sock: Any = None, attachments: bool = True, replica: str = "") -> None:
    """Take the port first (a port in use is reported before anything says "Serving"; app.py
    takes it before gradio is even imported and passes ``sock``), load the corpus, then serve
    until Ctrl-C."""
    sock = sock or server.bind(host, port)
    # a saved index is followed: `python -m bot index` updating it is picked up without a restart
    bot = LiveBot(corpus, strictness, warm_updates=True) if corpus and layout.is_index(corpus) else \
        ChatBot.load(corpus, strictness=strictness)
    app = create(bot, feedback, allowed_hosts=(host, *allow_hosts), attachments=attachments, replica=replica)
    if isinstance(bot, LiveBot):  # first visitors wait no longer
        bot.start_warm()
    else:
        threading.Thread(target=bot.warm, args=(True,), name="warm", daemon=True).start()
    print(f"Serving the chat on {server.address(sock)} (JSON API: /api/ask, documentation: /docs)", flush=True)
    server.serve(app, sock)
