"""From scored candidates to a decision: answer, clarify ("did you mean") or unknown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.engine.model import Thresholds
from bot.knowledge.model import Entry

Status = Literal["answer", "clarify", "unknown", "invalid"]
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Scored:
    """One candidate entry with its confidence and why it matched."""

    entry: Entry
    confidence: float
    phrasing: str  # the stored phrasing closest to the query
    terms: tuple[str, ...] = ()  # query terms the entry shares, rarest first


@dataclass(frozen=True)
class Match:
    """The engine's decision for one query. `candidates` are best first.

    answer: candidates[0] is the answer. clarify: candidates are the options to offer.
    unknown: candidates are plausible suggestions (possibly none).
    """

    status: Status
    candidates: tuple[Scored, ...] = ()
    confidence: float = 0.0

    @property
    def best(self) -> Scored | None:
        return self.candidates[0] if self.candidates else None


def reach(confidences: Sequence[float]) -> float:
    """How likely a "did you mean" with these leading candidates offers the right one:
    their summed confidence (capped at 1)."""
    return min(1.0, float(sum(confidences[:MAX_SUGGESTIONS])))


def decide(ranked: list[Scored], thresholds: Thresholds) -> Match:
    """Apply the thresholds to candidates sorted by confidence (best first).

    Answer when the best candidate is confident and leads the runner-up clearly; ask "did
    you mean" when the leading candidates together are likely to hold the right one (a broad
    question spreads its confidence over several entries); otherwise say so.
    """
    if not ranked:
        return Match("unknown")
    top = ranked[0].confidence
    runner_up = ranked[1].confidence if len(ranked) > 1 else 0.0
    if top >= thresholds.answer and top - runner_up >= thresholds.margin * top:
        return Match("answer", (ranked[0],), top)
    if reach([s.confidence for s in ranked]) >= thresholds.clarify:
        # Offer the leaders that are close to the best, so the options are real alternatives.
        options = tuple(s for s in ranked[:MAX_SUGGESTIONS] if s.confidence >= top / 5)
        return Match("clarify", options, top)
    plausible = tuple(s for s in ranked[:MAX_SUGGESTIONS] if s.confidence >= thresholds.suggest)
    return Match("unknown", plausible, top)
