"""What attaching large texts costs the real server: resident memory, upload time, and other
visitors' /api/ask latency meanwhile.

    .venv/bin/python bench/bench_attach_memory.py [--files 3] [--bytes 3200000]

Starts the server (the JSON API over the bundled corpus, attachments on, a budget large enough
that nothing is evicted) in its own process on a free port, asks a question a few times while it
is idle (the peer figure), then attaches ``--files`` texts of distinct words (the most an index
holds per byte), each in a new conversation, one after another, while a second client asks
/api/ask in a loop. Prints the server's resident memory growth (/proc/PID/status VmRSS), each
upload's time, and the ask latency during uploads as a ratio to the idle one.

To compare with an earlier version, run the same script with that version's package first on the
path (``git archive REV | tar -x -C DIR; PYTHONPATH=DIR python bench/bench_attach_memory.py``).
Not a test: machines are shared, compare ratios within a run, not seconds across machines.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = """
import sys
from bot import ChatBot
from bot.serve import server
from bot.serve.attachments import Attachments
from bot.serve.guard import Guard
from bot.serve.web import make_app
corpus = ChatBot.load()
try:
    from bot.sources.isolated import Limits
    limits = {"limits": Limits(index_seconds=1200)}  # a shared machine: no time limit in the way
except TypeError:
    limits = {}
store = Attachments(corpus, budget=int(sys.argv[1]), share=1.0, **limits)
sock = server.bind("127.0.0.1", 0)
print(sock.getsockname()[1], flush=True)
server.serve(Guard(make_app(corpus, store), uploads=True), sock)
"""


def distinct_words(size: int, seed: int) -> bytes:
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


def call(url: str, path: str, body: bytes, kind: str = "application/json") -> tuple[int, bytes]:
    req = urllib.request.Request(url + path, data=body, method="POST", headers={"Content-Type": kind})
    with urllib.request.urlopen(req, timeout=900) as r:
        return r.status, r.read()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--bytes", type=int, default=3_200_000)
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(64 * 1024 ** 3)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env=os.environ)
    try:
        url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        ask = json.dumps({"question": "what is a VAE"}).encode()

        def timed_ask() -> float:
            t = time.perf_counter()
            call(url, "/api/ask", ask)
            return time.perf_counter() - t

        timed_ask()
        idle = [timed_ask() for _ in range(10)]
        base = rss(proc.pid)
        texts = [distinct_words(args.bytes, k) for k in range(args.files)]
        during: list[float] = []
        stop = threading.Event()

        def asker() -> None:
            while not stop.is_set():
                during.append(timed_ask())

        thread = threading.Thread(target=asker, daemon=True)
        thread.start()
        uploads = []
        for k, text in enumerate(texts):
            cid = json.loads(call(url, "/api/conversations", b"{}")[1])["conversation"]
            t = time.perf_counter()
            status, _ = call(url, f"/api/conversations/{cid}/files?filename=t{k}.txt", text, "text/plain")
            uploads.append(time.perf_counter() - t)
            print(f"upload {k + 1}: {status} in {uploads[-1]:.1f} s; server RSS +{(rss(proc.pid) - base) / 2**20:,.0f} MB",
                  flush=True)
        stop.set()
        thread.join()
        growth = rss(proc.pid) - base
        print(f"\n{args.files} x {args.bytes / 1e6:.1f} MB of distinct words: server RSS {base / 2**20:,.0f} MB "
              f"-> +{growth / 2**20:,.0f} MB")
        print(f"upload time: median {statistics.median(uploads):.1f} s (each: "
              f"{', '.join(f'{u:.1f}' for u in uploads)})")
        med_idle = statistics.median(idle)
        print(f"/api/ask idle: median {med_idle * 1000:.0f} ms; during uploads: median "
              f"{statistics.median(during) * 1000:.0f} ms ({statistics.median(during) / med_idle:.1f}x), "
              f"max {max(during) * 1000:.0f} ms ({max(during) / med_idle:.1f}x), {len(during)} asks")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
