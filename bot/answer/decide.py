"""The answer decision: given what the responder found, answer, show the closest passage, or
say nothing relevant was found, and how likely the reply is to answer the question.

A small logistic model over features of the question and its best candidate passage (coverage
of the question's terms by IDF, words missing and how close they are to the passage's words,
the kind of fact asked for, score margins, heading matches, ...) gives the probability that
quoting the candidate answers the question. It is trained by ``tuning/train_decision.py`` on data
nobody on the team wrote (see that script) and stored in ``decision_model.json`` next to this
file: a few dozen numbers that load in well under a millisecond.

The model file carries its own thresholds, the names of its features (checked against
``FEATURES`` on load) and where it came from (the WordLlama version, a hash of its training
data); ``DecisionSettings`` passed to the constructor holds the strictness, and tuning scripts
pass other thresholds there, they never patch this module.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
import os
import sys
import warnings
from importlib import resources
from typing import Mapping, Sequence

from bot.answer.features import FEATURES, VETOES

SUPPORT_ANSWER, SUPPORT_CLOSEST, SUPPORT_NONE = "answer", "closest", "none"
VETO_SHARE = 0.5  # a vetoed candidate's confidence is at most this share of the loosest threshold

@dataclass(frozen=True)
class Thresholds:
    """The decision's operating points; they belong to a trained model and are stored in its file.

    The answer threshold is ``answer_at_half`` at strictness 0.5 and moves linearly to
    ``loosest`` at 0 and ``strictest`` at 1. ``closest_coverage`` is the IDF-weighted share of the
    question's focus the closest passage must hold for a "closest" reply; below it the reply is
    "none" (nothing relevant). ``incidental_closeness``: when the passage meets the question only
    in passing (the one question word it holds is a common word said once, outside the
    headings), the question and the quote must be at least this close (sentence vectors), else
    the reply is "none" too. Where each value came from is recorded beside it in the model file
    (``thresholds_chosen``)."""

    loosest: float
    answer_at_half: float
    strictest: float
    closest_coverage: float
    incidental_closeness: float
    # documentation (man pages, documentation HTML: feature "structured") has its own operating
    # point at strictness 0.5: the same probability answers it wrongly more often (chosen by the
    # rule in ``thresholds_chosen``); None: the same as ``answer_at_half``
    documentation_at_half: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "documentation_at_half":
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be a number between 0 and 1, got {value!r}")
        if not self.loosest <= self.answer_at_half <= self.strictest:
            raise ValueError("thresholds must satisfy loosest <= answer_at_half <= strictest")

    def answer_threshold(self, strictness: float, documentation: bool = False) -> float:
        s = strictness
        half = self.documentation_at_half if documentation and self.documentation_at_half is not None \
            else self.answer_at_half
        if s <= 0.5:
            return self.loosest + (half - self.loosest) * (s / 0.5)
        return half + (self.strictest - half) * ((s - 0.5) / 0.5)


@dataclass(frozen=True)
class DecisionSettings:
    """How strict the decision is (0..1, from the corpus settings or ``--strictness``) and,
    for tuning scripts, thresholds other than the model's own."""

    strictness: float = 0.5
    thresholds: Thresholds | None = None

    def __post_init__(self) -> None:
        from bot.config import check_setting

        check_setting("strictness", self.strictness)


@dataclass(frozen=True)
class LogisticModel:
    """``p = sigmoid(bias + sum(w_i * (x_i - mean_i) / scale_i))`` over named features."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    trained_on: str = ""
    thresholds: Thresholds | None = None  # None: a model made by hand borrows the bundled one's
    provenance: Mapping[str, str] | None = None  # the WordLlama version, a hash of the training data, ...
    # weights of its own for documentation (feature "structured": man pages, documentation HTML),
    # trained with the realdocs rows; prose keeps the weights trained without them
    documentation: "LogisticModel | None" = None

    def probability(self, features: Mapping[str, float]) -> float:
        if self.documentation is not None and features.get("structured"):
            return self.documentation.probability(features)
        z = self.bias
        for name, m, s, w in zip(self.names, self.mean, self.scale, self.weights):
            z += w * (float(features[name]) - m) / s  # a feature the responder no longer computes fails loudly
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def check_features(self, computed: Sequence[str]) -> None:
        """Every feature the model weighs must be one the responder computes (``FEATURES``)."""
        names = [*self.names, *(self.documentation.names if self.documentation is not None else ())]
        missing = [n for n in dict.fromkeys(names) if n not in computed]
        if missing:
            raise ValueError(f"decision model: features {', '.join(missing)} are not computed by the responder; "
                             "retrain it with tuning/train_decision.py")

    def to_dict(self) -> dict:
        out = {"names": list(self.names), "mean": list(self.mean), "scale": list(self.scale),
               "weights": list(self.weights), "bias": self.bias, "trained_on": self.trained_on}
        if self.thresholds is not None:
            out["thresholds"] = asdict(self.thresholds)
        if self.provenance:
            out["provenance"] = dict(self.provenance)
        if self.documentation is not None:
            out["documentation"] = self.documentation.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "LogisticModel":
        names = tuple(str(n) for n in data["names"])
        thresholds = Thresholds(**{k: None if v is None else float(v) for k, v in data["thresholds"].items()}) \
            if "thresholds" in data else None
        model = cls(names, tuple(float(x) for x in data["mean"]), tuple(float(x) or 1.0 for x in data["scale"]),
                    tuple(float(x) for x in data["weights"]), float(data["bias"]), str(data.get("trained_on", "")),
                    thresholds, {str(k): str(v) for k, v in (data.get("provenance") or {}).items()} or None,
                    cls.from_dict(data["documentation"]) if data.get("documentation") else None)
        if not len(model.mean) == len(model.scale) == len(model.weights) == len(names):
            raise ValueError("decision model: names, mean, scale and weights differ in length")
        return model


def fit_logistic(names: Sequence[str], rows: Sequence[tuple[Mapping[str, float], int, float]], l2: float,
                 iters: int = 50, trained_on: str = "") -> LogisticModel:
    """Weighted L2-regularized logistic regression (Newton's method) on standardized features.
    ``rows``: (features, label 0/1, weight). Used by ``tuning/train_decision.py``."""
    import numpy as np

    x = np.array([[float(r[0].get(n, 0.0)) for n in names] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    w = np.array([r[2] for r in rows], dtype=float)
    mean = np.average(x, axis=0, weights=w)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], float(l2))
    reg[0] = 0.0  # the intercept is not shrunk
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(z @ beta)))
        grad = z.T @ (w * (p - y)) + reg * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(tuple(names), tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                         tuple(float(v) for v in beta[1:]), float(beta[0]), trained_on)


MODEL_FILE = "decision_model.json"


def installed_version(name: str) -> str | None:
    """An installed distribution's version, read from its ``NAME-VERSION.dist-info`` folder name
    on ``sys.path`` (``importlib.metadata`` would import a dozen modules at every model load)."""
    prefix, suffix = f"{name}-", ".dist-info"
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for e in entries:
                if e.name.startswith(prefix) and e.name.endswith(suffix):
                    return e.name[len(prefix):-len(suffix)]
    return None


def provenance_problem(model: LogisticModel) -> str | None:
    """What is off in the model's provenance against this installation: the paraphrase features
    come from WordLlama's vectors, so a model trained with another WordLlama version may weigh
    them wrongly. None when it matches (or the model records no version)."""
    recorded = (model.provenance or {}).get("wordllama")
    if not recorded:
        return None
    installed = installed_version("wordllama") or "no WordLlama"
    if installed == recorded:
        return None
    return (f"decision model: trained with WordLlama {recorded}, but {installed} is installed; its paraphrase "
            "features may be weighed wrongly: retrain it with tuning/train_decision.py")


@lru_cache(maxsize=1)
def bundled_model() -> LogisticModel:
    """The model shipped with the package (``decision_model.json``), checked against ``FEATURES``
    and, with a warning, against the installed WordLlama version."""
    text = resources.files(__package__).joinpath(MODEL_FILE).read_text("utf-8")
    model = LogisticModel.from_dict(json.loads(text))
    if model.thresholds is None:
        raise ValueError(f"{MODEL_FILE}: the shipped model must carry its thresholds")
    model.check_features(FEATURES)
    problem = provenance_problem(model)
    if problem:
        warnings.warn(problem, RuntimeWarning, stacklevel=2)
    return model


@dataclass(frozen=True)
class Decision:
    support: str
    confidence: float
    in_passing: bool = False  # "none" because the passage meets the question only in passing


class Decider:
    """Turns a candidate's features into a support level and a confidence."""

    def __init__(self, settings: DecisionSettings | None = None, model: LogisticModel | None = None):
        self.settings = settings or DecisionSettings()
        self.model = model or bundled_model()
        self.model.check_features(FEATURES)
        self.thresholds = self.settings.thresholds or self.model.thresholds or bundled_model().thresholds
        self.answer_threshold = self.thresholds.answer_threshold(self.settings.strictness)
        self.documentation_threshold = self.thresholds.answer_threshold(self.settings.strictness, documentation=True)

    def threshold_for(self, features: Mapping[str, float]) -> float:
        """The answer threshold for a candidate: documentation has its own (``Thresholds``)."""
        return self.documentation_threshold if features.get("structured") else self.answer_threshold

    def decide(self, features: Mapping[str, float]) -> Decision:
        p = self.model.probability(features)
        t = self.thresholds
        if features["coverage"] < t.closest_coverage or features["unknown_share"] > 0.5:
            # far from everything in the sources: nothing to show, at any strictness
            return Decision(SUPPORT_NONE, min(p, t.loosest))
        if features["incidental"] and features["text_closeness"] < t.incidental_closeness:
            return Decision(SUPPORT_NONE, min(p, t.loosest), in_passing=True)
        if features["type_ok"] < 1.0 or any(features[v] for v in VETOES):
            # The passage lacks the kind of fact asked for (no time for "when", no agent for
            # "who", ...); or the question asks about what is not so ("Which tribes didn't
            # fight?") and the quote states no negation; or it names a number ("in 1755") the
            # quote does not; or it is a follow-up whose quote holds nothing of what it asks, or
            # whose passage no longer names the subject carried over: the quote cannot be the answer.
            # Its confidence is capped below the loosest threshold, the same at every strictness
            # (capped at half the current threshold, a refusal looked surer the stricter the
            # setting: 4.8% at 0.1, 37% at 0.95 for the same question).
            p = min(p, t.loosest * VETO_SHARE)
        if p >= self.threshold_for(features):
            return Decision(SUPPORT_ANSWER, p)
        return Decision(SUPPORT_CLOSEST, p)
