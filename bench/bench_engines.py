"""Retrieval engines at 10k, 100k and 1M passages, measured on this product's own tokens.

    .venv/bin/python bench/bench_engines.py --sizes 10000,100000,1000000 [--queries 300]

Corpus: real English text, the BEIR SciFact abstracts in ../shared/eval-data (read in place;
the generated corpus goes to a temporary folder and is deleted), replicated with light
perturbations (sentence order rotated, one word dropped) up to the size asked. Queries: SciFact
claims.

For each size the product indexes the corpus as a user would (``python -m bot index corpus.jsonl
--engine tantivy``, in parallel on every core); the index keeps every passage's analyzed terms
(``terms.txt``). Each engine then runs in its own process (so peak memory is its own), fed exactly
those terms:

- rank-bm25: rank_bm25 with Lucene IDF (the product's small-corpus engine, in memory only)
- postings:  numpy postings arrays (the product's saved index up to 50,000 passages)
- tantivy:   Rust, memory-mapped, block-max WAND (the product's engine above 50,000 passages)
- bm25s:     if installed (numpy backend), another common choice; unweighted queries
- rank-bm25-rs: if installed, the Rust port of rank_bm25 (BM25Okapi IDF); unweighted queries

and is plugged into the product's loaded index, so "answer" is the full ChatBot.ask path
(understanding, retrieval, sentence selection, template). Printed per engine: build time from
tokens, index size, load time, retrieval and answer p50/p95, peak memory of the whole process
(RSS high-water mark: loaded index + engine + answering), top-10 overlap with rank-bm25, and ratios
to rank-bm25 and to the fastest engine. The "product" line is the end-to-end path a user runs:
`bot index` wall time, index folder size, `ChatBot.load` time, and answering with the engine
it chose, in a fresh process. Not a test: machines are shared, compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "eval-data" / "scifact" / "beir"
ENGINES = ["rank-bm25", "postings", "tantivy", "bm25s", "rank-bm25-rs"]
OPTIONAL = {"bm25s": "bm25s", "rank-bm25-rs": "rank_bm25_rs"}  # peers measured when installed
PASSAGES_PER_DOC = 2.29  # perturbed SciFact abstracts cut by the product's splitter (measured at 50k)


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def write_corpus(n_passages: int, path: Path) -> None:
    """SciFact abstracts, copied with perturbations until about ``n_passages`` passages."""
    rows = [json.loads(line) for line in gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8")]
    n_docs = math.ceil(n_passages / PASSAGES_PER_DOC)
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as f:
        k, copy = 0, 0
        while k < n_docs:
            for r in rows:
                text = r["text"]
                if copy:
                    sents = text.split(". ")
                    j = copy % len(sents)
                    words = ". ".join(sents[j:] + sents[:j]).split()
                    if len(words) > 5:
                        del words[rng.randrange(len(words))]
                    text = " ".join(words)
                f.write(json.dumps({"_id": f"{r['_id']}~{copy}", "title": r["title"], "text": text}) + "\n")
                k += 1
                if k >= n_docs:
                    break
            copy += 1


def count_words(path: Path) -> int:
    total = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 26), b""):  # a word cut at a chunk edge counts twice: noise
            total += len(chunk.split())
    return total


def queries(limit: int) -> list[str]:
    return [json.loads(line)["text"] for line in open(DATA / "queries.jsonl", encoding="utf-8")][:limit]


def read_terms(path: Path):
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield line.split()


# ---- one engine, in its own process ------------------------------------------------------------
def build_engine(engine: str, terms: Path, work: Path, index_dir: Path):
    """(retriever, build seconds, size MB, load seconds or None)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from bot.engines import BM25Retriever, Hit, LuceneBM25, PostingsBM25, TantivyRetriever, TantivyWriter

    t0 = time.perf_counter()
    if engine == "rank-bm25":
        r = BM25Retriever(LuceneBM25(list(read_terms(terms))))
        return r, time.perf_counter() - t0, None, None
    if engine == "postings":
        import io

        r = BM25Retriever(PostingsBM25.from_terms(read_terms(terms)))
        secs = time.perf_counter() - t0
        e = r.engine
        blob = work / "bm25.npz"
        np.savez(blob, term_ptr=e.term_ptr, doc_ids=e.doc_ids, tfs=e.tfs, doc_len=e.doc_len)
        vocab = work / "vocab.json"
        vocab.write_text(json.dumps(e.vocab))
        t1 = time.perf_counter()
        z = np.load(io.BytesIO(blob.read_bytes()))
        r = BM25Retriever(PostingsBM25(json.loads(vocab.read_text()), z["term_ptr"], z["doc_ids"], z["tfs"],
                                       z["doc_len"]))
        load = time.perf_counter() - t1
        return r, secs, (blob.stat().st_size + vocab.stat().st_size) / 2**20, load
    if engine == "tantivy":  # rebuilt from the terms, the same way `bot index` builds it
        from bot.store import StoredTerms

        path = work / "tantivy"
        writer = TantivyWriter(path, threads=2)
        for ts in read_terms(terms):
            writer.add(" ".join(ts))
        writer.finish()
        del writer
        secs = time.perf_counter() - t0
        bz = np.load(index_dir / "bm25.npz")
        vocab = json.loads(gzip.decompress((index_dir / "terms.json.gz").read_bytes()))["vocab"]
        t1 = time.perf_counter()
        stored = StoredTerms(index_dir / "terms.txt", np.load(index_dir / "passages.npz")["terms_off"])
        r = TantivyRetriever(str(path), vocab, bz["df"], bz["doc_len"], stored.__getitem__)
        return r, secs, dir_mb(path), time.perf_counter() - t1
    if engine == "rank-bm25-rs":  # Rust port of rank_bm25 (BM25Okapi's IDF; unweighted queries)
        import rank_bm25_rs

        model = rank_bm25_rs.BM25Okapi(list(read_terms(terms)))
        secs = time.perf_counter() - t0

        class RsRetriever:  # retrieval only: get_scores + argpartition (its get_top_n sorts everything)
            def search(self, query, k):
                scores = np.asarray(model.get_scores(list(query)))
                top = np.argpartition(-scores, k)[:k]
                return [Hit(int(i), float(scores[i])) for i in sorted(top, key=lambda i: -scores[i]) if scores[i] > 0]

        return RsRetriever(), secs, None, None
    if engine == "bm25s":
        import bm25s

        corpus = list(read_terms(terms))
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
        del corpus
        model = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        del ids
        secs = time.perf_counter() - t0
        model.save(str(work / "bm25s"))
        t1 = time.perf_counter()
        model = bm25s.BM25.load(str(work / "bm25s"), mmap=True)
        load = time.perf_counter() - t1

        class Bm25sRetriever:  # retrieval only (no idf/score methods): no answer column for it
            def search(self, query, k):
                qids = [vocab[t] for t in query if t in vocab]
                if not qids:
                    return []
                scores = model.get_scores(qids)
                top = np.argpartition(-scores, k)[:k]
                return [Hit(int(i), float(scores[i])) for i in sorted(top, key=lambda i: -scores[i]) if scores[i] > 0]

        return Bm25sRetriever(), secs, dir_mb(work / "bm25s"), load
    raise ValueError(engine)


def run_engine(engine: str, terms: Path, index_dir: Path, n_queries: int, work: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from bot.chatbot import ChatBot
    from bot.respond import Responder
    from bot.understand import understand

    bot = ChatBot.load(index_dir)
    qtexts = queries(n_queries)
    weights = [bot.responder.weights(understand(q, None, bot.index.vocabulary)) for q in qtexts]
    retriever, build_s, size_mb, load_s = build_engine(engine, terms, work, index_dir)
    res: dict = {"engine": engine, "build_s": round(build_s, 1), "size_mb": None if size_mb is None else
                 round(size_mb, 1), "load_s": None if load_s is None else round(load_s, 2)}
    lat, tops = [], []
    for w in weights:
        t = time.perf_counter()
        tops.append([h.index for h in retriever.search(w, 10)] if w else [])
        lat.append(time.perf_counter() - t)
    res["retrieval_p50_ms"] = round(pct(lat, 50) * 1000, 2)
    res["retrieval_p95_ms"] = round(pct(lat, 95) * 1000, 2)
    res["tops"] = tops
    # the SciFact abstract each hit was copied from: copies tie, and engines break ties differently
    res["sources"] = [[bot.index.passages[i].doc_id.rsplit("#", 1)[-1].split("~")[0] for i in top] for top in tops]
    if hasattr(retriever, "idf"):  # a full Retriever: answer through it
        product = bot.index.retriever
        bot.index.retriever = retriever
        if hasattr(retriever, "terms_of"):
            retriever.terms_of = product.terms_of
        bot.responder = Responder(bot.index, top_k=bot.settings.top_k)
        alat = []
        for q in qtexts:
            t = time.perf_counter()
            bot.ask(q)
            alat.append(time.perf_counter() - t)
        res["answer_p50_ms"] = round(pct(alat, 50) * 1000, 2)
        res["answer_p95_ms"] = round(pct(alat, 95) * 1000, 2)
    res["peak_mb"] = round(peak_rss_mb())
    return res


def run_product(index_dir: Path, n_queries: int) -> dict:
    """A fresh process doing what a user does: load the saved index and ask."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from bot.chatbot import ChatBot

    t1 = time.perf_counter()
    bot = ChatBot.load(index_dir)
    load = time.perf_counter() - t1
    imports = t1 - t0
    qtexts = queries(n_queries)
    alat = []
    for q in qtexts:
        t = time.perf_counter()
        bot.ask(q)
        alat.append(time.perf_counter() - t)
    return {"load_s": round(load, 2), "imports_s": round(imports, 2), "answer_p50_ms": round(pct(alat, 50) * 1000, 2),
            "answer_p95_ms": round(pct(alat, 95) * 1000, 2), "peak_mb": round(peak_rss_mb()),
            "engine": type(bot.index.retriever).__name__}


def worker(spec: str, n_queries: int) -> dict:
    kind, *rest = spec.split("|")
    if kind == "product":
        return run_product(Path(rest[0]), n_queries)
    engine, terms, index_dir, work = rest
    return run_engine(engine, Path(terms), Path(index_dir), n_queries, Path(work))


def subprocess_json(spec: str, n_queries: int) -> dict | None:
    p = subprocess.run([sys.executable, __file__, "--worker", spec, "--queries", str(n_queries)],
                       capture_output=True, text=True)
    if p.returncode:
        print(f"{spec.split('|')[:2]}: failed\n{p.stderr[-1500:]}", file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.queries)))
        return 0
    if not DATA.is_dir():
        print(f"needs {DATA} (BEIR SciFact)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    for n in [int(x) for x in args.sizes.split(",")]:
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            corpus = work / "corpus.jsonl"
            write_corpus(n, corpus)
            index_dir = work / "index"
            terms = index_dir / "terms.txt"  # each passage's analyzed terms, as the product indexed them
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "bot", "index", str(corpus), "--out", str(index_dir),
                                "--engine", "tantivy"], cwd=ROOT, capture_output=True, text=True)
            build_s = time.perf_counter() - t0
            if p.returncode:
                print(p.stdout, p.stderr, file=sys.stderr)
                return 1
            header = json.loads((index_dir / "index.json").read_text())
            product = subprocess_json(f"product|{index_dir}", args.queries)
            rows = []
            for engine in args.engines.split(","):
                if engine in OPTIONAL and importlib.util.find_spec(OPTIONAL[engine]) is None:
                    print(f"{engine}: not installed, not measured (pip install {engine} to include it)",
                          file=sys.stderr)
                    continue
                ework = work / engine
                ework.mkdir()
                got = subprocess_json(f"engine|{engine}|{terms}|{index_dir}|{ework}", args.queries)
                if got:
                    rows.append(got)
                shutil.rmtree(ework, ignore_errors=True)
            words = count_words(index_dir / "texts.bin") / header["passages"]
            print_table(n, header, build_s, dir_mb(index_dir), product, rows, args.queries, words)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(n, header, build_s, index_mb, product, rows, n_queries, words) -> None:
    print(f"\n### {header['passages']:,} passages ({header['documents']:,} documents, {words:.0f} words per passage on "
          f"average), {n_queries} queries, top-10\n")
    if product:
        print(f"Product (`python -m bot index` -> `ChatBot.load` -> `ask`, tantivy engine): build {build_s:.0f} s, "
              f"index {index_mb:.0f} MB, load {product['load_s']} s (+ {product['imports_s']} s imports), answer p50 "
              f"{product['answer_p50_ms']} ms / p95 {product['answer_p95_ms']} ms, peak RSS {product['peak_mb']} MB\n")
    if not rows:
        return
    ref = next((r for r in rows if r["engine"] == "rank-bm25"), rows[0])
    fastest = min(r["retrieval_p50_ms"] for r in rows)
    print("| engine | build from tokens s | size MB | load s | retrieval p50 / p95 ms | answer p50 / p95 ms | "
          "peak RSS MB | retrieval p50 vs rank-bm25 | vs fastest | top-10 overlap with rank-bm25: passages "
          "(abstracts) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        overlap = sum(len(set(a) & set(b)) for a, b in zip(r["tops"], ref["tops"])) / max(
            1, sum(len(b) for b in ref["tops"]))
        same = sum(len(set(a) & set(b)) for a, b in zip(r["sources"], ref["sources"])) / max(
            1, sum(len(set(b)) for b in ref["sources"]))
        ans = f"{r['answer_p50_ms']} / {r['answer_p95_ms']}" if "answer_p50_ms" in r else "-"
        size = "-" if r["size_mb"] is None else r["size_mb"]
        load = "-" if r["load_s"] is None else r["load_s"]
        print(f"| {r['engine']} | {r['build_s']} | {size} | {load} | {r['retrieval_p50_ms']} / {r['retrieval_p95_ms']} "
              f"| {ans} | {r['peak_mb']} | {r['retrieval_p50_ms'] / ref['retrieval_p50_ms']:.3f}x | "
              f"{r['retrieval_p50_ms'] / fastest:.2f}x | {overlap:.3f} ({same:.3f}) |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
