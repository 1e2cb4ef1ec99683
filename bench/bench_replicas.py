"""Asks per second through 1, 2 and 3 replicas behind HAProxy, beside one app.py asked directly.

    .venv/bin/python bench/bench_replicas.py [--index IDX] [--clients 16] [--seconds 15] [--rounds 2]

Each configuration is started with ``bot.serve.replicas.Cluster`` (what ``python -m
bot.serve.replicas`` runs), warmed with every question once, then ``--clients`` threads (one
keep-alive connection each) ask the gold questions of ``--gold`` (``POST /api/ask``, no
conversation) for ``--seconds``; the figure is completed asks per second, and the p50 and p95 of a
request's time seen by a client. Configurations are run in turn ``--rounds`` times (1, 2, 3 replicas,
then again) and the best round of each is kept, so a burst of other work on a shared machine hurts
one round, not a configuration. The clients run on the same machine and take CPU too: read the
ratios, not the seconds. Without ``--index`` the bundled corpus is indexed into a temporary folder.
Needs ``haproxy`` on the PATH.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.serve.replicas import Cluster, Replica, stop  # noqa: E402


def questions(gold: Path) -> list[str]:
    items = yaml.safe_load(gold.read_text(encoding="utf-8"))["questions"]
    return [it["q"] for it in items if not it.get("history")]


def drive(port: int, qs: list[str], clients: int, seconds: float) -> tuple[float, float, float, int]:
    """(asks/s, p50 ms, p95 ms, errors) of ``clients`` threads asking for ``seconds``."""
    times: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    until = [0.0]

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        k = i
        start.wait()
        while time.monotonic() < until[0]:
            body = json.dumps({"question": qs[k % len(qs)]}).encode()
            k += clients
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if ok:
                times[i].append(time.perf_counter() - t)
            else:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    until[0] = time.monotonic() + seconds
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    flat = sorted(x for ts in times for x in ts)
    if not flat:
        return 0.0, 0.0, 0.0, sum(errors)
    return (len(flat) / elapsed, 1000 * statistics.median(flat), 1000 * flat[int(0.95 * (len(flat) - 1))],
            sum(errors))


def warm(port: int, qs: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(2):  # each question through every replica at least once (least connections: in turn)
        for q in qs:
            conn.request("POST", "/api/ask", json.dumps({"question": q}).encode(), {"Content-Type": "application/json"})
            conn.getresponse().read()
    conn.close()


def measure(config: str, idx: Path, qs: list[str], clients: int, seconds: float) -> tuple[float, float, float, int]:
    if config == "direct":  # one app.py, no balancer
        r = Replica("r1", idx, ["--no-attachments"])
        try:
            r.wait_serving(time.monotonic() + 600)
            warm(r.port, qs)
            return drive(r.port, qs, clients, seconds)
        finally:
            stop([r.proc])
    cluster = Cluster(idx, int(config), "127.0.0.1", 0, ["--no-attachments"])
    try:
        cluster.start()
        for _ in range(int(config)):
            warm(cluster.port, qs)
        return drive(cluster.port, qs, clients, seconds)
    finally:
        cluster.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", help="a saved index (default: the bundled corpus, indexed into a temporary folder)")
    p.add_argument("--gold", default=str(ROOT / "eval" / "article.yaml"), help="questions to ask (a gold set)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--configs", default="direct,1,2,3", help="'direct' and replica counts, in the order run")
    args = p.parse_args()
    if shutil.which("haproxy") is None:
        print("haproxy is not installed (apt-get install haproxy)", file=sys.stderr)
        return 2
    tmp = None
    idx = Path(args.index) if args.index else None
    if idx is None:
        tmp = tempfile.mkdtemp(prefix="bench-replicas-")
        idx = Path(tmp) / "idx"
        subprocess.run([sys.executable, "-m", "bot", "index", str(ROOT / "corpus"), "--out", str(idx)], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
    qs = questions(Path(args.gold))
    configs = args.configs.split(",")
    best: dict[str, tuple[float, float, float, int]] = {}
    errors = 0
    try:
        for rnd in range(args.rounds):
            for c in configs:
                got = measure(c, idx, qs, args.clients, args.seconds)
                errors += got[3]
                print(f"round {rnd + 1}: {c:>6}: {got[0]:7.1f} asks/s, p50 {got[1]:6.1f} ms, p95 {got[2]:6.1f} ms, "
                      f"{got[3]} errors", file=sys.stderr, flush=True)
                if c not in best or got[0] > best[c][0]:
                    best[c] = got
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    base = best.get("1") or next(iter(best.values()))
    print(f"\n{len(qs)} questions, {args.clients} clients, {args.seconds:g} s per run, best of {args.rounds} rounds, "
          f"{os.cpu_count()} cores, index {args.index or 'bundled corpus'}")
    print(f"{'configuration':<28}{'asks/s':>9}{'x 1 replica':>13}{'p50 ms':>9}{'p95 ms':>9}")
    for c in configs:
        name = "app.py alone (no haproxy)" if c == "direct" else f"{c} replica{'s' if c != '1' else ''} + haproxy"
        rate, p50, p95, _ = best[c]
        print(f"{name:<28}{rate:9.1f}{rate / base[0]:12.2f}x{p50:9.1f}{p95:9.1f}")
    print(f"errors: {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
