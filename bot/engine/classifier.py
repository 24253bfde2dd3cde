"""Linear classifiers over the index's word + character TF-IDF features.

EntryClassifier: which entry a query belongs to, trained on the entries' phrasings and their
training paraphrases. With many examples per entry it is a strong signal; with few it is
weak, and class weights keep a new entry with three alternates from being drowned out.
ScopeClassifier: whether a query is in scope at all, trained on the same examples against the
out-of-scope questions.
NearestNegative: how close a query comes to one of those out-of-scope questions (a linear
model learns what they have in common; this remembers each of them).
The fusion weights learned by train.py decide how much each counts.

Each has `to_arrays`/`from_arrays` so a fitted one is stored in the engine cache (`.npz`,
no pickle) instead of being refitted at every start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.index import FaqIndex, QueryVectors, cosine_scores
from bot.engine.vectors import FastTfidf, TermDocuments, restore_vectorizer, vocabulary_terms

Arrays = dict[str, np.ndarray]


def _single_row_product(word_terms, char_terms, weights: np.ndarray, n_word: int
                        ) -> np.ndarray:
    """One query's [word | char] row times `weights`, from its (indices, values) without
    building sparse matrices (which costs more than the arithmetic for one short query)."""
    (word_idx, word_val), (char_idx, char_val) = word_terms, char_terms
    return word_val @ weights[word_idx] + char_val @ weights[n_word + char_idx]


def _char_tfidf(ngrams: tuple[int, int], **options) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, lowercase=False,
                           sublinear_tf=True, dtype=np.float32, **options)


class EntryClassifier:
    """Logistic regression over entries.

    Parameters
    ----------
    C : inverse regularisation strength.
    balanced : weight entries by the inverse of their number of examples, so an entry with
        few phrasings is not outvoted by neighbours with many.
    """

    def __init__(self, *, C: float = 10.0, max_iter: int = 300, balanced: bool = True):
        self.C = C
        self.max_iter = max_iter
        self.balanced = balanced

    def fit(self, index: FaqIndex, texts: Sequence[str], labels: Sequence[int]
            ) -> EntryClassifier:
        """Train on normalized texts (see `FaqIndex.training_texts`) labelled with entry
        numbers."""
        labels = np.asarray(labels)
        self.n_entries_ = index.n_entries
        # Its own, unpruned character n-grams: the index prunes common ones on large
        # knowledge bases for speed, but they carry much of what separates entries here.
        self.char_ = _char_tfidf(index.char_ngrams)
        char = self.char_.fit_transform(texts)
        self.fast_char_ = FastTfidf(self.char_)
        self.n_word_features_ = len(index.word_.vocabulary_)
        model = _logistic_regression(C=self.C, max_iter=self.max_iter,
                                   class_weight="balanced" if self.balanced else None)
        model.fit(sp.hstack([index.word_.transform(texts), char], format="csr"), labels)
        self.classes_ = model.classes_
        # Kept dense and transposed: one sparse query row times this is the whole prediction.
        # Two classes keep one row of weights: as a softmax, that is [0, w] (sigmoid of w).
        weights = model.coef_.T if len(self.classes_) > 2 else np.c_[
            np.zeros_like(model.coef_.T), model.coef_.T]
        intercept = model.intercept_ if len(self.classes_) > 2 else np.r_[0.0, model.intercept_]
        self.coef_t_ = np.ascontiguousarray(weights, dtype=np.float32)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """Probabilities (queries x all entries)."""
        if not hasattr(self, "coef_t_"):
            raise NotFittedError("this EntryClassifier is not fitted yet")
        full = np.zeros((len(vectors.normalized), self.n_entries_))
        if len(self.classes_) < 2:  # one entry: it is certain
            full[:, self.classes_] = 1.0
            return full
        if vectors.word_terms is not None:
            char_terms = self.fast_char_.terms(vectors.normalized[0])
            logits = _single_row_product(vectors.word_terms, char_terms, self.coef_t_,
                                         self.n_word_features_)
            full[0, self.classes_] = softmax(logits + self.intercept_)
            return full
        X = sp.hstack([vectors.word, self.fast_char_(vectors.normalized)], format="csr")
        full[:, self.classes_] = softmax(X @ self.coef_t_ + self.intercept_, axis=1)
        return full

    def to_arrays(self) -> Arrays:
        return {"char_terms": np.asarray(vocabulary_terms(self.char_.vocabulary_)),
                "char_idf": self.char_.idf_, "coef_t": self.coef_t_,
                "intercept": self.intercept_, "classes": np.asarray(self.classes_),
                "n_entries": np.asarray(self.n_entries_)}

    @classmethod
    def from_arrays(cls, index: FaqIndex, arrays: Mapping[str, np.ndarray]
                    ) -> EntryClassifier:
        model = cls()
        model.char_ = restore_vectorizer(_char_tfidf(index.char_ngrams), arrays["char_terms"],
                                         arrays["char_idf"])
        model.fast_char_ = FastTfidf(model.char_)
        model.n_word_features_ = len(index.word_.vocabulary_)
        model.coef_t_ = np.ascontiguousarray(arrays["coef_t"], dtype=np.float32)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        model.classes_ = np.asarray(arrays["classes"], dtype=np.int64)
        model.n_entries_ = int(arrays["n_entries"])
        n_features = model.n_word_features_ + len(model.char_.vocabulary_)
        if model.coef_t_.shape != (n_features, len(model.classes_)) or (
                len(model.classes_) and model.classes_.max() >= model.n_entries_):
            raise ValueError("entry classifier arrays do not fit this index")
        return model


class ScopeClassifier:
    """Logistic regression: in-scope examples (phrasings and paraphrases) against
    out-of-scope questions."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 500):
        self.C = C
        self.max_iter = max_iter

    def fit(self, index: FaqIndex, positives: Sequence[str], negatives: Sequence[str]
            ) -> ScopeClassifier:
        """Train on normalized texts: `positives` in scope, `negatives` not."""
        texts = list(positives) + list(negatives)
        X = sp.hstack([index.word_.transform(texts), index.char_.transform(texts)],
                      format="csr")
        y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        model = _logistic_regression(C=self.C, max_iter=self.max_iter, class_weight="balanced")
        model.fit(X, y)
        self.coef_ = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept_ = float(model.intercept_[0])
        self.n_word_features_ = len(index.word_.vocabulary_)
        return self

    def proba(self, vectors: QueryVectors) -> np.ndarray:
        """P(in scope) for each query."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("this ScopeClassifier is not fitted yet")
        if vectors.word_terms is not None:
            z = _single_row_product(vectors.word_terms, vectors.char_terms, self.coef_[:, None],
                                    self.n_word_features_)
            return expit(z + self.intercept_)
        return expit(vectors.word_and_char @ self.coef_ + self.intercept_)

    def to_arrays(self) -> Arrays:
        return {"coef": self.coef_, "intercept": np.asarray(self.intercept_)}

    @classmethod
    def from_arrays(cls, index: FaqIndex, arrays: Mapping[str, np.ndarray]) -> ScopeClassifier:
        model = cls()
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = float(arrays["intercept"])
        model.n_word_features_ = len(index.word_.vocabulary_)
        if model.coef_.shape != (model.n_word_features_ + len(index.char_.vocabulary_),):
            raise ValueError("scope classifier arrays do not fit this index")
        return model


class NearestNegative:
    """Character TF-IDF cosine of a query to its closest out-of-scope question."""

    def fit(self, index: FaqIndex, negatives: Sequence[str]) -> NearestNegative:
        """Remember the negatives (normalized texts)."""
        self.negatives_ = TermDocuments(index.char_.transform(list(negatives))) if negatives \
            else None
        return self

    def similarity(self, vectors: QueryVectors) -> np.ndarray:
        """The highest cosine for each query (0 with no negatives)."""
        if not hasattr(self, "negatives_"):
            raise NotFittedError("this NearestNegative is not fitted yet")
        if self.negatives_ is None:
            return np.zeros(len(vectors.normalized))
        return cosine_scores(vectors, "char", self.negatives_).max(axis=1)

    def to_arrays(self) -> Arrays:
        if self.negatives_ is None:
            return {"shape": np.asarray([0, 0])}
        m = self.negatives_.matrix_t.T.tocsr()
        return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
                "shape": np.asarray(m.shape)}

    @classmethod
    def from_arrays(cls, index: FaqIndex, arrays: Mapping[str, np.ndarray]) -> NearestNegative:
        model = cls()
        shape = tuple(int(n) for n in arrays["shape"])
        if shape == (0, 0):
            model.negatives_ = None
            return model
        if shape[1] != len(index.char_.vocabulary_):
            raise ValueError("nearest-negative arrays do not fit this index")
        matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                               shape=shape)
        model.negatives_ = TermDocuments(matrix)
        return model


def _logistic_regression(**options):
    # Imported when fitting only: serving a fitted model never needs it, and the import costs
    # a tenth of a second of start-up.
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**options)
