"""Study WikiQA answer triggering on train (and dev) to choose the abstention threshold.

    .venv/bin/python tuning/tune_wikiqa.py ../shared/eval-data/wikiqa/WikiQACorpus

Reads WikiQA-train.txt (question, sentence, label; no page titles) and WikiQA-dev.tsv from there;
writes nothing. Prints MAP and triggering figures for a range of support thresholds.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grid import combos  # noqa: E402
from bot.eval.wikiqa import WikiQuestion, metrics, read_tsv, run  # noqa: E402
from bot.answer.support import RuleSettings  # noqa: E402


def read_train(folder: Path) -> list[WikiQuestion]:
    out: dict[str, WikiQuestion] = {}
    with (folder / "WikiQA-train.txt").open(encoding="utf-8") as f, \
            (folder / "WikiQA-train.ref").open(encoding="utf-8") as ref:
        for line, r in zip(f, ref):
            q, sent, label = line.rstrip("\n").split("\t")
            qid, _, idx, _ = r.split()
            wq = out.setdefault(qid, WikiQuestion(qid, q, ""))
            wq.sentences.append((f"{qid}-{idx}", sent, int(label)))
    return list(out.values())


def main(folder: str) -> None:
    folder = Path(folder)
    sets = {"train": read_train(folder), "dev": read_tsv(folder / "WikiQA-dev.tsv")}
    # arguments: name=v1,v2,... for fields of bot.support.RuleSettings, e.g. passage_support=1,0.8,0.6
    for combo in combos(sys.argv[2:], [("passage_support", [1.0, 0.9, 0.8, 0.7, 0.6])]):
        rules = RuleSettings(**{name.lower(): v for name, v in combo})
        row = []
        for name, qs in sets.items():
            m = metrics(qs, run(qs, rules))
            row.append(f"{name}: MAP {m['MAP']:.3f} P {m['trigger_precision']:.3f} R {m['trigger_recall']:.3f} "
                       f"F1 {m['trigger_f1']:.3f}")
        print(", ".join(f"{n}={v}" for n, v in combo) + " | " + " | ".join(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
