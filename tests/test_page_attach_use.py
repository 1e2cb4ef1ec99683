"""The page with files attached, in headless Chromium at a laptop and a phone size, light and dark:
previews that nothing shows through, every text on the page readable (4.5:1), the header and the
Sources loaded panel naming the attached files, each file's progress and reading time, a question
that waits for files still being read, and uploads that stay with the conversation they began in."""
from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_page import browser, launch  # noqa: E402,F401  (fixtures: Chromium)
from test_page_attach import GUIDE, QUESTION, attached_names, conversation_id, screen, served  # noqa: E402,F401
from test_page_product import activate, scheme_of, send, sized  # noqa: E402,F401
from waits import settled, wait_until  # noqa: E402

pytestmark = pytest.mark.browser

# Each visible text's contrast against what is drawn behind it: its colour (with the opacity of it
# and its ancestors) over the first opaque background of its ancestors, translucent ones blended in.
CONTRAST_JS = """() => {
  function parse(c) {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || '');
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function over(top, under) { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); }
  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let base = [255, 255, 255, 1];
    if (!layers.length || layers[layers.length - 1][3] < 1) {
      const b = parse(getComputedStyle(document.body).backgroundColor);
      base = b[3] >= 1 ? b : base;
    }
    for (let i = layers.length - 1; i >= 0; i--) base = layers[i][3] >= 1 ? layers[i] : over(layers[i], base);
    return base;
  }
  function lum(c) {
    const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  }
  function ratio(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  const out = [], seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    if (el.closest('script, style, noscript, template, svg')) continue;
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    if (s.visibility !== 'visible' || r.width < 2 || r.height < 2) continue;
    let opacity = 1, hidden = false;
    for (let e = el; e; e = e.parentElement) {
      const es = getComputedStyle(e);
      opacity *= parseFloat(es.opacity);
      if (es.display === 'none') hidden = true;
    }
    if (hidden || opacity < 0.05) continue;
    const bg = background(el), fg = parse(s.color);
    const value = ratio(over([fg[0], fg[1], fg[2], fg[3] * opacity], bg), bg);
    out.push({text: n.textContent.trim().slice(0, 80), where: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
              (typeof el.className === 'string' && el.className ? '.' + el.className.split(' ')[0] : ''),
              color: s.color, opacity: opacity, background: 'rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ')',
              ratio: Math.round(value * 100) / 100});
  }
  return out;
}"""


def low_contrast(page) -> list[dict]:
    return [t for t in page.evaluate(CONTRAST_JS) if t["ratio"] < 4.5]


# What the open preview of a citation lets through: its own background's alpha, the opacity it is
# drawn with (its own and its ancestors': Gradio drew replies at 80%, so the question box and the
# buttons under a preview showed through), and the points of a grid over it that hit something else.
PREVIEW_JS = """c => { const p = c.querySelector('.cite-pop');
  if (getComputedStyle(p).display === 'none') return null;
  const r = p.getBoundingClientRect(); let opacity = 1;
  for (let e = p; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
  const m = /rgba?\\(([^)]+)\\)/.exec(getComputedStyle(p).backgroundColor);
  const parts = m[1].split(/[ ,\\/]+/).filter(Boolean);
  const alpha = parts.length > 3 ? parseFloat(parts[3]) : 1;
  const through = [];
  for (const fx of [0.1, 0.5, 0.9]) for (const fy of [0.1, 0.5, 0.9]) {
    const hit = document.elementFromPoint(r.left + r.width * fx, r.top + r.height * fy);
    if (!hit || !p.contains(hit)) through.push(hit ? hit.tagName + '#' + hit.id + '.' + hit.className : 'nothing');
  }
  return {alpha: alpha, opacity: opacity, through: through, below: r.top > c.getBoundingClientRect().top}; }"""


def test_citation_previews_are_opaque(sized, served):  # noqa: F811
    """Each preview, placed over the question box and the buttons below the chat (its citation at
    the chat's lower edge), is drawn fully opaque and is what a point inside it shows."""
    page = sized
    page.goto(served.url)
    send(page, "What are the types of generative AI?")
    cites = page.locator("#chat .cite")
    assert cites.count() >= 5
    seen_below = 0
    for i in range(cites.count()):
        cite = cites.nth(i)
        cite.evaluate("c => c.scrollIntoView({block: 'end'})")  # its preview opens over what is below the chat
        cite.focus()
        page.wait_for_function("c => getComputedStyle(c.querySelector('.cite-pop')).display !== 'none'",
                               arg=cite.element_handle())
        settled(page)
        seen = cite.evaluate(PREVIEW_JS)
        assert seen and seen["alpha"] == 1 and seen["opacity"] == 1 and not seen["through"], (i, seen)
        seen_below += seen["below"]
        page.locator("#question textarea").focus()
    assert seen_below  # at least one preview lay over the question box and buttons below the chat


def test_every_text_on_the_page_is_readable(sized, served):  # noqa: F811
    """Every visible text, in both schemes, at least 4.5:1 against what is behind it: the page
    with a file attached, an answer, its Sources panel open and a preview shown. The dark scheme's
    "Attached. Questions in this conversation are answered from these files" was 1.86:1 (Gradio
    scoped its ".dark" rule wrongly), replies were drawn at 80% opacity, the footer's dot 1.9:1."""
    page = sized
    page.goto(served.url)
    scheme = scheme_of(page)
    conversation_id(page)
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    page.locator("#attach-status").filter(has_text="Attached").wait_for()
    send(page, QUESTION)
    send(page, "What are the types of generative AI?")
    page.get_by_text("Sources (", exact=False).last.click()
    page.locator("#chat .src-anchor").last.locator("xpath=..").wait_for()
    settled(page)
    bad = low_contrast(page)
    assert not bad, (scheme, bad)
    cite = page.locator("#chat .cite").last
    cite.scroll_into_view_if_needed()
    cite.focus()
    page.wait_for_function("c => getComputedStyle(c.querySelector('.cite-pop')).display !== 'none'",
                           arg=cite.element_handle())
    settled(page)
    bad = low_contrast(page)
    assert not bad, (scheme, "with a preview open", bad)


def test_the_header_and_sources_loaded_name_the_attached_files(screen, served):  # noqa: F811
    from playwright.sync_api import expect

    page = screen
    page.goto(served.url)
    conversation_id(page)
    intro, corpus = page.locator("#intro"), page.locator("#corpus")
    expect(intro).not_to_contain_text("attached")
    page.set_input_files("#attach-input", files=[
        {"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE},
        {"name": "quibbit.md", "mimeType": "text/markdown", "buffer": b"# Quibbit\n\nThe quibbit sleeps in a kettle.\n"}])
    expect(page.locator("#attached-list li")).to_have_count(2)
    expect(intro).to_contain_text("This conversation also answers from the 2 attached files: zorblax.md, quibbit.md.")
    expect(corpus).to_contain_text("Attached to this conversation (2 files): zorblax.md, quibbit.md")
    expect(corpus).to_contain_text("Sources loaded (1 document)")  # the corpus's own line stays
    page.get_by_role("button", name="Remove quibbit.md").click()
    expect(intro).to_contain_text("This conversation also answers from the attached file zorblax.md.")
    expect(corpus).to_contain_text("Attached to this conversation (1 file): zorblax.md")
    page.locator("#clear").click()
    expect(page.locator("#attached-list li")).to_have_count(0)
    expect(intro).not_to_contain_text("attached")
    expect(corpus).not_to_contain_text("Attached to this conversation")


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """The page over an attachments store whose reading of a file waits until the test opens
    ``store.gate``: the page is seen while files are still being read, however fast the machine."""
    from bot import ChatBot
    from bot.serve import ui
    from bot.serve.attachments import Attachments

    class Gated(Attachments):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.gate = threading.Event()
            self.reading = 0  # files waiting at the gate or being read
            self.count = threading.Lock()

        def add(self, cid, name, data):
            with self.count:
                self.reading += 1
            try:
                if not self.gate.wait(120):
                    raise RuntimeError("the test never opened the gate")
                return super().add(cid, name, data)
            finally:
                with self.count:
                    self.reading -= 1

    bot = ChatBot.load()
    store = Gated(bot, root=tmp_path_factory.mktemp("gated"))
    s = launch(ui.create(bot, attachments=store))
    s.store = store
    yield s
    store.gate.set()
    s.close()
    store.close()


def test_progress_and_reading_time_and_a_question_waits_for_the_files(screen, gated):
    """While a file is read the page shows its bytes sent and how long it has been read; a
    question sent meanwhile waits and is answered from the file once it is in. It was answered at
    once, "Not covered", from the corpus alone, while the page said "Attaching ..."."""
    from playwright.sync_api import expect

    page = screen
    gated.store.gate.clear()
    page.goto(gated.url)
    cid = conversation_id(page)
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    wait_until(lambda: gated.store.reading == 1, "the file to reach the server")
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    wait = page.locator("#attach-wait")
    expect(wait).to_contain_text("Your question waits for zorblax.md")
    assert page.locator('#chat [data-testid="user"]').count() == 0  # not sent yet
    assert box.input_value() == QUESTION  # and not lost
    job = page.locator("#attach-progress li", has_text="zorblax.md")
    expect(job).to_contain_text("reading it:")  # all its bytes sent; the server is reading it
    assert job.locator("progress").evaluate("b => b.value === b.max && b.max === %d" % len(GUIDE))
    page.wait_for_function("() => /reading it: [1-9]\\d* s/.test(document.querySelector('#attach-progress').textContent)")
    gated.store.gate.set()
    reply = page.locator('#chat [data-testid="bot"]').first
    expect(reply).to_contain_text("copper filings")  # sent once the file was in, answered from it
    expect(page.locator('#chat [data-testid="user"]')).to_have_count(1)
    expect(wait).to_be_empty()
    expect(page.locator("#attach-progress li")).to_have_count(0)
    expect(page.locator("#attach-status")).to_contain_text(
        re.compile(r"Attached\. zorblax\.md \(read in \d+\.\d s\)"))
    assert [f["name"] for f in gated.store.files(cid)] == ["zorblax.md"]


def test_a_question_can_go_without_the_files_and_says_so(screen, gated):
    from playwright.sync_api import expect

    page = screen
    gated.store.gate.clear()
    page.goto(gated.url)
    conversation_id(page)
    page.set_input_files("#attach-input", files=[{"name": "zorblax.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    expect(page.locator("#attach-progress li")).to_contain_text("reading it:")
    page.locator("#examples button").first.click()  # an example question waits too
    expect(page.locator("#attach-wait")).to_contain_text("Your question waits for zorblax.md")
    assert page.locator('#chat [data-testid="user"]').count() == 0
    page.locator("#ask-without").click()
    expect(page.locator('#chat [data-testid="user"]')).to_have_count(1)
    expect(page.locator("#attach-status")).to_contain_text("Asked without zorblax.md, still being attached")
    gated.store.gate.set()
    expect(page.locator("#attached-list li")).to_have_count(1)
    expect(page.locator("#attach-status")).to_contain_text(  # still said once the file is in
        "The question asked before zorblax.md was in was answered without it.")


def test_new_conversation_during_uploads_keeps_them_out_of_the_new_one(screen, gated):
    """Files still uploading when New conversation is clicked belong to the conversation they
    began in: they are stopped and never arrive in the new one (all of them did within 25 s)."""
    from playwright.sync_api import expect

    page = screen
    gated.store.gate.clear()
    page.goto(gated.url)
    old = conversation_id(page)
    files = [{"name": f"part{i}.md", "mimeType": "text/markdown", "buffer": GUIDE.replace(b"zorblax", b"zorblax%d" % i)}
             for i in range(3)]
    page.set_input_files("#attach-input", files=files)
    wait_until(lambda: gated.store.reading == 1, "the first file to reach the server")
    page.locator("#clear").click()
    page.wait_for_function("old => document.getElementById('attach-id').textContent.trim() !== old", arg=old)
    new = conversation_id(page)
    gated.store.gate.set()
    # the page is done with the earlier conversation's files (or, as it was, they all came here)
    page.wait_for_function("() => window.__attachBusy ? !window.__attachBusy()"
                           " : document.querySelectorAll('#attached-list li').length >= 3")
    wait_until(lambda: gated.store.reading == 0, "the server to finish with the first file")
    expect(page.locator("#attach-progress li")).to_have_count(0)
    assert attached_names(page) == []
    assert gated.store.files(new) == []
    assert not gated.store.exists(old)
    send(page, "What does the zorblax1 eat?")
    expect(page.locator('#chat [data-testid="bot"]').first).not_to_contain_text("copper filings")
    assert gated.store.files(new) == []


def test_each_file_shows_its_bytes_sent(screen, gated):
    """On a slow connection each file shows how much of it was sent, and the ones after it wait."""
    from playwright.sync_api import expect

    page = screen
    gated.store.gate.set()
    page.goto(gated.url)
    conversation_id(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 64 * 1024})
    text = b"# Slow\n\n" + b"The slow file holds many words about nothing at all.\n" * 5000  # ~270 KB
    page.set_input_files("#attach-input", files=[
        {"name": "slow.md", "mimeType": "text/markdown", "buffer": text},
        {"name": "next.md", "mimeType": "text/markdown", "buffer": GUIDE}])
    first = page.locator("#attach-progress li", has_text="slow.md")
    expect(first).to_contain_text(re.compile(r"sending \d+ KB of %d KB \(\d+%%\)" % round(len(text) / 1024)))
    expect(page.locator("#attach-progress li", has_text="next.md")).to_contain_text("waiting")
    page.wait_for_function("""() => { const b = document.querySelector('#attach-progress progress');
        return b && b.value > 0 && b.value < b.max; }""")  # part of it sent, as the bar shows
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    expect(page.locator("#attached-list li")).to_have_count(2)
    expect(page.locator("#attach-progress li")).to_have_count(0)
