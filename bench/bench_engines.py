"""Retrieval engines for large corpora, measured on this product's own tokens.

    .venv/bin/python bench/bench_engines.py --sizes 10000,100000 [--queries 300]

Passages come from real English text: the BEIR SciFact abstracts in ../shared/eval-data (read in
place, never copied), cut by the product's splitter; larger sizes add lightly perturbed copies
(sentence order rotated, one word dropped). Queries are SciFact's claims. Each engine runs in its
own process (peak memory is its own) on the same analyzed passages:

- rank-bm25: the product's small-corpus engine (rank_bm25 subclass with Lucene IDF)
- postings:  the product's large-corpus engine (numpy postings arrays; saved by `bot index`)
- tantivy:   Rust search library, fed the same tokens through a whitespace tokenizer (k1 1.2, b 0.75)

It prints build time, index size, load time, retrieval p50/p95, full answer p50/p95 (retrieval,
sentence selection and template through ChatBot.ask) and peak memory, with ratios to rank-bm25,
and the top-10 overlap of each engine with rank-bm25. Not a test: compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "eval-data" / "scifact" / "beir"
ENGINES = ["rank-bm25", "postings", "tantivy"]


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def make_documents(n_passages: int):
    sys.path.insert(0, str(ROOT))
    from bot.model import Document
    from bot.split import split_document

    rows = [json.loads(line) for line in gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8")]
    docs, count, copy = [], 0, 0
    rng = random.Random(7)
    while count < n_passages:
        for r in rows:
            text = r["text"]
            if copy:
                sents = text.split(". ")
                k = copy % len(sents)
                sents = sents[k:] + sents[:k]
                words = " ".join(sents).split()
                if len(words) > 5:
                    del words[rng.randrange(len(words))]
                text = " ".join(words)
            d = Document(f"{r['_id']}~{copy}", r["title"], f"scifact#{r['_id']}~{copy}", text, {"format": "text"})
            count += len(split_document(d))
            docs.append(d)
            if count >= n_passages:
                break
        copy += 1
    return docs


def queries(limit: int) -> list[str]:
    qs = [json.loads(line)["text"] for line in open(DATA / "queries.jsonl", encoding="utf-8")]
    return qs[:limit]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run_engine(engine: str, n: int, n_queries: int, work: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from bot import store
    from bot.chatbot import ChatBot
    from bot.config import Manifest, Settings
    from bot.index import CorpusIndex
    from bot.understand import understand

    docs = make_documents(n)
    base = peak_rss_mb()
    qtexts = queries(n_queries)
    res: dict = {"engine": engine, "passages": None}
    t0 = time.perf_counter()
    index = CorpusIndex(docs, engine="rank-bm25" if engine == "rank-bm25" else "postings")
    res["passages"] = len(index.passages)
    manifest = Manifest(work / "corpus.yaml", "bench", "", (), Settings())
    bot = ChatBot(manifest, docs, index=index)
    weights = [bot.responder.weights(understand(q, None, index.vocabulary)) for q in qtexts]
    if engine == "tantivy":
        import tantivy

        terms_of = [index._heading_terms(p.headings, None) + index._heading_terms(p.headings[-1:], None)
                    + __import__("bot.analyze", fromlist=["x"]).terms(p.text) for p in index.passages]
        t1 = time.perf_counter()
        path = work / "tantivy"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("id", stored=True, indexed=False, fast=True)
        sb.add_text_field("body", stored=False, tokenizer_name="ws", index_option="freq")
        schema = sb.build()
        tix = tantivy.Index(schema, path=str(path))
        tix.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        writer = tix.writer(heap_size=256_000_000, num_threads=2)
        for i, ts in enumerate(terms_of):
            writer.add_document(tantivy.Document(id=i, body=" ".join(ts)))
        writer.commit()
        writer.wait_merging_threads()
        res["build_s"] = round(t1 - t0 + time.perf_counter() - t1, 2)
        res["size_mb"] = round(dir_mb(path), 1)
        t2 = time.perf_counter()
        tix2 = tantivy.Index.open(str(path))
        tix2.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
        searcher = tix2.searcher()
        res["load_s"] = round(time.perf_counter() - t2, 3)
        Q, Occ = tantivy.Query, tantivy.Occur

        def search(w):
            clauses = [(Occ.Should, Q.boost_query(Q.term_query(schema, "body", t), float(x))) for t, x in w.items()]
            if not clauses:
                return []
            return [searcher.doc(a)["id"][0] for _, a in searcher.search(Q.boolean_query(clauses), 10).hits]
    else:
        res["build_s"] = round(time.perf_counter() - t0, 2)
        out = work / f"idx-{engine}"
        store.save(out, manifest, docs, index, [])
        res["size_mb"] = round(dir_mb(out), 1)
        t2 = time.perf_counter()
        _, _, loaded, _ = store.load(out, check_stale=False)
        res["load_s"] = round(time.perf_counter() - t2, 3) if engine == "postings" else None
        r = index.retriever

        def search(w):
            return [h.index for h in r.search(w, 10)] if w else []
    lat, tops = [], []
    for w in weights:
        t = time.perf_counter()
        tops.append(search(w))
        lat.append(time.perf_counter() - t)
    res["retrieval_p50_ms"] = round(pct(lat, 50) * 1000, 2)
    res["retrieval_p95_ms"] = round(pct(lat, 95) * 1000, 2)
    res["tops"] = tops
    if engine != "tantivy":
        alat = []
        for q in qtexts:
            t = time.perf_counter()
            bot.ask(q)
            alat.append(time.perf_counter() - t)
        res["answer_p50_ms"] = round(pct(alat, 50) * 1000, 2)
        res["answer_p95_ms"] = round(pct(alat, 95) * 1000, 2)
    res["peak_mb"] = round(peak_rss_mb() - base, 0)
    del np
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        engine, n, work = args.worker.split(":", 2)
        print(json.dumps(run_engine(engine, int(n), args.queries, Path(work))))
        return 0
    if not DATA.is_dir():
        print(f"needs {DATA} (BEIR SciFact)", file=sys.stderr)
        return 2
    for n in [int(x) for x in args.sizes.split(",")]:
        rows = []
        for engine in args.engines.split(","):
            work = Path(tempfile.mkdtemp(prefix="bench-"))
            try:
                p = subprocess.run([sys.executable, __file__, "--worker", f"{engine}:{n}:{work}",
                                    "--queries", str(args.queries)], capture_output=True, text=True)
                if p.returncode:
                    print(f"{engine} at {n}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
                    continue
                rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
            finally:
                shutil.rmtree(work, ignore_errors=True)
        if not rows:
            continue
        ref = next((r for r in rows if r["engine"] == "rank-bm25"), rows[0])
        print(f"\n{rows[0]['passages']:,} passages, {args.queries} queries (top-10)\n")
        print("| engine | build s | index MB | load s | retrieval p50 / p95 ms | answer p50 / p95 ms | "
              "peak MB | retrieval p50 vs rank-bm25 | top-10 overlap with rank-bm25 |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            overlap = sum(len(set(a) & set(b)) for a, b in zip(r["tops"], ref["tops"])) / max(
                1, sum(len(b) for b in ref["tops"]))
            ans = f"{r['answer_p50_ms']} / {r['answer_p95_ms']}" if "answer_p50_ms" in r else "-"
            load = "-" if r.get("load_s") is None else r["load_s"]
            ratio = r["retrieval_p50_ms"] / ref["retrieval_p50_ms"] if ref["retrieval_p50_ms"] else float("nan")
            print(f"| {r['engine']} | {r['build_s']} | {r['size_mb']} | {load} | {r['retrieval_p50_ms']} / "
                  f"{r['retrieval_p95_ms']} | {ans} | {r['peak_mb']:.0f} | {ratio:.3f}x | {overlap:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
