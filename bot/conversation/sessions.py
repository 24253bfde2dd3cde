"""Per-user (or per-channel) conversation state, bounded in count and in idle time."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from bot.conversation.reply import Reply


@dataclass
class Session:
    """What follow-ups need: the last reply and the options it offered."""

    last: Reply | None = None
    options: tuple = ()  # Suggestions the user can pick by number or text
    seen: float = field(default=0.0)


class SessionStore:
    """An LRU of sessions: at most `max_sessions`, each forgotten after `idle_seconds`."""

    def __init__(self, *, max_sessions: int = 10_000, idle_seconds: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic):
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: OrderedDict[Hashable, Session] = OrderedDict()

    def get(self, key: Hashable) -> Session:
        """The live session for `key` (a fresh one if it expired or never existed)."""
        now = self.clock()
        self._expire(now)
        session = self._sessions.pop(key, None) or Session()
        session.seen = now
        self._sessions[key] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def _expire(self, now: float) -> None:
        # Oldest first, so stop at the first session that is still fresh.
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if now - oldest.seen <= self.idle_seconds:
                break
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)

    def clear(self) -> None:
        self._sessions.clear()
