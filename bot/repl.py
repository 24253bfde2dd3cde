"""The local chat: a read-eval-print loop over a Conversation, with injected streams so a test
can feed a transcript and compare the whole output."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TextIO

from bot.conversation import Conversation, Reply
from bot.engine.engine import Engine
from bot.querylog import QueryLog

PROMPT = "you> "
SESSION = "repl"
Reloader = Callable[[], tuple[Engine | None, list[str]]]


class Repl:
    """Reads lines, prints replies. `reload` re-reads the knowledge (None: /reload disabled)."""

    def __init__(self, conversation: Conversation, *, stdin: TextIO, stdout: TextIO,
                 interactive: bool = False, reload: Reloader | None = None,
                 query_log: QueryLog | None = None):
        self.conversation = conversation
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self.reload = reload
        self.query_log = query_log

    def say(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def welcome(self) -> None:
        knowledge = self.conversation.knowledge
        self.say(f"{knowledge.title}: {len(knowledge)} questions I can answer. Ask in your own "
                 "words; /help for help, /quit to leave.")
        self.say()

    def read(self) -> str | None:
        """One line, or None at end of input."""
        if self.interactive:
            try:
                return input(PROMPT)
            except EOFError:
                return None
        line = self.stdin.readline()
        if not line:
            return None
        line = line.rstrip("\n")
        self.say(f"{PROMPT}{line}")  # echo piped input so the output reads as a conversation
        return line

    def run(self) -> int:
        self.welcome()
        with contextlib.suppress(KeyboardInterrupt):
            while (line := self.read()) is not None:
                if not self.handle(line):
                    break
        self.say("Goodbye!")
        return 0

    def handle(self, line: str) -> bool:
        """Process one line; False ends the loop."""
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            return False
        if command == "/reload":
            self.do_reload()
        elif command.startswith("/"):
            text = {"/help": "help", "/why": "why", "/related": "related",
                    "/more": "more"}.get(command)
            if text is None:
                self.say("Commands: /help, /why, /related, /reload, /quit.")
                self.say()
                return True
            self.show(self.conversation.reply(SESSION, text))
        else:
            reply = self.conversation.reply(SESSION, line)
            if self.query_log is not None:
                self.query_log.record_reply(line, reply)
            self.show(reply)
        return True

    def show(self, reply: Reply) -> None:
        self.say(reply.text)
        self.say()

    def do_reload(self) -> None:
        if self.reload is None:
            self.say("Reloading is not available here.")
        else:
            engine, messages = self.reload()
            for message in messages:
                self.say(message)
            if engine is not None:
                self.conversation.swap_engine(engine)
                self.say(f"Reloaded: {len(engine.knowledge)} entries.")
            else:
                self.say("Kept the knowledge that was already loaded.")
        self.say()
