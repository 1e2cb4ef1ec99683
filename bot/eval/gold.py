"""``python -m bot eval gold FILE``: measure answer quality on a gold question set."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config import CorpusError, yaml_error

_WS = re.compile(r"\s+")


def fold_ws(s: str) -> str:
    return _WS.sub(" ", s).strip()


@dataclass
class GoldItem:
    q: str
    category: str
    history: list[str] = field(default_factory=list)
    section: str | None = None
    expect: list[str] = field(default_factory=list)
    abstain: bool = False
    smalltalk: bool = False


def load_gold(path: str | Path) -> tuple[Path | None, list[GoldItem]]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"{path}: gold set not found") from None
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise CorpusError(f"{path}: expected a mapping with a 'questions' list")
    items = []
    for i, raw in enumerate(data["questions"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("q"), str):
            raise CorpusError(f"{path}: questions[{i}] needs a 'q' string")
        items.append(GoldItem(
            q=raw["q"], category=str(raw.get("category", "other")),
            history=[str(h) for h in raw.get("history") or []],
            section=raw.get("section"), expect=[str(e) for e in raw.get("expect") or []],
            abstain=bool(raw.get("abstain")), smalltalk=bool(raw.get("smalltalk")),
        ))
    corpus = data.get("corpus")
    return ((path.parent / corpus).resolve() if corpus else None), items


def grounded(docs: dict[str, str], reply: Any) -> bool:
    """Every quote is verbatim in its passage and in the source document (``docs``: source ->
    whitespace-folded text)."""
    for c in reply.citations:
        passage = fold_ws(c.passage)
        for q in c.quotes:
            fq = fold_ws(q)
            if not fq or fq not in passage or fq not in docs.get(c.source, ""):
                return False
    return True


def evaluate(bot: Any, items: list[GoldItem]) -> dict[str, Any]:
    rows = []
    docs = {d.source: fold_ws(d.text) for d in bot.documents}
    for it in items:
        history = []
        for h in it.history:
            history.append({"role": "user", "content": h})
            history.append({"role": "assistant", "content": bot.ask(h, list(history)).answer})
        r = bot.ask(it.q, history)
        first = r.citations[0].title if r.citations else ""
        answer_l = r.answer.replace("\\", "").lower()
        row: dict[str, Any] = {"q": it.q, "category": it.category, "abstained": r.abstained,
                               "first_citation": first, "grounded": grounded(docs, r)}
        if it.smalltalk:
            row["correct"] = (not r.abstained) and not r.citations
        elif it.abstain:  # "closest" (the nearest passages, not claimed as an answer) or "none"
            row["correct"] = r.abstained
        else:
            hit = (it.section is None or it.section.lower() in first.lower()) and bool(r.citations)
            row["hit"] = hit
            row["correct"] = (not r.abstained) and hit and all(e.lower() in answer_l for e in it.expect)
        row["answer"] = r.answer
        rows.append(row)
    answerable = [r for r, it in zip(rows, items) if not it.abstain and not it.smalltalk]
    unanswerable = [r for r, it in zip(rows, items) if it.abstain]
    abstained = [r for r, it in zip(rows, items) if r["abstained"] and not it.smalltalk]
    true_abst = [r for r, it in zip(rows, items) if r["abstained"] and it.abstain]

    def rate(n: int, d: int) -> float:
        return round(n / d, 4) if d else 1.0

    metrics = {
        "questions": len(items),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "first_citation_hit": rate(sum(r.get("hit", False) for r in answerable), len(answerable)),
        "answers_correct": rate(sum(r["correct"] for r in answerable), len(answerable)),
        "abstention_precision": rate(len(true_abst), len(abstained)),
        "abstention_recall": rate(sum(r["abstained"] for r in unanswerable), len(unanswerable)),
        "false_abstention": rate(sum(r["abstained"] for r in answerable), len(answerable)),
        "grounding": rate(sum(r["grounded"] for r in rows), len(rows)),
        "smalltalk_ok": rate(sum(r["correct"] for r, it in zip(rows, items) if it.smalltalk),
                             sum(1 for it in items if it.smalltalk)),
    }
    by_cat: dict[str, list[int]] = {}
    for r in rows:
        c = by_cat.setdefault(r["category"], [0, 0])
        c[0] += bool(r["correct"])
        c[1] += 1
    metrics["by_category"] = {k: f"{a}/{b}" for k, (a, b) in sorted(by_cat.items())}
    misses = [{k: r[k] for k in ("q", "category", "abstained", "first_citation", "answer")}
              for r in rows if not r["correct"] or not r["grounded"]]
    return {"metrics": metrics, "misses": misses}


def main_gold(args: Any) -> int:
    from bot.chatbot import ChatBot

    corpus, items = load_gold(args.path)
    bot = ChatBot.load(args.corpus or corpus, strictness=getattr(args, "strictness", None))
    result = evaluate(bot, items)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    m = result["metrics"]
    print(f"Gold set {args.path}: {m['questions']} questions "
          f"({m['answerable']} answerable, {m['unanswerable']} not in the sources)")
    for key in ("first_citation_hit", "answers_correct", "abstention_precision", "abstention_recall",
                "false_abstention", "grounding", "smalltalk_ok"):
        print(f"  {key:22} {m[key] * 100:6.1f}%")
    print("  by category: " + ", ".join(f"{k} {v}" for k, v in m["by_category"].items()))
    if result["misses"]:
        print(f"\nMisses ({len(result['misses'])}):")
        for miss in result["misses"]:
            ans = miss["answer"].replace("\n", " ")
            print(f"  - [{miss['category']}] {miss['q']!r}: "
                  f"{'abstained' if miss['abstained'] else 'answered'} "
                  f"(first citation: {miss['first_citation'] or '-'}) -> {ans[:160]}")
    return 0
