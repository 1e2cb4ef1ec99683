"""Gold-set figures for a grid of responder settings (the chat's side of threshold choices).

    .venv/bin/python tuning/tune_gold.py passage_support=1,0.8 [sentence_support=0,0.5]
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from grid import combos  # noqa: E402
from bot import ChatBot  # noqa: E402
from bot.answer.decide import DecisionSettings  # noqa: E402
from bot.eval.gold import evaluate, load_gold  # noqa: E402
from bot.answer.respond import Responder  # noqa: E402
from bot.answer.support import RuleSettings  # noqa: E402


def main() -> None:
    second = HERE / "second-corpus"
    sets = [("article", ChatBot.load(), load_gold(HERE / "article.yaml")[1]),
            ("second", ChatBot.load(second), load_gold(HERE / "second.yaml")[1])]
    for combo in combos(sys.argv[1:]):
        rules = RuleSettings(**{name.lower(): v for name, v in combo})
        row = []
        for label, bot, items in sets:
            bot.responder = Responder(bot.index, top_k=bot.settings.answer.top_k, rules=rules,
                                      decision=DecisionSettings(strictness=bot.settings.answer.strictness))
            m = evaluate(bot, items)["metrics"]
            row.append(f"{label}: correct {m['answers_correct']:.3f} abst-recall {m['abstention_recall']:.3f} "
                       f"false-abst {m['false_abstention']:.3f}")
        print(", ".join(f"{n}={v}" for n, v in combo) + " | " + " | ".join(row), flush=True)


if __name__ == "__main__":
    main()
