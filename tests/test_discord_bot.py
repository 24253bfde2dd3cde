"""Offline unit tests of the Discord glue: command tree, autocomplete, the mention/DM handler
(with autospec'd discord.py objects), hot reload, cooldown, settings and the entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import PropertyMock, create_autospec, patch

import discord
import pytest
from discord import app_commands

from bot.conversation import Conversation
from bot.discord_app import FaqBot, Settings, create_bot, runner
from bot.discord_app.cooldown import UserCooldown
from bot.discord_app.settings import SettingsError
from bot.runtime import load_engine

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "how much does an infusion cost"
BOT_ID = 4242


@pytest.fixture(scope="module")
def engine():
    return load_engine().engine


@pytest.fixture
def bot(engine) -> FaqBot:
    return create_bot(engine=engine, settings=Settings(cooldown_rate=3, owner_ids=frozenset({7})))


def test_tree_holds_the_commands_with_options_and_descriptions(bot):
    commands = {c.name: c for c in bot.tree.get_commands()}
    assert set(commands) == {"ask", "faq", "about", "reload"}
    assert all(c.description for c in commands.values())
    ask = commands["ask"].to_dict(bot.tree)
    assert [(o["name"], o["required"], o["autocomplete"]) for o in ask["options"]] == [
        ("question", True, True)]
    assert ask["options"][0]["description"] and ask["options"][0]["max_length"] == 500
    faq = commands["faq"].to_dict(bot.tree)
    assert [(o["name"], o["required"]) for o in faq["options"]] == [("tag", False)]
    assert commands["about"].parameters == [] and commands["reload"].parameters == []
    assert commands["reload"].default_permissions == discord.Permissions(manage_guild=True)


def test_client_defaults(bot):
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert bot.intents == discord.Intents.default()
    assert not bot.intents.message_content
    assert isinstance(bot, discord.AutoShardedClient)
    channels = create_bot(engine=bot.service.conversation.engine,
                          settings=Settings(answer_channels=frozenset({1}), shard_count=4,
                                            shard_ids=(2, 3)))
    assert channels.intents.message_content
    assert (channels.shard_count, channels.shard_ids) == (4, [2, 3])


@pytest.mark.asyncio
@pytest.mark.parametrize("typed", ["", "   ", "ketamin sid efects", "how mch dose it cost",
                                   "x" * 300, "💉"])
async def test_autocomplete_gives_at_most_25_valid_choices(bot, typed):
    interaction = create_autospec(discord.Interaction, instance=True)

    choices = await bot.faq_cog.ask_autocomplete(interaction, typed)

    assert 0 < len(choices) <= 25
    for choice in choices:
        assert isinstance(choice, app_commands.Choice)
        assert 1 <= len(choice.name) <= 100 and choice.value == choice.name


@pytest.mark.asyncio
async def test_autocomplete_is_cheap_per_keystroke(bot):
    interaction = create_autospec(discord.Interaction, instance=True)
    await bot.faq_cog.ask_autocomplete(interaction, "warm up")
    start = time.perf_counter()
    for n in range(1, 31):
        await bot.faq_cog.ask_autocomplete(interaction, "how much does an infusion"[:n])
    assert (time.perf_counter() - start) / 30 < 0.02  # well under a keystroke


def _message(content: str, *, guild: bool, mentions=()) -> discord.Message:
    message = create_autospec(discord.Message, instance=True)
    message.content = content
    message.author.bot = False
    message.author.id = 11
    message.channel.id = 22
    message.guild = create_autospec(discord.Guild, instance=True) if guild else None
    message.mentions = list(mentions)
    return message


@pytest.fixture
def me():
    user = create_autospec(discord.ClientUser, instance=True)
    user.id = BOT_ID
    with patch.object(FaqBot, "user", new_callable=PropertyMock, return_value=user):
        yield user


@pytest.mark.asyncio
async def test_dm_is_answered_through_the_conversation(bot, me, engine):
    expected = Conversation(engine).reply("probe", ANSWER)
    message = _message(ANSWER, guild=False)

    await bot.faq_cog.on_message(message)

    message.reply.assert_awaited_once()
    kwargs = message.reply.await_args.kwargs
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}
    assert kwargs["mention_author"] is False
    assert kwargs["embeds"][0].title == expected.question
    assert isinstance(kwargs.get("view"), discord.ui.View) or expected.status != "answer"


@pytest.mark.asyncio
async def test_mentions_are_answered_and_other_chatter_ignored(bot, me, engine):
    mentioned = _message(f"<@!{BOT_ID}> hello", guild=True, mentions=[me])
    await bot.faq_cog.on_message(mentioned)
    kwargs = mentioned.reply.await_args.kwargs
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}
    assert kwargs["embeds"][0].description.startswith("Hi!")  # the mention itself is dropped

    pinging = _message(f"<@{BOT_ID}> cost <@&99> @everyone", guild=True, mentions=[me])
    await bot.faq_cog.on_message(pinging)
    assert pinging.reply.await_args.kwargs["allowed_mentions"].to_dict() == {"parse": []}

    chatter = _message("how much does an infusion cost", guild=True)
    await bot.faq_cog.on_message(chatter)
    chatter.reply.assert_not_awaited()

    from_bot = _message("hello", guild=False)
    from_bot.author.bot = True
    await bot.faq_cog.on_message(from_bot)
    from_bot.reply.assert_not_awaited()


@pytest.mark.asyncio
async def test_mention_cooldown_replies_briefly(bot, me):
    replies = []
    for _ in range(4):
        message = _message(ANSWER, guild=False)
        await bot.faq_cog.on_message(message)
        replies.append(message.reply.await_args.kwargs)
    assert all(r["embeds"] for r in replies[:3])
    assert "Please wait" in replies[3]["content"]
    assert replies[3]["allowed_mentions"].to_dict() == {"parse": []}
    crisis = _message("i want to kill myself", guild=False)
    await bot.faq_cog.on_message(crisis)
    assert "988" in crisis.reply.await_args.kwargs["content"]


def test_user_cooldown_window():
    now = [100.0]
    cooldown = UserCooldown(2, 10.0, clock=lambda: now[0])
    assert cooldown.hit(1) is None and cooldown.hit(1) is None
    assert cooldown.hit(1) == pytest.approx(10.0)
    assert cooldown.hit(2) is None  # per user
    now[0] += 10.0
    assert cooldown.hit(1) is None


def test_user_cooldown_memory_is_bounded():
    cooldown = UserCooldown(1, 10.0, clock=lambda: 0.0, max_users=4)
    for user in range(10):
        cooldown.hit(user)
    assert len(cooldown._windows) <= 4


@pytest.mark.asyncio
async def test_hot_reload_keeps_the_old_engine_on_a_broken_file(tiny_file, tiny_text):
    bot = create_bot(knowledge_path=tiny_file, settings=Settings(watch_seconds=0))
    old = bot.service.conversation.engine
    assert await bot.poll_knowledge() is False  # unchanged file: nothing to do

    tiny_file.write_text("title: [broken\n", encoding="utf-8")
    os.utime(tiny_file, ns=(1, 1))
    assert await bot.poll_knowledge() is True
    assert bot.service.conversation.engine is old

    ok, message = await bot.reload_knowledge()
    assert not ok and message
    assert bot.service.conversation.engine is old

    tiny_file.write_text(tiny_text.replace("Tea FAQ", "Tea FAQ v2"), encoding="utf-8")
    os.utime(tiny_file, ns=(2, 2))
    assert await bot.poll_knowledge() is True
    assert bot.service.conversation.knowledge.title == "Tea FAQ v2"


@pytest.mark.asyncio
async def test_reload_is_for_managers_and_owners_only(bot):
    cog = bot.faq_cog
    interaction = create_autospec(discord.Interaction, instance=True)
    interaction.guild = create_autospec(discord.Guild, instance=True)
    interaction.permissions = discord.Permissions.none()
    interaction.user.id = 8
    assert await cog.may_reload(interaction) is False
    interaction.user.id = 7  # a configured owner
    assert await cog.may_reload(interaction) is True
    interaction.user.id = 8
    interaction.permissions = discord.Permissions(manage_guild=True)
    assert await cog.may_reload(interaction) is True


def test_settings_from_env():
    settings = Settings.from_env({
        "FAQBOT_COOLDOWN_RATE": "2", "FAQBOT_COOLDOWN_SECONDS": "9.5", "SHARD_COUNT": "4",
        "SHARD_IDS": "0, 1", "FAQBOT_ANSWER_CHANNELS": "5,6", "FAQBOT_QUERY_LOG": "q.jsonl",
        "FAQBOT_OWNER_IDS": "", "UNRELATED": "x"})
    assert (settings.cooldown_rate, settings.cooldown_seconds) == (2, 9.5)
    assert (settings.shard_count, settings.shard_ids) == (4, (0, 1))
    assert settings.answer_channels == {5, 6} and settings.message_content
    assert settings.query_log == Path("q.jsonl") and settings.owner_ids == frozenset()
    assert Settings.from_env({}) == Settings()
    for bad in ({"SHARD_IDS": "1"}, {"SHARD_COUNT": "2", "SHARD_IDS": "2"},
                {"FAQBOT_COOLDOWN_RATE": "many"}, {"FAQBOT_ANSWER_CHANNELS": "#general"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


def test_discord_without_token_exits_fast_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "discord"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    elapsed = time.perf_counter() - start

    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]
    assert elapsed < 5, f"took {elapsed:.2f}s"


@pytest.mark.parametrize(("error", "code", "words"), [
    (discord.LoginFailure("Improper token has been passed."), runner.EXIT_LOGIN, "rejected"),
    (discord.PrivilegedIntentsRequired(None), runner.EXIT_INTENTS, "Message Content"),
])
def test_rejected_token_or_intent_is_one_clear_line(monkeypatch, capsys, error, code, words):
    secret = "SECRET.TOKEN.VALUE"

    async def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr("bot.discord_app.bot.create_bot", lambda **_: object())
    monkeypatch.setattr(runner, "serve", refuse)
    monkeypatch.setattr(discord.utils, "setup_logging", lambda **_: None)

    assert runner.main(environ={"DISCORD_TOKEN": secret}) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err
    assert secret not in err and "Traceback" not in err


def test_dotenv_in_working_directory_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nSHARD_COUNT=2\n", encoding="utf-8")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("SHARD_COUNT", "3")
    environ = runner.environment(tmp_path)
    assert environ["DISCORD_TOKEN"] == "from-file"
    assert environ["SHARD_COUNT"] == "3"  # the real environment wins
