"""Linear classifiers over the index's word + character TF-IDF features.

EntryClassifier: which entry a query belongs to, trained on the phrasings. With many
phrasings per entry it is the strongest signal; with few it is weak.
ScopeClassifier: whether a query is in scope at all, trained on the phrasings against the
shipped out-of-scope questions.
NearestNegative: how close a query comes to one of those out-of-scope questions (a linear
model learns what they have in common; this remembers each of them).
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

from bot.engine.index import FaqIndex, QueryVectors, cosine_scores
from bot.engine.vectors import FastTfidf, TermDocuments


def _single_row_product(word_terms, char_terms, weights: np.ndarray, n_word: int
                        ) -> np.ndarray:
    """One query's [word | char] row times `weights`, from its (indices, values) without
    building sparse matrices (which costs more than the arithmetic for one short query)."""
    (word_idx, word_val), (char_idx, char_val) = word_terms, char_terms
    return word_val @ weights[word_idx] + char_val @ weights[n_word + char_idx]


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
        char = self.char_.fit_transform(texts)
        self.fast_char_ = FastTfidf(self.char_)
        # Trained on all phrasings of a small knowledge base, its n-grams are the index's own,
        # and a query's character vector is then computed once for both.
        self.same_char_as_index_ = (self.char_.vocabulary_ == index.char_.vocabulary_
                                    and np.array_equal(self.char_.idf_, index.char_.idf_))
        self.n_word_features_ = len(index.word_.vocabulary_)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(sp.hstack([index.phrasing_word_.documents(rows), char], format="csr"),
                        labels)
        # Kept dense and transposed: one sparse query row times this is the whole prediction.
        self.coef_t_ = np.ascontiguousarray(self.model_.coef_.T)
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """Probabilities (queries x all entries)."""
        if not hasattr(self, "model_"):
            raise NotFittedError("this EntryClassifier is not fitted yet")
        full = np.zeros((len(vectors.normalized), self.n_entries_))
        binary = len(self.model_.classes_) == 2  # binary models keep one row of weights
        if vectors.word_terms is not None and not binary:
            char_terms = vectors.char_terms if self.same_char_as_index_ \
                else self.fast_char_.terms(vectors.normalized[0])
            logits = _single_row_product(vectors.word_terms, char_terms, self.coef_t_,
                                         self.n_word_features_)
            full[0, self.model_.classes_] = softmax(logits + self.model_.intercept_)
            return full
        X = vectors.word_and_char if self.same_char_as_index_ else \
            sp.hstack([vectors.word, self.fast_char_(vectors.normalized)], format="csr")
        if binary:
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
        negative_norm = [index.normalizer_(q) for q in negatives]
        X = index.phrasing_vectors(rows)
        if negative_norm:
            X = sp.vstack([X, sp.hstack([index.word_.transform(negative_norm),
                                         index.char_.transform(negative_norm)])], format="csr")
        y = np.r_[np.ones(len(rows)), np.zeros(len(negative_norm))]
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter,
                                         class_weight="balanced")
        self.model_.fit(X, y)
        self.coef_ = self.model_.coef_[0]
        self.n_word_features_ = len(index.word_.vocabulary_)
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """P(in scope) for each query."""
        if not hasattr(self, "model_"):
            raise NotFittedError("this ScopeClassifier is not fitted yet")
        if vectors.word_terms is not None:
            z = _single_row_product(vectors.word_terms, vectors.char_terms, self.coef_[:, None],
                                    self.n_word_features_)
            return expit(z + self.model_.intercept_[0])
        return expit(vectors.word_and_char @ self.coef_ + self.model_.intercept_[0])


class NearestNegative:
    """Character TF-IDF cosine of a query to its closest out-of-scope question."""

    def fit(self, index: FaqIndex, negatives: Sequence[str]) -> NearestNegative:
        normalized = [index.normalizer_(q) for q in negatives]
        self.negatives_ = TermDocuments(index.char_.transform(normalized)) if normalized \
            else None
        return self

    def similarity(self, vectors: QueryVectors) -> np.ndarray:
        """The highest cosine for each query (0 with no negatives)."""
        if not hasattr(self, "negatives_"):
            raise NotFittedError("this NearestNegative is not fitted yet")
        if self.negatives_ is None:
            return np.zeros(len(vectors.normalized))
        return cosine_scores(vectors, "char", self.negatives_).max(axis=1)
