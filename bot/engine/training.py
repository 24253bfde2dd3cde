"""Learn the fusion weights (and the lead over the runner-up) from a knowledge base's own
examples; the thresholds then come from bot.engine.calibration.

Positives: the training paraphrases, asked as they are (they are not in the index), and each
stored phrasing, asked with itself hidden from the index; every one is also asked wrapped in
chat filler and typed in a hurry. The entry and scope classifiers score each of them from
models that never saw it (cross-validation). Negatives: the out-of-scope questions, scored the
same way. The two parts of the confidence (bot.engine.fusion) are fitted on the candidates'
features.

Some entries are trained as new ones: a share of them keep only their question and three
alternates, and their other phrasings and paraphrases are asked as questions. A maintainer's
new entry looks like that, and weights learned only from entries with dozens of examples would
trust the classifier more than a three-example entry deserves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold

from bot.engine.calibration import as_people_type, calibrate_thresholds, top_confidences
from bot.engine.classifier import EntryClassifier, NearestNegative, ScopeClassifier
from bot.engine.engine import Engine, TrainingTexts
from bot.engine.fusion import Linear, fit_scope, fit_softmax
from bot.engine.index import FEATURES, FaqIndex
from bot.engine.model import ModelParams, Thresholds
from bot.engine.near_miss import near_misses_for
from bot.knowledge.model import Knowledge

Progress = Callable[[str, int, int], None]

# How much worse a wrong answer is than a right one is good, when choosing the lead over the
# runner-up. A wrong answer is worse than that, but about half of the left-out examples
# "answered wrongly" land on an overlapping entry whose answer fits them too, so on this data
# a cost of 1 already stands for about 2.
WRONG_COST = 1.0
MARGINS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_EXAMPLES_FOR_CLASSIFIER = 3
NEW_ENTRY_SHARE = 0.2  # entries trained as if just added (question and three alternates)
NEW_ENTRY_ALTERNATES = 3
NEW_ENTRY_QUESTIONS = 40  # of each such entry's other phrasings, asked as questions
# Near misses made from the positives, as a share of the positive queries: enough that the
# answerability features learn their weight, not so many that they drown the real negatives.
NEAR_MISS_SHARE = 0.25


def _quiet(stage: str, done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class Asked:
    """The positive queries: each one's text, the training example it comes from (its
    cross-validation fold follows that example; -1 for one that is no training example, which
    the full models score), the phrasing to hide from the index (or -1) and its entry."""

    texts: list[str]
    example: np.ndarray
    hidden: np.ndarray
    entry: np.ndarray


def positive_queries(index: FaqIndex, training: TrainingTexts, *, limit: int | None,
                     seed: int = 0) -> Asked:
    """Paraphrases, and stored phrasings of entries with two or more (left out in turn), as
    people type them; at most `limit` before augmentation (sampled reproducibly)."""
    n_phrasings = len(index.phrasing_norm_)
    counts = np.bincount(index.phrasing_entry_, minlength=index.n_entries)
    examples = [j for j in range(len(training.positives))
                if j >= n_phrasings or counts[index.phrasing_entry_[j]] >= 2]
    if limit is not None and len(examples) > limit:
        examples = sorted(np.random.default_rng(seed).choice(examples, limit, replace=False))
    raw = [index.phrasing_text_[j] if j < n_phrasings else training.positive_texts[j]
           for j in examples]
    texts = as_people_type(raw, seed=seed + 1)
    example = np.tile(np.asarray(examples, dtype=np.int64), 3)
    hidden = np.where(example < n_phrasings, example, -1)
    return Asked(texts, example, hidden, training.labels[example])


def as_new_entries(knowledge: Knowledge, paraphrases: Mapping[str, Sequence[str]] | None, *,
                   share: float, seed: int = 0
                   ) -> tuple[Knowledge, dict[str, tuple[str, ...]], list[tuple[str, int]]]:
    """The knowledge with a share of its entries cut down to a new entry's question and
    three alternates (and no paraphrases), and the cut phrasings as (text, entry) questions."""
    rng = np.random.default_rng(seed)
    n = len(knowledge.entries)
    chosen = {int(e) for e in rng.choice(n, size=round(share * n), replace=False)} if n >= 5 \
        else set()
    entries, asked = [], []
    for e, entry in enumerate(knowledge.entries):
        if e not in chosen:
            entries.append(entry)
            continue
        entries.append(replace(entry, alternates=entry.alternates[:NEW_ENTRY_ALTERNATES]))
        cut = [*entry.alternates[NEW_ENTRY_ALTERNATES:], *(paraphrases or {}).get(entry.id, ())]
        picked = rng.permutation(len(cut))[:NEW_ENTRY_QUESTIONS]
        asked += [(cut[int(i)], e) for i in picked]
    kept = {k: tuple(v) for k, v in (paraphrases or {}).items()
            if k not in {knowledge.entries[e].id for e in chosen}}
    return replace(knowledge, entries=tuple(entries)), kept, asked


def _example_folds(labels: np.ndarray, folds: int) -> np.ndarray:
    """A fold for every training example, stratified by entry where an entry has enough."""
    counts = np.bincount(labels)
    safe = np.where(counts[labels] >= folds, labels, -1)
    fold_of = np.zeros(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), safe)):
        fold_of[test] = f
    return fold_of


def cross_validated(engine: Engine, asked: Asked, negative_texts: Sequence[str],
                    negative_folds: np.ndarray, *, folds: int = 5, progress: Progress = _quiet
                    ) -> dict[str, np.ndarray | None]:
    """The classifiers' signals (as `FaqIndex.candidates` takes them) for the positive
    queries then the negatives, each from models that never saw that example (the nearest
    training example is never the query's own). A negative
    asked in fold f is scored by scope models trained without the training negatives whose
    number is f modulo `folds` (`negative_folds` says which fold each asked one is in)."""
    index, training, params = engine.index, engine.training, engine.params
    features = engine.parts.features
    fold_of = _example_folds(training.labels, folds)
    neg_fold = np.arange(len(training.negatives)) % folds
    asked_neg_fold = np.asarray(negative_folds)
    queries = asked.texts + list(negative_texts)
    query_fold = np.r_[np.where(asked.example >= 0, fold_of[np.maximum(asked.example, 0)], -1),
                       asked_neg_fold]
    n = len(queries)
    proba = np.zeros((n, index.n_entries)) if engine.classifier is not None else None
    scope = np.zeros(n) if engine.scope is not None else None
    near = np.zeros(n) if engine.scope is not None else None
    if features is None:
        return {}
    positives = features.rows(training.positives, batch=True)
    negatives = features.rows(training.negatives, batch=True)
    query_rows = features.rows([index.normalizer_(q) for q in queries], batch=True)
    neighbour = engine.parts.neighbours.similarity(
        query_rows, exclude=[int(j) if j >= 0 else None for j in asked.example]
        + [None] * len(negative_texts)) if engine.parts.neighbours is not None else None
    outside = np.flatnonzero(query_fold < 0)  # no training example: the full models score them
    if len(outside):
        rows = query_rows.subset(outside)
        if proba is not None:
            proba[outside] = engine.classifier.proba(rows)
        if scope is not None:
            scope[outside] = engine.scope.proba(rows)
            near[outside] = engine.near_negative.similarity(rows)
    for f in range(folds):
        progress("cross-validation", f, folds)
        rows = np.flatnonzero(query_fold == f)
        if not len(rows):
            continue
        asked_rows = query_rows.subset(rows)
        keep = np.flatnonzero(fold_of != f)
        if proba is not None:
            model = EntryClassifier(C=params.classifier_c).fit(
                *training.classifier_examples(features, keep), n_entries=index.n_entries)
            proba[rows] = model.proba(asked_rows)
            # The negatives were never trained on: the full classifier scores them.
            negative_rows = rows[rows >= len(asked.texts)]
            if len(negative_rows):
                proba[negative_rows] = engine.classifier.proba(query_rows.subset(negative_rows))
        if scope is not None:
            kept = np.flatnonzero(neg_fold != f)
            scope[rows] = ScopeClassifier(C=params.scope_c).fit(
                sp.vstack([positives.select(keep), negatives.select(kept)], format="csr"),
                [True] * len(keep) + [False] * len(kept)).proba(asked_rows)
            near[rows] = NearestNegative().fit(negatives.subset(kept)).similarity(asked_rows)
    progress("cross-validation", folds, folds)
    return {"classifier_proba": proba, "in_scope": scope, "near_negative": near,
            "neighbour": neighbour,
            "support": engine.parts.neighbours.support() if engine.parts.neighbours else None}


def _features(index: FaqIndex, queries, signals, hidden, progress, batch=400):
    out = []
    for start in range(0, len(queries), batch):
        progress("features", start, len(queries))
        sl = slice(start, start + batch)
        out.extend(index.candidates(
            queries[sl], **{k: v if v is None or k == "support" else v[sl]
                            for k, v in signals.items()},
            exclude=[None if h < 0 else int(h) for h in hidden[sl]]))
    progress("features", len(queries), len(queries))
    return out


def choose_margin(confidence_rows, candidates, gold) -> tuple[float, dict]:
    """The lead over the runner-up that pays off best on the positive queries (the answer
    threshold is held at the one the out-of-scope questions will set, approximated here by
    their 92nd percentile)."""
    top = top_confidences(confidence_rows)
    correct = np.asarray([g >= 0 and len(c.entries) and c.entries[int(np.argmax(r))] == g
                          for c, r, g in zip(candidates, confidence_rows, gold, strict=True)])
    ins = np.asarray(gold) >= 0
    answer = float(np.quantile(top.top[~ins, 0], 0.92)) if (~ins).sum() >= 20 else 0.9
    best, best_value = MARGINS[0], -np.inf
    for margin in MARGINS:
        answered = top.answered(answer, margin) & ins
        value = (answered & correct).sum() - WRONG_COST * (answered & ~correct).sum()
        if value > best_value:
            best, best_value = margin, value
    answered = top.answered(answer, best) & ins
    n_in = max(int(ins.sum()), 1)
    return best, {"answered_correct": float((answered & correct).sum() / n_in),
                  "wrong": float((answered & ~correct).sum() / n_in),
                  "top1": float(correct[ins].mean()) if ins.any() else 0.0}


def calibrate(knowledge: Knowledge, negatives: Sequence[str], *,
              general_negatives: Sequence[str] = (),
              paraphrases: Mapping[str, Sequence[str]] | None = None,
              classifier_c: float = 10.0, scope_c: float = 1.0,
              max_queries: int | None = 1200, subjects: Sequence[str] = (),
              background: Mapping[str, float] | None = None,
              progress: Progress = _quiet) -> tuple[ModelParams, dict, Engine]:
    """Learn ModelParams for these inputs; returns them, a report, and the final engine."""
    started = time.perf_counter()
    full_knowledge, full_paraphrases = knowledge, paraphrases
    knowledge, paraphrases, new_questions = as_new_entries(knowledge, paraphrases,
                                                           share=NEW_ENTRY_SHARE)
    index = FaqIndex(subjects=subjects, background=background).fit(
        knowledge.entries, knowledge.synonyms, title=knowledge.title)
    probe = TrainingTexts.build(index, knowledge, paraphrases, negatives, general_negatives)
    per_entry = np.bincount(probe.labels, minlength=index.n_entries)
    use_classifier = bool(np.median(per_entry) >= MIN_EXAMPLES_FOR_CLASSIFIER
                          and index.n_entries >= 2)
    use_scope = len(probe.negatives) >= 20
    base = ModelParams(coef=(0.0,) * len(FEATURES), intercept=0.0,
                       mean=(0.0,) * len(FEATURES), scale=(1.0,) * len(FEATURES),
                       entry_softmax=use_scope, use_classifier=use_classifier,
                       classifier_c=classifier_c, use_scope=use_scope, scope_c=scope_c)
    progress("classifiers", 0, 1)
    engine = Engine(knowledge, base, negatives=negatives, general_negatives=general_negatives,
                    paraphrases=paraphrases, index=index)
    progress("classifiers", 1, 1)
    training = engine.training
    asked = positive_queries(index, training, limit=max_queries)
    if new_questions:
        texts = as_people_type([t for t, _ in new_questions], seed=5)
        entries = np.tile([e for _, e in new_questions], 3)
        asked = Asked(asked.texts + texts, np.r_[asked.example, np.full(len(texts), -1)],
                      np.r_[asked.hidden, np.full(len(texts), -1)], np.r_[asked.entry, entries])
    if not len(asked.texts):
        raise ValueError("no entry has two or more phrasings or any paraphrase to learn from: "
                         "give entries alternates (other phrasings)")
    # The out-of-scope questions, then near misses made from the positives (never trained
    # on by the scope classifier, so any fold scores them), each also as people type them.
    synthetic = near_misses_for(index, [e.answer for e in knowledge.entries],
                                training.positive_texts, training.labels, subjects=subjects,
                                limit=int(NEAR_MISS_SHARE * len(asked.texts) / 3))
    real = len(training.negative_texts)
    negatives_asked = list(training.negative_texts) + synthetic
    negative_texts = as_people_type(negatives_asked, seed=7)
    negative_folds = np.tile(np.arange(len(negatives_asked)) % 5, 3)
    signals = cross_validated(engine, asked, negative_texts, negative_folds, progress=progress)
    queries = asked.texts + negative_texts
    gold = list(asked.entry) + [-1] * len(negative_texts)
    hidden = np.r_[asked.hidden, np.full(len(negative_texts), -1)]
    candidates = _features(index, queries, signals, hidden, progress)
    X, y, groups = _rows(candidates, gold)
    if y.sum() < 10 or (~y).sum() < 10:
        raise ValueError(f"too little to learn from ({int(y.sum())} positive candidates): give "
                         "entries alternates (other phrasings) so they can be left out in turn")
    entry_part, scope_part, oof = _fit_parts(X, y, groups, candidates, gold, use_scope)
    bounds = np.cumsum([0] + [len(c.entries) for c in candidates])
    confidence_rows = np.split(oof, bounds[1:-1])
    margin, margin_rates = choose_margin(confidence_rows, candidates, gold)
    params = replace(base, coef=_floats(entry_part.coef), intercept=entry_part.intercept,
                     mean=_floats(entry_part.mean), scale=_floats(entry_part.scale),
                     thresholds=Thresholds(margin=margin),
                     **(_scope_fields(scope_part) if scope_part is not None else {}))
    progress("refit on every example", 0, 1)
    final = Engine(full_knowledge, params, negatives=negatives,
                   general_negatives=general_negatives, paraphrases=full_paraphrases,
                   subjects=subjects, background=background)
    progress("refit on every example", 1, 1)
    thresholds = calibrate_thresholds(final, progress=progress)
    final = final.with_params(replace(params, thresholds=thresholds))
    report = {
        "near_misses": len(synthetic), "real_negatives": real,
        "entries": index.n_entries, "trained_as_new": len({e for _, e in new_questions}),
        "phrasings": len(final.index.phrasing_norm_),
        "paraphrases": sum(len(v) for v in (full_paraphrases or {}).values()),
        "positive_queries": len(asked.texts), "negatives": len(training.negatives),
        "use_classifier": use_classifier, "use_scope": use_scope,
        "top1_fused": margin_rates["top1"],
        "weights": dict(zip(FEATURES, (round(float(v), 3) for v in entry_part.coef),
                            strict=True)),
        "scope_weights": dict(zip(FEATURES, (round(float(v), 3) for v in scope_part.coef),
                                  strict=True)) if scope_part is not None else None,
        "thresholds": thresholds.__dict__,
        "calibration": margin_rates,
        "seconds": round(time.perf_counter() - started, 2),
    }
    # The model file keeps no timings, so training unchanged inputs rewrites it identically.
    stored = {k: v for k, v in report.items() if k != "seconds"}
    final = final.with_params(replace(final.params, metrics=stored))
    return final.params, report, final


def _fit_parts(X, y, groups, candidates, gold, use_scope: bool):
    """The entry part (a softmax over each query's candidates, or a logistic without a scope
    part) and the scope part, with out-of-fold confidences for every candidate row."""
    from bot.engine.fusion import fit_logistic

    in_scope = np.asarray(gold) >= 0
    bounds = np.cumsum([0] + [len(c.entries) for c in candidates])

    def fit_entry(rows: np.ndarray) -> Linear:
        return fit_softmax(X[rows], y[rows], groups[rows]) if use_scope \
            else fit_logistic(X[rows], y[rows])

    def apply_entry(part: Linear, queries: np.ndarray) -> np.ndarray:
        queries = np.sort(queries)
        if not use_scope:
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
    if use_scope:
        best_rows = [bounds[q] + int(np.argmax(entry_oof[bounds[q]:bounds[q + 1]]))
                     for q in range(len(candidates))]
        Xq = X[best_rows]
        scope_oof = np.zeros(len(candidates))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(Xq, in_scope):
            scope_oof[test] = fit_scope(Xq[train], in_scope[train]).logistic(Xq[test])
        scope_part = fit_scope(Xq, in_scope)
    return entry_part, scope_part, entry_oof * np.repeat(scope_oof, np.diff(bounds))


def _rows(candidates, gold):
    X, y, groups = [], [], []
    for q, (found, g) in enumerate(zip(candidates, gold, strict=True)):
        X.append(found.features)
        y.append(found.entries == g)
        groups.append(np.full(len(found.entries), q))
    return np.vstack(X), np.concatenate(y), np.concatenate(groups)


def _scope_fields(part: Linear) -> dict:
    return {"scope_coef": _floats(part.coef), "scope_intercept": float(part.intercept),
            "scope_mean": _floats(part.mean), "scope_scale": _floats(part.scale)}


def _floats(values) -> tuple[float, ...]:
    return tuple(map(float, values))
