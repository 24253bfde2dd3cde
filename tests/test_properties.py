"""Property tests (hypothesis, bounded so the suite stays fast): hostile text never crashes the
normaliser, the engine, the conversation layer, the knowledge loader or the presenters, and
replies stay bounded and free of live mass mentions."""

from __future__ import annotations

import importlib.util
import re

import pytest
from conftest import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation import Conversation
from bot.conversation.reply import MAX_REPLY_CHARS
from bot.engine.engine import Engine
from bot.engine.text import MAX_QUERY_CHARS, Normalizer, clean
from bot.knowledge import Knowledge, parse_knowledge

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SPECIAL = ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x00", "\x1b", "\t",
           "\n", "\r", "@everyone", "@here", "＠everyone", "@\u200beveryone", "<@123>",
           "<@&456>", "🙂", "👩‍⚕️", "مرحبا", "שלום", "ketamine", "tea", "1", "2", "more", "why",
           "yes", "no", "help", "?", "http://x.y/z"]
hostile = st.lists(st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
                             st.sampled_from(SPECIAL)), max_size=12).map("".join)
LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@&?\d+>", re.IGNORECASE)


@pytest.fixture(scope="module")
def conversation(request) -> Conversation:
    knowledge, problems = parse_knowledge(TINY)
    assert knowledge is not None, problems
    return Conversation(Engine(knowledge), max_sessions=50)


@FAST
@given(hostile)
def test_clean_is_bounded_idempotent_and_visible(text: str) -> None:
    out = clean(text)
    assert len(out) <= MAX_QUERY_CHARS
    assert clean(out) == out
    assert not any(ch in out for ch in "\u200b\u202e\ufeff\x00\n\t")


@FAST
@given(hostile)
def test_normalizer_never_raises(text: str) -> None:
    normalizer = _NORMALIZER
    tokens = normalizer.tokens(text)
    assert all(t and " " not in t for t in tokens)
    assert normalizer(text) == " ".join(tokens)


_NORMALIZER = Normalizer({"tea": ["chai", "cuppa"]}).fit(["how long should i steep tea",
                                                         "green tea caffeine"])


@FAST
@given(hostile)
def test_engine_match_is_well_formed(conversation: Conversation, text: str) -> None:
    match = conversation.engine.match(text)
    assert match.status in ("answer", "clarify", "unknown", "invalid")
    assert 0.0 <= match.confidence <= 1.0
    assert len(match.candidates) <= 3
    if match.status == "answer":
        assert len(match.candidates) == 1


@FAST
@given(st.lists(hostile, min_size=1, max_size=4))
def test_conversation_replies_are_safe(conversation: Conversation, messages: list[str]) -> None:
    for message in messages:  # one session, so follow-ups ("2", "more", "why") are exercised
        reply = conversation.reply("fuzz", message)
        assert reply.text.strip()
        assert len(reply.text) <= MAX_REPLY_CHARS
        visible = clean(reply.text)  # zero-width tricks do not hide a mention from the check
        assert not LIVE_MENTION.search(visible), reply.text


YAML_BITS = ["title", "disclaimer", "entries", "id", "question", "alternates", "answer", "tags",
             "synonyms", "source", ":", ": ", "- ", "-", "\n", "\n  ", "\n    ", "\t", "'", '"',
             "[", "]", "{", "}", ",", "#", "&a", "*a", "!!python/object", "|", ">-", "? ",
             "~", "null", "yes", "0x1", "1e9", "a-b", "x" * 50, "é", "\u200b", "---", "..."]
yamlish = st.lists(st.sampled_from(YAML_BITS), max_size=40).map("".join)


@FAST
@given(st.one_of(yamlish, hostile,
                 st.builds(lambda cut, junk: TINY[:cut] + junk, st.integers(0, len(TINY)),
                           yamlish)))
def test_parse_knowledge_returns_problems_or_knowledge(text: str) -> None:
    knowledge, problems = parse_knowledge(text)
    assert knowledge is None or isinstance(knowledge, Knowledge)
    if knowledge is None:
        assert any(p.severity == "error" for p in problems)
    assert all(str(p) for p in problems)


def test_100k_character_input_is_cut_before_matching(conversation: Conversation,
                                                    monkeypatch) -> None:
    """A long message costs what a short one does: matching only ever sees its first
    MAX_QUERY_CHARS characters (the time it takes is measured in benchmarks/, not here)."""
    index = conversation.engine.index
    seen: list[int] = []
    vectorize = index.vectorize

    def spy(queries):
        seen.extend(len(q) for q in queries)
        return vectorize(queries)

    monkeypatch.setattr(index, "vectorize", spy)
    for text in ("tea " * 25_000, "a" * 100_000, "\u200b@everyone🙂" * 10_000,
                 "how long should i steep tea? " * 3_500):
        seen.clear()
        reply = conversation.reply("long", text)
        assert reply.text and len(reply.text) <= MAX_REPLY_CHARS
        assert seen and max(seen) <= MAX_QUERY_CHARS


@pytest.mark.skipif(importlib.util.find_spec("bot.discord_app") is None,
                    reason="bot/discord_app/presenters.py does not exist yet")
@FAST
@given(hostile)
def test_presenters_never_raise(conversation: Conversation, text: str) -> None:
    from bot.discord_app import presenters

    reply = conversation.reply("presenter", text)
    shown = presenters.present(reply, reply.suggestions)
    notice = presenters.present_notice(text)  # bounded even for arbitrary text
    assert len(notice.kwargs().get("content") or "") <= 2000
    kwargs = shown.kwargs()
    assert kwargs["allowed_mentions"].everyone is False  # the second line of defence
    content = kwargs.get("content") or ""
    assert len(content) <= 2000
    for embed in kwargs.get("embeds") or ():
        assert len(embed.description or "") <= 4096
        assert not LIVE_MENTION.search(clean(embed.description or "")), embed.description
    assert not LIVE_MENTION.search(clean(content)), content
