"""Decision thresholds for one fitted engine, from its out-of-scope questions.

Used both by train.py (after it learns the weights) and automatically whenever the entries
change, so an edit never leaves the bot on thresholds made for another file: a few seconds of
work, with no manual step. The weights transfer across edits (they are over features that
mean the same for any knowledge file); the thresholds do not, because the classifiers'
probabilities depend on how many entries there are and how alike they are.

Each out-of-scope question is asked of an engine whose scope classifier and nearest-negative
memory never saw it (two halves, each scored by models fitted on the other), also wrapped in
chat filler and typed in a hurry. Near misses made by rule from the knowledge's own questions
(bot.engine.near_miss) join them, so the thresholds also hold on questions that share almost
every word with an entry; the thresholds are then set at target rates on all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from bot.engine.classifier import NearestNegative, ScopeClassifier
from bot.engine.decide import MAX_SUGGESTIONS
from bot.engine.engine import Engine
from bot.engine.model import Thresholds
from bot.engine.near_miss import lone_word_questions, lone_words_for, near_misses_for

Progress = Callable[[str, int, int], None]

# Share of out-of-scope questions allowed to be answered; to get an answer or a "did you
# mean"; to get a related question suggested beside "I don't know".
OOS_ANSWER_RATE = 0.08
OOS_REACH_RATE = 0.10
OOS_SUGGEST_RATE = 0.25
MIN_NEGATIVES = 20  # fewer say too little about the tail: keep cautious fixed thresholds
NEAR_MISSES = 500
CAUTIOUS = Thresholds(answer=0.9, margin=0.4, clarify=0.6, suggest=0.35)

FILLERS = ("hi, {}", "hello! {}", "{} thanks", "{}? thank you", "quick question: {}",
           "sorry if this is a dumb question but {}", "i was wondering, {}",
           "can someone tell me {}", "{} asking for a friend", "ok so {}",
           "hey there. {} any info appreciated", "{} please")


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def wrap(texts: Sequence[str], *, seed: int) -> list[str]:
    """Each text wrapped in one chat filler (chosen at random, reproducibly)."""
    rng = np.random.default_rng(seed)
    return [FILLERS[int(rng.integers(len(FILLERS)))].format(t.rstrip("?")) for t in texts]


def roughen(texts: Sequence[str], *, seed: int) -> list[str]:
    """Each text as typed in a hurry: one word dropped (of four or more) and one typo."""
    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        words = text.split()
        if len(words) >= 4:
            words.pop(int(rng.integers(len(words))))
        text = " ".join(words)
        if len(text) > 3:
            i = int(rng.integers(len(text) - 1))
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]  # swap two letters
        out.append(text)
    return out


def as_people_type(texts: Sequence[str], *, seed: int) -> list[str]:
    """The texts, then each wrapped in chat filler, then each typed in a hurry."""
    return list(texts) + wrap(texts, seed=seed) + roughen(texts, seed=seed + 1)


@dataclass(frozen=True)
class TopConfidences:
    """For each query: the confidences of its best three candidates (0 where fewer)."""

    top: np.ndarray  # (n, MAX_SUGGESTIONS)

    @property
    def reach(self) -> np.ndarray:
        return np.minimum(self.top.sum(axis=1), 1.0)  # as bot.engine.decide.reach

    def answered(self, answer: float, margin: float) -> np.ndarray:
        best, second = self.top[:, 0], self.top[:, 1]  # as bot.engine.decide.decide
        return (best >= answer) & (best - second >= margin * best)


def top_confidences(confidence_rows: Sequence[np.ndarray]) -> TopConfidences:
    top = np.zeros((len(confidence_rows), MAX_SUGGESTIONS))  # (0, 3) when there are none
    for i, conf in enumerate(confidence_rows):
        best = np.sort(conf)[::-1][:MAX_SUGGESTIONS]
        top[i, :len(best)] = best
    return TopConfidences(top)


def thresholds_from_negatives(negatives: TopConfidences, margin: float) -> Thresholds:
    """Thresholds at the target rates on out-of-scope questions' confidences."""
    if len(negatives.top) < MIN_NEGATIVES:
        return replace(CAUTIOUS, margin=margin)
    top1 = negatives.top[:, 0]
    answer = min(max(float(np.quantile(top1, 1 - OOS_ANSWER_RATE)), 0.05), 0.95)
    # The rate counts questions that get an answer or a "did you mean", either way.
    reached = np.where(negatives.answered(answer, margin), 1.0, negatives.reach)
    clarify = float(np.quantile(reached, 1 - OOS_REACH_RATE))
    suggest = float(np.quantile(top1, 1 - OOS_SUGGEST_RATE))
    return Thresholds(answer=round(answer, 3), margin=margin,
                      clarify=round(min(max(clarify, 0.02), 0.95), 3),
                      suggest=round(min(max(suggest, 0.02), answer), 3))


def negative_confidences(engine: Engine, *, folds: int = 2, seed: int = 2,
                         progress: Progress = _quiet) -> TopConfidences:
    """The engine's top confidences for its out-of-scope questions (as people type them),
    each from scope models that never saw that question."""
    training, features = engine.training, engine.parts.features
    texts = list(training.negative_texts)
    fold_of = np.arange(len(texts)) % folds
    if features is not None and engine.scope is not None:
        positives = features.rows(training.positives, batch=True).select()
        negatives = features.rows(training.negatives, batch=True)
    rows: list[np.ndarray] = []
    for f in range(folds):
        progress("calibration", f, folds)
        asked = [t for t, g in zip(texts, fold_of, strict=True) if g == f]
        if not asked:
            continue
        vectors = engine.index.vectorize(as_people_type(asked, seed=seed + f))
        signals = engine.classifier_signals(vectors.normalized)
        if features is not None and engine.scope is not None:
            kept = np.flatnonzero(fold_of != f)
            query_rows = features.rows(vectors.normalized, batch=True)
            signals["in_scope"] = ScopeClassifier(C=engine.params.scope_c).fit(
                sp.vstack([positives, negatives.select(kept)], format="csr"),
                [True] * positives.shape[0] + [False] * len(kept)).proba(query_rows)
            signals["near_negative"] = NearestNegative().fit(
                negatives.subset(kept)).similarity(query_rows)
        for found in engine.index.candidates(vectors, **signals):
            rows.append(engine.params.confidence(found.features))
    progress("calibration", folds, folds)
    return top_confidences(rows)


def near_miss_confidences(engine: Engine, *, limit: int = NEAR_MISSES, seed: int = 11
                          ) -> tuple[TopConfidences, TopConfidences]:
    """The engine's top confidences for near misses made from its own questions, and for
    lone answer words (never trained on by its classifiers, so the engine as it is scores
    them)."""
    index, answers = engine.index, [e.answer for e in engine.knowledge.entries]
    questions = near_misses_for(index, answers, engine.training.positive_texts,
                                engine.training.labels, subjects=index.subjects, limit=limit,
                                seed=seed, lone=False)
    lone = lone_word_questions(lone_words_for(index, answers), limit=limit // 5, seed=seed)
    return _confidences(engine, questions), _confidences(engine, lone)


def _confidences(engine: Engine, questions: Sequence[str]) -> TopConfidences:
    if not questions:
        return top_confidences([])
    vectors = engine.index.vectorize(questions)
    return top_confidences([engine.params.confidence(found.features) for found in
                            engine.index.candidates(
                                vectors, **engine.classifier_signals(vectors.normalized))])


def calibrate_thresholds(engine: Engine, *, progress: Progress = _quiet) -> Thresholds:
    """Thresholds for this engine (its model's lead over the runner-up is kept)."""
    if not engine.training.negatives:
        return replace(CAUTIOUS, margin=engine.params.thresholds.margin)
    negatives = negative_confidences(engine, progress=progress)
    near, lone = near_miss_confidences(engine)
    margin = engine.params.thresholds.margin
    # The rates hold on the negatives as a whole and on lone answer words by themselves: a
    # few dozen of them in a thousand negatives would not move a quantile.
    overall = thresholds_from_negatives(TopConfidences(np.vstack([negatives.top, near.top])),
                                        margin)
    if len(lone.top) < MIN_NEGATIVES:
        return overall
    words = thresholds_from_negatives(lone, margin)
    answer = max(overall.answer, words.answer)
    return Thresholds(answer=answer, margin=margin, clarify=max(overall.clarify, words.clarify),
                      suggest=min(max(overall.suggest, words.suggest), answer))
