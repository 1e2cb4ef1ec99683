"""Files attached to a conversation: the store's limits, type sniffing, eviction, idle removal,
isolation between conversations, and the JSON API (attach, list, remove, ask within it, view)."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from bot import ChatBot
from bot.serve.attachments import ATTACHED, AttachError, Attachments, clean_name, sniff, stronger
from bot.sources import isolated

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixed_corpus import make_pdf  # noqa: E402

GUIDE = b"""# Zorblax care guide

## Feeding

The zorblax eats copper filings every Tuesday morning.

## Temperature

A zorblax must be kept at 40 degrees Celsius at all times.
"""
QUESTION = "What does the zorblax eat?"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def corpus():
    return ChatBot.load()


@pytest.fixture
def store(corpus, tmp_path):
    s = Attachments(corpus, root=tmp_path / "attached")
    yield s
    s.close()


# ---- sniffing -------------------------------------------------------------------------------
@pytest.mark.parametrize("data, name, kind", [
    (b"%PDF-1.7\n...", "anything.txt", "pdf"),
    (b"<!doctype html><html><body><p>Hi</p></body></html>", "page.md", "html"),
    (b"  <html><head><title>x</title></head></html>", "x", "html"),
    (b'{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"}\n', "data.txt", "jsonl"),
    (b"# Title\n\n- one\n- two\n", "notes", "markdown"),
    (b"plain words, nothing else.\n", "notes.md", "markdown"),
    (b"plain words, nothing else.\n", "report.exe", "text"),
    ("Caf\u00e9 au lait.\n".encode("utf-16"), "u16.txt", "text"),
])
def test_the_type_is_read_from_the_bytes_not_the_name(data, name, kind):
    assert sniff(data, name) == kind


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", b"MZ\x90\x00\x03\x00", b"PK\x03\x04zip",
                                  b"\xff\xd8\xff\xe0JFIF", bytes(range(256)) * 4, b"\x7fELF\x02\x01"])
def test_binary_files_are_refused_whatever_their_name(data):
    with pytest.raises(AttachError) as e:
        sniff(data, "notes.md")
    assert e.value.status == 415
    assert str(e.value).startswith("notes.md: not a supported type (PDF, Markdown, text, HTML, JSON Lines)")


def test_names_are_cleaned():
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("C:\\Users\\me\\report.pdf") == "report.pdf"
    assert clean_name("a\x00b\nc.md") == "abc.md"
    assert clean_name("") == "file"
    long = clean_name("x" * 500 + ".pdf")
    assert len(long) <= 120 and long.endswith(".pdf")


# ---- the store ------------------------------------------------------------------------------
def test_attach_and_ask_cites_the_attached_file(store, corpus):
    cid = store.create()
    assert store.ask(cid, corpus, QUESTION).support != "answer"  # nothing attached yet
    info = store.add(cid, "zorblax.md", GUIDE)
    assert info["name"] == "zorblax.md" and info["type"] == "markdown" and info["source"] == "attached: zorblax.md"
    reply = store.ask(cid, corpus, QUESTION)
    assert reply.support == "answer", reply.answer
    assert reply.citations[0].source == ATTACHED + "zorblax.md"
    assert any("copper filings" in q for q in reply.citations[0].quotes)
    # the corpus still answers its own questions within the conversation
    reply = store.ask(cid, corpus, "what is a VAE")
    assert reply.support == "answer" and "Variational" in reply.citations[0].title


def test_conversations_are_isolated(store, corpus):
    a, b = store.create(), store.create()
    assert a != b and len(a) >= 32
    store.add(a, "zorblax.md", GUIDE)
    assert store.files(b) == []
    assert store.ask(b, corpus, QUESTION).support != "answer"
    with pytest.raises(AttachError) as e:
        store.files("not-an-id")
    assert e.value.status == 404 and "no such conversation" in str(e.value)


def test_files_are_private_and_removed_with_the_conversation(store):
    cid = store.create()
    store.add(cid, "zorblax.md", GUIDE)
    (path,) = [f.path for f in store._items[cid].files]
    assert path.is_file()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cid not in str(path)  # the folder name does not give the id away
    assert store.remove(cid) is True
    assert not path.exists() and not path.parent.exists()
    assert store.remove(cid) is False


def test_remove_one_file(store, corpus):
    cid = store.create()
    store.add(cid, "zorblax.md", GUIDE)
    other = store.add(cid, "zorblax.md", b"# Other\n\nThe quibble is blue.\n")
    assert other["name"] == "zorblax (2).md"  # same name twice: told apart
    files = store.remove_file(cid, "1")
    assert [f["name"] for f in files] == ["zorblax (2).md"]
    assert store.ask(cid, corpus, QUESTION).support != "answer"
    with pytest.raises(AttachError):
        store.remove_file(cid, "1")


def test_at_most_ten_files(store):
    cid = store.create()
    for i in range(10):
        store.add(cid, f"n{i}.txt", f"Note {i}: the value is {i}.\n".encode())
    with pytest.raises(AttachError) as e:
        store.add(cid, "eleven.txt", b"one more\n")
    assert e.value.status == 409 and str(e.value) == \
        "eleven.txt: a conversation holds at most 10 files; remove one first"


def test_total_size_per_conversation(corpus, tmp_path):
    store = Attachments(corpus, root=tmp_path, max_bytes=1000)
    cid = store.create()
    store.add(cid, "a.txt", b"The first note is short.\n" * 30)  # 750 bytes
    with pytest.raises(AttachError) as e:
        store.add(cid, "b.txt", b"The second note is long.\n" * 20)
    assert e.value.status == 413 and "over the 1 KB a conversation's files may take together" in str(e.value)
    store.close()


def test_empty_and_unreadable_files_say_why(store):
    cid = store.create()
    with pytest.raises(AttachError, match="empty.md: the file is empty"):
        store.add(cid, "empty.md", b"  \n")
    with pytest.raises(AttachError, match=r"bad.jsonl: .*no documents"):
        store.add(cid, "bad.jsonl", b'{"x": 1}\n{"y": 2}\n')
    with pytest.raises(AttachError) as e:
        store.add(cid, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    assert str(e.value).startswith("broken.pdf: ") and "/tmp" not in str(e.value)
    assert store.files(cid) == []


def test_a_pdf_is_read_in_a_child_with_a_page_limit(corpus, tmp_path):
    make_pdf(tmp_path / "m.pdf", ["The gizmo manual explains the blue lever on page one.",
                                  "Page two says the gizmo hums at night."])
    data = (tmp_path / "m.pdf").read_bytes()
    store = Attachments(corpus, root=tmp_path / "a", limits=isolated.Limits(max_pages=1))
    cid = store.create()
    with pytest.raises(AttachError) as e:
        store.add(cid, "m.pdf", data)
    assert str(e.value) == "m.pdf: 2 pages; at most 1 pages are read"
    store.close()
    store = Attachments(corpus, root=tmp_path / "b")
    cid = store.create()
    info = store.add(cid, "m.pdf", data)
    assert info["type"] == "pdf" and info["pages"] == 2
    doc, path = store.document(cid, "attached: m.pdf")
    assert path is not None and path.read_bytes() == data and "## Page 2" in doc.text
    store.close()


def test_the_child_is_stopped_at_its_time_limit(tmp_path, monkeypatch):
    """A read that runs past its time is stopped and named (the child here sleeps forever)."""
    import subprocess

    real = subprocess.run

    def slow(cmd, **kw):
        return real([sys.executable, "-c", "import time; time.sleep(60)"], **kw)

    monkeypatch.setattr(isolated.subprocess, "run", slow)
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(Exception, match=r"took longer than 0.5 s to read"):
        isolated.read_isolated(tmp_path / "x.pdf", "x.pdf", isolated.Limits(seconds=0.5))


def test_the_child_has_a_memory_limit(tmp_path):
    """The child's address space is capped: a read that needs more fails with a message."""
    import subprocess

    env = {**os.environ, "BOT_PARSE_MEMORY": str(400 * 1024 * 1024), "BOT_PARSE_SECONDS": "20"}
    code = ("from bot.sources.isolated import _limit_self; _limit_self()\n"
            "try:\n    b = bytearray(600 * 1024 * 1024)\nexcept MemoryError:\n    print('refused')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.strip() == "refused"


def test_idle_conversations_are_removed(corpus, tmp_path):
    clock = Clock()
    store = Attachments(corpus, root=tmp_path, clock=clock, idle_seconds=3600)
    old, kept = store.create(), store.create()
    store.add(old, "zorblax.md", GUIDE)
    folder = store._items[old].folder
    clock.now += 3000
    store.files(kept)  # used: its idle time starts again
    clock.now += 1000
    assert store.exists(kept) and not store.exists(old)
    assert not folder.exists()
    with pytest.raises(AttachError, match="no such conversation: it was removed with its files after 60 minutes idle"):
        store.add(old, "again.md", GUIDE)
    store.close()


def test_memory_budget_evicts_the_least_recently_used(corpus, tmp_path):
    """The budget counts each conversation's index as measured by the child that built it; the
    conversation used longest ago goes first, and its owner is told it went to make room."""
    text = b"# Notes\n\n" + b"".join(f"Fact {i} says the widget number is {i}.\n".encode() for i in range(60))
    probe = Attachments(corpus, root=tmp_path / "probe")
    one = probe.create()
    probe.add(one, "a.md", text)
    size = probe.memory  # measured: what one such conversation's index takes loaded
    probe.close()
    assert size > 0
    store = Attachments(corpus, root=tmp_path / "store", budget=int(2.5 * size), share=0.5)  # room for two
    a, b, c = store.create(), store.create(), store.create()
    store.add(a, "a.md", text)
    store.add(b, "b.md", text)
    store.files(a)  # a used more recently than b
    store.add(c, "c.md", text)
    assert store.exists(a) and store.exists(c) and not store.exists(b)
    assert store.evicted == 1 and store.memory <= store.budget
    with pytest.raises(AttachError) as e:
        store.files(b)
    assert e.value.status == 404 and "to make room in the server's memory" in str(e.value)
    store.remove(a)
    with pytest.raises(AttachError, match="it was closed"):
        store.files(a)
    store.close()


def test_disk_budget_evicts_the_least_recently_used(corpus, tmp_path):
    store = Attachments(corpus, root=tmp_path, disk_budget=2500)
    a, b = store.create(), store.create()
    store.add(a, "a.txt", b"The first note. " * 100)  # 1,600 bytes
    folder = store._items[a].folder
    store.add(b, "b.txt", b"The second note. " * 60)  # 1,020 bytes: over 2,500 together
    assert not store.exists(a) and store.exists(b) and not folder.exists()
    store.close()


def test_too_many_files_waiting_are_refused_as_busy(store, monkeypatch):
    from bot.serve import attachments

    cid = store.create()
    monkeypatch.setattr(store, "_waiting", attachments.PARALLEL_READS + attachments.WAITING_READS)
    with pytest.raises(AttachError) as e:
        store.add(cid, "a.md", GUIDE)
    assert e.value.status == 503 and "busy" in str(e.value)
    assert store.files(cid) == []


def test_one_conversation_cannot_take_more_than_its_share(corpus, tmp_path):
    store = Attachments(corpus, root=tmp_path, budget=40 * 4000)  # a quarter: 1,000 characters of text
    cid = store.create()
    with pytest.raises(AttachError) as e:
        store.add(cid, "big.txt", b"All work and no play makes a dull day. " * 40)
    assert e.value.status == 413 and "more than this server indexes for one conversation" in str(e.value)
    store.close()


def test_stronger_reply_is_kept(corpus):
    from bot.model import Reply

    small = corpus.ask("hello")
    answer = Reply("x [1]", False, [], support="answer", confidence=0.6)
    closest = Reply("y", True, [], support="closest", confidence=0.9)
    none = Reply("z", True, [], support="none", confidence=0.0)
    assert stronger(none, answer) is answer and stronger(answer, closest) is answer
    assert stronger(closest, Reply("w", False, [], support="answer", confidence=0.2)).support == "answer"
    assert stronger(small, answer) is small  # small talk stays the corpus's
    assert stronger(none, None) is none


def _manual_pdf(tmp_path: Path) -> bytes:
    """A PDF whose own details name its title, author and date (as a manual's /Author does)."""
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain, ["Gearbox service manual", "Drain the gearbox oil every 40,000 kilometres."])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.add_metadata({"/Title": "Gearbox Service Manual", "/Author": "Quentin Dravell",
                         "/CreationDate": "D:20190415120000Z"})
    out = tmp_path / "manual.pdf"
    with open(out, "wb") as f:
        writer.write(f)
    return out.read_bytes()


@pytest.mark.parametrize("question, expected", [
    ("who made this manual?", "Quentin Dravell"),
    ("who wrote this?", "Quentin Dravell"),
    ("what is this document called?", "Gearbox Service Manual"),
])
def test_questions_about_the_sources_are_answered_from_the_attached_files_first(corpus, store, tmp_path,
                                                                                question, expected):
    """With only a PDF attached (its /Author shown on the source line), "who made this manual?"
    was answered at 100% with the bundled article's author: both replies came from metadata at
    full confidence and the corpus's won the tie."""
    cid = store.create()
    store.add(cid, "manual.pdf", _manual_pdf(tmp_path))
    reply = store.ask(cid, corpus, question)
    assert reply.support == "answer" and expected in reply.answer, reply.answer
    assert reply.citations and all(c.source == ATTACHED + "manual.pdf" for c in reply.citations)
    author = corpus.documents[0].metadata["author"]
    assert author not in reply.answer
    alone = corpus.ask(question)  # without attached files: the corpus's own details, as before
    assert reply.answer != alone.answer and alone.support == "answer"
    assert alone.citations and not alone.citations[0].source.startswith(ATTACHED)


def test_a_question_about_the_sources_the_files_do_not_answer_keeps_the_corpus_reply(corpus, store):
    """A text file names no author: "who wrote this?" still gets the corpus's answer."""
    cid = store.create()
    store.add(cid, "zorblax.md", GUIDE)
    assert store.ask(cid, corpus, "who wrote this?").answer == corpus.ask("who wrote this?").answer
    assert QUESTION and "copper filings" in store.ask(cid, corpus, QUESTION).answer  # content still from the file


# ---- the JSON API ---------------------------------------------------------------------------
@pytest.fixture
def api(corpus, tmp_path):
    from fastapi.testclient import TestClient

    from bot.serve.guard import Guard
    from bot.serve.web import make_app

    store = Attachments(corpus, root=tmp_path / "api")
    with TestClient(Guard(make_app(corpus, store), uploads=True), base_url="http://127.0.0.1") as client:
        yield client
    store.close()


def new_conversation(api) -> str:
    r = api.post("/api/conversations", json={})
    assert r.status_code == 201, r.text
    assert r.json()["limits"]["max_files"] == 10
    return r.json()["conversation"]


def test_api_attach_ask_list_remove(api):
    cid = new_conversation(api)
    r = api.post(f"/api/conversations/{cid}/files", params={"filename": "zorblax.md"}, content=GUIDE,
                 headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.json()["file"]["source"] == "attached: zorblax.md"
    r = api.post("/api/ask", json={"question": QUESTION, "conversation": cid})
    assert r.status_code == 200
    body = r.json()
    assert body["support"] == "answer" and body["citations"][0]["source"] == "attached: zorblax.md"
    # without the conversation, or in another one, the file is not seen
    assert api.post("/api/ask", json={"question": QUESTION}).json()["support"] != "answer"
    other = new_conversation(api)
    assert api.post("/api/ask", json={"question": QUESTION, "conversation": other}).json()["support"] != "answer"
    assert api.get(f"/api/conversations/{other}/files").json()["files"] == []
    files = api.get(f"/api/conversations/{cid}/files").json()["files"]
    assert [f["name"] for f in files] == ["zorblax.md"]
    assert api.delete(f"/api/conversations/{cid}/files/{files[0]['id']}").json()["files"] == []
    assert api.delete(f"/api/conversations/{cid}").status_code == 204
    r = api.post("/api/ask", json={"question": QUESTION, "conversation": cid})
    assert r.status_code == 404 and "no such conversation" in r.json()["detail"]


def test_api_multipart_upload(api):
    cid = new_conversation(api)
    r = api.post(f"/api/conversations/{cid}/files", files={"file": ("notes.md", GUIDE, "text/markdown")})
    assert r.status_code == 201, r.text
    assert r.json()["file"]["name"] == "notes.md"


def test_api_refusals_say_which_limit(api):
    cid = new_conversation(api)
    r = api.post(f"/api/conversations/{cid}/files?filename=report.exe", content=b"MZ\x90\x00binary",
                 headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    assert r.json()["detail"].startswith("report.exe: not a supported type (PDF, Markdown, text, HTML, JSON Lines)")
    r = api.post(f"/api/conversations/{cid}/files?filename=big.txt", content=b"a" * (21 * 1024 * 1024),
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    r = api.post("/api/conversations/nope/files?filename=a.md", content=GUIDE, headers={"Content-Type": "text/plain"})
    assert r.status_code == 404 and "no such conversation" in r.json()["detail"]
    # everything else stays as strict as before: JSON only, small bodies
    r = api.post("/api/ask", content=b"question=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = api.post("/api/conversations", content=b"x" * 300_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert api.post("/gradio_api/upload", content=b"--x--",
                    headers={"Content-Type": "multipart/form-data; boundary=x"}).status_code == 403


def test_api_document_view_and_pdf_page_of_an_attached_file(api, tmp_path):
    cid = new_conversation(api)
    make_pdf(tmp_path / "g.pdf", ["The gizmo manual explains the blue lever on page one.",
                                  "The gizmo hums quietly at night when its lever is blue."])
    r = api.post(f"/api/conversations/{cid}/files?filename=gizmo.pdf", content=(tmp_path / "g.pdf").read_bytes(),
                 headers={"Content-Type": "application/pdf"})
    assert r.status_code == 201, r.text
    body = api.post("/api/ask", json={"question": "When does the gizmo hum?", "conversation": cid}).json()
    assert body["citations"] and body["citations"][0]["source"] == "attached: gizmo.pdf", body
    from urllib.parse import quote

    doc = quote("attached: gizmo.pdf", safe="")
    r = api.get(f"/conversations/{cid}/documents/{doc}/view?start=15&end=40")
    assert r.status_code == 200 and "attached: gizmo.pdf" in r.text and 'id="page"' in r.text
    r = api.get(f"/conversations/{cid}/documents/{doc}/page.png?page=2")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    other = new_conversation(api)
    assert api.get(f"/conversations/{other}/documents/{doc}/view").status_code == 404
    assert api.get(f"/documents/{doc}/view").status_code == 404  # not in the corpus


def test_api_openapi_documents_the_conversation_routes(api):
    spec = api.get("/openapi.json").json()
    assert {"/api/conversations", "/api/conversations/{conversation}/files",
            "/api/conversations/{conversation}/files/{file_id}", "/api/conversations/{conversation}"} <= set(spec["paths"])
    upload = spec["paths"]["/api/conversations/{conversation}/files"]["post"]
    assert {"application/octet-stream", "multipart/form-data"} <= set(upload["requestBody"]["content"])
    assert "conversation" in spec["components"]["schemas"]["AskRequest"]["properties"]


def test_api_with_attachments_off(corpus):
    from fastapi.testclient import TestClient

    from bot.serve.guard import Guard
    from bot.serve.web import make_app

    with TestClient(Guard(make_app(corpus)), base_url="http://127.0.0.1") as client:
        r = client.post("/api/conversations", json={})
        assert r.status_code == 403 and "--no-attachments" in r.json()["detail"]
        r = client.post("/api/conversations/x/files?filename=a.md", content=GUIDE, headers={"Content-Type": "text/plain"})
        assert r.status_code == 403
        r = client.post("/api/ask", json={"question": "what is a VAE", "conversation": "x"})
        assert r.status_code == 403 and "--no-attachments" in r.json()["detail"]
        assert client.post("/api/ask", json={"question": "what is a VAE"}).status_code == 200
    with TestClient(make_app(corpus), base_url="http://127.0.0.1") as client:  # the routes refuse too
        assert client.post("/api/conversations", json={}).status_code == 403


@pytest.mark.parametrize("name, data, question, expected", [
    ("page.bin", b"<!doctype html><html><head><title>Quibble notes</title></head><body><main><h1>Quibble notes</h1>"
                 b"<h2>Colour</h2><p>The quibble turns violet when it is startled by thunder.</p>"
                 b"<p>Quibbles sleep in hollow logs during the winter months.</p></main></body></html>",
     "When does the quibble turn violet?", "startled by thunder"),
    ("kb.jsonl", b'{"_id": "q1", "title": "Frobnicator reset", "text": "To reset the frobnicator, hold the green '
                 b'button for nine seconds."}\n{"_id": "q2", "title": "Frobnicator lights", "text": "A blinking red '
                 b'light means the frobnicator needs oil."}\n',
     "How do I reset the frobnicator?", "nine seconds"),
    ("notes.txt", "Gadget notes\n\nThe gadget charges fully in twelve minutes on a Tuesday.\n".encode("utf-16"),
     "How long does the gadget take to charge?", "twelve minutes"),
])
def test_each_type_is_read_by_the_corpus_readers(store, corpus, name, data, question, expected):
    cid = store.create()
    store.add(cid, name, data)
    reply = store.ask(cid, corpus, question)
    assert reply.support == "answer", reply.answer
    assert reply.citations[0].source.startswith(ATTACHED + name)
    assert any(expected in q for q in reply.citations[0].quotes)


def test_attached_files_are_deleted_when_the_server_stops(corpus):
    from fastapi.testclient import TestClient

    from bot.serve.guard import Guard
    from bot.serve.web import make_app

    store = Attachments(corpus)  # its own private temporary folder
    with TestClient(Guard(make_app(corpus, store), uploads=True), base_url="http://127.0.0.1") as client:
        cid = client.post("/api/conversations", json={}).json()["conversation"]
        assert client.post(f"/api/conversations/{cid}/files?filename=a.md", content=GUIDE,
                           headers={"Content-Type": "text/plain"}).status_code == 201
        root = store._root
        assert root is not None and any(root.iterdir())
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert not root.exists() and len(store) == 0  # the lifespan's end closed the store


KILLED_SERVER = """
import sys
from bot import ChatBot
from bot.serve.attachments import Attachments
store = Attachments(ChatBot.load())
cid = store.create()
store.add(cid, "guide.md", sys.stdin.buffer.read())
print(store._root, flush=True)
sys.stdin.close()
import time
time.sleep(600)
"""


def test_files_of_a_killed_server_are_removed_by_the_next_one(corpus, tmp_path):
    """A server killed with SIGKILL never runs its exit handler: its attachment folder stayed in
    /tmp. The next server removes the folders nobody holds the lock of, and only those: not a
    running server's, not one without a lock file, not a symlink to one."""
    import signal
    import subprocess

    from bot.serve.attachments import ROOT_LOCK, ROOT_PREFIX, remove_orphans

    env = dict(os.environ, TMPDIR=str(tmp_path))
    killed = subprocess.Popen([sys.executable, "-c", KILLED_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env)
    try:
        killed.stdin.write(GUIDE)
        killed.stdin.close()
        root = Path(killed.stdout.readline().decode().strip())
        assert root.parent == tmp_path and root.name.startswith(ROOT_PREFIX) and any(root.rglob("*.md")), root
        unlocked = tmp_path / (ROOT_PREFIX + "no-lock-file")  # another server making its folder
        unlocked.mkdir()
        (tmp_path / (ROOT_PREFIX + "link")).symlink_to(root)
        assert remove_orphans(tmp_path) == []  # its server still runs and holds the lock
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert root.exists() and (root / ROOT_LOCK).exists()  # the exit handler did not run
        assert remove_orphans(tmp_path) == [root]
        assert not root.exists() and unlocked.exists() and (tmp_path / (ROOT_PREFIX + "link")).is_symlink()
    finally:
        killed.kill()
        killed.wait()
