"""Safe edits of a knowledge file: validate the whole new file first, then replace atomically,
all under a lock so that edits at the same time apply one after the other.

New entries are appended as text at the end of the `entries` block, so every existing byte
(comments, order, quoting, line wrapping) stays exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout
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


# An `add` holds the lock while the engine lints the new file (seconds); a longer wait means
# a stuck or very slow edit, better reported than waited for.
LOCK_TIMEOUT = 30.0


def real_path(path: str | Path) -> Path:
    """The file a write replaces: symlinks followed, so a link stays a link to the new text."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[Path]:
    """Hold the lock every writer of `path`'s real file takes; yields that file.

    The lock is a file beside it, `.<name>.lock`, kept afterwards: removing it while another
    process waits on it would let a third one lock a new file. Raises OSError
    (filelock.Timeout after LOCK_TIMEOUT seconds).
    """
    target = real_path(path)
    if not target.parent.is_dir():  # FileLock would create the missing folders
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(target.parent))
    with FileLock(target.parent / f".{target.name}.lock", timeout=LOCK_TIMEOUT):
        yield target


def atomic_write(path: str | Path, text: str) -> None:
    """Replace the file at `path` with `text` all at once, holding its lock (see `_replace`).

    Raises OSError, the old file untouched.
    """
    with locked(path) as target:
        _replace(target, text)


def _replace(target: Path, text: str) -> None:
    """Write a temporary file beside `target`, flush it, rename it over `target`, then flush
    the folder so the rename survives a crash too. Readers see the old file or the new one,
    never a half-written one. The caller holds the lock."""
    mode = _mode_to_keep(target)
    _remove_leftovers(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    try:
        _sync_folder(target.parent)
    except OSError as exc:
        raise OSError(exc.errno, f"the new file is in place but not flushed to disk "
                      f"({exc.strerror or exc})", exc.filename) from exc


def _mode_to_keep(target: Path) -> int:
    """The file's permission bits (0o644 for a new file). A rename ignores the file's own
    permissions, so a read-only file is refused here (mode bits too: root may write anything)."""
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o644
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "the file is read-only", str(target))
    return mode


def _remove_leftovers(target: Path) -> None:
    """Delete temporary files that killed writes of `target` left before their rename.

    Safe because the caller holds the lock: no live write of `target` has one open. Only
    mkstemp's exact names match, so `notes.yaml.bak`'s temporary files are not `notes.yaml`'s.
    Housekeeping: a failure here is no reason to refuse the write.
    """
    leftover = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    with contextlib.suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            if leftover.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _sync_folder(folder: Path) -> None:
    """Flush the folder too: the rename is a change to the folder, not to the file."""
    if os.name != "posix":  # Windows cannot open a folder; NTFS journals the rename itself
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: this file system cannot sync folders at all
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _reported(path: Path, action: str) -> Iterator[None]:
    """Turn an OSError (or undecodable text) into a KnowledgeError: one line naming the file."""
    try:
        yield
    except Timeout as exc:
        raise _file_error(path, f"cannot {action}: another edit of it still held its lock "
                          f"after {LOCK_TIMEOUT:g} s") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        where = getattr(exc, "filename", None)
        if where and os.path.abspath(where) != os.path.abspath(path):
            reason += f" ({where})"  # the lock, a temporary file or a symlink's target
        raise _file_error(path, f"cannot {action}: {reason}") from exc


def _file_error(path: Path, message: str) -> KnowledgeError:
    return KnowledgeError([Problem("error", " ".join(message.split()), str(path))])


def edit_file(path: str | Path, change: Callable[[str], str], *,
              extra_checks: Check | None = None) -> list[Problem]:
    """Apply a text change to a knowledge file: the whole new text is validated first and
    then written atomically. Returns the warnings; raises KnowledgeError (file unchanged) if
    the file cannot be read or written or the new text would have any error.

    Reading, validating and writing happen under the file's lock: two edits at once run one
    after the other, and neither can drop the other's change.
    """
    path = Path(path)
    with _reported(path, "read"):
        path.stat()  # before locking: a lock file for a missing file would only be litter
    with contextlib.ExitStack() as held:
        with _reported(path, "write"):
            target = held.enter_context(locked(path))
        with _reported(path, "read"):
            text = target.read_text(encoding="utf-8")
        new_text = change(text)
        knowledge, problems = parse_knowledge(new_text, path=str(path), precise=True)
        if knowledge is not None and extra_checks is not None:
            problems = problems + extra_checks(knowledge)
        if knowledge is None or errors_in(problems):
            raise KnowledgeError(problems)
        with _reported(path, "write"):
            _replace(target, new_text)
    return problems


def add_entry(path: str | Path, entry: dict, *, extra_checks: Check | None = None
              ) -> list[Problem]:
    """Validate the file with `entry` added and write it atomically; returns the warnings.

    Raises KnowledgeError (file unchanged) if the file cannot be read or written or the new
    file would have any error.
    """
    return edit_file(path, lambda text: add_entry_text(text, entry), extra_checks=extra_checks)
