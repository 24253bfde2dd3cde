"""The local chat: a read-eval-print loop over a Conversation, with injected streams so a test
can feed a transcript and compare the whole output. Rendering is in `bot.terminal`.

`/reload` rebuilds the engine in a thread (seconds when the knowledge changed) while the chat
keeps answering with the old one. A lock lets one thread at a time print or use the
conversation: the worker reports its result at once if the chat is waiting for input, and
otherwise the chat reports it before its next reply.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

from bot.conversation import Conversation, language
from bot.engine.engine import Engine
from bot.querylog import QueryLog
from bot.terminal import DIM, Terminal
from bot.textio import printable, read_lines

PROMPT = "you> "
SESSION = "repl"
RELOAD_WAIT = 1.0  # seconds: a reload done by then is reported as if it had not been threaded
COMMANDS = {"/help": "help", "/why": "why", "/related": "related", "/more": "more"}
Reloader = Callable[[], tuple[Engine | None, list[str]]]


class Reloading:
    """One /reload running in a daemon thread (a terminal chat that ends does not wait)."""

    def __init__(self, reload: Reloader, when_done: Callable[[], None]):
        self.result: tuple[Engine | None, list[str]] = (None, [])
        self.done = threading.Event()
        self._reload, self._when_done = reload, when_done
        threading.Thread(target=self._run, name="reload", daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self._reload()
        except Exception as exc:  # a failed reload must not end the chat
            self.result = (None, [f"Reload failed: {exc}"])
        self.done.set()
        self._when_done()


class Repl:
    """Reads lines, prints replies. `reload` re-reads the knowledge (None: /reload disabled);
    `width` and `color` override what the output stream says about itself."""

    def __init__(self, conversation: Conversation, *, stdin: TextIO, stdout: TextIO,
                 interactive: bool = False, reload: Reloader | None = None,
                 query_log: QueryLog | None = None, width: int | None = None,
                 color: bool | None = None, reload_wait: float = RELOAD_WAIT):
        self.conversation = conversation
        self.stdin = stdin
        self.screen = Terminal(stdout, width=width, color=color)
        self.interactive = interactive
        self.reload = reload
        self.query_log = query_log
        self.reload_wait = reload_wait
        self._piped: Iterator[str] | None = None
        self._lock = threading.Lock()
        self._waiting = False  # for input: a finished reload may print right away
        self.reloading: Reloading | None = None  # the /reload in progress

    def say(self, text: str = "") -> None:
        self.screen.say(text)

    def welcome(self) -> None:
        knowledge = self.conversation.knowledge
        self.say(f"{knowledge.title}: {len(knowledge)} questions I can answer. Ask in your own "
                 "words; /help for help, /quit to leave.")
        self.screen.say(knowledge.disclaimer, style=DIM)  # in full once; answers repeat a line
        self.say()

    def read(self) -> str | None:
        """One line, or None at end of input."""
        if self.interactive:
            try:
                return input(PROMPT)
            except EOFError:  # Ctrl-D: the cursor is still after the prompt
                self.say()
                return None
            except UnicodeDecodeError:  # bytes the terminal's encoding cannot read
                return ""
        if self._piped is None:
            self._piped = read_lines(self.stdin)
        return next(self._piped, None)

    def run(self) -> int:
        if self.interactive:  # while the person types, not in their first foreign question
            threading.Thread(target=language.warm_up, name="warm-up", daemon=True).start()
        try:
            with self._lock:
                self.welcome()
            while (line := self._next_line()) is not None:
                with self._lock:
                    if not self.interactive:  # echo piped input so the output reads as a chat
                        self.screen.say(self._shown(line), prompt=PROMPT)
                    if not self.handle(line):
                        break
            if not self.interactive and self.reloading:  # a script's output is complete
                self.reloading.done.wait()
                with self._lock:
                    self._report_reload()
        except KeyboardInterrupt:  # Ctrl-C, maybe mid-line: end it
            self.say()
        self.say("Goodbye!")
        return 0

    def _next_line(self) -> str | None:
        with self._lock:
            self._report_reload()
            self._waiting = True
        try:
            return self.read()
        finally:
            self._waiting = False

    def _shown(self, line: str) -> str:
        """Piped input as echoed: printable, and as long as the part the bot reads."""
        line = printable(line)
        limit = self.conversation.max_input_chars
        return line if len(line) <= limit else line[:limit] + "…"

    def handle(self, line: str) -> bool:
        """Process one line; False ends the loop."""
        line = printable(line)  # no escapes or control characters go any further
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            return False
        if command == "/reload":
            self.do_reload()
        elif command.startswith("/"):
            if command not in COMMANDS:
                self.say("Commands: /help, /why, /related, /reload, /quit.")
                self.say()
                return True
            self.screen.show(self.conversation.reply(SESSION, COMMANDS[command]))
        else:
            reply = self.conversation.reply(SESSION, line)
            if self.query_log is not None:
                self.query_log.record_reply(line, reply)
            self.screen.show(reply)
        return True

    # ------------------------------------------------------------------ /reload
    def do_reload(self) -> None:
        if self.reload is None:
            self.say("Reloading is not available here.")
        elif self.reloading is not None:
            self.say("Still reloading; I'll tell you when it is done.")
        else:
            job = self.reloading = Reloading(self.reload, self._reload_done)
            ready = job.done.wait(self.reload_wait)
            if self.interactive:  # keys typed meanwhile are read at the next prompt
                self.screen.clear_line()
            if ready:
                self._report_reload()
                return
            self.say("Reloading in the background; until it is ready, I answer from the "
                     "knowledge already loaded.")
        self.say()

    def _reload_done(self) -> None:
        """In the worker: report now if the chat is waiting for input."""
        with self._lock:
            if not self._waiting or self.reloading is None:
                return  # the chat reports it before its next reply
            if self.interactive and self.screen.tty:  # the report replaces the prompt...
                self.screen.clear_line()
            elif self.interactive:
                self.say()
            self._report_reload()
            if self.interactive:  # ...which is then redrawn, with what was typed so far
                self.screen.write(PROMPT + _typed_so_far())

    def _report_reload(self) -> None:
        """Swap in a finished reload's engine and say what happened (with the lock held)."""
        job = self.reloading
        if job is None or not job.done.is_set():
            return
        self.reloading = None
        engine, messages = job.result
        for message in messages:  # loader notices: errors, a model adapted or stale
            self.say(message)
        if engine is not None:
            self.conversation.swap_engine(engine)
            self.say(f"Reloaded: {len(engine.knowledge)} entries.")
        else:
            self.say("Kept the knowledge that was already loaded.")
        self.say()


def _typed_so_far() -> str:
    """What the user has typed at the prompt (readline's buffer, when line editing is on)."""
    readline = sys.modules.get("readline")
    return printable(readline.get_line_buffer()) if readline else ""
