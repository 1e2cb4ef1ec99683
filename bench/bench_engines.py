"""Retrieval engines at 10k, 100k and 1M passages, measured on this product's own tokens.

    .venv/bin/python bench/bench_engines.py --sizes 10000,100000,1000000 [--queries 300]
    .venv/bin/python bench/bench_engines.py --corpus /tmp/realtext [--queries 300]

Corpus: either the BEIR SciFact abstracts in ../shared/eval-data (read in place; the generated
corpus goes to a temporary folder and is deleted), replicated with light perturbations (sentence
order rotated, one word dropped) up to the size asked, with the 300 SciFact *test* claims as
questions (held out: the tests use the train claims); or, with ``--corpus``, a folder of real
text (``bench/real_corpus.py`` makes one from Debian's documentation: a natural vocabulary) with
questions made from its section headings ("What is <heading>?"), the same questions with two
letters swapped in a long word (typo correction's cost) and "What does X stand for?" for
glossary entries.

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
it chose, in a fresh process, and again after dropping the index files from the page cache
("cold": ``posix_fadvise(DONTNEED)`` on every file, so the first questions read from disk).

Speed ratios come from one more process that holds every engine (but stock rank-bm25 at sizes
where it does not fit) and runs them interleaved, query by query in a shuffled order, so load on
the shared machine falls on all of them alike; a ratio is the median over queries of an engine's
time over the fastest engine's on that query. Overlap there is with exact BM25 (the postings
engine's scores), ties counted as equal: a hit whose exact score equals the 10th best counts.
Not a test: machines are shared, compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "eval-data" / "scifact" / "beir"
ENGINES = ["rank-bm25", "rank-bm25-stock", "postings", "tantivy", "bm25s", "rank-bm25-rs"]
OPTIONAL = {"bm25s": "bm25s", "rank-bm25-rs": "rank_bm25_rs"}  # peers measured when installed
STOCK_MAX = 200_000  # stock rank_bm25 scores every passage for every term in Python: slower above this
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


def queries(limit: int, corpus: Path | None = None) -> list[str]:
    """Held-out questions: SciFact's test claims, or questions made from a real corpus's headings."""
    if corpus is not None:
        return corpus_questions(corpus, limit)
    import csv

    test = {r["query-id"] for r in csv.DictReader(open(DATA / "qrels" / "test.tsv", encoding="utf-8"), delimiter="\t")}
    rows = [json.loads(line) for line in open(DATA / "queries.jsonl", encoding="utf-8")]
    return [r["text"] for r in rows if r["_id"] in test][:limit]


def corpus_questions(corpus: Path, limit: int) -> list[str]:
    """Questions a reader of the corpus might ask: "What is <heading>?" for section headings of
    documents picked at random (seeded), a third of them with two letters of a long word swapped
    (a typo the speller must fix), and "What does X stand for?" for a few acronyms in the text."""
    rng = random.Random(11)
    files = sorted(corpus.glob("*.jsonl"))
    heads: list[str] = []
    acronyms: list[str] = []
    for f in rng.sample(files, min(len(files), 200)):
        for line in f.read_text(encoding="utf-8").splitlines()[:40]:
            text = json.loads(line)["text"]
            for h in re.findall(r"^#{1,4} (.{6,60})$", text, flags=re.M):
                if 2 <= len(h.split()) <= 6 and not re.search(r"[()\[\]{}=<>/\\_:;.]", h):
                    heads.append(h.strip())
            acronyms += re.findall(r"\(([A-Z]{2,5})\)", text)
    rng.shuffle(heads)
    out = []
    for i, h in enumerate(heads[: limit]):
        q = f"What is {h}?" if not h.lower().startswith(("how", "what", "why", "when", "using")) else h + "?"
        if i % 3 == 2:
            words = q.split()
            long = [j for j, w in enumerate(words) if len(w) >= 7 and w.isalpha()]
            if long:
                j = long[0]
                w = words[j]
                words[j] = w[:3] + w[4] + w[3] + w[5:]
                q = " ".join(words)
        out.append(q)
    for a in sorted(set(acronyms))[: max(1, limit // 10)]:
        out.append(f"What does {a} stand for?")
    return out[:limit]


def read_terms(path: Path):
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield line.split()


# ---- one engine, in its own process ------------------------------------------------------------
def build_engine(engine: str, terms: Path, work: Path, index_dir: Path):
    """(retriever, build seconds, size MB, load seconds or None)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from bot.index.engines import BM25Retriever, Hit, LuceneBM25, PostingsBM25, TantivyRetriever, TantivyWriter

    t0 = time.perf_counter()
    if engine == "rank-bm25":
        r = BM25Retriever(LuceneBM25(list(read_terms(terms))))
        return r, time.perf_counter() - t0, None, None
    if engine == "rank-bm25-stock":  # the library itself: BM25Okapi, unweighted queries, every passage scored
        from rank_bm25 import BM25Okapi

        okapi = BM25Okapi(list(read_terms(terms)))
        secs = time.perf_counter() - t0

        class StockRetriever:
            def search(self, query, k):
                scores = okapi.get_scores(list(query))
                top = np.argpartition(-scores, k)[:k]
                return [Hit(int(i), float(scores[i])) for i in sorted(top, key=lambda i: -scores[i]) if scores[i] > 0]

        return StockRetriever(), secs, None, None
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
        from bot.index import store
        from bot.index.layout import read_terms as read_terms_file, terms_name  # not this file's read_terms

        path = work / "tantivy"
        writer = TantivyWriter(path, threads=2)
        for ts in read_terms(terms):
            writer.add(" ".join(ts))
        writer.finish()
        del writer
        secs = time.perf_counter() - t0
        bz = np.load(index_dir / "bm25.npz")
        vocab = read_terms_file((index_dir / terms_name(json.loads((index_dir / "index.json").read_text())["files"], 0)).read_bytes())["vocab"]
        t1 = time.perf_counter()
        stored = store.load(index_dir, check_stale=False)[2].retriever.terms_of  # the index's own stored terms
        r = TantivyRetriever(str(path), vocab, bz["df"], bz["doc_len"], stored, float(bz["params"][0]),
                             float(bz["params"][1]))
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
    from bot.answer.respond import Responder
    from bot.answer.understand import understand

    bot = ChatBot.load(index_dir)
    qtexts = queries(n_queries, CORPUS)
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
        bot.index.retriever = retriever
        bot.responder = Responder(bot.index, top_k=bot.settings.answer.top_k)
        alat = []
        for q in qtexts:
            t = time.perf_counter()
            bot.ask(q)
            alat.append(time.perf_counter() - t)
        res["answer_p50_ms"] = round(pct(alat, 50) * 1000, 2)
        res["answer_p95_ms"] = round(pct(alat, 95) * 1000, 2)
    res["peak_mb"] = round(peak_rss_mb())
    return res


def drop_cache(folder: Path) -> None:
    """Ask the kernel to forget the cached pages of every file under ``folder`` (a cold start)."""
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def run_product(index_dir: Path, n_queries: int, cold: bool = False) -> dict:
    """A fresh process doing what a user does: load the saved index and ask (``cold``: with the
    index files dropped from the page cache first)."""
    if cold:
        drop_cache(index_dir)
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from bot.chatbot import ChatBot

    t1 = time.perf_counter()
    bot = ChatBot.load(index_dir)
    load = time.perf_counter() - t1
    imports = t1 - t0
    qtexts = queries(n_queries, CORPUS)
    alat, prep = [], []
    for q in qtexts:
        t = time.perf_counter()
        bot.question(q, None)  # clean, correct typos, understand: the speller's share
        prep.append(time.perf_counter() - t)
        t = time.perf_counter()
        bot.ask(q)
        alat.append(time.perf_counter() - t)
    retriever = bot.index.retriever
    status = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in open("/proc/self/status")
              if line.startswith(("RssAnon", "RssFile"))}
    return {"private_mb": status.get("RssAnon"), "mapped_mb": status.get("RssFile"), "load_s": round(load, 2), "imports_s": round(imports, 2), "answer_p50_ms": round(pct(alat, 50) * 1000, 2),
            "answer_p95_ms": round(pct(alat, 95) * 1000, 2), "peak_mb": round(peak_rss_mb()),
            "first10_p50_ms": round(pct(alat[:10], 50) * 1000, 2),
            "question_p50_ms": round(pct(prep, 50) * 1000, 2), "question_max_ms": round(max(prep) * 1000, 2),
            "engine": type(retriever).__name__, "inexact": getattr(retriever, "inexact", 0),
            "rescored_per_search": round(getattr(retriever, "rescored", 0) / max(1, getattr(retriever, "searches", 0)), 1),
            "vocabulary": len(bot.index.vocabulary), "speller_words": len(bot.index.speller.words),
            "glossary": len(bot.index.glossary)}


def run_interleaved(engines: list[str], terms: Path, index_dir: Path, n_queries: int, work: Path) -> dict:
    """Every engine in this one process, run query by query in a shuffled order: speed ratios
    that the machine's load cannot tilt, and overlap with exact BM25, ties counted as equal."""

    sys.path.insert(0, str(ROOT))
    from bot.chatbot import ChatBot
    from bot.answer.understand import understand

    bot = ChatBot.load(index_dir)
    weights = [bot.responder.weights(understand(q, None, bot.index.vocabulary)) for q in queries(n_queries, CORPUS)]
    weights = [w for w in weights if w]
    built = {}
    for e in engines:
        ework = work / f"i-{e}"
        ework.mkdir(exist_ok=True)
        built[e] = build_engine(e, terms, ework, index_dir)[0]
    exact = built.get("postings")
    rng = random.Random(5)
    times: dict[str, list[float]] = {e: [] for e in built}
    same: dict[str, int] = {e: 0 for e in built}
    total = 0
    for w in weights:
        order = list(built)
        rng.shuffle(order)
        got = {}
        for e in order:
            t = time.perf_counter()
            got[e] = built[e].search(w, 10)
            times[e].append(time.perf_counter() - t)
        if exact is not None:
            scores = exact.engine.get_scores(w)
            ref = got["postings"]
            if ref:
                cut = ref[-1].score * (1 - 1e-5)
                total += len(ref)
                for e, hits in got.items():
                    same[e] += sum(1 for h in hits[: len(ref)] if scores[h.index] >= cut)
    ratio = {}
    for e in built:
        per = [t / min(times[x][i] for x in built) for i, t in enumerate(times[e])]
        ratio[e] = round(pct(per, 50), 2)
    return {"engines": list(built), "p50_ms": {e: round(pct(times[e], 50) * 1000, 2) for e in built},
            "p95_ms": {e: round(pct(times[e], 95) * 1000, 2) for e in built}, "ratio_to_fastest": ratio,
            "exact_overlap": {e: round(same[e] / total, 4) if total else None for e in built},
            "queries": len(weights), "peak_mb": round(peak_rss_mb()),
            "tantivy_inexact": getattr(built.get("tantivy"), "inexact", None),
            "tantivy_rescored_per_search": round(getattr(built.get("tantivy"), "rescored", 0) /
                                                 max(1, getattr(built.get("tantivy"), "searches", 0)), 1)}


CORPUS: Path | None = Path(os.environ["BENCH_CORPUS"]) if os.environ.get("BENCH_CORPUS") else None


def worker(spec: str, n_queries: int) -> dict:
    kind, *rest = spec.split("|")
    if kind == "product":
        return run_product(Path(rest[0]), n_queries, cold=len(rest) > 1 and rest[1] == "cold")
    if kind == "interleaved":
        engines, terms, index_dir, work = rest
        return run_interleaved(engines.split(","), Path(terms), Path(index_dir), n_queries, Path(work))
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
    global CORPUS
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--corpus", type=Path, help="a folder of real text (bench/real_corpus.py) instead of SciFact copies")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--keep", type=Path, help="keep the index built here (for bench_update.py)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.queries)))
        return 0
    if args.corpus is None and not DATA.is_dir():
        print(f"needs {DATA} (BEIR SciFact)", file=sys.stderr)
        return 2
    if args.corpus is not None:
        CORPUS = args.corpus.resolve()
        os.environ["BENCH_CORPUS"] = str(CORPUS)
    sys.path.insert(0, str(ROOT))
    sizes = [0] if args.corpus is not None else [int(x) for x in args.sizes.split(",")]
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            if args.corpus is None:
                corpus = work / "corpus.jsonl"
                write_corpus(n, corpus)
            else:
                corpus = args.corpus
            index_dir = args.keep if args.keep is not None else work / "index"
            terms = index_dir / "terms.txt"  # each passage's analyzed terms, as the product indexed them
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").is_file() else []  # Debian's `time`: peak memory
            p = subprocess.run([*timer, sys.executable, "-m", "bot", "index", str(corpus), "--out",
                                str(index_dir), "--engine", "tantivy", "--full"], cwd=ROOT, capture_output=True,
                               text=True)
            build_s = time.perf_counter() - t0
            if p.returncode:
                print(p.stdout, p.stderr, file=sys.stderr)
                return 1
            build_peak = next((int(x.split()[-1]) / 1024 for x in p.stderr.splitlines() if "Maximum resident" in x), 0)
            header = json.loads((index_dir / "index.json").read_text())
            n = header["passages"]
            product = subprocess_json(f"product|{index_dir}", args.queries)
            cold = subprocess_json(f"product|{index_dir}|cold", args.queries)
            rows = []
            engines = []
            for engine in args.engines.split(","):
                if engine in OPTIONAL and importlib.util.find_spec(OPTIONAL[engine]) is None:
                    print(f"{engine}: not installed, not measured (pip install {engine} to include it)",
                          file=sys.stderr)
                    continue
                if engine == "rank-bm25-stock" and n > STOCK_MAX:
                    print(f"{engine}: not measured above {STOCK_MAX:,} passages (scores every passage in Python)",
                          file=sys.stderr)
                    continue
                engines.append(engine)
                ework = work / engine
                ework.mkdir()
                got = subprocess_json(f"engine|{engine}|{terms}|{index_dir}|{ework}", args.queries)
                if got:
                    rows.append(got)
                shutil.rmtree(ework, ignore_errors=True)
            inter = subprocess_json(f"interleaved|{','.join(e for e in engines if e != 'rank-bm25' or n <= 2_000_000)}|"
                                    f"{terms}|{index_dir}|{work}", args.queries)
            words = count_words(index_dir / "texts.bin") / header["passages"]
            print_table(n, header, build_s, dir_mb(index_dir), product, rows, args.queries, words, cold=cold,
                        inter=inter, build_peak=build_peak, load=load)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(n, header, build_s, index_mb, product, rows, n_queries, words, cold=None, inter=None, build_peak=0,
                load=0.0) -> None:
    print(f"\n### {header['passages']:,} passages ({header['documents']:,} documents, {words:.0f} words per passage on "
          f"average), {n_queries} queries, top-10 (load average {load:.2f} at the start)\n")
    if product:
        print(f"Product (`python -m bot index` -> `ChatBot.load` -> `ask`, tantivy engine): build {build_s:.0f} s "
              f"(largest process {build_peak:.0f} MB), index {index_mb:.0f} MB, load {product['load_s']} s "
              f"(+ {product['imports_s']} s imports), answer p50 {product['answer_p50_ms']} ms / p95 "
              f"{product['answer_p95_ms']} ms, peak RSS {product['peak_mb']} MB (at the end: {product['private_mb']} "
              f"MB private, {product['mapped_mb']} MB pages of memory-mapped index files); "
              f"{product['vocabulary']:,} distinct "
              f"terms, {product['speller_words']:,} speller words, {product['glossary']:,} acronyms; question "
              f"pipeline (cleaning, typo correction, understanding) p50 {product['question_p50_ms']} ms, worst "
              f"{product['question_max_ms']} ms; tantivy candidates rescored per search "
              f"{product['rescored_per_search']}, searches stopped before the exactness bound held: "
              f"{product['inexact']}\n")
    if cold:
        print(f"Cold (index files dropped from the page cache first): load {cold['load_s']} s, first 10 answers p50 "
              f"{cold['first10_p50_ms']} ms, all answers p50 {cold['answer_p50_ms']} ms / p95 "
              f"{cold['answer_p95_ms']} ms\n")
    if inter:
        print(f"Interleaved in one process ({inter['queries']} queries, engines in shuffled order per query; "
              f"process peak {inter['peak_mb']} MB; tantivy rescored {inter['tantivy_rescored_per_search']} "
              f"candidates per search):\n")
        print("| engine | retrieval p50 / p95 ms | median ratio to the fastest on the same query | top-10 overlap "
              "with exact BM25, ties equal |")
        print("|---|---|---|---|")
        for e in inter["engines"]:
            ov = inter["exact_overlap"].get(e)
            print(f"| {e} | {inter['p50_ms'][e]} / {inter['p95_ms'][e]} | {inter['ratio_to_fastest'][e]:.2f}x | "
                  f"{'-' if ov is None else f'{ov:.3f}'} |")
        print()
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
