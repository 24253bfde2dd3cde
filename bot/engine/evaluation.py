"""Measure a bot on labelled queries: the shared eval JSONL format and the benchmark format
(`faq.jsonl` + `queries_<split>.jsonl`). Pure functions over predictions; I/O is elsewhere."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz
from sklearn.metrics import roc_auc_score

from bot.knowledge.model import Knowledge


@dataclass(frozen=True)
class Prediction:
    """What the bot did with one query: status, entry ids (answer or options, best first),
    and the confidence of its best candidate."""

    status: str
    entries: tuple[str, ...] = ()
    confidence: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class LabelledQuery:
    """A query and what a correct bot does: `expect` answer/abstain/crisis/safe; `gold` entry
    ids that would satisfy the person (for answer rows)."""

    query: str
    expect: str
    gold: frozenset[str] = frozenset()


@dataclass
class Report:
    """Counts and rates of one evaluation run."""

    n: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    errors: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    auroc: float | None = None
    sweep: list[dict[str, float]] = field(default_factory=list)
    recommended: dict[str, float] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    # Raw material for plots: (confidence, top candidate right) of in-scope rows, and the
    # confidence of out-of-scope rows.
    in_scope: list[tuple[float, bool]] = field(default_factory=list)
    out_of_scope: list[float] = field(default_factory=list)


def seed_to_entries(seed_answers: dict[int, str], knowledge: Knowledge,
                    seed_questions: dict[int, str] | None = None) -> dict[int, str]:
    """Map seed pair numbers to the entry whose answer holds that seed answer (by text
    similarity, since stored answers are cleaned and merged). Near-ties (two seed answers
    that are almost the same text) go to the entry that keeps the seed's question."""
    mapping = {}
    for n, answer in seed_answers.items():
        scores = np.array([fuzz.partial_ratio(answer[:300], e.answer)
                           for e in knowledge.entries])
        question = (seed_questions or {}).get(n)
        if question:
            scores += [3.0 * (question in e.phrasings) for e in knowledge.entries]
        mapping[n] = knowledge.entries[int(np.argmax(scores))].id
    return mapping


def from_eval_rows(rows: Iterable[dict], seed_map: dict[int, str] | None = None
                   ) -> list[LabelledQuery]:
    """Rows of either format -> LabelledQuery. Eval rows: query/expect/seed; benchmark rows:
    query/expected (entry ids, [] = out of scope)."""
    out = []
    for row in rows:
        if "expect" in row:
            gold = frozenset(seed_map[n] for n in row.get("seed", []) if n in seed_map) \
                if seed_map else frozenset()
            out.append(LabelledQuery(row["query"], row["expect"], gold))
        else:
            expected = row.get("expected") or []
            out.append(LabelledQuery(row["query"], "answer" if expected else "abstain",
                                     frozenset(expected)))
    return out


def evaluate(queries: Sequence[LabelledQuery], predict: Callable[[str], Prediction], *,
             safe_check: Callable[[str, Prediction], str | None] | None = None,
             crisis_check: Callable[[Prediction], bool] | None = None) -> Report:
    """Run every query through `predict` and score it."""
    preds = [predict(q.query) for q in queries]
    return score(queries, preds, safe_check=safe_check, crisis_check=crisis_check)


def score(queries: Sequence[LabelledQuery], preds: Sequence[Prediction], *,
          safe_check=None, crisis_check=None) -> Report:
    report = Report()
    counts: dict[str, int] = defaultdict(int)
    errors: dict[str, list] = defaultdict(list)
    conf_in, conf_out, sweep_rows = [], [], []
    for q, p in zip(queries, preds, strict=True):
        counts[q.expect] += 1
        if q.expect == "answer":
            best = p.entries[0] if p.entries else None
            if p.status == "answer" and best in q.gold:
                counts["answered_correct"] += 1
            elif p.status == "answer":
                counts["wrong"] += 1
                errors[min(q.gold, default="?")].append((q.query, "answered", best or "-"))
            elif p.status == "clarify" and q.gold & set(p.entries[:3]):
                counts["clarify_right"] += 1
            else:
                where = ",".join(p.entries[:3]) or "-"
                errors[min(q.gold, default="?")].append((q.query, p.status, where))
            if p.status in ("answer", "clarify", "unknown"):
                conf_in.append(p.confidence)
                sweep_rows.append((p.confidence, bool(p.entries) and p.entries[0] in q.gold))
        elif q.expect == "abstain":
            if p.status in ("answer", "clarify"):
                report.failures.append((q.query, p.status, ",".join(p.entries[:3])))
                counts["oos_not_abstained"] += 1
                counts["oos_answered"] += p.status == "answer"
            else:
                counts["abstained"] += 1
            conf_out.append(p.confidence)
        elif q.expect == "crisis":
            ok = crisis_check(p) if crisis_check else p.status == "crisis"
            counts["crisis_ok"] += ok
            if not ok:
                report.failures.append((q.query, p.status, "not routed to crisis"))
        elif q.expect == "safe":
            problem = safe_check(q.query, p) if safe_check else None
            counts["safe_ok"] += problem is None
            if problem:
                report.failures.append((q.query[:60], p.status, problem))
    report.n = dict(counts)
    answerable = max(counts["answer"], 1)
    report.rates = {
        "answered_correct": counts["answered_correct"] / answerable,
        "clarify_right": counts["clarify_right"] / answerable,
        "resolved": (counts["answered_correct"] + counts["clarify_right"]) / answerable,
        "confidently_wrong": counts["wrong"] / answerable,
    }
    if counts["abstain"]:
        report.rates["oos_abstained"] = counts["abstained"] / counts["abstain"]
    if counts["crisis"]:
        report.rates["crisis_routed"] = counts["crisis_ok"] / counts["crisis"]
    if counts["safe"]:
        report.rates["safe_ok"] = counts["safe_ok"] / counts["safe"]
    report.errors = dict(errors)
    if conf_in and conf_out:
        labels = [1] * len(conf_in) + [0] * len(conf_out)
        report.auroc = float(roc_auc_score(labels, conf_in + conf_out))
    report.sweep, report.recommended = threshold_sweep(sweep_rows, conf_out)
    report.in_scope, report.out_of_scope = sweep_rows, conf_out
    return report


def threshold_sweep(in_scope: list[tuple[float, bool]], out_of_scope: list[float], *,
                    max_wrong: float = 0.03) -> tuple[list[dict], dict]:
    """Coverage vs wrong-answer rate if the answer threshold alone were moved."""
    if not in_scope:
        return [], {}
    conf = np.array([c for c, _ in in_scope])
    right = np.array([r for _, r in in_scope])
    oos = np.array(out_of_scope)
    rows, best = [], {}
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        answered = conf >= t
        row = {"threshold": float(t), "coverage": float(answered.mean()),
               "correct": float((answered & right).mean()),
               "wrong": float((answered & ~right).mean()),
               "oos_answered": float((oos >= t).mean()) if len(oos) else 0.0}
        rows.append(row)
        if row["wrong"] <= max_wrong and row["oos_answered"] <= 0.1 and (
                not best or row["correct"] > best["correct"]):
            best = row
    return rows, best


def paper_threshold(val: Sequence[tuple[float, bool, bool]]) -> float:
    """CLINC150's oos-threshold rule: the threshold with the best validation accuracy over
    all intents, out-of-scope counted as one more class. Rows: (confidence, top entry right,
    in scope)."""
    conf = np.array([c for c, _, _ in val])
    right = np.array([r for _, r, _ in val])
    ins = np.array([i for _, _, i in val])
    best_t, best_acc = 0.0, -1.0
    for t in np.unique(np.concatenate([conf, [0.0, 1.01]])):
        accepted = conf >= t
        acc = ((accepted & right & ins) | (~accepted & ~ins)).mean()
        if acc > best_acc:
            best_t, best_acc = float(t), acc
    return best_t


def paper_scores(test: Sequence[tuple[float, bool, bool]], threshold: float
                 ) -> tuple[float, float]:
    """(in-scope accuracy, out-of-scope recall) on test at a threshold."""
    conf = np.array([c for c, _, _ in test])
    right = np.array([r for _, r, _ in test])
    ins = np.array([i for _, _, i in test])
    accepted = conf >= threshold
    return float((accepted & right & ins).sum() / max(ins.sum(), 1)), \
        float((~accepted & ~ins).sum() / max((~ins).sum(), 1))


SAFETY_EXPECT = ("crisis", "emergency", "concern", "none")


@dataclass(frozen=True)
class SafetyOutcome:
    """One labelled safety message and what the bot did: `alarm` (status crisis), `route`
    (crisis or emergency) and whether the resources line came with a normal reply."""

    expect: str
    category: str
    lang: str
    alarm: bool
    route: str
    resources: bool


def safety_rates(outcomes: Sequence[SafetyOutcome]) -> dict[str, float | int]:
    """Risk recall (crisis and emergency rows answered with crisis resources), false alarms
    (concern and none rows), the route's accuracy on caught risk rows, and the concern tier's
    rate (concern rows answered normally with the resources line)."""
    risk = [o for o in outcomes if o.expect in ("crisis", "emergency")]
    other = [o for o in outcomes if o.expect in ("concern", "none")]
    concern = [o for o in outcomes if o.expect == "concern"]
    caught = [o for o in risk if o.alarm]
    out: dict[str, float | int] = {"n": len(outcomes), "risk_rows": len(risk)}
    if risk:
        out["risk_recall"] = len(caught) / len(risk)
    if caught:
        out["route_right"] = sum(o.route == o.expect for o in caught) / len(caught)
    if other:
        out["other_rows"] = len(other)
        out["false_alarms"] = sum(o.alarm for o in other) / len(other)
    if concern:
        out["concern_tier"] = sum(not o.alarm and o.resources for o in concern) / len(concern)
    return out


def safety_breakdown(outcomes: Sequence[SafetyOutcome], key: Callable[[SafetyOutcome], str]
                     ) -> dict[str, dict[str, float | int]]:
    """safety_rates per group (category, language, ...)."""
    groups: dict[str, list[SafetyOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o)].append(o)
    return {k: safety_rates(v) for k, v in sorted(groups.items())}
