"""Attaching files on the page, in headless Chromium at a laptop and a phone size: the file
button and drag-and-drop, a question only the file answers, its citation and document view,
removal, "New conversation", refusals, and the page with attachments turned off."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_page import browser, launch  # noqa: E402,F401  (fixtures: Chromium)
from test_page_product import SIZES, activate, send  # noqa: E402

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent

GUIDE = b"""# Zorblax care guide

## Feeding

The zorblax eats copper filings every Tuesday morning.

## Temperature

A zorblax must be kept at 40 degrees Celsius at all times.
"""
QUESTION = "What does the zorblax eat?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from bot import ChatBot
    from bot.serve import ui
    from bot.serve.attachments import Attachments

    bot = ChatBot.load()
    store = Attachments(bot, root=tmp_path_factory.mktemp("attached"))
    s = launch(ui.create(bot, attachments=store))
    s.store = store
    yield s
    s.close()
    store.close()


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def screen(request, browser):  # noqa: F811
    width, height = SIZES[request.param]
    phone = request.param == "phone"
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def conversation_id(page) -> str:
    # as the page's own script reads it (attach.js, convId): while an update of the hidden element
    # is under way, Gradio's progress text ("0.0s") is inside it too
    got = page.wait_for_function("() => { const b = document.getElementById('attach-id');"
                                 " const t = b ? b.textContent.trim() : '';"
                                 " return /^[A-Za-z0-9_-]{16,}$/.test(t) ? t : null; }")
    return got.json_value()


def attached_names(page) -> list[str]:
    return page.locator("#attached-list li .name").all_inner_texts()


def test_attach_ask_cite_open_and_new_conversation(screen, served):
    from playwright.sync_api import expect

    page = screen
    page.goto(served.url)
    cid = conversation_id(page)
    button = page.get_by_text("Attach files")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]  # inside the screen
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    expect(page.locator("#attached-list li")).to_have_count(1)
    assert attached_names(page) == ["zorblax.md"]
    expect(page.locator("#attach-status")).to_contain_text("Attached")
    assert [f["name"] for f in served.store.files(cid)] == ["zorblax.md"]

    send(page, QUESTION)
    reply = page.locator('#chat [data-testid="bot"]').first
    expect(reply).to_contain_text("copper filings")
    expect(reply).to_contain_text("Answer from the sources")
    cite = reply.locator(".cite").first
    activate(page, cite)  # opens the Sources panel on source 1
    source = page.locator(".attached-src").first
    expect(source).to_be_visible()
    expect(source).to_have_text("Attached file zorblax.md")
    if os.environ.get("SCREENSHOT_DIR") and page.viewport_size["width"] > 1000:  # README's picture
        page.mouse.move(0, 0)
        page.wait_for_timeout(500)
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / "attached-file.png"))
    href = page.get_by_role("link", name="Open the document").first.get_attribute("href")
    assert href.startswith(f"/conversations/{cid}/documents/")
    page.goto(served.url.rstrip("/") + href)
    expect(page.locator("header p")).to_contain_text("attached: zorblax.md")
    expect(page.locator("mark").first).to_contain_text("copper filings")

    page.goto(served.url)  # a reload is a new conversation: the file is not carried over
    cid2 = conversation_id(page)
    assert cid2 != cid and attached_names(page) == []
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    expect(page.locator("#attached-list li")).to_have_count(1)
    page.locator("#clear").click()  # New conversation removes the files
    expect(page.locator("#attached-list li")).to_have_count(0)
    page.wait_for_function("old => document.getElementById('attach-id').textContent.trim() !== old", arg=cid2)
    assert not served.store.exists(cid2)
    send(page, QUESTION)
    expect(page.locator('#chat [data-testid="bot"]').first).not_to_contain_text("copper filings")


def test_drag_and_drop_and_remove(screen, served):
    from playwright.sync_api import expect

    page = screen
    page.goto(served.url)
    cid = conversation_id(page)
    page.evaluate("""text => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'dropped.md', {type: 'text/markdown'}));
        const target = document.querySelector('#chat');
        for (const kind of ['dragenter', 'dragover', 'drop']) {
            target.dispatchEvent(new DragEvent(kind, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""", GUIDE.decode())
    expect(page.locator("#attached-list li")).to_have_count(1)
    assert attached_names(page) == ["dropped.md"]
    assert not page.evaluate("() => document.body.classList.contains('dragging-files')")
    assert [f["name"] for f in served.store.files(cid)] == ["dropped.md"]
    page.get_by_role("button", name="Remove dropped.md").click()
    expect(page.locator("#attached-list li")).to_have_count(0)
    expect(page.locator("#attach-status")).to_contain_text("dropped.md removed")
    assert served.store.files(cid) == []


OTHER = b"""# Quibbit handbook

The quibbit sleeps in a copper kettle during the winter months.
"""


def test_a_conversation_the_server_removed_is_renewed_by_the_page(screen, served):
    """The server removes a conversation idle for an hour (or to free memory). Attaching a file
    after that renewed nothing: the page said "no such conversation ... start a new one" until a
    reload. Now the page takes a new conversation itself, attaches the file to it, says the
    earlier files were removed, and the next question is answered from the new file."""
    from playwright.sync_api import expect

    page = screen
    page.goto(served.url)
    cid = conversation_id(page)
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    expect(page.locator("#attached-list li")).to_have_count(1)
    assert served.store.remove(cid)  # what the idle sweep and the memory bound do
    page.set_input_files("#attach-input", files=[{"name": "quibbit.md", "mimeType": "text/markdown", "buffer": OTHER}])
    status = page.locator("#attach-status")
    expect(status).to_contain_text("were removed (an hour idle, or to free server memory)")
    expect(status).to_contain_text("Attached.")
    expect(status).not_to_have_class(re.compile("error"))
    expect(page.locator("#attached-list li")).to_have_count(1)
    assert attached_names(page) == ["quibbit.md"]
    fresh = conversation_id(page)
    assert fresh != cid and [f["name"] for f in served.store.files(fresh)] == ["quibbit.md"]
    send(page, "Where does the quibbit sleep in winter?")
    reply = page.locator('#chat [data-testid="bot"]').first
    expect(reply).to_contain_text("copper kettle")
    activate(page, reply.locator(".cite").first)
    expect(page.locator(".attached-src").first).to_have_text("Attached file quibbit.md")

    page.goto(served.url)  # removed before anything was attached: renewed, and no word of earlier files
    cid = conversation_id(page)
    assert served.store.remove(cid)
    page.set_input_files("#attach-input", files=[{"name": "quibbit.md", "mimeType": "text/markdown", "buffer": OTHER}])
    expect(page.locator("#attached-list li")).to_have_count(1)
    expect(status).to_contain_text("Attached.")
    expect(status).not_to_contain_text("removed")
    assert conversation_id(page) != cid


def test_refusals_are_shown_and_other_visitors_see_nothing(browser, served):  # noqa: F811
    from playwright.sync_api import expect

    one, two = browser.new_context(), browser.new_context()
    try:
        a, b = one.new_page(), two.new_page()
        a.set_default_timeout(20_000)
        b.set_default_timeout(20_000)
        a.goto(served.url)
        b.goto(served.url)
        conversation_id(a)
        conversation_id(b)
        a.set_input_files("#attach-input", files=[
            {"name": "picture.md", "mimeType": "text/markdown", "buffer": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
            {"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
        expect(a.locator("#attached-list li")).to_have_count(1)
        expect(a.locator("#attach-status")).to_contain_text(
            "picture.md: not a supported type (PDF, Markdown, text, HTML, JSON Lines)")
        expect(a.locator("#attach-status")).to_have_class(re.compile(r"\berror\b"))
        send(b, QUESTION)  # another visitor, at the same time: never sees the file
        expect(b.locator('#chat [data-testid="bot"]').first).not_to_contain_text("copper filings")
        assert b.locator("#attached-list li").count() == 0
    finally:
        one.close()
        two.close()


@pytest.fixture(scope="module")
def off_url():
    from bot.serve import ui

    s = launch(ui.create(attachments=False))
    yield s.url
    s.close()


def test_no_attachments_shows_no_file_button(browser, off_url):  # noqa: F811
    page = browser.new_page()
    try:
        page.goto(off_url)
        send(page, "what is a VAE")
        assert page.locator("#attach-zone").count() == 0 and page.locator("input[type=file]").count() == 0
        assert page.get_by_text("Attach files").count() == 0
    finally:
        page.close()
    req = urllib.request.Request(off_url + "api/conversations", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 403 and "--no-attachments" in json.loads(e.value.read())["detail"]


def test_app_no_attachments_flag():
    p = subprocess.Popen([sys.executable, "app.py", "--port", "0", "--no-attachments"], cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        req = urllib.request.Request(f"http://127.0.0.1:{m.group(1)}/api/conversations", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=60)
        assert e.value.code == 403
    finally:
        p.terminate()
        p.wait(30)


def test_a_full_server_says_files_cannot_be_attached_and_still_answers(browser, tmp_path):  # noqa: F811
    """When every conversation the server may hold is in use (429 from the store), the page opens
    without one: picking a file says why it cannot be attached now, and questions are answered."""
    from playwright.sync_api import expect

    from bot import ChatBot
    from bot.serve import ui
    from bot.serve.attachments import Attachments

    bot = ChatBot.load()
    store = Attachments(bot, root=tmp_path / "attached", max_conversations=1)
    s = launch(ui.create(bot, attachments=store))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    try:
        held = store.create()
        store.files(held)  # in use now: never removed to make room
        page.goto(s.url)
        page.wait_for_function("() => { const b = document.getElementById('attach-id');"
                               " return b && b.textContent.trim().startsWith('unavailable: '); }")
        (tmp_path / "guide.md").write_bytes(GUIDE)
        page.locator("#attach-input").set_input_files(str(tmp_path / "guide.md"))
        status = page.locator("#attach-status")
        expect(status).to_contain_text("Files cannot be attached now: the server has 1 conversations open")
        expect(status).to_contain_text("Questions are still answered from the sources.")
        send(page, "what is a VAE")
        expect(page.locator("#chat")).to_contain_text("VAEs are a kind of GenAI model")
        assert store.exists(held)  # the one in use was not removed to make room
    finally:
        page.close()
        s.close()
        store.close()
