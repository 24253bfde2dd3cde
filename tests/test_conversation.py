"""The conversation layer: routing order, safety, small talk, follow-ups, sessions."""

from __future__ import annotations

import pytest

from bot.conversation import Conversation
from bot.conversation.safety import is_crisis, is_personal_decision, neutralize_mentions
from bot.conversation.sessions import SessionStore
from bot.engine.engine import Engine
from bot.knowledge import parse_knowledge
from tests.conftest import TINY


@pytest.fixture(scope="module")
def engine() -> Engine:
    knowledge, _ = parse_knowledge(TINY.replace(
        "source: written for the tests",
        "source: written for the tests\ncrisis_message: Please talk to someone now."))
    return Engine(knowledge)


@pytest.fixture
def chat(engine) -> Conversation:
    return Conversation(engine)


CRISIS = [
    "i'm going to kill myself tonight",
    "I want to end my life",
    "kms",
    "thinking about unaliving myself tbh",
    "everyone would be better off without me",
    "I swallowed a whole bottle of my pills",
    "i took the whole bottle",
    "I've been cutting myself again",
    "im suicidal",
    "the noose is ready",
    "this is my last message to anyone",
    "I don't want to be alive anymore",
    "ya no quiero vivir, voy a matarme",
    "tonight i'm ending it",
    "i'm gonna take all my pills",
    "I wish I could fall asleep and never wake up",
    "nobody will miss me when im gone",
    "life isn't worth living",
    "i'm done with life",
]
NOT_CRISIS = [
    "does ketamine help with suicidal thoughts?",
    "is ketamine used for suicidal ideation",
    "my brother attempted suicide years ago, can he get infusions?",
    "what is the suicide rate in depression",
    "how long should i steep tea",
    "can ketamine kill pain",
    "i'm cutting back on coffee before my infusion",
    "i'm ending my therapy sessions, can i still get ketamine",
    "this traffic is killing me",
]


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_signals(text):
    assert is_crisis(text)


@pytest.mark.parametrize("text", NOT_CRISIS)
def test_informational_mentions_are_not_crisis(text):
    assert not is_crisis(text)


def test_crisis_reply_leads_with_resources_whatever_the_state(chat):
    chat.reply("u", "green tea")  # a pending clarify must not swallow the crisis
    reply = chat.reply("u", "2 pills left and i'm going to kill myself")
    assert reply.status == "crisis" and reply.route == "crisis"
    lines = reply.text.splitlines()
    assert lines[0] == "Please talk to someone now."  # configurable lead-in
    assert "988" in lines[1] and "911" in lines[2] and "findahelpline.com" in lines[3]
    assert reply.answer is None and reply.suggestions == ()


def test_knowledge_cannot_switch_crisis_resources_off(engine):
    knowledge, _ = parse_knowledge(TINY.replace(
        "source: written for the tests", "source: x\ncrisis_message: Hello."))
    reply = Conversation(Engine(knowledge)).reply("u", "kms")
    assert reply.text.startswith("Hello.\n")
    assert "988" in reply.text and "findahelpline.com" in reply.text


@pytest.mark.parametrize("text", [
    "how much ketamine should I take", "can I stop my sertraline before the infusion",
    "is it safe for me with my heart condition", "what dose should i use for 80kg",
    "should I double my dose"])
def test_personal_medical_decisions_are_deflected(chat, text):
    assert is_personal_decision(text)
    reply = chat.reply("u", text)
    assert (reply.status, reply.route) == ("unknown", "personal")
    assert "prescriber" in reply.text and reply.answer is None


@pytest.mark.parametrize("text", ["Do I need someone to drive me home after an infusion?",
                                  "will i be tired after my infusion",
                                  "how much does an infusion cost"])
def test_first_person_questions_are_not_all_personal(text):
    assert not is_personal_decision(text)


@pytest.mark.parametrize(("text", "kind"), [("hi", "smalltalk"), ("Thanks!", "smalltalk"),
                                             ("bye", "smalltalk"), ("help", "smalltalk"),
                                             ("who are you?", "smalltalk")])
def test_small_talk(chat, text, kind):
    reply = chat.reply("u", text)
    assert (reply.status, reply.route) == ("chitchat", kind)


def test_help_lists_example_questions(chat):
    text = chat.reply("u", "what can i ask").text
    assert "• Does green tea have caffeine?" in text


@pytest.mark.parametrize("text", ["", "   ", "?!?...", "\u200b\u200b", "\x00\x07\x1b[2J"])
def test_invalid_input_gets_a_prompt(chat, text):
    reply = chat.reply("u", text)
    assert reply.status == "invalid" and "Please type a question about Tea" in reply.text


def test_overlong_input_is_cut_with_a_notice(chat):
    reply = chat.reply("u", "how long should i steep tea " + "x" * 5000)
    assert reply.notice.startswith("Your message was long")
    assert reply.text.startswith("(Your message was long")
    assert len(reply.text) <= 4000


def test_every_answer_carries_disclaimer_and_stored_question(chat):
    reply = chat.reply("u", "how long do i steep black tea")
    assert reply.status == "answer" and reply.entry == "brew-time"
    assert reply.text.startswith("Answering: “How long should I steep tea?”")
    assert reply.text.endswith("General information only, not medical advice.")


def test_greeting_before_a_question_is_ignored(chat):
    assert chat.reply("u", "Hi there! how hot should the water be").entry == "water-temperature"


def test_clarify_then_pick_by_number_or_text(chat):
    reply = chat.reply("u", "green tea")
    assert reply.status == "clarify"
    assert [s.entry for s in reply.suggestions] == ["green-tea-caffeine", "water-temperature"]
    assert chat.reply("u", "the second one").entry == "water-temperature"
    chat.reply("u", "green tea")
    assert chat.reply("u", "Does green tea have caffeine").entry == "green-tea-caffeine"
    chat.reply("u", "green tea")
    assert chat.reply("u", "7").text.startswith("Please pick a number from 1 to 2")


def test_numbers_without_options_are_not_picks(chat):
    reply = chat.reply("fresh", "2")
    assert reply.route == "smalltalk" and reply.text.startswith("There is no list to pick")


def test_more_and_why_follow_the_last_answer(chat):
    chat.reply("u", "how long should i steep tea")
    related = chat.reply("u", "more")
    assert related.route == "related" and related.suggestions
    assert "brew-time" not in [s.entry for s in related.suggestions]
    chat.reply("u", "how long should i steep tea")
    why = chat.reply("u", "why")
    assert why.route == "why" and "How long should I steep tea?" in why.text
    assert "Confidence:" in why.text


def test_sessions_are_separate(chat):
    chat.reply("a", "green tea")
    assert chat.reply("b", "1").route != "followup"
    assert chat.reply("a", "1").route == "followup"


def test_session_store_is_bounded_and_expires():
    now = [0.0]
    store = SessionStore(max_sessions=2, idle_seconds=10, clock=lambda: now[0])
    store.get("a").options = ("x",)
    store.get("b")
    store.get("c")  # evicts the least recently used ("a")
    assert len(store) == 2 and store.get("a").options == ()
    now[0] = 100.0
    store.get("d")
    assert len(store) == 1


def test_mentions_in_output_are_neutralised():
    text = neutralize_mentions("@everyone ＠here <@&123> <@!45> <#67> @\u200beveryone")
    assert "@everyone" not in text and "@here" not in text
    assert "<@&" not in text and "<@!" not in text and "<#" not in text


def test_replies_never_echo_user_text(chat):
    for text in ["@everyone what is tea", "[x](http://evil.example) steep time",
                 "<@&123> how hot"]:
        reply = chat.reply("u", text)
        assert "@everyone" not in reply.text and "evil.example" not in reply.text
        assert "<@&123>" not in reply.text


def test_json_contract(chat):
    data = chat.reply("u", "how hot should the water be").to_dict()
    assert set(data) >= {"status", "text", "answer", "entry", "question", "confidence",
                         "suggestions"}
    assert data["status"] == "answer" and 0 <= data["confidence"] <= 1
    clarify = chat.reply("u", "green tea").to_dict()
    assert clarify["answer"] is None
    assert set(clarify["suggestions"][0]) == {"entry", "question", "answer"}


def test_no_stored_phrasing_is_routed_away_from_its_answer(shipped_knowledge):
    """Safety routing runs before retrieval, so it must never swallow a stored question."""
    routed = [(e.id, p) for e in shipped_knowledge.entries for p in e.phrasings
              if is_crisis(p) or is_personal_decision(p)]
    assert not routed
