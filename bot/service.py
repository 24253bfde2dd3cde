"""The async front door shared by the Discord bot and the load benchmark: one message in, one
`Reply` out, logged for the maintainer, with hot reload of the knowledge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

from bot.conversation import Conversation, Reply, language
from bot.engine.engine import Engine
from bot.querylog import QueryLog

log = logging.getLogger(__name__)
EngineLoader = Callable[[], Engine]


class ChatService:
    """Wraps a Conversation for async callers.

    Matching one query takes about a millisecond, so it runs inline; building a new engine
    takes up to seconds, so reloads run in a worker thread and swap in atomically.
    """

    def __init__(self, conversation: Conversation, *, query_log: QueryLog | None = None):
        self.conversation = conversation
        self.query_log = query_log
        self._reload_lock = asyncio.Lock()

    async def warm_up(self) -> None:
        """Load what the first message of a kind would otherwise load inline (the language
        model, about half a second) in a worker thread, so it never stalls the loop."""
        await asyncio.to_thread(language.warm_up)

    async def handle(self, key: Hashable, text: str) -> Reply:
        """Reply to one message from session `key` (never raises for bad input)."""
        reply = self.conversation.reply(key, text)
        if self.query_log is not None:
            try:
                self.query_log.record_reply(text, reply)
            except Exception:
                log.exception("query log failed")
        return reply

    def feedback(self, entry: str | None, helpful: bool, query: str | None = None) -> None:
        if self.query_log is not None:
            self.query_log.record_feedback(entry, helpful, query)

    async def reload(self, load: EngineLoader) -> tuple[bool, str]:
        """Build a new engine off the event loop; swap it in only if it loads.

        `load` raises (e.g. KnowledgeError) for a bad file: the old engine keeps serving.
        """
        async with self._reload_lock:
            try:
                engine = await asyncio.to_thread(load)
            except Exception as exc:
                log.warning("reload failed, keeping the current knowledge: %s", exc)
                return False, str(exc)
            self.conversation.swap_engine(engine)
            return True, f"reloaded: {len(engine.knowledge)} entries"
