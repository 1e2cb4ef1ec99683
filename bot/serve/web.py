"""The HTTP server around the page: a plain JSON API (``POST /api/ask``, ``GET /api/documents/{id}``,
files attached to a conversation under ``/api/conversations``, OpenAPI at ``/docs``) and the
safety rules every request passes: a body size limit (larger only for a file sent to a
conversation), no other uploads, no framing by other sites, no cross-origin credentials.
``ui.py`` mounts the Gradio page on it.

FastAPI and Starlette come with Gradio; this module does not import Gradio itself.
"""
from __future__ import annotations

import contextlib
import html
import ipaddress
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, field_validator

from bot.chatbot import ChatBot, LiveBot
from bot.config import check_setting, has_surrogates, without_surrogates
from bot.serve.attachments import MAX_BYTES as ATTACH_BYTES, AttachError, Attachments

MAX_BODY_BYTES = 256 * 1024  # a question is at most a few thousand characters; history is capped too
ECHO_CHARS = 200  # a refused question is echoed back at most this long
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
        if strictness is None or strictness == base.settings.answer.strictness:
            return base
        key = round(float(strictness), 3)
        with self._lock:
            if base is not self._base:
                self._bots.clear()
                self._base = base
            got = self._bots.get(key)
            if got is None:
                got = self._bots[key] = base.with_strictness(key)
                while len(self._bots) > self.keep:
                    self._bots.popitem(last=False)
            self._bots.move_to_end(key)
            return got


VIEW_CSS = """
body { font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 48rem;
       padding: 1rem 1.25rem 4rem; color: #111827; background: #ffffff; }
header p { color: #374151; margin-top: -.5rem; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.h { font-weight: 700; } .h1 { font-size: 1.6em; } .h2 { font-size: 1.35em; } .h3 { font-size: 1.15em; }
.passage { background: #eef2ff; outline: 2px solid #6366f1; border-radius: 3px; scroll-margin-top: 30vh; }
mark { background: #fde047; color: #111827; }
img.page { max-width: 100%; border: 1px solid #9ca3af; }
figure { margin: 1rem 0; } figcaption a, summary { color: #1d4ed8; } summary { cursor: pointer; margin: .25rem 0; }
.zoom-box { overflow: auto; max-height: 85vh; border: 1px solid #9ca3af; }
.zoom-box img { width: 250%; max-width: none; display: block; }
@media (prefers-color-scheme: dark) {
  body { color: #f3f4f6; background: #111827; } header p { color: #d1d5db; }
  .passage { background: #1e1b4b; outline-color: #a5b4fc; } mark { background: #facc15; color: #111827; }
  figcaption a, summary { color: #93c5fd; }
}
"""


def render_document(text: str, passage: tuple[int, int] | None, marks: list[tuple[int, int]]) -> str:
    """The document's text, escaped (shown as text, never as markup), with the cited passage
    wrapped in ``<span id="passage">`` and the quoted sentences in ``<mark>``."""
    n = len(text)
    events: list[tuple[int, int, str]] = []  # (offset, order, markup): closings before openings
    if passage is not None:
        a, b = passage
        events += [(a, 1, '<span id="passage" class="passage">'), (b, 0, "</span>")]
    for a, b in marks:
        events += [(a, 2, "<mark>"), (b, 0, "</mark>")]
    out, pos = [], 0
    for offset, _, markup in sorted(events):
        offset = max(pos, min(offset, n))
        out.append(html.escape(text[pos:offset]))
        out.append(markup)
        pos = offset
    out.append(html.escape(text[pos:]))
    # Markdown heading lines read as headings (the text itself is never interpreted as markup)
    return _HEADING_LINE.sub(lambda m: f'<span class="h h{len(m.group(1))}">{m.group(2)}</span>', "".join(out))


_HEADING_LINE = re.compile(r"^(#{1,6})[ \t]+([^\n<]+)$", re.M)


def _spans(raw: str, n: int) -> list[tuple[int, int]]:
    """"a-b,c-d" -> [(a, b), (c, d)] within 0..n; anything malformed is ignored."""
    out = []
    for part in raw.split(",")[:50]:
        a, _, b = part.partition("-")
        if a.isdigit() and b.isdigit() and int(a) < int(b) <= n:
            out.append((int(a), int(b)))
    return out


_PAGE_HEADING = re.compile(r"^## Page (\d+)$", re.M)
PAGE_SCALE = 1.5  # 108 dpi: readable on a laptop screen, about 150 KB a page
PAGE_PIXELS = 4_000_000  # a page image is never larger (an A4 page at 108 dpi is 1.1 million pixels);
# a 14,400-point page rendered at full scale took 25 s and 7.45 GB
PAGE_CACHE_BYTES = 32 * 1024 * 1024  # rendered pages kept, newest first
MAX_ZOOM = 3  # "enlarge": the page rendered up to this many times larger, still within PAGE_PIXELS


def page_scale(width: float, height: float, zoom: int = 1) -> float:
    """The render scale: ``PAGE_SCALE`` times ``zoom``, or less if that would exceed ``PAGE_PIXELS``."""
    area = max(width, 1.0) * max(height, 1.0)
    return min(PAGE_SCALE * zoom, (PAGE_PIXELS / area) ** 0.5)


class PageCache:
    """Rendered page images by (file, its size and time, page, highlights), within a byte budget;
    one page is rendered at a time (rendering takes a core and memory)."""

    def __init__(self, budget: int = PAGE_CACHE_BYTES):
        self.budget = budget
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._render = threading.Lock()
        self.renders = 0

    def get(self, path: Path, page_no: int, quotes: list[str], zoom: int = 1) -> bytes:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, page_no, tuple(quotes), zoom)
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
                return png
        with self._render:
            with self._lock:
                png = self._items.get(key)  # rendered by another request meanwhile
            if png is None:
                png = render_pdf_page(path, page_no, quotes, zoom)
                self.renders += 1
        with self._lock:
            if key not in self._items and len(png) <= self.budget:
                self._items[key] = png
                self._size += len(png)
                while self._size > self.budget:
                    _, old = self._items.popitem(last=False)
                    self._size -= len(old)
        return png


def pdf_page_of(text: str, offset: int) -> int | None:
    """The PDF page an offset of an ingested PDF's text lies on ("## Page N" headings mark them)."""
    page = None
    for m in _PAGE_HEADING.finditer(text, 0, max(0, offset) + 1):
        page = int(m.group(1))
    return page


def source_file(bot: ChatBot, doc: Any) -> Path | None:
    """The PDF file a document was read from, found from what the corpus itself records (its
    folder, or the sources a saved index was built from); never from a path sent by a client."""
    rel = str(doc.source).split("#")[0]
    roots = [bot.manifest.path.parent]
    if bot.saved_index:
        from bot.index import layout

        try:
            roots += [Path(i) for i in layout.read_header(bot.manifest.path.parent).get("inputs") or []]
        except Exception:  # an unreadable header: no file to show
            pass
    outside_ok = bot.manifest.settings.index.allow_outside_paths
    for root in roots:
        for candidate in (root / rel, root if root.name == rel else None):
            if candidate is not None and candidate.suffix.lower() == ".pdf" and candidate.is_file():
                # a file swapped for a link out of its folder since indexing is not shown
                if candidate == root or outside_ok or candidate.resolve().is_relative_to(root.resolve()):
                    return candidate
    return None


def render_pdf_page(path: Path, page_no: int, quotes: list[str], zoom: int = 1) -> bytes:
    """One PDF page as a PNG with the quoted sentences highlighted (pypdfium2 finds their
    character boxes; a quote is located by its first and last words, as extracted text and the
    PDF's own text may break lines differently)."""
    import io

    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(str(path))
    try:
        if not 1 <= page_no <= len(pdf):
            raise HTTPException(status_code=404, detail="no such page")
        page = pdf[page_no - 1]
        width, height = page.get_size()
        scale = page_scale(width, height, zoom)
        image = page.render(scale=scale).to_pil().convert("RGBA")
        text = page.get_textpage()
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for quote in quotes:
            words = quote.split()
            if not words:
                continue
            first = text.search(" ".join(words[:6]), match_case=False).get_next()
            if first is None:
                continue
            last = text.search(" ".join(words[-6:]), match_case=False).get_next() if len(words) > 6 else None
            start, end = first[0], (last[0] + last[1]) if last and last[0] >= first[0] else first[0] + first[1]
            for i in range(text.count_rects(start, end - start)):
                left, bottom, right, top = text.get_rect(i)
                draw.rectangle([left * scale - 2, (height - top) * scale - 2,
                                right * scale + 2, (height - bottom) * scale + 2],
                               fill=(250, 204, 21, 110), outline=(202, 138, 4, 255), width=2)
        out = io.BytesIO()
        Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG")
        return out.getvalue()
    finally:
        pdf.close()


def make_app(bot: "ChatBot | LiveBot", attachments: Attachments | None = None) -> FastAPI:
    """The server: JSON API routes; the page is mounted on it by ``ui.serve``. With
    ``attachments``, conversations can hold files of their own (``/api/conversations``);
    without, those routes answer 403."""
    bots = BotsByStrictness(bot)
    pages = PageCache()
    # Swagger UI and ReDoc from the fastapi-offline package: FastAPI's own /docs loads them from a CDN
    app = FastAPIOffline(title="Grounded answers", version="1",
                  description="Answers only from the loaded sources, quoting them verbatim with citations. "
                              "The reply object is the same as `python -m bot ask --json`.")

    app.state.pages = pages  # the rendered PDF pages (tests read its render count)

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
                "metadata": {k: str(v) for k, v in d.metadata.items() if not str(k).startswith("_")},  # "_": the reader's
                "text": d.text}

    @app.get("/documents/{doc_id:path}/view", response_class=HTMLResponse, include_in_schema=False)
    def view(doc_id: str, start: int = Query(-1), end: int = Query(-1), hl: str = Query("", max_length=2000)):
        """The whole cited document, the passage outlined and scrolled to, its quotes highlighted."""
        d = corpus_document(doc_id)
        return document_view(d, start, end, hl, source_file(bot.current(), d) is not None)

    @app.get("/documents/{doc_id:path}/page.png", include_in_schema=False)
    def page_image(doc_id: str, page: int = Query(..., ge=1, le=100_000), hl: str = Query("", max_length=2000),
                   zoom: int = Query(1, ge=1, le=MAX_ZOOM)):
        """A cited PDF page as an image, the quoted sentences highlighted on it."""
        d = corpus_document(doc_id)
        return page_response(pages, d, source_file(bot.current(), d), page, hl, zoom)

    def corpus_document(doc_id: str) -> Any:
        try:
            return bot.current().index.documents[doc_id]
        except (KeyError, IndexError, TypeError):
            raise HTTPException(status_code=404, detail="no document with that id in the loaded corpus") from None

    add_conversation_routes(app, bots, attachments, pages)
    app.state.attachments = attachments
    if attachments is not None:
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a: Any) -> Any:
            """Attached files are deleted when the server stops (uvicorn ends a SIGTERM by raising
            it again once shut down, so no atexit handler would run)."""
            async with inner(a) as state:
                try:
                    yield state
                finally:
                    attachments.close()

        app.router.lifespan_context = lifespan
    return app


def document_view(d: Any, start: int, end: int, hl: str, has_pdf: bool) -> HTMLResponse:
    """A document's page: its text escaped, the passage ``start..end`` outlined and scrolled to,
    the ``hl`` spans highlighted; a PDF's page image above it (``page.png`` next to this URL)."""
    n = len(d.text)
    passage = (start, end) if 0 <= start < end <= n else None
    figure = ""
    page_no = pdf_page_of(d.text, start) if passage else None
    if page_no is not None and has_pdf:
        src = f"page.png?page={page_no}&hl={html.escape(hl, quote=True)}"
        alt = f"Page {page_no} of the PDF, the quoted sentences highlighted"
        # enlarge without a script (the view allows none): a larger rendering, scrolled in its box
        figure = (f'<figure id="page" style="scroll-margin-top:1rem"><img src="{src}" alt="{alt}" class="page">'
                  f'<figcaption>Page {page_no} · <a href="{src}&amp;zoom=2">open the page at full size</a>'
                  f'</figcaption><details class="zoom"><summary>Enlarge the page here</summary>'
                  f'<div class="zoom-box"><img src="{src}&amp;zoom=2" alt="{alt}, enlarged" loading="lazy">'
                  f"</div></details></figure>")
    credit = ", ".join(html.escape(str(d.metadata[k])) for k in ("author", "published") if d.metadata.get(k))
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(d.title)}</title><style>{VIEW_CSS}</style></head><body>"
            f"<header><h1>{html.escape(d.title)}</h1><p>{credit + ' — ' if credit else ''}"
            f"{html.escape(d.source)}</p></header>{figure}"
            f"<main class=\"text\">{render_document(d.text, passage, _spans(hl, n))}</main></body></html>")
    return HTMLResponse(body, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                  "img-src 'self'; frame-ancestors 'none'"})


def page_response(pages: PageCache, d: Any, path: Path | None, page: int, hl: str, zoom: int) -> Response:
    """A document's PDF page as a PNG, the ``hl`` spans highlighted; 404 when it has no PDF."""
    if path is None:
        raise HTTPException(status_code=404, detail="this document has no PDF to show")
    quotes = [d.text[a:b] for a, b in _spans(hl, len(d.text))]
    try:
        png = pages.get(path, page, quotes, zoom)
    except HTTPException:
        raise
    except Exception:  # a PDF changed or damaged since it was indexed
        raise HTTPException(status_code=404, detail="the PDF page cannot be shown") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


class ConversationReply(BaseModel):
    conversation: str = Field(description="the new conversation's id: keep it private, it is the only key to its files")
    limits: dict[str, Any] = Field(description="what a conversation may hold")


UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def add_conversation_routes(app: FastAPI, bots: BotsByStrictness, store: Attachments | None, pages: PageCache) -> None:
    """``/api/conversations``: make one, attach files to it, list and remove them, remove it; the
    document view and PDF page image of an attached file under ``/conversations/{id}/documents``.
    Every route answers 403 when attachments are off (``store`` is None)."""

    def need() -> Attachments:
        if store is None:
            raise HTTPException(status_code=403, detail=ATTACH_OFF)
        return store

    def call(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except AttachError as exc:
            raise HTTPException(status_code=exc.status, detail=str(exc)) from None

    tags = ["conversations"]

    @app.post("/api/conversations", status_code=201, tags=tags, response_model=ConversationReply,
              summary="Start a conversation that files can be attached to")
    def new_conversation() -> dict[str, Any]:
        s = need()
        return {"conversation": s.create(), "limits": s.limits_dict()}

    @app.post("/api/conversations/{conversation}/files", status_code=201, tags=tags, openapi_extra=UPLOAD_BODY,
              summary="Attach a file (PDF, Markdown, text, HTML, JSON Lines) to a conversation",
              description="Send the file's bytes as the body (name it with `?filename=`), or as the `file` field "
                          "of a multipart form. The type is read from the bytes, not the name. A conversation holds "
                          "at most 10 files and 20 MB; PDFs at most 500 pages and 60 s to read. Each refusal says "
                          "which limit: 404 no such conversation, 409 too many files, 413 too large, 415 not a "
                          "supported type, 422 unreadable.")
    async def attach(conversation: str, request: Request,
                     filename: str = Query("", max_length=1000, description="the file's name, as cited")) -> JSONResponse:
        s = need()
        call(s.files, conversation)  # no such conversation: said before the body is read
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=5)
            except Exception:  # noqa: BLE001 - a malformed form
                raise HTTPException(status_code=400, detail="a malformed multipart form") from None
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise HTTPException(status_code=422, detail="send the file as the 'file' field of the form")
            data, name = await part.read(), filename or part.filename or ""
            await form.close()
        else:
            data, name = await request.body(), filename
        if len(data) > s.max_bytes:
            raise HTTPException(status_code=413, detail=f"the file is over the {s.max_bytes // 1048576} MB limit")
        info = await run_in_threadpool(call, s.add, conversation, name, data)
        return JSONResponse({"conversation": conversation, "file": info, "files": call(s.files, conversation)},
                            status_code=201)

    @app.get("/api/conversations/{conversation}/files", tags=tags, summary="The files attached to a conversation")
    def list_files(conversation: str) -> dict[str, Any]:
        s = need()
        return {"conversation": conversation, "files": call(s.files, conversation), "limits": s.limits_dict()}

    @app.delete("/api/conversations/{conversation}/files/{file_id}", tags=tags,
                summary="Remove one attached file")
    def remove_file(conversation: str, file_id: str) -> dict[str, Any]:
        s = need()
        return {"conversation": conversation, "files": call(s.remove_file, conversation, file_id)}

    @app.delete("/api/conversations/{conversation}", status_code=204, tags=tags,
                summary="Remove a conversation and its files")
    def remove_conversation(conversation: str) -> Response:
        if not need().remove(conversation):
            raise HTTPException(status_code=404, detail="no such conversation")
        return Response(status_code=204)

    @app.get("/conversations/{conversation}/documents/{doc_id:path}/view", response_class=HTMLResponse,
             include_in_schema=False)
    def attached_view(conversation: str, doc_id: str, start: int = Query(-1), end: int = Query(-1),
                      hl: str = Query("", max_length=2000)):
        d, path = call(need().document, conversation, doc_id)
        return document_view(d, start, end, hl, path is not None)

    @app.get("/conversations/{conversation}/documents/{doc_id:path}/page.png", include_in_schema=False)
    def attached_page(conversation: str, doc_id: str, page: int = Query(..., ge=1, le=100_000),
                      hl: str = Query("", max_length=2000), zoom: int = Query(1, ge=1, le=MAX_ZOOM)):
        d, path = call(need().document, conversation, doc_id)
        return page_response(pages, d, path, page, hl, zoom)
