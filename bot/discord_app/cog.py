"""The FAQ cog: slash commands, autocomplete and the mention/DM conversation.

Thin glue: every conversational path goes through `ChatService.handle` with the session key
(user id, channel id), and every send goes through the pure presenters.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands
from rapidfuzz import fuzz, process, utils

from bot.conversation import Reply
from bot.discord_app.cooldown import UserCooldown
from bot.discord_app.presenters import (
    HELD_REACTION,
    Presented,
    browse_pages,
    clip,
    cooldown_text,
    no_mentions,
    present,
    present_about,
    present_unknown_tag,
)
from bot.discord_app.views import BrowseView, ReplyView, acknowledge_quietly, send_private

if TYPE_CHECKING:
    from bot.discord_app.bot import FaqBot

log = logging.getLogger(__name__)
CHOICE_MAX, CHOICES = 100, 25
PASSIVE_STATUSES = ("answer", "crisis")  # what the bot says unprompted in answer channels


class Cooldown(app_commands.CheckFailure):
    """The user asked too often; `retry_after` seconds remain. `notify` is False when the
    user was already told in this window (the tree then answers without a message)."""

    def __init__(self, retry_after: float, *, notify: bool = True):
        super().__init__(f"on cooldown for {retry_after:.0f}s")
        self.retry_after = retry_after
        self.notify = notify


async def tell_held(interaction: discord.Interaction, retry_after: float, *, notify: bool
                    ) -> None:
    """The one ephemeral notice of a window, or a silent acknowledgement after it."""
    if notify:
        await send_private(interaction, cooldown_text(retry_after))
    else:
        await acknowledge_quietly(interaction)


class FaqCog(commands.Cog):
    """/ask, /faq, /about, /reload, and answers to mentions and DMs."""

    def __init__(self, bot: FaqBot):
        self.bot = bot
        self.service = bot.service
        self.settings = bot.settings
        self.cooldown = UserCooldown(self.settings.cooldown_rate, self.settings.cooldown_seconds)
        self._choices_for: object = None
        self._names: list[str] = []
        self._questions: list[str] = []

    # ------------------------------------------------------------ shared helpers
    @property
    def knowledge(self):
        return self.service.conversation.knowledge

    def check_cooldown(self, user_id: int, text: str = "") -> float | None:
        """Seconds to wait, or None. A message that sounds like a crisis is never held back."""
        if text and self.service.conversation.safety.assess(text).alarm:
            return None
        return self.cooldown.hit(user_id)

    def view_for(self, presented: Presented, *, asker_id: int | None, query: str | None
                 ) -> ReplyView | None:
        if not presented.buttons:
            return None
        return ReplyView(presented.buttons, self, timeout=self.settings.view_timeout,
                         asker_id=asker_id, query=query)

    def presented(self, reply: Reply) -> Presented:
        related = self.service.conversation.related(reply.entry) if reply.status == "answer" \
            and reply.entry else ()
        return present(reply, related)

    async def respond(self, interaction: discord.Interaction, reply: Reply,
                      query: str | None = None) -> None:
        """Answer an interaction with `reply` (and its buttons)."""
        presented = self.presented(reply)
        view = self.view_for(presented, asker_id=interaction.user.id, query=query)
        kwargs = presented.kwargs()
        if view is not None:
            kwargs["view"] = view
        if interaction.response.is_done():
            message = await interaction.followup.send(**kwargs, wait=True)
        else:
            callback = await interaction.response.send_message(**kwargs)
            message = callback.resource if isinstance(callback.resource, discord.Message) \
                else None
        if view is not None:
            view.message = message

    # ------------------------------------------------------------ views' handler
    async def answer_entry(self, interaction: discord.Interaction, entry_id: str) -> None:
        """A suggestion/related/browse button: the stored entry's answer, no guessing."""
        wait = self.check_cooldown(interaction.user.id)
        if wait is not None:
            await tell_held(interaction, wait,
                            notify=self.cooldown.claim_notice(interaction.user.id))
            return
        reply = self.service.conversation.answer_entry(entry_id, route="followup")
        await self.respond(interaction, reply)

    def feedback(self, entry: str | None, helpful: bool, query: str | None) -> None:
        self.service.feedback(entry, helpful, query)

    # ------------------------------------------------------------ app commands
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Per-user cooldown on every command of this cog (raised to the tree's on_error)."""
        if interaction.command is not None and interaction.command.name == "reload":
            return True
        question = interaction.namespace.question if interaction.command and \
            interaction.command.name == "ask" else ""
        wait = self.check_cooldown(interaction.user.id, question or "")
        if wait is not None:
            raise Cooldown(wait, notify=self.cooldown.claim_notice(interaction.user.id))
        return True

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question (pick a suggestion or type your own)")
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[
            str, 1, 500]) -> None:
        """Ask a question about the FAQ's topic."""
        key = (interaction.user.id, interaction.channel_id)
        reply = await self.service.handle(key, question)
        await self.respond(interaction, reply, query=question)

    @ask.autocomplete("question")
    async def ask_autocomplete(self, interaction: discord.Interaction, current: str
                               ) -> list[app_commands.Choice[str]]:
        """Stored questions and alternates close to what is typed (runs on each keystroke)."""
        return [app_commands.Choice(name=name, value=name) for name in self.suggest(current)]

    def suggest(self, current: str) -> list[str]:
        """Up to 25 stored phrasings (each <= 100 characters) fuzzily close to `current`."""
        knowledge = self.knowledge
        if knowledge is not self._choices_for:  # rebuilt once per (re)loaded knowledge
            phrasings = [p for e in knowledge.entries for p in e.phrasings]
            self._names = list(dict.fromkeys(clip(p, CHOICE_MAX) for p in phrasings))
            self._questions = [clip(e.question, CHOICE_MAX) for e in knowledge.entries]
            self._choices_for = knowledge
        if not utils.default_process(current):
            return self._questions[:CHOICES]
        found = process.extract(current[:CHOICE_MAX], self._names, scorer=fuzz.WRatio,
                                processor=utils.default_process, limit=CHOICES)
        return [name for name, _score, _index in found]

    @app_commands.command(name="faq")
    @app_commands.describe(tag="Only questions on this topic")
    async def faq(self, interaction: discord.Interaction, tag: str | None = None) -> None:
        """Browse the stored questions, optionally by topic."""
        knowledge = self.knowledge
        tags = knowledge.tags
        if tag:
            tag = {t.casefold(): t for t in tags}.get(tag.strip().casefold())
            if tag is None:
                await interaction.response.send_message(**present_unknown_tag(tags).kwargs())
                return
        entries = [e for e in knowledge.entries if not tag or tag in e.tags]
        view = BrowseView(browse_pages(entries), self, title=knowledge.title, tag=tag,
                          owner_id=interaction.user.id, timeout=self.settings.view_timeout)
        callback = await interaction.response.send_message(**view.current().kwargs(),
                                                           view=view)
        if isinstance(callback.resource, discord.Message):
            view.message = callback.resource

    @faq.autocomplete("tag")
    async def faq_autocomplete(self, interaction: discord.Interaction, current: str
                               ) -> list[app_commands.Choice[str]]:
        tags = self.knowledge.tags
        wanted = current.casefold().strip()
        return [app_commands.Choice(name=t, value=t) for t in tags if wanted in t][:CHOICES]

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction) -> None:
        """What this bot is, where its answers come from, and where to get help."""
        await interaction.response.send_message(**present_about(self.knowledge).kwargs())

    @app_commands.command(name="reload")
    @app_commands.default_permissions(manage_guild=True)
    async def reload(self, interaction: discord.Interaction) -> None:
        """Reload the knowledge file now (server managers and the bot owner only)."""
        if not await self.may_reload(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        await interaction.response.defer(ephemeral=True, thinking=True)
        ok, message = await self.bot.reload_knowledge()
        text = f"Reloaded: {message}" if ok else f"Reload failed, still serving the old " \
            f"answers: {message}"
        await interaction.followup.send(clip(text, 2000), ephemeral=True,
                                        allowed_mentions=no_mentions())

    async def may_reload(self, interaction: discord.Interaction) -> bool:
        permissions = interaction.permissions
        if interaction.guild is not None and permissions.manage_guild:
            return True
        return interaction.user.id in self.settings.owner_ids or \
            await self.bot.is_owner(interaction.user)

    # ------------------------------------------------------------ conversation
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer DMs, mentions and (opt-in) configured channels through the conversation."""
        me = self.bot.user
        if message.author.bot or me is None:
            return
        direct = message.guild is None or me in message.mentions
        if not direct and message.channel.id not in self.settings.answer_channels:
            return
        text = strip_mention(message.content, me.id)
        if self.check_cooldown(message.author.id, text) is not None:
            # A message can't be ephemeral, so a held mention or DM gets no reply: at most one
            # reaction per window, which only adds to the user's own message. In answer
            # channels the bot was not addressed, so it stays quiet.
            if direct and self.cooldown.claim_notice(message.author.id):
                await react(message, HELD_REACTION)
            return
        reply = await self.service.handle((message.author.id, message.channel.id), text)
        if not direct and reply.status not in PASSIVE_STATUSES:
            return  # unprompted, only speak when there is a real answer (or a crisis)
        presented = self.presented(reply)
        view = self.view_for(presented, asker_id=message.author.id, query=text)
        await self.send_reply(message, presented, view)

    async def send_reply(self, message: discord.Message, presented: Presented,
                         view: ReplyView | None) -> None:
        kwargs = presented.kwargs(interaction=False)
        if view is not None:
            kwargs["view"] = view
        try:
            sent = await message.reply(**kwargs, mention_author=False)
        except discord.HTTPException as exc:
            log.warning("could not reply in channel %s: %s", message.channel.id, exc)
            if view is not None:
                view.stop()
            return
        if view is not None:
            view.message = sent


async def react(message: discord.Message, emoji: str) -> None:
    """Add a reaction, if the bot may (it needs Add Reactions; a refusal is not worth a log
    line above debug, and the bot must not fall back to a message)."""
    try:
        await message.add_reaction(emoji)
    except discord.HTTPException as exc:
        log.debug("could not react in channel %s: %s", message.channel.id, exc)


_MENTION = re.compile(r"<@!?(\d+)>")


def strip_mention(content: str, bot_id: int) -> str:
    """The message without mentions of the bot (other mentions stay, and never ping)."""
    return _MENTION.sub(lambda m: "" if int(m.group(1)) == bot_id else m.group(0),
                        content).strip()
