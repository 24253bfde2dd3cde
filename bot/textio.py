"""Text in from pipes and terminals, and out to them, without surprises.

Input is read as bytes and decoded line by line with replacement, so one invalid byte costs
that character and nothing else. Output that can carry user text goes through `printable`,
which removes control and escape characters (a pasted `\\x1b]0;...\\x07` must not rename the
terminal, a `\\x1b[2J` must not clear it) and invisible direction overrides.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

MAX_LINE_BYTES = 1 << 20  # a longer line is read in pieces: memory stays bounded
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Bidi overrides and isolates reorder what follows them on screen; zero-width characters
# hide text. Everything else (right-to-left scripts included) prints as it is.
_INVISIBLE = dict.fromkeys([*range(0x200B, 0x2010), *range(0x202A, 0x202F),
                            *range(0x2060, 0x2070), 0xFEFF, 0x061C])


def read_lines(stream: BinaryIO | TextIO) -> Iterator[str]:
    """Lines of a stream, without their line ends, decoded from UTF-8 with replacement.

    Works on a binary stream, or on a text stream that has one underneath (`.buffer`, as
    `sys.stdin` does); a text-only stream (a test's StringIO) is read as it is.
    """
    binary = stream if isinstance(stream, io.RawIOBase | io.BufferedIOBase) \
        else getattr(stream, "buffer", None)
    if binary is None:  # text only
        for line in stream:
            yield line.rstrip("\r\n")
        return
    while True:
        raw = binary.readline(MAX_LINE_BYTES)
        if not raw:
            return
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def printable(text: str) -> str:
    """`text` safe to print: escape sequences, control characters (newlines and tabs
    excepted), lone surrogates and invisible direction overrides removed."""
    text = _ESCAPES.sub("", text).translate(_INVISIBLE)
    if text.isascii():
        return "".join(ch for ch in text if ch in "\n\t" or " " <= ch != "\x7f")
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))


def json_objects(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; anything else
    raises `error` with one line naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: expected a JSON object")
        yield number, row
