"""``python -m bot eval followups FILE``: two-turn conversations, the second turn an elliptical follow-up.

A conversation (``eval/followups.yaml``) names a corpus, a first question and a follow-up that only
makes sense against the first one's subject ("what is a French press?" -> "and how is it cleaned?"). The
first question is asked, its reply goes into the history, then the follow-up is asked through
``ChatBot.ask(question, history)``, as every front end does.

Scoring of the follow-up (the realdocs rule for phrases: lower case, Markdown backticks and
escapes dropped, whitespace folded):

- answerable: *answered right* (support ``answer`` and every ``expect`` phrase in the answer);
  *shown as closest* (support ``closest`` and the phrases in the reply or a passage it cites);
  *wrong* (support ``answer`` without the phrases: an answer, but not to this question);
- not answerable: right when not answered (``closest`` or ``none``); an ``answer`` is wrong.

Corpora are either a folder (``path``, relative to the YAML file) or a folder of the open realdocs
set (``realdocs: p``), read from ``--realdocs DIR`` at evaluation time and never copied.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from bot.config import CorpusError, yaml_error
from bot.eval import CorpusBots, corpus_bots, write_jsonl
from bot.eval.realdocs import contains


@dataclass(frozen=True)
class Conversation:
    corpus: str
    first: str
    q: str
    answerable: bool
    expect: tuple[str, ...] = field(default_factory=tuple)


def load_followups(path: str | Path) -> tuple[dict[str, dict[str, str]], list[Conversation]]:
    """(corpora by name, conversations) from a follow-up set; errors name the file and item."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
        raise CorpusError(f"{path}: expected a mapping with a 'conversations' list")
    corpora = data.get("corpora") or {}
    if not isinstance(corpora, dict):
        raise CorpusError(f"{path}: 'corpora' must map names to {{path: ...}} or {{realdocs: ...}}")
    for name, spec in corpora.items():
        if not isinstance(spec, dict) or not (isinstance(spec.get("path"), str) or isinstance(spec.get("realdocs"), str)):
            raise CorpusError(f"{path}: corpora.{name} needs a 'path' or a 'realdocs' folder name")
    out = []
    for i, raw in enumerate(data["conversations"]):
        if not isinstance(raw, dict):
            raise CorpusError(f"{path}: conversations[{i}] must be a mapping")
        for key in ("corpus", "first", "q"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CorpusError(f"{path}: conversations[{i}] needs a '{key}' string")
        if raw["corpus"] not in corpora:
            raise CorpusError(f"{path}: conversations[{i}] names corpus '{raw['corpus']}', not in 'corpora'")
        if not isinstance(raw.get("answerable"), bool):
            raise CorpusError(f"{path}: conversations[{i}] needs 'answerable: true' or 'false'")
        expect = tuple(str(e) for e in raw.get("expect") or [])
        if raw["answerable"] and not expect:
            raise CorpusError(f"{path}: conversations[{i}] is answerable and needs 'expect' phrases")
        out.append(Conversation(raw["corpus"], raw["first"], raw["q"], raw["answerable"], expect))
    return {n: dict(s) for n, s in corpora.items()}, out


def corpus_folder(spec: dict[str, str], base: Path, realdocs: str | Path | None) -> Path:
    if "path" in spec:
        return (base / spec["path"]).resolve()
    if realdocs is None:
        raise CorpusError(f"corpus realdocs:{spec['realdocs']} needs --realdocs DIR (the realdocs set)")
    folder = Path(realdocs) / spec["realdocs"] / "docs"
    if not folder.is_dir():
        raise CorpusError(f"{folder}: not a folder (is --realdocs the realdocs set?)")
    return folder


def score(bot: Any, conv: Conversation) -> dict[str, Any]:
    """Ask the first question, then the follow-up with the history; score the follow-up."""
    first = bot.ask(conv.first)
    history = [{"role": "user", "content": conv.first}, {"role": "assistant", "content": first.answer}]
    reply = bot.ask(conv.q, history)
    answered = reply.support == "answer"
    row: dict[str, Any] = {"corpus": conv.corpus, "first": conv.first, "q": conv.q,
                           "answerable": conv.answerable, "expect": list(conv.expect),
                           "first_support": first.support, "support": reply.support,
                           "confidence": reply.confidence, "answer": reply.answer,
                           "cited": [c.title for c in reply.citations]}
    if conv.answerable:
        seen = reply.answer + " " + " ".join(f"{c.title} {c.passage}" for c in reply.citations)
        row["right"] = answered and all(contains(reply.answer, e) for e in conv.expect)
        row["closest"] = reply.support == "closest" and all(contains(seen, e) for e in conv.expect)
        row["wrong"] = answered and not row["right"]
    else:
        row["right"] = not answered
        row["closest"] = False
        row["wrong"] = answered
    return row


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    return {
        "conversations": len(rows), "answerable": len(ans), "unanswerable": len(una),
        "answered_right": sum(r["right"] for r in ans),
        "shown_as_closest": sum(r["closest"] for r in ans),
        "wrong_answerable": sum(r["wrong"] for r in ans),
        "unanswerable_not_answered": sum(r["right"] for r in una),
        "wrong_unanswerable": sum(r["wrong"] for r in una),
        "wrong_all": sum(r["wrong"] for r in rows),
    }


def evaluate(path: str | Path, realdocs: str | Path | None = None,
             load: Callable[[Path], Any] | None = None) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(summary per corpus and "all", every row). ``load(folder)`` makes a bot (default: through
    a saved index in a temporary folder, ``CorpusBots``), so tests can pass their own."""
    if load is None:
        with CorpusBots() as bots:
            return evaluate(path, realdocs, bots)
    path = Path(path)
    corpora, convs = load_followups(path)
    bots: dict[str, Any] = {}
    rows = []
    for conv in convs:
        if conv.corpus not in bots:
            bots[conv.corpus] = load(corpus_folder(corpora[conv.corpus], path.parent, realdocs))
        rows.append(score(bots[conv.corpus], conv))
    summary = {name: summarize([r for r in rows if r["corpus"] == name])
               for name in corpora if any(r["corpus"] == name for r in rows)}
    summary["all"] = summarize(rows)
    return summary, rows


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| corpus | conversations | follow-up answered right | shown as closest | wrong (answerable) "
             "| unanswerable not answered | wrong answers, all |", "|---|---|---|---|---|---|---|"]
    for name, m in summary.items():
        lines.append(f"| {name} | {m['conversations']} ({m['answerable']}+{m['unanswerable']}) "
                     f"| {m['answered_right']}/{m['answerable']} | {m['shown_as_closest']}/{m['answerable']} "
                     f"| {m['wrong_answerable']}/{m['answerable']} "
                     f"| {m['unanswerable_not_answered']}/{m['unanswerable']} | {m['wrong_all']}/{m['conversations']} |")
    return "\n".join(lines)


def rows_text(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        what = "right" if r["right"] else ("WRONG" if r["wrong"] else ("closest" if r["closest"] else r["support"]))
        ans = r["answer"].replace("\n", " ")[:160]
        out.append(f"[{r['corpus']}] {what:7} {r['first']!r} -> {r['q']!r} ({r['support']} "
                   f"{r['confidence']:.2f}) -> {ans}")
    return out


def main_followups(args: Any) -> int:
    with corpus_bots(args) as bots:
        summary, rows = evaluate(args.path, getattr(args, "realdocs", None), bots)
    if getattr(args, "out", None):
        write_jsonl(rows, args.out)
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=2))
        return 0
    print(table(summary))
    if getattr(args, "misses", False):
        print()
        for line in rows_text(rows):
            print(line)
    return 0
