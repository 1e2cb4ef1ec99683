"""``python -m bot eval squad FILE``: crowd-written questions about documents nobody here wrote.

SQuAD 2.0 layout (``data[].title``, ``paragraphs[].context``, ``qas[]`` with ``is_impossible``).
Each article becomes its own corpus (a Markdown document: the title as its heading, one paragraph
a block), built through the same loader and index as ``--corpus``, and every question of the
article is asked with ``ChatBot.ask``, as a person asks about their own document. Per question:

- answerable: *answered right* when the reply has support ``answer`` and a gold answer text lies
  inside one of its quotes; *shown* when an ``answer`` or ``closest`` reply quotes a gold answer;
- unanswerable: right when the reply has no ``answer`` support (``closest`` or ``none``).

Two reference rows are measured in the same run: always abstaining, and answering every question
with plain BM25's top sentence of the article.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from bot.text.analyze import terms
from bot.eval import CorpusBots, corpus_bots
from bot.config import MANIFEST, CorpusError
from bot.index.engines import LuceneBM25

_WS = re.compile(r"\s+")


@dataclass
class SquadQuestion:
    qid: str
    question: str
    answers: list[str]
    impossible: bool


@dataclass
class SquadArticle:
    title: str
    paragraphs: list[str]
    questions: list[SquadQuestion] = field(default_factory=list)


def read_squad(path: str | Path) -> list[SquadArticle]:
    """Articles of a SQuAD 2.0 JSON file, with a clear message for a file that is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorpusError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise CorpusError(f"{path}: expected SQuAD 2.0 JSON: an object with a 'data' list of articles")
    out = []
    for i, art in enumerate(data["data"]):
        if not isinstance(art, dict) or not isinstance(art.get("paragraphs"), list):
            raise CorpusError(f"{path}: data[{i}] needs a 'paragraphs' list")
        a = SquadArticle(str(art.get("title") or f"article {i + 1}").replace("_", " "), [])
        for j, par in enumerate(art["paragraphs"]):
            if not isinstance(par, dict) or not isinstance(par.get("context"), str):
                raise CorpusError(f"{path}: data[{i}].paragraphs[{j}] needs a 'context' string")
            a.paragraphs.append(par["context"])
            for qa in par.get("qas") or []:
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
                    raise CorpusError(f"{path}: data[{i}].paragraphs[{j}] has a question without text")
                golds = [x.get("text", "") for x in qa.get("answers") or [] if isinstance(x, dict)]
                a.questions.append(SquadQuestion(str(qa.get("id", "")), qa["question"],
                                                 [g for g in golds if g.strip()], bool(qa.get("is_impossible"))))
        out.append(a)
    return out


def write_corpus(article: SquadArticle, folder: Path) -> Path:
    """The article as a corpus folder: one Markdown document, title heading, one paragraph a block."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "\n\n".join(_WS.sub(" ", p).strip() for p in article.paragraphs)
    (folder / "article.md").write_text(f"# {article.title}\n\n{body}\n", encoding="utf-8")
    manifest = {"name": article.title, "documents": [{"path": "article.md", "title": article.title}]}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")  # JSON is YAML
    return folder


def _fold(s: str) -> str:
    return _WS.sub(" ", s).strip().lower()


def quotes_gold(quotes: Iterable[str], golds: Iterable[str]) -> bool:
    qs = [_fold(q) for q in quotes]
    return any(_fold(g) in q for g in golds for q in qs if g.strip())


@dataclass
class Tally:
    answerable: int = 0
    right: int = 0
    shown: int = 0
    false_abstain: int = 0
    unanswerable: int = 0
    abstained: int = 0

    def add(self, other: "Tally") -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def row(self) -> dict[str, float]:
        a, u = max(self.answerable, 1), max(self.unanswerable, 1)
        total = max(self.answerable + self.unanswerable, 1)
        return {"questions": self.answerable + self.unanswerable,
                "answerable_right": 100 * self.right / a, "answerable_shown": 100 * self.shown / a,
                "false_abstentions": 100 * self.false_abstain / a,
                "unanswerable_abstained": 100 * self.abstained / u,
                "overall": 100 * (self.right + self.abstained) / total}


def score_reply(q: SquadQuestion, reply: Any, t: Tally) -> dict[str, Any]:
    """Count one reply; returns the per-question record."""
    quotes = [x for c in reply.citations for x in c.quotes]
    hit = quotes_gold(quotes, q.answers)
    support = reply.support
    if q.impossible:
        t.unanswerable += 1
        ok = support != "answer"
        t.abstained += ok
    else:
        t.answerable += 1
        ok = support == "answer" and hit
        t.right += ok
        t.shown += support in ("answer", "closest") and hit
        t.false_abstain += support != "answer"
    return {"id": q.qid, "question": q.question, "impossible": q.impossible, "answers": q.answers[:3],
            "support": support, "confidence": reply.confidence, "quotes_gold": hit, "right": bool(ok),
            "answer": reply.answer}


def _bm25_top_sentence(article: SquadArticle, bot: Any, t: Tally) -> None:
    """Reference: answer every question with plain BM25's best sentence of the article."""
    sents = [s.text for p in bot.index.passages for s in p.sentences]
    bm = LuceneBM25([terms(s) for s in sents])
    for q in article.questions:
        qt = terms(q.question)
        scores = bm.get_scores(qt) if qt else None
        best = sents[int(scores.argmax())] if scores is not None and len(sents) else ""
        if q.impossible:
            t.unanswerable += 1
        else:
            t.answerable += 1
            if quotes_gold([best], q.answers):
                t.right += 1
                t.shown += 1


def run(articles: list[SquadArticle], strictness: float | None = None,
        progress: Callable[[str], None] | None = None, records: list | None = None,
        bots: CorpusBots | None = None) -> dict[str, Any]:
    """Ask every question of every article against its own corpus; tables per article and total.
    ``bots`` makes each article's bot from its folder (default: through a saved index, as a user
    indexes their document; ``CorpusBots(from_folder=True)`` reads it in memory)."""
    rows, total, never, bm25 = [], Tally(), Tally(), Tally()
    with tempfile.TemporaryDirectory(prefix="squad-") as tmp, (bots or CorpusBots()) as make:
        for n, art in enumerate(articles):
            bot = make(write_corpus(art, Path(tmp) / f"a{n}"), strictness)
            t = Tally()
            for q in art.questions:
                rec = score_reply(q, bot.ask(q.question), t)
                if records is not None:
                    rec["article"] = art.title
                    records.append(rec)
            a = Tally(answerable=t.answerable, unanswerable=t.unanswerable, false_abstain=t.answerable,
                      abstained=t.unanswerable)
            never.add(a)
            _bm25_top_sentence(art, bot, bm25)
            total.add(t)
            rows.append({"article": art.title, **t.row()})
            if progress:
                progress(f"{art.title}: overall {t.row()['overall']:.1f}%")
    return {"articles": rows, "total": total.row(), "always_abstain": never.row(), "bm25_top_sentence": bm25.row()}


COLUMNS = [("questions", "questions", "{:.0f}"), ("answerable_right", "answerable answered right", "{:.1f}%"),
           ("answerable_shown", "answerable shown", "{:.1f}%"), ("false_abstentions", "false abstentions", "{:.1f}%"),
           ("unanswerable_abstained", "unanswerable abstained", "{:.1f}%"), ("overall", "overall", "{:.1f}%")]


def format_table(result: dict[str, Any]) -> str:
    head = "| | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]

    def line(name: str, row: dict[str, float]) -> str:
        return f"| {name} | " + " | ".join(fmt.format(row[k]) for k, _, fmt in COLUMNS) + " |"

    for r in result["articles"]:
        lines.append(line(r["article"], r))
    lines.append(line("**total**", result["total"]))
    lines.append(line("always abstain (reference)", result["always_abstain"]))
    lines.append(line("BM25 top sentence, always answer (reference)", result["bm25_top_sentence"]))
    return "\n".join(lines)


def main_squad(args: Any) -> int:
    """``python -m bot eval squad FILE [--strictness S] [--json] [--out run.jsonl]``."""
    articles = read_squad(args.path)
    records: list[dict[str, Any]] = []
    progress = (lambda msg: print(msg, file=sys.stderr)) if sys.stderr.isatty() else None
    result = run(articles, strictness=args.strictness, progress=progress, records=records, bots=corpus_bots(args))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    strict = "default" if args.strictness is None else f"{args.strictness:g}"
    print(f"SQuAD 2.0 file {args.path}: {len(articles)} articles, {result['total']['questions']:.0f} questions, "
          f"strictness {strict}")
    print(format_table(result))
    return 0
