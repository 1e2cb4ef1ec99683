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

    .venv/bin/python tuning/train_decision.py [SQUAD_JSON] [--out bot/answer/decision_model.json] [--l2 1.0]

Prints the training and held-out log loss, the expected calibration error and the weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import tempfile
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np

from bot.chatbot import ChatBot
from bot.answer.decide import FEATURES, MODEL_FILE, LogisticModel, bundled_model, fit_logistic
from bot.answer.decide import Decider, DecisionSettings
from bot.answer.respond import Responder
from bot.eval import realdocs, write_jsonl
from bot.eval.gold import load_gold
from bot.eval.squad import quotes_gold, read_squad, write_corpus
from bot.answer.quote import Cites
from bot.answer.understand import Question

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = ROOT.parent / "shared" / "eval-data" / "squad2" / "squad2-dev-open.json"
DEFAULT_REALDOCS = ROOT.parent / "shared" / "eval-data" / "realdocs"
TRAIN_ARTICLES = 5


def candidate(bot: ChatBot, text: str, history=None, answer: bool = False):
    """(features, quotes of the answer the bot would give from its candidate, their titles[, the
    answer text]) or None."""
    q = bot.question(text, history)
    if not isinstance(q, Question) or q.kind == "smalltalk" or not q.focus_terms:
        return None
    r = bot.responder
    c = r.candidate(q)  # the same retrieval and choice as Responder.respond
    if c.chosen is None:
        return None
    feats = c.features
    cites = Cites(bot.index, {h.index: h.score for h in c.hits}, c.weights)
    text = r.quoter.single(q, c.chosen, c.weights, cites)
    quotes = [x for c in cites.citations() for x in c.quotes]
    titles = [c.title for c in cites.citations()]
    return (feats, quotes, titles, text) if answer else (feats, quotes, titles)


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


def corpus_folders(roots: list[Path]) -> dict[str, Path]:
    """Every corpus folder under the realdocs-layout ``roots``, by name (a name met twice is
    refused: leave-one-corpus-out needs one name per corpus)."""
    out: dict[str, Path] = {}
    for root in roots:
        for folder in realdocs.corpora(root):
            if folder.name in out:
                raise SystemExit(f"{folder}: a corpus named {folder.name!r} is already in {out[folder.name]}")
            out[folder.name] = folder
    return out


def realdocs_rows(folders: dict[str, Path]) -> dict[str, list]:
    """Rows of each realdocs corpus (documentation by others; see bot/eval/realdocs.py): label 1
    when the answer the bot would give from its candidate holds the gold string."""
    out: dict[str, list] = {}
    for folder in folders.values():
        bot = ChatBot.load(folder / "docs")
        rows = []
        for q in realdocs.read_questions(folder / "questions.jsonl"):
            c = candidate(bot, q.question, answer=True)
            if c is None:
                continue
            label = int(q.answerable and realdocs.contains(c[3], q.gold))
            rows.append((c[0], label, 1.0))
        out[folder.name] = rows
    return out


def realdocs_loco(folders: dict[str, Path], models: dict[str, LogisticModel],
                  out_rows: Path | None = None) -> dict[str, dict]:
    """Each realdocs corpus answered with the model trained without it (leave one corpus out)."""
    def load(folder: Path, strictness):
        bot = ChatBot.load(folder)
        bot.responder = Responder(bot.index, top_k=bot.settings.answer.top_k, model=models[folder.parent.name],
                                  decision=DecisionSettings(strictness=bot.settings.answer.strictness))
        return bot

    out = {}
    all_rows = []
    for name in models:
        summary, rows = realdocs.evaluate(folders[name], load=load)
        out[name] = summary[name]
        all_rows.extend(rows)
    out["all"] = realdocs.summarize(all_rows)
    if out_rows is not None:
        write_jsonl(all_rows, out_rows)
    return out


MAX_WRONG = 0.08  # the target: confidently wrong at most 8% of all replies on documentation


def documentation_threshold(loco: dict[str, LogisticModel], docs: dict[str, list], base) -> float:
    """The lowest answer threshold (strictness 0.5) for documentation at which the realdocs rows,
    each corpus scored by the model trained without it (vetoes applied), answer wrongly at most
    ``MAX_WRONG`` of the time; never below the prose threshold."""
    scored = []
    for name, rows in docs.items():
        d = Decider(model=replace(loco[name], thresholds=base))
        for feats, label, _ in rows:
            dec = d.decide(feats)
            scored.append((dec.confidence if dec.support != "none" else 0.0, label))
    for k in range(0, 40):
        t = base.answer_at_half + 0.0125 * k
        wrong = sum(1 for p, y in scored if p >= t and not y)
        if wrong <= MAX_WRONG * len(scored):
            return round(t, 4)
    return base.strictest


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
    ap.add_argument("--realdocs", action="append", default=None,
                    help="a folder of realdocs-layout corpora, repeatable (default: the open realdocs set; '' leaves "
                         "documentation out)")
    ap.add_argument("--loco-out", help="write the leave-one-corpus-out rows (JSON Lines) here")
    ap.add_argument("--out", default=str(ROOT / "bot" / "answer" / MODEL_FILE))
    ap.add_argument("--l2", type=float, default=None, help="L2 strength (default: chosen by leave-one-group-out)")
    ap.add_argument("--cache", help="pickle the feature rows here, and read them from here when present")
    args = ap.parse_args(argv)
    roots = [Path(r) for r in (args.realdocs if args.realdocs is not None else [str(DEFAULT_REALDOCS)]) if r]
    folders = corpus_folders(roots)
    articles = read_squad(args.squad)
    train, held = articles[:TRAIN_ARTICLES], articles[TRAIN_ARTICLES:]
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.is_file():
        train_rows, groups, held_rows, crossed, gold, docs = pickle.loads(cache.read_bytes())
    else:
        groups: list[int] = []
        with tempfile.TemporaryDirectory() as tmp:
            train_rows = squad_rows(train, Path(tmp) / "train", groups)
            held_rows = squad_rows(held, Path(tmp) / "held")
            crossed = crossed_rows(train, Path(tmp) / "crossed")
        gold = gold_rows(1.0)
        docs = realdocs_rows(folders)
        if cache is not None:
            cache.write_bytes(pickle.dumps((train_rows, groups, held_rows, crossed, gold, docs)))
    per_article = len(train_rows) / max(len(train), 1)
    gold = [(f, y, per_article / max(len(gold), 1)) for f, y, _ in gold]
    # each documentation corpus weighs as much as one SQuAD article
    docs = {k: [(f, y, per_article / max(len(v), 1)) for f, y, _ in v] for k, v in docs.items()}
    doc_rows = [r for v in docs.values() for r in v]
    doc_groups = [TRAIN_ARTICLES + n for n, v in enumerate(docs.values()) for _ in v]
    l2_prose = args.l2 if args.l2 is not None else choose_l2(train_rows, groups)
    if args.l2 is None:
        args.l2 = choose_l2(train_rows + doc_rows, groups + doc_groups)
    base = (f"tuning/train_decision.py: open SQuAD 2.0 half, articles 1-5 ({', '.join(a.title for a in train)}) "
            f"+ eval/article.yaml + off-topic questions crossed between those articles")
    # prose: trained as ever (no documentation rows); documentation: the same rows plus realdocs
    model = fit_logistic(FEATURES, train_rows + gold + crossed, l2_prose, trained_on=f"{base}; l2={l2_prose}")
    documentation = None
    if docs:
        documentation = fit_logistic(FEATURES, train_rows + gold + crossed + doc_rows, args.l2, trained_on=(
            f"{base} + the open realdocs set ({', '.join(docs)}), each corpus weighted as one article; l2={args.l2}"))
        model = replace(model, documentation=documentation)
    report("train: SQuAD articles 1-5", model, train_rows)
    report("train: article gold set", model, gold)
    report("train: off-topic (crossed)", model, crossed)
    for name, rows in docs.items():
        report(f"train: realdocs {name}", model, [(dict(f, structured=1.0), y, w) for f, y, w in rows])
    report("held out: SQuAD articles 6-8", model, held_rows)
    thresholds = bundled_model().thresholds
    if docs:  # leave one documentation corpus out: what a corpus nobody trained on gets
        loco = {}
        for name in docs:
            rest = [r for k, v in docs.items() if k != name for r in v]
            loco[name] = replace(model, documentation=fit_logistic(FEATURES, train_rows + gold + crossed + rest, args.l2))
            report(f"held out: realdocs {name}", loco[name], docs[name])
        at = documentation_threshold(loco, docs, thresholds)
        print(f"documentation_at_half = {at:.3f} (lowest keeping confidently wrong <= {MAX_WRONG:.0%} of all "
              "replies on the realdocs rows, each corpus scored by the model trained without it)")
        thresholds = replace(thresholds, documentation_at_half=at)
        loco = {k: replace(m, thresholds=thresholds) for k, m in loco.items()}
        print(realdocs.table(realdocs_loco(folders, loco, Path(args.loco_out) if args.loco_out else None)))
    for name, wt in sorted(zip(model.names, model.weights), key=lambda t: -abs(t[1])):
        print(f"  {name:22} {wt:+.3f}" + (f"  (documentation {documentation.weights[documentation.names.index(name)]:+.3f})"
                                           if documentation is not None else ""))
    model = replace(model, thresholds=thresholds,
                    provenance={"wordllama": version("wordllama"),
                                "training_data": data_hash(train_rows + gold + crossed + doc_rows)})
    out = model.to_dict()
    out["thresholds_chosen"] = json.loads(Path(args.out).read_text())["thresholds_chosen"] if Path(args.out).is_file() else ""
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
