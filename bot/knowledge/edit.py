"""Add alternates to an existing entry as text, so every other byte of the file stays as it was
(comments, order, quoting, wrapping); the whole new file is validated before it is written
atomically, under the file's lock, exactly like `add` (store.edit_file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.knowledge.loader import phrasing_key
from bot.knowledge.problems import KnowledgeError, Problem
from bot.knowledge.store import Check, edit_file

_PLAIN_UNSAFE = re.compile(r"""^[-?:,\[\]{}#&*!|>'"%@`\s]|:\s|\s#|:$|[\x00-\x1f\x7f]""")


def yaml_scalar(text: str) -> str:
    """`text` as a one-line YAML scalar: plain when that reads back unchanged, else quoted."""
    if text and not _PLAIN_UNSAFE.search(text):
        try:
            if YAML(typ="safe").load(f"- {text}\n") == [text]:
                return text
        except YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _fail(message: str, entry_id: str | None = None) -> KnowledgeError:
    return KnowledgeError([Problem("error", message, entry_id=entry_id, field="alternates")])


def _find_entry(text: str, entry_id: str) -> CommentedMap:
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise _fail(f"the file is not valid YAML: {' '.join(str(exc).split())}") from exc
    entries = data.get("entries") if isinstance(data, CommentedMap) else None
    for item in entries if isinstance(entries, CommentedSeq) else ():
        if isinstance(item, CommentedMap) and item.get("id") == entry_id:
            return item
    raise _fail(f"no entry with id {entry_id!r}", entry_id)


def _continuation_end(lines: list[str], start: int, indent: int) -> int:
    """Index of the first line after `start` that is not a continuation (deeper indent)."""
    i = start + 1
    while i < len(lines):
        line = lines[i]
        body = line.lstrip(" ")
        if not body.strip() or body.startswith("#") or len(line) - len(body) <= indent:
            break
        i += 1
    return i


def _new_alternates(item: CommentedMap, entry_id: str, alternates: Iterable[str]) -> list[str]:
    phrasings = [item.get("question") or "", *(item.get("alternates") or [])]
    existing = {phrasing_key(str(p)) for p in phrasings}
    out: list[str] = []
    for raw in alternates:
        text = " ".join(str(raw).split())
        key = phrasing_key(text)
        if not key:
            raise _fail(f"{raw!r} has no letters or digits", entry_id)
        if key in existing:
            raise _fail(f"{text!r} is already a phrasing of entry {entry_id!r}", entry_id)
        existing.add(key)
        out.append(text)
    if not out:
        raise _fail("no alternates to add", entry_id)
    return out


def add_alternates_text(text: str, entry_id: str, alternates: Iterable[str]) -> str:
    """The file text with `alternates` appended to entry `entry_id`'s `alternates:` list
    (created after `question:` when missing). Raises KnowledgeError if it cannot be placed."""
    item = _find_entry(text, entry_id)
    new = _new_alternates(item, entry_id, alternates)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    seq = item.get("alternates")
    if isinstance(seq, CommentedSeq) and seq.fa.flow_style():
        line_no, _ = item.lc.value("alternates")
        line = lines[line_no].rstrip("\n")
        code = line.split(" #", 1)[0].rstrip()
        if not code.endswith("]"):
            raise _fail("its alternates are a multi-line [...] list: edit it by hand", entry_id)
        sep = ", " if len(seq) else ""
        code = code[:-1].rstrip() + sep + ", ".join(yaml_scalar(a) for a in new) + "]"
        lines[line_no] = code + line[len(line.split(" #", 1)[0].rstrip()):] + "\n"
        return "".join(lines)
    if isinstance(seq, CommentedSeq) and len(seq):
        last_line, _ = seq.lc.item(len(seq) - 1)
        first_line, first_col = seq.lc.item(0)  # where the first value starts
        dash_col = max(lines[first_line].rfind("-", 0, first_col), 0)
        at = _continuation_end(lines, last_line, dash_col)
        block = "".join(f"{' ' * dash_col}- {yaml_scalar(a)}\n" for a in new)
        return "".join(lines[:at]) + block + "".join(lines[at:])
    key_col = item.lc.key("question")[1]
    pad = " " * key_col
    block = f"{pad}alternates:\n" + "".join(f"{pad}  - {yaml_scalar(a)}\n" for a in new)
    if "alternates" in item:  # `alternates:` with no value: replace just that line
        line_no, _ = item.lc.key("alternates")
        return "".join(lines[:line_no]) + block + "".join(lines[line_no + 1:])
    at = _continuation_end(lines, item.lc.value("question")[0], key_col)
    return "".join(lines[:at]) + block + "".join(lines[at:])


def add_alternates(path: str | Path, entry_id: str, alternates: Iterable[str], *,
                   extra_checks: Check | None = None) -> list[Problem]:
    """Add phrasings to one entry: validated, atomic, nothing else changes; returns warnings."""
    return add_many_alternates(path, {entry_id: list(alternates)}, extra_checks=extra_checks)


def add_many_alternates(path: str | Path, additions: Mapping[str, Iterable[str]], *,
                        extra_checks: Check | None = None) -> list[Problem]:
    """Several entries in one validated write (all or nothing). Raises KnowledgeError."""

    def change(text: str) -> str:
        for entry_id, alternates in additions.items():
            text = add_alternates_text(text, entry_id, alternates)
        return text

    return edit_file(path, change, extra_checks=extra_checks)
