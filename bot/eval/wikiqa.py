"""``python -m bot eval wikiqa FILE.tsv --out run.jsonl``: answer-sentence selection and abstention.

Each question's candidate sentences become one passage (headed by the page title) of an index
built from the whole file, and are ranked by the chat responder's own sentence scorer; the
question is abstained on exactly when the chat's answer decision (``Responder.features`` and
``Decider``) would not answer from it.
Metrics as in the WikiQA paper: MAP and MRR over questions with at least one correct and one
wrong candidate; answer triggering precision / recall / F1 over all questions.
"""
from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.chatbot import prepare_question
from bot.config import CorpusError, Settings
from bot.eval import write_jsonl
from bot.index.engines import Hit
from bot.index.corpus import CorpusIndex
from bot.model import Document, Passage, Sentence
from bot.answer.respond import Responder
from bot.answer.support import RuleSettings
from bot.answer.understand import Question

PUBLISHED = [("Word count (Yang et al. 2015, test)", 0.489, None), ("Weighted word count (test)", 0.510, None),
             ("LCLR (test)", 0.599, None), ("CNN-Cnt (test)", 0.652, 0.3117)]
REQUIRED = ("QuestionID", "Question", "DocumentTitle", "SentenceID", "Sentence", "Label")


@dataclass
class WikiQuestion:
    qid: str
    question: str
    title: str
    sentences: list[tuple[str, str, int]] = field(default_factory=list)  # (sentence id, text, label)


def read_tsv(path: str | Path) -> list[WikiQuestion]:
    path = Path(path)
    try:
        f = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(f"{path}:1: missing columns {', '.join(missing)} (WikiQA TSV format)")
        out: dict[str, WikiQuestion] = {}
        for lineno, row in enumerate(reader, 2):
            try:
                label = int(row["Label"])
            except (TypeError, ValueError):
                raise CorpusError(f"{path}:{lineno}: Label must be 0 or 1") from None
            q = out.setdefault(row["QuestionID"], WikiQuestion(row["QuestionID"], row["Question"],
                                                                row["DocumentTitle"] or ""))
            q.sentences.append((row["SentenceID"], row["Sentence"] or "", label))
    return list(out.values())


def build_index(questions: list[WikiQuestion]) -> CorpusIndex:
    docs, passages = [], []
    for q in questions:
        text, sents, pos = [], [], 0
        for _, s, _ in q.sentences:
            s = s.strip() or "."
            sents.append(Sentence(s, pos, pos + len(s)))
            text.append(s)
            pos += len(s) + 1
        body = " ".join(text)
        docs.append(Document(q.qid, q.title or q.qid, q.qid, body))
        passages.append(Passage(len(passages), q.qid, (q.title,) if q.title else (), body, 0, len(body),
                                tuple(sents)))
    return CorpusIndex.build(docs, passages=passages)


def run(questions: list[WikiQuestion], rules: RuleSettings | None = None) -> list[dict[str, Any]]:
    index = build_index(questions)
    responder = Responder(index, rules=rules)
    settings = Settings()
    results = []
    for pi, wq in enumerate(questions):
        q = prepare_question(wq.question, None, index, settings)  # the chat's own pipeline
        if not isinstance(q, Question):  # an empty or oversized question: abstained on
            results.append({"qid": wq.qid, "ranking": [[sid, 0.0] for sid, _, _ in wq.sentences],
                            "abstained": True})
            continue
        weights = responder.weights(q)
        scores = responder.quoter.sentence_scores(pi, weights, q.focus_terms, q.kind)
        abstained = q.kind == "smalltalk" or not q.focus_terms
        if not abstained:  # the chat's own answer decision on this question's passage
            hit = Hit(pi, index.retriever.score(weights, pi))
            features = responder.features(q, hit, [hit], weights, responder.support.supports(q, pi))
            abstained = responder.decider.decide(features).support != "answer"
        ranking = sorted(zip((sid for sid, _, _ in wq.sentences), scores), key=lambda x: -x[1])
        results.append({"qid": wq.qid, "ranking": [[sid, round(sc, 4)] for sid, sc in ranking],
                        "abstained": abstained})
    return results


def average_precision(labels: list[int]) -> tuple[float, float] | None:
    """(AP, reciprocal rank) of a ranked list of 0/1 labels; None unless it mixes both."""
    n_pos = sum(labels)
    if not 0 < n_pos < len(labels):
        return None
    hits, precs = 0, []
    for i, lab in enumerate(labels, 1):
        if lab:
            hits += 1
            precs.append(hits / i)
    return sum(precs) / n_pos, 1.0 / (labels.index(1) + 1)


def metrics(questions: list[WikiQuestion], results: list[dict[str, Any]]) -> dict[str, float]:
    aps, rrs = [], []
    correct_triggers = triggers = answerable = 0
    for wq, res in zip(questions, results):
        labels = {sid: lab for sid, _, lab in wq.sentences}
        ranked = [labels[sid] for sid, _ in res["ranking"]]
        if sum(ranked):
            answerable += 1
        ap_rr = average_precision(ranked)
        if ap_rr:
            aps.append(ap_rr[0])
            rrs.append(ap_rr[1])
        if not res["abstained"]:
            triggers += 1
            if ranked and ranked[0] == 1:
                correct_triggers += 1
    p = correct_triggers / triggers if triggers else 0.0
    r = correct_triggers / answerable if answerable else 0.0
    return {"questions": len(questions), "ranked_questions": len(aps),
            "MAP": sum(aps) / len(aps) if aps else 0.0, "MRR": sum(rrs) / len(rrs) if rrs else 0.0,
            "trigger_precision": p, "trigger_recall": r, "trigger_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "triggered": triggers, "answerable": answerable}


def authors_runs(tsv: Path) -> list[tuple[str, dict[str, float]]]:
    """MAP/MRR of the WikiQA authors' own system outputs for this split (emnlp-table/*.rank, lined up
    with <split>.ref), when they sit beside the TSV: peers scored by the same code in the same run."""
    split = tsv.stem.split("-")[-1]
    ref = tsv.with_name(f"{tsv.stem}.ref")
    out = []
    for rank in sorted((tsv.parent / "emnlp-table").glob(f"*.{split}.rank")):
        per_q: dict[str, list[tuple[float, int]]] = {}
        try:
            with rank.open() as r, ref.open() as f:
                for line, gold in zip(r, f):
                    p, g = line.split(), gold.split()
                    per_q.setdefault(p[0], []).append((float(p[4]), int(g[3])))
        except (OSError, IndexError, ValueError):
            continue
        aps, rrs = [], []
        for rows in per_q.values():
            ap_rr = average_precision([lab for _, lab in sorted(rows, key=lambda x: -x[0])])
            if ap_rr:
                aps.append(ap_rr[0])
                rrs.append(ap_rr[1])
        if aps:
            name = rank.name.split(".")[1]
            out.append((f"{name} (authors' {split} run, scored here)", {"MAP": sum(aps) / len(aps),
                                                                      "MRR": sum(rrs) / len(rrs)}))
    return out


def main_wikiqa(args: Any) -> int:
    questions = read_tsv(args.path)
    if not questions:
        raise CorpusError(f"{args.path}: no questions")
    results = run(questions)
    if args.out:
        write_jsonl(results, args.out)
    m = metrics(questions, results)
    if args.json:
        print(json.dumps(m))
        return 0
    print(f"WikiQA {Path(args.path).name}: {m['questions']} questions, {m['answerable']} with a correct sentence, "
          f"{m['ranked_questions']} ranked (at least one correct and one wrong candidate)\n")
    print("| system | MAP | MRR | trigger precision | trigger recall | trigger F1 |")
    print("|---|---|---|---|---|---|")
    print(f"| this bot (lexical, same scorer and abstention as the chat) | {m['MAP']:.3f} | {m['MRR']:.3f} | "
          f"{m['trigger_precision']:.3f} | {m['trigger_recall']:.3f} | {m['trigger_f1']:.3f} |")
    for label, m2 in authors_runs(Path(args.path)):
        print(f"| {label} | {m2['MAP']:.3f} | {m2['MRR']:.3f} | | | |")
    for label, map_, f1 in PUBLISHED:
        print(f"| {label} (published) | {map_:.3f} | | | | {'' if f1 is None else f'{f1:.3f}'} |")
    if args.out:
        print(f"\nRun written to {args.out}", file=sys.stderr)
    return 0
