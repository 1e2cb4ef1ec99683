"""The JSON API's own routes: ``POST /api/ask`` (a question, its history, a strictness, a
conversation whose attached files are answered from too) and ``GET /api/documents/{id}``; the
request models and their checks, 422 replies that name the problem without echoing the input, the
echoed question's bounds, and the corpus kept at a few other strictness values."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from bot.chatbot import ChatBot, LiveBot
from bot.config import check_setting, has_surrogates, without_surrogates
from bot.serve.attachments import AttachError, Attachments
from bot.serve.guard import ATTACH_OFF

ECHO_CHARS = 200  # a refused question is echoed back at most this long


def no_surrogates(text: str) -> str:
    """Refuse a lone UTF-16 surrogate (``"\\ud800"`` in JSON): it is no character and cannot be
    written back in a UTF-8 reply."""
    if has_surrogates(text):
        raise ValueError("contains a lone surrogate escape (\\ud800-\\udfff), which is no character")
    return text


class Message(BaseModel):
    role: str = Field(description='"user" or "assistant"')
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="the question (longer than the corpus's max_question_chars is refused)")
    history: list[Message] | None = Field(default=None, description="earlier messages, oldest first")
    strictness: float | None = Field(default=None,
                                     description="0..1: how sure the bot must be to answer (default: the corpus's)")
    conversation: str | None = Field(default=None, max_length=200,
                                     description="a conversation id (POST /api/conversations): its attached files "
                                                 "are answered from together with the corpus")

    @field_validator("strictness")
    @classmethod
    def _strictness(cls, value: float | None) -> float | None:
        return None if value is None else check_setting("strictness", value)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return no_surrogates(value)


VALIDATION_ERRORS = 5  # at most this many problems are listed in a 422 reply
VALIDATION_CHARS = 200  # each described in at most this many characters; the input is never echoed


def validation_reply(exc: RequestValidationError) -> Response:
    """422 naming what is wrong and where, without the input: a 250 KB body was reflected whole,
    and a NaN or a lone surrogate in it made the reply itself fail (500)."""
    problems = []
    for err in exc.errors()[:VALIDATION_ERRORS]:
        where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")[:VALIDATION_CHARS]
        problems.append({"where": where, "problem": str(err.get("msg", "invalid"))[:VALIDATION_CHARS]})
    body = json.dumps({"detail": problems}).encode()  # ASCII
    return Response(body, status_code=422, media_type="application/json")


def echo(question: str) -> str:
    """The question as echoed in a reply: never more than a short prefix, and only characters a
    UTF-8 reply can carry."""
    question = without_surrogates(question)
    return question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + "…"


class BotsByStrictness:
    """The loaded bot, and the same corpus at other strictness values (a few kept)."""

    def __init__(self, bot: "ChatBot | LiveBot", keep: int = 8):
        self.bot = bot
        self.keep = keep
        self._bots: OrderedDict[float, ChatBot] = OrderedDict()
        self._base: ChatBot | None = None
        self._lock = threading.Lock()

    def get(self, strictness: float | None) -> ChatBot:
        base = self.bot.current()  # a newer index after an update: the copies below start over
        if base is not self._base:
            with self._lock:
                if base is not self._base:  # the replaced index's copies go now, so it can be freed
                    self._bots.clear()
                    self._base = base
        if strictness is None or strictness == base.settings.answer.strictness:
            return base
        key = round(float(strictness), 3)
        with self._lock:
            if base is not self._base:  # an update meanwhile: a copy of this older bot is not kept
                return base.with_strictness(key)
            got = self._bots.get(key)
            if got is None:
                got = self._bots[key] = base.with_strictness(key)
                while len(self._bots) > self.keep:
                    self._bots.popitem(last=False)
            self._bots.move_to_end(key)
            return got


def add_api_routes(app: FastAPI, bot: "ChatBot | LiveBot", bots: BotsByStrictness,
                   attachments: Attachments | None) -> None:
    """``POST /api/ask`` and ``GET /api/documents/{id}``, and the 422 reply for a malformed request."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Any, exc: RequestValidationError) -> Response:
        return validation_reply(exc)

    @app.post("/api/ask", summary="Answer a question from the sources",
              description="With `conversation`, the files attached to that conversation are answered from too: "
                          "the stronger of the two replies is given, and a citation of an attached file has the "
                          "source `attached: NAME`.")
    def ask(req: AskRequest) -> dict[str, Any]:
        history = [m.model_dump() for m in req.history] if req.history else None
        corpus = bots.get(req.strictness)
        if req.conversation is None:
            reply = corpus.ask(req.question, history)
        elif attachments is None:
            raise HTTPException(status_code=403, detail=ATTACH_OFF)
        else:
            try:
                reply = attachments.ask(req.conversation, corpus, req.question, history, req.strictness)
            except AttachError as exc:
                raise HTTPException(status_code=exc.status, detail=str(exc)) from None
        return reply.to_dict(echo(req.question))

    @app.get("/api/documents/{doc_id:path}", summary="One document of the loaded corpus, by id")
    def document(doc_id: str) -> dict[str, Any]:
        try:
            d = bot.current().index.documents[doc_id]
        except (KeyError, IndexError, TypeError):
            raise HTTPException(status_code=404, detail="no document with that id in the loaded corpus") from None
        return {"id": d.id, "title": d.title, "source": d.source,
                "metadata": {k: str(v) for k, v in d.metadata.items() if not str(k).startswith("_")}, "text": d.text}
