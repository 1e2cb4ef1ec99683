"""The speed claims the tests used to time, measured against peers in the same run.

    .venv/bin/python bench/bench_guards.py [--repeat 5] [--docs 1000]

The tests check the behaviour behind each claim (the work done: text cut before redaction, the
manifest's YAML read once, a saved index loaded without analyzing, the decision model read from
one JSON file); a timing limit there failed on a busy machine. Here each figure is the best of
``--repeat`` runs and is read as a ratio to a peer measured moments before or after it:

1. Redacting feedback: time at 2k, 4k, 8k and 16k characters of text built to be hard for it,
   beside the earlier unbounded e-mail pattern (``[\\w.+-]+@...``, quadratic: 15 s for 40k
   characters) on the same text. Each doubling of the length should double a linear cost (2x) and
   quadruple a quadratic one (4x). And ``FeedbackLog.record`` of 80k and 320k characters beside one
   of 4k: the text is cut first, so all three cost the same.
2. A manifest of 2,000 documents whose titles are aliases of one 5,000-character value, beside the
   same manifest with short literal titles, and beside the earlier way (each value re-serialized
   and parsed again, ``yaml.safe_load(yaml.serialize(node))``) on 200 of them.
3. Loading a saved index (``bot.index.indexer.build``, what ``python -m bot index`` runs) of the
   bundled corpus and of ``--docs`` generated Markdown files, beside loading the same folder, which
   reads and indexes it.
4. Loading the bundled decision model (``bundled_model``, cache cleared) beside ``json.loads`` of
   its file.
5. ``ChatBot.ask`` with hostile input (a 100 KB question, 60,000 ``<!--`` in the history, control
   characters, punctuation only) beside a plain question.

Not a test: machines are shared, compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OLD_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")  # before the fix: unbounded before "@"


def best(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms"


def hostile_text(n: int) -> str:
    """``n`` characters with no "@": every start position makes an unbounded e-mail pattern scan
    to the end."""
    return ("a" * (n // 2) + "\u2028" + "1 " * n)[:n]


def bench_redaction(repeat: int) -> None:
    from bot.serve import feedback

    print("## 1. Redacting feedback\n")
    print("| characters | redact (product) | x per doubling | earlier e-mail pattern alone | x per doubling |")
    print("|---|---|---|---|---|")
    prev = None
    for n in (2_000, 4_000, 8_000, 16_000):
        text = hostile_text(n)
        ours = best(lambda: feedback.redact(text), repeat)
        old = best(lambda: OLD_EMAIL.sub("[email]", text), max(1, repeat // 2))
        grow = ("-", "-") if prev is None else (f"{ours / prev[0]:.1f}x", f"{old / prev[1]:.1f}x")
        print(f"| {n:,} | {ms(ours)} | {grow[0]} | {ms(old)} | {grow[1]} |")
        prev = (ours, old)
    with tempfile.TemporaryDirectory() as tmp:
        log = feedback.FeedbackLog(Path(tmp) / "fb.jsonl")
        base = best(lambda: log.record(hostile_text(4_000), "an answer", True), repeat)
        print(f"\n`FeedbackLog.record` (cuts to {feedback.FEEDBACK_CHARS:,} characters first):\n")
        print("| question characters | time | ratio to 4,000 |")
        print("|---|---|---|")
        print(f"| 4,000 | {ms(base)} | 1.00x |")
        for n in (80_000, 320_000):
            t = best(lambda: log.record(hostile_text(n), "an answer", True), repeat)
            print(f"| {n:,} | {ms(t)} | {t / base:.2f}x |")
    print()


def bench_manifest(repeat: int) -> None:
    import yaml

    from bot.config import load_manifest

    print("## 2. A manifest of aliases\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        aliased = folder / "aliased" / "corpus.yaml"
        plain = folder / "plain" / "corpus.yaml"
        for f in (aliased, plain):
            f.parent.mkdir()
            (f.parent / "a.md").write_text("# A\n\nWidgets are blue.\n")
        aliased.write_text("\n".join(["name: &v " + "y" * 5000, "documents:"]
                                     + [f"  - {{path: a.md, id: d{i}, title: *v}}" for i in range(2000)]) + "\n")
        plain.write_text("\n".join(["name: plain", "documents:"]
                                   + [f"  - {{path: a.md, id: d{i}, title: t{i}}}" for i in range(2000)]) + "\n")
        t_plain = best(lambda: load_manifest(plain), repeat)
        t_alias = best(lambda: load_manifest(aliased), repeat)
        root = yaml.compose(aliased.read_text(), Loader=yaml.SafeLoader)
        docs = next(v for k, v in root.value if k.value == "documents").value[:200]
        titles = [next(v for k, v in d.value if k.value == "title") for d in docs]
        t_old = best(lambda: [yaml.safe_load(yaml.serialize(node)) for node in titles], max(1, repeat // 2))
    print("| manifest | time | ratio to short literal titles |")
    print("|---|---|---|")
    print(f"| 2,000 documents, short literal titles | {ms(t_plain)} | 1.00x |")
    print(f"| 2,000 documents, titles aliasing one 5,000-character value (product) | {ms(t_alias)} | "
          f"{t_alias / t_plain:.2f}x |")
    print(f"| earlier way: 200 of those titles re-serialized and parsed (values only) | {ms(t_old)} | "
          f"{t_old / t_plain:.2f}x (2,000: about {10 * t_old / t_plain:.0f}x) |")
    print()


def bench_saved_index(repeat: int, docs: int) -> None:
    from bot import ChatBot
    from bot.index import indexer

    print("## 3. Loading a saved index\n")
    print("| corpus | load the folder (read, split, analyze, index) | load its saved index (product) | ratio |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        bundled = Path(shutil.copytree(ROOT / "corpus", Path(tmp) / "corpus"))  # a copy: not the cached default bot
        for name, corpus in (("the bundled article", bundled), (f"{docs:,} generated Markdown files",
                                                                write_documents(Path(tmp) / "generated", docs))):
            out = Path(tmp) / f"index-{corpus.name}"
            indexer.build([corpus], out)
            t_folder = best(lambda: ChatBot.load(corpus), max(1, repeat // 2))
            t_saved = best(lambda: ChatBot.load(out), repeat)
            print(f"| {name} | {ms(t_folder)} | {ms(t_saved)} | {t_saved / t_folder:.2f}x |")
    print()


def write_documents(folder: Path, n: int) -> Path:
    """``n`` Markdown files of a few sections of sentences over a 3,000-word made-up vocabulary."""
    import random

    rng = random.Random(0)
    vocab = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))
             for _ in range(3000)]
    folder.mkdir(parents=True)
    for i in range(n):
        parts = [f"# Document {i}"]
        for j in range(3):
            parts.append(f"## Section {j} of {rng.choice(vocab)}")
            parts.append(" ".join(" ".join(rng.choices(vocab, k=rng.randint(6, 14))).capitalize() + "."
                                  for _ in range(rng.randint(3, 6))))
        (folder / f"d{i}.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return folder


def bench_decision_model(repeat: int) -> None:
    from importlib import resources

    from bot.answer import decide

    print("## 4. Loading the decision model\n")
    path = resources.files(decide.__package__).joinpath(decide.MODEL_FILE)

    def load() -> None:
        decide.bundled_model.cache_clear()
        decide.bundled_model()

    t_json = best(lambda: json.loads(path.read_text("utf-8")), repeat * 20)
    t_model = best(load, repeat * 20)
    decide.bundled_model.cache_clear()
    print("| load | time | ratio to json.loads |")
    print("|---|---|---|")
    print(f"| read and `json.loads` of {decide.MODEL_FILE} | {ms(t_json)} | 1.00x |")
    print(f"| `bundled_model()` (product: read, parse, check) | {ms(t_model)} | {t_model / t_json:.2f}x |")
    print()


def bench_hostile_asks(repeat: int) -> None:
    from bot import ChatBot

    print("## 5. Answering hostile input\n")
    bot = ChatBot.load()
    cases = [
        ("plain question", "what is a VAE", None),
        ("100 KB question", "what is a VAE " * 7_200, None),
        ("60,000 `<!--` in the history", "what is a VAE", [{"role": "user", "content": "<!--" * 60_000}]),
        ("control characters", "what\x00 is\x1b[31m a\x07 VAE\x7f" * 50, None),
        ("punctuation only", "?!.,;:-" * 2_000, None),
    ]
    bot.ask("what is a VAE")  # warm caches
    base = None
    print("| input | time | ratio to a plain question |")
    print("|---|---|---|")
    for name, question, history in cases:
        t = best(lambda: bot.ask(question, history), repeat)
        base = base or t
        print(f"| {name} | {ms(t)} | {t / base:.2f}x |")
    print()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--docs", type=int, default=1000, help="generated Markdown files for the saved-index load")
    args = ap.parse_args()
    bench_redaction(args.repeat)
    bench_manifest(args.repeat)
    bench_saved_index(args.repeat, args.docs)
    bench_decision_model(args.repeat)
    bench_hostile_asks(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
