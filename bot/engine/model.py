"""The trained model: fusion weights and decision thresholds, stored as a small JSON file.

Only learned numbers are stored (no pickle). The weights are over features that mean the same
for any knowledge file, so they carry over when the entries change; the thresholds and the
classifiers are refitted for the entries (bot.engine.calibration, the engine cache). Every
field is checked on load: a model file that is not what it claims gives one line and safe
defaults, never a traceback or a NaN.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from bot.engine.index import FEATURE_VERSION, FEATURES
from bot.engine.vectors import softmax
from bot.knowledge.model import Knowledge

FORMAT_VERSION = 2


@dataclass(frozen=True)
class Thresholds:
    """answer: confidence to answer outright; margin: the share of its confidence by which
    the best candidate must lead the runner-up; clarify: summed confidence of the (up to
    three) leading candidates to offer them as "did you mean"; suggest: confidence to list a
    suggestion beside "I don't know"."""

    answer: float = 0.85
    margin: float = 0.3
    clarify: float = 0.5
    suggest: float = 0.3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not 0 <= value <= 1:
                raise ValueError(f"threshold {f.name} must be a number from 0 to 1, got "
                                 f"{value!r:.40}")


@dataclass(frozen=True)
class ModelParams:
    """Fusion weights (linear over standardised features) and thresholds.

    The entry part scores each candidate: on its own (a logistic) or, when `entry_softmax`,
    against the other shortlisted candidates (a softmax), which leaves "does anything fit at
    all" to the scope part; a model without a scope part must use the logistic.
    """

    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    entry_softmax: bool = False
    use_classifier: bool = False
    classifier_c: float = 10.0
    use_scope: bool = False
    scope_c: float = 1.0
    # The scope part: P(the query is in scope at all), from the best candidate's features.
    scope_coef: tuple[float, ...] = ()
    scope_intercept: float = 0.0
    scope_mean: tuple[float, ...] = ()
    scope_scale: tuple[float, ...] = ()
    features: tuple[str, ...] = FEATURES
    feature_version: int = FEATURE_VERSION
    inputs_hash: str | None = None  # what train.py learned these weights and thresholds on
    metrics: dict = field(default_factory=dict)

    def confidence(self, features: np.ndarray) -> np.ndarray:
        """P(candidate is the right entry) for each row of features: P(right | in scope)
        times P(in scope)."""
        entry, scope = self._arrays
        z = linear(features, *entry, self.intercept)
        if not len(z):
            return z
        p = softmax(z) if self.entry_softmax else 1.0 / (1.0 + np.exp(-z))
        if self.scope_coef:
            best = features[int(np.argmax(p))]
            p = p * logistic(best, *scope, self.scope_intercept)
        return np.where(np.isnan(p), 0.0, p)  # probabilities: NaN is the only stray value

    @functools.cached_property
    def _arrays(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """(mean, scale, coef) of the entry and scope parts as arrays (asked at every query:
        converted once)."""
        return tuple(tuple(np.asarray(v, dtype=np.float64) for v in part) for part in (
            (self.mean, self.scale, self.coef),
            (self.scope_mean, self.scope_scale, self.scope_coef)))

    @property
    def weights_key(self) -> str:
        """A fingerprint of everything but the thresholds and metrics (the cache depends on
        it: calibrated thresholds are only valid for these weights)."""
        data = {k: v for k, v in asdict(self).items()
                if k not in ("thresholds", "metrics", "inputs_hash")}
        data["margin"] = self.thresholds.margin
        return _digest(data)

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        """Parse a model file; raises ValueError with a one-line reason if it is unusable."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError("not JSON") from exc
        except ValueError as exc:  # e.g. an integer too long to read
            raise ValueError(f"not JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError(f"not a model file (a JSON {type(data).__name__}, not an object)")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelParams:
        data = dict(data)
        if data.pop("format", None) != FORMAT_VERSION:
            raise ValueError(f"unsupported model format (expected {FORMAT_VERSION}); run "
                             "train.py again")
        if tuple(data.get("features") or ()) != FEATURES \
                or data.get("feature_version") != FEATURE_VERSION:
            raise ValueError("model was trained with other features; run train.py again")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}")
        n = len(FEATURES)
        values = {
            "coef": _numbers(data, "coef", n), "mean": _numbers(data, "mean", n),
            "scale": _numbers(data, "scale", n, positive=True),
            "intercept": _number(data, "intercept"),
            "scope_coef": _numbers(data, "scope_coef", n, optional=True),
            "scope_mean": _numbers(data, "scope_mean", n, optional=True),
            "scope_scale": _numbers(data, "scope_scale", n, optional=True, positive=True),
            "scope_intercept": _number(data, "scope_intercept", default=0.0),
            "classifier_c": _number(data, "classifier_c", default=10.0, positive=True),
            "scope_c": _number(data, "scope_c", default=1.0, positive=True),
            "features": FEATURES, "feature_version": FEATURE_VERSION,
        }
        if len({len(values[k]) for k in ("scope_coef", "scope_mean", "scope_scale")}) != 1:
            raise ValueError("scope_coef, scope_mean and scope_scale differ in length")
        for key in ("entry_softmax", "use_classifier", "use_scope"):
            value = data.get(key, False)
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, got {value!r:.40}")
            values[key] = value
        thresholds = data.get("thresholds", {})
        if not isinstance(thresholds, dict) or set(thresholds) - {
                f.name for f in fields(Thresholds)}:
            raise ValueError("thresholds must be an object with answer, margin, clarify, "
                             "suggest")
        values["thresholds"] = Thresholds(**thresholds)
        inputs_hash = data.get("inputs_hash")
        if inputs_hash is not None and not isinstance(inputs_hash, str):
            raise ValueError("inputs_hash must be text")
        values["inputs_hash"] = inputs_hash
        metrics = data.get("metrics", {})
        values["metrics"] = metrics if isinstance(metrics, dict) else {}
        return cls(**values)


def _number(data: Mapping, key: str, *, default: float | None = None,
            positive: bool = False) -> float:
    if key not in data and default is not None:
        return default
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{key} must be a finite{' positive' if positive else ''} number, "
                         f"got {value!r:.40}")
    return float(value)


def _numbers(data: Mapping, key: str, n: int, *, optional: bool = False,
             positive: bool = False) -> tuple[float, ...]:
    value = data.get(key, [] if optional else None)
    if not isinstance(value, list) or (value and len(value) != n) or (not value and not optional):
        raise ValueError(f"{key} must be a list of {n} numbers")
    return tuple(_number({key: v}, key, positive=positive) for v in value)


def linear(x: np.ndarray, mean, scale, coef, intercept) -> np.ndarray:
    """Weights over standardised features."""
    return ((x - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(coef) + intercept


def logistic(x: np.ndarray, mean, scale, coef, intercept) -> np.ndarray:
    """A logistic regression over standardised features."""
    return 1.0 / (1.0 + np.exp(-linear(x, mean, scale, coef, intercept)))


def _digest(data) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def inputs_hash(knowledge: Knowledge, files: str, settings: Mapping | None = None) -> str:
    """A fingerprint of everything matching is fitted on: entries and synonyms (not
    comments), the other training files (`files`: a fingerprint of their bytes), settings
    and the feature version."""
    return _digest({
        "synonyms": {k: list(v) for k, v in sorted(knowledge.synonyms.items())},
        "entries": [[e.id, list(e.phrasings), e.answer] for e in knowledge.entries],
        "files": files, "settings": dict(settings or {}), "feature_version": FEATURE_VERSION,
    })


# Hand-set weights for when no trained model can be used at all (not even the bundled one):
# they trust only close lexical matches and ask or abstain otherwise (safe, at the cost of
# coverage). Thresholds are calibrated on the out-of-scope questions all the same.
_DEFAULT_WEIGHTS = {"word": 1.2, "char": 1.2, "answer": 0.3, "sentence": 0.3, "fuzzy_set": 0.8,
                    "fuzzy_ratio": 0.6, "classifier": 0.0, "coverage": 1.0, "kb_coverage": 0.8,
                    "word_gap": 0.8, "char_gap": 0.8, "fuzzy_gap": 0.4, "classifier_gap": 0.0,
                    "scope": 0.0, "unknown": -0.8, "near_negative": 0.0}
_DEFAULT_MEAN = {"word": 0.3, "char": 0.35, "answer": 0.05, "sentence": 0.1, "fuzzy_set": 0.5,
                 "fuzzy_ratio": 0.45, "coverage": 0.5, "kb_coverage": 0.7}
_DEFAULT_SCALE = {"word": 0.15, "char": 0.15, "answer": 0.05, "sentence": 0.1, "fuzzy_set": 0.15,
                  "fuzzy_ratio": 0.15, "coverage": 0.3, "kb_coverage": 0.3, "word_gap": 0.1,
                  "char_gap": 0.1, "fuzzy_gap": 0.1}
DEFAULT_PARAMS = ModelParams(
    coef=tuple(_DEFAULT_WEIGHTS.get(f, 0.0) for f in FEATURES), intercept=-2.0,
    mean=tuple(_DEFAULT_MEAN.get(f, 0.0) for f in FEATURES),
    scale=tuple(_DEFAULT_SCALE.get(f, 1.0) for f in FEATURES),
    thresholds=Thresholds(answer=0.9, margin=0.4, clarify=0.6, suggest=0.35),
    use_classifier=False,
)

