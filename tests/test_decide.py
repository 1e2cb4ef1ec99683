"""The answer decision: its settings, the bundled model, strictness, and the fitting code."""
import json
import math
import random
import subprocess
import sys

import pytest

from bot.answer.decide import (FEATURES, Decider, DecisionSettings, LogisticModel, Thresholds, bundled_model,
                               fit_logistic)
from bot.answer.features import GATE, TABLE


def test_settings_validate_and_map_strictness_monotonically():
    with pytest.raises(ValueError):
        DecisionSettings(strictness=1.5)
    with pytest.raises(ValueError):
        DecisionSettings(strictness=math.nan)
    with pytest.raises(ValueError):
        Thresholds(loosest=0.6, answer_at_half=0.3, strictest=0.8, closest_coverage=0.25, incidental_closeness=0.3)
    thresholds = [Decider(DecisionSettings(strictness=s / 10)).answer_threshold for s in range(11)]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 11
    d = bundled_model().thresholds  # the model file carries its operating points
    assert Decider(DecisionSettings(strictness=0)).answer_threshold == pytest.approx(d.loosest)
    assert Decider(DecisionSettings(strictness=1)).answer_threshold == pytest.approx(d.strictest)
    assert Decider().answer_threshold == pytest.approx(d.answer_at_half)


def test_bundled_model_loads_fast_and_names_every_feature():
    """Fast because loading is reading one small JSON file, once: no module imported, nothing fitted,
    the same object for every later Decider (bench/bench_guards.py times it against json.loads)."""
    code = """
import sys
import bot.answer.decide as decide
decide.fit_logistic = lambda *a, **k: sys.exit("fitted at load")
before = set(sys.modules)
first = decide.bundled_model()
print(sorted(set(sys.modules) - before), first is decide.bundled_model() is decide.Decider().model)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["[]", "True"]
    bundled_model.cache_clear()
    model = bundled_model()
    assert list(model.names) == list(FEATURES)
    assert "SQuAD" in model.trained_on
    assert all(math.isfinite(w) for w in model.weights)
    assert model.thresholds is not None and model.provenance["wordllama"]


def test_a_model_naming_a_feature_the_responder_does_not_compute_is_refused():
    renamed = LogisticModel(("coverage", "covrage"), (0.0, 0.0), (1.0, 1.0), (0.0, 1.0), 0.0)
    with pytest.raises(ValueError, match="covrage"):
        Decider(model=renamed)
    with pytest.raises(KeyError):  # and a feature missing from a candidate never reads as 0
        LogisticModel(("coverage",), (0.0,), (1.0,), (1.0,), 0.0).probability({})


def test_model_round_trips_and_rejects_mismatched_lengths():
    m = LogisticModel(("a", "b"), (0.0, 1.0), (1.0, 2.0), (0.5, -0.5), 0.1, "test")
    assert LogisticModel.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    bad = m.to_dict()
    bad["weights"] = [1.0]
    with pytest.raises(ValueError):
        LogisticModel.from_dict(bad)


def _features(**over):
    f = {feature.name: 0.0 for feature in TABLE if feature.role != GATE}
    f.update(incidental=0.0, kind_other=1.0)
    f.update(coverage=1.0, type_ok=1.0)
    f.update(over)
    return f


def test_decider_levels():
    always = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), 5.0)  # p = 0.993 whatever the features
    never = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), -5.0)
    assert Decider(model=always).decide(_features()).support == "answer"
    assert Decider(model=never).decide(_features()).support == "closest"
    # far from everything: nothing to show, however sure the model is
    assert Decider(model=always).decide(_features(coverage=0.1)).support == "none"
    assert Decider(model=always).decide(_features(unknown_share=0.75)).support == "none"
    # the passage lacks the kind of fact asked for: never an answer
    assert Decider(model=always).decide(_features(type_ok=0.0)).support == "closest"
    strict = Decider(DecisionSettings(strictness=1.0), model=always)
    assert strict.decide(_features()).support == "answer"  # 0.993 >= 0.9
    d = Decider(model=never).decide(_features())
    assert 0.0 <= d.confidence < 0.01


def test_a_vetoed_reply_looks_no_surer_the_stricter_the_setting():
    always = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), 5.0)
    got = {s: Decider(DecisionSettings(strictness=s), model=always).decide(_features(type_ok=0.0))
           for s in (0.0, 0.1, 0.5, 0.95, 1.0)}
    assert {d.support for d in got.values()} == {"closest"}
    assert len({d.confidence for d in got.values()}) == 1
    assert got[0.0].confidence < Decider(DecisionSettings(strictness=0.0), model=always).answer_threshold


def test_fit_logistic_recovers_a_known_rule():
    rng = random.Random(0)
    rows = []
    for _ in range(2000):
        x = rng.uniform(-2, 2)
        p = 1 / (1 + math.exp(-(3 * x - 1)))
        rows.append(({"x": x, "noise": rng.uniform(-1, 1)}, int(rng.random() < p), 1.0))
    m = fit_logistic(("x", "noise"), rows, l2=0.1)
    slope = m.weights[0] / m.scale[0]
    assert 2.5 < slope < 3.5
    assert abs(m.weights[1]) < 0.2
    assert m.probability({"x": 2, "noise": 0}) > 0.9 > 0.1 > m.probability({"x": -2, "noise": 0})


def test_a_passage_met_only_in_passing_is_not_shown():
    """Common words said once, outside the headings, and a quote far from the question: nothing
    relevant ("none", low confidence), however sure the model is; close enough, the passage shows."""
    always = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), 5.0)
    far = Decider(model=always).decide(_features(incidental=1.0, text_closeness=0.15))
    assert far.support == "none" and far.confidence <= bundled_model().thresholds.loosest and far.in_passing
    assert not Decider(model=always).decide(_features(coverage=0.1)).in_passing
    assert Decider(model=always).decide(_features(incidental=1.0, text_closeness=0.6)).support == "answer"
    assert Decider(model=always).decide(_features(incidental=0.0, text_closeness=0.1)).support == "answer"


def test_a_negated_question_needs_a_negated_quote():
    always = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), 5.0)
    assert Decider(model=always).decide(_features(negation_unmet=1.0)).support == "closest"
    assert Decider(model=always).decide(_features(negation_mismatch=1.0)).support == "answer"


def test_negated_questions_end_to_end(tmp_path):
    """"Which tribe did not fight?" is not answered by a sentence saying which tribe fought;
    a sentence that says which tribe did not fight answers it."""
    from bot import ChatBot

    (tmp_path / "war.md").write_text(
        "# The war\n\nThe Ottawa tribe fought beside the French in the northern campaign of 1755.\n\n"
        "## Neutrality\n\nThe Catawba tribe stayed home and did not fight in the northern campaign.\n", encoding="utf-8")
    (tmp_path / "ships.md").write_text(
        "# The fleet\n\nThe fleet sailed from Brest in the spring of 1755 with twelve ships.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    r = bot.ask("Which tribe did not fight in the northern campaign?")
    assert r.support == "answer" and "Catawba" in r.citations[0].quotes[0]
    r = bot.ask("When didn't the fleet sail from Brest?")
    assert r.support != "answer"
    assert bot.ask("When did the fleet sail from Brest?").support == "answer"


def test_a_number_the_question_states_must_be_quoted(tmp_path):
    """"How many ships sailed in 1756?" is not answered by the sentence about 1755, nor a question
    about Tuesdays by one about Wednesdays; number words count as their digits ("twelve" is 12)."""
    from bot import ChatBot

    always = LogisticModel(("coverage",), (0.0,), (1.0,), (0.0,), 5.0)
    assert Decider(model=always).decide(_features(number_unmet=1.0)).support == "closest"
    (tmp_path / "ships.md").write_text(
        "# The fleet\n\nThe fleet sailed from Brest in the spring of 1755 with twelve ships.\n\n"
        "## Crews\n\nEach ship carried a crew of about 300 sailors and a company of marines.\n\n"
        "## Drill\n\nThe marines drilled on deck on Wednesday afternoons from 2 pm to 6 pm.\n\n"
        "## Arrival\n\nThe first ship to reach Quebec was the Alcide, in June.\n", encoding="utf-8")
    bot = ChatBot.load(tmp_path)
    assert bot.ask("How many ships sailed from Brest in 1755?").support == "answer"
    assert bot.ask("How many ships sailed from Brest in 1756?").support != "answer"
    assert bot.ask("Which ships carried 12 marines?").support != "answer"
    assert bot.ask("When did the marines drill on Wednesday afternoons?").support == "answer"
    assert bot.ask("When did the marines drill on Tuesday afternoons?").support != "answer"  # a day, like a number
    assert bot.ask("Which was the first ship to reach Quebec?").support == "answer"
    assert bot.ask("Which was the second ship to reach Quebec?").support != "answer"  # an ordinal, too
    r = bot.ask("When did the 12 ships sail from Brest?")
    assert r.support == "answer" and "1755" in r.citations[0].quotes[0]


def test_a_model_names_the_wordllama_version_it_was_trained_with_and_a_mismatch_is_said():
    from dataclasses import replace
    from importlib.metadata import version

    from bot.answer.decide import installed_version, provenance_problem

    assert installed_version("wordllama") == version("wordllama")

    model = bundled_model()
    assert provenance_problem(replace(model, provenance={"wordllama": version("wordllama")})) is None
    problem = provenance_problem(replace(model, provenance={"wordllama": "0.0.1"}))
    assert problem is not None and "0.0.1" in problem and "tuning/train_decision.py" in problem
    assert provenance_problem(replace(model, provenance=None)) is None
