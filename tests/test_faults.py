"""Faults while the bot runs: a knowledge file that vanishes, becomes unreadable or invalid; a
full disk or permission error on the query log; an interrupted `add`; plus the alternates
edit path and the `review` loop that uses it."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.conversation import Conversation
from bot.knowledge import KnowledgeError, load_knowledge
from bot.knowledge.edit import add_alternates
from bot.knowledge.store import add_entry, new_entry
from bot.querylog import QueryLog, read_log
from bot.runtime import load_engine
from bot.service import ChatService

QUESTION = "how long should i steep tea"


def _service(path: Path, log: QueryLog | None = None) -> ChatService:
    return ChatService(Conversation(load_engine(path).engine), query_log=log)


async def _reload_fails_and_old_engine_serves(service: ChatService, path: Path) -> None:
    before = await service.handle("u", QUESTION)
    ok, reason = await service.reload(lambda: load_engine(path).engine)
    assert not ok and reason
    after = await service.handle("u2", QUESTION)
    assert (after.status, after.entry, after.text) == (before.status, before.entry, before.text)


@pytest.mark.asyncio
async def test_knowledge_file_disappears(tiny_file: Path) -> None:
    service = _service(tiny_file)
    tiny_file.unlink()
    await _reload_fails_and_old_engine_serves(service, tiny_file)


@pytest.mark.asyncio
async def test_knowledge_file_becomes_invalid(tiny_file: Path) -> None:
    service = _service(tiny_file)
    tiny_file.write_text("title: [unclosed\nentries: {", encoding="utf-8")
    await _reload_fails_and_old_engine_serves(service, tiny_file)
    tiny_file.write_text("title: Tea\ndisclaimer: x\nentries: []\n", encoding="utf-8")
    await _reload_fails_and_old_engine_serves(service, tiny_file)


@pytest.mark.asyncio
async def test_knowledge_file_becomes_unreadable(tiny_file: Path, monkeypatch) -> None:
    service = _service(tiny_file)
    if os.geteuid() != 0:
        tiny_file.chmod(0)
        try:
            await _reload_fails_and_old_engine_serves(service, tiny_file)
        finally:
            tiny_file.chmod(0o644)
    else:  # root reads anything: simulate the permission error instead
        real = Path.read_text

        def denied(self, *args, **kwargs):
            if self == tiny_file:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", denied)
        await _reload_fails_and_old_engine_serves(service, tiny_file)


@pytest.mark.asyncio
async def test_knowledge_path_turns_into_a_directory(tmp_path: Path, tiny_text: str) -> None:
    path = tmp_path / "tea.yaml"
    path.write_text(tiny_text, encoding="utf-8")
    service = _service(path)
    path.unlink()
    path.mkdir()
    await _reload_fails_and_old_engine_serves(service, path)


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES, errno.EROFS])
async def test_query_log_write_failure_still_replies(tiny_file: Path, tmp_path: Path,
                                                     monkeypatch, error: int) -> None:
    log = QueryLog(tmp_path / "q.jsonl")
    service = _service(tiny_file, log)
    real_open = Path.open

    def failing_open(self, *args, **kwargs):
        if self == log.path:
            raise OSError(error, os.strerror(error), str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    reply = await service.handle("u", "what is the meaning of life and the universe")
    assert reply.status in ("unknown", "clarify") and reply.text
    assert log.dropped == 1
    assert not log.path.exists()


@pytest.mark.asyncio
async def test_query_log_in_a_missing_folder_still_replies(tiny_file: Path, tmp_path: Path):
    log = QueryLog(tmp_path / "no" / "such" / "q.jsonl")
    reply = await _service(tiny_file, log).handle("u", "what is the meaning of life")
    assert reply.text and log.dropped == 1


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("target", ["os.replace", "os.fsync"])
def test_interrupted_add_leaves_file_unchanged(tiny_file: Path, monkeypatch, target) -> None:
    before = tiny_file.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(target, boom)
    entry = new_entry(question="Can I add milk to green tea?", answer="Yes, if you like it.")
    with pytest.raises(KnowledgeError) as info:  # one line for the CLI, not a traceback
        add_entry(tiny_file, entry)
    assert len(info.value.problems) == 1
    assert tiny_file.read_bytes() == before
    assert _no_temp_files(tiny_file.parent)


def test_keyboard_interrupt_mid_write_leaves_file_unchanged(tiny_file: Path, monkeypatch):
    before = tiny_file.read_bytes()
    real_fdopen = os.fdopen

    class Interrupting:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()
            return False

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Interrupting(real_fdopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        add_entry(tiny_file, new_entry(question="Is iced tea good?", answer="Many like it."))
    assert tiny_file.read_bytes() == before
    assert _no_temp_files(tiny_file.parent)


# ---------------------------------------------------------------- add_alternates
def test_add_alternates_keeps_every_other_byte(tiny_file: Path) -> None:
    before = tiny_file.read_text(encoding="utf-8")
    add_alternates(tiny_file, "brew-time", ["tea steeping: how long?", "steep it for how long"])
    after = tiny_file.read_text(encoding="utf-8")
    anchor = "      - brewing time for black tea\n"
    added = '      - "tea steeping: how long?"\n      - steep it for how long\n'
    assert after == before.replace(anchor, anchor + added)
    entry = load_knowledge(tiny_file).get("brew-time")
    assert entry.alternates[-2:] == ("tea steeping: how long?", "steep it for how long")


def test_add_alternates_creates_the_list(tiny_file: Path) -> None:
    text = tiny_file.read_text(encoding="utf-8")
    block = text[text.index("    alternates:\n      - how hot"):text.index("    answer: Use")]
    tiny_file.write_text(text.replace(block, ""), encoding="utf-8")
    add_alternates(tiny_file, "water-temperature", ["water temp for tea"])
    assert load_knowledge(tiny_file).get("water-temperature").alternates == ("water temp for tea",)
    assert tiny_file.read_text(encoding="utf-8") == text.replace(
        block, "    alternates:\n      - water temp for tea\n")


@pytest.mark.parametrize(("entry_id", "phrasing"), [
    ("brew-time", "Steeping time!"),             # already this entry's (case/punct ignored)
    ("brew-time", "caffeine in green tea"),      # another entry's phrasing
    ("no-such-entry", "anything at all"),
    ("brew-time", "???"),
])
def test_add_alternates_rejects_and_keeps_file(tiny_file: Path, entry_id, phrasing) -> None:
    before = tiny_file.read_bytes()
    with pytest.raises(KnowledgeError):
        add_alternates(tiny_file, entry_id, [phrasing])
    assert tiny_file.read_bytes() == before
    assert _no_temp_files(tiny_file.parent)


# ---------------------------------------------------------------- review loop
def test_review_groups_suggests_and_applies(tiny_file: Path, tmp_path: Path, capsys,
                                            monkeypatch) -> None:
    log = QueryLog(tmp_path / "q.jsonl")
    queries = ["how many minutes should green tea steep", "how many minutes to steep green tea",
               "green tea steep how many minutes", "can i put honey in my tea",
               "is honey ok in tea", "honey in tea?"]
    for query in queries:
        log._write({"kind": "query", "query": query, "status": "unknown"})
    out = tmp_path / "suggestions.yaml"
    monkeypatch.setenv("FAQBOT_QUERY_LOG", str(log.path))
    assert main(["review", "--out", str(out), "--knowledge", str(tiny_file)]) == 0
    printed = capsys.readouterr().out
    assert "2 group(s) from 6 logged queries" in printed
    assert "candidate alternates for brew-time" in printed
    assert "candidate new question" in printed

    text = out.read_text(encoding="utf-8")
    assert text.count("accept: false") == 7  # 6 queries + 1 new question
    steep = "- query: how many minutes should green tea steep"
    assert steep in text
    before = tiny_file.read_bytes()
    assert main(["review", "--apply", str(out), "--knowledge", str(tiny_file)]) == 0
    assert tiny_file.read_bytes() == before  # nothing accepted yet

    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if steep in line)
    j = next(n for n in range(i, len(lines)) if "accept: false" in lines[n])
    lines[j] = lines[j].replace("false", "true")
    out.write_text("".join(lines), encoding="utf-8")
    assert main(["review", "--apply", str(out), "--knowledge", str(tiny_file)]) == 0
    entry = load_knowledge(tiny_file).get("brew-time")
    assert entry.alternates[-1] == "how many minutes should green tea steep"
    # Applying twice is harmless: the phrasing is already there and is skipped.
    assert main(["review", "--apply", str(out), "--knowledge", str(tiny_file)]) == 0
    assert load_knowledge(tiny_file).get("brew-time").alternates.count(
        "how many minutes should green tea steep") == 1


def test_review_of_a_missing_log_says_so(tiny_file: Path, tmp_path: Path, capsys) -> None:
    code = main(["review", "--log", str(tmp_path / "none.jsonl"), "--out",
                 str(tmp_path / "s.yaml"), "--knowledge", str(tiny_file)])
    assert code == 0
    assert "no logged queries" in capsys.readouterr().err


def test_scrubbed_log_has_no_ids_or_contacts(tmp_path: Path, tiny_file: Path) -> None:
    log = QueryLog(tmp_path / "q.jsonl")
    conversation = Conversation(load_engine(tiny_file).engine)
    text = "@\u200beveryone <@123456789> mail me@x.org or call +1 555 123 4567 about mars"
    log.record_reply(text, conversation.reply("u", text))
    raw = log.path.read_text(encoding="utf-8")
    assert "123456789" not in raw and "me@x.org" not in raw and "555" not in raw
    assert "everyone" not in json.loads(raw)["query"]
    assert read_log(log.path)[0]["status"] in ("unknown", "clarify")
