"""The HTTP server around the page: a plain JSON API (``POST /api/ask``, ``GET /api/documents/{id}``,
OpenAPI at ``/docs``) and the safety rules every request passes: a body size limit, no uploads,
no framing by other sites, no cross-origin credentials. ``ui.py`` mounts the Gradio page on it.

FastAPI and Starlette come with Gradio; this module does not import Gradio itself.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from .chatbot import ChatBot

MAX_BODY_BYTES = 256 * 1024  # a question is at most a few thousand characters; history is capped too
ECHO_CHARS = 200  # a refused question is echoed back at most this long
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
BLOCKED_PATHS = ("/gradio_api/upload", "/upload")  # the page has no file input
# Gradio's HTTP API wants every argument; for these endpoints trailing optional ones may be left out
# (raw HTTP callers of /gradio_api/call/chat often send only the question): they are sent as null.
OPTIONAL_ARGS = {"/gradio_api/call/chat": 2}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: refuse bodies over ``limit`` bytes (413) before the app stores them,
    refuse uploads (403), add anti-framing headers, and drop CORS grants to other origins."""

    def __init__(self, app: Callable, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path.startswith(p) for p in BLOCKED_PATHS):
            await _plain(send, 403, "uploads are not accepted here")
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _plain(send, 413, f"request body over {self.limit:,} bytes")
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        foreign = bool(origin) and urlsplit(origin).netloc != host
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge()
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [(k, v) for k, v in message.get("headers", [])
                        if not (foreign and k.lower().startswith(b"access-control-allow-"))]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        try:
            if scope.get("method") == "POST" and path in OPTIONAL_ARGS:
                body = await _read_all(limited_receive)
                body = _pad_args(body, OPTIONAL_ARGS[path])
                scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
                         + [(b"content-length", str(len(body)).encode())]}
                replay = _replay(body)
                await self.app(scope, replay, guarded_send)
            else:
                await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await _plain(send, 413, f"request body over {self.limit:,} bytes")


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _pad_args(body: bytes, wanted: int) -> bytes:
    """``{"data": ["q"]}`` -> ``{"data": ["q", null]}``; anything else is passed on unchanged."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if isinstance(obj, dict) and isinstance(obj.get("data"), list) and 0 < len(obj["data"]) < wanted:
        obj["data"] = obj["data"] + [None] * (wanted - len(obj["data"]))
        return json.dumps(obj).encode()
    return body


async def _plain(send: Send, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class Message(BaseModel):
    role: str = Field(description='"user" or "assistant"')
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="the question (longer than the corpus's max_question_chars is refused)")
    history: list[Message] | None = Field(default=None, description="earlier messages, oldest first")
    strictness: float | None = Field(default=None, ge=0.0, le=1.0,
                                     description="0..1: how sure the bot must be to answer (default: the corpus's)")


def echo(question: str) -> str:
    """The question as echoed in a reply: never more than a short prefix."""
    return question if len(question) <= ECHO_CHARS else question[:ECHO_CHARS] + "…"


class BotsByStrictness:
    """The loaded bot, and the same corpus at other strictness values (a few kept)."""

    def __init__(self, bot: ChatBot, keep: int = 8):
        self.bot = bot
        self.keep = keep
        self._bots: OrderedDict[float, ChatBot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, strictness: float | None) -> ChatBot:
        if strictness is None or strictness == self.bot.settings.strictness:
            return self.bot
        key = round(float(strictness), 3)
        with self._lock:
            got = self._bots.get(key)
            if got is None:
                got = self._bots[key] = self.bot.with_strictness(key)
                while len(self._bots) > self.keep:
                    self._bots.popitem(last=False)
            self._bots.move_to_end(key)
            return got


def make_app(bot: ChatBot) -> FastAPI:
    """The server: JSON API routes; the page is mounted on it by ``ui.serve``."""
    bots = BotsByStrictness(bot)
    app = FastAPI(title="Grounded answers", version="1",
                  description="Answers only from the loaded sources, quoting them verbatim with citations. "
                              "The reply object is the same as `python -m bot ask --json`.")

    @app.post("/api/ask", summary="Answer a question from the sources")
    def ask(req: AskRequest) -> dict[str, Any]:
        history = [m.model_dump() for m in req.history] if req.history else None
        reply = bots.get(req.strictness).ask(req.question, history)
        return reply.to_dict(echo(req.question))

    @app.get("/api/documents/{doc_id:path}", summary="One document of the loaded corpus, by id")
    def document(doc_id: str) -> dict[str, Any]:
        try:
            d = bot.index.documents[doc_id]
        except (KeyError, IndexError, TypeError):
            raise HTTPException(status_code=404, detail="no document with that id in the loaded corpus") from None
        return {"id": d.id, "title": d.title, "source": d.source,
                "metadata": {k: str(v) for k, v in d.metadata.items()}, "text": d.text}

    return app
