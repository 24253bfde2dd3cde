"""Safe edits of a knowledge file: validate the whole new file first, then replace atomically.

New entries are appended as text at the end of the `entries` block, so every existing byte
(comments, order, quoting, line wrapping) stays exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import FoldedScalarString

from bot.knowledge.importer import slugify
from bot.knowledge.loader import parse_knowledge
from bot.knowledge.model import Knowledge
from bot.knowledge.problems import KnowledgeError, Problem, errors_in

Check = Callable[[Knowledge], list[Problem]]


def entry_yaml(entry: dict, *, indent: int) -> str:
    """One entry as a YAML block-sequence item, indented to sit under `entries:`."""
    data = dict(entry)
    if len(data.get("answer", "")) > 80:
        data["answer"] = FoldedScalarString(data["answer"])
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 96
    buffer = io.StringIO()
    yaml.dump([data], buffer)
    # ruamel indents the list item by `offset`; shift it to the file's own indentation.
    lines = buffer.getvalue().splitlines()
    shift = indent - (len(lines[0]) - len(lines[0].lstrip()))
    pad = " " * max(shift, 0)
    return "".join(f"{pad}{line}\n" if line.strip() else "\n" for line in lines)


def _entries_block_end(text: str) -> tuple[int, int]:
    """(line index after the last line of the entries block, indent of its items)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^entries\s*:", line)), None)
    if start is None:
        raise KnowledgeError([Problem("error", "no top-level `entries:` block to append to")])
    end, indent = len(lines), None
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if indent is None and re.match(r"^\s*-\s", line):
            indent = len(line) - len(line.lstrip())
        if line.strip() and not line.startswith((" ", "\t", "-", "#")):
            end = i  # the next top-level key
            break
    # Blank lines and column-0 comments just before the next key stay after the new entry.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return end, 2 if indent is None else indent


def add_entry_text(text: str, entry: dict) -> str:
    """The file text with `entry` appended to the entries block (nothing else changes)."""
    end, indent = _entries_block_end(text)
    lines = text.splitlines(keepends=True)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + entry_yaml(entry, indent=indent) + "".join(lines[end:])


def new_entry(*, question: str, answer: str, alternates: list[str] | None = None,
              entry_id: str | None = None, tags: list[str] | None = None,
              source: str | None = None) -> dict:
    """An entry mapping in file order, with an id made from the question when none is given."""
    entry: dict = {"id": entry_id or slugify(question), "question": question.strip()}
    if alternates:
        entry["alternates"] = [a.strip() for a in alternates if a.strip()]
    entry["answer"] = answer.strip()
    if tags:
        entry["tags"] = list(tags)
    if source:
        entry["source"] = source
    return entry


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` all at once: a temporary file in the same folder, then rename.

    Readers see the old file or the new one, never a half-written one; on any failure the
    old file is untouched and the temporary file is removed.
    """
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def edit_file(path: str | Path, change: Callable[[str], str], *,
              extra_checks: Check | None = None) -> list[Problem]:
    """Apply a text change to a knowledge file: the whole new text is validated first and
    then written atomically. Returns the warnings; raises KnowledgeError (file unchanged) if
    the file cannot be read or the new text would have any error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise KnowledgeError([Problem("error", f"cannot read: {reason}", str(path))]) from exc
    new_text = change(text)
    knowledge, problems = parse_knowledge(new_text, path=str(path), precise=True)
    if knowledge is not None and extra_checks is not None:
        problems = problems + extra_checks(knowledge)
    if knowledge is None or errors_in(problems):
        raise KnowledgeError(problems)
    atomic_write(path, new_text)
    return problems


def add_entry(path: str | Path, entry: dict, *, extra_checks: Check | None = None
              ) -> list[Problem]:
    """Validate the file with `entry` added and write it atomically; returns the warnings.

    Raises KnowledgeError (file unchanged) if the new file would have any error.
    """
    return edit_file(path, lambda text: add_entry_text(text, entry), extra_checks=extra_checks)
