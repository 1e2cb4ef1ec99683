"""The page as a new user meets it, in headless Chromium at a laptop size and a phone size, in the
light and the dark scheme: citations that reach their source, previews inside the screen,
support levels that look different, plain-text copy, long questions, contrast, offline /docs,
and the port message. (Issue: the page as a document-chat product.)"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from test_page import _contrast, _rgb, app_url, browser, mixed_url  # noqa: F401  (fixtures: pages served, Chromium)

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}


SCREENS = [(size, scheme) for size in SIZES for scheme in ("light", "dark")]


@pytest.fixture(params=SCREENS, ids=[f"{size}-{scheme}" for size, scheme in SCREENS])
def sized(request, browser):  # noqa: F811
    """A page at a laptop or phone size, in the light or the dark scheme (Gradio follows the
    system's scheme, as a visitor's browser sets it)."""
    size, scheme = request.param
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                  has_touch=size == "phone", is_mobile=size == "phone")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.net_log = []  # the page's requests to the server, for a failure's message
    page.on("requestfailed", lambda r: page.net_log.append(f"FAILED {r.method} {r.url[-40:]} {r.failure}"))
    page.on("response", lambda r: page.net_log.append(f"{r.status} {r.request.method} {r.url[-40:]}")
            if "gradio_api" in r.url else None)
    page.on("console", lambda m: page.net_log.append(f"console {m.type}: {m.text[:200]}"))
    yield page
    context.close()


def send(page, question: str) -> None:
    """Type a question, press Enter, and wait until its reply is in (the placeholder gone). Asked
    as soon as the box is there: a question sent before the page's load events have run is
    answered too (test_page.py checks that order on purpose)."""
    before = page.locator('#chat [data-testid="user"]').count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    answered = """n => document.querySelectorAll('#chat [data-testid="user"]').length > n
        && !document.querySelector('#chat').innerText.includes('Searching the sources')"""
    try:
        page.wait_for_function(answered, arg=before)
    except Exception as exc:  # say what the page showed: a bare timeout tells nothing
        state = page.evaluate("""() => ({box: (document.querySelector('#question textarea') || {}).value,
            asked: window.__asked, users: document.querySelectorAll('#chat [data-testid="user"]').length,
            chat: document.querySelector('#chat').innerText.slice(-400)})""")
        raise AssertionError(f"{question!r} not answered: {state}; {getattr(page, 'net_log', [])[-15:]}") from exc


# source 5 is open and really seen: the point at its first line is the source itself (not hidden
# in a collapsed panel, scrolled out of the chat box, or covered by a preview)
SOURCE_5_SEEN = """() => { const a = document.querySelector("#chat .src-anchor[id$='-5']");
    if (!a) return false; const block = a.parentElement, r = block.getBoundingClientRect();
    if (r.height === 0 || r.top < 0 || r.top + 12 > window.innerHeight) return false;
    const hit = document.elementFromPoint(r.left + Math.min(20, r.width / 2), r.top + 8);
    return !!hit && block.contains(hit); }"""


def shoot(page, name: str) -> None:
    """README's pictures, taken on a phone in the dark scheme: SCREENSHOT_DIR=docs pytest tests/test_page_product.py"""
    if os.environ.get("SCREENSHOT_DIR") and page.viewport_size["width"] < 500 and scheme_of(page) == "dark":
        page.locator("#chat").screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / f"{name}-phone-dark.png"))


def scheme_of(page) -> str:
    """The scheme the page is drawn in, once Gradio has applied the system's (it adds .dark)."""
    wanted = page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    if wanted:
        page.wait_for_function("() => document.body.classList.contains('dark')")
    return "dark" if wanted else "light"


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["x"] >= -1 and box["y"] >= -1 and box["x"] + box["width"] <= size["width"] + 1 \
        and box["y"] + box["height"] <= size["height"] + 1


def activate(page, locator) -> None:
    """Click with a mouse, tap on a touch screen."""
    if page.context.browser and (page.viewport_size or {}).get("width", 1000) < 500:
        locator.tap()
    else:
        locator.click()


def test_citation_opens_its_own_source_and_a_second_click_keeps_it_open(sized, app_url):  # noqa: F811
    """Ask for the types of generative AI, press [5]: the Sources panel opens on source 5 and
    scrolls it into view (it opened on source 1, out of view, and a second click closed it)."""
    page = sized
    page.goto(app_url)
    send(page, "What are the types of generative AI?")
    cites = page.locator("#chat .cite")
    assert cites.count() >= 5
    fifth = page.locator("#chat .cite", has_text="[5]").first
    fifth.scroll_into_view_if_needed()
    activate(page, fifth)
    source = page.locator("#chat .src-anchor[id$='-5']").locator("xpath=..")
    source.wait_for()
    page.wait_for_function(SOURCE_5_SEEN)
    assert source.inner_text().startswith("[5] ")
    shoot(page, "citation-opened")
    pop = fifth.locator(".cite-pop")
    assert not pop.is_visible()  # the preview steps aside from the source it opened
    fifth.scroll_into_view_if_needed()
    activate(page, fifth)  # again: still open, still there
    page.wait_for_function(SOURCE_5_SEEN)
    assert page.locator("#chat .src-anchor").count() >= 5
    # keyboard: focus [2] and press Enter
    second = page.locator("#chat .cite", has_text="[2]").first
    second.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("""() => !!(document.activeElement && document.activeElement.querySelector
        && document.activeElement.querySelector(".src-anchor[id$='-2']"))""")


def test_previews_stay_inside_the_screen(sized, app_url):  # noqa: F811
    page = sized
    page.goto(app_url)
    send(page, "What are the types of generative AI?")
    cites = page.locator("#chat .cite")
    for i in range(cites.count()):
        cite = cites.nth(i)
        cite.scroll_into_view_if_needed()
        cite.focus()  # focus shows the preview as hover does, on any screen
        pop = cite.locator(".cite-pop")
        pop.wait_for(state="visible")
        assert in_viewport(page, pop), (i, pop.bounding_box(), page.viewport_size)
        page.locator("#question textarea").focus()


def test_support_levels_look_different_and_show_confidence(sized, app_url):  # noqa: F811
    page = sized
    page.goto(app_url)
    theme = scheme_of(page)
    looks = {}
    for question, level in [("what is a VAE", "answer"), ("When was LaMDA released?", "closest"),
                            ("What is the boiling point of water?", "none")]:
        send(page, question)
        badge = page.locator(f"#chat .level-{level}").last
        badge.wait_for()
        assert in_viewport(page, badge), (level, badge.bounding_box())  # the reply's first line is in view
        text = badge.inner_text()
        assert text[0] in "✓⚠✕"
        if level != "none":
            assert re.search(r"confidence \d+%", text), text
        fg, bg, border = badge.evaluate("""b => { const s = getComputedStyle(b);
            return [s.color, s.backgroundColor, s.borderTopStyle + ' ' + s.borderTopColor]; }""")
        assert _contrast(_rgb(fg), _rgb(bg)) >= 4.5, (theme, level, fg, bg)
        side = badge.evaluate("b => getComputedStyle(b.closest('.message')).borderLeftStyle")
        looks[level] = (fg, bg, border, side)
    shoot(page, "support-levels")
    assert len({v[1] for v in looks.values()}) == 3  # three colours
    assert len({v[3] for v in looks.values()}) == 3  # and three border styles: not colour alone


def test_copy_gives_plain_text(sized, app_url):  # noqa: F811
    page = sized
    page.goto(app_url)
    send(page, "what is a VAE")
    row = page.locator("#chat .message-row").filter(has=page.locator(".level-answer")).last
    row.hover()
    buttons = page.locator('#chat button[aria-label="Copy message"]')
    buttons.last.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "VAEs are a kind of GenAI model that can create new content." in copied
    assert "[1]" in copied and "Sources:" in copied
    assert "[1] 5 types of generative AI > 5. Variational Autoencoders (VAE)" in copied
    assert "<" not in copied and "cite" not in copied and "\\" not in copied


def test_a_long_paste_is_kept_counted_and_explained(sized, app_url):  # noqa: F811
    from bot import ChatBot

    limit = ChatBot.load().settings.answer.max_question_chars
    page = sized
    page.goto(app_url)
    box = page.locator("#question textarea")
    near = "why " * (int(limit * 0.9) // 4)
    box.fill(near)
    count = page.locator("#question-count")
    count.wait_for()
    assert f"{len(near):,} / {limit:,}" in count.inner_text()
    pasted = "what is a VAE " + "x" * (limit + 500)
    box.fill(pasted)
    page.wait_for_function("() => document.querySelector('#question-count').classList.contains('over')")
    assert "too many" in count.inner_text()
    box.press("Enter")
    page.wait_for_function("() => /characters long/.test(document.querySelector('#chat').innerText)")
    assert box.input_value() == pasted  # nothing cut, nothing lost
    assert f"{len(pasted):,}" in page.locator("#chat").inner_text()


def test_controls_and_footer_meet_contrast(sized, app_url):  # noqa: F811
    page = sized
    page.goto(app_url)
    page.locator("#ask").wait_for()
    theme = scheme_of(page)
    checks = {
        "Ask button": "document.querySelector('#ask')",
        "placeholder": "document.querySelector('#question textarea')",
        "footer link": "document.querySelector('footer .show-api') || document.querySelector('footer a')",
        "example": "document.querySelector('#examples button')",
        "new conversation": "document.querySelector('#clear')",
    }
    for name, find in checks.items():
        fg, bg = page.evaluate(f"""() => {{ const el = {find};
            const s = getComputedStyle(el, {'"::placeholder"' if name == "placeholder" else "null"});
            let e = el, bg = 'rgba(0, 0, 0, 0)';
            while (e && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {{
                bg = getComputedStyle(e).backgroundColor; e = e.parentElement; }}
            if (bg === 'rgba(0, 0, 0, 0)') bg = getComputedStyle(document.body).backgroundColor;
            return [s.color, bg]; }}""")
        assert _contrast(_rgb(fg), _rgb(bg)) >= 4.5, (theme, name, fg, bg)


def test_api_documentation_loads_with_no_outside_request(sized, app_url):  # noqa: F811
    """/docs loaded Swagger UI from a CDN: blank without internet, and refused by the page's CSP."""
    page = sized
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(app_url.rstrip("/")) or r.url.startswith("data:")
            else outside.append(r.url))
    page.goto(app_url + "docs")
    page.get_by_text("/api/ask").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() >= 2  # drawn by the packaged Swagger UI
    assert outside == []


def test_port_zero_picks_a_free_port_and_prints_it():
    p = subprocess.Popen([sys.executable, "app.py", "--port", "0"], cwd=str(ROOT), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()  # waits for the line (the corpus loads first)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m and int(m.group(1)) > 0, line
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/docs", timeout=60) as r:
            assert r.status == 200 and b"swagger" in r.read().lower()  # served on the port it printed
    finally:
        p.terminate()
        p.wait(30)


def test_a_pdf_page_can_be_enlarged_on_a_phone(browser, mixed_url):  # noqa: F811
    """The page image was 272 px wide on a phone, unreadable, with no way to enlarge it."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(mixed_url)
        send(page, "how do I calibrate the widget sensor?")
        page.get_by_text(re.compile(r"^Sources \(\d+\)$")).first.click()
        href = page.get_by_role("link", name="Open the document").first.get_attribute("href")
        page.goto(mixed_url.rstrip("/") + href)
        plain = page.locator("figure img.page")
        plain.wait_for()
        page.get_by_text("Enlarge the page here").click()
        big = page.locator(".zoom-box img")
        big.wait_for()
        page.wait_for_function("() => { const i = document.querySelector('.zoom-box img'); return i.complete && i.naturalWidth > 0; }")
        natural = plain.evaluate("i => i.naturalWidth")
        assert big.evaluate("i => i.naturalWidth") >= 1.9 * natural  # rendered larger, not just stretched
        assert big.evaluate("i => i.getBoundingClientRect().width") > 2 * page.viewport_size["width"]
        assert page.locator(".zoom-box").evaluate("b => b.scrollWidth > b.clientWidth")  # scrolled in its box
        full = page.get_by_role("link", name="open the page at full size")
        assert "zoom=2" in full.get_attribute("href")
    finally:
        page.close()
