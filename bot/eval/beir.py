"""``python -m bot eval beir DIR --split test``: BM25 retrieval quality on a BEIR dataset.

Indexes every document (title + text) with the product's own analyzer and retriever, runs the
queries that have judgments in the split, and scores the run with trec_eval (pytrec_eval).
"""
from __future__ import annotations

import csv
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from bot.text import analyze
from bot.config import CorpusError
from bot.index.engines import BM25Retriever

# Published BM25 nDCG@10 on BEIR SciFact test: the BEIR paper (Thakur et al. 2021), Anserini's BEIR
# regressions, the bm25s paper (Lu 2024) and Elasticsearch's BEIR runs
PUBLISHED = {"scifact": [("BEIR paper (Elasticsearch BM25, multifield)", 0.665), ("Anserini BM25, one field", 0.679),
                         ("bm25s (BM25, stemmed)", 0.687), ("Elasticsearch BM25", 0.690)]}


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict) or "_id" not in obj:
                raise CorpusError(f"{path}:{lineno}: expected an object with an '_id'")
            yield obj


def find(folder: Path, *names: str) -> Path:
    for n in names:
        if (folder / n).is_file():
            return folder / n
    raise CorpusError(f"{folder}: none of {', '.join(names)} found")


def load_beir(folder: str | Path, split: str) -> tuple[dict[str, dict], dict[str, str], dict[str, dict[str, int]]]:
    folder = Path(folder)
    corpus = {str(d["_id"]): d for d in read_jsonl(find(folder, "corpus.jsonl", "corpus.jsonl.gz"))}
    queries = {str(q["_id"]): str(q.get("text", "")) for q in read_jsonl(find(folder, "queries.jsonl",
                                                                                "queries.jsonl.gz"))}
    qrels: dict[str, dict[str, int]] = {}
    qpath = find(folder / "qrels", f"{split}.tsv")
    with qpath.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    return corpus, queries, qrels


def doc_terms(doc: dict, title_weight: int, analyzer: analyze.Analyzer | None = None) -> list[str]:
    an = analyzer or analyze.Analyzer()
    title = an.terms(str(doc.get("title") or ""))
    return title * title_weight + an.terms(str(doc.get("text") or ""))


def run_queries(corpus: dict[str, dict], queries: dict[str, str], qids: list[str], k1: float, b: float,
                title_weight: int, depth: int = 100) -> dict[str, dict[str, float]]:
    ids = list(corpus)
    an = analyze.Analyzer()
    retriever = BM25Retriever.build([doc_terms(corpus[i], title_weight, an) for i in ids], k1=k1, b=b)
    run: dict[str, dict[str, float]] = {}
    for qid in qids:
        weights: dict[str, float] = {}
        for t in analyze.terms(queries.get(qid, "")):
            weights[t] = weights.get(t, 0.0) + 1.0
        hits = retriever.search(weights, depth) if weights else []
        run[qid] = {ids[h.index]: h.score for h in hits}
    return run


def score(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    try:
        import pytrec_eval
    except ImportError:
        raise CorpusError("eval beir needs trec_eval's scorer: pip install -e \".[eval]\" "
                          "(the pytrec-eval-terrier package)") from None

    top10 = {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:10]) for q, d in run.items()}
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    n = len(qrels)

    def mean(res: dict, key: str) -> float:  # queries with no run count as 0, like BEIR
        return sum(r.get(key, 0.0) for r in res.values()) / n

    return {"ndcg@10": mean(full, "ndcg_cut_10"), "recall@100": mean(full, "recall_100"),
            "mrr@10": mean(mrr, "recip_rank")}


def main_beir(args: Any) -> int:
    t0 = time.perf_counter()
    corpus, queries, qrels = load_beir(args.path, args.split)
    qids = sorted(qrels)
    missing = [q for q in qids if q not in queries]
    if missing:
        print(f"warning: {len(missing)} judged queries have no text", file=sys.stderr)
    params = {"k1": args.k1, "b": args.b, "title_weight": args.title_weight}
    run = run_queries(corpus, queries, qids, **params)
    metrics = score(run, qrels)
    elapsed = time.perf_counter() - t0
    folder = Path(args.path).resolve()
    name = "scifact" if "scifact" in str(folder).lower() else folder.name.lower()
    if args.json:
        print(json.dumps({"dataset": name, "split": args.split, "documents": len(corpus), "queries": len(qids),
                          "settings": params, "metrics": metrics, "seconds": round(elapsed, 1)}))
        return 0
    print(f"BEIR {name} / {args.split}: {len(corpus):,} documents, {len(qids)} queries "
          f"(k1={args.k1}, b={args.b}, title weight {args.title_weight}; {elapsed:.1f} s)\n")
    print("| system | nDCG@10 | Recall@100 | MRR@10 |")
    print("|---|---|---|---|")
    print(f"| this bot (BM25, own analyzer) | {metrics['ndcg@10']:.3f} | {metrics['recall@100']:.3f} | "
          f"{metrics['mrr@10']:.3f} |")
    for label, value in PUBLISHED.get(name, []):
        print(f"| {label} (published) | {value:.3f} | | |")
    return 0
