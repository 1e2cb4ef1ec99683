"""`python -m bot eval beir` and `eval wikiqa` on tiny inline samples (the real data stays in shared/)."""
import gzip
import json
import subprocess
import sys

import pytest

from bot.eval.wikiqa import metrics, read_tsv, run


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bot", "eval", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def beir_dir(tmp_path):
    docs = [{"_id": "d1", "title": "Aspirin and heart attacks", "text": "Daily aspirin lowers the risk of heart attack."},
            {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D deficiency is common in winter."},
            {"_id": "d3", "title": "Sleep", "text": "Adults need seven hours of sleep for memory."}]
    with gzip.open(tmp_path / "corpus.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(d) for d in docs) + "\n")
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in [
        {"_id": "1", "text": "aspirin reduces heart attack risk"}, {"_id": "2", "text": "sleep and memory"},
        {"_id": "3", "text": "vitamin D in winter"}]) + "\n")
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td3\t1\n3\td3\t1\n")
    return tmp_path


def test_beir_command(beir_dir):
    p = cli("beir", str(beir_dir), "--split", "test", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["documents"] == 3 and out["queries"] == 3
    m = out["metrics"]
    # queries 1 and 2 find their document first; query 3's judged document shares no word with it
    assert m["mrr@10"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["recall@100"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["ndcg@10"] == pytest.approx(2 / 3, abs=1e-6)
    table = cli("beir", str(beir_dir)).stdout
    assert "| this bot" in table and "nDCG@10" in table


def test_beir_reports_broken_input(tmp_path):
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "text": "ok"}\nnot json\n')
    p = cli("beir", str(tmp_path))
    assert p.returncode == 2 and "corpus.jsonl:2: not valid JSON" in p.stderr


WIKIQA = """QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tLabel
Q1\thow are glacier caves formed?\tD1\tGlacier cave\tD1-0\tA partly submerged glacier cave on a lake .\t0
Q1\thow are glacier caves formed?\tD1\tGlacier cave\tD1-1\tA glacier cave is a cave formed within the ice of a glacier by melting water .\t1
Q1\thow are glacier caves formed?\tD1\tGlacier cave\tD1-2\tThe ice facade is 60 m high .\t0
Q2\twhen was the eiffel tower painted green?\tD2\tEiffel Tower\tD2-0\tThe Eiffel Tower is a wrought iron tower in Paris .\t0
Q2\twhen was the eiffel tower painted green?\tD2\tEiffel Tower\tD2-1\tIt was built in 1889 for a world fair .\t0
"""


def test_wikiqa_command(tmp_path):
    tsv = tmp_path / "mini.tsv"
    tsv.write_text(WIKIQA)
    out = tmp_path / "run.jsonl"
    p = cli("wikiqa", str(tsv), "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["qid"] for r in rows] == ["Q1", "Q2"]
    assert rows[0]["ranking"][0][0] == "D1-1" and rows[0]["abstained"] is False
    assert rows[1]["abstained"] is True  # nothing says when it was painted green
    assert {sid for sid, _ in rows[0]["ranking"]} == {"D1-0", "D1-1", "D1-2"}
    assert m["MAP"] == 1.0 and m["MRR"] == 1.0 and m["ranked_questions"] == 1
    assert m["trigger_precision"] == 1.0 and m["trigger_recall"] == 1.0


def test_wikiqa_metrics_by_hand():
    from bot.eval.wikiqa import WikiQuestion

    qs = [WikiQuestion("a", "q", "", [("s1", "", 0), ("s2", "", 1), ("s3", "", 1)]),
          WikiQuestion("b", "q", "", [("t1", "", 0)])]
    res = [{"qid": "a", "ranking": [["s1", 3], ["s2", 2], ["s3", 1]], "abstained": False},
           {"qid": "b", "ranking": [["t1", 1]], "abstained": False}]
    m = metrics(qs, res)
    assert m["MAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["MRR"] == pytest.approx(0.5)
    assert m["trigger_precision"] == 0.0 and m["triggered"] == 2 and m["answerable"] == 1


def test_wikiqa_bad_file(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Question\tSentence\nq\ts\n")
    p = cli("wikiqa", str(bad))
    assert p.returncode == 2 and "missing columns" in p.stderr
    assert read_tsv is not None and run is not None
