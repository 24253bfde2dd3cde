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
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.answerability import ANSWERABILITY, Answerability
from bot.engine.text import Normalizer, clean, content_tokens, words
from bot.engine.vectors import FastTfidf, TermDocuments, spans
from bot.knowledge.model import Entry

# Bumped whenever a feature changes meaning: models and caches of another version are not used.
FEATURE_VERSION = 9
FEATURES = ("word", "char", "answer", "sentence", "fuzzy_set", "fuzzy_ratio", "classifier",
            "coverage", "kb_coverage", "word_gap", "char_gap", "fuzzy_gap", "classifier_gap",
            "scope", "unknown", "near_negative", "neighbour", "neighbour_gap", "support",
            "thin_answer", "thin_sentence", "thin_classifier", *ANSWERABILITY)
_NEIGHBOUR = FEATURES.index("neighbour")
_SUPPORT = FEATURES.index("support")
_THIN = [FEATURES.index(f"thin_{name}") for name in ("answer", "sentence", "classifier")]
_THIN_OF = [FEATURES.index(name) for name in ("answer", "sentence", "classifier")]
# An entry with this many training examples counts as half new (see `thinness`).
HALF_NEW = 10
_PRONOUNS = frozenset({"it", "its", "itself", "this", "that", "they", "them"})
_ANSWERABILITY_COLUMNS = slice(FEATURES.index(ANSWERABILITY[0]), len(FEATURES))
MAX_UNKNOWN = 3  # unknown words counted (a long message should not weigh more for its length)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+")


@dataclass(frozen=True)
class Candidates:
    """The shortlisted entries for one query (best pre-score first) and their features."""

    entries: np.ndarray  # entry indices, shape (k,)
    features: np.ndarray  # shape (k, len(FEATURES))
    best_phrasing: np.ndarray  # index of each candidate's closest phrasing, shape (k,)


class QueryVectors:
    """Queries as the index sees them, computed once and shared with the classifiers.

    A single query keeps its vectors as (indices, weights) arrays, which is all scoring needs;
    the sparse matrices the classifiers read are built on first use.
    """

    def __init__(self, texts: Sequence[str], tokens: list[list[str]], normalized: list[str],
                 index: FaqIndex, content: list[str], typed: list[list[str]] | None = None):
        self.texts, self.tokens, self.normalized = list(texts), tokens, normalized
        self.typed = typed if typed is not None else tokens  # before the implied topic word
        self._index = index
        self._content = content
        self._cache: dict[str, object] = {}
        single = len(texts) == 1
        self.word_terms = index.fast_word_.terms(normalized[0]) if single else None
        self.char_terms = index.fast_char_.terms(normalized[0]) if single else None
        self.content_terms = index.fast_word_.terms(content[0]) if single else None

    def _matrix(self, name: str, fast: FastTfidf, texts: list[str]) -> sp.csr_matrix:
        if name not in self._cache:
            single = getattr(self, f"{name}_terms")
            self._cache[name] = fast.matrix([single]) if single is not None else fast(texts)
        return self._cache[name]  # type: ignore[return-value]

    @property
    def word(self) -> sp.csr_matrix:
        return self._matrix("word", self._index.fast_word_, self.normalized)

    @property
    def char(self) -> sp.csr_matrix:
        return self._matrix("char", self._index.fast_char_, self.normalized)

    def content_row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Query i's content vector as (sorted term indices, weights)."""
        if self.content_terms is not None:
            idx, weights = self.content_terms
        else:
            row = self.content[i]
            idx, weights = row.indices, row.data
        order = idx.argsort(kind="stable")
        return idx[order], weights[order]

    @property
    def content(self) -> sp.csr_matrix:
        return self._matrix("content", self._index.fast_word_, self._content)

    @property
    def word_and_char(self) -> sp.csr_matrix:
        """Word and character features side by side (what the classifiers read)."""
        if "both" not in self._cache:
            self._cache["both"] = sp.hstack([self.word, self.char], format="csr")
        return self._cache["both"]  # type: ignore[return-value]


def _gaps(values: np.ndarray) -> np.ndarray:
    """Each value minus the best of the others (how far a candidate leads, or trails); of
    each column, for a 2-D array."""
    if len(values) < 2:
        return values - 0.0
    order = np.sort(values, axis=0)
    return values - np.where(values == order[-1], order[-2], order[-1])


def cosine_scores(vectors: QueryVectors, field: str, documents: TermDocuments) -> np.ndarray:
    """Cosine scores (queries x documents) of the queries' `field` vectors."""
    terms = getattr(vectors, f"{field}_terms")
    if terms is not None:
        scores = documents.score_one(*terms)
        if scores is not None:
            return scores[None, :]
    return documents.score_many(getattr(vectors, field))


def thinness(support: np.ndarray) -> np.ndarray:
    """1 for an entry with no training examples, falling towards 0 as they grow (`support` is
    log1p of their number). A new entry's classifier signal is weak and its answer is most of
    what it has: the weights for these products learn how much more its answer should count."""
    return 1.0 / (1.0 + np.expm1(support) / HALF_NEW)


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer (simple punctuation split; answers are edited prose)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _tfidf(**options) -> TfidfVectorizer:
    return TfidfVectorizer(lowercase=False, sublinear_tf=True, dtype=np.float32, **options)


class FaqIndex(BaseEstimator):
    """Hybrid lexical index over FAQ entries.

    Parameters
    ----------
    word_ngrams, char_ngrams : n-gram ranges of the word and character TF-IDF.
    char_max_df : on large knowledge bases (`large_index` phrasings or more), character
        n-grams in more than this share of phrasings are dropped: they say little there and
        their long posting lists make every query slow.
    shortlist : how many entries are scored in full for each query.
    fuzzy_phrasings : at most this many phrasings per query are re-scored with rapidfuzz.
    subjects : names of drugs, therapies and products, for the answerability features
        (bot/data/subjects.txt; none: those features stay 0).
    background : word -> its share of everyday requests (bot/data/background_words.txt),
        to tell the knowledge's own words from everyday ones (none: every word is its own).
    """

    def __init__(self, *, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (3, 5), char_max_df: float = 0.05,
                 large_index: int = 5000, shortlist: int = 8, fuzzy_phrasings: int = 40,
                 subjects: Sequence[str] = (), background: Mapping[str, float] | None = None):
        self.subjects = subjects
        self.background = background
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.char_max_df = char_max_df
        self.large_index = large_index
        self.shortlist = shortlist
        self.fuzzy_phrasings = fuzzy_phrasings

    # ------------------------------------------------------------------ fitting
    def fit(self, entries: Sequence[Entry], synonyms: Mapping[str, Sequence[str]] | None = None,
            *, title: str = "") -> FaqIndex:
        """Index the entries' phrasings and answers (`title`: the knowledge's, which names its
        topic)."""
        if not entries:
            raise ValueError("FaqIndex.fit needs at least one entry")
        texts = [t for e in entries for t in (*e.phrasings, e.answer)]
        self.normalizer_ = Normalizer(synonyms).fit(texts)
        self._word_content_cache: dict[str, frozenset[str]] = {}
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
        self.entry_ends_ = np.append(self.entry_starts_[1:], len(phrasing_entry))
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
                            max_df=self.char_max_df if len(phrasing_norm) >= self.large_index
                            else 1.0)
        self.char_.fit(phrasing_norm)
        self.fast_word_, self.fast_char_ = FastTfidf(self.word_), FastTfidf(self.char_)
        self.phrasing_word_ = TermDocuments(self.word_.transform(phrasing_norm))
        self.phrasing_char_ = TermDocuments(self.char_.transform(phrasing_norm))
        self.answer_word_ = TermDocuments(self.word_.transform(answer_docs))
        # Sentences by row: only the shortlisted entries' sentences are ever scored.
        self.sentence_rows_ = self.word_.transform(sentences).tocsr()
        self.sentence_rows_.sort_indices()
        self.sentence_entry_ = np.asarray(sentence_entry, dtype=np.int32)
        self.sentence_starts_ = np.searchsorted(self.sentence_entry_, np.arange(len(entries)))
        self.sentence_ends_ = np.append(self.sentence_starts_[1:], len(sentence_entry))
        # A small knowledge base scores all its sentences at once, as one product.
        self.sentence_terms_ = TermDocuments(self.sentence_rows_) \
            if TermDocuments.holds_whole(self.sentence_rows_.shape) else None

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
        self.answerability_ = Answerability(self.subjects, synonyms).fit(
            entries, lambda text: self.normalizer_.tokens(text), title=title,
            centrality=self._centrality(), background=self._background_tokens())
        return self

    def _background_tokens(self) -> dict[str, float] | None:
        """The background shares by matching token (stems; a token's share is its most
        frequent word's)."""
        if self.background is None:
            return None
        shares: dict[str, float] = {}
        for word, share in self.background.items():
            token = self.normalizer_.stem(word)
            shares[token] = max(shares.get(token, 0.0), share)
        return shares

    def _centrality(self) -> np.ndarray:
        """How close each entry's question and answer come to the knowledge as a whole (the
        cosine with the mean of all questions, and of all answers), scaled to at most 1."""
        total = np.zeros(len(self.entry_ids_))
        for documents in (self.answer_word_.matrix_t.T.tocsr(),
                          self.phrasing_word_.matrix_t.T.tocsr()[self.entry_starts_]):
            centre = np.asarray(documents.mean(axis=0)).ravel()
            norm = np.linalg.norm(centre)
            if norm:
                total += np.asarray(documents @ (centre / norm)).ravel()
        top = total.max() if len(total) else 0.0
        return total / top if top > 0 else total

    def _check_fitted(self) -> None:
        if not hasattr(self, "phrasing_word_"):
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

    def phrasing_overlap(self, normalized: Sequence[str]) -> np.ndarray:
        """Each normalized text's highest word cosine with a stored phrasing."""
        self._check_fitted()
        if not normalized:
            return np.zeros(0)
        return self.phrasing_word_.score_many(self.word_.transform(list(normalized))).max(axis=1)

    def vectorize(self, queries: Sequence[str]) -> QueryVectors:
        """Normalise and vectorise queries once, for the index and the classifiers.

        A question put to an FAQ bot that says "it" without naming the topic means the topic
        ("how much is it?", "does it work for ptsd"): such a query is read with the topic's
        main word added, so it matches as the stored questions, which do name it, would.
        """
        self._check_fitted()
        implied = self.answerability_.implied_
        typed = [self.normalizer_.tokens(q) for q in queries]
        tokens = typed
        if implied:
            topic = self.answerability_.topic_
            tokens = [[*t, implied] if _PRONOUNS.intersection(t) and not topic.intersection(t)
                      else t for t in typed]
        norm = [" ".join(t) for t in tokens]
        content = [" ".join(sorted(content_tokens(t))) for t in tokens]
        return QueryVectors(queries, tokens, norm, self, content, typed)

    def candidates(self, queries: Sequence[str] | QueryVectors, *,
                   classifier_proba: np.ndarray | None = None,
                   in_scope: np.ndarray | None = None,
                   near_negative: np.ndarray | None = None,
                   neighbour: np.ndarray | None = None, support: np.ndarray | None = None,
                   exclude: Sequence[int | None] | None = None) -> list[Candidates]:
        """Shortlist and features for each query.

        `classifier_proba` (queries x entries) comes from the entry classifier and `in_scope`
        (queries,) from the scope classifier, `near_negative` (queries,) the similarity to the
        closest out-of-scope question, if any, `neighbour` (queries x entries) the highest
        similarity to one of each entry's training examples, `support` (entries,) how many
        examples each entry has (log). `exclude[i]` hides one phrasing from query i
        (leave-one-out training).
        """
        vectors = queries if isinstance(queries, QueryVectors) else self.vectorize(queries)
        tokens, norm = vectors.tokens, vectors.normalized
        word = cosine_scores(vectors, "word", self.phrasing_word_)
        char = cosine_scores(vectors, "char", self.phrasing_char_)
        answer = cosine_scores(vectors, "content", self.answer_word_)
        if exclude is not None:
            for i, j in enumerate(exclude):
                if j is not None:
                    word[i, j] = char[i, j] = 0.0
        word_e = self._max_per_entry(word, self.entry_starts_)
        char_e = self._max_per_entry(char, self.entry_starts_)
        # The shortlist comes from the cheap fields (in place: on large knowledge bases these
        # are long arrays, and every temporary costs).
        pre = word_e + char_e
        pre *= 0.4
        pre += 0.2 * answer
        if classifier_proba is not None:
            pre += 0.5 * classifier_proba
        scope = np.ones(len(norm)) if in_scope is None else in_scope
        near = np.zeros(len(norm)) if near_negative is None else near_negative
        results = []
        for i in range(len(norm)):
            skip = exclude[i] if exclude is not None else None
            found = self._one(tokens[i], norm[i], pre[i], word_e[i], char_e[i], answer[i],
                              vectors.content_row(i),
                              None if classifier_proba is None else classifier_proba[i],
                              char[i], skip, scope[i], near[i])
            if neighbour is not None:
                values = neighbour[i, found.entries]
                found.features[:, _NEIGHBOUR] = values
                found.features[:, _NEIGHBOUR + 1] = _gaps(values)
            if support is not None:
                found.features[:, _SUPPORT] = support[found.entries]
                found.features[:, _THIN] = found.features[:, _THIN_OF] * thinness(
                    support[found.entries])[:, None]
            asked = self.answerability_.query(vectors.texts[i], content_tokens(tokens[i]))
            found.features[:, _ANSWERABILITY_COLUMNS] = self.answerability_.features(
                asked, found.entries)
            results.append(found)
        return results

    def _one(self, tokens, norm, pre, word_e, char_e, answer, content_vector, clf, char_p,
             skip, scope, near) -> Candidates:
        k = min(self.shortlist, len(pre))
        top = np.argpartition(pre, len(pre) - k)[-k:] if k < len(pre) else np.arange(len(pre))
        top = top[(-pre[top]).argsort(kind="stable")]
        # Fuzzy re-scoring only on the closest phrasings of the shortlisted entries.
        lo, hi = self.entry_starts_[top], self.entry_ends_[top]
        pool = spans(lo, hi - lo)
        slot = np.repeat(np.arange(k), hi - lo)  # each pooled phrasing's place in `top`
        if skip is not None:
            keep = pool != skip
            pool, slot = pool[keep], slot[keep]
        if len(pool) > self.fuzzy_phrasings:
            keep = np.argpartition(-char_p[pool], self.fuzzy_phrasings - 1)[
                : self.fuzzy_phrasings]
            pool, slot = pool[keep], slot[keep]
        choices = [self.phrasing_norm_[j] for j in pool]
        fz_set = process.cdist([norm], choices, scorer=fuzz.token_set_ratio, workers=1)[0] / 100
        fz_ratio = process.cdist([norm], choices, scorer=fuzz.ratio, workers=1)[0] / 100
        rows = np.zeros((k, len(FEATURES)), dtype=np.float64)
        np.maximum.at(rows[:, 4], slot, fz_set)
        np.maximum.at(rows[:, 5], slot, fz_ratio)
        # Each candidate's closest phrasing: the first of its pooled phrasings by combined
        # score (candidates with none pooled keep their first phrasing).
        order = np.lexsort((-(fz_set + fz_ratio + char_p[pool]), slot))
        ordered_slot = slot[order]
        first = order[np.concatenate(([True], ordered_slot[1:] != ordered_slot[:-1]))] \
            if len(order) else order
        best_phrasing = lo.copy()
        best_phrasing[slot[first]] = pool[first]
        content = content_tokens(tokens)
        weights = {t: self.token_idf_.get(t, self.max_idf_) for t in content}
        total = sum(weights.values()) or 1.0
        # Words the knowledge base never uses (the left-out phrasing's own words do not count
        # as known): out-of-scope questions nearly always have some, in-scope ones rarely.
        if skip is None:  # serving: the counts are all positive, so presence is enough
            known = {t: t in self.kb_counts_ for t in weights}
            for r, e in enumerate(top):
                counts = self.entry_counts_[e]
                rows[r, 7] = sum(w for t, w in weights.items() if t in counts) / total
        else:
            own_entry, own_counts = self.phrasing_entry_[skip], self.phrasing_counts_[skip]
            known = {t: self.kb_counts_.get(t, 0) - (1 if own_counts.get(t) and
                        self.entry_counts_[own_entry][t] <= own_counts[t] else 0) > 0
                     for t in weights}
            for r, e in enumerate(top):
                counts = self.entry_counts_[e]
                minus = own_counts if e == own_entry else {}
                rows[r, 7] = sum(w for t, w in weights.items()
                                 if counts.get(t, 0) - minus.get(t, 0) > 0) / total
        kb_cover = sum(w for t, w in weights.items() if known[t]) / total
        unknown = min(sum(not is_known for is_known in known.values()), MAX_UNKNOWN)
        rows[:, 0], rows[:, 1] = word_e[top], char_e[top]
        rows[:, 2] = answer[top]
        rows[:, 3] = self._best_sentence(top, *content_vector)
        if clf is not None:
            rows[:, 6] = clf[top]
        rows[:, 8] = kb_cover
        rows[:, 13] = scope
        rows[:, 14] = unknown
        rows[:, 15] = near
        rows[:, 9:13] = _gaps(rows[:, [0, 1, 4, 6]])
        return Candidates(entries=top, features=rows, best_phrasing=best_phrasing)

    def _best_sentence(self, entries: np.ndarray, idx: np.ndarray, weights: np.ndarray
                       ) -> np.ndarray:
        """Each entry's best answer-sentence cosine with a query's content vector (sorted
        term indices and their weights)."""
        if self.sentence_terms_ is not None:
            scores = self.sentence_terms_.score_one(idx, weights)
            return np.maximum.reduceat(scores, self.sentence_starts_)[entries]
        starts, ends = self.sentence_starts_[entries], self.sentence_ends_[entries]
        counts = ends - starts  # every entry has at least one (maybe empty) sentence
        sentences = spans(starts, counts)
        matrix = self.sentence_rows_
        lo, hi = matrix.indptr[sentences], matrix.indptr[sentences + 1]
        lengths = hi - lo
        positions = spans(lo, lengths)
        terms = matrix.indices[positions]
        found = np.minimum(np.searchsorted(idx, terms), max(len(idx) - 1, 0))
        hit = idx[found] == terms if len(idx) else np.zeros(len(terms), dtype=bool)
        scores = np.bincount(np.repeat(np.arange(len(sentences)), lengths)[hit],
                             weights=matrix.data[positions][hit] * weights[found[hit]],
                             minlength=len(sentences))
        return np.maximum.reduceat(scores, np.cumsum(counts) - counts)

    def _word_content(self, word: str) -> frozenset[str]:
        """One word's content tokens (cached: the same words come back in every query)."""
        tokens = self._word_content_cache.get(word)
        if tokens is None:
            tokens = frozenset(content_tokens(self.normalizer_.tokens(word, cleaned=True)))
            if len(self._word_content_cache) < 100_000:
                self._word_content_cache[word] = tokens
        return tokens

    def explain_terms(self, query: str, entry: int, *, limit: int = 5) -> list[str]:
        """The query's own words whose matching tokens occur in the entry, rarest first."""
        counts = self.entry_counts_[entry]
        found: dict[str, float] = {}
        for word in words(clean(query)):
            tokens = self._word_content(word)
            shared = [t for t in tokens if counts.get(t)]
            if shared and word not in found:
                found[word] = max(self.token_idf_.get(t, self.max_idf_) for t in shared)
        return sorted(found, key=lambda w: -found[w])[:limit]
