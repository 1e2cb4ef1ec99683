"""One browser tab's conversation as the server keeps it: what the chat shows, the history the bot
reads for follow-ups, the exchanges feedback refers to, the questions waiting for their answer and
the tab's attached files' id. No gradio: the page (``ui.py``) holds one per tab in its state."""
from __future__ import annotations

import threading
from typing import Any

from bot.answer.render import page_escape
from bot.chatbot import ChatBot, recent_turns
from bot.serve.attachments import AttachError, Attachments
from bot.serve.api import echo
from bot.serve.messages import reply_messages


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
                self.history = recent_turns(self.history, turns)

    def reset(self) -> None:
        with self.lock:
            self.messages, self.history, self.turns, self.turn_of, self.pending = [], [], [], [], []
