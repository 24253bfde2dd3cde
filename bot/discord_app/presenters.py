"""Pure presenters: a `Reply` (or the knowledge) in, the arguments of a Discord send out.

No network and no client: everything here is testable with plain asserts on `to_dict()`.
Answer text goes in embeds (embeds never ping), and every send carries
`AllowedMentions.none()` as well, so nothing a user typed can ever notify anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import discord

from bot.conversation.reply import Reply, Suggestion
from bot.conversation.safety import US_RESOURCES

# Discord's limits (developers/resources/message.mdx, components).
TITLE_MAX, DESCRIPTION_MAX, FOOTER_MAX = 256, 4096, 2048
FIELD_NAME_MAX, FIELD_VALUE_MAX, CONTENT_MAX, EMBED_MAX = 256, 1024, 2000, 6000
BUTTON_LABEL_MAX = 80
PAGE_SIZE = 5

# The one sign a held mention or DM gets: its author sees it, and the channel gets no message.
HELD_REACTION = "\N{HOURGLASS WITH FLOWING SAND}"

ANSWER_COLOUR = discord.Colour.blurple()
CHOICE_COLOUR = discord.Colour.gold()
INFO_COLOUR = discord.Colour.light_grey()


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marking a cut with an ellipsis."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def no_mentions() -> discord.AllowedMentions:
    """The only mention policy this bot ever sends with."""
    return discord.AllowedMentions.none()


@dataclass(frozen=True)
class Button:
    """A plain description of one button; `views.py` turns it into a `discord.ui.Button`."""

    label: str
    action: Literal["entry", "helpful", "not_helpful"]
    entry: str | None = None


@dataclass(frozen=True)
class Presented:
    """What to send for one reply. `kwargs()` gives the arguments of the send call."""

    embeds: tuple[discord.Embed, ...] = ()
    content: str | None = None
    ephemeral: bool = False
    buttons: tuple[Button, ...] = field(default=())

    def kwargs(self, *, interaction: bool = True) -> dict:
        """Keyword arguments for `response.send_message` (or, with interaction=False,
        for `Messageable.send` / `Message.reply`, which have no ephemeral flag)."""
        kwargs: dict = {"embeds": list(self.embeds), "allowed_mentions": no_mentions()}
        if self.content is not None:
            kwargs["content"] = self.content
        if interaction:
            kwargs["ephemeral"] = self.ephemeral
        return kwargs


def _body(reply: Reply) -> str:
    """The reply text without its notice (a field of its own) and the disclaimer (which goes
    in the footer)."""
    text = _strip_notice(reply.text, reply.notice)
    if reply.disclaimer:
        text = text.removesuffix(reply.disclaimer)
    return text.strip()


def _embed(description: str, *, title: str | None = None, colour: discord.Colour,
           footer: str | None = None, notice: str | None = None) -> discord.Embed:
    embed = discord.Embed(title=clip(title, TITLE_MAX) if title else None,
                          description=clip(description, DESCRIPTION_MAX), colour=colour)
    if notice:
        embed.add_field(name="Note", value=clip(notice, FIELD_VALUE_MAX), inline=False)
    if footer:
        embed.set_footer(text=clip(footer, FOOTER_MAX))
    excess = len(embed) - EMBED_MAX  # all text of an embed together: at most 6,000
    if excess > 0:
        embed.description = clip(embed.description or "", len(embed.description or "") - excess)
    return embed


def _entry_buttons(options: Sequence[Suggestion]) -> tuple[Button, ...]:
    return tuple(Button(clip(f"{i}. {s.question}", BUTTON_LABEL_MAX), "entry", s.entry)
                 for i, s in enumerate(options[:20], start=1))


def _strip_notice(text: str, notice: str | None) -> str:
    """The text without the notice, which the embed shows as its own field (notices are
    added in brackets, or as a closing line like the resources line)."""
    if not notice:
        return text
    return text.replace(f"({notice})", "").removesuffix(notice).strip()


def present(reply: Reply, related: Sequence[Suggestion] = ()) -> Presented:
    """How a Discord user sees `reply`; `related` entries become buttons under an answer."""
    if reply.status == "crisis":
        # In the message itself (shown in notifications), public, never auto-deleted.
        return Presented(content=clip(reply.text, CONTENT_MAX))
    if reply.status == "answer":
        embed = _embed(reply.answer or _body(reply), title=reply.question, colour=ANSWER_COLOUR,
                       footer=reply.disclaimer, notice=reply.notice)
        buttons = (Button("Helpful", "helpful", reply.entry),
                   Button("Not helpful", "not_helpful", reply.entry),
                   *_entry_buttons(related))
        return Presented(embeds=(embed,), buttons=buttons)
    body = _body(reply)
    if reply.status in ("clarify", "unknown"):
        if reply.route == "personal":
            title = "I can't advise on that"
        elif reply.route == "related":
            title = "Related questions"
        elif reply.status == "clarify":
            title = "Did you mean…?"
        else:
            title = "No answer found"
        embed = _embed(body, title=title, colour=CHOICE_COLOUR, footer=reply.disclaimer,
                       notice=reply.notice)
        return Presented(embeds=(embed,), buttons=_entry_buttons(reply.suggestions))
    # chitchat and invalid: a short plain embed; invalid input is only shown to its author.
    embed = _embed(body, colour=INFO_COLOUR, notice=reply.notice)
    return Presented(embeds=(embed,), ephemeral=reply.status == "invalid",
                     buttons=_entry_buttons(reply.suggestions))


def present_notice(text: str) -> Presented:
    """An error, refusal or cooldown notice: plain text, only for the person concerned."""
    return Presented(content=clip(text, CONTENT_MAX), ephemeral=True)


def cooldown_text(retry_after: float) -> str:
    return (f"You're asking quickly! Please wait {max(round(retry_after), 1)} seconds before "
            "the next question.")


def present_unknown_tag(tags: Sequence[str]) -> Presented:
    """/faq with a topic that does not exist: the topics that do. What was typed is not
    repeated: the bot would only be giving the user's text a stage."""
    if not tags:
        return present_notice("This FAQ has no topics: use /faq without a tag.")
    return present_notice("There is no such topic. Topics: " + ", ".join(tags) + ".")


def present_about(knowledge) -> Presented:
    """/about: what the bot is, where its answers come from, the disclaimer, crisis lines."""
    embed = _embed(knowledge.description or f"Answers to common questions: {knowledge.title}.",
                   title=knowledge.title, colour=ANSWER_COLOUR)
    embed.add_field(name="How it works", inline=False, value=(
        f"I match your question to {len(knowledge)} stored answers and show which question I "
        "answered. Use /ask, /faq, mention me, or send me a DM."))
    if knowledge.source:
        embed.add_field(name="Source", value=clip(knowledge.source, FIELD_VALUE_MAX),
                        inline=False)
    embed.add_field(name="Disclaimer", value=clip(knowledge.disclaimer, FIELD_VALUE_MAX),
                    inline=False)
    embed.add_field(name="In a crisis", value=clip("\n".join(US_RESOURCES), FIELD_VALUE_MAX),
                    inline=False)
    return Presented(embeds=(embed,))


def browse_pages(entries: Sequence, page_size: int = PAGE_SIZE) -> list[tuple]:
    """`entries` split into pages for /faq."""
    return [tuple(entries[i:i + page_size]) for i in range(0, len(entries), page_size)] or [()]


def present_page(entries: Sequence, *, page: int, pages: int, tag: str | None,
                 title: str) -> Presented:
    """One page of /faq: numbered questions, a button each to read the answer."""
    lines = [f"{i}. {e.question}" for i, e in enumerate(entries, start=1)]
    heading = f"{title}: {tag}" if tag else title
    embed = _embed("\n".join(lines) or "No questions here.", title=heading, colour=INFO_COLOUR,
                   footer=f"Page {page + 1} of {pages} · press a number to read the answer")
    buttons = tuple(Button(clip(f"{i}. {e.question}", BUTTON_LABEL_MAX), "entry", e.id)
                    for i, e in enumerate(entries, start=1))
    return Presented(embeds=(embed,), buttons=buttons)
