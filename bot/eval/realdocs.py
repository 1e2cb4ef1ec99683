"""``python -m bot eval realdocs DIR``: documentation written by others, questions typed as users type.

Layout (``../shared/eval-data/realdocs/``): one folder per corpus, each with ``docs/`` (the
documents as shipped: HTML, man pages as text, ...) and ``questions.jsonl``, one object a line:
``{"question": str, "answerable": bool, "gold": str | null, "file": str | null}``.

Scoring (the set's own rule): an answer is right when the gold substring is in it, after both are
lower-cased, Markdown backticks and backslash escapes dropped and whitespace folded. Per question:

- answerable: *answered right* (support ``answer`` and the gold in the answer); *shown* (support
  ``answer`` or ``closest`` and the gold in the reply or in a passage it cites, heading path
  included: what the user sees with the sources open); *shown@1* (the same, the gold in the first
  cited passage: what a "closest" reply is worth to a reader who opens one source); *quoted* (the
  same, the gold in the reply's text or quotes); *confidently wrong* (support ``answer`` without
  the gold);
- unanswerable: right when not answered (``closest`` or ``none``); an ``answer`` is confidently wrong.

Reference rows measured in the same run: the bot's own retrieval (``ChatBot.search``), top 1, 3
and 10 passages holding the gold (in the passage or its heading path: an option entry's option
is its heading).
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bot.config import CorpusError
from bot.eval import CorpusBots, corpus_bots, write_jsonl


def norm(s: str) -> str:
    """The set's normalisation: lower case, no backticks, no Markdown escapes, folded whitespace."""
    s = s.lower().replace("`", "")
    s = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", s)
    return re.sub(r"\s+", " ", s).strip()


def contains(text: str, gold: str) -> bool:
    return norm(gold) in norm(text)


@dataclass(frozen=True)
class RealQuestion:
    question: str
    answerable: bool
    gold: str | None
    file: str | None


def read_questions(path: Path) -> list[RealQuestion]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{path}:{n}: not valid JSON ({exc})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise CorpusError(f"{path}:{n}: expected an object with a 'question' string")
        answerable = bool(obj.get("answerable"))
        gold = obj.get("gold")
        if answerable and not (isinstance(gold, str) and gold.strip()):
            raise CorpusError(f"{path}:{n}: an answerable question needs a 'gold' string")
        out.append(RealQuestion(obj["question"], answerable, gold if answerable else None, obj.get("file")))
    return out


def corpora(root: Path) -> list[Path]:
    """The corpus folders under ``root`` (each with docs/ and questions.jsonl), or ``root`` itself."""
    if (root / "questions.jsonl").is_file():
        return [root]
    found = sorted(p for p in root.iterdir() if (p / "questions.jsonl").is_file() and (p / "docs").is_dir())
    if not found:
        raise CorpusError(f"{root}: no corpus folders (each needs docs/ and questions.jsonl)")
    return found


def score(bot: Any, q: RealQuestion) -> dict[str, Any]:
    """One question asked through ``bot.ask`` and scored; plus where retrieval put the gold."""
    reply = bot.ask(q.question)
    row: dict[str, Any] = {"question": q.question, "answerable": q.answerable, "gold": q.gold,
                           "file": q.file, "support": reply.support, "confidence": reply.confidence,
                           "answer": reply.answer,
                           "cited": [c.title for c in reply.citations],
                           "quotes": [x for c in reply.citations for x in c.quotes]}
    answered = reply.support == "answer"
    if q.answerable:
        assert q.gold is not None
        quoted = reply.answer + " " + " ".join(x for c in reply.citations for x in c.quotes)
        cited = reply.answer + " " + " ".join(f"{c.title} {c.passage}" for c in reply.citations)
        offered = reply.support in ("answer", "closest")
        row["right"] = answered and contains(reply.answer, q.gold)
        row["shown"] = offered and contains(cited, q.gold)
        first = reply.citations[0] if reply.citations else None
        row["shown1"] = offered and first is not None and contains(f"{first.title} {first.passage}", q.gold)
        row["quoted"] = offered and contains(quoted, q.gold)
        row["wrong"] = answered and not row["right"]
        hits = bot.search(q.question, 10)
        rank = next((h["rank"] for h in hits if contains(f"{h['title']} {h['passage']}", q.gold)), None)
        row["gold_rank"] = rank
    else:
        row["right"] = not answered
        row["wrong"] = answered
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]

    def pct(n: int, d: int) -> float | None:
        return round(100.0 * n / d, 1) if d else None

    def at(k: int) -> float | None:
        return pct(sum(1 for r in ans if r.get("gold_rank") and r["gold_rank"] <= k), len(ans))

    return {
        "questions": len(rows), "answerable": len(ans), "unanswerable": len(una),
        "answered_right": pct(sum(r["right"] for r in ans), len(ans)),
        "shown": pct(sum(r["shown"] for r in ans), len(ans)),
        "shown1": pct(sum(r.get("shown1", False) for r in ans), len(ans)),
        "quoted": pct(sum(r["quoted"] for r in ans), len(ans)),
        "wrong_answerable": pct(sum(r["wrong"] for r in ans), len(ans)),
        "wrong_all": pct(sum(r["wrong"] for r in rows), len(rows)),
        "unanswerable_not_answered": pct(sum(r["right"] for r in una), len(una)),
        "top1": at(1), "top3": at(3), "top10": at(10),
    }


COLUMNS = [("answered_right", "answered right"), ("shown", "shown (cited passage)"),
           ("shown1", "shown@1 (first cited passage)"), ("quoted", "quoted"),
           ("wrong_answerable", "confidently wrong (answerable)"), ("wrong_all", "confidently wrong (all replies)"),
           ("unanswerable_not_answered", "unanswerable not answered"),
           ("top1", "top-1 holds gold"), ("top3", "top-3"), ("top10", "top-10")]


def evaluate(root: str | Path, strictness: float | None = None,
             load: Any = None) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(summary per corpus and "all", every row). ``load(folder, strictness)`` makes the bot
    (default: through a saved index in a temporary folder, ``CorpusBots``), so tests can pass a
    cached one."""
    if load is None:
        with CorpusBots() as bots:
            return evaluate(root, strictness, bots)
    root = Path(root)
    summary: dict[str, dict[str, Any]] = {}
    all_rows: list[dict[str, Any]] = []
    for folder in corpora(root):
        questions = read_questions(folder / "questions.jsonl")
        bot = load(folder / "docs", strictness)
        rows = [dict(score(bot, q), corpus=folder.name) for q in questions]
        summary[folder.name] = summarize(rows)
        all_rows.extend(rows)
    summary["all"] = summarize(all_rows)
    return summary, all_rows


def table(summary: dict[str, dict[str, Any]]) -> str:
    head = "| corpus | questions | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, m in summary.items():
        cells = [f"{m[k]:.1f}%" if m[k] is not None else "-" for k, _ in COLUMNS]
        lines.append(f"| {name} | {m['questions']} ({m['answerable']}+{m['unanswerable']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def misses(rows: Iterable[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["right"] and not (r["answerable"] and not r["shown"]):
            continue
        what = ("WRONG" if r["wrong"] else r["support"])
        ans = r["answer"].replace("\n", " ")[:200]
        out.append(f"[{r['corpus']}] {what:7} {r['question']!r} gold={r['gold']!r} rank={r.get('gold_rank')} "
                   f"conf={r['confidence']:.2f} -> {ans}")
    return out


def main_realdocs(args: Any) -> int:
    with corpus_bots(args) as bots:
        summary, rows = evaluate(args.path, getattr(args, "strictness", None), bots)
    if getattr(args, "out", None):
        write_jsonl(rows, args.out)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(table(summary))
    if getattr(args, "misses", False):
        print()
        for line in misses(rows):
            print(line)
    sys.stdout.flush()
    return 0
