"""The maintainer's log: unanswered, clarify and low-confidence queries, and "not helpful"
feedback, appended to a local JSONL file so `python -m bot review` can suggest improvements.

Privacy: no user, guild or channel ids are ever written, and the query text is scrubbed of
e-mail addresses, phone numbers and mentions. The log is size-bounded with rotation, and a
write that fails is dropped (and counted) instead of disturbing the reply.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from pathlib import Path

from bot.conversation.reply import Reply
from bot.engine.text import strip_invisible

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)(?:\+?\d[\s().-]*){7,15}\d(?!\w)")
_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|@(?:everyone|here)\b|@[\w.]{2,32}", re.IGNORECASE)
LOGGED_STATUSES = ("unknown", "clarify")


def scrub(text: str) -> str:
    """The query without e-mail addresses, phone numbers or mentions (zero-width characters
    are removed first: "@\u200beveryone" is still a mention)."""
    text = _EMAIL.sub("[email]", strip_invisible(text))
    text = _MENTION.sub("[mention]", text)
    return _PHONE.sub("[phone]", text)


READ_BACKUPS = 9  # read_log takes up to this many rotated files, whatever a writer kept


def _rotated(path: Path, n: int) -> Path:
    """The n-th rotated file of a log (0: the log itself)."""
    return path.with_name(f"{path.name}.{n}") if n else path


class QueryLog:
    """Append-only JSONL with rotation: `path`, then `path.1` … `path.<backups>`."""

    def __init__(self, path: str | Path, *, max_bytes: int = 1_000_000, backups: int = 3,
                 low_confidence: float = 0.6, clock=time.time):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.low_confidence = low_confidence
        self.clock = clock
        self.dropped = 0  # writes that failed (disk full, permissions, ...)
        self._lock = threading.Lock()

    def should_log(self, reply: Reply) -> bool:
        if reply.route not in ("retrieval", "personal"):
            return False  # crisis, small talk and follow-ups are never logged
        return reply.status in LOGGED_STATUSES or (
            reply.status == "answer" and reply.confidence < self.low_confidence)

    def record_reply(self, query: str, reply: Reply) -> None:
        """Log a reply the maintainer should look at (others are ignored)."""
        if self.should_log(reply):
            self._write({"kind": "query", "query": scrub(query)[:500], "status": reply.status,
                         "route": reply.route, "confidence": round(reply.confidence, 4),
                         "entry": reply.entry or (reply.suggestions[0].entry
                                                  if reply.suggestions else None)})

    def record_feedback(self, entry: str | None, helpful: bool, query: str | None = None) -> None:
        """A reader's "helpful? yes/no" on an answer (only "no" carries the query text)."""
        record = {"kind": "feedback", "helpful": helpful, "entry": entry}
        if query and not helpful:
            record["query"] = scrub(query)[:500]
        self._write(record)

    def _write(self, record: dict) -> None:
        record = {"time": round(self.clock(), 3), **record}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self._rotate_if_needed(len(line.encode("utf-8")))
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
        except OSError as exc:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("query log %s: write failed (%s); %d record(s) dropped", self.path,
                            exc.strerror or exc, self.dropped)

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.max_bytes:
            return
        for n in range(self.backups, 0, -1):
            newer = _rotated(self.path, n - 1)
            if newer.exists():
                os.replace(newer, _rotated(self.path, n))


def read_log(path: str | Path) -> list[dict]:
    """Records of a log and its rotated files, oldest first (bad lines are skipped)."""
    path = Path(path)
    files = [_rotated(path, n) for n in range(READ_BACKUPS, -1, -1)]
    records = []
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
