"""The request guard every request passes (ASGI middleware around the whole app): a body size
limit (larger only for a file sent to a conversation, chunked bodies counted as they arrive), no
other uploads, the Host names the server was started for, JSON only on the JSON API, the content
security policy, no framing by other sites, no cross-origin credentials."""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from bot.serve.attachments import MAX_BYTES as ATTACH_BYTES

MAX_BODY_BYTES = 256 * 1024  # a question is at most a few thousand characters; history is capped too
# Everything the page loads comes from this server: no script, style, font, image or request
# reaches another origin (Gradio's page needs inline scripts and styles of its own).
PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
BLOCKED_PATHS = ("/gradio_api/upload", "/upload")  # files reach the server only through the conversation API
CONVERSATION_PATHS = ("/api/conversations", "/conversations/")  # attached files: turned off with --no-attachments
UPLOAD_PATH = re.compile(r"^/api/conversations/[^/]+/files/?$")  # a file's bytes, raw or multipart
UPLOAD_SLACK = 64 * 1024  # multipart framing around a file of the largest size allowed
ATTACH_OFF = "attaching files is turned off on this server (--no-attachments)"
# Gradio's HTTP API wants every argument; for these endpoints trailing optional ones may be left out
# (raw HTTP callers of /gradio_api/call/chat often send only the question): they are sent as null.
OPTIONAL_ARGS = {"/gradio_api/call/chat": 2}
JSON_ONLY = ("/api/",)  # these routes read a JSON body: any other content type is refused (415)
LOOPBACK_NAMES = ("localhost",)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _TooLarge(Exception):
    pass


def host_name(host_header: str) -> str:
    """``Example.org:7860`` -> ``example.org``; ``[::1]:7860`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """A request's Host is one of the names this server was started for (``--host``,
    ``--allow-host``), ``localhost``, or an IP address: a page on another site that rebinds its
    own DNS name to this machine sends that name, and is refused."""
    if "*" in allowed:
        return True
    host = host_name(host_header)
    if host in allowed or host in LOOPBACK_NAMES:
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class Guard:
    """ASGI middleware: refuse bodies over ``limit`` bytes (413) before the app stores them,
    refuse uploads (403) but for a file sent to a conversation (``uploads``: bodies up to
    ``upload_limit`` there and only there; without ``uploads`` the conversation routes are refused
    here), refuse Host names the server was not started for (421), refuse non-JSON bodies on the
    JSON API (415), add the content security policy and anti-framing headers, and drop CORS
    grants to other origins."""

    def __init__(self, app: Callable, limit: int = MAX_BODY_BYTES, allowed_hosts: tuple[str, ...] = (),
                 uploads: bool = False, upload_limit: int = ATTACH_BYTES + UPLOAD_SLACK):
        self.app = app
        self.limit = limit
        self.uploads = uploads
        self.upload_limit = upload_limit
        self.allowed_hosts = frozenset(h.strip().lower().strip("[]") for h in allowed_hosts if h.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host")
        if host is not None and not host_allowed(host.decode("latin-1"), self.allowed_hosts):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _plain(send, 421, "this server does not answer for that host name (see --allow-host)")
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if any(path.startswith(p) for p in BLOCKED_PATHS):
            await _plain(send, 403, "uploads are not accepted here")
            return
        if not self.uploads and path.startswith(CONVERSATION_PATHS):
            await _plain(send, 403, ATTACH_OFF)
            return
        upload = self.uploads and scope.get("method") == "POST" and UPLOAD_PATH.match(path) is not None
        limit = self.upload_limit if upload else self.limit
        if (scope.get("method") == "POST" and path.startswith(JSON_ONLY) and not upload
                and not headers.get(b"content-type", b"").split(b";")[0].strip().lower().endswith(b"json")):
            await _plain(send, 415, "send the request as JSON (Content-Type: application/json)")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _plain(send, 413, f"request body over {limit:,} bytes")
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        foreign = bool(origin) and urlsplit(origin).netloc != host
        received = 0
        started = False
        too_large = False  # an application may catch the refusal (FastAPI answers 400): the reply says 413

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if too_large:  # whatever the application made of a body cut short
                if not started:
                    started = True
                    await _plain(send, 413, f"request body over {limit:,} bytes")
                return
            if message["type"] == "http.response.start":
                started = True
                kept = [(k, v) for k, v in message.get("headers", [])
                        if not (foreign and k.lower().startswith(b"access-control-allow-"))]
                names = {k.lower() for k, _ in kept}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                kept = [(k, v + b"; frame-ancestors 'none'" if k.lower() == b"content-security-policy"
                         and b"frame-ancestors" not in v else v) for k, v in kept]
                message = {**message, "headers": kept + extra}
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
                await _plain(send, 413, f"request body over {limit:,} bytes")


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
    body = json.dumps({"detail": text}).encode()  # ASCII: a lone surrogate cannot break the reply
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
