"""Tune BM25 settings on a BEIR train split (reads ../shared/eval-data; writes nothing).

    .venv/bin/python tuning/tune_beir.py ../shared/eval-data/scifact/beir
"""
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.text import analyze  # noqa: E402
from bot.eval.beir import load_beir, score  # noqa: E402
from bot.index.engines import BM25Retriever  # noqa: E402


def main(folder: str, split: str = "train") -> None:
    corpus, queries, qrels = load_beir(folder, split)
    ids = list(corpus)
    titles = [analyze.terms(str(corpus[i].get("title") or "")) for i in ids]
    texts = [analyze.terms(str(corpus[i].get("text") or "")) for i in ids]
    qterms = {q: analyze.terms(queries[q]) for q in qrels}
    rows = []
    for tw, k1, b in itertools.product((1, 2), (0.6, 0.9, 1.2, 1.5), (0.4, 0.6, 0.75, 0.9)):
        r = BM25Retriever.build([t * tw + x for t, x in zip(titles, texts)], k1=k1, b=b)
        run = {}
        for q, ts in qterms.items():
            w = {}
            for t in ts:
                w[t] = w.get(t, 0.0) + 1.0
            run[q] = {ids[h.index]: h.score for h in r.search(w, 100)} if w else {}
        m = score(run, qrels)
        rows.append((m["ndcg@10"], tw, k1, b, m["recall@100"]))
        print(f"title x{tw} k1={k1} b={b}: nDCG@10 {m['ndcg@10']:.4f} R@100 {m['recall@100']:.4f}", flush=True)
    best = max(rows)
    print(f"best on {split}: nDCG@10 {best[0]:.4f} with title x{best[1]}, k1={best[2]}, b={best[3]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
