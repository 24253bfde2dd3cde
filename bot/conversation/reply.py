"""`Reply`: everything an interface needs to show one bot turn. Interfaces only render it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["answer", "clarify", "unknown", "crisis", "chitchat", "invalid"]
# Which handler produced the reply (more detail than status, for logs, tests and "why").
Route = Literal["retrieval", "crisis", "emergency", "personal", "smalltalk", "followup",
                "related", "why", "invalid", "language"]
MAX_REPLY_CHARS = 4000  # under Discord's 4,096-character embed description


@dataclass(frozen=True)
class Suggestion:
    """A stored entry offered to the reader (a clarify option or a related question)."""

    entry: str
    question: str
    answer: str

    def to_dict(self) -> dict:
        return {"entry": self.entry, "question": self.question, "answer": self.answer}


@dataclass(frozen=True)
class Reply:
    """One bot turn. `text` is the whole reply as a person reads it (disclaimer included)."""

    status: Status
    text: str
    route: Route = "retrieval"
    answer: str | None = None
    entry: str | None = None
    question: str | None = None  # the stored question this reply answers
    confidence: float = 0.0
    suggestions: tuple[Suggestion, ...] = ()
    disclaimer: str | None = None
    notice: str | None = None  # e.g. "your message was shortened", or the resources line
    matched_phrasing: str | None = None
    terms: tuple[str, ...] = ()
    lead: str = ""  # the reply's first line(s) without the answer, e.g. "Answering: ..."

    def to_dict(self) -> dict:
        """The JSON contract of `ask --json`."""
        return {
            "status": self.status, "text": self.text, "answer": self.answer,
            "entry": self.entry, "question": self.question,
            "confidence": round(self.confidence, 4),
            "suggestions": [s.to_dict() for s in self.suggestions],
            "route": self.route, "disclaimer": self.disclaimer, "notice": self.notice,
            "matched_phrasing": self.matched_phrasing, "terms": list(self.terms),
        }


def bounded(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    """Cut text to `limit` characters at a word boundary, marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
