"""Fast single-query TF-IDF: the same vectors as a fitted TfidfVectorizer.transform, without
its per-call input validation, which costs ten times the arithmetic for one short query."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer


class FastTfidf:
    """Wraps a fitted vectorizer (sublinear tf, l2 norm, as FaqIndex configures them)."""

    def __init__(self, vectorizer: TfidfVectorizer):
        if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf):
            raise ValueError("FastTfidf expects sublinear_tf=True, norm='l2', use_idf=True")
        self.vectorizer = vectorizer
        self.analyzer = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_.astype(np.float32)

    def terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(term indices, weights) of one text: a sparse row without the matrix object."""
        counts: dict[int, int] = {}
        for term in self.analyzer(text):
            j = self.vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        weights = (1.0 + np.log(tf)) * self.idf[idx]
        norm = float(np.sqrt((weights * weights).sum()))
        return idx, (weights / norm if norm else weights)

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
