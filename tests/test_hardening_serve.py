"""Hostile requests to the server and the page (issue: hardening, second round). Each test failed
before its fix."""
from __future__ import annotations

import pytest

from bot import chatbot as chatbot_module
from bot.chatbot import MARKUP_SLACK, clean_question, drop_comments
from waits import wait_until


# ---- linear-time cleaning of questions and history ---------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("what <!-- a hidden note --> is a VAE", "what is a VAE"),
    ("a<!--x-->b<!--y-->c", "a b c"),
    ("what does <!-- mean in HTML?", "what does <!-- mean in HTML?"),  # unclosed: kept as typed
    ("<!--" * 1000 + "tail", "<!--" * 1000 + "tail"),
    ("x <!-- one <!-- two --> y", "x y"),
])
def test_comments_are_dropped_in_one_pass(text, expected):
    assert " ".join(drop_comments(text).split()) == expected


def test_history_is_cut_before_it_is_cleaned(bot, monkeypatch):
    """A 260 KB history message of ``<!--`` took 47 s to clean (and held every other request):
    the cleaner now only ever sees a bounded prefix of a message."""
    seen: list[int] = []
    real = chatbot_module.strip_markup
    monkeypatch.setattr(chatbot_module, "strip_markup", lambda t: seen.append(len(t)) or real(t))
    hostile = [{"role": "user", "content": "<!--" * 65000}, {"role": "assistant", "content": "<!--" * 65000}]
    reply = bot.ask("what is a VAE", hostile)
    budget = bot.settings.answer.max_history_chars
    assert seen and max(seen) <= max(budget * MARKUP_SLACK, bot.settings.answer.max_question_chars)
    assert reply.support == "answer" and "VAE" in reply.citations[0].title


def test_clean_question_with_a_limit_reads_a_bounded_prefix():
    text = "<b>word</b> " * 100_000
    cut = clean_question(text, 50)
    assert len(cut) <= 50 and cut.startswith("word word")
    assert clean_question(text, 0) == ""


# ---- the JSON API: hostile requests get short 4xx replies ---------------------------------------
@pytest.fixture(scope="module")
def api(bot):
    from starlette.testclient import TestClient

    from bot.serve.guard import Guard
    from bot.serve.web import make_app

    with TestClient(Guard(make_app(bot), allowed_hosts=("chat.example",)), base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("raw", ['{"question": "what is a VAE", "strictness": NaN}',
                                 '{"question": "what is a VAE", "strictness": Infinity}',
                                 '{"question": "what is a VAE", "strictness": -Infinity}',
                                 '{"question": "bad \\ud800 question"}',
                                 '{"question": "ok", "history": [{"role": "user", "content": 12}]}'])
def test_nan_and_lone_surrogates_get_a_short_422(api, raw):
    r = api.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail and all(set(d) == {"where", "problem"} for d in detail)
    assert len(r.content) < 1000


def test_a_surrogate_in_history_is_cleaned_not_fatal(api):
    raw = '{"question": "what is a VAE", "history": [{"role": "user", "content": "bad \\ud800 text"}]}'
    r = api.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["support"] == "answer"


def test_a_large_wrong_body_is_not_reflected(api):
    body = "x" * 250_000
    r = api.post("/api/ask", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and len(r.content) < 500
    r = api.post("/api/ask", content='{"question": ["' + "y" * 200_000 + '"]}',
                 headers={"content-type": "application/json"})
    assert r.status_code == 422 and len(r.content) < 2000 and "yyyy" not in r.text


def test_host_names_the_server_was_not_started_for_are_refused(api):
    """DNS rebinding: a page on attacker.example resolves its name to 127.0.0.1 and reads the API."""
    assert api.get("/api/documents/llm-vs-genai", headers={"host": "attacker.example"}).status_code == 421
    assert api.get("/api/documents/llm-vs-genai", headers={"host": "attacker.example:7860"}).status_code == 421
    for host in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "10.0.0.5", "chat.example", "CHAT.example:80"):
        r = api.get("/api/documents/nonexistent", headers={"host": host})
        assert r.status_code == 404, host  # served (no such document), not refused
    assert api.post("/api/ask", json={"question": "what is a VAE"},
                    headers={"host": "evil.test"}).status_code == 421


def test_every_reply_carries_a_content_security_policy(api):
    csp = api.get("/docs").headers["content-security-policy"]
    for rule in ("default-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
                 "frame-ancestors 'none'"):
        assert rule in csp
    assert "http" not in csp  # no other origin is trusted


def test_api_documentation_is_served_without_a_cdn(api):
    import re

    page = api.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text) + re.findall(r"""url: ?["']([^"']+)""", page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert api.get(asset).status_code == 200, asset


# ---- the socket: deadlines, a connection cap, logs that cannot flood, the port ------------------
class Running:
    """A guarded uvicorn server for a tiny app, in a thread, on a free loopback port."""

    def __init__(self, limits):
        import threading

        from bot.serve import server

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            while (await receive()).get("more_body"):
                pass
            size = BIG if scope["path"] == "/big" else 2
            if size == BIG:
                self.replying.set()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(size).encode())]})
            if size == 2:
                await send({"type": "http.response.body", "body": b"ok"})
                return
            piece = b"x" * (1 << 20)
            for left in range(size, 0, -len(piece)):
                await send({"type": "http.response.body", "body": piece[:left], "more_body": left > len(piece)})

        self.replying = threading.Event()  # a large reply has begun
        self.sock = server.bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.server = server.make_server(app, limits)
        self.errors: list[BaseException] = []

        def run():
            try:
                self.server.run(sockets=[self.sock])
            except BaseException as exc:  # collected: a failure in the thread fails the test
                self.errors.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or self.errors, "server start")

    def connect(self):
        import socket

        return socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def get(self) -> bytes:
        with self.connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return read_all(s)

    def close(self):
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.errors


def read_all(s) -> bytes:
    out = b""
    while True:
        chunk = s.recv(65536)  # blocks until the server writes or closes (socket timeout: 30 s)
        if not chunk:
            return out
        out += chunk


@pytest.fixture
def running():
    from bot.serve.server import Limits

    made = []

    def start(**kw):
        made.append(Running(Limits(**kw)))
        return made[-1]

    yield start
    for r in made:
        r.close()


def test_unfinished_headers_and_bodies_are_cut_with_408(running):
    """A request cut off for arriving too slowly was closed with no reply (a bare reset to the
    client); now it is answered 408 with a message saying what was too slow. A connection that
    sent nothing is closed silently."""
    srv = running(header_seconds=0.3, body_seconds=0.3)
    assert srv.get().startswith(b"HTTP/1.1 200")
    with srv.connect() as s:  # nothing sent: closed, nothing to answer
        assert read_all(s) == b""
    with srv.connect() as s:  # headers never finished
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        reply = read_all(s)
        assert reply.startswith(b"HTTP/1.1 408") and b"headers did not arrive within 0.3 s" in reply
    with srv.connect() as s:  # a body that never arrives
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789")
        reply = read_all(s)
        assert reply.startswith(b"HTTP/1.1 408") and b"body stopped arriving" in reply
    with srv.connect() as s:  # bytes trickling in do not extend the deadline
        s.sendall(b"GET / HTTP/1.1\r\n")
        import time

        for _ in range(100):
            try:
                s.sendall(b"X-a: b\r\n")
            except OSError:
                break
            time.sleep(0.02)
        assert read_all(s).startswith(b"HTTP/1.1 408")
    assert srv.get().startswith(b"HTTP/1.1 200")


def test_a_body_arriving_steadily_is_not_cut_however_long_it_takes(running):
    """The body deadline was counted once from the end of the headers: an honest upload of 3 MB at
    80 KB/s was cut at 30 s. Now a body is judged on its rate over each ``body_seconds``: one
    arriving at 80 KB/s for many such spans gets its reply; a body that stalls halfway is cut."""
    import time

    srv = running(body_seconds=0.5, min_body_rate=8 * 1024)
    size = 320 * 1024  # 4 s at 80 KB/s: eight spans of 0.5 s
    with srv.connect() as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        start, sent = time.monotonic(), 0
        while sent < size:
            s.sendall(b"x" * 8192)
            sent += 8192
            time.sleep(max(0.0, start + sent / (80 * 1024) - time.monotonic()))  # paces the sending, waits for nothing
        assert read_all(s).startswith(b"HTTP/1.1 200")
    with srv.connect() as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % size + b"x" * 65536)
        reply = read_all(s)  # the rest never comes
        assert reply.startswith(b"HTTP/1.1 408") and b"less than 8 KB a second" in reply


BIG = 32 << 20  # a reply far larger than the socket buffers (sent a megabyte at a time)


def test_a_client_that_never_reads_its_reply_is_cut_off_and_a_slow_reader_is_not(running):
    """A client that asks for a large reply and reads none of it held its connection (and the
    reply) for as long as it liked; now it is cut off once the reply stalls that long. A client
    reading slowly but steadily gets the whole reply."""
    import socket
    import time

    srv = running(stalled_reply_seconds=1.0)
    request = b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(request)  # and never read
    # its reply begun first: before the server has accepted the connection, none is open either
    assert srv.replying.wait(30), "the large reply never began"
    wait_until(lambda: len(srv.server.server_state.connections) == 0, "the stalled connection cut off")
    with s:
        got = b""
        try:
            got = read_all(s)
        except ConnectionResetError:  # cut off with its reply unread: reset
            pass
        assert len(got) < BIG
    with srv.connect() as slow:  # reads with pauses, each far shorter than the limit
        slow.sendall(request)
        got = 0
        while chunk := slow.recv(1 << 20):
            got += len(chunk)
            time.sleep(0.005)
        assert got > BIG  # headers and the whole body
    assert srv.get().startswith(b"HTTP/1.1 200")


def test_connections_over_the_cap_are_refused_at_once(running):
    srv = running(header_seconds=120, max_connections=3)
    idle = [srv.connect() for _ in range(3)]
    wait_until(lambda: len(srv.server.server_state.connections) == 3, "3 connections")
    with srv.connect() as s:  # answered and closed without waiting for a request
        assert read_all(s).startswith(b"HTTP/1.1 503")
    for s in idle:
        s.close()
    wait_until(lambda: len(srv.server.server_state.connections) == 0, "idle connections closed")
    assert srv.get().startswith(b"HTTP/1.1 200")


def test_a_flood_of_one_log_message_is_cut_to_a_few_lines():
    import logging

    from bot.serve.server import RateLimit

    now = [0.0]
    rate = RateLimit(per_minute=5, clock=lambda: now[0])
    records = [logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Too many open files", None, None)
               for _ in range(10_000)]
    passed = [r for r in records if rate.filter(r)]
    assert len(passed) == 5
    now[0] = 61.0
    later = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "Too many open files", None, None)
    assert rate.filter(later) and "9,995 more" in later.getMessage()
    other = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "something else", None, None)
    assert rate.filter(other)


def test_a_port_in_use_is_reported_before_serving(tmp_path):
    import subprocess
    import sys

    from bot.serve.server import PortInUse, bind

    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    with pytest.raises(PortInUse, match=f"port {port} .* already in use.*--port 0"):
        bind("127.0.0.1", port)
    p = subprocess.run([sys.executable, "app.py", "--port", str(port)], capture_output=True, text=True, timeout=120,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    taken.close()
    assert p.returncode == 2 and "already in use" in p.stderr and "Serving" not in p.stdout
    assert "Traceback" not in p.stderr



def test_served_connections_send_small_replies_at_once():
    """The socket app.py binds says it is TCP, so asyncio turns Nagle's algorithm off on every
    connection it accepts: with protocol 0 it stayed on, each small reply waited for a delayed
    ACK, and /api/ask served half the requests a second (bench/load_page.py)."""
    import asyncio
    import socket

    from bot.serve.server import bind

    sock = bind("127.0.0.1", 0)
    seen: list[int] = []

    async def main() -> None:
        accepted = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):  # type: ignore[override]
                s = transport.get_extra_info("socket")
                seen.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()
                accepted.set_result(True)

        srv = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        await asyncio.wait_for(accepted, 30)
        writer.close()
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())
    assert seen and seen[0] != 0

# ---- feedback keeps no personal data and is private ----------------------------------------------
PERSONAL = [
    ("My name is Jane Q. Public and what is a VAE?", ["Jane", "Public"]),
    ("I'm Jane Public, how do VAEs work? Regards, Jane", ["Jane", "Public"]),
    ("I live at 221B Baker Street, London NW1 6XE, what is a GAN", ["221B", "Baker", "NW1", "6XE"]),
    ("ship to 12 Elm Road, Springfield, IL 62704", ["Elm Road", "62704"]),
    ("my passport number is X12345678, can an LLM read it", ["X12345678"]),
    ("passport no: 987654321", ["987654321"]),
    ("my password is hunter2! what is Sora", ["hunter2"]),
    ("password: correct-horse-battery", ["correct-horse"]),
    ("mail jane dot public at gmail dot com about it", ["jane", "gmail"]),
    ("write to jane.public@example.com", ["jane.public", "example.com"]),
    ("jane (at) example (dot) org please", ["jane", "example"]),
    ("tel 5550199 if it fails", ["5550199"]),
    ("call me on 555 0199", ["555 0199"]),
    ("five five five zero one nine nine is my number", ["five five five"]),
    ("card 4111 1111 1111 1111 expired", ["4111"]),
    ("flat 3, 14 Station Road", ["Station Road", "flat 3"]),
]


@pytest.mark.parametrize("text, secrets", PERSONAL)
def test_feedback_redacts_personal_data(text, secrets):
    from bot.serve.feedback import redact

    cleaned = redact(text)
    for secret in secrets:
        assert secret.lower() not in cleaned.lower(), cleaned


@pytest.mark.parametrize("text", ["what is a VAE?", "How do I pin a tab in the browser?",
                                  "what does rsync -avz --delete do", "how do I call C from Python 3.11",
                                  "which port does 127.0.0.1:7860 use", "what is the default TTL of 3600 seconds",
                                  "how to connect via the API at example time"])
def test_feedback_keeps_ordinary_questions(text):
    from bot.serve.feedback import redact

    assert redact(text) == text


def test_feedback_file_is_private_and_redacted_in_question_and_answer(tmp_path):
    import json
    import os
    import stat

    from bot.serve.feedback import FeedbackLog

    path = tmp_path / "fb" / "feedback.jsonl"
    log = FeedbackLog(path)
    question = "my name is Jane Public, tel 5550199, what is a VAE"
    log.record(question, "The sources do not mention Jane Public or 5550199.", True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    row = json.loads(path.read_text())
    assert "Jane" not in json.dumps(row) and "5550199" not in json.dumps(row)
    assert "what is a VAE" in row["question"]
    path.chmod(0o644)  # a file made by an older version is tightened at the next record
    log.record("q", "a", False)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(path.read_text().splitlines()) == 2


# ---- PDF page images: a pixel budget and a cache ------------------------------------------------
def test_a_huge_pdf_page_is_rendered_within_the_pixel_budget_once(tmp_path):
    import io

    from PIL import Image
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import RectangleObject
    from starlette.testclient import TestClient

    from bot import ChatBot
    from bot.serve.guard import Guard
    from bot.serve.pdf_pages import PAGE_PIXELS
    from bot.serve.web import make_app
    from mixed_corpus import make_pdf

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Poster rules: the poster must be printed on recycled paper."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.pages[0].mediabox = RectangleObject([0, 0, 6000, 6000])  # 83 x 83 inches: 81 million pixels at 108 dpi
    docs = tmp_path / "docs"
    docs.mkdir()
    with open(docs / "poster.pdf", "wb") as f:
        writer.write(f)
    bot = ChatBot.load(docs)
    doc_id = bot.documents[0].id
    app = make_app(bot)
    with TestClient(Guard(app), base_url="http://127.0.0.1") as client:
        first = client.get(f"/documents/{doc_id}/page.png", params={"page": 1})
        again = client.get(f"/documents/{doc_id}/page.png", params={"page": 1})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    width, height = Image.open(io.BytesIO(first.content)).size
    assert width * height <= PAGE_PIXELS and width > 1000
    assert again.content == first.content and app.state.pages.renders == 1


# ---- the page: fast Enter loses nothing -----------------------------------------------------------
from test_page import app_url, browser  # noqa: E402,F401  (fixtures: the page served, headless Chromium)


def test_questions_sent_with_enter_back_to_back_are_all_answered(browser, app_url):  # noqa: F811
    """Ten questions typed and sent with Enter with no pause: 3 were lost (Gradio dropped a submit
    fired while the previous one was pending, and the server's emptying of the box wiped the next
    question typed meanwhile)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(app_url)
        box = page.get_by_test_id("textbox")
        questions = [f"what is a VAE, question {i}" for i in range(10)]
        for q in questions:
            box.fill(q)
            box.press("Enter")
        page.wait_for_function("""() => {
            const users = document.querySelectorAll('#chat [data-testid="user"]');
            return users.length >= 10 && !document.querySelector('#chat').innerText.includes('Searching the sources');
        }""", timeout=60_000)
        shown = page.eval_on_selector_all('#chat [data-testid="user"]', "els => els.map(e => e.innerText.trim())")
        # each one once (sent within the same millisecond, two may reach the server in either order)
        assert sorted(shown) == sorted(questions)
        answers = page.eval_on_selector_all('#chat [data-testid="bot"]', "els => els.map(e => e.innerText)")
        assert sum("Variational" in a or "VAE" in a for a in answers) >= 10
        assert box.input_value() == ""
        # typed while an answer is on its way: stays in the box
        box.fill("what is a GAN")
        box.press("Enter")
        box.fill("what is Sora")
        page.wait_for_function("""() => document.querySelectorAll('#chat [data-testid="user"]').length >= 11
            && !document.querySelector('#chat').innerText.includes('Searching the sources')""", timeout=60_000)
        assert box.input_value() == "what is Sora"
    finally:
        page.close()


def test_a_chunked_body_over_the_limit_gets_413_not_a_parse_error():
    """A body with no Content-Length, sent in chunks past the limit: reading stopped at the limit,
    but FastAPI took the refusal for a malformed body and answered 400 "error parsing the body"."""
    from fastapi.testclient import TestClient

    from bot import ChatBot
    from bot.serve.guard import MAX_BODY_BYTES, Guard
    from bot.serve.web import make_app

    def chunks():
        yield b'{"question": "'
        for _ in range(8):
            yield b"a" * (MAX_BODY_BYTES // 4)
        yield b'"}'

    with TestClient(Guard(make_app(ChatBot.load())), base_url="http://127.0.0.1") as client:
        r = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "over" in r.json()["detail"]
        assert client.post("/api/ask", json={"question": "what is a VAE"}).status_code == 200


def test_a_question_whose_event_gradio_dropped_is_sent_once_more(browser, app_url):  # noqa: F811
    """Gradio sometimes drops the first event after a page loads (gradio-app/gradio#13599; CI saw
    a first question never answered). Here the first Enter is kept from Gradio on purpose: the
    question, still whole in the box, is sent once more, and shown once."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(app_url)
        box = page.locator("#question textarea")
        box.wait_for()
        page.evaluate("""() => { let first = true;
            window.addEventListener('keypress', e => { if (first && e.key === 'Enter') { first = false;
                e.preventDefault(); e.stopImmediatePropagation(); } }, true); }""")
        box.fill("what is a VAE")
        box.press("Enter")
        page.wait_for_function("""() => document.querySelectorAll('#chat [data-testid="user"]').length >= 1
            && !document.querySelector('#chat').innerText.includes('Searching the sources')""", timeout=60_000)
        shown = page.eval_on_selector_all('#chat [data-testid="user"]', "els => els.map(e => e.innerText.trim())")
        assert shown == ["what is a VAE"]
        assert "VAEs are a kind of GenAI model" in page.locator("#chat").inner_text() and box.input_value() == ""
    finally:
        page.close()


def test_a_document_shows_its_metadata_not_the_readers_structure(api):
    """The reader's keys ("_blocks", "_code": offsets of units and inline code) are not metadata."""
    doc = api.get("/api/documents/llm-vs-genai.md").json()
    assert doc["metadata"]["author"] and doc["metadata"]["format"] == "markdown"
    assert not any(k.startswith("_") for k in doc["metadata"]), list(doc["metadata"])
