"""Fitting the two linear parts of the confidence from candidate features.

Entry part: which shortlisted candidate is the right one, given that the question is in scope.
Scope part: whether the question is in scope at all, read from its best candidate.
Each part is a `Linear` over standardised features; bot.engine.model applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from bot.engine.index import FEATURES
from bot.engine.model import linear, logistic

# The scope part reads only features that say how well the query is covered at all; the
# rest are near-copies of each other and got unstable, sign-flipped weights.
SCOPE_FEATURES = ("char", "fuzzy_set", "coverage", "kb_coverage", "scope", "classifier",
                  "neighbour", "support", "unknown",
                  "near_negative", "foreign_subject",
                  "qtype_mismatch", "broad_fit", "topical")


@dataclass(frozen=True)
class Linear:
    """Weights over standardised features: z = ((x - mean) / scale) @ coef + intercept."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    def logistic(self, X: np.ndarray) -> np.ndarray:
        return logistic(X, self.mean, self.scale, self.coef, self.intercept)

    def softmax(self, X: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """A softmax within each group of rows X[bounds[g]:bounds[g + 1]]."""
        z = linear(X, self.mean, self.scale, self.coef, self.intercept)
        return np.concatenate([softmax(part) for part in np.split(z, bounds[1:-1])]) \
            if len(z) else z


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def fit_logistic(X: np.ndarray, y: np.ndarray, *, C: float = 1.0) -> Linear:
    """P(y) for each row on its own: a logistic regression."""
    mean, scale = _standardise(X)
    model = LogisticRegression(C=C, max_iter=1000).fit((X - mean) / scale, y)
    return Linear(model.coef_[0], float(model.intercept_[0]), mean, scale)


def fit_softmax(X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, C: float = 1.0) -> Linear:
    """Which row of each group is the positive one: a conditional logit (a softmax over the
    group's rows with shared weights), L2-penalised like scikit-learn's LogisticRegression.

    Rows are one query's shortlisted candidates. Learning to tell them apart, rather than to
    score each on its own, keeps "is anything here right at all" out of this part, where the
    scope part answers it. Groups without a positive row teach nothing here and are dropped.
    Features that are the same for all of a group's rows cancel out and keep weight 0.
    scikit-learn has no conditional logit, and it is a few lines over scipy's L-BFGS.
    """
    mean, scale = _standardise(X)
    Z = (X - mean) / scale
    _, group = np.unique(groups, return_inverse=True)
    has_positive = np.bincount(group, weights=y.astype(float)) > 0
    keep = has_positive[group]
    Z, y = Z[keep], y[keep].astype(bool)
    _, group = np.unique(group[keep], return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    positives = Z[y].sum(axis=0)

    def loss_and_gradient(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = Z @ w
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, group, z)
        e = np.exp(z - top[group])
        total = np.bincount(group, weights=e, minlength=n_groups)
        p = e / total[group]
        nll = float((np.log(total) + top).sum() - z[y].sum())
        return nll + 0.5 * w @ w / C, Z.T @ p - positives + w / C

    if n_groups == 0:
        return Linear(np.zeros(X.shape[1]), 0.0, mean, scale)
    result = minimize(loss_and_gradient, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B")
    return Linear(result.x, 0.0, mean, scale)


def fit_scope(X: np.ndarray, y: np.ndarray) -> Linear:
    """The scope part over SCOPE_FEATURES only (the other weights are 0)."""
    columns = [FEATURES.index(f) for f in SCOPE_FEATURES]
    part = fit_logistic(X[:, columns], y)
    coef, mean, scale = np.zeros(X.shape[1]), X.mean(axis=0), np.ones(X.shape[1])
    coef[columns], mean[columns], scale[columns] = part.coef, part.mean, part.scale
    return Linear(coef, part.intercept, mean, scale)
