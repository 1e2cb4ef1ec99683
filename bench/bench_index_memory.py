"""Peak memory of `python -m bot index` on one large Markdown file of short paragraphs, as a
multiple of the file's size, beside the same build with the whole file parsed at once (the peer:
how the splitter worked before it parsed large files in pieces), measured in the same run.

    .venv/bin/python bench/bench_index_memory.py [--mb 12]

Not a test: figures vary by machine; compare the rows of one run.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import resource, sys, time
sys.argv = ["bot", "index", {src!r}, "--out", {out!r}]
import bot.sources.split as split
split.CHUNK_CHARS = {chunk}
from bot.cli import main
t = time.perf_counter()
rc = main(sys.argv[1:])
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]  # this process's own peak
print("RESULT", time.perf_counter() - t, hwm, rc)
"""


def write_markdown(path: Path, mb: float) -> int:
    rng = random.Random(0)
    words = "alpha beta gamma delta widget sprocket gadget blue red green runs fast slow always never".split()
    parts, size, section = ["# Big manual\n"], 0, 0
    while size < mb * 1_000_000:
        if rng.random() < 0.002:
            section += 1
            line = f"## Section {section}"
        else:
            line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).capitalize() + "."
        parts.append(line)
        size += len(line) + 2
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path.stat().st_size


def run(src: Path, out: Path, chunk: int) -> tuple[float, float]:
    code = CHILD.format(src=str(src), out=str(out), chunk=chunk)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT"))
    _, secs, kb, rc = line.split()
    assert rc == "0", p.stderr
    return float(secs), int(kb) / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=12.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        size = write_markdown(src / "big.md", args.mb) / 1048576
        rows = [("parsed in 250 KB pieces (product)", 250_000), ("parsed whole (peer: earlier splitter)", 10**12)]
        print(f"`python -m bot index` on one {size:.1f} MB Markdown file of short paragraphs\n")
        print("| splitter | build time | peak RSS | peak / file size |")
        print("|---|---|---|---|")
        for name, chunk in rows:
            secs, mb = run(src, Path(tmp) / f"out-{chunk}", chunk)
            print(f"| {name} | {secs:.1f} s | {mb:,.0f} MB | {mb / size:.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
