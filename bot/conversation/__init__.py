"""The conversation layer: sessions, safety routing, small talk, follow-ups, and `Reply`."""

from bot.conversation.conversation import Conversation
from bot.conversation.reply import Reply, Suggestion

__all__ = ["Conversation", "Reply", "Suggestion"]
