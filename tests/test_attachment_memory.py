"""Attached files against the real server process: its resident memory stays within the memory
budget for attached files (plus a stated margin) however many large texts are attached, the
conversations used longest ago go first and their owners are told why, and another visitor's
question is answered while a large text is read (it is read and indexed in a child process)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from waits import wait_until

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
BUDGET = 450 * MB  # the attached files' memory budget given to the server under test: two such texts fit
SHARE = 0.6  # of it, one conversation may take this much
MARGIN = 120 * MB  # over the budget: one index being loaded (its passing peak), questions being answered
TEXT_BYTES = 3_200_000

SERVER = """
import sys
from bot import ChatBot
from bot.serve import server
from bot.serve.attachments import Attachments
from bot.serve.guard import Guard
from bot.serve.web import make_app
from bot.sources.isolated import Limits
corpus = ChatBot.load()
# time limits for a machine shared with other work: the texts here take ~40 s of CPU to index
store = Attachments(corpus, budget=int(sys.argv[1]), share=float(sys.argv[2]), limits=Limits(index_seconds=1200))
sock = server.bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
server.serve(Guard(make_app(corpus, store), uploads=True), sock)
"""

pytestmark = pytest.mark.slow


def distinct_words(size: int, seed: int) -> bytes:
    """About ``size`` bytes of sentences whose every word is new (the most an index can hold per byte)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out, n = [], 0
    while n < size:
        words = []
        while len(words) < 12:
            w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 10)))
            if w not in seen:
                seen.add(w)
                words.append(w)
        line = " ".join(words).capitalize() + ".\n" + ("\n" if len(out) % 8 == 7 else "")
        out.append(line)
        n += len(line)
    return "".join(out).encode()


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(BUDGET), str(SHARE)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = f"http://127.0.0.1:{int(line)}"

    def call(self, method: str, path: str, body: bytes | None = None, kind: str = "application/json",
             ) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Content-Type": kind})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def conversation(self) -> str:
        return self.call("POST", "/api/conversations", b"{}")[1]["conversation"]

    def attach(self, cid: str, name: str, data: bytes) -> tuple[int, dict]:
        return self.call("POST", f"/api/conversations/{cid}/files?filename={name}", data, "text/plain")

    def ask(self, question: str, cid: str | None = None) -> tuple[int, dict]:
        body = {"question": question, **({"conversation": cid} if cid else {})}
        return self.call("POST", "/api/ask", json.dumps(body).encode())

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def children(self) -> list[int]:
        tasks = Path(f"/proc/{self.proc.pid}/task")
        return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


@pytest.fixture(scope="module")
def served():
    srv = Server()
    try:
        assert srv.ask("what is a VAE")[1]["support"] == "answer"  # the corpus loaded and warm
        srv.baseline = srv.rss()
        yield srv
    finally:
        srv.proc.kill()
        srv.proc.wait()


def test_another_visitors_question_is_answered_while_a_large_text_is_read(served):
    cid = served.conversation()
    done = threading.Event()
    result: dict = {}

    def upload() -> None:
        result["reply"] = served.attach(cid, "first.txt", distinct_words(TEXT_BYTES, 1))
        done.set()

    threading.Thread(target=upload, daemon=True).start()
    wait_until(served.children, "the server to read the text in a child process", seconds=120)
    status, reply = served.ask("what is a VAE")  # another visitor, no conversation
    assert status == 200 and reply["support"] == "answer"
    assert not done.is_set()  # answered while the text was still being read
    assert done.wait(600) and result["reply"][0] == 201, result


def test_memory_stays_within_the_budget_and_the_least_recently_used_go_first(served):
    ids = []
    for k in range(4):  # ~4 x the measured cost of one: past the budget twice
        cid = served.conversation()
        status, body = served.attach(cid, f"words{k}.txt", distinct_words(TEXT_BYTES, 10 + k))
        assert status == 201, body
        word = distinct_words(TEXT_BYTES, 10 + k).split()[7].decode()
        status, reply = served.ask(f"what is {word}?", cid)  # answered from it: its caches filled too
        assert status == 200 and reply["citations"] and reply["citations"][0]["source"] == f"attached: words{k}.txt"
        ids.append(cid)
        growth = served.rss() - served.baseline
        assert growth <= BUDGET + MARGIN, f"after {k + 1} texts the server grew by {growth / MB:.0f} MB"
    status, body = served.call("GET", f"/api/conversations/{ids[0]}/files")
    assert status == 404 and "to make room in the server's memory" in body["detail"], body
    assert served.call("GET", f"/api/conversations/{ids[-1]}/files")[0] == 200  # the newest is kept
