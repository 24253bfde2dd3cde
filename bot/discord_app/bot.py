"""The bot: an `AutoShardedBot` with safe defaults, the FAQ cog, and a knowledge watcher.

The engine is built before anything connects (in `create_bot`), so the event loop never
blocks on indexing; reloads build the new engine in a worker thread and swap it atomically.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.conversation import Conversation
from bot.discord_app.cog import Cooldown, FaqCog, tell_held
from bot.discord_app.settings import Settings
from bot.discord_app.views import send_private
from bot.engine.engine import Engine
from bot.knowledge import KnowledgeError
from bot.querylog import QueryLog
from bot.runtime import load_engine, load_safety_net
from bot.service import ChatService

log = logging.getLogger(__name__)


class FaqTree(app_commands.CommandTree):
    """Turns command errors into short ephemeral notices (a cooldown's only once per window);
    logs the unexpected ones."""

    async def on_error(self, interaction: discord.Interaction,
                       error: app_commands.AppCommandError) -> None:
        if isinstance(error, Cooldown):
            await tell_held(interaction, error.retry_after, notify=error.notify)
            return
        if isinstance(error, app_commands.CheckFailure):  # incl. MissingPermissions
            text = "Only server managers (Manage Server) or the bot owner can do that."
        else:
            command = interaction.command.name if interaction.command else "?"
            log.error("/%s failed", command, exc_info=error)
            text = "Sorry, something went wrong. Please try again in a moment."
        await send_private(interaction, text)


class FaqBot(commands.AutoShardedBot):
    """Answers from one knowledge file; never pings anyone; syncs commands only on request."""

    def __init__(self, service: ChatService, settings: Settings):
        quiet_voice_warnings()
        intents = discord.Intents.default()
        intents.message_content = settings.message_content
        super().__init__(
            command_prefix=commands.when_mentioned, help_command=None, intents=intents,
            allowed_mentions=discord.AllowedMentions.none(), tree_cls=FaqTree,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids else None,
            owner_ids=set(settings.owner_ids) or None)
        self.service = service
        self.settings = settings
        self.faq_cog = FaqCog(self)
        _add_cog_now(self, self.faq_cog)
        self.watcher = tasks.loop(seconds=settings.watch_seconds or 1.0)(self._watch_step)
        self._mtime = _mtime(settings.knowledge_path)

    async def setup_hook(self) -> None:
        """Runs once at login, before the gateway connects: no command sync here."""
        await self.service.warm_up()
        if self.settings.watch_seconds > 0 and not self.watcher.is_running():
            self.watcher.start()

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the cog's listener handles conversation."""

    async def close(self) -> None:
        self.watcher.cancel()
        await super().close()

    # ------------------------------------------------------------ knowledge reload
    def load(self) -> Engine:
        """Build an engine from the knowledge file (in a worker thread), logging problems."""
        path = self.settings.knowledge_path
        try:
            loaded = load_engine(path)
        except KnowledgeError as exc:
            for problem in exc.problems:
                log.warning("%s", problem)
            raise
        for notice in loaded.notices:
            log.info("%s", notice)
        return loaded.engine

    async def reload_knowledge(self) -> tuple[bool, str]:
        """Swap in a fresh engine if the file is valid; otherwise keep serving the old one."""
        self._mtime = _mtime(self.settings.knowledge_path)
        ok, message = await self.service.reload(self.load)
        (log.info if ok else log.warning)("knowledge reload: %s", message)
        return ok, message

    async def poll_knowledge(self) -> bool:
        """One watcher step: reload if the file's modification time changed."""
        if _mtime(self.settings.knowledge_path) == self._mtime:
            return False
        await self.reload_knowledge()
        return True

    async def _watch_step(self) -> None:
        try:
            await self.poll_knowledge()
        except Exception:  # the watcher must survive anything
            log.exception("knowledge watcher step failed")

    async def sync_commands(self, guild_id: int | None = None) -> list[app_commands.AppCommand]:
        """Publish the command tree (to one guild instantly, or globally)."""
        if guild_id is None:
            return await self.tree.sync()
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        return await self.tree.sync(guild=guild)


def quiet_voice_warnings() -> None:
    """Drop discord.py's start-up warnings about missing voice libraries (PyNaCl, davey):
    this bot has no voice features, so they only alarm whoever reads the log. They are
    one-time flags on VoiceClient (`warn_nacl`, `warn_dave`, ...), all switched off here."""
    for name in [n for n in vars(discord.VoiceClient) if n.startswith("warn_")]:
        setattr(discord.VoiceClient, name, False)


def _add_cog_now(bot: commands.Bot, cog: commands.Cog) -> None:
    """Add `cog` outside an event loop, so `create_bot()` returns a bot whose tree and
    listeners are complete. `add_cog` awaits only the cog's `cog_load`, which FaqCog does not
    define, so the coroutine finishes in its first step; anything else is a bug, not a hang."""
    step = bot.add_cog(cog)
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("add_cog suspended: attach the cog in setup_hook instead")


def _mtime(path: Path) -> int | None:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return None


def create_bot(*, knowledge_path: str | Path | None = None, settings: Settings | None = None,
               engine: Engine | None = None) -> FaqBot:
    """The fully configured bot, without a token or network.

    `engine` lets tests and embedders share an already built index; otherwise it is built
    here from `knowledge_path` (or the settings' file), raising KnowledgeError if invalid.
    """
    settings = settings or Settings()
    if knowledge_path is not None:
        settings = replace(settings, knowledge_path=Path(knowledge_path))
    if engine is None:
        loaded = load_engine(settings.knowledge_path)
        for notice in loaded.notices:
            log.info("%s", notice)
        engine = loaded.engine
    safety_net, notices = load_safety_net()
    for notice in notices:
        log.warning("%s", notice)
    query_log = QueryLog(settings.query_log) if settings.query_log else None
    service = ChatService(Conversation(engine, safety_net=safety_net), query_log=query_log)
    return FaqBot(service, settings)
