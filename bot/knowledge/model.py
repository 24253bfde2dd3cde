"""The knowledge base as immutable values: what the rest of the bot reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One question/answer pair with every phrasing that should reach it."""

    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""
    line: int | None = None  # 1-based line of the entry in its file, for messages

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question first, then the alternates."""
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Knowledge:
    """A validated knowledge file."""

    title: str
    disclaimer: str
    entries: tuple[Entry, ...]
    description: str = ""
    source: str = ""
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    crisis_message: str = ""
    path: str = "<memory>"
    # (entry id, warning code) pairs that the file justifies with `# check: allow` comments
    justified_warnings: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})
        object.__setattr__(self, "_tags", tuple(sorted({t for e in self.entries
                                                         for t in e.tags})))

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag the entries use, sorted."""
        return self._tags  # type: ignore[attr-defined]

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, or None."""
        return self._by_id.get(entry_id)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.entries)
