"""Quality floors on the gold sets (python -m bot eval gold prints the same figures)."""
from pathlib import Path

import pytest

from bot.eval.gold import evaluate, load_gold

EVAL = Path(__file__).resolve().parent.parent / "eval"


def check_floors(m):
    assert m["grounding"] == 1.0
    assert m["first_citation_hit"] >= 0.95
    assert m["answers_correct"] >= 0.90
    assert m["abstention_recall"] >= 0.95
    assert m["false_abstention"] <= 0.05
    assert m["smalltalk_ok"] == 1.0


def test_article_gold_set(bot):
    _, items = load_gold(EVAL / "article.yaml")
    assert len(items) >= 120
    assert sum(it.abstain for it in items) >= 35
    assert sum(bool(it.history) for it in items) >= 10
    assert {it.category for it in items} >= {"definition", "list", "comparison", "who", "how", "yesno", "followup",
                                             "typo", "unanswerable", "smalltalk"}
    result = evaluate(bot, items)
    check_floors(result["metrics"])


def test_second_corpus_gold_set(second_bot):
    _, items = load_gold(EVAL / "second.yaml")
    result = evaluate(second_bot, items)
    check_floors(result["metrics"])


def test_eval_cli_prints_metrics(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "bot", "eval", "gold", str(EVAL / "article.yaml"), "--json"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    import json

    data = json.loads(out)
    assert data["metrics"]["grounding"] == 1.0
    assert set(data["metrics"]) >= {"first_citation_hit", "answers_correct", "abstention_precision",
                                    "abstention_recall", "false_abstention"}


def test_broken_gold_file_is_reported(tmp_path):
    from bot import CorpusError

    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - {q: [\n")
    with pytest.raises(CorpusError, match="bad.yaml:"):
        load_gold(bad)
