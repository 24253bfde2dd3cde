"""A per-user cooldown shared by slash commands, buttons and conversation.

One bucket per user (not per command) so switching between /ask and mentions does not
double the allowance. In-memory, per process: with several shard processes a user could
get one allowance per process, which is acceptable for spam protection.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class UserCooldown:
    """At most `rate` uses per `per` seconds for each user (a fixed window per user)."""

    def __init__(self, rate: int, per: float, *, clock: Callable[[], float] = time.monotonic,
                 max_users: int = 50_000):
        self.rate = rate
        self.per = per
        self.clock = clock
        self.max_users = max_users
        self._windows: dict[int, tuple[float, int]] = {}  # user id -> (window start, uses)

    def hit(self, user_id: int) -> float | None:
        """Count one use; returns the seconds to wait if the user is over the limit."""
        if self.per <= 0:
            return None
        now = self.clock()
        start, uses = self._windows.get(user_id, (now, 0))
        if now - start >= self.per:
            start, uses = now, 0
        if uses >= self.rate:
            return self.per - (now - start)
        if len(self._windows) >= self.max_users:
            self._forget_expired(now)
        self._windows[user_id] = (start, uses + 1)
        return None

    def _forget_expired(self, now: float) -> None:
        """Bound memory: drop windows that have ended (or the oldest half if none have)."""
        expired = [u for u, (start, _) in self._windows.items() if now - start >= self.per]
        if not expired:
            expired = list(self._windows)[: len(self._windows) // 2]
        for user_id in expired:
            del self._windows[user_id]
