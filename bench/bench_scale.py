"""How the product grows: a saved index of real text at several sizes, each measured the way a user
meets it, side by side with the bundled corpus measured in the same run.

    .venv/bin/python bench/bench_scale.py --corpus /tmp/realtext [--sizes 100000,1000000,all] [--copies 3]

Corpus: a folder of JSON Lines files from ``bench/real_corpus.py`` (real English documentation).
A size takes the folder's first files until about that many passages (estimated from the words;
the table prints the count the index reports); ``all`` takes every file. ``--copies K`` adds a
size made of the whole folder K times, each copy a light variant (every document's sentences
rotated by the copy's number and its id suffixed), for sizes past the real text (say 3M or 10M
passages); its vocabulary and statistics are the real text's, repeated.

For each size, every figure in a fresh process (``python -m bot ...`` as a user runs it):
- build: ``python -m bot index SUBSET --out IDX`` wall time, CPU time and peak memory (its own and
  its workers'; on a shared machine the wall time counts what else ran, the CPU time mostly not);
- load: ``ChatBot.load`` in a fresh process;
- whole-process ask: ``python -m bot ask Q --corpus IDX`` wall time (median of 5 questions, after a first
  run that caches the bytecode, as a user's installation has it) and
  peak memory, and its ratio to ``python -m bot ask Q`` on the bundled corpus run just before;
- first and warm asks in one process: loaded and warmed as the server does at start
  (``ChatBot.warm``: the word-vector model, common words, the speller's lists), the questions
  asked once each (first), then all again (warm): p50 / p95 / worst;
- private memory (anonymous pages, not the memory-mapped index files) after those asks;
- update: 8 files edited, 1 removed, 1 added, then ``python -m bot index`` again (wall and CPU);
- peers, where the index is a tantivy one (its ``terms.txt`` holds every passage's indexed terms):
  the same terms indexed by bm25s (if installed: `pip install bm25s`, a peer, not a dependency) and by this product's
  tantivy engine, each in its own process (``bench_engines.py``'s workers, the same questions):
  build from the terms, load, retrieval p50 / p95 and peak memory; bm25s is left out (saying so)
  where its measured appetite, about 5.6 KB a passage, would not fit in the available memory.
  ``--peers IDX`` runs only this, on an index built already; ``--asks IDX`` only the first and
  warm asks and private memory (``--runs N``: in N fresh processes, with their medians);
  ``--no-peers`` leaves the peers out.

Not a test: the machine is shared, so compare ratios within one run, not seconds across runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
PY = sys.executable
BM25S_BYTES_PER_PASSAGE = 5_600  # bm25s's peak on the real text: 6,803 MB for 1,274,712 passages
WORDS_PER_PASSAGE = 66  # measured on real_corpus.py's text: 83.8M words gave 1,277,439 passages


class Ran(NamedTuple):
    secs: float  # wall
    peak_mb: float  # peak RSS of the process and of each child it waited for (the largest)
    cpu_s: float  # user + system CPU of the process and the children it waited for: wall
    # time on a shared machine counts what else ran, CPU time mostly does not
    result: subprocess.CompletedProcess


def run(cmd: list[str], env: dict[str, str | None] | None = None) -> Ran:
    """Run ``cmd`` to its end; ``env``: variables to set, or with None to unset."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        merged = {k: v for k, v in {**os.environ, **env}.items() if v is not None} if env else None
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=ROOT, env=merged)
        _, status, usage = os.wait4(p.pid, 0)  # this child's own high-water mark
        secs = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {stderr[-2000:]}")
    return Ran(secs, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime,
               subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr))


def word_count(path: Path) -> int:
    return sum(len(json.loads(line).get("text", "").split()) for line in path.open(encoding="utf-8"))


def subset(corpus: Path, passages: int | None, out: Path) -> int:
    """Copy the first files of ``corpus`` into ``out`` until about ``passages`` (None: all)."""
    out.mkdir(parents=True)
    words = 0
    for f in sorted(corpus.glob("*.jsonl")):
        if passages is not None and words / WORDS_PER_PASSAGE >= passages:
            break
        shutil.copy(f, out / f.name)
        words += word_count(f)
    return words


def copies(corpus: Path, k: int, out: Path) -> int:
    """The whole corpus ``k`` times, copy c with each document's sentences rotated c places."""
    import re

    out.mkdir(parents=True)
    words = 0
    for c in range(k):
        for f in sorted(corpus.glob("*.jsonl")):
            lines = []
            for line in f.open(encoding="utf-8"):
                d = json.loads(line)
                paras = d["text"].split("\n\n")
                rotated = []
                for para in paras:
                    s = re.split(r"(?<=[.!?]) ", para)
                    r = c % len(s) if s else 0
                    rotated.append(" ".join(s[r:] + s[:r]) if not para.startswith("#") else para)
                d["_id"] = f"{d.get('_id', '')}-copy{c}"
                d["text"] = "\n\n".join(rotated)
                words += len(d["text"].split())
                lines.append(json.dumps(d, ensure_ascii=False))
            (out / f"c{c}-{f.name}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return words


MEASURE = r"""
import json, os, sys, time
t0 = time.perf_counter()
from bot import ChatBot
t1 = time.perf_counter()
bot = ChatBot.load(sys.argv[1])
t2 = time.perf_counter()
bot.warm(freeze=True)  # what a server does as it starts (app.py): the first questions below load nothing
t3 = time.perf_counter()
qs = json.loads(sys.argv[2])
first, warm = [], []
for q in qs:
    a = time.perf_counter(); bot.ask(q); first.append((time.perf_counter() - a) * 1000)
for q in qs:
    a = time.perf_counter(); bot.ask(q); warm.append((time.perf_counter() - a) * 1000)
mem = {}
for line in open("/proc/self/smaps_rollup"):
    k, _, v = line.partition(":")
    if k in ("Rss", "Anonymous", "Private_Clean", "Private_Dirty"):
        mem[k] = int(v.split()[0]) / 1024
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "warm_s": t3 - t2, "first": first, "warm": warm, "mem": mem,
                  "passages": len(bot.index.passages), "vocabulary": len(bot.index.vocabulary)}))
"""


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def change_files(src: Path) -> None:
    """8 files edited (a sentence added to each document), 1 removed, 1 added."""
    files = sorted(src.glob("*.jsonl"))
    step = max(1, len(files) // 10)
    picked = files[::step][:9]
    for i, f in enumerate(picked[:8]):
        lines = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
        for d in lines:
            d["text"] += f"\n\nThis page was reviewed in round {i} of the scale benchmark."
        f.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in lines) + "\n", encoding="utf-8")
    picked[8].unlink()
    (src / "zz-added.jsonl").write_text(json.dumps({"_id": "added", "title": "Added page", "text":
        "The magnetic optical probe (MOP) measures field strength in the scale benchmark."}) + "\n")


# A user's Python caches each module's bytecode; a shell with PYTHONDONTWRITEBYTECODE set (as this
# machine's is) compiles every one of ours again at each start: 0.16 s of a whole-process ask.
AS_A_USER: dict[str, str | None] = {"PYTHONDONTWRITEBYTECODE": None}


def whole_ask(questions: list[str], corpus: list[str]) -> tuple[float, float]:
    """Median wall seconds and peak MB of ``ask`` as a whole process, once a first run has
    cached the bytecode, as a user's installation has."""
    run([PY, "-m", "bot", "ask", questions[0], *corpus], AS_A_USER)
    walls, peaks = [], []
    for q in questions:
        secs, peak, _, _ = run([PY, "-m", "bot", "ask", q, *corpus], AS_A_USER)
        walls.append(secs)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def asks(idx: Path, questions: list[str]) -> dict:
    """First and warm asks of ``questions`` in one fresh process, loaded and warmed as a server is."""
    return json.loads(run([PY, "-c", MEASURE, str(idx), json.dumps(questions)]).result.stdout)


def print_asks(results: list[dict], n: int) -> None:
    """A row per run of ``asks`` (each a fresh process), and with several their medians: this
    machine's timings move by a fifth from one run to the next."""
    print(f"| run | passages | load | warm-up | first p50 / p95 / worst ({n} q) | warm p50 / p95 / worst "
          f"| first p95 / warm p95 | private memory |\n|---|---|---|---|---|---|---|---|")
    rows = []
    for r in results:
        f, w = r["first"], r["warm"]
        rows.append((r["load"], r["warm_s"], pct(f, 50), pct(f, 95), max(f), pct(w, 50), pct(w, 95), max(w),
                     pct(f, 95) / max(pct(w, 95), 1e-9), r["mem"].get("Anonymous", 0)))
    shown = [(str(i), row) for i, row in enumerate(rows, 1)]
    if len(rows) > 1:
        shown.append(("median", tuple(statistics.median(col) for col in zip(*rows))))
    for name, (load, warm_s, f50, f95, fmax, w50, w95, wmax, ratio, mem) in shown:
        print(f"| {name} | {results[0]['passages']:,} | {load:.2f} s | {warm_s:.2f} s | {f50:.1f} / {f95:.1f} / {fmax:.0f} ms "
              f"| {w50:.1f} / {w95:.1f} / {wmax:.0f} ms | {ratio:.2f}x | {mem:,.0f} MB |")


def measure(name: str, src: Path, work: Path, questions: list[str], whole_qs: list[str],
            corpus: Path | None = None) -> dict:
    idx = work / f"idx-{name}"
    build_s, build_peak, build_cpu, _ = run([PY, "-m", "bot", "index", str(src), "--out", str(idx)])
    print(f"{name}: built in {build_s:.0f} s (CPU {build_cpu:.0f} s, peak {build_peak:,.0f} MB)", flush=True)
    bundled_wall, bundled_peak = whole_ask(whole_qs, [])
    wall, peak = whole_ask(whole_qs, ["--corpus", str(idx)])
    r = asks(idx, questions)
    print(f"{name}: {r['passages']:,} passages, loaded in {r['load']:.2f} s, whole-process ask {wall:.2f} s "
          f"({peak:,.0f} MB), bundled {bundled_wall:.2f} s; first p50 {pct(r['first'], 50):.1f} ms", flush=True)
    peer_rows = peers(idx, corpus, len(questions)) if corpus is not None else []  # before the update changes the index
    change_files(src)
    update_s, _, update_cpu, u = run([PY, "-m", "bot", "index", str(src), "--out", str(idx)])
    size_mb = sum(f.stat().st_size for f in idx.rglob("*") if f.is_file()) / 2**20
    return {"name": name, "passages": r["passages"], "vocabulary": r["vocabulary"], "build_s": build_s,
            "build_peak_mb": build_peak, "build_cpu_s": build_cpu, "update_cpu_s": update_cpu, "size_mb": size_mb, "load_s": r["load"], "imports_s": r["imports"], "warm_s": r["warm_s"],
            "ask_wall_s": wall, "ask_peak_mb": peak, "bundled_wall_s": bundled_wall, "bundled_peak_mb": bundled_peak,
            "first": r["first"], "warm": r["warm"], "mem": r["mem"], "update_s": update_s,
            "update_says": u.stdout.strip().splitlines()[-1] if u.stdout.strip() else "", "peers": peer_rows}


def peers(idx: Path, corpus: Path, n: int) -> list[dict]:
    """Retrieval by this product's engine and by bm25s over the same passages' terms, each in its
    own process (``bench_engines.py --worker``); bm25s only where it is installed."""
    import importlib.util

    header = json.loads((idx / "index.json").read_text())
    if header.get("engine") != "tantivy":
        return []
    out = []
    engines = ["tantivy"]
    if importlib.util.find_spec("bm25s"):
        need, have = header["passages"] * BM25S_BYTES_PER_PASSAGE, mem_available()
        if need < 0.7 * have:
            engines.append("bm25s")
        else:
            print(f"bm25s left out at {header['passages']:,} passages: it would take about {need / 2**30:.1f} GB "
                  f"({BM25S_BYTES_PER_PASSAGE:,} bytes a passage), {have / 2**30:.1f} GB is available", flush=True)
    for engine in engines:
        work = Path(tempfile.mkdtemp(prefix="bench-peer-"))
        try:
            _, peak, _, p = run([PY, str(ROOT / "bench" / "bench_engines.py"), "--worker",
                              f"engine|{engine}|{idx / 'terms.txt'}|{idx}|{work}", "--queries", str(n)], {"BENCH_CORPUS": str(corpus)})
            r = json.loads(p.stdout.strip().splitlines()[-1])
            out.append({"engine": engine, "passages": header["passages"], "build_s": r["build_s"], "load_s": r["load_s"],
                        "p50": r["retrieval_p50_ms"], "p95": r["retrieval_p95_ms"], "peak_mb": peak,
                        "size_mb": r["size_mb"]})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return out


def mem_available() -> int:
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def print_peers(rows: list[dict]) -> None:
    if not rows:
        return
    print("\n| passages | engine (same terms) | build from terms | index size | load | retrieval p50 / p95 | ratio p50 | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    ours = {r["passages"]: r["p50"] for r in rows if r["engine"] == "tantivy"}
    for r in rows:
        size = "" if r["size_mb"] is None else f"{r['size_mb']:,.0f} MB"
        load = "" if r["load_s"] is None else f"{r['load_s']:.2f} s"
        print(f"| {r['passages']:,} | {r['engine']} | {r['build_s']:.0f} s | {size} | {load} | {r['p50']:.2f} / {r['p95']:.2f} ms "
              f"| {r['p50'] / max(ours.get(r['passages'], r['p50']), 1e-9):.2f}x | {r['peak_mb']:,.0f} MB |")
    sys.stdout.flush()


def main() -> int:
    from bench_engines import corpus_questions

    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--sizes", default="100000,all", help="passages per size (comma-separated), 'all' for the folder")
    ap.add_argument("--copies", type=int, default=0, help="also a size of the whole folder this many times")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--no-peers", action="store_true",
                    help="leave out the peers (at 10M passages, building tantivy again from the terms takes a while)")
    ap.add_argument("--work", type=Path, default=None, help="keep subsets and indexes here (default: a temporary folder)")
    ap.add_argument("--peers", type=Path, default=None, help="only the peers table, on this index built already")
    ap.add_argument("--asks", type=Path, default=None,
                    help="only the first and warm asks and private memory, on this index built already")
    ap.add_argument("--runs", type=int, default=1, help="with --asks: that many fresh processes, a row each and "
                    "their medians")
    args = ap.parse_args()
    if args.peers is not None:
        print_peers(peers(args.peers, args.corpus, args.questions))
        return 0
    questions = corpus_questions(args.corpus, args.questions)
    if args.asks is not None:
        print_asks([asks(args.asks, questions) for _ in range(max(1, args.runs))], len(questions))
        return 0
    whole_qs = questions[:5]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows = []
    try:
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            src = work / f"src-{size}"
            shutil.rmtree(src, ignore_errors=True)
            subset(args.corpus, None if size == "all" else int(size), src)
            rows.append(measure(size, src, work, questions, whole_qs, None if args.no_peers else args.corpus))
            print_table(rows, len(questions))
        if args.copies:
            src = work / f"src-x{args.copies}"
            shutil.rmtree(src, ignore_errors=True)
            copies(args.corpus, args.copies, src)
            rows.append(measure(f"x{args.copies}", src, work, questions, whole_qs, None if args.no_peers else args.corpus))
            print_table(rows, len(questions))
        print_peers([p for r in rows for p in r["peers"]])
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(rows: list[dict], n: int) -> None:
    print(f"\n| passages | build (CPU, peak) | index size | load | whole-process ask (peak) | bundled ask | ratio "
          f"| first p50 / p95 / worst ({n} q) | warm p50 / p95 | first p95 / warm p95 | private memory | 10-file update |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f, w = r["first"], r["warm"]
        print(f"| {r['passages']:,} | {r['build_s']:.0f} s ({r['build_cpu_s']:,.0f} s, {r['build_peak_mb']:,.0f} MB) | {r['size_mb']:,.0f} MB "
              f"| {r['load_s']:.2f} s | {r['ask_wall_s']:.2f} s ({r['ask_peak_mb']:,.0f} MB) "
              f"| {r['bundled_wall_s']:.2f} s | {r['ask_wall_s'] / r['bundled_wall_s']:.2f}x "
              f"| {pct(f, 50):.1f} / {pct(f, 95):.1f} / {max(f):.0f} ms | {pct(w, 50):.1f} / {pct(w, 95):.1f} ms "
              f"| {pct(f, 95) / max(pct(w, 95), 1e-9):.2f}x | {r['mem'].get('Anonymous', 0):,.0f} MB "
              f"| {r['update_s']:.1f} s (CPU {r['update_cpu_s']:.1f} s) |")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
