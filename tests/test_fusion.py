"""The learned parts of the confidence: the conditional logit and how the model applies it."""

from __future__ import annotations

import json

import numpy as np

from bot.engine.fusion import fit_logistic, fit_softmax
from bot.engine.index import FEATURES
from bot.engine.model import DEFAULT_PARAMS, ModelParams


def _groups(rng, n_groups: int, size: int, weights: np.ndarray):
    """Candidate groups whose right row is drawn from a softmax over `weights`."""
    X = rng.normal(size=(n_groups * size, len(weights)))
    groups = np.repeat(np.arange(n_groups), size)
    y = np.zeros(len(X), dtype=bool)
    for g in range(n_groups):
        z = X[g * size:(g + 1) * size] @ weights
        p = np.exp(z - z.max())
        y[g * size + rng.choice(size, p=p / p.sum())] = True
    return X, y, groups


def test_softmax_fit_recovers_the_weights_that_generated_the_choices():
    rng = np.random.default_rng(0)
    true = np.array([2.0, -1.0, 0.0])
    X, y, groups = _groups(rng, 3000, 6, true)
    part = fit_softmax(X, y, groups)
    assert np.allclose(part.coef / part.scale, true, atol=0.15)


def test_softmax_ignores_what_is_shared_by_a_group_and_groups_without_a_right_row():
    rng = np.random.default_rng(1)
    X, y, groups = _groups(rng, 500, 5, np.array([1.5, 0.0]))
    X[:, 1] = np.repeat(rng.normal(size=500), 5)  # the same for every row of a group
    y[groups >= 450] = False  # queries whose right entry was not shortlisted
    part = fit_softmax(X, y, groups)
    assert part.coef[0] > 1.0 and abs(part.coef[1]) < 1e-9
    bounds = np.arange(0, len(X) + 1, 5)
    shares = part.softmax(X, bounds).reshape(-1, 5)
    assert np.allclose(shares.sum(axis=1), 1.0)


def test_logistic_scores_rows_alone():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2))
    part = fit_logistic(X, X[:, 0] > 0)
    p = part.logistic(np.array([[2.0, 0.0], [-2.0, 0.0]]))
    assert p[0] > 0.9 and p[1] < 0.1


def test_softmax_model_shares_its_scope_between_candidates_and_round_trips():
    params = ModelParams(coef=(1.0,) + (0.0,) * (len(FEATURES) - 1), intercept=0.0,
                         mean=(0.0,) * len(FEATURES), scale=(1.0,) * len(FEATURES),
                         entry_softmax=True, scope_coef=(0.0,) * len(FEATURES),
                         scope_intercept=np.log(3.0), scope_mean=(0.0,) * len(FEATURES),
                         scope_scale=(1.0,) * len(FEATURES), use_scope=True)
    features = np.zeros((3, len(FEATURES)))
    features[:, 0] = [2.0, 1.0, 0.0]
    confidence = params.confidence(features)
    assert np.isclose(confidence.sum(), 0.75)  # P(in scope) = 3 / (1 + 3)
    assert confidence[0] > confidence[1] > confidence[2]
    restored = ModelParams.from_json(params.to_json())
    assert restored.entry_softmax and np.allclose(restored.confidence(features), confidence)
    assert json.loads(DEFAULT_PARAMS.to_json())["entry_softmax"] is False
