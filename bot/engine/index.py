"""FaqIndex: every phrasing of every entry (and the answers, as a weaker field) in TF-IDF
matrices; a query gets a shortlist of candidate entries with one row of features each.

Follows scikit-learn's estimator conventions: parameters in `__init__`, work in `fit`
(returning self), learned state in attributes ending in `_`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.text import Normalizer, clean, content_tokens, words
from bot.engine.vectors import FastTfidf
from bot.knowledge.model import Entry

FEATURES = ("word", "char", "answer", "sentence", "fuzzy_set", "fuzzy_ratio", "classifier",
            "coverage", "kb_coverage", "word_gap", "char_gap", "fuzzy_gap", "classifier_gap",
            "scope")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+")


@dataclass(frozen=True)
class Candidates:
    """The shortlisted entries for one query (best pre-score first) and their features."""

    entries: np.ndarray  # entry indices, shape (k,)
    features: np.ndarray  # shape (k, len(FEATURES))
    best_phrasing: np.ndarray  # index of each candidate's closest phrasing, shape (k,)
    query_tokens: tuple[str, ...]


@dataclass
class QueryVectors:
    """Queries as the index sees them (computed once, shared with the classifiers)."""

    texts: Sequence[str]
    tokens: list[list[str]]
    normalized: list[str]
    word: sp.csr_matrix
    char: sp.csr_matrix
    content: sp.csr_matrix
    _both: sp.csr_matrix | None = None

    @property
    def word_and_char(self) -> sp.csr_matrix:
        """Word and character features side by side (what the classifiers read)."""
        if self._both is None:
            self._both = sp.hstack([self.word, self.char], format="csr")
        return self._both


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer (simple punctuation split; answers are edited prose)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _tfidf(**options) -> TfidfVectorizer:
    return TfidfVectorizer(lowercase=False, sublinear_tf=True, dtype=np.float32, **options)


class FaqIndex:
    """Hybrid lexical index over FAQ entries.

    Parameters
    ----------
    word_ngrams, char_ngrams : n-gram ranges of the word and character TF-IDF.
    char_max_df : character n-grams in more than this share of phrasings are dropped (they
        say little and make every query slow on large knowledge bases).
    shortlist : how many entries are scored in full for each query.
    fuzzy_phrasings : at most this many phrasings per query are re-scored with rapidfuzz.
    """

    def __init__(self, *, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), char_max_df: float = 1.0,
                 shortlist: int = 8, fuzzy_phrasings: int = 40):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_max_df = char_max_df
        self.shortlist = shortlist
        self.fuzzy_phrasings = fuzzy_phrasings

    # ------------------------------------------------------------------ fitting
    def fit(self, entries: Sequence[Entry], synonyms: Mapping[str, Sequence[str]] | None = None
            ) -> FaqIndex:
        """Index the entries' phrasings and answers."""
        if not entries:
            raise ValueError("FaqIndex.fit needs at least one entry")
        texts = [t for e in entries for t in (*e.phrasings, e.answer)]
        self.normalizer_ = Normalizer(synonyms).fit(texts)
        norm = self.normalizer_
        self.entry_ids_ = [e.id for e in entries]
        phrasing_entry, phrasing_norm, phrasing_tokens = [], [], []
        for i, entry in enumerate(entries):
            for text in entry.phrasings:
                tokens = norm.tokens(text)
                phrasing_entry.append(i)
                phrasing_tokens.append(tokens)
                phrasing_norm.append(" ".join(tokens))
        self.phrasing_entry_ = np.asarray(phrasing_entry, dtype=np.int32)
        self.entry_starts_ = np.searchsorted(self.phrasing_entry_, np.arange(len(entries)))
        self.phrasing_norm_ = phrasing_norm
        self.phrasing_text_ = [clean(t) for e in entries for t in e.phrasings]

        answer_tokens = [content_tokens(norm.tokens(e.answer)) for e in entries]
        sentences, sentence_entry = [], []
        for i, entry in enumerate(entries):
            # An entry without answer text still gets one (empty) sentence row.
            for sentence in split_sentences(entry.answer) or [""]:
                sentences.append(" ".join(sorted(content_tokens(norm.tokens(sentence)))))
                sentence_entry.append(i)
        answer_docs = [" ".join(sorted(tokens)) for tokens in answer_tokens]

        self.word_ = _tfidf(analyzer="word", tokenizer=str.split, token_pattern=None,
                            ngram_range=self.word_ngrams)
        self.word_.fit(phrasing_norm + answer_docs)
        self.char_ = _tfidf(analyzer="char_wb", ngram_range=self.char_ngrams,
                            max_df=self.char_max_df if len(phrasing_norm) > 50 else 1.0)
        self.char_.fit(phrasing_norm)
        self.fast_word_, self.fast_char_ = FastTfidf(self.word_), FastTfidf(self.char_)
        # Stored transposed (terms x documents) so a query's product walks posting lists.
        self.phrasing_word_t_ = self.word_.transform(phrasing_norm).T.tocsr()
        self.phrasing_char_t_ = self.char_.transform(phrasing_norm).T.tocsr()
        self.answer_word_t_ = self.word_.transform(answer_docs).T.tocsr()
        self.sentence_word_t_ = self.word_.transform(sentences).T.tocsr()
        self.sentence_entry_ = np.asarray(sentence_entry, dtype=np.int32)
        self.sentence_starts_ = np.searchsorted(self.sentence_entry_, np.arange(len(entries)))

        # Content-token counts for coverage: how much of a query an entry's text explains.
        self.phrasing_counts_ = [Counter(content_tokens(t)) for t in phrasing_tokens]
        self.entry_counts_ = [Counter() for _ in entries]
        for i, counts in zip(phrasing_entry, self.phrasing_counts_, strict=True):
            self.entry_counts_[i].update(counts)
        for i, tokens in enumerate(answer_tokens):
            self.entry_counts_[i].update(tokens)
        self.kb_counts_ = Counter()
        for counts in self.entry_counts_:
            self.kb_counts_.update(counts.keys())
        vocab = self.word_.vocabulary_
        idf = self.word_.idf_
        self.max_idf_ = float(idf.max())
        self.token_idf_ = {t: float(idf[j]) for t, j in vocab.items() if " " not in t}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "phrasing_word_t_"):
            raise NotFittedError("this FaqIndex is not fitted yet; call fit(entries) first")

    @property
    def n_entries(self) -> int:
        self._check_fitted()
        return len(self.entry_ids_)

    # ------------------------------------------------------------------ scoring
    @staticmethod
    def _max_per_entry(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
        if len(starts) == scores.shape[-1]:  # one row per entry: nothing to reduce
            return scores
        return np.maximum.reduceat(scores, starts, axis=-1)

    @staticmethod
    def _sparse_max_per_entry(scores: sp.csr_matrix, owner: np.ndarray, n: int) -> np.ndarray:
        """Like _max_per_entry for a sparse result: work in proportion to its non-zeros (answer
        sentences outnumber entries several times, and most score zero)."""
        out = np.zeros((scores.shape[0], n))
        for i in range(scores.shape[0]):
            lo, hi = scores.indptr[i], scores.indptr[i + 1]
            np.maximum.at(out[i], owner[scores.indices[lo:hi]], scores.data[lo:hi])
        return out

    def vectorize(self, queries: Sequence[str]) -> QueryVectors:
        """Normalise and vectorise queries once, for the index and the classifiers."""
        self._check_fitted()
        tokens = [self.normalizer_.tokens(q) for q in queries]
        norm = [" ".join(t) for t in tokens]
        content = [" ".join(sorted(content_tokens(t))) for t in tokens]
        return QueryVectors(queries, tokens, norm, self.fast_word_(norm), self.fast_char_(norm),
                            self.fast_word_(content))

    def candidates(self, queries: Sequence[str] | QueryVectors, *,
                   classifier_proba: np.ndarray | None = None,
                   in_scope: np.ndarray | None = None,
                   exclude: Sequence[int | None] | None = None) -> list[Candidates]:
        """Shortlist and features for each query.

        `classifier_proba` (queries x entries) comes from the entry classifier and `in_scope`
        (queries,) from the scope classifier, if any. `exclude[i]` hides one phrasing from
        query i (leave-one-out training).
        """
        vectors = queries if isinstance(queries, QueryVectors) else self.vectorize(queries)
        tokens, norm = vectors.tokens, vectors.normalized
        n = len(self.entry_ids_)
        word = (vectors.word @ self.phrasing_word_t_).toarray()
        char = (vectors.char @ self.phrasing_char_t_).toarray()
        answer = (vectors.content @ self.answer_word_t_).toarray()
        sentence = vectors.content @ self.sentence_word_t_
        if exclude is not None:
            for i, j in enumerate(exclude):
                if j is not None:
                    word[i, j] = char[i, j] = 0.0
        word_e = self._max_per_entry(word, self.entry_starts_)
        char_e = self._max_per_entry(char, self.entry_starts_)
        sent_e = self._sparse_max_per_entry(sentence, self.sentence_entry_, n)
        clf = classifier_proba if classifier_proba is not None else np.zeros_like(word_e)
        pre = 0.35 * word_e + 0.35 * char_e + 0.15 * sent_e + 0.15 * answer + 0.5 * clf
        scope = np.ones(len(norm)) if in_scope is None else in_scope
        results = []
        for i in range(len(norm)):
            skip = exclude[i] if exclude is not None else None
            results.append(self._one(tokens[i], norm[i], pre[i], word_e[i], char_e[i],
                                     answer[i], sent_e[i], clf[i], char[i], skip, scope[i]))
        return results

    def _one(self, tokens, norm, pre, word_e, char_e, answer, sent_e, clf, char_p,
             skip, scope) -> Candidates:
        k = min(self.shortlist, len(pre))
        top = np.argpartition(-pre, k - 1)[:k] if k < len(pre) else np.arange(len(pre))
        top = top[np.argsort(-pre[top], kind="stable")]
        # Fuzzy re-scoring only on the closest phrasings of the shortlisted entries.
        lo, hi = self.entry_starts_[top], np.append(self.entry_starts_, len(char_p))[top + 1]
        pool = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
        if skip is not None:
            pool = pool[pool != skip]
        if len(pool) > self.fuzzy_phrasings:
            pool = pool[np.argpartition(-char_p[pool], self.fuzzy_phrasings - 1)
                        [: self.fuzzy_phrasings]]
        choices = [self.phrasing_norm_[j] for j in pool]
        fz_set = process.cdist([norm], choices, scorer=fuzz.token_set_ratio, workers=1)[0] / 100
        fz_ratio = process.cdist([norm], choices, scorer=fuzz.ratio, workers=1)[0] / 100
        owner = self.phrasing_entry_[pool]
        rows = np.zeros((k, len(FEATURES)), dtype=np.float64)
        best_phrasing = np.full(k, -1)
        content = content_tokens(tokens)
        weights = {t: self.token_idf_.get(t, self.max_idf_) for t in content}
        total = sum(weights.values()) or 1.0
        own_entry = self.phrasing_entry_[skip] if skip is not None else -1
        own_counts = self.phrasing_counts_[skip] if skip is not None else {}
        kb_cover = sum(w for t, w in weights.items()
                       if self.kb_counts_.get(t, 0) - (1 if own_counts.get(t) and
                       self.entry_counts_[own_entry][t] <= own_counts[t] else 0) > 0) / total
        for r, e in enumerate(top):
            mine = owner == e
            if mine.any():
                combined = fz_set[mine] + fz_ratio[mine] + char_p[pool[mine]]
                best = int(np.argmax(combined))
                best_phrasing[r] = pool[mine][best]
                rows[r, 4], rows[r, 5] = fz_set[mine].max(), fz_ratio[mine].max()
            else:
                best_phrasing[r] = lo[r]
            counts = self.entry_counts_[e]
            minus = own_counts if e == own_entry else {}
            rows[r, 7] = sum(w for t, w in weights.items()
                             if counts.get(t, 0) - minus.get(t, 0) > 0) / total
        rows[:, 0], rows[:, 1] = word_e[top], char_e[top]
        rows[:, 2], rows[:, 3] = answer[top], sent_e[top]
        rows[:, 6] = clf[top]
        rows[:, 8] = kb_cover
        rows[:, 13] = scope
        for col, src in ((9, 0), (10, 1), (11, 4), (12, 6)):
            values = rows[:, src]
            if k > 1:
                order = np.sort(values)
                others = np.where(values == order[-1], order[-2], order[-1])
            else:
                others = np.zeros(1)
            rows[:, col] = values - others
        return Candidates(entries=top, features=rows, best_phrasing=best_phrasing,
                          query_tokens=tuple(tokens))

    def explain_terms(self, query: str, entry: int, *, limit: int = 5) -> list[str]:
        """The query's own words whose matching tokens occur in the entry, rarest first."""
        counts = self.entry_counts_[entry]
        found: dict[str, float] = {}
        for word in words(clean(query)):
            tokens = content_tokens(self.normalizer_.tokens(word, cleaned=True))
            shared = [t for t in tokens if counts.get(t)]
            if shared and word not in found:
                found[word] = max(self.token_idf_.get(t, self.max_idf_) for t in shared)
        return sorted(found, key=lambda w: -found[w])[:limit]
