"""Load run: simulated users hold multi-turn conversations with the server on loopback.

    .venv/bin/python bench/load_page.py [--users 50] [--seconds 60]

Starts `python app.py` on a free loopback port in its own process, then, for each path in turn
(Gradio's two-step `/gradio_api/call/chat`, then the plain JSON `POST /api/ask`), runs N user
threads for a bounded time. Each user repeats a two-turn conversation (a question, then "how does
it work?" with its own history) and checks that the follow-up cites the subject of its *own* first
turn. Prints throughput, latency percentiles and errors, beside the same questions answered
in-process (`ChatBot.ask`, no HTTP) as the peer measured in the same run. Not a test: numbers
vary by machine; compare the rows of one run.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS = [("what is a GAN", "Generative adversarial networks"), ("what is a VAE", "Variational Autoencoders"),
            ("what is Sora", "Sora"), ("what is a diffusion model", "Diffusion model"),
            ("what is a transformer model", "Transformer model"), ("what is DALL-E", "DALL-E")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(client: httpx.Client, base: str, message: str, history: list | None) -> dict:
    r = client.post(f"{base}/gradio_api/call/chat", json={"data": [message, history]})
    r.raise_for_status()
    event = r.json()["event_id"]
    with client.stream("GET", f"{base}/gradio_api/call/chat/{event}") as resp:
        kind = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                if kind == "error":
                    raise RuntimeError(line)
                return json.loads(line[5:])[0]
    raise RuntimeError("no complete event")


def call_api(client: httpx.Client, base: str, message: str, history: list | None) -> dict:
    r = client.post(f"{base}/api/ask", json={"question": message, "history": history})
    r.raise_for_status()
    return r.json()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def load(fn, base: str, users: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    crosstalk: list[str] = []
    turns = [0]
    lock = threading.Lock()
    stop = time.time() + seconds

    def user(i: int) -> None:
        first, expected = SUBJECTS[i % len(SUBJECTS)]
        with httpx.Client(timeout=30) as client:
            while time.time() < stop:
                try:
                    t0 = time.perf_counter()
                    a = fn(client, base, first, None)
                    t1 = time.perf_counter()
                    hist = [{"role": "user", "content": first}, {"role": "assistant", "content": a["answer"]}]
                    b = fn(client, base, "how does it work?", hist)
                    t2 = time.perf_counter()
                    title = b["citations"][0]["title"] if b["citations"] else ""
                    with lock:
                        latencies.extend([t1 - t0, t2 - t1])
                        turns[0] += 2
                        if expected not in title:
                            crosstalk.append(f"user {i}: {first!r} -> follow-up cited {title!r}")
                except Exception as exc:  # counted, never fatal
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return {"latencies": latencies, "errors": errors, "crosstalk": crosstalk, "turns": turns[0],
            "elapsed": time.perf_counter() - start}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        results = {name: load(fn, base, args.users, args.seconds)
                   for name, fn in (("page API, Gradio (/gradio_api/call/chat: POST + event stream)", call),
                                    ("JSON API (POST /api/ask)", call_api))}
    finally:
        server.terminate()
        server.wait(10)

    sys.path.insert(0, str(ROOT))
    from bot import ChatBot

    bot = ChatBot.load()
    local: list[float] = []
    for _ in range(200):
        for first, _ in SUBJECTS:
            t0 = time.perf_counter()
            a = bot.ask(first)
            bot.ask("how does it work?", [{"role": "user", "content": first}, {"role": "assistant", "content": a.answer}])
            local.append((time.perf_counter() - t0) / 2)
    ms = 1000
    print(f"Load run: {args.users} users, {args.seconds:.0f} s per path, two-turn conversations (loopback)\n")
    print("| path | requests | throughput | p50 | p95 | max | errors | cross-talk |")
    print("|---|---|---|---|---|---|---|---|")
    bad = 0
    for name, r in results.items():
        lat = r["latencies"]
        print(f"| {name} | {r['turns']} | {r['turns'] / r['elapsed']:.1f} req/s | {pct(lat, 50) * ms:.0f} ms "
              f"| {pct(lat, 95) * ms:.0f} ms | {max(lat, default=0) * ms:.0f} ms | {len(r['errors'])} "
              f"| {len(r['crosstalk'])} |")
        bad += len(r["errors"]) + len(r["crosstalk"])
    print(f"| ChatBot.ask in-process (peer) | {len(local) * 2} | {1 / statistics.mean(local):.0f} req/s | "
          f"{pct(local, 50) * ms:.2f} ms | {pct(local, 95) * ms:.2f} ms | {max(local) * ms:.2f} ms | 0 | - |")
    for name, r in results.items():
        print(f"\n{name}: p50 is {pct(r['latencies'], 50) / pct(local, 50):.0f}x the in-process answer time.")
        for e in (r["errors"] + r["crosstalk"])[:5]:
            print("  ", e)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
