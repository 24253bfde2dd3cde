"""The REPL, driven by a scripted transcript; the whole output is compared."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from bot.conversation import Conversation
from bot.engine.engine import Engine
from bot.knowledge import parse_knowledge
from bot.repl import Repl
from tests.conftest import ROOT, TINY

DISCLAIMER = "General information only, not medical advice."
EXPECTED = f"""\
Tea FAQ: 3 questions I can answer. Ask in your own words; /help for help, /quit to leave.

you> hi
Hi! I answer questions about Tea. Ask me anything about it, or type “help” for examples.

you> how long should i steep tea
Answering: “How long should I steep tea?”

Steep black tea for three to five minutes and green tea for two to three.

{DISCLAIMER}

you> green tea
I'm not sure which of these you mean:
  1. Does green tea have caffeine?
  2. What water temperature is best for tea?
Reply with a number, or ask in other words.

{DISCLAIMER}

you> 2
Answering: “What water temperature is best for tea?”

Use boiling water for black tea and water around 80 degrees Celsius for green tea.

{DISCLAIMER}

you> why
I answered the stored question: “What water temperature is best for tea?”. You picked it \
from my suggestions. Words that matched: green, tea.

you> /related
Related questions:
  1. How long should I steep tea?
  2. Does green tea have caffeine?
Reply with a number to see one.

{DISCLAIMER}

you> i want to kill myself
It sounds like you may be going through something really painful, and you deserve support \
right now. Please reach out to a person who can help:
• US: call or text **988** (Suicide & Crisis Lifeline), or chat at 988lifeline.org.
• In immediate danger, or if you have taken something: call emergency services now (911 in \
the US and Canada, 112 in the EU, 999 in the UK).
• Other countries: find a local helpline at findahelpline.com.
I'm only an FAQ bot and can't help in a crisis, but the people at these lines can, any time \
of day.

you> /quit
Goodbye!
"""


@pytest.fixture
def conversation() -> Conversation:
    knowledge, _ = parse_knowledge(TINY)
    return Conversation(Engine(knowledge))


def run(conversation: Conversation, script: str, reload=None) -> str:
    out = io.StringIO()
    Repl(conversation, stdin=io.StringIO(script), stdout=out, reload=reload).run()
    return out.getvalue()


def test_scripted_transcript(conversation):
    script = ("hi\nhow long should i steep tea\ngreen tea\n2\nwhy\n/related\n"
              "i want to kill myself\n/quit\nnever read\n")
    assert run(conversation, script) == EXPECTED


def test_end_of_input_says_goodbye(conversation):
    assert run(conversation, "").endswith("/quit to leave.\n\nGoodbye!\n")


def test_reload_keeps_old_knowledge_on_error(conversation):
    out = run(conversation, "/reload\n", reload=lambda: (None, ["kb.yaml:3:1: error bad"]))
    assert "you> /reload\nkb.yaml:3:1: error bad\nKept the knowledge that was already loaded.\n" \
        in out


def test_reload_swaps_engine(conversation):
    knowledge, _ = parse_knowledge(TINY.replace("Tea FAQ", "Tisane FAQ"))
    out = run(conversation, "/reload\n", reload=lambda: (Engine(knowledge), []))
    assert "Reloaded: 3 entries." in out
    assert conversation.knowledge.title == "Tisane FAQ"


def test_unknown_command_lists_commands(conversation):
    assert "Commands: /help, /why, /related, /reload, /quit." in run(conversation, "/nope\n")


def test_piped_cli_session_reads_as_a_conversation():
    result = subprocess.run([sys.executable, "-m", "bot"], input="hi\nbye\n", text=True,
                            capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("IV Ketamine Infusion Therapy FAQ: 33 questions")
    assert "you> hi" in lines and "you> bye" in lines
    assert lines[-1] == "Goodbye!"


def test_repl_logs_unanswered_questions_when_asked_to(conversation, tmp_path):
    from bot.querylog import QueryLog, read_log

    log = QueryLog(tmp_path / "log.jsonl")
    Repl(conversation, stdin=io.StringIO("how hot\nweather in paris, mail me at a@b.com\n"),
         stdout=io.StringIO(), query_log=log).run()
    records = read_log(tmp_path / "log.jsonl")
    assert [(r["status"], r["query"]) for r in records] == [
        ("unknown", "weather in paris, mail me at [email]")]
