"""Train the answer decision (bot/answer/decision_model.json): a logistic model over the features of
``Responder.features``, predicting whether quoting the best candidate answers the question.

Trained on questions nobody on the team wrote: the first five articles of the open SQuAD 2.0 half
(Normans, Huguenot, 1973 oil crisis, Packet switching, Yuan dynasty), each article its own corpus;
plus the article gold set (eval/article.yaml), weighted so it counts as much as one SQuAD article,
and off-topic questions: 100 answerable questions of each training article asked of another
training article's corpus (never answerable there).
The last three articles (Scottish Parliament, Imperialism, French and Indian War) are never used
here: they are the held-out part reported beside the training figures. WikiQA is not used for
training (its license allows research use only: nothing derived from it ships).

    .venv/bin/python eval/train_decision.py [SQUAD_JSON] [--out bot/answer/decision_model.json] [--l2 1.0]

Prints the training and held-out log loss, the expected calibration error and the weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np

from bot.chatbot import ChatBot
from bot.answer.decide import FEATURES, MODEL_FILE, LogisticModel, bundled_model, fit_logistic
from bot.eval.gold import load_gold
from bot.eval.squad import quotes_gold, read_squad, write_corpus
from bot.answer.quote import Cites
from bot.answer.understand import Question

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = ROOT.parent / "shared" / "eval-data" / "squad2" / "squad2-dev-open.json"
TRAIN_ARTICLES = 5


def candidate(bot: ChatBot, text: str, history=None):
    """(features, quotes of the answer the bot would give from its candidate) or None."""
    q = bot.question(text, history)
    if not isinstance(q, Question) or q.kind == "smalltalk" or not q.focus_terms:
        return None
    r = bot.responder
    c = r.candidate(q)  # the same retrieval and choice as Responder.respond
    if c.chosen is None:
        return None
    feats = c.features
    cites = Cites(bot.index, {h.index: h.score for h in c.hits}, c.weights)
    r.quoter.single(q, c.chosen, c.weights, cites)
    quotes = [x for c in cites.citations() for x in c.quotes]
    titles = [c.title for c in cites.citations()]
    return feats, quotes, titles


def squad_rows(articles, tmp: Path, groups: list | None = None):
    rows = []
    for n, art in enumerate(articles):
        bot = ChatBot.load(write_corpus(art, tmp / f"a{n}"))
        for q in art.questions:
            c = candidate(bot, q.question)
            if c is None:
                continue
            feats, quotes, _ = c
            label = 0 if q.impossible else int(quotes_gold(quotes, q.answers))
            rows.append((feats, label, 1.0))
            if groups is not None:
                groups.append(n)
    return rows


def crossed_rows(articles, tmp: Path, per_article: int = 100):
    """Questions asked of the wrong article: off-topic questions, never answerable there. Each
    article's corpus gets ``per_article`` answerable questions of the next article."""
    rows = []
    for n, art in enumerate(articles):
        other = articles[(n + 1) % len(articles)]
        qs = [q for q in other.questions if not q.impossible][:per_article]
        bot = ChatBot.load(write_corpus(art, tmp / f"x{n}"))
        for q in qs:
            c = candidate(bot, q.question)
            if c is not None:
                rows.append((c[0], 0, 1.0))
    return rows


def gold_rows(weight: float):
    _, items = load_gold(ROOT / "eval" / "article.yaml")
    bot = ChatBot.load()
    rows = []
    for it in items:
        if it.smalltalk or it.history:
            continue
        c = candidate(bot, it.q)
        if c is None:
            continue
        feats, quotes, titles = c
        if it.abstain:
            label = 0
        else:
            text = " ".join(quotes).lower()
            label = int(bool(titles) and (it.section is None or it.section.lower() in titles[0].lower())
                        and all(e.lower() in text for e in it.expect))
        rows.append((feats, label, weight))
    return rows


def data_hash(rows) -> str:
    """SHA-256 of the training rows (features, label, weight), so a model file says what it saw."""
    h = hashlib.sha256()
    for feats, label, weight in rows:
        h.update(json.dumps([[feats[n] for n in FEATURES], label, round(weight, 6)]).encode())
    return h.hexdigest()


def log_loss(model: LogisticModel, rows) -> float:
    p = np.array([model.probability(r[0]) for r in rows])
    y = np.array([r[1] for r in rows], dtype=float)
    eps = 1e-9
    return float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))


def choose_l2(rows, groups, grid=(1, 10, 30, 100, 300, 1000, 3000)) -> float:
    """Leave one training article out: the L2 strength with the lowest mean held-out log loss."""
    best = None
    for l2 in grid:
        losses = []
        for g in sorted(set(groups)):
            train = [r for r, gr in zip(rows, groups) if gr != g]
            held = [r for r, gr in zip(rows, groups) if gr == g]
            losses.append(log_loss(fit_logistic(FEATURES, train, l2), held))
        loss = float(np.mean(losses))
        print(f"  l2={l2:<6} leave-one-article-out log loss {loss:.4f}")
        if best is None or loss < best[0]:
            best = (loss, l2)
    return best[1]


def report(name: str, model: LogisticModel, rows) -> None:
    p = np.array([model.probability(r[0]) for r in rows])
    y = np.array([r[1] for r in rows], dtype=float)
    eps = 1e-9
    loss = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).sum() for b in range(10)
              if (bins == b).any()) / len(p)
    acc = np.mean((p >= 0.5) == (y == 1))
    print(f"{name:28} n={len(rows):5d} positives={y.mean():.3f} log loss={loss:.4f} ECE={ece:.4f} acc@0.5={acc:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("squad", nargs="?", default=str(DEFAULT_SQUAD))
    ap.add_argument("--out", default=str(ROOT / "bot" / "answer" / MODEL_FILE))
    ap.add_argument("--l2", type=float, default=None, help="L2 strength (default: chosen by leave-one-article-out)")
    args = ap.parse_args(argv)
    articles = read_squad(args.squad)
    train, held = articles[:TRAIN_ARTICLES], articles[TRAIN_ARTICLES:]
    groups: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        train_rows = squad_rows(train, Path(tmp) / "train", groups)
        held_rows = squad_rows(held, Path(tmp) / "held")
        crossed = crossed_rows(train, Path(tmp) / "crossed")
    per_article = len(train_rows) / max(len(train), 1)
    gold = gold_rows(1.0)
    gold = [(f, y, per_article / max(len(gold), 1)) for f, y, _ in gold]
    if args.l2 is None:
        args.l2 = choose_l2(train_rows, groups)
    model = fit_logistic(FEATURES, train_rows + gold + crossed, args.l2,
                         trained_on="eval/train_decision.py: open SQuAD 2.0 half, articles 1-5 "
                                     f"({', '.join(a.title for a in train)}) + eval/article.yaml + off-topic questions "
                                     f"crossed between those articles; l2={args.l2}")
    report("train: SQuAD articles 1-5", model, train_rows)
    report("train: article gold set", model, gold)
    report("train: off-topic (crossed)", model, crossed)
    report("held out: SQuAD articles 6-8", model, held_rows)
    for name, wt in sorted(zip(model.names, model.weights), key=lambda t: -abs(t[1])):
        print(f"  {name:22} {wt:+.3f}")
    model = replace(model, thresholds=bundled_model().thresholds,  # re-chosen by eval/strictness_curve.py
                    provenance={"wordllama": version("wordllama"), "training_data": data_hash(train_rows + gold + crossed)})
    out = model.to_dict()
    out["thresholds_chosen"] = json.loads(Path(args.out).read_text())["thresholds_chosen"] if Path(args.out).is_file() else ""
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
