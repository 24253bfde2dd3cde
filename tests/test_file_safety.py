"""Files that survive: edits at the same time, symlinks, read-only files and folders, killed
writes. Every failure is a one-line KnowledgeError and leaves the file as it was."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from bot.cli import main
from bot.knowledge import KnowledgeError, load_knowledge, store
from bot.knowledge.store import add_entry, atomic_write, new_entry

ROOT = Path(__file__).resolve().parent.parent

# A child that adds one entry when told to go. The slow check stands in for the engine's lint
# that `python -m bot add` runs between reading and writing: it widens the window in which an
# unlocked edit reads the file another one is about to replace.
ADD_WHEN_TOLD = """
import sys, time
from bot.knowledge.store import add_entry, new_entry
print("ready", flush=True)
sys.stdin.readline()
def slow_check(knowledge):
    time.sleep(0.2)
    return []
add_entry(sys.argv[1], new_entry(question=sys.argv[2], answer="An answer."),
          extra_checks=slow_check)
"""

# A child killed by SIGKILL after its temporary file is written, just before the rename.
KILLED_BEFORE_RENAME = """
import os, signal, sys
from bot.knowledge.store import add_entry, new_entry
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
add_entry(sys.argv[1], new_entry(question="Is rooibos a tea?", answer="Not strictly."))
"""


def _child(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _add_at_once(path: Path, questions: list[str]) -> None:
    children = [_child(ADD_WHEN_TOLD, str(path), q, stdin=subprocess.PIPE) for q in questions]
    for child in children:
        assert child.stdout.readline() == "ready\n", child.communicate()[1]
    for child in children:  # both have imported everything: start them together
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err


def _one_problem(info: pytest.ExceptionInfo, path: Path, *words: str) -> str:
    (problem,) = info.value.problems
    line = str(problem)
    assert "\n" not in line and line.startswith(f"{path}: error cannot ")
    for word in words:
        assert word in line
    return line


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- 1. edits at the same time
def test_concurrent_adds_keep_every_entry(tiny_file: Path) -> None:
    for round_ in range(5):
        _add_at_once(tiny_file, [f"Is tea {round_} made with {word} water?"
                                 for word in ("spring", "mineral")])
        assert len(load_knowledge(tiny_file)) == 3 + 2 * (round_ + 1)
    assert _temp_files(tiny_file.parent) == []


def test_busy_lock_is_a_one_line_error(tiny_file: Path, monkeypatch) -> None:
    before = tiny_file.read_bytes()
    monkeypatch.setattr(store, "LOCK_TIMEOUT", 0.1)
    with FileLock(tiny_file.parent / ".tea.yaml.lock"), \
            pytest.raises(KnowledgeError) as info:
        add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is."))
    _one_problem(info, tiny_file, "another edit", "lock")
    assert tiny_file.read_bytes() == before


# ---------------------------------------------------------------- 2. symlinks and modes
def test_add_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path: Path,
                                                                    tiny_file: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "tea.yaml"
    tiny_file.rename(target)
    target.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    add_entry(link, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    assert link.is_symlink() and link.resolve() == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert load_knowledge(target).get("is-tea-vegan")
    assert _temp_files(real) == [] and _temp_files(tmp_path) == []


def test_atomic_write_keeps_the_mode_and_creates_new_files(tmp_path: Path) -> None:
    old = tmp_path / "model.json"
    old.write_text("{}")
    old.chmod(0o600)
    atomic_write(old, '{"a": 1}')
    atomic_write(tmp_path / "new.json", "{}")
    assert old.read_text() == '{"a": 1}' and stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o644


# ---------------------------------------------------------------- 3. read-only files
def test_read_only_file_is_refused(tiny_file: Path, capsys) -> None:
    before = tiny_file.read_bytes()
    tiny_file.chmod(0o444)
    with pytest.raises(KnowledgeError) as info:
        add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    _one_problem(info, tiny_file, "read-only")
    assert main(["add", "--file", str(tiny_file), "--question", "Is tea vegan?",
                 "--answer", "Plain tea is vegan."]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "read-only" in out
    assert tiny_file.read_bytes() == before
    assert stat.S_IMODE(tiny_file.stat().st_mode) == 0o444
    with pytest.raises(PermissionError):
        atomic_write(tiny_file, "title: x\n")
    assert tiny_file.read_bytes() == before


# ---------------------------------------------------------------- 4. I/O errors: one line
@pytest.fixture
def unwritable_folder(tiny_file: Path, monkeypatch):
    """tiny_file's folder made read-only; as root, which may write anyway, file creation in
    it fails as it would for anyone else."""
    folder = tiny_file.parent
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_open = os.open

        def denied(name, flags, *args, **kwargs):
            if flags & os.O_CREAT and Path(name).parent == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(name))
            return real_open(name, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    yield folder
    folder.chmod(0o755)


def test_unwritable_folder_is_a_one_line_error(tiny_file: Path, unwritable_folder: Path,
                                               capsys) -> None:
    before = tiny_file.read_bytes()
    with pytest.raises(KnowledgeError) as info:
        add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    _one_problem(info, tiny_file, "cannot write", "Permission denied")
    assert main(["add", "--file", str(tiny_file), "--question", "Is tea vegan?",
                 "--answer", "Plain tea is vegan."]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "Permission denied" in captured.out
    assert captured.err.strip() == f"error: {tiny_file}: not changed (1 error(s))"
    assert tiny_file.read_bytes() == before


@pytest.mark.parametrize(("target", "error"), [
    ("tempfile.mkstemp", errno.EROFS), ("os.fsync", errno.EIO), ("os.replace", errno.ENOSPC)])
def test_write_failure_is_a_one_line_error(tiny_file: Path, monkeypatch, target, error):
    before = tiny_file.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(target, boom)
    with pytest.raises(KnowledgeError) as info:
        add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    _one_problem(info, tiny_file, "cannot write", os.strerror(error))
    assert tiny_file.read_bytes() == before
    assert _temp_files(tiny_file.parent) == []


def test_unreadable_path_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "tea.yaml"
    folder.mkdir()
    with pytest.raises(KnowledgeError) as info:
        add_entry(folder, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    _one_problem(info, folder, "cannot read", "Is a directory")


def test_missing_file_or_folder_is_a_one_line_error_and_leaves_nothing(tmp_path: Path):
    for path in (tmp_path / "missing.yaml", tmp_path / "no" / "tea.yaml"):
        with pytest.raises(KnowledgeError) as info:
            add_entry(path, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
        _one_problem(info, path, "cannot read", "No such file")
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "new.yaml", "title: x\n")
    assert list(tmp_path.iterdir()) == []  # no lock file, no folder made for one


# ---------------------------------------------------------------- 5. killed writes, fsync
def test_killed_write_leaves_the_file_and_the_next_write_cleans_up(tiny_file: Path) -> None:
    before = tiny_file.read_bytes()
    child = _child(KILLED_BEFORE_RENAME, str(tiny_file))
    child.communicate(timeout=60)
    assert child.returncode == -9
    assert tiny_file.read_bytes() == before
    assert len(_temp_files(tiny_file.parent)) == 1  # what a killed write leaves
    other = tiny_file.parent / ".tea.yaml.bak.abcd1234.tmp"  # another file's: not ours
    other.write_text("x")
    add_entry(tiny_file, new_entry(question="Is rooibos a tea?", answer="Not strictly."))
    assert load_knowledge(tiny_file).get("is-rooibos-a-tea")
    assert _temp_files(tiny_file.parent) == [other.name]


def test_folder_is_fsynced_after_the_rename(tiny_file: Path, monkeypatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        is_folder = os.path.samestat(os.fstat(fd), tiny_file.parent.stat())
        calls.append("fsync folder" if is_folder else "fsync file")
        return real_fsync(fd)

    def replace(*args):
        calls.append("replace")
        return real_replace(*args)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    assert calls == ["fsync file", "replace", "fsync folder"]
