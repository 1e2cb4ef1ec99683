"""``python -m bot``: ask questions, list the glossary, run gold-set evaluations.

Never imports gradio (that alone costs seconds): the page lives in ``bot.ui``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

from bot.config import CorpusError, setting_arg
from bot.model import Citation, Reply
from bot.answer.render import jsonl, mark_quotes, plain_markdown, printable, term

_BOLD, _RESET = "\033[1m", "\033[0m"


def _bot(corpus: str | None, rebuild: bool = False, strictness: float | None = None):
    from bot.chatbot import ChatBot

    if rebuild:
        from bot.index import indexer

        indexer.refresh(corpus)
    bot = ChatBot.load(corpus, strictness=strictness)
    if not bot.saved_index:  # a saved index reported its skipped files when it was built
        for problem in bot.problems:
            print(f"warning: {term(problem, one_line=True)}", file=sys.stderr)
    return bot


def quotes_marked(c: Citation, tty: bool) -> str:
    """The passage with each quoted sentence marked (bold on a terminal, «…» otherwise)."""
    return mark_quotes(term(c.passage), [term(q) for q in c.quotes],
                       (lambda s: f"{_BOLD}{s}{_RESET}") if tty else (lambda s: f"«{s}»"))


def format_reply(reply: Reply, tty: bool = False, width: int = 100) -> str:
    lines = []
    if reply.support == "closest":
        tag = "NOT A CONFIRMED ANSWER: the closest passages, for you to judge."
        lines += [f"{_BOLD}{tag}{_RESET}" if tty else tag, ""]
    for para in term(plain_markdown(reply.answer)).split("\n"):
        lines.append(textwrap.fill(para, width, subsequent_indent="  " if para.startswith("- ") else ""))
    if reply.citations:
        lines += ["", f"Support: {reply.support} (confidence {reply.confidence:.0%})"]
        lines += ["", "Sources:"]
        for c in reply.citations:
            lines.append(f"[{c.id}] {term(c.title, True)}")
            credit = ", ".join(term(x, True) for x in (c.author, c.published) if x)
            lines.append(f"    {term(c.doc_title, True)}" + (f" ({credit})" if credit else "") + f" - {term(c.source, True)}")
            lines.append(textwrap.fill(quotes_marked(c, tty), width, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def _parse_line(line: str, lineno: int) -> tuple[str | None, Any, str | None]:
    """(question, history, error) for one JSON Lines input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, None, f"line {lineno}: JSON nested too deeply"
    except ValueError as exc:  # e.g. an integer with thousands of digits
        return None, None, f"line {lineno}: unreadable JSON value ({str(exc)[:80]})"
    if isinstance(obj, str):
        return obj, None, None
    if not isinstance(obj, dict):
        return None, None, f"line {lineno}: expected an object like {{\"question\": \"...\"}}"
    q = obj.get("question")
    if not isinstance(q, str):
        return None, None, f"line {lineno}: 'question' must be a string"
    history = obj.get("history")
    if history is not None and not isinstance(history, list):
        return None, None, f"line {lineno}: 'history' must be a list of messages"
    return q, history, None


def _ask_stream(bot: Any, stream: TextIO, out: TextIO, as_json: bool) -> int:
    bad = 0
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        if as_json:
            q, history, err = _parse_line(line, lineno)
        else:
            q, history, err = line.rstrip("\n"), None, None
        if err is not None:
            bad += 1
            obj = {"question": None, "answer": f"Skipped {err}.", "abstained": True, "support": "none",
                   "confidence": 0.0, "citations": [], "error": err}
            out.write(jsonl(obj) + "\n")
            out.flush()
            continue
        try:
            reply = bot.ask(q, history)
        except RecursionError:
            bad += 1
            err = f"line {lineno}: history nested too deeply"
            out.write(jsonl({"question": printable(q), "answer": f"Skipped {err}.", "abstained": True,
                                  "support": "none", "confidence": 0.0, "citations": [], "error": err}) + "\n")
            out.flush()
            continue
        q = printable(q)
        if as_json:
            out.write(jsonl(reply.to_dict(q)) + "\n")
        else:
            out.write(f"> {term(q, True)}\n{format_reply(reply)}\n\n")
        out.flush()
    if bad:
        print(f"{bad} input line(s) skipped (see their 'error' field).", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    bot = _bot(args.corpus, args.rebuild, args.strictness)
    if args.question:
        q = " ".join(args.question)
        history = None
        if args.history:
            try:
                history = json.loads(args.history)
            except json.JSONDecodeError as exc:
                print(f"--history is not valid JSON: {exc.msg}", file=sys.stderr)
                return 2
            except (RecursionError, ValueError):
                print("--history is not usable JSON (nested too deeply or a value too large)", file=sys.stderr)
                return 2
        reply = bot.ask(q, history)
        q = printable(q)
        if args.json:
            print(jsonl(reply.to_dict(q)))
        else:
            print(format_reply(reply, tty=sys.stdout.isatty()))
        return 0
    if sys.stdin.isatty():
        print("Type a question per line (Ctrl-D to end).", file=sys.stderr)
    return _ask_stream(bot, sys.stdin, sys.stdout, args.json)


def _sentences_mismatch(out: Path) -> str | None:
    """Where a checked index's passages point outside its sentences files (``index --verify``)."""
    from bot.index import store

    try:
        _, _, index, _ = store.load(out, check_stale=False)
    except CorpusError as exc:
        return str(exc)
    passages = index.passages
    sentences = getattr(passages, "sentences", None)
    if sentences is None:
        return None
    bad = sentences.mismatch(passages.a["sent_at"], passages.a["sent_n"])
    return None if bad is None else f"{out}: passage {bad}'s sentences are not in the index's sentences files"


def cmd_index(args: argparse.Namespace) -> int:
    import time

    from bot.index import indexer
    from bot.index import layout
    from bot.sources.ingest import progress_bar

    t0 = time.perf_counter()
    out = Path(args.out)
    if args.verify:
        header = layout.read_header(out)
        problem = layout.damage(out, header, full=True) or _sentences_mismatch(out)
        if problem:
            print(f"Damaged: {problem}; repair it with {layout.repair_command(out, header)} --full", file=sys.stderr)
            return 1
        print(f"Verified: {len(header.get('files') or {}):,} files match the sizes and checksums recorded "
              f"when they were written -> {args.out}")
        return 0
    if not args.sources:
        print("error: name the files or folders to index (or pass --verify to check an index)", file=sys.stderr)
        return 2
    if not args.full and layout.is_index(out):
        same_engine = args.engine in ("auto", layout.read_header(out).get("engine"))
        r = indexer.update(out, args.sources, progress_bar("Reading")) if same_engine else None
        if r is not None and r.full is None:
            secs = time.perf_counter() - t0
            if not r.touched:
                print(f"Up to date: no source file changed ({r.documents:,} documents, {r.passages:,} passages) "
                      f"-> {args.out}")
            else:
                again = f"; {r.reanalyzed:,} other documents re-analyzed (acronyms changed)" if r.reanalyzed else ""
                print(f"Updated in {secs:.1f} s: {len(r.changed)} changed, {len(r.added)} added, "
                      f"{len(r.removed)} removed files{again} -> {r.documents:,} documents, "
                      f"{r.passages:,} passages in {args.out}")
            _print_problems(r.problems)
            return 0
        print(f"Building anew: {r.full if r is not None else 'another engine was asked for'}.")
    manifest, docs, index, problems = indexer.build(args.sources, args.out, progress_bar("Reading"),
                                                  engine=args.engine, workers=args.workers,
                                                  index_progress=progress_bar("Indexing", "doc"))
    secs = time.perf_counter() - t0
    engine = layout.read_header(args.out).get("engine")
    print(f"Indexed {len(docs):,} documents as {len(index.passages):,} passages "
          f"({len(index.vocabulary):,} terms, {len(index.glossary)} acronyms, {engine} engine) in {secs:.1f} s "
          f"-> {args.out}")
    _print_problems(problems)
    print(f"Ask it: python -m bot ask \"...\" --corpus {args.out}")
    return 0


def _print_problems(problems: Sequence[str]) -> None:
    if problems:
        print(f"Skipped {len(problems)}:")
        for p in problems:
            print(f"  - {term(p, one_line=True)}")


MAX_K = 1000


def _search_one(bot: Any, query: str, k: int) -> dict[str, Any]:
    return {"query": printable(query), "results": bot.search(query, k)}


def cmd_search(args: argparse.Namespace) -> int:
    bot = _bot(args.corpus, args.rebuild)
    if not 1 <= args.k <= MAX_K:
        print(f"-k must be between 1 and {MAX_K}, got {args.k}", file=sys.stderr)
        return 2
    if args.query:
        res = _search_one(bot, " ".join(args.query), args.k)
        if args.json:
            print(jsonl(res))
        else:
            for r in res["results"]:
                print(f"{r['rank']:>3}. {r['score']:8.3f}  {term(r['doc_id'], True)}  {term(r['title'], True)}")
                print(textwrap.indent(textwrap.shorten(term(r["passage"], True), 200), "      "))
            if not res["results"]:
                print("(no matching passages)")
        return 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line) if args.json else line.strip()
            query = obj.get("query", obj.get("question")) if isinstance(obj, dict) else obj
            if not isinstance(query, str):
                raise ValueError("needs a 'query' string")
            out = _search_one(bot, query, args.k)
        except RecursionError:
            out = {"query": None, "results": [], "error": f"line {lineno}: JSON nested too deeply"}
        except ValueError as exc:
            out = {"query": None, "results": [], "error": f"line {lineno}: {str(exc)[:200]}"}
        print(jsonl(out), flush=True)
    return 0


def cmd_glossary(args: argparse.Namespace) -> int:
    bot = _bot(args.corpus, args.rebuild)
    entries = bot.index.glossary.entries
    if args.json:
        print(jsonl([e.to_dict() for e in entries]))
    else:
        for e in entries:
            print(f"{term(e.short, True):12} {term(e.long, True)}")
        if not entries:
            print("(no acronyms found in this corpus)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.eval import gold as evaluate

    if args.what == "gold":
        return evaluate.main_gold(args)
    if args.what == "beir":
        from bot.eval import beir as evaluate_beir

        return evaluate_beir.main_beir(args)
    if args.what == "wikiqa":
        from bot.eval import wikiqa as evaluate_wikiqa

        return evaluate_wikiqa.main_wikiqa(args)
    if args.what == "squad":
        from bot.eval import squad as evaluate_squad

        return evaluate_squad.main_squad(args)
    if args.what == "realdocs":
        from bot.eval import realdocs as evaluate_realdocs

        return evaluate_realdocs.main_realdocs(args)
    if args.what == "followups":
        from bot.eval import followups as evaluate_followups

        return evaluate_followups.main_followups(args)
    print(f"unknown evaluation '{args.what}'", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Answers questions only from its sources.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ask", help="answer a question (or JSON Lines on stdin)")
    a.add_argument("question", nargs="*", help="the question; omit to read one per line from stdin")
    a.add_argument("--json", action="store_true", help="print JSON (JSON Lines for stdin input)")
    a.add_argument("--history", help="earlier messages as a JSON list of {role, content}")
    a.add_argument("--corpus", help="corpus folder or saved index (default: the bundled corpus/)")
    a.add_argument("--rebuild", action="store_true", help="rebuild a saved index whose sources changed or whose files are damaged")
    a.add_argument("--strictness", type=setting_arg("strictness"), default=None,
                   help="0..1: how sure the bot must be to answer (default: the corpus setting, 0.5)")
    a.set_defaults(func=cmd_ask)
    ix = sub.add_parser("index", help="read files and folders (.md .txt .html .pdf .jsonl) into a saved index")
    ix.add_argument("sources", nargs="*", help="files or folders (a folder with corpus.yaml uses its manifest)")
    ix.add_argument("--out", required=True, help="folder to write the index to")
    from bot.index.names import ENGINES  # the names only: no engine is imported

    ix.add_argument("--engine", choices=["auto", *ENGINES], default="auto",
                    help="retrieval engine: postings (exact rank-bm25 scores, in memory) or tantivy (large "
                         "corpora, built in parallel); auto picks tantivy above 50,000 passages")
    ix.add_argument("--workers", type=int, default=None,
                    help="worker processes for the tantivy build (default: one per CPU core)")
    ix.add_argument("--full", action="store_true",
                    help="build anew even when --out holds an index of these sources (by default only files "
                         "whose size, time or content changed are read again)")
    ix.add_argument("--verify", action="store_true",
                    help="check every file of the index at --out against the size and checksum recorded when it "
                         "was written (loading checks sizes only), then exit; no sources are read")
    ix.set_defaults(func=cmd_index)
    se = sub.add_parser("search", help="retrieval only: ranked passages for a query (or JSON Lines on stdin)")
    se.add_argument("query", nargs="*")
    se.add_argument("-k", type=int, default=10, help="how many passages (default 10)")
    se.add_argument("--json", action="store_true")
    se.add_argument("--corpus", help="corpus folder or saved index")
    se.add_argument("--rebuild", action="store_true")
    se.set_defaults(func=cmd_search)
    g = sub.add_parser("glossary", help="acronyms and long forms mined from the corpus")
    g.add_argument("--corpus")
    g.add_argument("--json", action="store_true")
    g.add_argument("--rebuild", action="store_true")
    g.set_defaults(func=cmd_glossary)
    e = sub.add_parser("eval", help="evaluate on a gold question set")
    e.add_argument("what", choices=["gold", "beir", "wikiqa", "squad", "realdocs", "followups"],
                   help="gold: a gold question set; beir: BM25 retrieval on a BEIR folder; "
                        "wikiqa: sentence selection and abstention on a WikiQA TSV; "
                        "squad: answer / closest / none on a SQuAD 2.0 JSON file, each article its own corpus; "
                        "realdocs: documentation folders (docs/ + questions.jsonl) with gold substrings; "
                        "followups: two-turn conversations (a YAML set), the follow-up scored")
    e.add_argument("path", help="gold set YAML, BEIR folder, WikiQA TSV or SQuAD 2.0 JSON file")
    e.add_argument("--strictness", type=setting_arg("strictness"), default=None,
                   help="squad, gold: 0..1, how sure the bot must be to answer (default 0.5)")
    e.add_argument("--corpus", help="gold: corpus folder")
    e.add_argument("--json", action="store_true")
    e.add_argument("--split", default="test", help="beir: qrels split (default test)")
    # defaults chosen on SciFact's train qrels with tuning/tune_beir.py
    e.add_argument("--k1", type=float, default=1.5, help="beir: BM25 k1 (default 1.5)")
    e.add_argument("--b", type=float, default=0.6, help="beir: BM25 b (default 0.6)")
    e.add_argument("--title-weight", type=int, default=2, help="beir: times the title is counted (default 2)")
    e.add_argument("--out", help="wikiqa, squad, realdocs, followups: write one JSON line per question here")
    e.add_argument("--misses", action="store_true",
                   help="realdocs: list every question not answered right; followups: list every conversation")
    e.add_argument("--realdocs", help="followups: the realdocs set's folder, for conversations over its corpora")
    e.add_argument("--from-folder", action="store_true",
                   help="realdocs, squad, followups: read each corpus folder and answer from it in memory, instead "
                        "of through a saved index (`python -m bot index FOLDER --out IDX`, as users do)")
    e.add_argument("--index-dir", metavar="DIR",
                   help="realdocs, squad, followups: where to keep the saved indexes (default: a temporary folder, "
                        "removed afterwards); kept ones are updated by the next run")
    e.set_defaults(func=cmd_eval)
    return p


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    try:
        return args.func(args)
    except CorpusError as exc:
        print(f"error: {term(exc, one_line=True)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        what = f"; the index at {term(args.out, True)} is as it was" if getattr(args, "command", "") == "index" else ""
        print(f"interrupted{what}", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a folder that cannot be written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error:{term(where, True)}: {exc.strerror or exc}", file=sys.stderr)
        return 2
