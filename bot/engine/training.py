"""Learn the fusion weights and thresholds from the knowledge file itself.

Positives: each stored phrasing, asked as a query with that phrasing hidden from the index
(and from the classifiers, by cross-validation). Negatives: out-of-scope questions. The two
parts of the confidence (bot.engine.fusion) are fitted on the candidates' features, and the
thresholds are then chosen on out-of-fold confidences to keep wrong answers rare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from bot.engine.classifier import EntryClassifier, NearestNegative, ScopeClassifier
from bot.engine.decide import MAX_SUGGESTIONS
from bot.engine.fusion import Linear, fit_logistic, fit_scope, fit_softmax
from bot.engine.index import FEATURES, FaqIndex
from bot.engine.model import ModelParams, Thresholds, knowledge_hash
from bot.knowledge.model import Knowledge

Progress = Callable[[str, int, int], None]

# Share of out-of-scope questions allowed to be answered; to get an answer or a "did you
# mean"; to get a related question suggested beside "I don't know". And how much worse a
# wrong answer is than a right one is good when choosing the lead over the runner-up. A wrong
# answer is worse than that, but about half of the left-out phrasings "answered wrongly" land
# on an overlapping entry whose answer fits them too, so on this data a cost of 1 already
# stands for about 2.
OOS_ANSWER_RATE = 0.08
OOS_REACH_RATE = 0.10
OOS_SUGGEST_RATE = 0.25
WRONG_COST = 1.0
MIN_PHRASINGS_FOR_CLASSIFIER = 3


@dataclass
class CalibrationSet:
    """Per-query confidences of the best candidates, gold labels, and whether in scope."""

    top: np.ndarray  # (n, 3): confidence of the best three candidates (0 where fewer)
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


FILLERS = ("hi, {}", "hello! {}", "{} thanks", "{}? thank you", "quick question: {}",
           "sorry if this is a dumb question but {}", "i was wondering, {}",
           "can someone tell me {}", "{} asking for a friend", "ok so {}",
           "hey there. {} any info appreciated", "{} please")


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


def _phrasing_folds(index: FaqIndex, folds: int) -> np.ndarray:
    """A fold number for every phrasing, stratified by entry."""
    labels = index.phrasing_entry_
    fold_of = np.zeros(len(labels), dtype=int)
    counts = np.bincount(labels)
    # Entries with fewer phrasings than folds still get spread over folds (no warning noise).
    safe = np.where(counts[labels] >= folds, labels, -1)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), safe)):
        fold_of[test] = f
    return fold_of


def cross_validated_proba(index: FaqIndex, rows: np.ndarray, *, C: float,
                          texts: Sequence[str] | None = None, folds: int = 5,
                          progress: Progress = _quiet) -> np.ndarray:
    """Classifier probabilities for phrasing `rows` (asked as `texts`, by default the
    phrasings themselves), each from a model that never saw that phrasing."""
    texts = list(texts) if texts is not None else [index.phrasing_text_[j] for j in rows]
    proba = np.zeros((len(rows), index.n_entries))
    fold_of = _phrasing_folds(index, folds)
    all_rows = np.arange(len(fold_of))
    for f in range(folds):
        progress("classifier folds", f, folds)
        model = EntryClassifier(C=C).fit(index, all_rows[fold_of != f])
        mask = fold_of[rows] == f
        if mask.any():
            proba[mask] = model.proba(index.vectorize([t for t, m in zip(texts, mask,
                                                                         strict=True) if m]))
    progress("classifier folds", folds, folds)
    return proba


def cross_validated_scope(index: FaqIndex, rows: np.ndarray, negatives: Sequence[str], *,
                          C: float, texts: Sequence[str] | None = None, folds: int = 5,
                          negative_texts: Sequence[str] | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """P(in scope) and the similarity to the nearest out-of-scope question, for phrasing `rows`
    and for each negative, from models that never saw them (asked as `texts` /
    `negative_texts`, by default the phrasings and negatives themselves): (P for rows, P for
    negatives, similarity for rows, similarity for negatives)."""
    texts = list(texts) if texts is not None else [index.phrasing_text_[j] for j in rows]
    negative_texts = list(negative_texts) if negative_texts is not None else list(negatives)
    fold_of = _phrasing_folds(index, folds)
    neg_fold = np.arange(len(negatives)) % folds
    asked_fold = np.arange(len(negative_texts)) % len(negatives) % folds
    all_rows = np.arange(len(fold_of))
    pos, neg = np.zeros(len(rows)), np.zeros(len(negative_texts))
    near_neg = np.zeros(len(negative_texts))
    near_pos = NearestNegative().fit(index, negatives).similarity(index.vectorize(texts))
    for f in range(folds):
        kept = [q for q, g in zip(negatives, neg_fold, strict=True) if g != f]
        model = ScopeClassifier(C=C).fit(index, kept, all_rows[fold_of != f])
        mask = fold_of[rows] == f
        if mask.any():
            pos[mask] = model.proba(index.vectorize([t for t, m in zip(texts, mask, strict=True)
                                                     if m]))
        held_out = [q for q, g in zip(negative_texts, asked_fold, strict=True) if g == f]
        if held_out:
            vectors = index.vectorize(held_out)
            neg[asked_fold == f] = model.proba(vectors)
            near_neg[asked_fold == f] = NearestNegative().fit(index, kept).similarity(vectors)
    return pos, neg, near_pos, near_neg


def _features(index, queries, proba, scope, near, exclude, batch, progress, stage):
    out = []
    for start in range(0, len(queries), batch):
        progress(stage, start, len(queries))
        sl = slice(start, start + batch)
        out.extend(index.candidates(queries[sl],
                                    classifier_proba=None if proba is None else proba[sl],
                                    in_scope=None if scope is None else scope[sl],
                                    near_negative=None if near is None else near[sl],
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


def _calibration_set(candidates, gold, confidence_rows) -> CalibrationSet:
    top, correct, rank = [], [], []
    for found, g, conf in zip(candidates, gold, confidence_rows, strict=True):
        order = np.argsort(-conf, kind="stable")
        top.append(np.pad(conf[order[:MAX_SUGGESTIONS]], (0, MAX_SUGGESTIONS))[:MAX_SUGGESTIONS])
        ranked_entries = found.entries[order]
        correct.append(g >= 0 and ranked_entries[0] == g)
        hits = np.flatnonzero(ranked_entries == g) if g >= 0 else []
        rank.append(int(hits[0]) if len(hits) else -1)
    gold = np.asarray(gold)
    return CalibrationSet(np.asarray(top), np.asarray(correct), gold >= 0, np.asarray(rank))


def _reach(cal: CalibrationSet) -> np.ndarray:
    return np.minimum(cal.top.sum(axis=1), 1.0)  # as bot.engine.decide.reach


def _answered(cal: CalibrationSet, answer: float, margin: float) -> np.ndarray:
    best, second = cal.top[:, 0], cal.top[:, 1]  # as bot.engine.decide.decide
    return (best >= answer) & (best - second >= margin * best)


def outcomes(cal: CalibrationSet, th: Thresholds) -> dict[str, float]:
    """Rates for one set of thresholds (the decision rule of bot.engine.decide)."""
    answer = _answered(cal, th.answer, th.margin)
    clarify = ~answer & (_reach(cal) >= th.clarify)
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


def choose_thresholds(cal: CalibrationSet, *, oos_answer_rate: float = OOS_ANSWER_RATE,
                      oos_reach_rate: float = OOS_REACH_RATE,
                      oos_suggest_rate: float = OOS_SUGGEST_RATE,
                      wrong_cost: float = WRONG_COST) -> Thresholds:
    """Thresholds at target false-positive rates on the out-of-scope questions, and the lead
    over the runner-up that pays off best on the leave-one-out questions.

    Why not fit the answer threshold on the leave-one-out questions too: their labels name
    one entry, while real questions are often answered as well by an overlapping entry, so
    they make every threshold look worse than it is. The out-of-scope questions have no such
    problem: answering one of them is always wrong.
    """
    oos = ~cal.in_scope
    learn = oos.sum() >= 20  # else there are no negatives to learn from: stay cautious
    answer = float(np.quantile(cal.top[oos, 0], 1 - oos_answer_rate)) if learn else 0.9
    answer = min(max(answer, 0.05), 0.95)
    best_margin, best_value = 0.3, -np.inf
    # Two entries count as close (ask which one was meant) at least when the runner-up has
    # 70% of the best one's confidence; the data may ask for a wider lead than that.
    for margin in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        rates = outcomes(cal, Thresholds(answer=answer, margin=margin, clarify=1.0))
        value = rates["answered_correct"] - wrong_cost * rates["wrong"]
        if value > best_value + 1e-9:
            best_margin, best_value = margin, value
    if learn:
        # The rate counts questions that get an answer or a "did you mean", either way.
        reached = np.where(_answered(cal, answer, best_margin), 1.0, _reach(cal))
        clarify = float(np.quantile(reached[oos], 1 - oos_reach_rate))
        suggest = float(np.quantile(cal.top[oos, 0], 1 - oos_suggest_rate))
    else:
        clarify, suggest = 0.6, 0.35
    return Thresholds(answer=round(answer, 3), margin=best_margin,
                      clarify=round(min(max(clarify, 0.02), 0.95), 3),
                      suggest=round(min(max(suggest, 0.02), answer), 3))


def calibrate(knowledge: Knowledge, negatives: Sequence[str], *,
              index: FaqIndex | None = None, use_classifier: bool | None = None,
              classifier_c: float = 10.0, scope_c: float = 1.0,
              max_queries: int | None = 4000, augment: bool = True,
              progress: Progress = _quiet) -> tuple[ModelParams, dict]:
    """Learn ModelParams for `knowledge`; returns them and a report of training metrics."""
    started = time.perf_counter()
    index = index or FaqIndex().fit(knowledge.entries, knowledge.synonyms)
    rows = leave_one_out_queries(index, limit=max_queries)
    per_entry = np.bincount(index.phrasing_entry_)
    if use_classifier is None:
        use_classifier = bool(np.median(per_entry) >= MIN_PHRASINGS_FOR_CLASSIFIER
                              and index.n_entries >= 2)
    if len(rows) == 0:
        raise ValueError("no entry has two or more phrasings, so none can be left out to "
                         "learn from: give entries alternates")
    # Each question is also asked wrapped in chat filler ("hi, ...", "... thanks"), as
    # people type; negatives get the same wrappers, so filler itself says nothing either way.
    asked = [index.phrasing_text_[j] for j in rows]
    negatives = list(negatives)
    if augment:
        asked = asked + wrap(asked, seed=1) + roughen(asked, seed=3)
        rows = np.r_[rows, rows, rows]
        negatives_asked = negatives + wrap(negatives, seed=2) + roughen(negatives, seed=4)
    else:
        negatives_asked = negatives
    queries = asked + negatives_asked
    gold = list(index.phrasing_entry_[rows]) + [-1] * len(negatives_asked)
    exclude = [int(j) for j in rows] + [None] * len(negatives_asked)
    proba = None
    if use_classifier:
        pos = cross_validated_proba(index, rows, C=classifier_c, texts=asked, progress=progress)
        full = EntryClassifier(C=classifier_c).fit(index)
        neg = full.proba(index.vectorize(negatives_asked)) if negatives \
            else np.zeros((0, pos.shape[1]))
        proba = np.vstack([pos, neg])
    use_scope = len(negatives) >= 20
    scope = near = None
    if use_scope:
        progress("scope classifier", 0, 1)
        pos_scope, neg_scope, pos_near, neg_near = cross_validated_scope(
            index, rows, negatives, C=scope_c, texts=asked, negative_texts=negatives_asked)
        scope, near = np.r_[pos_scope, neg_scope], np.r_[pos_near, neg_near]
        progress("scope classifier", 1, 1)
    candidates = _features(index, queries, proba, scope, near, exclude, 500, progress,
                           "features")
    X, y, groups = _rows(candidates, gold)
    if y.sum() < 10 or (~y).sum() < 10:
        raise ValueError(f"too little to learn from ({int(y.sum())} positive candidates): give "
                         "entries alternates (other phrasings) so they can be left out in turn")

    # Two parts: which candidate is right (learned on in-scope questions only, where the
    # leave-one-out labels apply) and whether the question is in scope at all (learned on
    # the best candidate of in-scope against out-of-scope questions). With no out-of-scope
    # questions there is no scope part, and the entry part must judge each candidate alone.
    in_scope = np.asarray(gold) >= 0
    use_softmax = use_scope
    bounds = np.cumsum([0] + [len(c.entries) for c in candidates])

    def fit_entry(rows: np.ndarray) -> Linear:
        return fit_softmax(X[rows], y[rows], groups[rows]) if use_softmax \
            else fit_logistic(X[rows], y[rows])

    def apply_entry(part: Linear, queries: np.ndarray) -> np.ndarray:
        """Confidences of the rows of `queries`, in row order."""
        queries = np.sort(queries)
        if not use_softmax:
            return part.logistic(X[np.isin(groups, queries)])
        rows = np.concatenate([np.arange(bounds[q], bounds[q + 1]) for q in queries])
        return part.softmax(X[rows], np.r_[0, np.cumsum(np.diff(bounds)[queries])])

    entry_oof = np.zeros(len(y))
    in_queries = np.flatnonzero(in_scope)
    for train, test in KFold(5, shuffle=True, random_state=0).split(in_queries):
        part = fit_entry(np.isin(groups, in_queries[train]))
        entry_oof[np.isin(groups, in_queries[test])] = apply_entry(part, in_queries[test])
    entry_part = fit_entry(np.isin(groups, in_queries))
    if (~in_scope).any():  # out-of-scope questions were never trained on
        out_queries = np.flatnonzero(~in_scope)
        entry_oof[np.isin(groups, out_queries)] = apply_entry(entry_part, out_queries)
    scope_part = None
    scope_oof = np.ones(len(candidates))
    if (~in_scope).sum() >= 20:
        best_rows = [bounds[q] + int(np.argmax(entry_oof[bounds[q]:bounds[q + 1]]))
                     for q in range(len(candidates))]
        Xq = X[best_rows]
        scope_oof = np.zeros(len(candidates))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(Xq, in_scope):
            scope_oof[test] = fit_scope(Xq[train], in_scope[train]).logistic(Xq[test])
        scope_part = fit_scope(Xq, in_scope)
    oof = entry_oof * np.repeat(scope_oof, np.diff(bounds))
    conf_rows = np.split(oof, bounds[1:-1])
    cal = _calibration_set(candidates, gold, conf_rows)
    thresholds = choose_thresholds(cal)
    scope_fields = {}
    if scope_part is not None:
        scope_fields = {"scope_coef": _floats(scope_part.coef),
                        "scope_intercept": scope_part.intercept,
                        "scope_mean": _floats(scope_part.mean),
                        "scope_scale": _floats(scope_part.scale)}
    params = ModelParams(coef=_floats(entry_part.coef), intercept=entry_part.intercept,
                         mean=_floats(entry_part.mean), scale=_floats(entry_part.scale),
                         entry_softmax=use_softmax,
                         thresholds=thresholds, use_classifier=use_classifier,
                         classifier_c=classifier_c, use_scope=use_scope, scope_c=scope_c,
                         knowledge_hash=knowledge_hash(knowledge), **scope_fields)
    report = {
        "entries": index.n_entries, "phrasings": len(index.phrasing_norm_),
        "positives": len(rows), "negatives": len(negatives),
        "use_classifier": use_classifier, "use_scope": use_scope,
        "top1_fused": float(cal.correct[cal.in_scope].mean()) if cal.in_scope.any() else 0.0,
        "top1_retrieval": _top1_by(candidates, gold, FEATURES.index("char"), "word"),
        "top1_classifier": _top1_by(candidates, gold, FEATURES.index("classifier"))
        if use_classifier else None,
        "entry_model": "softmax" if use_softmax else "logistic",
        "weights": dict(zip(FEATURES, map(lambda v: round(float(v), 3), entry_part.coef),
                            strict=True)),
        "scope_weights": dict(zip(FEATURES, map(lambda v: round(float(v), 3),
                                                scope_part.coef), strict=True))
        if scope_part is not None else None,
        "thresholds": thresholds.__dict__,
        "calibration": outcomes(cal, thresholds),
        "seconds": round(time.perf_counter() - started, 2),
    }
    # The model file keeps no timings, so training unchanged knowledge rewrites it identically.
    stored = {k: v for k, v in report.items() if k != "seconds"}
    return replace(params, metrics=stored), report


def _floats(values) -> tuple[float, ...]:
    return tuple(map(float, values))


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
