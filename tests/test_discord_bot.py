"""Offline unit tests of the Discord glue: command tree, autocomplete, the mention/DM handler
(with autospec'd discord.py objects), hot reload, cooldown, settings and the entry point.

No test reads the clock: the timing targets are in benchmarks/discord_timing.py."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import PropertyMock, create_autospec, patch

import aiohttp
import discord
import pytest
from discord import app_commands

from bot.conversation import Conversation
from bot.discord_app import FaqBot, Settings, create_bot, runner
from bot.discord_app.cooldown import UserCooldown
from bot.discord_app.presenters import HELD_REACTION
from bot.discord_app.settings import SettingsError
from bot.runtime import load_engine

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "how much does an infusion cost"
BOT_ID = 4242
# Shaped like a bot token (base64 user id, timestamp, HMAC) but not one.
FAKE_TOKEN = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".GAbCdE." + "x" * 38


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


def test_autocomplete_choices_are_built_once_per_knowledge(bot, tiny_file):
    """What keeps a keystroke cheap (timed in benchmarks/discord_timing.py): the list of
    phrasings is made once per loaded knowledge, not on every keystroke."""
    cog = bot.faq_cog
    cog.suggest("warm up")
    names = cog._names
    for n in range(1, 31):
        cog.suggest("how much does an infusion"[:n])
    assert cog._names is names

    bot.service.conversation.swap_engine(load_engine(tiny_file).engine)
    assert any("steep" in s.lower() for s in cog.suggest("steping"))
    assert cog._names is not names


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
@pytest.mark.parametrize("guild", [False, True], ids=["dm", "mention"])
async def test_spam_gets_its_answers_then_one_reaction_and_no_replies(bot, me, guild):
    messages = [_message(f"<@{BOT_ID}> {ANSWER}", guild=guild, mentions=[me])
                for _ in range(20)]
    for message in messages:
        await bot.faq_cog.on_message(message)

    replied = [m for m in messages if m.reply.await_count]
    assert replied == messages[:3]  # the allowance (3); never a "please wait" message
    assert all(m.reply.await_args.kwargs["embeds"] for m in replied)
    reacted = [m for m in messages if m.add_reaction.await_count]
    assert reacted == [messages[3]]
    messages[3].add_reaction.assert_awaited_once_with(HELD_REACTION)

    crisis = _message(f"<@{BOT_ID}> i want to kill myself", guild=guild, mentions=[me])
    await bot.faq_cog.on_message(crisis)
    assert "988" in crisis.reply.await_args.kwargs["content"]  # never held back


@pytest.mark.asyncio
async def test_a_refused_reaction_is_not_replaced_by_a_message(bot, me):
    messages = [_message(ANSWER, guild=False) for _ in range(4)]
    messages[3].add_reaction.side_effect = discord.Forbidden(
        SimpleNamespace(status=403, reason="Forbidden"), "Missing Permissions")
    for message in messages:
        await bot.faq_cog.on_message(message)
    messages[3].add_reaction.assert_awaited_once()
    messages[3].reply.assert_not_awaited()


@pytest.mark.asyncio
async def test_answer_channels_stay_quiet_when_held(engine, me):
    bot = create_bot(engine=engine, settings=Settings(cooldown_rate=1,
                                                      answer_channels=frozenset({22})))
    messages = [_message(ANSWER, guild=True) for _ in range(3)]
    for message in messages:
        await bot.faq_cog.on_message(message)
    assert not any(m.add_reaction.await_count or m.reply.await_count for m in messages[1:])


def test_user_cooldown_window():
    now = [100.0]
    cooldown = UserCooldown(2, 10.0, clock=lambda: now[0])
    assert cooldown.hit(1) is None and cooldown.hit(1) is None
    assert cooldown.hit(1) == pytest.approx(10.0)
    assert cooldown.hit(2) is None  # per user
    now[0] += 10.0
    assert cooldown.hit(1) is None


def test_user_cooldown_notice_once_per_window():
    now = [0.0]
    cooldown = UserCooldown(1, 10.0, clock=lambda: now[0])
    assert cooldown.claim_notice(1) is False  # never held: nothing to tell
    cooldown.hit(1)
    assert cooldown.hit(1) is not None and cooldown.hit(1) is not None
    assert [cooldown.claim_notice(1) for _ in range(3)] == [True, False, False]
    assert cooldown.hit(2) is None  # per user
    now[0] += 10.0
    assert cooldown.hit(1) is None and cooldown.hit(1) is not None
    assert cooldown.claim_notice(1) is True  # a new window, one new notice


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


def _run_cli(args: list[str], token: str | None, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env["DISCORD_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "token", "code", "words"), [
    (["discord"], None, runner.EXIT_CONFIG, "DISCORD_TOKEN is not set"),
    (["discord", "--guild", "123"], FAKE_TOKEN, runner.EXIT_CONFIG, "--sync"),
    (["discord"], "garbage", runner.EXIT_LOGIN, "not a bot token"),
    (["discord"], f"Bot {FAKE_TOKEN}", runner.EXIT_LOGIN, "Bot"),
], ids=["no-token", "guild-without-sync", "garbage-token", "bot-prefix"])
def test_cli_mistakes_are_one_line_with_their_exit_code(tmp_path, args, token, code, words):
    done = _run_cli(args, token, tmp_path)

    assert done.returncode == code
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert FAKE_TOKEN not in done.stderr and "garbage" not in done.stderr


@pytest.mark.parametrize("kwargs", [
    {"environ": {}}, {"environ": {"DISCORD_TOKEN": "garbage"}},
    {"guild": 1, "environ": {"DISCORD_TOKEN": FAKE_TOKEN}},
], ids=["no-token", "garbage-token", "guild-without-sync"])
def test_mistakes_are_found_before_discord_or_the_engine_loads(kwargs):
    """Why these answers are instant: nothing heavy is imported before the checks."""
    code = ("import sys\nfrom bot.discord_app import runner\n"
            f"runner.main(**{kwargs!r})\n"
            "print(sorted(m for m in ('discord', 'sklearn', 'bot.runtime') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("token", [
    "", "garbage", "a.b.c", "Bot " + FAKE_TOKEN, FAKE_TOKEN + ".x", FAKE_TOKEN.replace(".", " "),
    "MTIz.abc", "bm90LWFuLWlk.GAbCdE." + "x" * 38,  # the first part is not a user id
])
def test_token_shape_is_checked_locally(token):
    problem = runner.token_problem(token)
    assert problem and "DISCORD_TOKEN" in problem
    assert token[:8] not in problem or not token
    assert runner.token_problem(FAKE_TOKEN) is None


@pytest.mark.parametrize(("sync", "guild", "words"), [
    (False, 123, "add --sync"), (True, 0, "server ID"), (True, -5, "server ID")])
def test_guild_without_sync_or_a_bad_id_is_a_usage_error(monkeypatch, capsys, sync, guild,
                                                         words):
    monkeypatch.setattr(runner, "_start", lambda *_a, **_k: pytest.fail("must not start"))

    assert runner.main(sync=sync, guild=guild, environ={}) == runner.EXIT_CONFIG
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err


def _closed(code: int) -> discord.ConnectionClosed:
    return discord.ConnectionClosed(SimpleNamespace(close_code=code), shard_id=None, code=code)


@pytest.mark.parametrize(("error", "code", "words"), [
    (discord.LoginFailure("Improper token has been passed."), runner.EXIT_LOGIN, "rejected"),
    (_closed(4004), runner.EXIT_LOGIN, "rejected"),
    (discord.PrivilegedIntentsRequired(None), runner.EXIT_INTENTS, "Message Content"),
    (aiohttp.ClientConnectionError("no route"), runner.EXIT_NETWORK, "cannot reach"),
    (OSError("Name or service not known"), runner.EXIT_NETWORK, "cannot reach"),
    (TimeoutError(), runner.EXIT_NETWORK, "no answer in time"),
    (_closed(4000), runner.EXIT_NETWORK, "closed with code 4000"),
    (discord.GatewayNotFound(), runner.EXIT_NETWORK, "cannot reach"),
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None)
def test_each_failure_is_one_clear_line_with_its_code(monkeypatch, capsys, error, code, words):
    async def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr("bot.discord_app.bot.create_bot", lambda **_: object())
    monkeypatch.setattr(runner, "serve", refuse)
    monkeypatch.setattr(runner, "setup_logging", lambda: None)

    assert runner.main(environ={"DISCORD_TOKEN": FAKE_TOKEN}) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err
    assert FAKE_TOKEN not in err and "Traceback" not in err


def test_every_exit_code_is_described():
    codes = {v for k, v in vars(runner).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert codes == set(runner.EXIT_CODES) == {0, 1, 2, 3, 4, 5, 130}
    assert all(runner.EXIT_CODES.values())


class FakeBot:
    """What `serve` uses of the bot; `connect` runs `on_connect` (e.g. sends a signal)."""

    def __init__(self, *, login=None, sync=None, on_connect=None):
        self._login, self._sync, self._on_connect = login, sync, on_connect
        self.closed = asyncio.Event()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *_exc):
        self.closed.set()

    async def login(self, _token):
        if self._login:
            await self._login()

    async def sync_commands(self, _guild):
        return await self._sync()

    async def connect(self):
        self._on_connect()
        await self.closed.wait()

    async def close(self):
        self.closed.set()


@pytest.mark.asyncio
async def test_login_that_never_answers_times_out(monkeypatch):
    monkeypatch.setattr(runner, "LOGIN_TIMEOUT_S", 0)  # wait_for(0): no clock involved
    bot = FakeBot(login=asyncio.Event().wait)
    with pytest.raises(TimeoutError):
        await runner.serve(bot, FAKE_TOKEN, sync=False, guild=None)


@pytest.mark.asyncio
async def test_sync_to_a_guild_that_refuses_is_a_usage_error(capsys):
    async def refuse():
        raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"),
                                {"code": 50001, "message": "Missing Access"})

    code = await runner.serve(FakeBot(sync=refuse), FAKE_TOKEN, sync=True, guild=123)
    assert code == runner.EXIT_CONFIG
    assert "guild 123" in capsys.readouterr().err


@pytest.mark.asyncio
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, runner.EXIT_OK),
                                              (signal.SIGINT, runner.EXIT_INTERRUPTED)])
async def test_a_signal_closes_the_bot_with_its_exit_code(signum, code):
    def send_signal():
        handler = signal.getsignal(signum)  # asyncio's, never the default: that would kill
        assert handler not in (signal.SIG_DFL, signal.SIG_IGN, signal.default_int_handler)
        signal.raise_signal(signum)

    bot = FakeBot(on_connect=send_signal)
    assert await runner.serve(bot, FAKE_TOKEN, sync=False, guild=None) == code


@pytest.fixture
def root_logging():
    """Restore the root logger after a test that configures it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "coloured"), [(io.StringIO(), False), (Terminal(), True)],
                         ids=["pipe", "terminal"])
def test_log_is_coloured_only_on_a_terminal(monkeypatch, root_logging, stream, coloured):
    monkeypatch.setattr(discord.utils, "is_docker", lambda: True)  # as in a container
    monkeypatch.delenv("NO_COLOR", raising=False)

    runner.setup_logging(stream)
    logging.getLogger("discord.client").warning("hello")

    assert "hello" in stream.getvalue()
    assert ("\x1b[" in stream.getvalue()) is coloured


def test_no_voice_warnings_for_a_text_only_bot(monkeypatch, engine, caplog):
    for flag in ("warn_nacl", "warn_dave"):  # as on a machine without PyNaCl or davey
        monkeypatch.setattr(discord.VoiceClient, flag, True)
    with caplog.at_level(logging.WARNING):
        create_bot(engine=engine)
    assert "voice" not in caplog.text


def test_dotenv_in_working_directory_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nSHARD_COUNT=2\n", encoding="utf-8")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("SHARD_COUNT", "3")
    environ = runner.environment(tmp_path)
    assert environ["DISCORD_TOKEN"] == "from-file"
    assert environ["SHARD_COUNT"] == "3"  # the real environment wins
