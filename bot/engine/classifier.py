"""Linear classifiers over word + character TF-IDF of their own training texts.

TextFeatures: the vocabulary the classifiers read, fitted on what they learn from (the
entries' phrasings and training paraphrases, and the out-of-scope questions). The index's
vocabulary comes from the knowledge file alone; a chat word that only the paraphrases use
("hype", "wiped out") would be invisible to a classifier that read the index's features.
EntryClassifier: which entry a query belongs to. With many examples per entry it is a strong
signal; with few it is weak, and class weights keep a new entry with three alternates from
being drowned out.
ScopeClassifier: whether a query is in scope at all, trained on the same examples against the
out-of-scope questions.
NearestNegative: how close a query comes to one of those out-of-scope questions (a linear
model learns what they have in common; this remembers each of them).
The fusion weights learned by train.py decide how much each counts.

Each has `to_arrays`/`from_arrays`, so a fitted one is stored in the engine cache (`.npz`,
no pickle) instead of being refitted at every start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.vectors import (
    FastTfidf,
    TermDocuments,
    restore_vectorizer,
    softmax,
    vocabulary_terms,
)

Arrays = dict[str, np.ndarray]


def _word_tfidf(ngrams: tuple[int, int]) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="word", tokenizer=str.split, token_pattern=None,
                           ngram_range=ngrams, lowercase=False, sublinear_tf=True,
                           dtype=np.float32)


def _char_tfidf(ngrams: tuple[int, int]) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, lowercase=False,
                           sublinear_tf=True, dtype=np.float32)


@dataclass
class FeatureRows:
    """Queries in the classifiers' feature space: one query as (indices, weights) pairs
    (all that scoring needs), or several as sparse matrices."""

    word: sp.csr_matrix | tuple[np.ndarray, np.ndarray]
    char: sp.csr_matrix | tuple[np.ndarray, np.ndarray]
    n_word: int
    n_char: int

    @property
    def single(self) -> bool:
        return isinstance(self.word, tuple)

    def __len__(self) -> int:
        return 1 if self.single else self.word.shape[0]

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """[word | char] times `weights` (features x k): one row per query."""
        if self.single:
            (wi, wv), (ci, cv) = self.word, self.char
            return (wv @ weights[wi] + cv @ weights[self.n_word + ci])[None, :]
        return np.asarray(sp.hstack([self.word, self.char], format="csr") @ weights)

    def select(self, rows: np.ndarray | slice = slice(None)) -> sp.csr_matrix:
        """The [word | char] matrix of some rows (for fitting)."""
        return sp.hstack([self.word[rows], self.char[rows]], format="csr")

    def subset(self, rows: np.ndarray) -> FeatureRows:
        return FeatureRows(self.word[rows], self.char[rows], self.n_word, self.n_char)


class TextFeatures:
    """Word (1-2 grams) and character (3-5 grams) TF-IDF of the classifiers' texts."""

    def __init__(self, *, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (3, 5)):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams

    def fit(self, texts: Sequence[str]) -> TextFeatures:
        """Learn the vocabulary of normalized texts."""
        self.word_ = _word_tfidf(self.word_ngrams).fit(texts)
        self.char_ = _char_tfidf(self.char_ngrams).fit(texts)
        return self._prepare()

    def _prepare(self) -> TextFeatures:
        self.fast_word_, self.fast_char_ = FastTfidf(self.word_), FastTfidf(self.char_)
        self.n_word_, self.n_char_ = len(self.word_.vocabulary_), len(self.char_.vocabulary_)
        return self

    def rows(self, normalized: Sequence[str], *, batch: bool = False) -> FeatureRows:
        """The texts (normalized as the index normalizes) in this feature space; `batch`
        keeps even one text as a matrix (for fitting)."""
        if not hasattr(self, "word_"):
            raise NotFittedError("these TextFeatures are not fitted yet")
        if len(normalized) == 1 and not batch:
            return FeatureRows(self.fast_word_.terms(normalized[0]),
                               self.fast_char_.terms(normalized[0]), self.n_word_,
                               self.n_char_)
        texts = list(normalized)
        if not texts:
            return FeatureRows(sp.csr_matrix((0, self.n_word_), dtype=np.float32),
                               sp.csr_matrix((0, self.n_char_), dtype=np.float32),
                               self.n_word_, self.n_char_)
        return FeatureRows(self.word_.transform(texts).tocsr(), self.char_.transform(texts).tocsr(),
                           self.n_word_, self.n_char_)

    def to_arrays(self) -> Arrays:
        return {"word_terms": np.asarray(vocabulary_terms(self.word_.vocabulary_)),
                "word_idf": self.word_.idf_,
                "char_terms": np.asarray(vocabulary_terms(self.char_.vocabulary_)),
                "char_idf": self.char_.idf_}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TextFeatures:
        features = cls()
        features.word_ = restore_vectorizer(_word_tfidf(features.word_ngrams),
                                            arrays["word_terms"], arrays["word_idf"])
        features.char_ = restore_vectorizer(_char_tfidf(features.char_ngrams),
                                            arrays["char_terms"], arrays["char_idf"])
        return features._prepare()


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

    def fit(self, X: sp.csr_matrix, labels: Sequence[int], sample_weight: np.ndarray | None = None,
            *, n_entries: int) -> EntryClassifier:
        """Train on feature rows (TextFeatures) labelled with entry numbers."""
        self.n_entries_ = n_entries
        model = _logistic_regression(C=self.C, max_iter=self.max_iter,
                                     class_weight="balanced" if self.balanced else None)
        model.fit(X, np.asarray(labels), sample_weight=sample_weight)
        self.classes_ = model.classes_
        # Kept dense and transposed: one sparse query row times this is the whole prediction.
        # Two classes keep one row of weights: as a softmax, that is [0, w] (sigmoid of w).
        weights = model.coef_.T if len(self.classes_) > 2 else np.c_[
            np.zeros_like(model.coef_.T), model.coef_.T]
        intercept = model.intercept_ if len(self.classes_) > 2 else np.r_[0.0, model.intercept_]
        self.coef_t_ = np.ascontiguousarray(weights, dtype=np.float32)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        return self

    def proba(self, rows: FeatureRows) -> np.ndarray:
        """Probabilities (queries x all entries)."""
        if not hasattr(self, "coef_t_"):
            raise NotFittedError("this EntryClassifier is not fitted yet")
        full = np.zeros((len(rows), self.n_entries_))
        if len(self.classes_) < 2:  # one entry: it is certain
            full[:, self.classes_] = 1.0
            return full
        full[:, self.classes_] = softmax(rows.dot(self.coef_t_) + self.intercept_, axis=1)
        return full

    def to_arrays(self) -> Arrays:
        return {"coef_t": self.coef_t_, "intercept": self.intercept_,
                "classes": np.asarray(self.classes_), "n_entries": np.asarray(self.n_entries_)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> EntryClassifier:
        model = cls()
        model.coef_t_ = np.ascontiguousarray(arrays["coef_t"], dtype=np.float32)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        model.classes_ = np.asarray(arrays["classes"], dtype=np.int64)
        model.n_entries_ = int(arrays["n_entries"])
        if model.coef_t_.shape != (n_features, len(model.classes_)) or (
                len(model.classes_) and model.classes_.max() >= model.n_entries_):
            raise ValueError("entry classifier arrays do not fit these features")
        return model


class ScopeClassifier:
    """Logistic regression: in-scope examples (phrasings and paraphrases) against
    out-of-scope questions."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 500):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: sp.csr_matrix, in_scope: Sequence[bool]) -> ScopeClassifier:
        """Train on feature rows (TextFeatures), True for in-scope ones."""
        model = _logistic_regression(C=self.C, max_iter=self.max_iter, class_weight="balanced")
        model.fit(X, np.asarray(in_scope, dtype=float))
        self.coef_ = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def proba(self, rows: FeatureRows) -> np.ndarray:
        """P(in scope) for each query."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("this ScopeClassifier is not fitted yet")
        return expit(rows.dot(self.coef_[:, None])[:, 0] + self.intercept_)

    def to_arrays(self) -> Arrays:
        return {"coef": self.coef_, "intercept": np.asarray(self.intercept_)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int) -> ScopeClassifier:
        model = cls()
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = float(arrays["intercept"])
        if model.coef_.shape != (n_features,):
            raise ValueError("scope classifier arrays do not fit these features")
        return model


class NearestNegative:
    """Character TF-IDF cosine of a query to its closest out-of-scope question."""

    def fit(self, negatives: FeatureRows) -> NearestNegative:
        """Remember the negatives (their feature rows, several at once)."""
        self.negatives_ = TermDocuments(negatives.char) if len(negatives) else None
        return self

    def similarity(self, rows: FeatureRows) -> np.ndarray:
        """The highest cosine for each query (0 with no negatives)."""
        if not hasattr(self, "negatives_"):
            raise NotFittedError("this NearestNegative is not fitted yet")
        if self.negatives_ is None:
            return np.zeros(len(rows))
        if rows.single:
            scores = self.negatives_.score_one(*rows.char)
            if scores is not None:
                return np.asarray([scores.max()])
        char = rows.char if not rows.single else sp.csr_matrix(
            (rows.char[1], rows.char[0], [0, len(rows.char[0])]), shape=(1, rows.n_char))
        return self.negatives_.score_many(char).max(axis=1)

    def to_arrays(self) -> Arrays:
        if self.negatives_ is None:
            return {"shape": np.asarray([0, 0])}
        m = self.negatives_.matrix_t.T.tocsr()
        return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
                "shape": np.asarray(m.shape)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_char: int) -> NearestNegative:
        model = cls()
        shape = tuple(int(n) for n in arrays["shape"])
        if shape == (0, 0):
            model.negatives_ = None
            return model
        if shape[1] != n_char:
            raise ValueError("nearest-negative arrays do not fit these features")
        matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                               shape=shape)
        model.negatives_ = TermDocuments(matrix)
        return model


_SQRT2 = np.sqrt(2)


class ExampleNeighbours:
    """For each entry, the highest cosine between a query and one of the entry's training
    examples (its phrasings and paraphrases). A linear classifier weighs words across all of
    an entry's examples, so a word that many of one entry's paraphrases happen to share pulls
    every question with that word to it; the nearest single example is a second opinion."""

    def fit(self, examples: FeatureRows, labels: Sequence[int], n_entries: int
            ) -> ExampleNeighbours:
        labels = np.asarray(labels, dtype=np.int64)
        order = np.argsort(labels, kind="stable")
        self.order_ = order  # example number of each stored row
        self._set_labels(labels[order], n_entries)
        matrix = sp.hstack([examples.word, examples.char], format="csr")[order] / np.sqrt(2)
        self.examples_ = TermDocuments(sp.csr_matrix(matrix, dtype=np.float32))
        return self

    def _set_labels(self, labels: np.ndarray, n_entries: int) -> None:
        """The stored rows' entries (sorted) and what follows from them, asked at every
        query: where each entry's rows start, which entries have any, and its support."""
        self.labels_, self.n_entries_ = labels, n_entries
        self.starts_ = np.searchsorted(labels, np.arange(n_entries))
        self.present_ = np.unique(labels)
        self.support_ = np.log1p(np.bincount(labels, minlength=n_entries))

    def similarity(self, rows: FeatureRows, exclude: Sequence[int | None] | None = None
                   ) -> np.ndarray:
        """(queries x entries) highest cosines; `exclude[i]` hides query i's own example."""
        if not hasattr(self, "examples_"):
            raise NotFittedError("these ExampleNeighbours are not fitted yet")
        if rows.single:
            (wi, wv), (ci, cv) = rows.word, rows.char
            scores = self.examples_.score_one(
                np.concatenate([wi, rows.n_word + ci]),
                np.concatenate([wv, cv]).astype(np.float32) / _SQRT2)
            scores = scores[None, :] if scores is not None else self._many(rows)
        else:
            scores = self._many(rows)
        if exclude is not None:
            position = np.empty(len(self.order_), dtype=np.int64)
            position[self.order_] = np.arange(len(self.order_))
            for i, j in enumerate(exclude):
                if j is not None:
                    scores[i, position[j]] = 0.0
        out = np.zeros((scores.shape[0], self.n_entries_))
        present = self.present_
        out[:, present] = np.maximum.reduceat(scores, self.starts_[present], axis=1)
        return out

    def support(self) -> np.ndarray:
        """How many training examples each entry has (log): a new entry with three alternates
        has weaker classifier and neighbour signals than one with eighty, and the weights
        can allow for it."""
        return self.support_

    def _many(self, rows: FeatureRows) -> np.ndarray:
        both = sp.hstack([rows.word, rows.char], format="csr") if not rows.single else \
            sp.csr_matrix((np.r_[rows.word[1], rows.char[1]],
                           np.r_[rows.word[0], rows.n_word + rows.char[0]],
                           [0, len(rows.word[0]) + len(rows.char[0])]),
                          shape=(1, rows.n_word + rows.n_char))
        return self.examples_.score_many(both / np.sqrt(2))

    def to_arrays(self) -> Arrays:
        m = self.examples_.matrix_t.T.tocsr()
        return {"data": m.data, "indices": m.indices, "indptr": m.indptr,
                "shape": np.asarray(m.shape), "labels": self.labels_, "order": self.order_,
                "n_entries": np.asarray(self.n_entries_)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_features: int
                    ) -> ExampleNeighbours:
        model = cls()
        shape = tuple(int(n) for n in arrays["shape"])
        if shape[1] != n_features:
            raise ValueError("neighbour arrays do not fit these features")
        model.examples_ = TermDocuments(sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape))
        model.order_ = np.asarray(arrays["order"], dtype=np.int64)
        model._set_labels(np.asarray(arrays["labels"], dtype=np.int64), int(arrays["n_entries"]))
        return model


def _logistic_regression(**options):
    # Imported when fitting only: serving a fitted model never needs it, and the import costs
    # a tenth of a second of start-up.
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**options)
