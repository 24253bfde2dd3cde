"""How the terminal chat shows text: wrapped to the window at word boundaries, Markdown
emphasis turned into ANSI styles (on a terminal) or plain text (in a pipe), and every
character that came from outside passed through `printable` first, so the only escape
sequences ever written are the styles added here.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from itertools import groupby
from typing import TextIO

from bot.conversation import Reply
from bot.textio import printable

PIPED_WIDTH = 80  # a pipe has no width; 80 reads well in files and logs
MIN_WIDTH = 20  # a tiny window still gets whole words, one or two a line
BOLD, ITALIC, DIM, CODE = "1", "3", "2", "36"  # SGR parameters; code shows cyan
_MARKUP = re.compile(  # emphasis must hug its text, so "5 * 3" and snake_case stay as they are
    r"\*\*(?P<bold>\S(?:.*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<star>[^\s*](?:.*?[^\s*])?)\*(?![\w*])"
    r"|(?<!\w)_(?P<under>[^\s_](?:.*?[^\s_])?)_(?!\w)"
    r"|`(?P<code>[^`]+)`")
_STYLES = {"bold": BOLD, "star": ITALIC, "under": ITALIC, "code": CODE}
_LIST_ITEM = re.compile(r"\s*(?:[•*-]|\d{1,3}[.)])\s+")  # continuation lines align after it
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def markup(line: str) -> tuple[str, list[str]]:
    """`line` without its emphasis markers, and the SGR style of each remaining character."""
    plain: list[str] = []
    styles: list[str] = []
    end = 0
    for match in _MARKUP.finditer(line):
        kind = match.lastgroup or ""
        plain.append(line[end:match.start()])
        styles += [""] * (match.start() - end)
        plain.append(match.group(kind))
        styles += [_STYLES[kind]] * len(match.group(kind))
        end = match.end()
    plain.append(line[end:])
    styles += [""] * (len(line) - end)
    return "".join(plain), styles


def short_disclaimer(disclaimer: str, width: int) -> str:
    """The disclaimer's first sentence, without its trailing clauses while it is wider than
    `width`: "This is general information only, not medical advice." (the full text is
    shown once when the chat starts)."""
    sentence = _SENTENCE_END.split(disclaimer.strip(), maxsplit=1)[0]
    while len(sentence) > width and ", " in sentence:
        sentence = sentence.rsplit(", ", 1)[0].rstrip(".") + "."
    return sentence


class Terminal:
    """Writes to one output stream. Styles only on a terminal (and not under NO_COLOR); the
    width is the window's, read before each write so a resize takes effect, or 80 in a pipe.
    `width` and `color` override both (tests)."""

    def __init__(self, stream: TextIO, *, width: int | None = None, color: bool | None = None):
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.color = self.tty and "NO_COLOR" not in os.environ if color is None else color
        self._width = width

    @property
    def width(self) -> int:
        if self._width:
            return self._width
        if self.tty:
            return max(shutil.get_terminal_size((PIPED_WIDTH, 24)).columns, MIN_WIDTH)
        return PIPED_WIDTH

    def write(self, text: str) -> None:
        """Raw output (the caller made it safe)."""
        self.stream.write(text)
        self.stream.flush()

    def clear_line(self) -> None:
        """On a terminal, erase the cursor's line: what was typed during a wait, which the
        terminal echoed there, or a prompt to redraw after a message (nothing in a pipe)."""
        self.write("\r\x1b[K" if self.tty else "")

    def say(self, text: str = "", *, style: str = "", markdown: bool = False,
            prompt: str = "") -> None:
        """Print `text`: made printable, emphasis rendered when `markdown`, wrapped."""
        self.write(self.render(text, style=style, markdown=markdown, prompt=prompt) + "\n")

    def render(self, text: str, *, style: str = "", markdown: bool = False,
               prompt: str = "") -> str:
        """`text` for the screen; `prompt` (ours, printed as it is) starts its first line."""
        width = self.width
        lines = printable(text).replace("\t", " ").split("\n")
        return "\n".join(out for number, line in enumerate(lines)
                         for out in self._wrap(line, width, style, markdown,
                                               "" if number else prompt))

    def _wrap(self, line: str, width: int, style: str, markdown: bool,
              prompt: str) -> list[str]:
        """One line of text as screen lines; an over-long word stays whole (on the prompt's
        line, or on a line of its own)."""
        plain, styles = markup(line) if markdown else (line, [""] * len(line))
        item = _LIST_ITEM.match(plain)
        indent = " " * item.end() if item and item.end() < width // 2 else ""
        pieces = textwrap.wrap(plain, width, initial_indent=prompt, subsequent_indent=indent,
                               break_long_words=False, break_on_hyphens=False)
        out, position = [], 0
        for number, piece in enumerate(pieces):
            prefix = indent if number else prompt
            piece = piece[len(prefix):]
            # textwrap only drops the spaces it breaks at: each piece is a slice of `plain`.
            start = plain.index(piece, position)
            position = start + len(piece)
            out.append(prefix + self._styled(piece, styles[start:position], style))
        return out or [prompt.rstrip()]

    def _styled(self, text: str, styles: list[str], base: str) -> str:
        if not self.color:
            return text
        out, position = [], 0
        for code, run in groupby(styles):
            size = len(list(run))
            chunk = text[position:position + size]
            position += size
            codes = ";".join(c for c in (base, code) if c)
            out.append(f"\x1b[{codes}m{chunk}\x1b[0m" if codes else chunk)
        return "".join(out)

    # ------------------------------------------------------------------ replies
    def show(self, reply: Reply) -> None:
        """A reply as paragraphs: what it says, its notice (e.g. the resources line), and,
        under an answer only, the disclaimer in one dimmed line."""
        for paragraph in [body(reply), reply.notice or ""]:
            if paragraph:
                self.say(paragraph, markdown=True)
                self.say()
        if reply.status == "answer" and reply.disclaimer:
            self.say(short_disclaimer(reply.disclaimer, self.width), style=DIM)
            self.say()


def body(reply: Reply) -> str:
    """What a reply says, without the disclaimer and notice (shown on their own).

    An answer is built from its fields. Other replies (lists, small talk, crisis) carry their
    wording only in `text`, so their body is the paragraphs of `text` that are neither the
    disclaimer nor a notice (notices are added as whole paragraphs, "(notice)" or a closing
    line; `notice` joins them with a space)."""
    if reply.status == "answer" and reply.answer:
        return "\n\n".join(part for part in (reply.lead, reply.answer) if part)
    notice = reply.notice or ""

    def is_extra(paragraph: str) -> bool:
        core = paragraph.strip().removeprefix("(").removesuffix(")")
        return paragraph.strip() == reply.disclaimer or bool(
            notice and core and (notice.startswith(core) or notice.endswith(core)))

    return "\n\n".join(p for p in reply.text.split("\n\n") if not is_extra(p))
