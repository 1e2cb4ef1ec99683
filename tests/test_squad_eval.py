"""`python -m bot eval squad` on a tiny inline SQuAD 2.0 file (the real data stays in shared/)."""
import json
import subprocess
import sys

import pytest

from bot import CorpusError
from bot.eval.squad import Tally, quotes_gold, read_squad, run

SAMPLE = {"version": "v2.0", "data": [{"title": "Lighthouse_keeping", "paragraphs": [
    {"context": "The Harbour Light was built in 1852 by the engineer Mara Quill. Its lamp burned whale oil "
                "until 1901, when a kerosene burner replaced it.",
     "qas": [{"id": "q1", "question": "Who built the Harbour Light?", "is_impossible": False,
              "answers": [{"text": "Mara Quill", "answer_start": 48}]},
             {"id": "q2", "question": "When did a kerosene burner replace the whale oil lamp?", "is_impossible": False,
              "answers": [{"text": "1901", "answer_start": 98}]},
             {"id": "q3", "question": "Who painted the Harbour Light?", "is_impossible": True,
              "answers": [], "plausible_answers": [{"text": "Mara Quill", "answer_start": 48}]}]},
    {"context": "Keepers trimmed the wick every evening. The light was automated in 1968 and the last keeper left.",
     "qas": [{"id": "q4", "question": "When was the light automated?", "is_impossible": False,
              "answers": [{"text": "1968", "answer_start": 66}]},
             {"id": "q5", "question": "What is the boiling point of kerosene?", "is_impossible": True,
              "answers": []}]}]}]}


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SAMPLE), encoding="utf-8")
    return path


def test_quotes_gold_folds_case_and_space():
    assert quotes_gold(["It was built by  the engineer MARA quill."], ["Mara Quill"])
    assert not quotes_gold(["It was built in 1852."], ["Mara Quill"])


def test_run_counts_each_question_once(squad_file):
    records = []
    result = run(read_squad(squad_file), records=records)
    total = result["total"]
    assert total["questions"] == 5 and len(records) == 5
    by_id = {r["id"]: r for r in records}
    assert by_id["q1"]["support"] == "answer" and by_id["q1"]["right"]  # "Mara Quill" is quoted
    assert by_id["q4"]["support"] == "answer" and by_id["q4"]["right"]
    assert by_id["q5"]["support"] == "none" and by_id["q5"]["right"]  # far from the article
    right = sum(r["right"] for r in records)
    assert total["overall"] == pytest.approx(100 * right / 5)
    assert result["always_abstain"]["overall"] == pytest.approx(40.0)  # 2 of 5 are unanswerable
    assert result["bm25_top_sentence"]["unanswerable_abstained"] == 0.0
    assert [a["article"] for a in result["articles"]] == ["Lighthouse keeping"]


def test_tally_rates():
    t = Tally(answerable=4, right=2, shown=3, false_abstain=1, unanswerable=6, abstained=3)
    row = t.row()
    assert row["answerable_right"] == 50.0 and row["answerable_shown"] == 75.0
    assert row["false_abstentions"] == 25.0 and row["unanswerable_abstained"] == 50.0
    assert row["overall"] == 50.0


def test_eval_squad_command_prints_the_table(squad_file, tmp_path):
    out = tmp_path / "run.jsonl"
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "squad", str(squad_file), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    for column in ("answerable answered right", "answerable shown", "false abstentions",
                   "unanswerable abstained", "overall"):
        assert column in p.stdout
    assert "always abstain (reference)" in p.stdout and "BM25 top sentence" in p.stdout
    assert "Lighthouse keeping" in p.stdout
    assert len(out.read_text().splitlines()) == 5
    strict = subprocess.run([sys.executable, "-m", "bot", "eval", "squad", str(squad_file), "--strictness", "1",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert json.loads(strict.stdout)["total"]["answerable_right"] == 0.0  # nothing is certain enough


@pytest.mark.parametrize("content,needle", [("{", "not a JSON file"), ('{"data": 3}', "'data' list"),
                                            ('{"data": [{"paragraphs": [{"qas": []}]}]}', "context")])
def test_bad_squad_file_is_reported(tmp_path, content, needle):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CorpusError, match=needle):
        read_squad(path)
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "squad", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "bad.json" in p.stderr and "Traceback" not in p.stderr
