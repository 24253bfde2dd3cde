"""The REPL, driven by a scripted transcript; the whole output is compared."""

from __future__ import annotations

import builtins
import io
import re
import subprocess
import sys
import threading

import pytest

from bot.conversation import Conversation
from bot.conversation.safety import RESOURCES_LINE
from bot.engine.engine import Engine
from bot.knowledge import parse_knowledge
from bot.repl import Repl
from bot.terminal import Terminal, markup, short_disclaimer
from tests.conftest import ROOT, TINY

DISCLAIMER = "General information only, not medical advice."
EXPECTED = f"""\
Tea FAQ: 3 questions I can answer. Ask in your own words; /help for help, /quit
to leave.
{DISCLAIMER}

you> hi
Hi! I answer questions about Tea. Ask me anything about it, or type “help” for
examples.

you> how long should i steep tea
Answering: “How long should I steep tea?”

Steep black tea for three to five minutes and green tea for two to three.

{DISCLAIMER}

you> green tea
I'm not sure which of these you mean:
  1. Does green tea have caffeine?
  2. What water temperature is best for tea?
Reply with a number, or ask in other words.

you> 2
Answering: “What water temperature is best for tea?”

Use boiling water for black tea and water around 80 degrees Celsius for green
tea.

{DISCLAIMER}

you> why
I answered the stored question: “What water temperature is best for tea?”. You
picked it from my suggestions. Words that matched: green, tea.

you> /related
Related questions:
  1. How long should I steep tea?
  2. Does green tea have caffeine?
Reply with a number to see one.

you> i want to kill myself
It sounds like you may be going through something really painful, and you
deserve support right now. Please reach out to a person who can help:
• US: call or text 988 (Suicide & Crisis Lifeline), or chat at 988lifeline.org.
• In immediate danger, or if you have taken something: call emergency services
  now (911 in the US and Canada, 112 in the EU, 999 in the UK).
• Other countries: find a local helpline at findahelpline.com.
I'm only an FAQ bot and can't help in a crisis, but the people at these lines
can, any time of day.

you> /quit
Goodbye!
"""
STEEP = "how long should i steep tea\n"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Tty(io.StringIO):
    """An output stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Watched(io.StringIO):
    """An output stream that signals when `marker` has been written."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.seen = marker, threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.marker in self.getvalue():
            self.seen.set()
        return written


@pytest.fixture
def conversation() -> Conversation:
    knowledge, _ = parse_knowledge(TINY)
    return Conversation(Engine(knowledge))


def run(conversation: Conversation, script, reload=None, **options) -> str:
    out = options.pop("stdout", None) or io.StringIO()
    stdin = io.StringIO(script) if isinstance(script, str) else script
    Repl(conversation, stdin=stdin, stdout=out, reload=reload, **options).run()
    return out.getvalue()


def new_engine(answer: str = "Steep any tea for four minutes.") -> Engine:
    knowledge, _ = parse_knowledge(TINY.replace(
        "Steep black tea for three to five minutes and green tea for two to three.", answer))
    return Engine(knowledge)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_scripted_transcript(conversation):
    script = ("hi\nhow long should i steep tea\ngreen tea\n2\nwhy\n/related\n"
              "i want to kill myself\n/quit\nnever read\n")
    assert run(conversation, script) == EXPECTED


def test_end_of_input_says_goodbye(conversation):
    assert run(conversation, "").endswith(f"/quit\nto leave.\n{DISCLAIMER}\n\nGoodbye!\n")


# ---------------------------------------------------------------------- wrapping
def test_replies_wrap_at_the_width_and_never_break_a_word(conversation):
    out = run(conversation, "i want to kill myself\n", width=31)
    assert max(len(line) for line in out.splitlines()) <= 31
    crisis = conversation.reply("other", "i want to kill myself").text.replace("**", "")
    assert flat(crisis) in flat(out)  # the same words, in order, none cut in two


def test_list_lines_keep_their_indent_and_blank_lines_stay(conversation):
    out = run(conversation, "i want to kill myself\n", width=40)
    assert "\n• In immediate danger, or if you have\n  taken something: call emergency\n" \
        in out
    assert "Goodbye!" in out.split("\n\n")[-1]


def test_a_long_word_is_kept_whole_on_its_own_line():
    screen = Terminal(io.StringIO(), width=10)
    assert screen.render("see https://example.com/a/long/path now") == \
        "see\nhttps://example.com/a/long/path\nnow"


def test_terminal_width_is_the_window_width_and_80_in_a_pipe(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    text = "word " * 40
    assert max(map(len, Terminal(Tty()).render(text).splitlines())) <= 30
    assert max(map(len, Terminal(io.StringIO()).render(text).splitlines())) == 79


# ---------------------------------------------------------------------- emphasis
def test_markdown_emphasis_is_styled_on_a_terminal_and_plain_in_a_pipe(conversation):
    piped = run(conversation, "i want to kill myself\n")
    assert "call or text 988 (Suicide" in piped and "**" not in piped and "\x1b" not in piped
    out = Tty()
    run(conversation, "i want to kill myself\n", stdout=out)
    assert "call or text \x1b[1m988\x1b[0m (Suicide" in out.getvalue()


def test_markup_reads_bold_italic_and_code_and_leaves_lone_markers():
    plain, styles = markup("**a** *b* _c_ `d` 5 * 3 snake_case_name")
    assert plain == "a b c d 5 * 3 snake_case_name"
    assert [styles[plain.index(ch)] for ch in "abcd"] == ["1", "3", "3", "36"]
    assert set(styles[plain.index("5"):]) == {""}


def test_no_color_when_asked(monkeypatch, conversation):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Tty()
    run(conversation, "i want to kill myself\n", stdout=out)
    assert "\x1b" not in out.getvalue() and "**" not in out.getvalue()


# ---------------------------------------------------------------------- disclaimer, notices
def test_disclaimer_only_under_answers_and_in_one_short_line(conversation):
    out = run(conversation, "how do i knit a scarf\nhi\n" + STEEP + "more\nthanks\n")
    # once in the welcome, once under the one answer; not under "I don't know", the list
    # or small talk
    assert out.count(DISCLAIMER) == 2
    assert f"green tea for two to three.\n\n{DISCLAIMER}\n\nyou> more" in out


def test_short_disclaimer_is_the_first_sentence_cut_at_a_clause():
    disclaimer = ("This is general information only, not medical advice, and it is not a "
                  "substitute for a clinician. Talk to your prescriber.")
    assert short_disclaimer(disclaimer, 80) == \
        "This is general information only, not medical advice."


def test_notices_are_shown_once(conversation):
    out = run(conversation, "¿cuánto tiempo tengo que dejar reposar el té verde?\n")
    assert flat(out).count(RESOURCES_LINE) == 1
    short = Conversation(conversation.engine, max_input_chars=40)
    out = run(short, " ".join([STEEP.strip()] * 3) + "\n")
    assert flat(out).count("I only read its first 40 characters.") == 1
    assert f"you> {STEEP.strip()} how long sho…\n" in out  # as far as it was read
    assert "three to five minutes" in out


# ---------------------------------------------------------------------- leaving
def interactive_run(conversation, monkeypatch, typed: list, **options) -> str:
    """A terminal session: each item is a typed line, or an exception raised at the prompt
    after the text typed so far (EOFError: Ctrl-D, KeyboardInterrupt: Ctrl-C)."""
    out = options.pop("stdout", None) or io.StringIO()

    def fake_input(prompt: str) -> str:
        out.write(prompt)
        item = typed.pop(0)
        if callable(item):
            item = item()
        if isinstance(item, tuple):  # (text typed, exception)
            out.write(item[0])
            raise item[1]
        out.write(item + "\n")  # the terminal echoes what is typed
        return item

    monkeypatch.setattr(builtins, "input", fake_input)
    Repl(conversation, stdin=io.StringIO(), stdout=out, interactive=True, **options).run()
    return out.getvalue()


def test_ctrl_c_at_the_prompt_ends_the_line_then_says_goodbye(conversation, monkeypatch):
    out = interactive_run(conversation, monkeypatch, [("how much", KeyboardInterrupt())])
    assert out.endswith("\nyou> how much\nGoodbye!\n")


def test_ctrl_d_at_the_prompt_ends_the_line_then_says_goodbye(conversation, monkeypatch):
    out = interactive_run(conversation, monkeypatch, ["hi", ("", EOFError())])
    assert out.endswith("examples.\n\nyou> \nGoodbye!\n")


# ---------------------------------------------------------------------- hostile input
def test_piped_input_is_echoed_without_escapes_or_control_characters(conversation):
    script = ("\x1b]0;pwned\x07how long should i steep tea\n\x1b[2J\x00hi\u202e\n"
              "/why\x1b[31m\n")
    out = run(conversation, script)
    assert "you> how long should i steep tea\n" in out and "you> hi\n" in out
    assert "you> /why\n" in out
    assert not CONTROL.search(out) and "pwned" not in out


def test_reply_text_is_made_printable_too(conversation):
    knowledge, _ = parse_knowledge(TINY.replace("two to three.", "two to three.\\x1b[2J"))
    out = run(Conversation(Engine(knowledge)), STEEP)
    assert "\x1b" not in out and "two to three." in out


# ---------------------------------------------------------------------- /reload
def test_reload_keeps_old_knowledge_on_error(conversation):
    out = run(conversation, "/reload\n", reload=lambda: (None, ["kb.yaml:3:1: error bad"]))
    assert "you> /reload\nkb.yaml:3:1: error bad\nKept the knowledge that was already loaded.\n" \
        in out


def test_reload_swaps_engine_and_reports_notices_right_away_when_quick(conversation):
    knowledge, _ = parse_knowledge(TINY.replace("Tea FAQ", "Tisane FAQ"))
    out = run(conversation, "/reload\n",
              reload=lambda: (Engine(knowledge), ["the model was adapted to 3 entries"]))
    assert "you> /reload\nthe model was adapted to 3 entries\nReloaded: 3 entries.\n\n" in out
    assert conversation.knowledge.title == "Tisane FAQ"


def test_a_failing_reload_is_reported_and_the_chat_goes_on(conversation):
    def broken():
        raise OSError("disk on fire")

    out = run(conversation, "/reload\n" + STEEP, reload=broken)
    assert "Reload failed: disk on fire\nKept the knowledge that was already loaded." in out
    assert "three to five minutes" in out


def test_a_slow_reload_runs_in_the_background_and_reports_when_ready(conversation):
    go = threading.Event()
    out = Watched("Reloaded:")

    def reload():
        assert go.wait(30)
        return new_engine(), ["model is stale"]

    def script():
        yield "/reload\n"
        yield STEEP  # answered by the old engine meanwhile
        yield "/reload\n"
        go.set()  # the reload finishes while the chat waits for the next line
        assert out.seen.wait(30)
        yield STEEP

    text = run(conversation, script(), reload=reload, reload_wait=0, stdout=out)
    old, new = text.index("three to five minutes"), text.index("four minutes")
    assert text.index("in the background") < old < text.index("Still reloading") < \
        text.index("model is stale\nReloaded: 3 entries.") < new


def test_a_reload_done_during_a_reply_is_reported_before_the_next(conversation):
    go = threading.Event()
    class Log:  # called during the first reply: lets the reload finish meanwhile
        def record_reply(self, query, reply):
            if repl.reloading:
                go.set()
                assert repl.reloading.done.wait(30)

    out = io.StringIO()
    repl = Repl(conversation, stdin=io.StringIO(f"/reload\n{STEEP}{STEEP}"), stdout=out,
                reload=lambda: (go.wait(30), (new_engine(), []))[1], reload_wait=0,
                query_log=Log())
    repl.run()
    text = out.getvalue()
    assert text.index("three to five") < text.index("Reloaded: 3 entries.\n\nyou> how") < \
        text.index("four minutes")


def test_a_piped_session_waits_for_its_reload_before_goodbye(conversation):
    go = threading.Event()

    def script():
        yield "/reload\n"
        go.set()

    text = run(conversation, script(), reload=lambda: (go.wait(30), (new_engine(), []))[1],
               reload_wait=0)
    assert text.endswith("Reloaded: 3 entries.\n\nGoodbye!\n")


def test_at_the_prompt_a_finished_reload_prints_and_redraws_the_prompt(conversation,
                                                                         monkeypatch):
    go = threading.Event()
    out = Watched("Reloaded:")

    def wait_for_report():
        go.set()
        assert out.seen.wait(30)
        return "/quit"

    text = interactive_run(conversation, monkeypatch, ["/reload", wait_for_report],
                           reload=lambda: (go.wait(30), (new_engine(), []))[1],
                           reload_wait=0, stdout=out)
    assert text.endswith("already loaded.\n\nyou> \nReloaded: 3 entries.\n\n"
                         "you> /quit\nGoodbye!\n")
    assert conversation.answer("how long should i steep tea").answer.startswith("Steep any")


def test_unknown_command_lists_commands(conversation):
    assert "Commands: /help, /why, /related, /reload, /quit." in run(conversation, "/nope\n")


# ---------------------------------------------------------------------- the real command
def test_piped_cli_session_reads_as_a_conversation():
    result = subprocess.run([sys.executable, "-m", "bot"], input="hi\nbye\n", text=True,
                            capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("IV Ketamine Infusion Therapy FAQ: 33 questions")
    assert "you> hi" in lines and "you> bye" in lines
    assert lines[-1] == "Goodbye!"
    assert max(map(len, lines)) <= 80


def test_hostile_transcript_finishes_cleanly_with_nothing_unprintable_in_the_output():
    transcript = b"".join([
        b"\x1b]0;pwned\x07what does it cost\n",
        b"\x1b[2J\x1b[31mis it safe\x1b[0m\n",
        b"nul\x00 in the middle\n",
        "ما هو الكيتامين؟\n".encode(),
        "מה זה קטמין\n".encode(),
        "abc\u202edcba ketamine\n".encode(),
        b"invalid \xff\xfe\xc3 utf-8 \xed\xa0\x80 here\n",
        b"x" * 100_000 + b"\n",
        ("how much does it cost " * 5000).encode() + b"\n",
        b"/why\n",
        b"no newline at the end",
    ])
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], input=transcript,
                            capture_output=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    out = result.stdout.decode("utf-8")  # strict: the output is valid UTF-8
    assert not CONTROL.search(out)
    assert "pwned" not in out and "you> ما هو الكيتامين؟" in out
    assert out.count("you> ") == 11 and out.endswith("Goodbye!\n")
