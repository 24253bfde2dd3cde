"""Behaviour of the real bot from `create_bot()`, driven through SimCord's in-memory Discord.

No token, no network: SimCord runs discord.py's own parsers, tree, views and HTTP layer against
a simulated backend. The bot answers from the tiny tea knowledge base of conftest.py, and the
engine's decision for the two queries below is fixed (see `engine`): these tests are about
Discord behaviour, and must not depend on the matching thresholds, which are retrained
independently of them.
"""

from __future__ import annotations

import discord
import pytest
import simcord
from conftest import TINY

from bot.conversation import Conversation
from bot.discord_app import Settings, create_bot
from bot.discord_app.cog import Cooldown
from bot.discord_app.presenters import HELD_REACTION
from bot.engine.decide import Match, Scored
from bot.runtime import load_engine

pytestmark = [pytest.mark.asyncio, pytest.mark.simcord(shard_count=1, strict_sync=False)]

ANSWER = "does green tea have caffeine"  # answered with the entry below
ANSWER_ENTRY = "green-tea-caffeine"
CLARIFY = "green tea"  # ambiguous between the two entries below
CLARIFY_ENTRIES = ("green-tea-caffeine", "water-temperature")
CRISIS = "I want to kill myself"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The engine of the tea knowledge base, with ANSWER and CLARIFY decided as stated."""
    path = tmp_path_factory.mktemp("tea") / "tea.yaml"
    path.write_text(TINY, encoding="utf-8")
    engine = load_engine(path).engine
    knowledge, real_match = engine.knowledge, engine.match

    def scored(entry_id: str, confidence: float) -> Scored:
        entry = knowledge.get(entry_id)
        return Scored(entry, confidence, entry.question)

    scripted = {
        ANSWER: Match("answer", (scored(ANSWER_ENTRY, 0.99),), 0.99),
        CLARIFY: Match("clarify", tuple(scored(e, 0.5) for e in CLARIFY_ENTRIES), 0.5),
    }
    engine.match = lambda query: scripted.get(query) or real_match(query)
    return engine


@pytest.fixture(scope="module")
def shipped_engine():
    """The shipped knowledge: enough entries for several /faq pages."""
    return load_engine().engine


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def simcord_bot(engine, settings):
    return create_bot(engine=engine, settings=settings)


def expect(engine, query: str):
    """What the conversation replies to `query` as a first message."""
    return Conversation(engine).reply("probe", query)


def world(env):
    guild = env.create_guild()
    channel = guild.create_text_channel("general")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


def button_labels(message: discord.Message) -> list[str]:
    return [child.label for row in message.components for child in row.children]


def all_disabled(message: discord.Message) -> bool:
    return all(child.disabled for row in message.components for child in row.children)


def from_bot(channel, viewer=None) -> list[discord.Message]:
    return [m for m in channel.history(viewer=viewer) if m.author.bot]


def held_reactions(env, channel) -> list[int]:
    """Ids of the messages the bot put its cooldown reaction on."""
    backend = env.backend
    return [m.id for m in channel.history()
            if any(r.emoji == HELD_REACTION and backend.bot_user.id in r.user_ids
                   for r in backend.get_message(channel.id, m.id).reactions)]


async def test_ask_answers_with_an_embed(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, expected = ANSWER, expect(engine, ANSWER)

    result = await alice.slash(channel, "ask", question=query)

    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == expected.question
    assert embed.description == expected.answer
    assert embed.footer.text == expected.disclaimer
    assert button_labels(result.response.message)[:2] == ["Helpful", "Not helpful"]


async def test_autocomplete_offers_choices_for_a_typo(simcord_env):
    _, channel, alice = world(simcord_env)

    choices = await alice.autocomplete(channel, "ask", "question", "steping tiem")

    assert 0 < len(choices) <= 25
    assert all(0 < len(c["name"]) <= 100 and c["name"] == c["value"] for c in choices)
    assert any("steeping time" in c["name"].lower() for c in choices[:5])


async def test_mention_clarify_then_number_follow_up(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, clarify = CLARIFY, expect(engine, CLARIFY)
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
    query, expected = ANSWER, expect(engine, ANSWER)

    await bob.send_dm(query)

    reply = bob.dm_channel.last_message
    assert reply.author.bot
    assert reply.embeds[0].title == expected.question

    await bob.send_dm("why")
    assert "I answered the stored question" in bob.dm_channel.last_message.embeds[0].description


async def test_clicking_a_suggestion_answers_it(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query, clarify = CLARIFY, expect(engine, CLARIFY)
    shown = await alice.slash(channel, "ask", question=query)

    first = button_labels(shown.response.message)[0]
    clicked = await alice.click(shown.response.message, label=first)

    assert clicked.response.embeds[0].title == clarify.suggestions[0].question


async def test_helpful_vote_disables_the_vote_buttons(simcord_env, engine):
    _, channel, alice = world(simcord_env)
    query = ANSWER
    shown = await alice.slash(channel, "ask", question=query)

    voted = await alice.click(shown.response.message, label="Helpful")

    assert voted.followups[0].ephemeral
    message = channel.last_message
    states = {c.label: c.disabled for row in message.components for c in row.children}
    assert states["Helpful"] and states["Not helpful"]


async def test_views_time_out_and_disable_their_buttons(simcord_env, engine, settings):
    _, channel, alice = world(simcord_env)
    query = CLARIFY
    await alice.send(channel, f"{simcord_env.bot.user.mention} {query}")
    assert not all_disabled(channel.last_message)

    await simcord_env.advance_time(settings.view_timeout + 1)

    assert button_labels(channel.last_message)
    assert all_disabled(channel.last_message)


async def test_faq_pages_with_buttons(simcord_env, shipped_engine):
    simcord_env.bot.service.conversation.swap_engine(shipped_engine)
    _, channel, alice = world(simcord_env)
    shown = await alice.slash(channel, "faq")
    first_page = shown.response.embeds[0].description

    paged = await alice.click(shown.response.message, label="Next ▶")

    assert paged.acknowledged
    assert channel.last_message.embeds[0].description != first_page
    assert "Page 2 of" in channel.last_message.embeds[0].footer.text


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=2, cooldown_seconds=60)])
async def test_held_slash_commands_get_one_private_notice_per_window(simcord_env):
    _, channel, alice = world(simcord_env)
    for _ in range(2):
        assert not (await alice.slash(channel, "ask", question=ANSWER)).ephemeral

    held = await alice.slash(channel, "ask", question=ANSWER)
    assert held.ephemeral
    assert "Please wait" in held.response.content
    assert [type(e) for e in simcord_env.errors] == [Cooldown]

    for _ in range(5):  # told once: later ones are acknowledged and show nothing
        again = await alice.slash(channel, "ask", question=ANSWER)
        assert again.acknowledged and again.response is None
    await alice.send(channel, f"{simcord_env.bot.user.mention} {ANSWER}")
    assert held_reactions(simcord_env, channel) == []  # the notice of this window is used up
    notices = [m for m in from_bot(channel, viewer=alice) if "Please wait" in m.content]
    assert len(notices) == 1

    crisis = await alice.slash(channel, "ask", question=CRISIS)
    assert not crisis.ephemeral  # a crisis is never held back by the cooldown
    assert "988" in crisis.response.content

    await simcord_env.advance_time(61)  # a new window: one more notice once it fills up
    for _ in range(2):
        assert not (await alice.slash(channel, "ask", question=ANSWER)).ephemeral
    assert "Please wait" in (await alice.slash(channel, "ask", question=ANSWER)).response.content
    assert {type(e) for e in simcord_env.errors} == {Cooldown}  # each held command, no other


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=2, cooldown_seconds=60)])
async def test_mention_spam_gets_answers_then_one_reaction_and_no_messages(simcord_env):
    _, channel, alice = world(simcord_env)
    me = simcord_env.bot.user.mention
    sent = [await alice.send(channel, f"{me} {ANSWER}") for _ in range(20)]

    assert len(from_bot(channel)) == 2  # the two answers; nothing public for the 18 held
    assert held_reactions(simcord_env, channel) == [sent[2].id]

    await alice.send(channel, f"{me} {CRISIS}")
    assert "988" in channel.last_message.content  # a crisis is never held back

    await simcord_env.advance_time(61)
    sent = [await alice.send(channel, f"{me} {ANSWER}") for _ in range(5)]
    assert len(from_bot(channel)) == 5
    assert held_reactions(simcord_env, channel)[1:] == [sent[2].id]  # one for each window


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=1, cooldown_seconds=60)])
async def test_dm_spam_gets_one_reaction_and_no_messages(simcord_env):
    world(simcord_env)
    bob = simcord_env.create_user("bob")
    for _ in range(10):
        await bob.send_dm(ANSWER)

    assert len(from_bot(bob.dm_channel)) == 1
    assert len(held_reactions(simcord_env, bob.dm_channel)) == 1


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=1, cooldown_seconds=60)])
async def test_held_button_presses_get_one_private_notice(simcord_env):
    _, channel, alice = world(simcord_env)
    shown = await alice.slash(channel, "ask", question=CLARIFY)
    first = button_labels(shown.response.message)[0]

    clicks = [await alice.click(shown.response.message, label=first) for _ in range(4)]

    assert clicks[0].ephemeral and "Please wait" in clicks[0].response.content
    assert all(c.acknowledged and not c.followups for c in clicks[1:])
    assert len(from_bot(channel, viewer=alice)) == 2  # the clarify reply and one notice


async def test_unknown_faq_tag_lists_the_topics_without_echoing(simcord_env):
    _, channel, alice = world(simcord_env)

    shown = await alice.slash(channel, "faq", tag="**shout** <@&123> nonsense")

    assert shown.ephemeral
    text = shown.response.content
    assert "brewing" in text and "caffeine" in text
    assert "shout" not in text and "nonsense" not in text and "<@&" not in text
    assert (await alice.slash(channel, "faq", tag="Brewing")).response.embeds[0].title \
        == "Tea FAQ: brewing"  # topics match whatever their case


@pytest.mark.simcord(shard_count=1, strict_sync=False, approved_intents=discord.Intents.default())
async def test_works_without_the_message_content_intent(simcord_env, engine):
    assert not simcord_env.bot.intents.message_content
    _, channel, alice = world(simcord_env)
    query, expected = ANSWER, expect(engine, ANSWER)

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
    query, expected = ANSWER, expect(engine, ANSWER)
    me = simcord_env.bot.user.mention
    simcord_env.inject_error("POST", "/channels/*/messages", status=500, times=None)

    await alice.send(channel, f"{me} {query}")
    assert not channel.last_message.author.bot  # the reply failed ...

    simcord_env.backend.faults.clear()
    await alice.send(channel, f"{me} {query}")
    assert channel.last_message.embeds[0].title == expected.question  # ... the bot lives on
    assert simcord_env.errors == []


@pytest.mark.parametrize("settings", [Settings(cooldown_rate=6)])
async def test_every_send_carries_no_mentions(simcord_env):
    _, channel, alice = world(simcord_env)
    me = simcord_env.bot.user.mention
    shown = await alice.slash(channel, "ask", question=ANSWER)
    await alice.click(shown.response.message, label="Helpful")
    await alice.send(channel, f"{me} {CLARIFY} @everyone <@&123>")
    await alice.send(channel, f"{me} 1")
    await alice.slash(channel, "about")
    await alice.slash(channel, "faq", tag="brewing")
    await alice.slash(channel, "faq", tag="<@&123>")
    await alice.slash(channel, "ask", question=ANSWER)  # over the allowance: the notice
    assert [type(e) for e in simcord_env.errors] == [Cooldown]
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
