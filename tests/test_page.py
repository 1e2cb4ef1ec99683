"""The chat page: API through gradio_client, and the page itself in headless Chromium."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from waits import settled, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Markdown escapes make the hostile strings the text a reader sees (raw tags would be markup, dropped)
HOSTILE_DOC = r"""# Hostile

## Widgets

Widgets are cleaned with \<img src=x onerror="window.__xss3=1"> soap & water \<script>window.__xss4=1\</script>.
See \[a link\](javascript:window.__xss5=1) and !\[pic\](http://example.invalid/x.png) for details, 1 < 2 > 0.
Entities stay as typed: \&lt;b\&gt; and \&amp; and \<a href="javascript:window.__xss6=1">click\</a>.
"""


class Served:
    """The page's ASGI app served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app):
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), "the page server to start")
        assert self.server.started, "the page server did not start"
        self.url = f"http://127.0.0.1:{port}/"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def launch(app) -> Served:
    return Served(app)


@pytest.fixture(scope="module")
def app_url():
    from bot.serve import ui

    served = launch(ui.create())
    yield served.url
    served.close()


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory):
    from bot import ChatBot
    from bot.serve import ui

    root = tmp_path_factory.mktemp("hostile")
    (root / "hostile.md").write_text(HOSTILE_DOC, encoding="utf-8")
    served = launch(ui.create(ChatBot.load(root)))
    yield served.url
    served.close()


# ---- API -----------------------------------------------------------------------------------
def test_api_chat_endpoint(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    r = client.predict("what is a VAE", api_name="/chat")
    assert r["abstained"] is False and "[1]" in r["answer"]
    assert "Variational Autoencoders (VAE)" in r["citations"][0]["title"]
    r = client.predict("What is the boiling point of water?", api_name="/chat")
    assert r["abstained"] is True and r["citations"] == []
    hist = [{"role": "user", "content": "what is a GAN"}, {"role": "assistant", "content": "..."}]
    r = client.predict("how does it work?", hist, api_name="/chat")
    assert "Generative adversarial networks" in r["citations"][0]["title"]


def test_concurrent_conversations_do_not_mix(app_url):
    """Several users at once, each with a follow-up that only their own history resolves."""
    from gradio_client import Client

    from concurrent.futures import ThreadPoolExecutor

    subjects = {"what is a GAN": "Generative adversarial networks", "what is a VAE": "Variational Autoencoders",
                "what is Sora": "Sora", "what is a diffusion model": "Diffusion model"}

    def user(first: str) -> list[tuple[bool, str]]:
        """(was the first question answered, the title the follow-up cited) for each of 3 rounds."""
        client = Client(app_url, verbose=False)
        rounds = []
        for _ in range(3):
            a = client.predict(first, api_name="/chat")
            hist = [{"role": "user", "content": first}, {"role": "assistant", "content": a["answer"]}]
            b = client.predict("how does it work?", hist, api_name="/chat")
            rounds.append((not a["abstained"], b["citations"][0]["title"] if b["citations"] else "(none)"))
        return rounds

    with ThreadPoolExecutor(len(subjects)) as pool:  # at once: each user's rounds interleave with the others'
        futures = {first: pool.submit(user, first) for first in subjects}
        results = {first: f.result(timeout=300) for first, f in futures.items()}  # a worker's exception fails here
    for first, expected in subjects.items():
        rounds = results[first]
        assert len(rounds) == 3, (first, rounds)
        for answered, title in rounds:
            assert answered and expected in title, f"{first!r}: answered {answered}, follow-up cited {title!r}"


def test_queue_allows_concurrency():
    from bot.serve import ui

    demo = ui.build()
    assert demo._queue.default_concurrency_limit >= 8


def test_feedback_off_by_default_and_redacted_when_on(tmp_path):
    from bot import ChatBot
    from bot.serve import ui

    log = ui.FeedbackLog(None)
    log.record("q", "a", True)  # no path: nothing written anywhere
    path = tmp_path / "fb.jsonl"
    ui.FeedbackLog(path).record("mail me at jane.doe@example.com or +44 20 7946 0958", "answer", False)
    text = path.read_text()
    assert "jane.doe" not in text and "7946" not in text and "[email]" in text and "[number]" in text
    assert ChatBot.load().settings.answer.feedback is False


def test_nothing_written_to_disk_by_default(app_url, tmp_path, monkeypatch):
    """A conversation with feedback clicks leaves no file behind when feedback is off."""
    from gradio_client import Client

    root = Path.cwd()
    before = {p for p in root.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts}
    client = Client(app_url, verbose=False)
    client.predict("my email is jane@example.com, what is a VAE", api_name="/chat")
    after = {p for p in root.rglob("*") if ".venv" not in p.parts and ".git" not in p.parts}
    new = [p for p in after - before if "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
           and ".hypothesis" not in p.parts]
    assert new == []
    assert not (root / "feedback").exists()
    assert os.environ.get("GRADIO_ANALYTICS_ENABLED") == "False"


def test_page_escape():
    from bot.serve.ui import page_escape

    s = page_escape('<img src=x onerror="alert(1)"> *bold* [l](javascript:x) & co')
    assert "<img" not in s and "&lt;img" in s and "\\*bold\\*" in s and "\\[l\\]" in s and "&amp;" in s


# ---- browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run must install it")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    pg.set_default_timeout(20_000)
    yield pg
    pg.close()


REPLY_DONE_JS = """n => {
    const chat = document.querySelector('#chat');
    const msgs = chat ? chat.querySelectorAll('[data-testid="user"], [data-testid="bot"]') : [];
    return chat.querySelectorAll('[data-testid="user"]').length === n && msgs.length > 0
        && msgs[msgs.length - 1].getAttribute('data-testid') === 'bot'
        && chat.innerText.indexOf('Searching the sources') < 0;
}"""


def wait_for_replies(page, questions: int) -> None:
    """Until the chat shows ``questions`` questions, each answered: the last message is the bot's
    and none still says it is searching."""
    page.wait_for_function(REPLY_DONE_JS, arg=questions, timeout=20_000)


def ask(page, question: str):
    """Send ``question`` with Enter and wait for its answer."""
    before = page.get_by_test_id("user").count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    wait_for_replies(page, before + 1)


@pytest.mark.browser
def test_page_answers_and_shows_sources(page, app_url, tmp_path):
    from playwright.sync_api import expect

    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(app_url.rstrip("/")) or r.url.startswith("data:")
            else outside.append(r.url))
    page.goto(app_url)
    expect(page.locator("#intro")).to_contain_text("only from the sources")
    expect(page.locator("#corpus")).to_contain_text("Understanding large language models vs. generative AI")
    expect(page.locator("#corpus")).to_contain_text("Monika Karlović")
    ask(page, "what is a VAE")
    bot_msgs = page.get_by_test_id("bot")
    expect(bot_msgs.first).to_contain_text("VAEs are a kind of GenAI model that can create new content.")
    expect(bot_msgs.first).to_contain_text("[1]")
    page.get_by_text("Sources (1)").click()
    expect(page.locator("#chat .thought-group").get_by_text(
        "[1] 5 types of generative AI > 5. Variational Autoencoders (VAE)")).to_be_visible()
    mark = page.locator("#chat mark:visible").first
    expect(mark).to_have_text("VAEs are a kind of GenAI model that can create new content.")
    settled(page)  # the panel has finished opening: a screenshot mid-animation shows it blank
    shot = Path(os.environ.get("SCREENSHOT_PATH", tmp_path / "page.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # a follow-up uses the conversation
    ask(page, "how does it work?")
    expect(page.get_by_test_id("bot").last).to_contain_text("Sources")
    assert "encoder" in page.locator("#chat").inner_text()
    assert outside == []


@pytest.mark.browser
def test_page_shows_closest_passage_apart_from_answers(page, app_url):
    """The example the article cannot answer (LaMDA's release date) gets a "closest" reply: marked
    as not a confirmed answer, with its passage behind Sources; an answer carries no such mark."""
    from playwright.sync_api import expect

    page.goto(app_url)
    page.get_by_role("button", name="When was LaMDA released?").click()
    first = page.get_by_test_id("bot").first
    expect(first).to_contain_text("Not a confirmed answer")
    expect(first).to_contain_text("The sources mention LaMDA, but do not say when.")
    expect(page.get_by_text("Sources (1)")).to_be_visible()
    ask(page, "what is a VAE")
    answer = page.get_by_test_id("bot").nth(2)  # after the closest reply and its sources panel
    expect(answer).to_contain_text("VAEs are a kind of GenAI model")
    assert "Not a confirmed answer" not in answer.inner_text()


@pytest.mark.browser
def test_page_declines_what_the_sources_do_not_cover(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    ask(page, "What is the boiling point of water?")
    expect(page.get_by_test_id("bot").first).to_contain_text("Not covered by the sources")
    expect(page.get_by_test_id("bot").first).to_contain_text("topics such as")
    assert page.get_by_text(re.compile(r"^Sources \(\d+\)$")).count() == 0


@pytest.mark.browser
def test_hostile_question_shows_literally(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    hostile = '<img src=x onerror="window.__xss=1"> <script>window.__xss2=1</script> what is <b>VAE</b> & co'
    ask(page, hostile)
    expect(page.get_by_test_id("user").first).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(page.get_by_test_id("user").first).to_contain_text("<b>VAE</b>")
    assert page.locator("#chat img[src='x']").count() == 0
    assert page.evaluate("() => [window.__xss, window.__xss2]") == [None, None]


@pytest.mark.browser
def test_hostile_passage_shows_literally(page, hostile_url):
    from playwright.sync_api import expect

    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(hostile_url.rstrip("/")) or r.url.startswith("data:")
            else outside.append(r.url))
    page.goto(hostile_url)
    ask(page, "how are widgets cleaned?")
    expect(page.get_by_test_id("bot").first).to_contain_text('<img src=x onerror="window.__xss3=1">')
    page.get_by_text("Sources (1)").click()
    chat = page.locator("#chat")  # each expect below waits for the opened panel's text
    expect(chat).to_contain_text("<script>window.__xss4=1</script>")
    expect(chat).to_contain_text("[a link](javascript:window.__xss5=1)")
    expect(chat).to_contain_text("1 < 2 > 0")
    expect(chat).to_contain_text("![pic](http://example.invalid/x.png)")
    expect(chat).to_contain_text("&lt;b&gt; and &amp; and <a href=\"javascript:window.__xss6=1\">click</a>")
    assert chat.locator("img").count() == 0 and chat.locator("a[href^='javascript']").count() == 0
    chat.get_by_text("click", exact=False).locator("visible=true").first.click()  # plain text: nothing runs
    assert page.evaluate("() => [window.__xss3, window.__xss4, window.__xss5, window.__xss6]") == [None] * 4
    assert outside == []


@pytest.mark.browser
def test_like_records_feedback_only_when_enabled(browser, tmp_path):
    from playwright.sync_api import expect

    from bot.serve import ui

    log = tmp_path / "feedback.jsonl"
    served = launch(ui.create(feedback_path=log))
    url = served.url
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        ask(page, "what is a VAE, asks jane.doe@example.com")
        expect(page.get_by_test_id("bot").first).to_contain_text("sources")
        page.get_by_label("Like", exact=True).first.click()
        rows = wait_until(lambda: log.exists() and log.read_text().splitlines(), "the feedback record")
        assert len(rows) == 1 and '"liked": true' in rows[0]
        assert "jane.doe" not in rows[0] and "[email]" in rows[0]
        assert '"answer": "The sources mention' in rows[0]  # the server's own reply, not the client's text
        page.close()
    finally:
        served.close()


@pytest.mark.browser
def test_app_serves_a_saved_index(page, tmp_path):
    """`python app.py --corpus DIR` on an index written by `python -m bot index` (tantivy engine):
    the page lists the indexed documents and answers from them, with the cited passage."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from playwright.sync_api import expect

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mixed_corpus import write_mixed

    docs = write_mixed(tmp_path / "docs")
    index = tmp_path / "index"
    subprocess.run([sys.executable, "-m", "bot", "index", str(docs), "--out", str(index), "--engine", "tantivy"],
                   check=True, capture_output=True, timeout=120, cwd=ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "app.py", "--corpus", str(index), "--port", str(port)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"

        def status(path: str) -> int | None:
            assert app.poll() is None, app.stderr.read()
            try:
                with urllib.request.urlopen(url + path, timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return None

        wait_until(lambda: status("") == 200, "app.py to serve the page", seconds=120)
        page.goto(url)
        expect(page.locator("#corpus")).to_contain_text("6 documents")
        expect(page.locator("#corpus")).to_contain_text("api-keys.html")
        ask(page, "how do I rotate the API key?")
        expect(page.get_by_test_id("bot").first).to_contain_text("[1]")
        page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
        expect(page.locator("#chat mark:visible").first).to_be_visible()
        assert "rotated every 90 days" in page.locator("#chat").inner_text()
        # `python -m bot index` updates the index while the page runs: the next question and the
        # next page load see it, with no restart
        (docs / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
        done = subprocess.run([sys.executable, "-m", "bot", "index", str(docs), "--out", str(index)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert "Updated" in done.stdout and "1 added" in done.stdout, done.stdout + done.stderr
        # the server looks at the index at most once a second: wait until it serves the new document
        wait_until(lambda: status("api/documents/parking.md") == 200, "the server to load the updated index")
        page.goto(url)
        expect(page.locator("#corpus")).to_contain_text("7 documents")
        ask(page, "where do visitors park?")
        expect(page.locator("#chat")).to_contain_text("level two")
    finally:
        app.terminate()
        app.wait(timeout=20)


# ---- server safety and the JSON API ----------------------------------------------------------
def _http(url, data=None, headers=None, method=None):
    """(status, headers, body); a connection the server closed on an oversized body counts as 413."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    except (urllib.error.URLError, ConnectionError) as e:  # refused before the body was read
        if data is not None and len(data) > 256 * 1024:
            return 413, {}, str(e).encode()
        raise


def test_json_api_ask_and_documents(app_url):
    import json

    body = json.dumps({"question": "what is a VAE"}).encode()
    status, headers, raw = _http(app_url + "api/ask", body, {"Content-Type": "application/json"})
    assert status == 200
    d = json.loads(raw)
    assert list(d) == ["question", "answer", "abstained", "support", "confidence", "citations"]
    assert d["support"] == "answer" and "Variational Autoencoders (VAE)" in d["citations"][0]["title"]
    hist = [{"role": "user", "content": "what is a GAN"}, {"role": "assistant", "content": "..."}]
    d = json.loads(_http(app_url + "api/ask", json.dumps({"question": "how does it work?", "history": hist,
                                                          "strictness": 0.2}).encode(),
                         {"Content-Type": "application/json"})[2])
    assert "Generative adversarial networks" in d["citations"][0]["title"]
    strict = json.loads(_http(app_url + "api/ask", json.dumps({"question": "what is a VAE", "strictness": 1}).encode(),
                              {"Content-Type": "application/json"})[2])
    assert strict["support"] == "closest"
    status, _, raw = _http(app_url + "api/ask", b'{"question": "x", "strictness": 3}', {"Content-Type": "application/json"})
    assert status == 422
    status, _, raw = _http(app_url + "api/documents/llm-vs-genai.md")
    doc = json.loads(raw)
    assert status == 200 and doc["title"].startswith("Understanding large language models") and "VAE" in doc["text"]
    assert _http(app_url + "api/documents/..%2F..%2Fetc%2Fpasswd")[0] == 404
    assert _http(app_url + "api/documents/nope")[0] == 404
    status, _, raw = _http(app_url + "openapi.json")
    assert status == 200 and "/api/ask" in json.loads(raw)["paths"]


def test_oversized_bodies_uploads_and_framing_are_refused(app_url):
    import json

    big = json.dumps({"question": "x" * 1_000_000}).encode()
    status, _, _ = _http(app_url + "api/ask", big, {"Content-Type": "application/json"})
    assert status == 413
    status, _, _ = _http(app_url + "gradio_api/call/chat", json.dumps({"data": ["x" * 1_000_000]}).encode(),
                         {"Content-Type": "application/json"})
    assert status == 413
    status, _, _ = _http(app_url + "gradio_api/upload", b"--x--", {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 403
    status, headers, _ = _http(app_url)
    assert status == 200 and headers.get("x-frame-options") == "DENY"
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", "")
    _, headers, _ = _http(app_url + "api/documents/llm-vs-genai.md",
                          headers={"Origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in headers
    # a long question that fits the body limit is refused with a short echo, not stored or echoed whole
    d = json.loads(_http(app_url + "api/ask", json.dumps({"question": "y" * 100_000}).encode(),
                         {"Content-Type": "application/json"})[2])
    assert d["abstained"] and len(d["question"]) <= 201 and "limit" in d["answer"]


def test_raw_http_chat_without_history(app_url):
    import json

    status, _, raw = _http(app_url + "gradio_api/call/chat", json.dumps({"data": ["what is a VAE"]}).encode(),
                           {"Content-Type": "application/json"})
    assert status == 200
    event = json.loads(raw)["event_id"]
    status, _, raw = _http(app_url + f"gradio_api/call/chat/{event}")
    text = raw.decode()
    assert "event: complete" in text and "Variational Autoencoders" in text


def test_feedback_record_is_bounded_and_one_line(tmp_path, monkeypatch):
    """The text is cut to FEEDBACK_CHARS before any redaction pattern runs on it, so the work is
    bounded whatever is sent (the e-mail pattern was quadratic: 15 s for 40k characters;
    bench/bench_guards.py times redaction at growing lengths)."""
    import json

    from bot.serve import feedback, ui

    seen: list[int] = []
    real = feedback.redact
    monkeypatch.setattr(feedback, "redact", lambda text, found=None: seen.append(len(text)) or real(text, found))
    path = tmp_path / "fb.jsonl"
    ui.FeedbackLog(path).record("a" * 40_000 + "\u2028" + "1 " * 20_000, "b\u2029c\u0085d", True)
    assert seen == [ui.FEEDBACK_CHARS, 5]  # the question cut, the answer whole
    raw = path.read_text(encoding="utf-8")
    assert raw.count("\n") == 1 and "\u2028" not in raw and "\u2029" not in raw and "\u0085" not in raw
    row = json.loads(raw)
    assert len(row["question"]) <= ui.FEEDBACK_CHARS and row["liked"] is True


@pytest.mark.browser
def test_trash_icon_clears_the_conversation(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    ask(page, "what is a VAE")
    page.locator("#chat").get_by_label("Clear", exact=False).first.click()
    expect(page.get_by_test_id("bot")).to_have_count(0)
    ask(page, "how does it work?")  # no earlier turn to take "it" from
    expect(page.get_by_test_id("bot").first).to_contain_text("Please name the subject you mean")


def gated_app():
    """(the page's app, gate): its bot answers only once the test opens the gate, so a test sees
    the page while an answer is pending for as long as it needs, however slow the machine."""
    from bot import ChatBot
    from bot.serve import ui

    gate = threading.Event()

    class GatedBot(ChatBot):
        def ask(self, question, history=None):
            if not gate.wait(120):
                raise RuntimeError("the test never opened the gate")
            return super().ask(question, history)

    base = ChatBot.load()
    return ui.create(GatedBot(base.manifest, base.documents, index=base.index)), gate


def sent(page, text: str):
    """A context that ends once the server has answered the request sending ``text``."""
    return page.expect_response(lambda r: r.request.method == "POST" and text in (r.request.post_data or ""))


@pytest.mark.browser
def test_sending_while_an_answer_is_pending_loses_nothing(browser):
    from playwright.sync_api import expect

    app, gate = gated_app()
    served = launch(app)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(20_000)
        page.goto(served.url)
        chat = page.locator("#chat")
        box = page.locator("#question textarea")
        box.fill("what is a GAN")
        box.press("Enter")
        expect(box).to_have_value("")  # sent; its answer is still being looked up
        expect(chat).to_contain_text("Searching the sources")
        box.fill("what is a VAE")
        with sent(page, "what is a VAE"):  # the server has it while the first answer is pending
            page.locator("#ask").click()
        # both questions show while the first is still being answered (the first vanished)
        expect(page.get_by_test_id("user")).to_have_count(2)
        assert page.get_by_test_id("user").all_inner_texts() == ["what is a GAN", "what is a VAE"]
        expect(chat).to_contain_text("Searching the sources")
        gate.set()
        expect(page.get_by_test_id("user")).to_have_count(2)
        expect(chat).to_contain_text("VAEs are a kind of GenAI model")
        expect(chat).to_contain_text("This generative model learns")
        expect(chat).not_to_contain_text("Searching the sources")
        assert page.get_by_test_id("user").all_inner_texts() == ["what is a GAN", "what is a VAE"]
        # two quick example clicks, again while the first is pending
        gate.clear()
        with sent(page, "Who made GPT?"), sent(page, "what is a VAE"):
            page.get_by_role("button", name="Who made GPT?").click()
            page.get_by_role("button", name="what is a VAE").click()
        gate.set()
        expect(page.get_by_test_id("user")).to_have_count(4)
        expect(chat).to_contain_text("GPT by OpenAI")
        expect(chat).not_to_contain_text("Searching the sources")
        assert page.get_by_test_id("user").all_inner_texts()[2:] == ["Who made GPT?", "what is a VAE"]
        page.close()
    finally:
        gate.set()
        served.close()


@pytest.mark.browser
def test_question_shows_at_once_while_the_sources_are_searched(browser):
    """The question and "Searching the sources" show while the answer cannot have come yet (the
    gate is closed), and the answer replaces them once it comes."""
    from playwright.sync_api import expect

    app, gate = gated_app()
    served = launch(app)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(20_000)
        page.goto(served.url)
        box = page.locator("#question textarea")
        box.fill("what is a VAE")
        box.press("Enter")
        expect(page.get_by_test_id("user").first).to_have_text("what is a VAE")
        expect(page.locator("#chat")).to_contain_text("Searching the sources")
        gate.set()
        expect(page.locator("#chat")).to_contain_text("VAEs are a kind of GenAI model")
        expect(page.locator("#chat")).not_to_contain_text("Searching the sources")
        page.close()
    finally:
        gate.set()
        served.close()


@pytest.mark.browser
def test_a_question_asked_before_the_page_load_events_ran_keeps_its_conversation(browser, app_url):
    """A question sent before the page's load events have run (a fast user, a busy machine) is
    answered and stays in the conversation after they run. Gradio fills a State given as a
    factory with a load event: under load CI's first question was sent before it, was answered
    from the empty conversation that event put in, and vanished with no reply (1 page in 40)."""
    from playwright.sync_api import expect

    config = json.loads(urllib.request.urlopen(app_url + "config", timeout=10).read())
    loads = {i for i, dep in enumerate(config["dependencies"])
             if any(t[1] == "load" for t in dep["targets"])}
    held = []

    def hold_load_events(route):
        body = json.loads(route.request.post_data or "{}")
        if body.get("fn_index") in loads:
            held.append(route)  # run only once the first question has been answered
        else:
            route.continue_()

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(20_000)
    try:
        # queued load events join the queue; the others (queue=False) are posted to run/predict
        page.route(re.compile(r".*/gradio_api/(queue/join|run/predict)"), hold_load_events)
        page.goto(app_url)
        ask(page, "what is a VAE")
        expect(page.locator("#chat")).to_contain_text("VAEs are a kind of GenAI model")
        assert held, "the page's load events were not held: nothing here tests the order"
        held_urls = {held_route.request.url for held_route in held}
        with page.expect_response(lambda r: r.url in held_urls):
            while held:
                held.pop(0).continue_()
        ask(page, "Who made GPT?")
        assert page.get_by_test_id("user").all_inner_texts() == ["what is a VAE", "Who made GPT?"]
        expect(page.locator("#chat")).to_contain_text("VAEs are a kind of GenAI model")
        expect(page.locator("#chat")).to_contain_text("GPT by OpenAI")
    finally:
        page.close()


@pytest.mark.browser
def test_like_records_the_liked_answers_own_question(browser, tmp_path):
    import json

    from playwright.sync_api import expect

    from bot.serve import ui

    log = tmp_path / "feedback.jsonl"
    served = launch(ui.create(feedback_path=log))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(served.url)
        ask(page, "what is a VAE")
        ask(page, "what is a GAN")
        expect(page.locator("#chat")).to_contain_text("This generative model learns")
        page.get_by_label("Like", exact=True).first.click()  # the first answer, not the latest
        lines = wait_until(lambda: log.exists() and log.read_text().splitlines(), "the feedback record")
        rows = [json.loads(x) for x in lines]
        assert len(rows) == 1 and rows[0]["question"] == "what is a VAE" and rows[0]["liked"] is True
        assert rows[0]["answer"].startswith("VAEs are a kind of GenAI model")
        page.close()
    finally:
        served.close()


# ---- following a citation ------------------------------------------------------------------
@pytest.mark.browser
def test_hovering_a_citation_shows_its_passage_and_clicking_opens_the_source(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    ask(page, "what is a VAE")
    cite = page.locator("#chat .cite").first
    pop = cite.locator(".cite-pop")
    expect(pop).to_be_hidden()
    cite.hover()
    expect(pop).to_be_visible()
    expect(pop).to_contain_text("5 types of generative AI > 5. Variational Autoencoders (VAE)")
    if os.environ.get("SCREENSHOT_DIR"):  # README's pictures: SCREENSHOT_DIR=docs pytest tests/test_page.py
        settled(page)
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / "citation-hover.png"))
    expect(pop.locator("mark").first).to_have_text("VAEs are a kind of GenAI model that can create new content.")
    page.mouse.move(0, 0)
    cite.focus()  # keyboard users: focus shows it too
    expect(pop).to_be_visible()
    page.keyboard.press("Enter")  # and Enter opens the source, as a click does
    anchor = page.locator("#chat .src-anchor").first
    expect(anchor).to_be_attached()
    # scrolled to (smoothly: wait until the source's top is on the screen)
    page.wait_for_function("""() => { const a = document.querySelector('#chat .src-anchor');
        const top = a.parentElement.getBoundingClientRect().top; return top >= 0 && top <= window.innerHeight; }""")
    box = anchor.evaluate("a => a.parentElement.getBoundingClientRect().top")
    assert 0 <= box <= page.viewport_size["height"]  # scrolled to
    expect(page.locator("#chat mark:visible").first).to_have_text(
        "VAEs are a kind of GenAI model that can create new content.")


@pytest.mark.browser
def test_document_view_scrolls_to_the_passage_and_highlights_the_quote(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    ask(page, "what is a VAE")
    page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
    link = page.get_by_role("link", name="Open the document").first
    href = link.get_attribute("href")
    assert href.startswith("/documents/llm-vs-genai.md/view?") and href.endswith("#passage")
    page.goto(app_url.rstrip("/") + href)
    expect(page.locator("h1")).to_have_text("Understanding large language models vs. generative AI")
    expect(page.locator("#passage mark").first).to_have_text("VAEs are a kind of GenAI model that can create new content.")
    top = page.locator("#passage").evaluate("p => p.getBoundingClientRect().top")
    assert 0 <= top <= page.viewport_size["height"]  # scrolled to the passage
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / "document-view.png"))
    assert page.locator("main").inner_text().count("large language models") >= 3  # the whole document
    assert page.locator("script").count() == 0


def test_document_view_shows_hostile_text_as_text(hostile_url):
    status, headers, raw = _http(hostile_url + "documents/hostile.md/view?start=0&end=10&hl=0-5,99999-100000,x")
    body = raw.decode()
    assert status == 200 and "default-src 'none'" in headers.get("content-security-policy", "")
    assert "<script>window.__xss4" not in body and "&lt;script&gt;window.__xss4=1&lt;/script&gt;" in body
    assert "<img" not in body
    assert _http(hostile_url + "documents/nope/view")[0] == 404


def _luminance(rgb):
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(x) for x in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fg, bg):
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _rgb(css):
    return tuple(int(float(x)) for x in re.findall(r"[\d.]+", css)[:3])


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_quotes_and_sources_are_readable_in_light_and_dark(browser, app_url, theme):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(app_url + f"?__theme={theme}")
    expect(page.locator("#question textarea")).to_be_visible()  # the app is up, its theme applied
    if theme == "dark":
        page.wait_for_function("() => document.body.classList.contains('dark')")
    else:
        assert not page.evaluate("() => document.body.classList.contains('dark')")
    ask(page, "what is a VAE")
    page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
    mark = page.locator("#chat mark:visible").first
    expect(mark).to_be_visible()
    settled(page)  # colours read after the panel's transitions end
    fg, bg = mark.evaluate("m => { const s = getComputedStyle(m); return [s.color, s.backgroundColor]; }")
    assert _contrast(_rgb(fg), _rgb(bg)) >= 4.5, (theme, fg, bg)
    # the sources text against the panel behind it (the first ancestor with a background)
    text = page.locator("#chat .src-anchor").first.locator("xpath=..")
    fg, bg, size = text.evaluate("""p => { let e = p; let bg = 'rgba(0, 0, 0, 0)';
        while (e && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) { bg = getComputedStyle(e).backgroundColor; e = e.parentElement; }
        if (bg === 'rgba(0, 0, 0, 0)') bg = getComputedStyle(document.body).backgroundColor;
        const s = getComputedStyle(p); return [s.color, bg, parseFloat(s.fontSize)]; }""")
    assert _contrast(_rgb(fg), _rgb(bg)) >= 4.5, (theme, fg, bg)
    assert size >= 14
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_first_screen_shows_the_question_box_and_examples(browser, app_url, size):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(app_url)
    box = page.locator("#question textarea")
    expect(box).to_be_visible()
    for el in (box, page.locator("#examples button").first, page.locator("#ask")):
        b = el.bounding_box()
        assert b and b["y"] + b["height"] <= size[1], (size, b)
    expect(page.locator("#chat")).to_contain_text("Answers quote them")  # the empty chat says what to ask
    assert box.get_attribute("aria-label") == "Your question" or page.get_by_label("Your question").count()
    page.close()


@pytest.fixture(scope="module")
def mixed_url(tmp_path_factory):
    import sys as _sys

    from bot import ChatBot
    from bot.index import indexer
    from bot.serve import ui

    _sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mixed_corpus import write_mixed

    root = tmp_path_factory.mktemp("mixed")
    docs = write_mixed(root / "docs")
    indexer.build([docs], root / "index")  # a saved index: the PDF is found from its recorded sources
    served = launch(ui.create(ChatBot.load(root / "index")))
    yield served.url
    served.close()


@pytest.mark.browser
def test_pdf_citation_shows_the_page_with_the_quote_highlighted(page, mixed_url):
    import io

    from PIL import Image
    from playwright.sync_api import expect

    page.goto(mixed_url)
    ask(page, "how do I calibrate the widget sensor?")
    page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
    expect(page.locator("#chat")).to_contain_text("Page 2")  # every PDF citation names its page
    href = page.get_by_role("link", name="Open the document").first.get_attribute("href")
    page.goto(mixed_url.rstrip("/") + href)
    img = page.locator("figure img.page")
    expect(img).to_be_visible()
    expect(page.locator("figcaption")).to_contain_text("Page 2")
    assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    src = img.get_attribute("src")
    status, headers, raw = _http(mixed_url.rstrip("/") + href.split("/view")[0] + "/" + src)
    assert status == 200 and headers["content-type"] == "image/png"
    import numpy as np

    rgb = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(int)
    yellow = int(((rgb[..., 0] > 200) & (rgb[..., 1] > 170) & (rgb[..., 2] < 140)).sum())
    assert yellow > 500  # the quoted sentence is highlighted on the page
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / "pdf-page.png"))
    plain = _http(mixed_url.rstrip("/") + href.split("/view")[0] + "/page.png?page=2")
    assert plain[0] == 200  # without highlights too
    assert _http(mixed_url + "documents/manual.pdf/page.png?page=99")[0] == 404
    assert _http(mixed_url + "documents/notes%2Fbackups.md/page.png?page=1")[0] == 404  # not a PDF


@pytest.mark.browser
def test_clicking_a_citation_opens_its_source(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    ask(page, "what is a GAN")
    expect(page.locator("#chat .src-anchor")).to_have_count(0)  # the Sources panel starts closed
    page.locator("#chat .cite").first.click()
    expect(page.locator("#chat .src-anchor").first).to_be_attached()
    expect(page.locator("#chat mark:visible").first).to_be_visible()


@pytest.mark.browser
def test_controls_match_the_corpus_and_settings(page, mixed_url):
    """A user's own corpus: natural example questions, no empty glossary, no like/dislike while
    feedback is off, a labelled question box."""
    from playwright.sync_api import expect

    page.goto(mixed_url)
    expect(page.locator("#question textarea")).to_be_visible()
    expect(page.locator("#examples button").first).to_be_visible()  # drawn after the box: read them once there
    examples = page.locator("#examples button").all_inner_texts()
    assert examples and all(e.endswith("?") for e in examples)
    assert not any(e.startswith("Tell me about") or "weather" in e for e in examples)
    assert page.locator("#glossary").count() == 0
    assert page.get_by_label("Your question").count() >= 1
    ask(page, "how do I rotate the API key?")
    assert page.get_by_label("Like", exact=True).count() == 0


def test_example_questions_read_naturally():
    from bot.serve.ui import heading_question

    assert heading_question("How to rotate a key") == "How do I rotate a key?"
    assert heading_question("What is extraction?") == "What is extraction?"
    assert heading_question("Tyre pressure") == "What do the sources say about tyre pressure?"
    assert heading_question("4. API keys") == "What do the sources say about API keys?"
    assert heading_question("Page 3") is None


@pytest.mark.browser
def test_messages_are_announced_by_their_text_not_their_markdown(page, app_url):
    page.goto(app_url)
    ask(page, "what is a VAE")
    page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
    # the page names messages a moment after they change: wait until the opened sources are named
    page.wait_for_function("""t => Array.from(document.querySelectorAll('#chat [data-testid="bot"]'))
        .some(m => (m.getAttribute('aria-label') || '').includes(t))""",
                           arg="5 types of generative AI > 5. Variational Autoencoders (VAE)")
    labels = page.locator('#chat [data-testid="bot"]').evaluate_all("ms => ms.map(m => m.getAttribute('aria-label'))")
    # the support level is announced first, then the answer's text
    assert labels and re.match(r"Answer: ✓ Answer from the sources · confidence \d+% VAEs are a kind of GenAI model",
                               labels[0]), labels[0]
    for label in labels:
        assert "**" not in label and "&amp;" not in label and "&gt;" not in label and "<span" not in label
    assert any("5 types of generative AI > 5. Variational Autoencoders (VAE)" in x for x in labels)


@pytest.mark.browser
def test_the_glossary_follows_an_updated_index(page, tmp_path):
    """app.py serves a saved index that `python -m bot index` updates: on the next page load the
    glossary appears with the new acronyms, its title counting them."""
    from playwright.sync_api import expect

    from bot.index import indexer
    from bot.serve import ui
    from bot.chatbot import LiveBot
    from bot.index.update import update

    src = tmp_path / "docs"
    src.mkdir()
    (src / "parking.md").write_text("# Parking\n\nVisitors park in the Harbour Street garage, on level two.\n")
    indexer.build([src], tmp_path / "idx")
    live = LiveBot(tmp_path / "idx")
    live.CHECK_SECONDS = 0.0
    served = launch(ui.create(live))
    try:
        page.goto(served.url)
        expect(page.locator("#corpus")).to_contain_text("parking")
        expect(page.get_by_text("Glossary:")).to_have_count(0)  # no acronyms: no glossary
        (src / "network.md").write_text(
            "# Network\n\nThe office uses a Virtual Private Network (VPN) for remote work.\n\n"
            "Printers need a Static Internet Protocol (SIP) address.\n")
        update(tmp_path / "idx")
        page.reload()
        title = page.get_by_text("Glossary: 2 acronyms mined from the sources")
        expect(title).to_be_visible()
        title.click()
        expect(page.locator("#glossary")).to_contain_text("Virtual Private Network")
    finally:
        served.close()


@pytest.mark.browser
def test_one_page_load_shows_one_index(page, tmp_path):
    """While an update is being loaded, callers may meet either index. A page load must still show
    one of them whole: the sources list, the glossary's title and its list from the same index
    (CI once showed "Glossary: 2 acronyms" over "No acronyms were found")."""
    from playwright.sync_api import expect

    from bot.chatbot import ChatBot, LiveBot
    from bot.index import indexer
    from bot.serve import ui

    docs = {"first": {"first.md": "# First\n\nThe Random Acronym Tool (RAT) files reports.\n"},
            "old": {"parking.md": "# Parking\n\nVisitors park in the Harbour Street garage.\n"},
            "new": {"parking.md": "# Parking\n\nVisitors park in the Harbour Street garage.\n",
                    "network.md": "# Network\n\nThe office uses a Virtual Private Network (VPN).\n\n"
                                  "Printers need a Static Internet Protocol (SIP) address.\n"}}
    bots = {}
    for name, files in docs.items():
        (tmp_path / name).mkdir()
        for file, text in files.items():
            (tmp_path / name / file).write_text(text)
        indexer.build([tmp_path / name], tmp_path / f"idx-{name}")
        bots[name] = ChatBot.load(tmp_path / f"idx-{name}")

    class Flipping(LiveBot):
        """The page is built from "first"; after that each call meets the other of "old" and
        "new", as callers do while a reload lands."""
        calls = None

        def current(self):
            if Flipping.calls is None:
                return bots["first"]
            Flipping.calls += 1
            return bots["old" if Flipping.calls % 2 else "new"]

    served = launch(ui.create(Flipping(tmp_path / "idx-first")))
    Flipping.calls = 0
    try:
        for _ in range(4):
            page.goto(served.url)
            corpus, glossary = page.locator("#corpus"), page.locator("#glossary")
            expect(corpus).not_to_contain_text("first")  # the load's panels have arrived
            if "network" in corpus.inner_text():
                glossary.get_by_text("Glossary: 2 acronyms").click()
                expect(glossary).to_contain_text("Virtual Private Network")
                expect(glossary).not_to_contain_text("No acronyms")
            else:
                expect(page.get_by_text("Glossary:")).to_have_count(0)
    finally:
        served.close()
