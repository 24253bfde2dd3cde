"""The Discord interface: `create_bot()` builds the bot; `runner` is the entry point.

Pure presenters (`presenters`) are kept apart from the Discord glue (`cog`, `views`, `bot`).
"""

from bot.discord_app.bot import FaqBot, create_bot
from bot.discord_app.settings import Settings

__all__ = ["FaqBot", "Settings", "create_bot"]
