"""Replicas behind HAProxy (`python -m bot.serve.replicas IDX --replicas 3`), on loopback: each
conversation's requests reach the replica holding its attached file (its answers come from its own
file, never another's: 0 cross-talk) under 20 clients while an update of the index lands (0
errors, and every replica answers from the new generation within 2 s of it); the page's cookie
keeps a browser on one replica; a replica killed under load: requests on the others go on, its
conversations are gone (404), and later requests succeed; the launcher stops everything on SIGTERM.

The end-to-end tests need the `haproxy` program (Debian package `haproxy`; `.ci/run` installs it)
and are skipped, saying so, without it. Every wait is for an event, bounded.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.serve.attachments import Attachments
from bot.serve.health import id_prefix, replica_name
from bot.serve.replicas import Backend, haproxy_config
from waits import wait_until

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = shutil.which("haproxy")
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy): "
                                                           "the replica tests run it in front of app.py processes")
REPLICAS = 3
CLIENTS = 20
TEAMS = {"heron": "4821", "otter": "5937", "lynx": "6143", "bison": "7359", "crane": "8261", "viper": "9475"}
BEACON_Q = "what colour does the harbour beacon glow"
BEACON = ("amber", "violet")  # before and after the update
CORPUS = """# Harbour notes

## The beacon

The harbour beacon glows {colour} on foggy nights. Ships read the beacon from the outer channel.

## The pier

The old pier was rebuilt from oak timbers. Fishing boats tie up along the pier at dusk.
"""


# ---- without haproxy ---------------------------------------------------------------------------
def test_a_replicas_conversation_ids_start_with_its_name(tmp_path):
    store = Attachments(None, root=tmp_path / "files", id_prefix=id_prefix("r2"))
    try:
        cid = store.create()
        assert cid.startswith("r2-") and store.exists(cid)
        assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", cid)  # what the page's script takes for an id
    finally:
        store.close()
    alone = Attachments(None, root=tmp_path / "alone")
    try:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", alone.create())  # a process serving alone: ids as before
    finally:
        alone.close()


@pytest.mark.parametrize("bad", ["", "R1", "1r", "r-1", "r_1", "r1.x", "r/1", "r" * 40])
def test_a_replica_name_that_cannot_be_routed_is_refused(bad):
    with pytest.raises(ValueError):
        replica_name(bad)


def test_the_config_routes_conversations_keeps_pages_and_retries_only_what_is_safe():
    cfg = haproxy_config([Backend("r1", "127.0.0.1", 9001), Backend("r2", "127.0.0.1", 9002)], "127.0.0.1:8080")
    assert "server r1 127.0.0.1:9001 cookie r1" in cfg and "server r2 127.0.0.1:9002 cookie r2" in cfg
    assert "use-server %[var(txn.replica)]" in cfg and "json_query('$.conversation')" in cfg
    assert "cookie SERVERID insert indirect nocache" in cfg
    assert "http-request disable-l7-retry if !safe !ask" in cfg and "option redispatch" in cfg


@needs_haproxy
def test_haproxy_accepts_the_config(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy_config([Backend(f"r{k}", "127.0.0.1", 9000 + k) for k in (1, 2, 3)], "127.0.0.1:8080"))
    p = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


# ---- end to end --------------------------------------------------------------------------------
def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 120.0) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def ask(port: int, question: str, conversation: str | None = None) -> tuple[int, str, dict]:
    """(status, the replica HAProxy named, the reply object or {})."""
    body = {"question": question} | ({"conversation": conversation} if conversation else {})
    status, headers, data = request(port, "POST", "/api/ask", json.dumps(body).encode(),
                                    {"Content-Type": "application/json"})
    return status, headers.get("x-replica", ""), json.loads(data) if status == 200 else {}


class Launched:
    """`python -m bot.serve.replicas` run as a user runs it; its printed lines read as they come."""

    def __init__(self, idx: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.serve.replicas", str(idx), "--replicas",
                                      str(REPLICAS), "--port", "0", "--check-ms", "200"], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.errors.append), daemon=True).start()
        self.pids: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        deadline = time.monotonic() + 300  # three processes importing gradio at once on two cores
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError("the replicas did not start: " + "".join(self.errors[-30:])) from None
            if m := re.match(r"replica (r\d+): pid (\d+), http://127\.0\.0\.1:(\d+)/", line):
                self.pids[m.group(1)], self.ports[m.group(1)] = int(m.group(2)), int(m.group(3))
            elif m := re.search(r"behind haproxy on http://127\.0\.0\.1:(\d+)/", line):
                self.port = int(m.group(1))
                return
            elif not line:
                raise AssertionError("the launcher ended: " + "".join(self.errors[-30:]))

    @staticmethod
    def _read(stream, put) -> None:
        for line in stream:
            put(line)
        put("")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    base = tmp_path_factory.mktemp("replicas")
    src, idx = base / "src", base / "idx"
    src.mkdir()
    (src / "harbour.md").write_text(CORPUS.format(colour=BEACON[0]), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(idx)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    launched = Launched(idx)
    launched.src, launched.idx = src, idx
    try:
        yield launched
    finally:
        code = launched.stop()
        assert code == 0, "".join(launched.errors[-30:])
        for name, pid in launched.pids.items():  # every replica stopped with the launcher
            wait_until(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
                       .lower(), f"replica {name} to end", seconds=30)


@pytest.fixture(scope="module")
def conversations(cluster) -> dict[str, tuple[str, str]]:
    """Team -> (conversation id, replica), each conversation made through HAProxy with a file of its
    own attached: a team's locker code, which only that file holds; every replica holds some."""
    made: dict[str, tuple[str, str]] = {}
    for team, code in TEAMS.items():
        status, headers, data = request(cluster.port, "POST", "/api/conversations", b"{}",
                                        {"Content-Type": "application/json"})
        assert status == 201, data
        cid = json.loads(data)["conversation"]
        replica = cid.split("-")[0]
        assert replica == headers["x-replica"]  # the id names the replica that made it
        text = f"The locker code of team {team} is {code}. Team {team} meets on the north pier.\n"
        status, headers, data = request(cluster.port, "POST", f"/api/conversations/{cid}/files?filename={team}.txt",
                                        text.encode(), {"Content-Type": "application/octet-stream"})
        assert status == 201 and headers["x-replica"] == replica, data
        made[team] = (cid, replica)
    assert {r for _, r in made.values()} == set(cluster.ports), made  # least connections spread them
    return made


class Clients:
    """``CLIENTS`` threads asking through HAProxy until stopped: most ask their conversation's
    question, every fifth asks the corpus (no conversation). Each reply is judged as it comes."""

    def __init__(self, port: int, conversations: dict[str, tuple[str, str]]):
        self.port, self.conversations = port, conversations
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok: dict[int, int] = {i: 0 for i in range(CLIENTS)}
        self.errors: list[tuple] = []  # (client, team, status, replica, answer) of a failed ask
        self.crosstalk: list[tuple] = []  # an answer holding another team's code
        self.statuses: dict[str, list[int]] = {team: [] for team in conversations}
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in self.threads:
            t.start()

    def _run(self, i: int) -> None:
        teams = list(self.conversations)
        team = None if i % 5 == 4 else teams[i % len(teams)]
        while not self.stopping.is_set():
            try:
                if team is None:
                    status, replica, reply = ask(self.port, BEACON_Q)
                    good = status == 200 and any(c in reply.get("answer", "") for c in BEACON)
                else:
                    cid, home = self.conversations[team]
                    status, replica, reply = ask(self.port, f"what is the locker code of team {team}", cid)
                    answer = reply.get("answer", "")
                    others = [c for t, c in TEAMS.items() if t != team and c in answer]
                    good = status == 200 and TEAMS[team] in answer and replica == home and not others and all(
                        c["source"] == f"attached: {team}.txt" for c in reply["citations"])
                    with self.lock:
                        self.statuses[team].append(status)
                        if others:
                            self.crosstalk.append((i, team, replica, answer))
            except (OSError, http.client.HTTPException) as exc:
                status, replica, reply, good = 0, "", {"answer": repr(exc)}, False
            with self.lock:
                if good:
                    self.ok[i] += 1
                else:
                    self.errors.append((i, team, status, replica, reply.get("answer", "")[:200]))
            if team is not None and status == 404:
                return  # the conversation is gone (its replica was killed): asking again gets the same

    def each_answered(self, more_than: dict[int, int], clients: list[int]) -> bool:
        with self.lock:
            return all(self.ok[i] > more_than[i] for i in clients)

    def snapshot(self) -> dict[int, int]:
        with self.lock:
            return dict(self.ok)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(180)


@needs_haproxy
def test_a_conversation_goes_to_its_replica_and_a_page_stays_on_one(cluster, conversations):
    status, headers, _ = request(cluster.port, "GET", "/")
    assert status == 200
    cookie = re.match(r"SERVERID=(r\d+)", headers["set-cookie"])
    assert cookie and headers["x-replica"] == cookie.group(1)
    for _ in range(6):  # the page's later requests (its event stream, its calls) go to the same replica
        status, headers, _ = request(cluster.port, "GET", "/healthz", headers={"Cookie": cookie.group(0)})
        assert status == 200 and headers["x-replica"] == cookie.group(1)
    for team, (cid, replica) in conversations.items():  # the id wins over a cookie naming another replica
        other = next(r for r in cluster.ports if r != replica)
        status, headers, data = request(cluster.port, "GET", f"/api/conversations/{cid}/files",
                                        headers={"Cookie": f"SERVERID={other}"})
        assert status == 200 and headers["x-replica"] == replica, data
        assert [f["name"] for f in json.loads(data)["files"]] == [f"{team}.txt"]


@needs_haproxy
@pytest.mark.browser
def test_pages_through_haproxy_attach_and_answer_each_from_its_own_file(cluster):
    """Three browsers (cookies of their own) open the page through HAProxy, attach a file each
    with the page's file button and ask: each tab's conversation lives on its cookie's replica,
    and each is answered from its own file."""
    from test_page import ARGS, CHROMIUM, REPLY_DONE_JS
    from test_page_attach import conversation_id

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            homes = set()
            for team in list(TEAMS)[:REPLICAS]:
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{cluster.port}/")
                cid = conversation_id(page)
                home = next(c["value"] for c in context.cookies() if c["name"] == "SERVERID")
                assert cid.startswith(id_prefix(home))  # the tab's conversation was made where its page is served
                homes.add(home)
                text = f"The locker code of team {team} is {TEAMS[team]}.\n".encode()
                page.set_input_files("#attach-input", files=[{"name": f"{team}.txt", "mimeType": "text/plain",
                                                              "buffer": text}])
                expect(page.locator("#attach-status")).to_contain_text("Attached.")
                page.locator("#question textarea").fill(f"what is the locker code of team {team}")
                page.locator("#question textarea").press("Enter")
                page.wait_for_function(REPLY_DONE_JS, arg=1, timeout=60_000)
                answer = page.get_by_test_id("bot").first.inner_text()  # the answer (then its sources panel)
                assert TEAMS[team] in answer and not [c for t, c in TEAMS.items() if t != team and c in answer]
                context.close()
            assert homes == set(cluster.ports)  # least connections sent the three pages to three replicas
        finally:
            browser.close()


@needs_haproxy
def test_twenty_clients_while_an_update_lands_no_error_no_crosstalk_every_replica_new_within_2s(cluster, conversations):
    for name, port in cluster.ports.items():
        assert BEACON[0] in ask(port, BEACON_Q)[2]["answer"], name
    clients = Clients(cluster.port, conversations)
    try:
        everyone = list(range(CLIENTS))
        wait_until(lambda: clients.errors or clients.each_answered({i: 0 for i in everyone}, everyone),
                   "every client answered", seconds=120)  # a failure ends the wait: it is reported below
        (cluster.src / "harbour.md").write_text(CORPUS.format(colour=BEACON[1]), encoding="utf-8")
        p = subprocess.run([sys.executable, "-m", "bot", "index", str(cluster.src), "--out", str(cluster.idx)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        committed = (cluster.idx / "index.json").stat().st_mtime  # written just before its rename commits it
        seen: dict[str, float] = {}
        for name, port in cluster.ports.items():  # each replica asked directly, not through HAProxy
            wait_until(lambda: BEACON[1] in ask(port, BEACON_Q)[2].get("answer", ""),
                       f"replica {name} to answer from the new index", seconds=60)
            seen[name] = time.time() - committed
        after = clients.snapshot()
        wait_until(lambda: clients.errors or clients.each_answered(after, everyone),
                   "every client answered after the update", seconds=120)
    finally:
        clients.stop()
    assert clients.errors == [] and clients.crosstalk == []
    assert all(s <= 2.0 for s in seen.values()), seen
    status, _, reply = ask(cluster.port, BEACON_Q)
    assert status == 200 and BEACON[1] in reply["answer"] and BEACON[0] not in reply["answer"]


@needs_haproxy
def test_a_replica_killed_under_load_loses_only_its_own(cluster, conversations):
    victim = sorted(cluster.pids)[-1]
    survivors_teams = {t for t, (_, r) in conversations.items() if r != victim}
    clients = Clients(cluster.port, conversations)
    teams = list(conversations)
    surviving = [i for i in range(CLIENTS) if i % 5 == 4 or teams[i % len(teams)] in survivors_teams]
    try:
        wait_until(lambda: clients.each_answered({i: 0 for i in range(CLIENTS)}, list(range(CLIENTS))),
                   "every client answered", seconds=120)
        os.kill(cluster.pids[victim], signal.SIGKILL)
        killed = clients.snapshot()
        wait_until(lambda: clients.each_answered({i: killed[i] + 2 for i in surviving}, surviving),
                   "the clients of the other replicas answered after the kill", seconds=120)
    finally:
        clients.stop()
    # the others' conversations and the corpus: not one failed request, through the kill
    assert [e for e in clients.errors if e[1] is None or e[1] in survivors_teams] == []
    assert clients.crosstalk == []
    for team, (_, replica) in conversations.items():  # the victim's conversations: answered, then gone
        if replica == victim:
            assert set(clients.statuses[team]) <= {200, 404} and clients.statuses[team][-1] == 404, \
                clients.statuses[team]
    for _ in range(10):  # later requests succeed
        status, replica, reply = ask(cluster.port, BEACON_Q)
        assert status == 200 and replica != victim and BEACON[1] in reply["answer"]
    status, headers, data = request(cluster.port, "POST", "/api/conversations", b"{}",
                                    {"Content-Type": "application/json"})
    assert status == 201 and not json.loads(data)["conversation"].startswith(victim + "-")
