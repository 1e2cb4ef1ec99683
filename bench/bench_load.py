"""What each step of loading a saved index costs, the way it is done now beside the way it was done
before (both run here, on the same index, interleaved, so the shared machine's load falls on both).

    .venv/bin/python bench/bench_load.py IDX [--rounds 5]

Steps (before -> now):
- staleness: every source file found again (folders walked, links resolved, corpus.yaml read) and
  stat'ed -> the snapshot the build recorded stat'ed, nothing walked (``layout.stale_at_load``);
- corpus.yaml: parsed for its answer settings -> taken from the header while the file is unchanged;
- checksums: every index file of 64 MB or less hashed whole, larger ones at both ends -> sizes
  (hashes by ``index --verify``);
- arrays: each ``.npz`` read into memory -> memory-mapped (``files.load_npz``);
- terms file: JSON lists of every term, word and heading path (gzip) -> a JSON line and
  uncompressed sections (``layout.read_terms``): the vocabulary decoded, heading paths read per
  line, the speller's words per length only when needed;
- term ids and vocabulary: a dict built by a comprehension and a second frozenset of every
  term -> a tantivy index's sorted vocabulary searched in place (``SortedTerms``), a postings
  index's ``dict(zip(...))``, its keys used as the vocabulary.
Then the whole ``ChatBot.load`` and a whole ``python -m bot ask`` process (median of the rounds).
Not a test: compare the ratios, the machine is shared.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bot.config import load_manifest  # noqa: E402
from bot.index import files, layout  # noqa: E402
from bot.index.engines.tantivy_engine import SortedTerms  # noqa: E402
from bot.text.spelling import by_length  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def steps(idx: Path) -> dict[str, tuple]:
    header = layout.read_header(idx)
    names = header["files"]
    gen = int(header.get("generation") or 0)
    tname = layout.terms_name(names, gen)
    blob = (idx / tname).read_bytes()
    meta = layout.read_terms(blob)
    old_blob = gzip.compress(json.dumps({"headings": [list(h) for h in meta["headings"]], "vocab": meta["vocab"],
                                         "glossary": meta["glossary"], "words": meta["words"]},
                                        ensure_ascii=False).encode(), 1)
    manifest, beside = layout.describing_manifest(idx, header.get("inputs") or [])
    npzs = [n for n in names if n.endswith(".npz")]

    def old_terms():
        m = json.loads(gzip.decompress(old_blob))
        [tuple(h) for h in m["headings"]]
        by_length(m["words"])

    def new_terms():
        layout.read_terms(blob, words=False)

    def old_ids():
        vocab = meta["vocab"]
        {t: i for i, t in enumerate(vocab)}
        frozenset(vocab)

    def new_ids():
        if header.get("engine") == "tantivy":  # its vocabulary is sorted: searched, no dict built
            SortedTerms.of(meta["vocab"])
        else:
            dict(zip(meta["vocab"], range(len(meta["vocab"]))))

    def old_npz():
        for n in npzs:
            z = np.load(io.BytesIO((idx / n).read_bytes()), allow_pickle=False)
            {k: z[k] for k in z.files}

    def new_npz():
        for n in npzs:
            files.load_npz(idx, n, names[n])

    return {
        "staleness": (lambda: layout.stale_reason(header), lambda: layout.stale_at_load(header)),
        "corpus.yaml": ((lambda: load_manifest(manifest, skip_private=beside)) if manifest.is_file() else (lambda: None),
                        lambda: manifest.stat()),
        "checksums": (lambda: layout.damage(idx, header, full=True), lambda: layout.damage(idx, header)),
        "arrays (.npz)": (old_npz, new_npz),
        "terms file": (old_terms, new_terms),
        "term ids + vocabulary": (old_ids, new_ids),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("index", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--question", default="What is a dictionary?")
    args = ap.parse_args()
    table = steps(args.index)
    got: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in table}
    for _ in range(args.rounds):
        for k, (before, now) in table.items():
            got[k][0].append(timed(before))
            got[k][1].append(timed(now))
    loads, asks = [], []
    for _ in range(args.rounds):
        p = subprocess.run([sys.executable, "-c", "import time,sys; t=time.perf_counter(); from bot import ChatBot; "
                            "ChatBot.load(sys.argv[1]); print(time.perf_counter()-t)", str(args.index)],
                           capture_output=True, text=True, cwd=ROOT, check=True)
        loads.append(float(p.stdout))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "ask", args.question, "--corpus", str(args.index)],
                       capture_output=True, cwd=ROOT, check=True)
        asks.append(time.perf_counter() - t0)
    header = layout.read_header(args.index)
    print(f"{args.index}: {header.get('passages'):,} passages, {header.get('documents'):,} documents, "
          f"{len(header.get('stamp') or []):,} snapshot entries; median of {args.rounds} rounds")
    print("\n| step | before | now | saved | before / now |\n|---|---|---|---|---|")
    saved = 0.0
    for k, (b, n) in got.items():
        mb, mn = statistics.median(b), statistics.median(n)
        saved += mb - mn
        print(f"| {k} | {mb * 1000:,.0f} ms | {mn * 1000:,.1f} ms | {(mb - mn) * 1000:,.0f} ms | {mb / max(mn, 1e-6):,.0f}x |")
    print(f"| all steps | | | {saved * 1000:,.0f} ms | |")
    print(f"\nChatBot.load now (fresh process, imports included): {statistics.median(loads):.2f} s; "
          f"`python -m bot ask` whole process: {statistics.median(asks):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
