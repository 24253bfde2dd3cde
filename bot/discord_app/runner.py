"""`python -m bot discord [--sync [--guild ID]]`: the only place that reads the token.

Order matters: the arguments and the token's shape are checked first (no discord.py import,
no engine build, no network, so a mistake is reported at once); then the settings and the
knowledge (fail before touching the network); then connect. Every failure is one line on
stderr and an exit code from `EXIT_CODES`: 2, 3 and 4 mean "fix the setup" (a restart
cannot help), 5 means "try again later". The token itself is never printed or logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_LOGIN, EXIT_INTENTS, EXIT_NETWORK = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
EXIT_CODES = {
    EXIT_OK: "stopped by SIGTERM, or --sync done",
    EXIT_ERROR: "invalid or unreadable knowledge file (problems listed above), or a bug "
                "(with a traceback)",
    EXIT_CONFIG: "usage or setting error: DISCORD_TOKEN unset, a bad FAQBOT_*/SHARD_* value, "
                 "--guild without --sync, or a --guild the bot cannot publish to",
    EXIT_LOGIN: "token rejected: not shaped like a bot token, or refused by Discord",
    EXIT_INTENTS: "Discord refused the Message Content intent (FAQBOT_ANSWER_CHANNELS)",
    EXIT_NETWORK: "cannot reach Discord: network, DNS, a Discord error, or no answer to the "
                  "login in time",
    EXIT_INTERRUPTED: "stopped by Ctrl-C (SIGINT), while starting or running",
}
# Time for Discord to answer the login. aiohttp would wait up to 300 s on a dropped
# connection; a resolver that hangs in its own thread can still hold the exit up longer.
LOGIN_TIMEOUT_S = 15.0
GATEWAY_AUTH_FAILED = 4004  # the gateway's close code for a bad token
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


def usage_problem(*, sync: bool, guild: int | None) -> str | None:
    """What is wrong with the command line, or None."""
    if guild is not None and not sync:
        return "--guild only chooses where --sync publishes the commands: add --sync"
    if guild is not None and guild <= 0:
        return "--guild takes a server ID (right-click the server > Copy Server ID)"
    return None


_TOKEN = re.compile(r"([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def token_problem(token: str) -> str | None:
    """Why `token` cannot be a bot token, or None. A bot token is three base64 parts joined
    by dots, the first being the bot's user ID: checking that here turns a pasted client
    secret or a cut-off token into an instant error instead of a network round trip. The
    message never repeats the token."""
    if token.lower().startswith("bot "):
        return "DISCORD_TOKEN starts with “Bot ”: set the token alone"
    shaped = _TOKEN.fullmatch(token)
    if shaped is None or not _decodes_to_id(shaped.group(1)):
        return ("DISCORD_TOKEN is not a bot token (three parts joined by dots): copy it from "
                "the Developer Portal (Bot > Reset Token), not the client secret")
    return None


def _decodes_to_id(part: str) -> bool:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).isdigit()
    except (binascii.Error, ValueError):
        return False


def setup_logging(stream: TextIO | None = None) -> None:
    """discord.py's log format, in colour only on a terminal: its own check also colours a
    pipe inside Docker, which leaves escape codes in log files and journals."""
    import discord

    handler = logging.StreamHandler(stream or sys.stderr)
    if handler.stream.isatty() and "NO_COLOR" not in os.environ:
        discord.utils.setup_logging(handler=handler)  # its colour formatter
    else:
        discord.utils.setup_logging(handler=handler, formatter=logging.Formatter(
            "[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{"))
    logging.getLogger("discord.http").setLevel(logging.WARNING)


def main(*, sync: bool = False, guild: int | None = None, knowledge: Path | None = None,
         environ: Mapping[str, str] | None = None) -> int:
    """Run the bot until SIGTERM/SIGINT (or, with `sync`, publish the commands and exit)."""
    problem = usage_problem(sync=sync, guild=guild)
    if problem:
        return fail(problem, EXIT_CONFIG)
    environ = environment() if environ is None else environ
    token = (environ.get("DISCORD_TOKEN") or "").strip()
    if not token:
        return fail("DISCORD_TOKEN is not set: export it or put it in a .env file "
                    "(see .env.example)", EXIT_CONFIG)
    problem = token_problem(token)
    if problem:
        return fail(problem, EXIT_LOGIN)
    try:
        return _start(token, sync=sync, guild=guild, knowledge=knowledge, environ=environ)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _start(token: str, *, sync: bool, guild: int | None, knowledge: Path | None,
           environ: Mapping[str, str]) -> int:
    import aiohttp
    import discord

    from bot.discord_app.bot import create_bot
    from bot.discord_app.settings import Settings, SettingsError
    from bot.knowledge import KnowledgeError

    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        return fail(str(exc), EXIT_CONFIG)
    setup_logging()
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
    except discord.ConnectionClosed as exc:
        if exc.code == GATEWAY_AUTH_FAILED:
            return fail("Discord rejected DISCORD_TOKEN at the gateway: copy a fresh token "
                        "from the Developer Portal (Bot > Reset Token)", EXIT_LOGIN)
        return fail(f"cannot reach Discord: the gateway closed with code {exc.code}",
                    EXIT_NETWORK)
    except TimeoutError:  # before OSError, its base: aiohttp's timeouts are TimeoutErrors too
        return fail("cannot reach Discord: no answer in time (the login may take "
                    f"{LOGIN_TIMEOUT_S:.0f} s)", EXIT_NETWORK)
    except (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError,
            OSError) as exc:
        return fail(f"cannot reach Discord: {type(exc).__name__}: {exc}", EXIT_NETWORK)


async def serve(bot, token: str, *, sync: bool, guild: int | None) -> int:
    """Log in, then either sync the command tree or run until a signal closes the bot."""
    import discord

    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Not available on Windows; Ctrl-C still ends asyncio.run there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, lambda s=signum: _close(bot, s, stopped_by))
    async with bot:
        await asyncio.wait_for(bot.login(token), LOGIN_TIMEOUT_S)
        if sync:
            try:
                synced = await bot.sync_commands(guild)
            except (discord.Forbidden, discord.NotFound) as exc:
                if guild is None:
                    raise
                return fail(f"Discord refused to publish the commands to guild {guild} "
                            f"({exc.status}): invite the bot there with the "
                            "applications.commands scope, or check the ID", EXIT_CONFIG)
            where = f"guild {guild}" if guild else "all servers (global, may take up to an hour)"
            print(f"synced {len(synced)} commands to {where}", file=sys.stderr)
            return EXIT_OK
        await bot.connect()
    return EXIT_INTERRUPTED if signal.SIGINT in stopped_by else EXIT_OK


def _close(bot, signum: int, stopped_by: list[int]) -> None:
    log.info("received %s: closing", signal.Signals(signum).name)
    stopped_by.append(signum)
    asyncio.get_running_loop().create_task(bot.close())
