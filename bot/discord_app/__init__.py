"""The Discord interface: `create_bot()` builds the bot; `runner` is the entry point.

Pure presenters (`presenters`) are kept apart from the Discord glue (`cog`, `views`, `bot`).
The names below are imported on first use: `python -m bot discord` imports `runner` through
this package, and its argument and token checks must answer before discord.py and the engine
(about two seconds of imports) are loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.discord_app.bot import FaqBot, create_bot
    from bot.discord_app.settings import Settings

__all__ = ["FaqBot", "Settings", "create_bot"]
_HOME = {"FaqBot": "bot.discord_app.bot", "create_bot": "bot.discord_app.bot",
         "Settings": "bot.discord_app.settings"}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
