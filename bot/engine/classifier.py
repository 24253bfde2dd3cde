"""A linear classifier over entries, trained on their phrasings.

With many phrasings per entry it is the strongest signal; with few it is weak. The fusion
weights learned by train.py decide how much it counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from bot.engine.index import FaqIndex


class EntryClassifier:
    """Logistic regression over the index's word + character TF-IDF features."""

    def __init__(self, *, C: float = 10.0, max_iter: int = 300):
        self.C = C
        self.max_iter = max_iter

    def _features(self, index: FaqIndex, normalized: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack([index.word_.transform(normalized), index.char_.transform(normalized)],
                         format="csr")

    def fit(self, index: FaqIndex, rows: Sequence[int] | None = None) -> EntryClassifier:
        """Train on the index's phrasings (or only the phrasings numbered in `rows`)."""
        rows = np.arange(len(index.phrasing_norm_)) if rows is None else np.asarray(rows)
        texts = [index.phrasing_norm_[j] for j in rows]
        labels = index.phrasing_entry_[rows]
        self.index_ = index
        self.n_entries_ = index.n_entries
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._features(index, texts), labels)
        return self

    def predict_proba_normalized(self, normalized: Sequence[str]) -> np.ndarray:
        """Probabilities (queries x all entries) for already-normalised texts."""
        if not hasattr(self, "model_"):
            raise NotFittedError("this EntryClassifier is not fitted yet")
        proba = self.model_.predict_proba(self._features(self.index_, normalized))
        full = np.zeros((proba.shape[0], self.n_entries_), dtype=np.float64)
        full[:, self.model_.classes_] = proba
        return full

    def predict_proba(self, queries: Sequence[str]) -> np.ndarray:
        """Probabilities (queries x all entries) for raw query texts."""
        normalizer = self.index_.normalizer_
        return self.predict_proba_normalized([normalizer(q) for q in queries])
