"""Buttons: answer a suggested question, vote "helpful?", page through /faq.

Views are in memory and time out: on timeout every button is disabled and the message edited,
so nobody clicks a dead button. After a restart old buttons simply stop responding.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import discord

from bot.discord_app.presenters import Button, Presented, no_mentions, present_page

log = logging.getLogger(__name__)


class Handler(Protocol):
    """What a button needs from the cog (kept narrow so views are testable alone)."""

    async def answer_entry(self, interaction: discord.Interaction, entry_id: str) -> None: ...

    def feedback(self, entry: str | None, helpful: bool, query: str | None) -> None: ...


class FaqView(discord.ui.View):
    """Base view: remembers its message and disables everything when it times out."""

    def __init__(self, *, timeout: float):
        super().__init__(timeout=timeout)
        self.message: discord.Message | discord.InteractionMessage | None = None

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.message is None:
            return
        try:
            await self.message.edit(view=self, allowed_mentions=no_mentions())
        except discord.HTTPException as exc:  # deleted message or expired interaction token
            log.debug("could not disable buttons on timeout: %s", exc)

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item) -> None:
        log.exception("button %r failed", item, exc_info=error)
        await send_private(interaction, "Sorry, that button failed. Please try again.")


class EntryButton(discord.ui.Button[FaqView]):
    """Shows the answer of one stored entry (a clarify option, related or browsed question)."""

    def __init__(self, spec: Button, handler: Handler):
        super().__init__(label=spec.label, style=discord.ButtonStyle.secondary)
        self.entry = spec.entry
        self.handler = handler

    async def callback(self, interaction: discord.Interaction) -> None:
        await self.handler.answer_entry(interaction, self.entry or "")


class FeedbackButton(discord.ui.Button["ReplyView"]):
    """"Helpful" / "Not helpful": recorded locally without any user id, once per answer."""

    def __init__(self, spec: Button, handler: Handler):
        helpful = spec.action == "helpful"
        super().__init__(label=spec.label, emoji="👍" if helpful else "👎",
                         style=discord.ButtonStyle.success if helpful
                         else discord.ButtonStyle.danger)
        self.helpful = helpful
        self.entry = spec.entry
        self.handler = handler

    async def callback(self, interaction: discord.Interaction) -> None:
        view = self.view
        if view is None:
            return
        if view.asker_id is not None and interaction.user.id != view.asker_id:
            await send_private(interaction, "Only the person who asked can rate this answer.")
            return
        self.handler.feedback(self.entry, self.helpful, view.query)
        for item in view.children:
            if isinstance(item, FeedbackButton):
                item.disabled = True
        await interaction.response.edit_message(view=view, allowed_mentions=no_mentions())
        await interaction.followup.send("Thanks for the feedback!", ephemeral=True,
                                        allowed_mentions=no_mentions())


class ReplyView(FaqView):
    """The buttons under one reply, built from the presenter's plain button list."""

    def __init__(self, buttons: Sequence[Button], handler: Handler, *, timeout: float,
                 asker_id: int | None = None, query: str | None = None):
        super().__init__(timeout=timeout)
        self.asker_id = asker_id
        self.query = query
        for spec in buttons:
            if spec.action == "entry":
                self.add_item(EntryButton(spec, handler))
            else:
                self.add_item(FeedbackButton(spec, handler))


class PageButton(discord.ui.Button["BrowseView"]):
    def __init__(self, label: str, step: int, *, disabled: bool):
        super().__init__(label=label, style=discord.ButtonStyle.primary, disabled=disabled,
                         row=4)
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        view = self.view
        if view is None:
            return
        if interaction.user.id != view.owner_id:
            await send_private(interaction, "Run /faq yourself to browse the questions.")
            return
        view.page += self.step
        view.render()
        await interaction.response.edit_message(**view.current().kwargs(interaction=False),
                                                view=view)


class BrowseView(FaqView):
    """/faq: one page of questions with a button each, and Previous/Next for its invoker."""

    def __init__(self, pages: Sequence[tuple], handler: Handler, *, title: str,
                 tag: str | None, owner_id: int, timeout: float):
        super().__init__(timeout=timeout)
        self.pages = pages
        self.handler = handler
        self.title = title
        self.tag = tag
        self.owner_id = owner_id
        self.page = 0
        self.render()

    def current(self) -> Presented:
        return present_page(self.pages[self.page], page=self.page, pages=len(self.pages),
                            tag=self.tag, title=self.title)

    def render(self) -> None:
        """Rebuild the buttons for the current page."""
        self.clear_items()
        for spec in self.current().buttons:
            self.add_item(EntryButton(spec, self.handler))
        if len(self.pages) > 1:
            self.add_item(PageButton("◀ Previous", -1, disabled=self.page == 0))
            self.add_item(PageButton("Next ▶", 1, disabled=self.page >= len(self.pages) - 1))


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral notice, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=no_mentions())
        else:
            await interaction.response.send_message(text, ephemeral=True,
                                                    allowed_mentions=no_mentions())
    except discord.HTTPException as exc:  # e.g. the interaction expired
        log.warning("could not send a notice: %s", exc)


async def acknowledge_quietly(interaction: discord.Interaction) -> None:
    """Answer an interaction without showing anything (a held request whose user was already
    told to wait). Discord needs an answer within 3 s or shows "did not respond". A button
    press is acknowledged without a message; a slash command has no silent answer, so its
    "thinking…" placeholder (seen only by the user) is deleted at once."""
    try:
        if interaction.response.is_done():
            return
        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.delete_original_response()
    except discord.HTTPException as exc:  # e.g. the interaction expired
        log.debug("could not acknowledge a held interaction: %s", exc)
