"""The risk model: does a message signal suicide, self-harm or an overdose now?

A multinomial logistic regression over character n-grams (typos, other languages, slang),
word n-grams and the concept counts of a multilingual lexicon (means, intent, symptoms, first
person, past tense, informational framing, ...), trained on the safety corpus by train.py. It
reads the message as typed and, when that differs, spelling-corrected against the words the
corpus and lexicon use; the reading that signals more risk counts. (Reading each sentence on
its own as well was tried and dropped: it catches a risk buried in a long question, but
"I was suicidal in 2019. I'm doing well now." then reads as a crisis.)

Pure: it is given texts, labels and a lexicon, never reads files. `to_dict`/`from_dict` give a
JSON-ready form (arrays as base64 of little-endian bytes; no pickle).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.engine.lexicon import ConceptLexicon, flatten, tokens
from bot.engine.text import MAX_QUERY_CHARS, SpellingCorrector
from bot.engine.vectors import FastTfidf, restore_vectorizer, softmax, vocabulary_terms

LABELS = ("none", "concern", "crisis", "emergency")
RISK_LEVELS = ("crisis", "emergency")
FORMAT_VERSION = 1
SPELLING_TARGETS = 3000
# Concept pairs whose co-occurrence says more than either alone ("I" with "kill", "took" with
# "all of them"); a linear model cannot form these products itself.
CONCEPT_PAIRS = (
    ("first_person", "intent"), ("first_person", "means"), ("first_person", "self_harm"),
    ("first_person", "farewell"), ("first_person", "hopelessness"),
    ("ingestion", "quantity"), ("ingestion", "substance"), ("ingestion", "time_now"),
    ("symptoms", "substance"), ("symptoms", "ingestion"), ("symptoms", "time_now"),
    ("symptoms", "other_person"), ("intent", "time_now"), ("intent", "future_plan"),
    ("means", "time_now"), ("means", "future_plan"), ("past_tense", "intent"),
    ("past_tense", "self_harm"), ("past_tense", "ingestion"), ("negation", "intent"),
    ("informational", "death"), ("informational", "substance"), ("humour", "death"),
    ("game_fiction", "death"), ("idiom_markers", "death"), ("other_person", "intent"),
)


@dataclass(frozen=True)
class RiskThresholds:
    """alarm: P(crisis or emergency) to route a message to crisis resources instead of an
    answer; concern: P(the topic at all: concern, crisis or emergency) to add a resources line
    under a normal answer; signal: P(crisis or emergency) to add that line under "I don't
    know"."""

    alarm: float = 0.5
    concern: float = 0.5
    signal: float = 0.15

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
                raise ValueError(f"risk threshold {name} must be a number between 0 and 1, "
                                 f"got {value!r}")


@dataclass(frozen=True)
class Risk:
    """How a message reads: `level` is none, concern, crisis or emergency."""

    level: str
    risk: float  # P(crisis or emergency)
    topic: float  # P(concern, crisis or emergency)
    signal: bool = False  # risk above the low threshold (resources under "I don't know")

    @property
    def alarm(self) -> bool:
        return self.level in RISK_LEVELS


NO_RISK = Risk("none", 0.0, 0.0)
_NOTHING_KNOWN = np.array([1.0, 0.0, 0.0, 0.0])


def _tfidf(**options) -> TfidfVectorizer:
    return TfidfVectorizer(lowercase=False, sublinear_tf=True, dtype=np.float32, **options)


class RiskModel:
    """Message -> P(none, concern, crisis, emergency).

    Parameters
    ----------
    lexicon : concept -> {language -> terms}, as in knowledge/safety/lexicon.yaml.
    C : inverse regularisation strength of the logistic regression.
    char_ngrams, word_ngrams : n-gram ranges; min_df : n-grams in fewer messages are dropped.
    concept_weight : scale of the concept features against the TF-IDF ones.
    """

    def __init__(self, lexicon: Mapping[str, Mapping[str, Sequence[str]]], *, C: float = 4.0,
                 char_ngrams: tuple[int, int] = (2, 5), word_ngrams: tuple[int, int] = (1, 2),
                 min_df: int = 2, concept_weight: float = 0.5,
                 thresholds: RiskThresholds | None = None):
        self.lexicon = lexicon
        self.C = C
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.min_df = min_df
        self.concept_weight = concept_weight
        self.thresholds = thresholds or RiskThresholds()

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            sample_weight: np.ndarray | None = None) -> RiskModel:
        flat = [flatten(t) for t in texts]
        self._fit_features(flat)
        y = np.asarray([LABELS.index(label) for label in labels])
        model = _logistic_regression(C=self.C, max_iter=3000, class_weight="balanced")
        model.fit(self._matrix(flat), y, sample_weight=sample_weight)
        if list(model.classes_) != list(range(len(LABELS))):
            raise ValueError("the training messages must include every label: "
                             + ", ".join(LABELS))
        self._set_weights(model.coef_.T, model.intercept_)
        self.speller_ = SpellingCorrector(min_length=4, max_distance=2).fit(
            self._risk_words(), known={w for f in flat for w in tokens(f)})
        return self

    def _risk_words(self, n: int = SPELLING_TARGETS) -> set[str]:
        """What a misspelled word is corrected to: the lexicon's words and the single words
        the model weighs most towards crisis or emergency. (Correcting towards every word of
        the corpus would cost a second of start-up for nothing: only a misspelled risk word
        changes the reading.)"""
        terms = vocabulary_terms(self.word_.vocabulary_)
        weights = self.coef_[self.n_char_:self.n_char_ + self.n_word_, 2:].max(axis=1)
        single = [j for j in np.argsort(-weights) if " " not in terms[j] and terms[j].isalpha()]
        return {terms[j] for j in single[:n]} | set(self.lexicon_.exact_) | set(
            self.lexicon_.prefix_)

    def _fit_features(self, flat: list[str]) -> None:
        self.lexicon_ = ConceptLexicon(self.lexicon).fit()
        self.char_ = _tfidf(analyzer="char_wb", ngram_range=self.char_ngrams,
                            min_df=self.min_df).fit(flat)
        self.word_ = _tfidf(analyzer="word", tokenizer=_word_tokens, token_pattern=None,
                            ngram_range=self.word_ngrams, min_df=self.min_df).fit(flat)
        self._prepare()

    def _prepare(self) -> None:
        names = self.lexicon_.names_
        self.pairs_ = np.asarray([(names.index(a), names.index(b)) for a, b in CONCEPT_PAIRS
                                  if a in names and b in names], dtype=np.int64).reshape(-1, 2)
        self.fast_char_, self.fast_word_ = FastTfidf(self.char_), FastTfidf(self.word_)
        self.n_char_, self.n_word_ = len(self.char_.vocabulary_), len(self.word_.vocabulary_)

    def _concepts(self, flat: str) -> np.ndarray:
        # Presence, not counts: a message that repeats a harmless sentence fifty times says no
        # more than it does once (counts made "me" said fifty times read as risk).
        present = (self.lexicon_.counts(flat) > 0).astype(float)
        pairs = present[self.pairs_[:, 0]] * present[self.pairs_[:, 1]]
        return self.concept_weight * np.concatenate([present, pairs])

    def _matrix(self, flat: Sequence[str]) -> sp.csr_matrix:
        concepts = np.vstack([self._concepts(f) for f in flat])
        return sp.hstack([self.char_.transform(flat), self.word_.transform(flat),
                          sp.csr_matrix(concepts)], format="csr")

    def _set_weights(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float32)  # features x labels
        self.intercept_ = np.asarray(intercept, dtype=np.float64)

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this RiskModel is not fitted yet")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(label) for each text (rows: texts, columns: LABELS), as typed."""
        self._check_fitted()
        X = self._matrix([flatten(t[: MAX_QUERY_CHARS * 4]) for t in texts])
        proba = softmax(X @ self.coef_ + self.intercept_, axis=1)
        char_terms = np.diff(X[:, : self.n_char_].indptr)
        concept_terms = np.diff(X[:, self.n_char_ + self.n_word_:].indptr)
        proba[(char_terms == 0) & (concept_terms == 0)] = _NOTHING_KNOWN
        return proba

    def _proba_one(self, flat: str) -> np.ndarray:
        c_idx, c_val = self.fast_char_.terms(flat)
        w_idx, w_val = self.fast_word_.terms(flat)
        concepts = self._concepts(flat)
        if not len(c_idx) and not concepts.any():
            return _NOTHING_KNOWN  # nothing the model knows: the intercepts alone mean nothing
        coef = self.coef_
        z = (c_val @ coef[c_idx] + w_val @ coef[self.n_char_ + w_idx]
             + concepts @ coef[self.n_char_ + self.n_word_:] + self.intercept_)
        return softmax(z)

    def corrected(self, flat: str) -> str:
        """The flattened text with unknown words replaced by the closest known ones."""
        words = flat.split()
        fixed = [self.speller_.correct(w) for w in words]
        return " ".join(fixed) if fixed != words else flat

    def proba(self, text: str) -> np.ndarray:
        """P(label) of one message: the reading as typed or spelling-corrected, whichever
        signals more risk."""
        self._check_fitted()
        flat = flatten(text[: MAX_QUERY_CHARS * 4])
        p = self._proba_one(flat)
        fixed = self.corrected(flat)
        if fixed != flat:
            q = self._proba_one(fixed)
            if q[2] + q[3] > p[2] + p[3]:
                return q
        return p

    def assess(self, text: str) -> Risk:
        """The graded reading of one message."""
        p = self.proba(text)
        return grade(p, self.thresholds)

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        """Everything the model needs, JSON-ready (arrays as base64 little-endian bytes)."""
        self._check_fitted()
        return {
            "format": FORMAT_VERSION, "labels": list(LABELS),
            "params": {"C": self.C, "char_ngrams": list(self.char_ngrams),
                       "word_ngrams": list(self.word_ngrams), "min_df": self.min_df,
                       "concept_weight": self.concept_weight},
            "thresholds": asdict(self.thresholds),
            "lexicon": self.lexicon_.compiled(),
            "char_vocabulary": vocabulary_terms(self.char_.vocabulary_),
            "char_idf": _encode(self.char_.idf_),
            "word_vocabulary": vocabulary_terms(self.word_.vocabulary_),
            "word_idf": _encode(self.word_.idf_),
            "coef": _encode(self.coef_), "intercept": _encode(self.intercept_),
            "spelling_targets": sorted(self.speller_.targets_),
            "spelling_known": sorted(self.speller_.vocabulary_),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> RiskModel:
        """The model stored by `to_dict`; raises ValueError with a one-line reason."""
        try:
            if data.get("format") != FORMAT_VERSION or list(data["labels"]) != list(LABELS):
                raise ValueError(f"unsupported risk model format (expected {FORMAT_VERSION})")
            params = data["params"]
            model = cls({}, C=float(params["C"]),
                        char_ngrams=tuple(params["char_ngrams"]),
                        word_ngrams=tuple(params["word_ngrams"]), min_df=int(params["min_df"]),
                        concept_weight=float(params["concept_weight"]),
                        thresholds=RiskThresholds(**data["thresholds"]))
            model.lexicon_ = ConceptLexicon.from_compiled(data["lexicon"])
            model.char_ = restore_vectorizer(
                _tfidf(analyzer="char_wb", ngram_range=model.char_ngrams),
                data["char_vocabulary"], _decode(data["char_idf"]))
            model.word_ = restore_vectorizer(
                _tfidf(analyzer="word", tokenizer=_word_tokens, token_pattern=None,
                       ngram_range=model.word_ngrams),
                data["word_vocabulary"], _decode(data["word_idf"]))
            model._prepare()
            coef, intercept = _decode(data["coef"]), _decode(data["intercept"])
            n_features = model.n_char_ + model.n_word_ + model.lexicon_.n_concepts \
                + len(model.pairs_)
            if coef.shape != (n_features, len(LABELS)) or intercept.shape != (len(LABELS),):
                raise ValueError("risk model weights do not fit its vocabularies")
            if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
                raise ValueError("risk model weights are not finite numbers")
            model._set_weights(coef, intercept)
            model.speller_ = SpellingCorrector(min_length=4, max_distance=2).fit(
                data["spelling_targets"], known=data["spelling_known"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a risk model: {type(exc).__name__} {exc}") from exc
        return model


def grade(p: np.ndarray, thresholds: RiskThresholds) -> Risk:
    """A Risk from P(none, concern, crisis, emergency)."""
    risk = float(p[2] + p[3])
    topic = float(p[1] + risk)
    if risk >= thresholds.alarm:
        level = "emergency" if p[3] > p[2] else "crisis"
    elif topic >= thresholds.concern:
        level = "concern"
    else:
        level = "none"
    return Risk(level, risk, topic, signal=risk >= thresholds.signal)


def _word_tokens(flat: str) -> list[str]:
    # Digits become one token shape: "took 30" and "took 45" are the same signal.
    return ["0" if t.isdigit() else t for t in tokens(flat)]


def _encode(array: np.ndarray) -> dict:
    a = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(a.shape), "float32": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(data: Mapping) -> np.ndarray:
    shape = tuple(int(n) for n in data["shape"])
    raw = base64.b64decode(data["float32"], validate=True)
    if len(raw) != 4 * math.prod(shape):
        raise ValueError("risk model array has the wrong number of bytes")
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float64 if len(shape) == 1
                                                                   else np.float32)


def _logistic_regression(**options):
    # Imported when fitting only: serving a fitted model never needs it, and the import costs
    # a tenth of a second of start-up.
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**options)
