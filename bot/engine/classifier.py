"""Linear classifiers over the index's word + character TF-IDF features.

EntryClassifier: which entry a query belongs to, trained on the phrasings. With many
phrasings per entry it is the strongest signal; with few it is weak.
ScopeClassifier: whether a query is in scope at all, trained on the phrasings against the
shipped out-of-scope questions.
The fusion weights learned by train.py decide how much each counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.engine.index import FaqIndex, QueryVectors
from bot.engine.vectors import FastTfidf


def _features(word: sp.csr_matrix, char: sp.csr_matrix) -> sp.csr_matrix:
    return sp.hstack([word, char], format="csr")


def _index_features(index: FaqIndex, normalized: Sequence[str]) -> sp.csr_matrix:
    return _features(index.word_.transform(normalized), index.char_.transform(normalized))


class EntryClassifier:
    """Logistic regression over entries."""

    def __init__(self, *, C: float = 10.0, max_iter: int = 300):
        self.C = C
        self.max_iter = max_iter

    def fit(self, index: FaqIndex, rows: Sequence[int] | None = None) -> EntryClassifier:
        """Train on the index's phrasings (or only the phrasings numbered in `rows`)."""
        rows = np.arange(len(index.phrasing_norm_)) if rows is None else np.asarray(rows)
        labels = index.phrasing_entry_[rows]
        texts = [index.phrasing_norm_[j] for j in rows]
        self.n_entries_ = index.n_entries
        # Its own, unpruned character n-grams: the index prunes common ones on large
        # knowledge bases for speed, but they carry much of what separates entries here.
        self.char_ = TfidfVectorizer(analyzer="char_wb", ngram_range=index.char_ngrams,
                                     lowercase=False, sublinear_tf=True, dtype=np.float32)
        self.fast_char_ = FastTfidf(self.char_.fit(texts))
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(sp.hstack([index.word_.transform(texts), self.char_.transform(texts)],
                                  format="csr"), labels)
        # Kept dense and transposed: one sparse query row times this is the whole prediction.
        self.coef_t_ = np.ascontiguousarray(self.model_.coef_.T)
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """Probabilities (queries x all entries)."""
        if not hasattr(self, "model_"):
            raise NotFittedError("this EntryClassifier is not fitted yet")
        X = sp.hstack([vectors.word, self.fast_char_(vectors.normalized)], format="csr")
        full = np.zeros((X.shape[0], self.n_entries_))
        if len(self.model_.classes_) == 2:  # binary models keep a single row of weights
            full[:, self.model_.classes_] = self.model_.predict_proba(X)
        else:
            full[:, self.model_.classes_] = softmax(X @ self.coef_t_ + self.model_.intercept_,
                                                    axis=1)
        return full


class ScopeClassifier:
    """Logistic regression: stored phrasings (in scope) against out-of-scope questions."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 500):
        self.C = C
        self.max_iter = max_iter

    def fit(self, index: FaqIndex, negatives: Sequence[str],
            rows: Sequence[int] | None = None) -> ScopeClassifier:
        rows = np.arange(len(index.phrasing_norm_)) if rows is None else np.asarray(rows)
        positives = [index.phrasing_norm_[j] for j in rows]
        negative_norm = [index.normalizer_(q) for q in negatives]
        X = _index_features(index, positives + negative_norm)
        y = np.r_[np.ones(len(positives)), np.zeros(len(negative_norm))]
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter,
                                         class_weight="balanced")
        self.model_.fit(X, y)
        self.coef_ = self.model_.coef_[0]
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """P(in scope) for each query."""
        if not hasattr(self, "model_"):
            raise NotFittedError("this ScopeClassifier is not fitted yet")
        X = vectors.word_and_char
        return expit(X @ self.coef_ + self.model_.intercept_[0])
