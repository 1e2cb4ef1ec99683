"""Follow-ups read against the earlier turn's subject, and ``python -m bot eval followups``."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answer.understand import understand
from bot.config import CorpusError
from bot.eval.followups import evaluate, load_followups, table
from bot.model import Citation, Reply

ROOT = Path(__file__).resolve().parent.parent


def two_turns(bot, first, follow):
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": bot.ask(first).answer}]
    return bot.ask(follow, history)


def test_a_follow_up_going_on_with_and_keeps_the_subject():
    hist = [{"role": "user", "content": "what is a VAE"}, {"role": "assistant", "content": "VAEs are ..."}]
    u = understand("and how is it trained?", hist)
    assert u.followup and u.kind == "how"
    assert [t.term for t in u.focus] == ["train"] and [t.term for t in u.context] == ["vae"]
    u = understand("and to print only the names?", [{"role": "user", "content": "how do I count lines with grep"}])
    assert u.kind == "how" and "grep" in [t.term for t in u.context]
    # "and X?" with a subject of its own still asks the earlier question about X
    u = understand("and Llama?", [{"role": "user", "content": "what is LaMDA"}])
    assert u.kind == "definition" and u.focus_terms == ["llama"]


def test_vae_training_is_not_answered_with_another_subject(bot):
    r = two_turns(bot, "what is a VAE", "and how is it trained?")
    assert r.support in ("closest", "none") and r.abstained
    assert all("Variational Autoencoders" in c.title for c in r.citations)  # never the passage on bias
    assert "Biased" not in r.answer


def test_an_answered_follow_up_is_still_answered(bot):
    r = two_turns(bot, "what is LaMDA", "and what does Google use it for?")
    assert r.support == "answer" and "Gemini" in r.answer and "LaMDA" in r.citations[0].title


def test_the_same_on_a_second_corpus(second_bot):
    # before: "The slow, even pour gives a clean and bright cup." (pour-over) was the answer
    r = two_turns(second_bot, "what is a French press", "and how is it cleaned?")
    assert r.support != "answer"
    assert r.citations and r.citations[0].title.endswith("French press")
    r = two_turns(second_bot, "what is cold brew", "and how long does it steep?")
    assert r.support == "answer" and "12 to 24 hours" in r.answer


class FakeBot:
    def __init__(self, replies):
        self.replies = replies
        self.asked = []

    def ask(self, question, history=None):
        self.asked.append((question, [m["content"] for m in history or []]))
        return self.replies.get(question, Reply("First answer.", False, [], support="answer"))


def cite(passage):
    return Citation(1, "a.md", "A > Decoder", passage, (passage.split(".")[0] + ".",), 1.0)


def write_set(tmp_path, conversations):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "set.yaml").write_text(json.dumps({"corpora": {"c": {"path": "corpus"}},
                                                   "conversations": conversations}))
    return tmp_path / "set.yaml"


def test_eval_scores_each_kind_of_follow_up_reply(tmp_path):
    path = write_set(tmp_path, [
        {"corpus": "c", "first": "what is X", "q": "and what does it do?", "answerable": True, "expect": ["decodes"]},
        {"corpus": "c", "first": "what is X", "q": "and its size?", "answerable": True, "expect": ["decodes"]},
        {"corpus": "c", "first": "what is X", "q": "and who pays?", "answerable": True, "expect": ["decodes"]},
        {"corpus": "c", "first": "what is X", "q": "and how is it trained?", "answerable": False},
        {"corpus": "c", "first": "what is X", "q": "and its price?", "answerable": False},
    ])
    fake = FakeBot({
        "and what does it do?": Reply("It `decodes` input. [1]", False, [cite("It decodes input.")], support="answer"),
        "and its size?": Reply("Not clear. Closest: [1]", True, [cite("Big. It decodes.")], support="closest"),
        "and who pays?": Reply("Bias is bad. [1]", False, [cite("Bias is bad.")], support="answer"),
        "and how is it trained?": Reply("Nothing found.", True, [], support="none"),
        "and its price?": Reply("Bias is bad. [1]", False, [cite("Bias is bad.")], support="answer"),
    })
    summary, rows = evaluate(path, load=lambda folder: fake)
    m = summary["c"]
    assert (m["conversations"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert (m["answered_right"], m["shown_as_closest"], m["wrong_answerable"]) == (1, 1, 1)
    assert (m["unanswerable_not_answered"], m["wrong_unanswerable"], m["wrong_all"]) == (1, 1, 2)
    assert summary["all"] == m
    # the follow-up is asked with the first question and its reply as the history
    assert ("and what does it do?", ["what is X", "First answer."]) in fake.asked
    assert "| c | 5 (3+2) | 1/3 | 1/3 | 1/3 | 1/2 | 2/5 |" in table(summary)


def test_eval_on_the_bundled_article_through_the_cli(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text(json.dumps({"corpora": {"article": {"path": str(ROOT / "corpus")}}, "conversations": [
        {"corpus": "article", "first": "what is a VAE", "q": "and how is it trained?", "answerable": False},
        {"corpus": "article", "first": "what is LaMDA", "q": "and what does Google use it for?",
         "answerable": True, "expect": ["Gemini"]},
    ]}))
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "followups", str(path), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)["summary"]["all"]
    assert (m["answered_right"], m["unanswerable_not_answered"], m["wrong_all"]) == (1, 1, 0)


def test_eval_set_errors_name_the_file(tmp_path):
    path = write_set(tmp_path, [{"corpus": "c", "first": "a", "q": "b", "answerable": True}])
    with pytest.raises(CorpusError, match="set.yaml: conversations\\[0\\].*expect"):
        load_followups(path)
    path.write_text(json.dumps({"corpora": {"c": {"path": "corpus"}},
                                "conversations": [{"corpus": "nope", "first": "a", "q": "b", "answerable": False}]}))
    with pytest.raises(CorpusError, match="corpus 'nope'"):
        load_followups(path)
    (tmp_path / "r.yaml").write_text(json.dumps({"corpora": {"p": {"realdocs": "p"}}, "conversations": [
        {"corpus": "p", "first": "a", "q": "b", "answerable": False}]}))
    with pytest.raises(CorpusError, match="--realdocs"):
        evaluate(tmp_path / "r.yaml", load=lambda folder: FakeBot({}))


def test_the_shipped_set_is_well_formed():
    corpora, convs = load_followups(ROOT / "eval" / "followups.yaml")
    assert len(convs) == 30 and sum(c.answerable for c in convs) == 20
    assert {c.corpus for c in convs} == {"article", "p", "m", "h"} == set(corpora)
