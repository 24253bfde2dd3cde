"""`python -m bot discord [--sync] [--guild ID]`: the only place that reads the token.

Order matters: the token check comes first (fast, no engine build); then the settings and the
knowledge (fail before touching the network); then connect. Failures Discord reports (bad
token, refused privileged intent) become one line on stderr and a distinct exit code.
The token itself is never printed or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_LOGIN, EXIT_INTENTS = 0, 1, 2, 3, 4
log = logging.getLogger(__name__)


def environment(cwd: Path | None = None) -> dict[str, str]:
    """The process environment over a `.env` file in the working directory (if any)."""
    from dotenv import dotenv_values

    dotenv = Path(cwd or Path.cwd()) / ".env"
    values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} \
        if dotenv.is_file() else {}
    return {**values, **os.environ}


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(*, sync: bool = False, guild: int | None = None, knowledge: Path | None = None,
         environ: Mapping[str, str] | None = None) -> int:
    """Run the bot until SIGTERM/SIGINT (or, with `sync`, publish the commands and exit)."""
    environ = environment() if environ is None else environ
    token = (environ.get("DISCORD_TOKEN") or "").strip()
    if not token:
        return fail("DISCORD_TOKEN is not set: export it or put it in a .env file "
                    "(see .env.example)", EXIT_CONFIG)

    import discord

    from bot.discord_app.bot import create_bot
    from bot.discord_app.settings import Settings, SettingsError
    from bot.knowledge import KnowledgeError

    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        return fail(str(exc), EXIT_CONFIG)
    discord.utils.setup_logging()
    discord.VoiceClient.warn_nacl = False  # a text-only bot: no voice warning at start-up
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    try:
        bot = create_bot(knowledge_path=knowledge, settings=settings)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return fail(f"{knowledge or settings.knowledge_path}: invalid knowledge file", EXIT_ERROR)
    except OSError as exc:
        return fail(f"cannot read the knowledge file: {exc.strerror or exc}", EXIT_ERROR)
    try:
        return asyncio.run(serve(bot, token, sync=sync, guild=guild))
    except discord.LoginFailure:
        return fail("Discord rejected DISCORD_TOKEN: copy a fresh token from the Developer "
                    "Portal (Bot > Reset Token)", EXIT_LOGIN)
    except discord.PrivilegedIntentsRequired:
        return fail("Discord refused the Message Content intent needed for "
                    "FAQBOT_ANSWER_CHANNELS: enable it in the Developer Portal (Bot > "
                    "Privileged Gateway Intents) or unset FAQBOT_ANSWER_CHANNELS", EXIT_INTENTS)
    except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
        return fail(f"cannot talk to Discord: {type(exc).__name__}: {exc}", EXIT_ERROR)
    except KeyboardInterrupt:
        return 130


async def serve(bot, token: str, *, sync: bool, guild: int | None) -> int:
    """Log in, then either sync the command tree or run until a signal closes the bot."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Not available on Windows; Ctrl-C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, lambda s=signum: _close(bot, s))
    async with bot:
        if sync:
            await bot.login(token)
            synced = await bot.sync_commands(guild)
            where = f"guild {guild}" if guild else "all servers (global, may take up to an hour)"
            print(f"synced {len(synced)} commands to {where}", file=sys.stderr)
            return EXIT_OK
        await bot.start(token)
    return EXIT_OK


def _close(bot, signum: int) -> None:
    log.info("received %s: closing", signal.Signals(signum).name)
    asyncio.get_running_loop().create_task(bot.close())
