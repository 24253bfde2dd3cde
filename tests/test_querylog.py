"""The maintainer's query log: what the scrubber removes, that it runs in linear time on
hostile input, and that no input can make a write fail a reply."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from bot.conversation import Conversation
from bot.engine.engine import Engine
from bot.knowledge import parse_knowledge
from bot.querylog import MAX_SCRUB_CHARS, QueryLog, read_log, scrub
from bot.repl import Repl
from tests.conftest import ROOT, TINY


@pytest.mark.parametrize(("text", "scrubbed"), [
    ("mail me@x.org, ok?", "mail [email], ok?"),
    ("call 555-1234 now", "call [phone] now"),
    ("call 5551234", "call [phone]"),
    ("call +1 555 123 4567 or (555) 123-4567.", "call [phone] or [phone]."),
    ("my id is 123456789012345678 ok", "my id is [id] ok"),
    ("user 80351110224678912 and 1234567890123456789", "user [id] and [id]"),
    ("@\u200beveryone <@123456789> <@!42> <#7> @someone", "[mention] " * 4 + "[mention]"),
    ("join discord.gg/AbCd12 now", "join [invite] now"),
    ("https://discord.com/invite/xyz?event=1 or discordapp.com/invite/q",
     "[invite] or [invite]"),
    ("see https://example.com/reset/page?token=abc123&u=2 thanks",
     "see https://example.com/reset/page thanks"),
    ("https://user:secret@host.io/a#access_token=x", "https://host.io/a"),
    ("www.site.com/a?b=c and site.org/reset?token=abc", "www.site.com/a and site.org/reset"),
    ("https://example.com/path stays", "https://example.com/path stays"),
    # what a question is made of stays
    ("is 100 mg ok? 2 times a day, for 40 minutes?", "is 100 mg ok? 2 times a day, for 40 "
     "minutes?"),
    ("dose 0.5 mg/kg, $1,000,000 in 2024", "dose 0.5 mg/kg, $1,000,000 in 2024"),
])
def test_scrub_removes_contacts_ids_and_secrets(text, scrubbed):
    assert scrub(text) == scrubbed


def test_scrub_bounds_its_input_and_never_leaves_half_a_number():
    assert len(scrub("word " * 100_000)) <= MAX_SCRUB_CHARS
    # The cut falls inside the phone number: the part before the cut is dropped too.
    text = "x" * (MAX_SCRUB_CHARS - 12) + " 555 123 4567 and more"
    assert scrub(text) == "x" * (MAX_SCRUB_CHARS - 12)


ADVERSARIAL = {  # each was quadratic (or worse) for some pattern of a backtracking scrubber
    "letters": "a" * 1_000_000,
    "digits": "1" * 1_000_000,
    "spaced digits": "1 " * 500_000,
    "digits then a letter": ("1-" * 6 + "1" * 50 + "x ") * 15_000,
    "at signs": "a@" * 500_000,
    "address without a dot": "x@" + "a" * 1_000_000,
    "dots": "a." * 500_000,
    "www": "www." * 250_000,
    "schemes": "http://" * 140_000,
    "mention openers": "<@" * 500_000,
    "query marks": "/?a" * 330_000,
    "invites": "discord.gg" * 100_000,
}


def test_scrub_is_linear_on_a_million_characters_of_hostile_input():
    # No timing is asserted: the quadratic scrubber took 2.9 s on 16,000 characters, so a
    # million (4,000 times the work) would take hours; the linear one takes well under a
    # second each. The generous timeout only turns a regression into a failure, not a hang.
    script = ("import json, sys\nfrom bot.querylog import scrub\n"
              "for text in json.load(sys.stdin): scrub(text, limit=None)\nprint('done')\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(
        list(ADVERSARIAL.values())), text=True, capture_output=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


@pytest.fixture
def conversation() -> Conversation:
    knowledge, _ = parse_knowledge(TINY)
    return Conversation(Engine(knowledge))


@pytest.mark.parametrize("text", ["what about mars \ud800", "\udcff\udcfe", "a\ud83d b"])
def test_a_lone_surrogate_is_logged_not_raised(tmp_path, conversation, text):
    log = QueryLog(tmp_path / "q.jsonl")
    reply = conversation.reply("u", text)
    log.record_reply(text, reply)
    log.record_feedback("brew-time", helpful=False, query=text)
    records = read_log(log.path)  # valid UTF-8 JSON lines
    assert len(records) == 1 + log.should_log(reply) and log.dropped == 0
    assert "\ud800" not in log.path.read_text(encoding="utf-8")


def test_chat_with_the_log_on_survives_a_lone_surrogate(tmp_path, conversation):
    log = QueryLog(tmp_path / "q.jsonl")
    out = io.StringIO()
    Repl(conversation, stdin=io.StringIO("what about mars \ud800 and venus\n/quit\n"),
         stdout=out, query_log=log).run()
    assert "Goodbye!" in out.getvalue()
    assert read_log(log.path)[0]["query"].startswith("what about mars ")


def test_a_huge_line_is_logged_bounded(tmp_path, conversation):
    log = QueryLog(tmp_path / "q.jsonl")
    text = "zzq " + "a@" * 50_000
    log.record_reply(text, conversation.reply("u", text))
    assert len(read_log(log.path)[0]["query"]) <= 500
