"""`add`: validated against the whole file first, then written atomically (the file's
lock, symlinks, read-only files and killed writes: test_file_safety.py)."""

from __future__ import annotations

import os

import pytest

from bot.cli import main
from bot.knowledge import KnowledgeError, load_knowledge
from bot.knowledge.store import add_entry, new_entry


def test_add_appends_and_keeps_every_existing_byte(tiny_file):
    before = tiny_file.read_bytes()
    add_entry(tiny_file, new_entry(question="Can I add milk to green tea?",
                                   answer="Yes, though it is unusual.",
                                   alternates=["milk in green tea"]))
    after = tiny_file.read_bytes()
    assert after.startswith(before)
    assert after[len(before):].decode() == (
        "  - id: can-i-add-milk-to-green-tea\n"
        "    question: Can I add milk to green tea?\n"
        "    alternates:\n"
        "      - milk in green tea\n"
        "    answer: Yes, though it is unusual.\n")
    assert load_knowledge(tiny_file).get("can-i-add-milk-to-green-tea").alternates == (
        "milk in green tea",)


def test_add_before_a_following_top_level_key(tmp_path, tiny_text):
    path = tmp_path / "kb.yaml"
    head, entries = tiny_text.split("entries:\n")
    path.write_text(f"entries:\n{entries}\n# trailing comment\n{head}")
    add_entry(path, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    text = path.read_text()
    assert "    answer: Plain tea is vegan.\n\n# trailing comment\n" in text
    assert len(load_knowledge(path)) == 4


def test_duplicate_id_leaves_file_unchanged(tiny_file):
    before = tiny_file.read_bytes()
    with pytest.raises(KnowledgeError) as info:
        add_entry(tiny_file, new_entry(question="Another?", answer="Yes.", entry_id="brew-time"))
    assert "duplicate id" in str(info.value)
    assert tiny_file.read_bytes() == before


def test_invalid_entry_leaves_file_unchanged(tiny_file):
    before = tiny_file.read_bytes()
    with pytest.raises(KnowledgeError):
        add_entry(tiny_file, new_entry(question="Steeping time", answer="x", entry_id="Bad Id"))
    assert tiny_file.read_bytes() == before


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failure_in_the_middle_of_the_write_leaves_file_unchanged(tiny_file, monkeypatch,
                                                                  failing):
    before = tiny_file.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(KnowledgeError, match="cannot write: No space left on device"):
        add_entry(tiny_file, new_entry(question="Is tea vegan?", answer="Plain tea is vegan."))
    assert tiny_file.read_bytes() == before
    # Only the lock file is new: it stays, so that waiting writers share one lock.
    assert sorted(p.name for p in tiny_file.parent.iterdir()) == [
        ".tea.cache.npz", ".tea.yaml.lock", "tea.yaml"]


def test_add_command_with_flags(tiny_file, capsys):
    assert main(["add", "--file", str(tiny_file), "--question", "Is tea vegan?", "--answer",
                 "Plain tea is vegan.", "--alternate", "vegan tea", "--tag", "diet"]) == 0
    assert "added entry 'is-tea-vegan'" in capsys.readouterr().err
    assert load_knowledge(tiny_file).get("is-tea-vegan").tags == ("diet",)


def test_add_command_reports_errors_in_one_line_each(tiny_file, capsys):
    before = tiny_file.read_bytes()
    assert main(["add", "--file", str(tiny_file), "--question", "steeping time",
                 "--answer", "Three minutes."]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == (
        f"{tiny_file}:38:15: error [steeping-time] question: 'steeping time' is also a phrasing "
        "of entry 'brew-time'")
    assert captured.err.strip() == f"error: {tiny_file}: not changed (1 error(s))"
    assert tiny_file.read_bytes() == before


def test_add_command_interactive(tiny_file, monkeypatch):
    answers = iter(["Is tea vegan?", "Plain tea is vegan.", "vegan tea", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert main(["add", "--file", str(tiny_file), "--interactive"]) == 0
    assert load_knowledge(tiny_file).get("is-tea-vegan").alternates == ("vegan tea",)


@pytest.mark.parametrize("where", ["before", "after", "alias"])
def test_one_knowledge_flag_for_every_command(tiny_file, capsys, where):
    """--knowledge FILE works before the command and after it; add's old --file is an alias."""
    flag = ["--file" if where == "alias" else "--knowledge", str(tiny_file)]
    add = ["add", "--question", "Is tea vegan?", "--answer", "Plain tea is vegan."]
    ask = ["ask", "--json", "how long should green tea steep"]
    for command in (add, ask, ["check"]):
        if where == "alias" and command is not add:
            continue
        argv = [*flag, *command] if where == "before" else [*command, *flag]
        assert main(argv) == 0, argv
    assert load_knowledge(tiny_file).get("is-tea-vegan") is not None
    if where != "alias":
        assert '"brew-time"' in capsys.readouterr().out
