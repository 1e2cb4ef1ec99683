"""The operating points `strictness` offers, measured on the open SQuAD 2.0 half: for each
strictness, answerable questions answered right against unanswerable questions wrongly answered.
Writes a PNG (matplotlib, the `plots` extra) and prints the table.

    .venv/bin/pip install -e ".[plots]"
    .venv/bin/python tuning/strictness_curve.py [SQUAD_JSON] [--out docs/strictness-squad.png]

Articles 1-5 trained the answer decision (tuning/train_decision.py); 6-8 never did: both curves
are drawn.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.eval.squad import read_squad, run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = ROOT.parent / "shared" / "eval-data" / "squad2" / "squad2-dev-open.json"
STEPS = [i / 10 for i in range(11)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("squad", nargs="?", default=str(DEFAULT_SQUAD))
    ap.add_argument("--out", default=str(ROOT / "docs" / "strictness-squad.png"))
    args = ap.parse_args(argv)
    articles = read_squad(args.squad)
    parts = {"articles 1-5 (trained on)": articles[:5], "articles 6-8 (held out)": articles[5:],
             "all 8 articles": articles}
    curves: dict[str, list[tuple[float, float, float, float]]] = {}
    print("| part | strictness | answerable answered right | unanswerable answered (wrongly) | "
          "answerable shown | overall |")
    print("|---|---|---|---|---|---|")
    for name, arts in parts.items():
        points = []
        for s in STEPS:
            t = run(arts, strictness=s)["total"]
            wrong = 100 - t["unanswerable_abstained"]
            points.append((s, t["answerable_right"], wrong, t["overall"]))
            print(f"| {name} | {s:.1f} | {t['answerable_right']:.1f}% | {wrong:.1f}% | "
                  f"{t['answerable_shown']:.1f}% | {t['overall']:.1f}% |")
        curves[name] = points
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for name, points in curves.items():
        if name.startswith("all"):
            continue
        xs, ys = [p[2] for p in points], [p[1] for p in points]
        ax.plot(xs, ys, marker="o", label=name)
        for s, y, x, _ in points:
            if s in (0.0, 0.5, 1.0):
                ax.annotate(f"{s:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("unanswerable questions answered (wrongly), %")
    ax.set_ylabel("answerable questions answered right, %")
    ax.set_title("Strictness on the open SQuAD 2.0 half (labels: strictness)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
