"""Learn the fusion weights and thresholds from the knowledge file itself.

Positives: each stored phrasing, asked as a query with that phrasing hidden from the index
(and from the classifier, by cross-validation). Negatives: out-of-scope questions. A logistic
regression over candidate features gives P(candidate is right); thresholds are then chosen
on out-of-fold confidences to keep wrong answers rare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

from bot.engine.classifier import EntryClassifier
from bot.engine.index import FEATURES, FaqIndex
from bot.engine.model import ModelParams, Thresholds, knowledge_hash
from bot.knowledge.model import Knowledge

Progress = Callable[[str, int, int], None]

# Targets on the calibration data (written by the same hands as the knowledge, so easier than
# real questions): keep wrong answers and answered out-of-scope questions rarer than this.
MAX_WRONG_RATE = 0.01
MAX_OOS_ANSWER_RATE = 0.01
MAX_OOS_CLARIFY_RATE = 0.06
MIN_PHRASINGS_FOR_CLASSIFIER = 3


@dataclass
class CalibrationSet:
    """Per-query confidences of the best candidates, gold labels, and whether in scope."""

    top: np.ndarray  # (n, 2): best and runner-up confidence
    correct: np.ndarray  # (n,) bool: best candidate is right (False for out-of-scope)
    in_scope: np.ndarray  # (n,) bool
    gold_rank: np.ndarray  # (n,) rank of the right entry among candidates, -1 if absent


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def leave_one_out_queries(index: FaqIndex, *, limit: int | None = None, seed: int = 0
                          ) -> np.ndarray:
    """Phrasing numbers to ask as queries (only entries with 2+ phrasings), maybe sampled."""
    counts = np.bincount(index.phrasing_entry_)
    rows = np.flatnonzero(counts[index.phrasing_entry_] >= 2)
    if limit is not None and len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
    return rows


def cross_validated_proba(index: FaqIndex, rows: np.ndarray, *, C: float,
                          folds: int = 5, progress: Progress = _quiet) -> np.ndarray:
    """Classifier probabilities for phrasing `rows`, each from a model that never saw it."""
    labels = index.phrasing_entry_
    proba = np.zeros((len(rows), index.n_entries))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    all_rows = np.arange(len(labels))
    # Stratify on the entry; entries with fewer phrasings than folds are still handled
    # because StratifiedKFold only warns for them.
    fold_of = np.zeros(len(labels), dtype=int)
    for f, (_, test) in enumerate(splitter.split(all_rows, labels)):
        fold_of[test] = f
    for f in range(folds):
        progress("classifier folds", f, folds)
        train = all_rows[fold_of != f]
        model = EntryClassifier(C=C).fit(index, train)
        mask = fold_of[rows] == f
        if mask.any():
            texts = [index.phrasing_norm_[j] for j in rows[mask]]
            proba[mask] = model.predict_proba_normalized(texts)
    progress("classifier folds", folds, folds)
    return proba


def _features(index, queries, proba, exclude, batch, progress, stage):
    out = []
    for start in range(0, len(queries), batch):
        progress(stage, start, len(queries))
        sl = slice(start, start + batch)
        out.extend(index.candidates(queries[sl],
                                    classifier_proba=None if proba is None else proba[sl],
                                    exclude=None if exclude is None else exclude[sl]))
    progress(stage, len(queries), len(queries))
    return out


def _rows(candidates, gold):
    X, y, groups = [], [], []
    for q, (found, g) in enumerate(zip(candidates, gold, strict=True)):
        X.append(found.features)
        y.append(found.entries == g)
        groups.append(np.full(len(found.entries), q))
    return np.vstack(X), np.concatenate(y), np.concatenate(groups)


def fit_fusion(X: np.ndarray, y: np.ndarray, *, C: float = 1.0
               ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Logistic regression over standardised features: (coef, intercept, mean, scale)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=C, max_iter=1000)
    model.fit((X - mean) / scale, y)
    return model.coef_[0], float(model.intercept_[0]), mean, scale


def _calibration_set(candidates, gold, confidence_rows) -> CalibrationSet:
    top, correct, rank = [], [], []
    for found, g, conf in zip(candidates, gold, confidence_rows, strict=True):
        order = np.argsort(-conf, kind="stable")
        best = conf[order[0]]
        second = conf[order[1]] if len(order) > 1 else 0.0
        top.append((best, second))
        ranked_entries = found.entries[order]
        correct.append(g >= 0 and ranked_entries[0] == g)
        hits = np.flatnonzero(ranked_entries == g) if g >= 0 else []
        rank.append(int(hits[0]) if len(hits) else -1)
    gold = np.asarray(gold)
    return CalibrationSet(np.asarray(top), np.asarray(correct), gold >= 0, np.asarray(rank))


def outcomes(cal: CalibrationSet, th: Thresholds) -> dict[str, float]:
    """Rates for one set of thresholds (the decision rule of bot.engine.decide)."""
    best, second = cal.top[:, 0], cal.top[:, 1]
    answer = (best >= th.answer) & (best - second >= th.margin)
    clarify = ~answer & (best >= th.clarify)
    ins, oos = cal.in_scope, ~cal.in_scope
    n_in, n_oos = max(ins.sum(), 1), max(oos.sum(), 1)
    resolved = (answer & cal.correct) | (clarify & (cal.gold_rank >= 0) & (cal.gold_rank < 3))
    return {
        "answered_correct": float((answer & cal.correct & ins).sum() / n_in),
        "wrong": float((answer & ~cal.correct & ins).sum() / n_in),
        "resolved": float((resolved & ins).sum() / n_in),
        "oos_answered": float((answer & oos).sum() / n_oos),
        "oos_abstained": float((~answer & ~clarify & oos).sum() / n_oos),
    }


def choose_thresholds(cal: CalibrationSet, *, max_wrong: float = MAX_WRONG_RATE,
                      max_oos_answer: float = MAX_OOS_ANSWER_RATE,
                      max_oos_clarify: float = MAX_OOS_CLARIFY_RATE) -> Thresholds:
    """The answer/margin pair that answers most while keeping wrong answers rare, and the
    lowest clarify threshold that keeps out-of-scope questions mostly abstained."""
    grid = np.round(np.arange(0.30, 0.99, 0.01), 2)
    best_key, best_th = None, Thresholds(answer=0.95, margin=0.5, clarify=0.7, suggest=0.4)
    for margin in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4):
        for answer in grid:
            th = Thresholds(answer=float(answer), margin=margin, clarify=float(answer),
                            suggest=0.0)
            rates = outcomes(cal, th)
            if rates["wrong"] <= max_wrong and rates["oos_answered"] <= max_oos_answer:
                key = (round(rates["answered_correct"], 4), -margin)
                if best_key is None or key > best_key:
                    best_key, best_th = key, th
                break  # higher thresholds only answer less
    oos_best = np.sort(cal.top[~cal.in_scope, 0])[::-1]
    if len(oos_best):
        cut = int(np.floor(max_oos_clarify * len(oos_best)))
        clarify = float(oos_best[min(cut, len(oos_best) - 1)]) + 1e-3
    else:
        clarify = best_th.answer / 2
    clarify = min(max(clarify, 0.15), best_th.answer)
    return replace(best_th, clarify=round(clarify, 3), suggest=round(max(clarify * 0.6, 0.1), 3))


def calibrate(knowledge: Knowledge, negatives: Sequence[str], *,
              index: FaqIndex | None = None, use_classifier: bool | None = None,
              classifier_c: float = 10.0, max_queries: int | None = 4000,
              progress: Progress = _quiet) -> tuple[ModelParams, dict]:
    """Learn ModelParams for `knowledge`; returns them and a report of training metrics."""
    started = time.perf_counter()
    index = index or FaqIndex().fit(knowledge.entries, knowledge.synonyms)
    rows = leave_one_out_queries(index, limit=max_queries)
    per_entry = np.bincount(index.phrasing_entry_)
    if use_classifier is None:
        use_classifier = bool(np.median(per_entry) >= MIN_PHRASINGS_FOR_CLASSIFIER
                              and index.n_entries >= 2)
    queries = [index.phrasing_text_[j] for j in rows] + list(negatives)
    gold = list(index.phrasing_entry_[rows]) + [-1] * len(negatives)
    exclude = [int(j) for j in rows] + [None] * len(negatives)
    proba = None
    if use_classifier:
        pos = cross_validated_proba(index, rows, C=classifier_c, progress=progress)
        full = EntryClassifier(C=classifier_c).fit(index)
        neg = full.predict_proba(list(negatives)) if negatives else np.zeros((0, pos.shape[1]))
        proba = np.vstack([pos, neg])
    candidates = _features(index, queries, proba, exclude, 500, progress, "features")
    X, y, groups = _rows(candidates, gold)
    if y.sum() < 10 or (~y).sum() < 10:
        raise ValueError(f"too little to learn from ({int(y.sum())} positive candidates): give "
                         "entries alternates (other phrasings) so they can be left out in turn")

    # Out-of-fold confidences, so thresholds are chosen on scores the weights did not see.
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=5).split(X, y, groups):
        coef, intercept, mean, scale = fit_fusion(X[train], y[train])
        oof[test] = 1 / (1 + np.exp(-(((X[test] - mean) / scale) @ coef + intercept)))
    coef, intercept, mean, scale = fit_fusion(X, y)
    conf_rows = np.split(oof, np.cumsum([len(c.entries) for c in candidates])[:-1])
    cal = _calibration_set(candidates, gold, conf_rows)
    thresholds = choose_thresholds(cal)
    params = ModelParams(coef=tuple(map(float, coef)), intercept=intercept,
                         mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                         thresholds=thresholds, use_classifier=use_classifier,
                         classifier_c=classifier_c, knowledge_hash=knowledge_hash(knowledge))
    report = {
        "entries": index.n_entries, "phrasings": len(index.phrasing_norm_),
        "positives": len(rows), "negatives": len(negatives),
        "use_classifier": use_classifier,
        "top1_fused": float(cal.correct[cal.in_scope].mean()) if cal.in_scope.any() else 0.0,
        "top1_retrieval": _top1_by(candidates, gold, FEATURES.index("char"), "word"),
        "top1_classifier": _top1_by(candidates, gold, FEATURES.index("classifier"))
        if use_classifier else None,
        "weights": dict(zip(FEATURES, map(lambda v: round(float(v), 3), coef), strict=True)),
        "thresholds": thresholds.__dict__,
        "calibration": outcomes(cal, thresholds),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return replace(params, metrics=report), report


def _top1_by(candidates, gold, column: int, also: str | None = None) -> float:
    hits, n = 0, 0
    extra = FEATURES.index(also) if also else None
    for found, g in zip(candidates, gold, strict=True):
        if g < 0:
            continue
        score = found.features[:, column] + (found.features[:, extra] if extra is not None else 0)
        hits += int(found.entries[int(np.argmax(score))] == g)
        n += 1
    return hits / n if n else 0.0
