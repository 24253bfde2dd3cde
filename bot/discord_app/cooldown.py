"""A per-user cooldown shared by slash commands, buttons and conversation.

One bucket per user (not per command) so switching between /ask and mentions does not
double the allowance. In-memory, per process: with several shard processes a user could
get one allowance per process, which is acceptable for spam protection.

A held user is told so once per window (`claim_notice`): telling them on every held message
would turn their spam into the bot's spam.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def _monotonic() -> float:
    # Looked up on each call, not bound at import, so a simulated clock (SimCord's) applies.
    return time.monotonic()


@dataclass(slots=True)
class _Window:
    start: float
    uses: int = 0
    noticed: bool = False  # the user has been told to wait in this window


class UserCooldown:
    """At most `rate` uses per `per` seconds for each user (a fixed window per user)."""

    def __init__(self, rate: int, per: float, *, clock: Callable[[], float] = _monotonic,
                 max_users: int = 50_000):
        self.rate = rate
        self.per = per
        self.clock = clock
        self.max_users = max_users
        self._windows: dict[int, _Window] = {}

    def hit(self, user_id: int) -> float | None:
        """Count one use; returns the seconds to wait if the user is over the limit."""
        if self.per <= 0:
            return None
        now = self.clock()
        window = self._current(user_id, now)
        if window.uses >= self.rate:
            return self.per - (now - window.start)
        window.uses += 1
        return None

    def claim_notice(self, user_id: int) -> bool:
        """True the first time it is asked in the user's current window, then False: call it
        only when a notice would actually be shown, so a silent hold does not use it up."""
        window = self._windows.get(user_id)
        if window is None or window.noticed:
            return False
        window.noticed = True
        return True

    def _current(self, user_id: int, now: float) -> _Window:
        window = self._windows.get(user_id)
        if window is not None and now - window.start < self.per:
            return window
        if window is None and len(self._windows) >= self.max_users:
            self._forget_expired(now)
        window = self._windows[user_id] = _Window(now)
        return window

    def _forget_expired(self, now: float) -> None:
        """Bound memory: drop windows that have ended (or the oldest half if none have)."""
        expired = [u for u, w in self._windows.items() if now - w.start >= self.per]
        if not expired:
            expired = list(self._windows)[: len(self._windows) // 2]
        for user_id in expired:
            del self._windows[user_id]
