"""Behaviour of the real bot from `create_bot()`, driven through SimCord's in-memory Discord.

No token, no network: SimCord runs discord.py's own parsers, tree, views and HTTP layer against
a simulated backend. Queries are picked at run time from candidate lists (see `pick`) because
the matching thresholds are retrained independently of these tests.
"""

from __future__ import annotations

import discord
import pytest
import simcord

from bot.conversation import Conversation
from bot.discord_app import Settings, create_bot
from bot.discord_app.cog import Cooldown
from bot.runtime import load_engine

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(shard_count=1, strict_sync=False)]

ANSWER_QUERIES = ("how much does an infusion cost", "how much does ketamine cost",
                  "cost of a ketamine infusion")
CLARIFY_QUERIES = ("ketamine", "is ketamine safe", "side effects", "ketamine therapy",
                   "treatment", "depression", "how does it work", "is it safe")


@pytest.fixture(scope="module")
def engine():
    return load_engine().engine


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def simcord_bot(engine, settings):
    return create_bot(engine=engine, settings=settings)


def pick(engine, status: str, candidates: tuple[str, ...], *, options: int = 0):
    """The first candidate the conversation answers with `status` (and >= `options`
    suggestions), with its reply."""
    for query in candidates:
        reply = Conversation(engine).reply("probe", query)
        if reply.status == status and len(reply.suggestions) >= options:
            return query, reply
    pytest.fail(f"none of {candidates} gives a {status!r} reply any more: update the list")


def world(env):
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


def button_labels(message: discord.Message) -> list[str]:
    return [child.label for row in message.components for child in row.children]


def all_disabled(message: discord.Message) -> bool:
    return all(child.disabled for row in message.components for child in row.children)


async def test_ask_answers_with_an_embed(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, expected = pick(engine, "answer", ANSWER_QUERIES)

    result = await alice.slash(channel, "ask", question=query)

    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == expected.question
    assert embed.description == expected.answer
    assert embed.footer.text == expected.disclaimer
    assert button_labels(result.response.message)[:2] == ["Helpful", "Not helpful"]


async def test_autocomplete_offers_choices_for_a_typo(simcord_env):
    _, channel, alice = world(simcord_env)

    choices = await alice.autocomplete(channel, "ask", "question", "ketamin sid efects")

    assert 0 < len(choices) <= 25
    assert all(0 < len(c["name"]) <= 100 and c["name"] == c["value"] for c in choices)
    assert any("side effect" in c["name"].lower() for c in choices[:5])


async def test_mention_clarify_then_number_follow_up(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, clarify = pick(engine, "clarify", CLARIFY_QUERIES, options=2)
    me = simcord_env.bot.user.mention

    await alice.send(channel, f"{me} {query}")
    asked = channel.last_message
    assert asked.author.bot
    assert asked.embeds[0].title == "Did you mean…?"
    assert len(button_labels(asked)) == len(clarify.suggestions)

    await alice.send(channel, f"{me} 2")

    assert channel.last_message.embeds[0].title == clarify.suggestions[1].question


async def test_dm_gets_a_conversational_reply(simcord_env, engine):
    world(simcord_env)
    bob = simcord_env.create_user("bob")
    query, expected = pick(engine, "answer", ANSWER_QUERIES)

    await bob.send_dm(query)

    reply = bob.dm_channel.last_message
    assert reply.author.bot
    assert reply.embeds[0].title == expected.question

    await bob.send_dm("why")
    assert "I answered the stored question" in bob.dm_channel.last_message.embeds[0].description


async def test_clicking_a_suggestion_answers_it(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, clarify = pick(engine, "clarify", CLARIFY_QUERIES, options=2)
    shown = await alice.slash(channel, "ask", question=query)

    first = button_labels(shown.response.message)[0]
    clicked = await alice.click(shown.response.message, label=first)

    assert clicked.response.embeds[0].title == clarify.suggestions[0].question


async def test_helpful_vote_disables_the_vote_buttons(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, _ = pick(engine, "answer", ANSWER_QUERIES)
    shown = await alice.slash(channel, "ask", question=query)

    voted = await alice.click(shown.response.message, label="Helpful")

    assert voted.followups[0].ephemeral
    message = channel.last_message
    states = {c.label: c.disabled for row in message.components for c in row.children}
    assert states["Helpful"] and states["Not helpful"]


async def test_views_time_out_and_disable_their_buttons(simcord_env, engine, settings):
    _, channel, alice = world(simcord_env)
    query, _ = pick(engine, "clarify", CLARIFY_QUERIES, options=2)
    await alice.send(channel, f"{simcord_env.bot.user.mention} {query}")
    assert not all_disabled(channel.last_message)

    await simcord_env.advance_time(settings.view_timeout + 1)

    assert button_labels(channel.last_message)
    assert all_disabled(channel.last_message)


async def test_faq_pages_with_buttons(simcord_env):
    _, channel, alice = world(simcord_env)
    shown = await alice.slash(channel, "faq")
    first_page = shown.response.embeds[0].description

    paged = await alice.click(shown.response.message, label="Next ▶")

    assert paged.acknowledged
    assert channel.last_message.embeds[0].description != first_page
    assert "Page 2 of" in channel.last_message.embeds[0].footer.text


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=2, cooldown_seconds=60)])
async def test_cooldown_on_commands_and_mentions(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, _ = pick(engine, "answer", ANSWER_QUERIES)
    for _ in range(2):
        assert not (await alice.slash(channel, "ask", question=query)).ephemeral

    held = await alice.slash(channel, "ask", question=query)
    assert held.ephemeral
    assert "Please wait" in held.response.content
    assert [type(e) for e in simcord_env.errors] == [Cooldown]

    await alice.send(channel, f"{simcord_env.bot.user.mention} {query}")
    assert "Please wait" in channel.last_message.content

    crisis = await alice.slash(channel, "ask", question="I want to kill myself")
    assert not crisis.ephemeral  # a crisis is never held back by the cooldown
    assert "988" in crisis.response.content


@pytest.mark.simcord(shard_count=1, strict_sync=False, approved_intents=discord.Intents.default())
async def test_works_without_the_message_content_intent(simcord_env, engine):
    assert not simcord_env.bot.intents.message_content
    _, channel, alice = world(simcord_env)
    query, expected = pick(engine, "answer", ANSWER_QUERIES)

    result = await alice.slash(channel, "ask", question=query)
    await alice.send(channel, f"{simcord_env.bot.user.mention} {query}")
    mention_reply = channel.last_message
    bob = simcord_env.create_user("bob")
    await bob.send_dm(query)

    assert result.response.embeds[0].title == expected.question
    assert mention_reply.embeds[0].title == expected.question
    assert bob.dm_channel.last_message.embeds[0].title == expected.question


async def test_answer_channels_need_the_intent(engine):
    bot = create_bot(engine=engine, settings=Settings(answer_channels=frozenset({1})))
    assert bot.intents.message_content
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with simcord.run(bot, shard_count=1, strict_sync=False,
                               approved_intents=discord.Intents.default()):
            pass


async def test_rest_500_on_send_is_survived(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, expected = pick(engine, "answer", ANSWER_QUERIES)
    me = simcord_env.bot.user.mention
    simcord_env.inject_error("POST", "/channels/*/messages", status=500, times=None)

    await alice.send(channel, f"{me} {query}")
    assert not channel.last_message.author.bot  # the reply failed ...

    simcord_env.backend.faults.clear()
    await alice.send(channel, f"{me} {query}")
    assert channel.last_message.embeds[0].title == expected.question  # ... the bot lives on
    assert simcord_env.errors == []


async def test_every_send_carries_no_mentions(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    me = simcord_env.bot.user.mention
    answer, _ = pick(engine, "answer", ANSWER_QUERIES)
    clarify, _ = pick(engine, "clarify", CLARIFY_QUERIES, options=2)
    shown = await alice.slash(channel, "ask", question=answer)
    await alice.click(shown.response.message, label="Helpful")
    await alice.send(channel, f"{me} {clarify} @everyone <@&123>")
    await alice.send(channel, f"{me} 1")
    await alice.slash(channel, "about")
    await alice.slash(channel, "faq", tag="cost")
    await simcord_env.advance_time(Settings().view_timeout + 1)

    sends = [r for r in simcord_env.http_requests if _carries_message(r.json)]
    assert len(sends) >= 7
    for request in sends:
        body = request.json.get("data", request.json) if request.json.get("type") else \
            request.json
        mentions = body["allowed_mentions"]
        assert mentions["parse"] == [], (request.method, request.path)
        assert not mentions.get("users") and not mentions.get("roles")
        assert mentions.get("replied_user", False) is False


def _carries_message(json) -> bool:
    if not isinstance(json, dict):
        return False
    body = json.get("data") if isinstance(json.get("data"), dict) else json
    return any(key in body for key in ("content", "embeds", "components"))
