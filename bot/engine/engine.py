"""Engine: a fitted index, the classifiers fitted for its entries, and the model's weights and
thresholds.

Pure: it is given a Knowledge, ModelParams, the training paraphrases and the out-of-scope
questions, and never reads files or settings. What is slow to fit (the classifiers) can be
passed in already fitted (`parts`, restored from the cache by bot.runtime).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from bot.engine.classifier import (
    EntryClassifier,
    ExampleNeighbours,
    NearestNegative,
    ScopeClassifier,
    TextFeatures,
)
from bot.engine.decide import MAX_SUGGESTIONS, Match, Scored, decide
from bot.engine.index import FaqIndex, QueryVectors, split_sentences
from bot.engine.model import DEFAULT_PARAMS, ModelParams
from bot.engine.text import clean, content_tokens, words
from bot.knowledge.model import Knowledge

# A general negative this close (word cosine) to one of the knowledge's own phrasings is
# about the knowledge's topic after all (a banking FAQ and a question about bank transfers).
NEGATIVE_OVERLAP = 0.6
# How much one answer sentence counts, against one example question, in the entry classifier.
ANSWER_WEIGHT = 0.5


@dataclass(frozen=True)
class Examples:
    """What the classifiers learn from besides the knowledge, as written: training
    paraphrases (entry id -> texts), the knowledge's own out-of-scope questions and general
    ones (set aside where they match the knowledge's own questions)."""

    paraphrases: Mapping[str, Sequence[str]]
    negatives: Sequence[str] = ()
    general_negatives: Sequence[str] = ()


@dataclass(frozen=True)
class TrainingTexts:
    """The normalized texts the classifiers learn from: in-scope examples (phrasings and
    paraphrases) with their entry numbers, and out-of-scope questions (also as written, for
    calibration, which asks them as queries)."""

    positives: tuple[str, ...]
    labels: np.ndarray
    negatives: tuple[str, ...]
    negative_texts: tuple[str, ...]
    positive_texts: tuple[str, ...] = ()
    answer_sentences: tuple[str, ...] = ()
    answer_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def build(cls, index: FaqIndex, knowledge: Knowledge,
              paraphrases: Mapping[str, Sequence[str]] | None,
              negatives: Sequence[str], general_negatives: Sequence[str] = ()) -> TrainingTexts:
        positives, labels = list(index.phrasing_norm_), list(index.phrasing_entry_)
        raw = [t for e in knowledge.entries for t in e.phrasings]
        for e, entry in enumerate(knowledge.entries):
            for text in (paraphrases or {}).get(entry.id, ()):
                positives.append(index.normalizer_(text))
                labels.append(e)
                raw.append(text)
        texts = list(negatives)
        if general_negatives:
            overlap = index.phrasing_overlap([index.normalizer_(q) for q in general_negatives])
            texts += [q for q, o in zip(general_negatives, overlap, strict=True)
                      if o < NEGATIVE_OVERLAP]
        kept: dict[str, str] = {}
        for text in texts:  # one of each normalized form
            kept.setdefault(index.normalizer_(text), text)
        kept.pop("", None)
        sentences = [(index.normalizer_(s), e) for e, entry in enumerate(knowledge.entries)
                     for s in split_sentences(entry.answer)]
        sentences = [(s, e) for s, e in sentences if s]
        return cls(tuple(positives), np.asarray(labels, dtype=np.int64), tuple(kept),
                   tuple(kept.values()), tuple(raw), tuple(s for s, _ in sentences),
                   np.asarray([e for _, e in sentences], dtype=np.int64))

    def classifier_examples(self, features: TextFeatures, keep: np.ndarray | None = None):
        """What the entry classifier learns from: the in-scope examples (those in `keep`)
        and every answer sentence at ANSWER_WEIGHT, as (matrix, labels, weights). The answers
        are the one source of words every entry has, a new entry with three alternates as
        much as an old one with eighty paraphrases."""
        keep = np.arange(len(self.positives)) if keep is None else keep
        rows = [features.rows(self.positives, batch=True).select(keep)]
        labels, weights = [self.labels[keep]], [np.ones(len(keep))]
        if self.answer_sentences and ANSWER_WEIGHT > 0:
            rows.append(features.rows(self.answer_sentences, batch=True).select())
            labels.append(self.answer_labels)
            weights.append(np.full(len(self.answer_sentences), ANSWER_WEIGHT))
        return sp.vstack(rows, format="csr"), np.concatenate(labels), np.concatenate(weights)


@dataclass(frozen=True)
class FittedParts:
    """The classifiers fitted for one knowledge base, over their own text features (None
    where the model uses none)."""

    features: TextFeatures | None
    classifier: EntryClassifier | None
    scope: ScopeClassifier | None
    near_negative: NearestNegative | None
    neighbours: ExampleNeighbours | None = None


def fit_parts(index: FaqIndex, training: TrainingTexts, params: ModelParams) -> FittedParts:
    """Fit the classifiers the model uses."""
    use_scope = params.use_scope and bool(training.negatives)
    if not (params.use_classifier or use_scope):
        return FittedParts(None, None, None, None)
    features = TextFeatures().fit(list(training.positives) + list(training.negatives)
                                  + list(training.answer_sentences))
    positives = features.rows(training.positives, batch=True)
    classifier = neighbours = None
    if params.use_classifier:
        classifier = EntryClassifier(C=params.classifier_c).fit(
            *training.classifier_examples(features), n_entries=index.n_entries)
        neighbours = ExampleNeighbours().fit(positives, training.labels, index.n_entries)
    scope = near = None
    if use_scope:
        negatives = features.rows(training.negatives, batch=True)
        scope = ScopeClassifier(C=params.scope_c).fit(
            sp.vstack([positives.select(), negatives.select()], format="csr"),
            [True] * len(training.positives) + [False] * len(training.negatives))
        near = NearestNegative().fit(negatives)
    return FittedParts(features, classifier, scope, near, neighbours)


class Engine:
    """Matches queries against one knowledge base."""

    def __init__(self, knowledge: Knowledge, params: ModelParams = DEFAULT_PARAMS, *,
                 negatives: Sequence[str] = (), general_negatives: Sequence[str] = (),
                 paraphrases: Mapping[str, Sequence[str]] | None = None,
                 index: FaqIndex | None = None, parts: FittedParts | None = None,
                 read_examples: Callable[[], Examples] | None = None,
                 subjects: Sequence[str] = (), background: Mapping[str, float] | None = None):
        """`read_examples`, when given, supplies paraphrases and negatives on first need
        instead (a cached engine never needs them, and reading them costs start-up time).
        `subjects` (drugs, therapies, products) and `background` (everyday word shares) are
        for the answerability features."""
        self.knowledge = knowledge
        self.index = index or FaqIndex(subjects=subjects, background=background).fit(
            knowledge.entries, knowledge.synonyms, title=knowledge.title)
        self._read_examples = read_examples or (
            lambda: Examples(paraphrases or {}, tuple(negatives), tuple(general_negatives)))
        self.params = params
        if parts is None:
            if params.use_scope and not self.training.negatives:
                raise ValueError("this model needs out-of-scope questions to train its scope "
                                 "part")
            parts = fit_parts(self.index, self.training, params)
        self.parts = parts
        self.classifier = self.parts.classifier
        self.scope = self.parts.scope
        self.near_negative = self.parts.near_negative

    @functools.cached_property
    def training(self) -> TrainingTexts:
        """What the classifiers learn from (normalized only when needed: a cached engine
        never needs it, and normalizing every paraphrase costs a good part of a second)."""
        examples = self._read_examples()
        return TrainingTexts.build(self.index, self.knowledge, examples.paraphrases,
                                   examples.negatives, examples.general_negatives)

    def classifier_signals(self, normalized: Sequence[str]) -> dict[str, np.ndarray | None]:
        """The classifiers' signals for normalized queries, as `FaqIndex.candidates` takes
        them: entry probabilities, P(in scope), the similarity to the nearest out-of-scope
        question and to each entry's nearest training example, and how many examples each
        entry has (None where not used)."""
        parts = self.parts
        if parts.features is None:
            return {}
        rows = parts.features.rows(normalized)
        return {"classifier_proba": parts.classifier.proba(rows) if parts.classifier else None,
                "in_scope": parts.scope.proba(rows) if parts.scope else None,
                "near_negative": parts.near_negative.similarity(rows)
                if parts.near_negative else None,
                "neighbour": parts.neighbours.similarity(rows) if parts.neighbours else None,
                "support": parts.neighbours.support() if parts.neighbours else None}

    def with_params(self, params: ModelParams) -> Engine:
        """The same fitted engine with other weights or thresholds (same classifier use)."""
        engine = object.__new__(Engine)
        engine.__dict__.update(self.__dict__)
        engine.params = params
        return engine

    def rank(self, query: str, *, explain: int = 1) -> list[Scored]:
        """All shortlisted candidates with their confidence, best first (the first `explain`
        carry the query words that matched them)."""
        return self._rank(query, self.index.vectorize([query]), explain=explain)

    def _rank(self, query: str, vectors: QueryVectors, *, explain: int = 1) -> list[Scored]:
        found = self.index.candidates(vectors, **self.classifier_signals(vectors.normalized))[0]
        confidence = self.params.confidence(found.features)
        order = (-confidence).argsort(kind="stable")
        entries = self.knowledge.entries
        ranked = []
        for rank, r in enumerate(order):
            e = int(found.entries[r])
            ranked.append(Scored(
                entry=entries[e], confidence=float(confidence[r]),
                phrasing=_phrasing_text(entries[e], int(self.index.entry_starts_[e]),
                                        int(found.best_phrasing[r])),
                terms=tuple(self.index.explain_terms(query, e)) if rank < explain else ()))
        return ranked

    def match(self, query: str) -> Match:
        """Decide how to reply to `query`.

        A message of several sentences ("My son was in hospital last year. Do doctors use
        ketamine for that?") is also matched question by question, and the most confident
        reading wins: the story around a question dilutes its match.
        """
        if not words(clean(query)):
            return Match("invalid")
        vectors = self.index.vectorize([query])
        ranked = self._rank(query, vectors)
        if self.is_broad(query, vectors.typed[0]):
            return self._overview(ranked)
        parts = [] if ranked[0].confidence >= self.params.thresholds.answer \
            else question_parts(query)
        for part in parts:
            candidate = self.rank(part)
            if candidate and candidate[0].confidence > ranked[0].confidence:
                ranked = candidate
        return decide(ranked, self.params.thresholds)

    def is_broad(self, query: str, tokens: Sequence[str] | None = None) -> bool:
        """Does the query name the knowledge's topic and nothing else ("what is ketamine")?
        `tokens`: its normalizer tokens, when the caller has them already."""
        tokens = self.index.normalizer_.tokens(query) if tokens is None else tokens
        return self.index.answerability_.query(query, content_tokens(tokens))[2]

    def _overview(self, ranked: list[Scored]) -> Match:
        """A broad question gets the overview entries to choose from, broadest first."""
        by_entry = {s.entry.id: s for s in ranked}
        entries = self.knowledge.entries
        options = tuple(by_entry.get(entries[e].id) or Scored(entries[e], 0.0,
                                                              entries[e].question)
                        for e in self.index.answerability_.overview(MAX_SUGGESTIONS))
        return Match("clarify", options, ranked[0].confidence if ranked else 0.0)


_SENTENCE = re.compile(r"[^.?!\n]+[.?!]*")


def question_parts(text: str, *, min_words: int = 3, limit: int = 3) -> list[str]:
    """The question sentences of a message of several sentences (none for a single one)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= min_words]
    if len(sentences) < 2:
        return []
    questions = [s for s in sentences if s.endswith("?")] or sentences[-1:]
    return questions[-limit:]


def _phrasing_text(entry, first_phrasing: int, phrasing: int) -> str:
    offset = phrasing - first_phrasing if phrasing >= 0 else 0
    phrasings = entry.phrasings
    return phrasings[offset] if 0 <= offset < len(phrasings) else entry.question
