"""The trained model: fusion weights and decision thresholds, stored as a small JSON file.

Only learned numbers are stored (no pickle): the index and the entry classifier are rebuilt
from the knowledge file at start-up, which is deterministic and takes well under a second.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.special import softmax

from bot.engine.index import FEATURES
from bot.knowledge.model import Knowledge

FORMAT_VERSION = 1


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
    knowledge_hash: str | None = None
    metrics: dict = field(default_factory=dict)

    def confidence(self, features: np.ndarray) -> np.ndarray:
        """P(candidate is the right entry) for each row of features: P(right | in scope)
        times P(in scope)."""
        z = linear(features, self.mean, self.scale, self.coef, self.intercept)
        if not len(z):
            return z
        p = softmax(z) if self.entry_softmax else 1.0 / (1.0 + np.exp(-z))
        if self.scope_coef:
            best = features[int(np.argmax(p))]
            p = p * logistic(best, self.scope_mean, self.scope_scale, self.scope_coef,
                              self.scope_intercept)
        return p

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT_VERSION
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        """Parse a model file; raises ValueError with a one-line reason if it is unusable."""
        try:
            data = json.loads(text)
            if data.pop("format", None) != FORMAT_VERSION:
                raise ValueError(f"unsupported model format (expected {FORMAT_VERSION})")
            data["thresholds"] = Thresholds(**data["thresholds"])
            for key in ("coef", "mean", "scale", "features", "scope_coef", "scope_mean",
                        "scope_scale"):
                data[key] = tuple(data[key])
            params = cls(**data)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a model file: {exc}") from exc
        if params.features != FEATURES or not (
                len(params.coef) == len(params.mean) == len(params.scale) == len(FEATURES)):
            raise ValueError("model was trained with other features; run train.py again")
        return params

    def with_hash(self, knowledge_hash: str) -> ModelParams:
        return replace(self, knowledge_hash=knowledge_hash)


def linear(x: np.ndarray, mean, scale, coef, intercept) -> np.ndarray:
    """Weights over standardised features."""
    return ((x - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(coef) + intercept


def logistic(x: np.ndarray, mean, scale, coef, intercept) -> np.ndarray:
    """A logistic regression over standardised features."""
    return 1.0 / (1.0 + np.exp(-linear(x, mean, scale, coef, intercept)))


def knowledge_hash(knowledge: Knowledge) -> str:
    """A fingerprint of what matching depends on (entries and synonyms, not comments)."""
    payload = {
        "synonyms": {k: list(v) for k, v in sorted(knowledge.synonyms.items())},
        "entries": [[e.id, list(e.phrasings), e.answer] for e in knowledge.entries],
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


# Hand-set weights for an untrained or stale knowledge file: they trust only close lexical
# matches and ask or abstain otherwise (safe, at the cost of coverage).
_DEFAULT_WEIGHTS = {"word": 1.2, "char": 1.2, "answer": 0.3, "sentence": 0.3, "fuzzy_set": 0.8,
                    "fuzzy_ratio": 0.6, "classifier": 0.0, "coverage": 1.0, "kb_coverage": 0.8,
                    "word_gap": 0.8, "char_gap": 0.8, "fuzzy_gap": 0.4, "classifier_gap": 0.0,
                    "scope": 0.0, "unknown": -0.8, "near_negative": 0.0}
DEFAULT_PARAMS = ModelParams(
    coef=tuple(_DEFAULT_WEIGHTS[f] for f in FEATURES), intercept=-2.0,
    mean=(0.3, 0.35, 0.05, 0.1, 0.5, 0.45, 0.0, 0.5, 0.7, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0),
    scale=(0.15, 0.15, 0.05, 0.1, 0.15, 0.15, 1.0, 0.3, 0.3, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0),
    thresholds=Thresholds(answer=0.9, margin=0.4, clarify=0.6, suggest=0.35),
    use_classifier=False,
)
