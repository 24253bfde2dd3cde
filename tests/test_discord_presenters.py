"""Pure presenter tests: each kind of `Reply` -> the exact embeds, buttons and mention policy."""

from __future__ import annotations

import discord
import pytest

from bot.conversation import Reply, Suggestion
from bot.discord_app.presenters import (
    Button,
    browse_pages,
    clip,
    present,
    present_about,
    present_notice,
    present_page,
)

D = "General information only."
S1 = Suggestion("cost", "How much does it cost?", "About $450.")
S2 = Suggestion("insurance", "Does insurance cover it?", "Usually not.")
BLURPLE, GOLD, GREY = 0x5865F2, 0xF1C40F, 0x979C9F


def test_allowed_mentions_none_parses_nothing():
    assert discord.AllowedMentions.none().to_dict() == {"parse": []}


def test_answer_embed_title_answer_footer_and_buttons():
    reply = Reply("answer", "Answering …", answer="About $450.", entry="cost",
                  question="How much does it cost?", disclaimer=D, confidence=0.9)

    shown = present(reply, related=(S2,))

    assert [e.to_dict() for e in shown.embeds] == [{
        "type": "rich", "flags": 0, "title": "How much does it cost?", "description": "About $450.",
        "color": BLURPLE, "footer": {"text": D}}]
    assert shown.buttons == (Button("Helpful", "helpful", "cost"),
                             Button("Not helpful", "not_helpful", "cost"),
                             Button("1. Does insurance cover it?", "entry", "insurance"))
    kwargs = shown.kwargs()
    assert kwargs["ephemeral"] is False and "content" not in kwargs
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}
    assert "ephemeral" not in shown.kwargs(interaction=False)


def test_answer_notice_becomes_a_field():
    reply = Reply("answer", "x", answer="A", entry="e", question="Q", disclaimer=D,
                  notice="Your message was long.")
    assert present(reply).embeds[0].to_dict()["fields"] == [
        {"name": "Note", "value": "Your message was long.", "inline": False}]


def test_clarify_lists_options_with_a_button_each():
    text = f"I'm not sure which of these you mean:\n  1. {S1.question}\n  2. {S2.question}\n" \
           f"Reply with a number, or ask in other words.\n\n{D}"
    reply = Reply("clarify", text, suggestions=(S1, S2), disclaimer=D)

    shown = present(reply)

    assert shown.embeds[0].to_dict() == {
        "type": "rich", "flags": 0, "title": "Did you mean…?", "color": GOLD, "footer": {"text": D},
        "description": text.removesuffix(D).strip()}
    assert shown.buttons == (Button("1. How much does it cost?", "entry", "cost"),
                             Button("2. Does insurance cover it?", "entry", "insurance"))
    assert shown.ephemeral is False


def test_unknown_with_related_questions():
    text = f"Sorry, I don't have an answer.\n  1. {S1.question}\n\n{D}"
    shown = present(Reply("unknown", text, suggestions=(S1,), disclaimer=D))
    assert shown.embeds[0].to_dict() == {
        "type": "rich", "flags": 0, "title": "No answer found", "color": GOLD,
        "footer": {"text": D},
        "description": f"Sorry, I don't have an answer.\n  1. {S1.question}"}
    assert [b.entry for b in shown.buttons] == ["cost"]


def test_personal_decision_refusal_title():
    shown = present(Reply("unknown", f"Ask your prescriber.\n\n{D}", route="personal",
                          disclaimer=D))
    assert shown.embeds[0].title == "I can't advise on that"
    assert shown.buttons == ()


def test_crisis_is_public_message_content_never_ephemeral():
    text = "Please reach out:\n• US: call or text **988**"
    shown = present(Reply("crisis", text, route="crisis"))

    kwargs = shown.kwargs()
    assert kwargs.pop("allowed_mentions").to_dict() == {"parse": []}
    assert kwargs == {"embeds": [], "content": text, "ephemeral": False}
    assert shown.buttons == ()


def test_chitchat_and_invalid():
    chat = present(Reply("chitchat", "Hi! Ask me anything.", route="smalltalk"))
    assert chat.embeds[0].to_dict() == {"type": "rich", "flags": 0, "color": GREY,
                                        "description": "Hi! Ask me anything."}
    assert chat.ephemeral is False
    invalid = present(Reply("invalid", "Please type a question.", route="invalid"))
    assert invalid.ephemeral is True
    assert invalid.embeds[0].description == "Please type a question."


@pytest.mark.parametrize("size", [10, 5000])
def test_embed_limits_are_respected(size):
    long = "word " * size
    reply = Reply("answer", long, answer=long, entry="e", question=long, disclaimer=long,
                  notice=long)
    embed = present(reply, related=[Suggestion("r", long, long)]).embeds[0]
    assert len(embed.title) <= 256 and len(embed.description) <= 4096
    assert len(embed.footer.text) <= 2048 and len(embed.fields[0].value) <= 1024
    assert len(embed) <= 6000
    assert all(len(b.label) <= 80 for b in present(reply, [Suggestion("r", long, "")]).buttons)


def test_notice_and_clip():
    kwargs = present_notice("Please wait.").kwargs()
    assert kwargs.pop("allowed_mentions").to_dict() == {"parse": []}
    assert kwargs == {"embeds": [], "content": "Please wait.", "ephemeral": True}
    assert clip("abcdef", 4) == "abc…" and clip(" ab ", 4) == "ab"


def test_about_and_pages(shipped_knowledge):
    about = present_about(shipped_knowledge).embeds[0].to_dict()
    assert about["title"] == shipped_knowledge.title
    assert [f["name"] for f in about["fields"]] == ["How it works", "Source", "Disclaimer",
                                                     "In a crisis"]
    assert "988" in about["fields"][-1]["value"]

    pages = browse_pages(shipped_knowledge.entries)
    assert sum(len(p) for p in pages) == len(shipped_knowledge)
    shown = present_page(pages[1], page=1, pages=len(pages), tag=None, title="FAQ")
    assert shown.embeds[0].footer.text.startswith(f"Page 2 of {len(pages)}")
    assert [b.entry for b in shown.buttons] == [e.id for e in pages[1]]
