"""Fast single-query TF-IDF: the same vectors as a fitted TfidfVectorizer.transform, without
its per-call input validation, which costs ten times the arithmetic for one short query."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

try:  # scipy's compiled kernel behind a CSC matrix times a vector
    from scipy.sparse._sparsetools import csc_matvec as _column_product
except ImportError:  # private, so a later scipy may move it: numpy then walks the postings
    _column_product = None


class FastTfidf:
    """Wraps a fitted vectorizer (sublinear tf, l2 norm, as FaqIndex configures them)."""

    def __init__(self, vectorizer: TfidfVectorizer):
        if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf):
            raise ValueError("FastTfidf expects sublinear_tf=True, norm='l2', use_idf=True")
        self.vectorizer = vectorizer
        self.analyzer = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_.astype(np.float32)
        # Text the analyzer passes on unchanged (no preprocessing, case or accent folding).
        plain = vectorizer.preprocessor is None and not vectorizer.lowercase \
            and vectorizer.strip_accents is None
        # char_wb n-grams never cross a space, so a text's n-grams are its words' n-grams put
        # together, and each word's are looked up once (words repeat across queries).
        self._by_word = vectorizer.analyzer == "char_wb" and plain
        self._word_terms: dict[str, np.ndarray] = {}
        # Word n-grams of a tokenizer's tokens, made by the vectorizer's own n-gram step
        # without the analyzer's layers that change nothing here.
        self._tokenize = vectorizer.tokenizer if vectorizer.analyzer == "word" and plain \
            and vectorizer.stop_words is None and vectorizer.tokenizer is not None else None

    def _word_term_ids(self, word: str) -> np.ndarray:
        ids = self._word_terms.get(word)
        if ids is None:
            found = (self.vocabulary.get(term) for term in self.analyzer(word))
            ids = np.fromiter((j for j in found if j is not None), dtype=np.int64)
            if len(self._word_terms) < 100_000:
                self._word_terms[word] = ids
        return ids

    def _counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if self._by_word:
            ids = [self._word_term_ids(w) for w in text.split()]
            if not ids:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            return _distinct_counts(np.concatenate(ids))
        terms = self.analyzer(text) if self._tokenize is None \
            else self.vectorizer._word_ngrams(self._tokenize(text))
        counts: dict[int, int] = {}
        for j in map(self.vocabulary.get, terms):
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        return idx, tf

    def terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(term indices, weights) of one text: a sparse row without the matrix object."""
        idx, weights = self._counts(text)  # fresh arrays: weighted in place
        np.log(weights, out=weights)
        weights += 1.0
        weights *= self.idf[idx]
        norm = math.sqrt(float(weights @ weights))
        if norm:
            weights /= norm
        return idx, weights

    def __call__(self, texts: Sequence[str]) -> sp.csr_matrix:
        if len(texts) > 8:  # batches: sklearn's own loop is as fast and needs no checking
            return self.vectorizer.transform(texts)
        return self.matrix([self.terms(text) for text in texts])

    def matrix(self, rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> sp.csr_matrix:
        """Rows of (indices, weights) as a CSR matrix."""
        indptr, indices, values = [0], [], []
        for idx, weights in rows:
            indices.append(idx)
            values.append(weights)
            indptr.append(indptr[-1] + len(idx))
        return sp.csr_matrix(
            (np.concatenate(values) if values else np.zeros(0, np.float32),
             np.concatenate(indices) if indices else np.zeros(0, np.int32), indptr),
            shape=(len(rows), len(self.idf)), dtype=np.float32)


def _distinct_counts(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(ids, return_counts=True), without its overhead on a query's hundred ids
    (sorts `ids` in place)."""
    if not len(ids):
        return ids, np.zeros(0, dtype=np.float32)
    ids.sort()  # in place: the caller's array is a fresh concatenation
    first = np.empty(len(ids), dtype=bool)
    first[0] = True
    np.not_equal(ids[1:], ids[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts), dtype=np.float32)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = len(ids) - starts[-1]
    return ids[starts], counts


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """scipy.special.softmax, without its argument handling (most of its cost on one row)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def vocabulary_terms(vocabulary: dict[str, int]) -> list[str]:
    """A fitted vectorizer's terms in column order (what `restore_vectorizer` takes back)."""
    terms = [""] * len(vocabulary)
    for term, j in vocabulary.items():
        terms[j] = term
    return terms


def restore_vectorizer(vectorizer: TfidfVectorizer, terms: Sequence[str], idf: np.ndarray
                       ) -> TfidfVectorizer:
    """`vectorizer` (unfitted, configured as the stored one was) with a stored vocabulary and
    idf: it then transforms exactly as the fitted one did, without refitting."""
    terms = [str(t) for t in terms]
    if len(terms) != len(idf) or len(set(terms)) != len(terms):
        raise ValueError("stored vocabulary and idf differ in length or repeat a term")
    if not np.isfinite(idf).all():
        raise ValueError("stored idf holds numbers that are not finite")
    vectorizer.vocabulary_ = {t: j for j, t in enumerate(terms)}
    vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
    return vectorizer


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start + 1, ... of each (start, length) span, one after another."""
    return (starts - lengths.cumsum() + lengths).repeat(lengths) + np.arange(
        int(lengths.sum()))


# The most memory a TermDocuments spends on its dense block of frequent terms.
DENSE_BYTES = 16 * 2**20
# Above this many posting-list entries, scipy's sparse product beats numpy's gather (only
# where scipy's kernel cannot be called directly).
_NUMPY_POSTINGS = 60_000
# Copying a dense row out for a product costs about as much as multiplying eight rows in place.
_GATHER_COST = 8


class TermDocuments:
    """Documents' TF-IDF vectors stored by term (terms x documents), scored against queries.

    One query is scored without scipy's per-product overhead: terms that occur in many
    documents come from a small dense block (one vector-matrix product, where walking their
    long posting lists would cost most of the time), the rest by walking their posting lists.
    Batches use the sparse product. Both give the sparse product's numbers.
    """

    def __init__(self, documents: sp.csr_matrix, *, dense_share: float = 1 / 8,
                 max_dense_bytes: int = DENSE_BYTES):
        self.matrix_t = documents.T.tocsr()
        n_terms, n_docs = self.matrix_t.shape
        frequency = np.diff(self.matrix_t.indptr)
        budget = max_dense_bytes // (4 * max(n_docs, 1))
        self.whole = self.holds_whole(documents.shape, max_dense_bytes)
        if self.whole:
            frequent = np.arange(n_terms)
        else:
            frequent = np.flatnonzero(frequency >= max(dense_share * n_docs, 2))
            frequent = np.sort(frequent[np.argsort(-frequency[frequent], kind="stable")][:budget])
        self.dense_row = np.full(n_terms, -1, dtype=np.int64)
        self.dense_row[frequent] = np.arange(len(frequent))
        self.dense = np.ascontiguousarray(self.matrix_t[frequent].toarray(), dtype=np.float32)
        # The compiled kernel takes one index type and one value type throughout.
        self.indices_ = self.matrix_t.indices.astype(self.matrix_t.indptr.dtype, copy=False)
        self.data_ = self.matrix_t.data.astype(np.float32, copy=False)

    @staticmethod
    def holds_whole(shape: tuple[int, int], max_dense_bytes: int = DENSE_BYTES) -> bool:
        """Whether documents of `shape` (documents x terms) are small enough to hold whole,
        as float32: a query is then one gather and one product."""
        n_docs, n_terms = shape
        return n_terms <= max_dense_bytes // (4 * max(n_docs, 1))

    @property
    def n_documents(self) -> int:
        return self.matrix_t.shape[1]

    def score_one(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        """Scores (documents,) of one query given as (term indices, weights); None when the
        sparse product is faster (only without scipy's kernel, for very long posting lists)."""
        if self.whole:
            return weights @ self.dense[idx]
        frequent = None
        if len(self.dense):
            rows = self.dense_row[idx]
            in_block = rows >= 0
            n_in = int(np.count_nonzero(in_block))
            if n_in * _GATHER_COST >= len(self.dense):  # a product over the whole block
                spread = np.zeros(len(self.dense), dtype=np.float32)
                spread[rows[in_block]] = weights[in_block]
                frequent = spread @ self.dense
            elif n_in:
                frequent = weights[in_block] @ self.dense[rows[in_block]]
            if n_in:
                idx, weights = idx[~in_block], weights[~in_block]
        if not len(idx):
            return frequent if frequent is not None else np.zeros(self.n_documents, np.float32)
        scores = self._walk(idx, weights) if _column_product is not None \
            else self._walk_numpy(idx, weights)
        if scores is not None and frequent is not None:
            scores += frequent
        return scores

    def _walk(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The weighted sum of the terms' posting lists, by scipy's compiled column product.
        Read as CSC (documents x terms), each posting list is a column. Listed from the last
        term to the first, with a weight-0 column between each two, the gaps are empty ranges
        (each starts past its end), so no posting is copied or gathered."""
        order = np.argsort(-idx)
        idx, weights = idx[order], weights[order]
        indptr = self.matrix_t.indptr
        columns = np.empty(2 * len(idx), dtype=indptr.dtype)
        columns[0::2], columns[1::2] = indptr[idx], indptr[idx + 1]
        x = np.zeros(len(columns) - 1, dtype=np.float32)
        x[0::2] = weights
        scores = np.zeros(self.n_documents, dtype=np.float32)
        _column_product(self.n_documents, len(x), columns, self.indices_, self.data_, x,
                        scores)
        return scores

    def _walk_numpy(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
        lo, hi = self.matrix_t.indptr[idx], self.matrix_t.indptr[idx + 1]
        lengths = hi - lo
        total = int(lengths.sum())
        if total > _NUMPY_POSTINGS:
            return None
        if not total:  # bincount would count in integers
            return np.zeros(self.n_documents)
        positions = spans(lo, lengths)
        return np.bincount(self.matrix_t.indices[positions],
                           weights=self.matrix_t.data[positions] * weights.repeat(lengths),
                           minlength=self.n_documents)

    def score_many(self, queries: sp.csr_matrix) -> np.ndarray:
        """Scores (queries x documents) of query rows."""
        return (queries @ self.matrix_t).toarray()
