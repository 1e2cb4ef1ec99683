"""Updating a large index after a few files changed, against building it anew.

    .venv/bin/python bench/bench_update.py --corpus /tmp/realtext [--changes 10] [--verify]

Copies the corpus (a folder of JSON Lines files, e.g. from bench/real_corpus.py) to a temporary
folder, builds its index with `python -m bot index` (tantivy engine), then changes ``--changes``
files as a user would (edits a document in most of them, deletes one file, adds one whose text
defines an acronym) and runs the same `python -m bot index` again, which updates the index. With
``--verify`` it also builds the changed corpus anew and compares the two: every passage's terms,
the vocabulary, and the replies and top-10 passages (with scores) for questions made from the
corpus's headings. Prints wall times and the load average at each step. Not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def index(src: Path, out: Path, *extra: str) -> tuple[float, str, float]:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "bot", "index", str(src), "--out", str(out), *extra], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stdout + p.stderr)
    return time.perf_counter() - t0, p.stdout.strip().splitlines()[0], load


def change(src: Path, n: int) -> list[str]:
    """Edit a document in n - 2 files, delete one file, add one: what a user's folder sees."""
    rng = random.Random(3)
    files = sorted(src.glob("*.jsonl"))
    picked = rng.sample(files, n - 1)
    done = []
    for f in picked[:-1]:
        lines = f.read_text(encoding="utf-8").splitlines()
        doc = json.loads(lines[0])
        doc["text"] += "\n\nThis page was revised: the retention period is now ninety days."
        lines[0] = json.dumps(doc, ensure_ascii=False)
        f.unlink()  # a new file, not an edit through a shared inode
        f.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done.append(f"edited {f.name}")
    picked[-1].unlink()
    done.append(f"deleted {picked[-1].name}")
    new = src / "zz-added.jsonl"
    new.write_text(json.dumps({"_id": "added-1", "title": "Retention policy", "text":
                               "# Retention policy\n\nThe central archive service (CAS) keeps every revised "
                               "page for ninety days. A central archive service removes older revisions."})
                   + "\n", encoding="utf-8")
    done.append(f"added {new.name}")
    return done


def compare(updated: Path, full: Path, questions: list[str]) -> dict:
    from bot import ChatBot

    a, b = ChatBot.load(updated), ChatBot.load(full)
    same_replies = sum(a.ask(q).to_dict() == b.ask(q).to_dict() for q in questions)
    same_top = 0
    for q in questions:
        qa = a.question(q, None)
        if not hasattr(qa, "focus"):
            same_top += 1
            continue
        w = a.responder.weights(qa)
        ha, hb = a.index.retriever.search(w, 10), b.index.retriever.search(w, 10)
        same_top += [h.index for h in ha] == [h.index for h in hb] and all(
            abs(x.score - y.score) <= 1e-9 * max(1.0, abs(y.score)) for x, y in zip(ha, hb))
    n = len(a.index.passages)
    step = max(1, n // 20000)
    same_terms = all(sorted(a.index.bm25_terms(a.index.passages[i])) == sorted(b.index.bm25_terms(b.index.passages[i]))
                     for i in range(0, n, step))
    return {"passages": (n, len(b.index.passages)), "vocabulary_equal": a.index.vocabulary == b.index.vocabulary,
            "speller_equal": a.index.speller.words == b.index.speller.words,
            "terms_equal_sampled": same_terms, "replies_equal": f"{same_replies}/{len(questions)}",
            "top10_equal": f"{same_top}/{len(questions)}"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-update-"))
    try:
        src = work / "src"
        shutil.copytree(args.corpus, src)
        idx = work / "idx"
        secs, said, load = index(src, idx, "--engine", "tantivy")
        print(f"full build: {secs:.1f} s (load average {load:.2f}): {said}")
        secs, said, load = index(src, idx)
        print(f"nothing changed: {secs:.1f} s (load average {load:.2f}): {said}")
        done = change(src, args.changes)
        secs, said, load = index(src, idx)
        print(f"after changing {args.changes} files ({', '.join(done[-2:])}, {len(done) - 2} edited): "
              f"{secs:.1f} s (load average {load:.2f}): {said}")
        if args.verify:
            from bench_engines import corpus_questions

            full = work / "full"
            secs, said, load = index(src, full, "--engine", "tantivy")
            print(f"the changed corpus built anew: {secs:.1f} s (load average {load:.2f})")
            questions = corpus_questions(src, args.queries) + ["What is the central archive service?",
                                                               "How long are revised pages kept?"]
            print(json.dumps(compare(idx, full, questions)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
