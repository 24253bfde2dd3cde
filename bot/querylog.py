"""The maintainer's log: unanswered, clarify and low-confidence queries, and "not helpful"
feedback, appended to a local JSONL file so `python -m bot review` can suggest improvements.

Privacy: no user, guild or channel ids are ever written, and the query text is scrubbed of
e-mail addresses, phone numbers, mentions, long ids, invite links and URLs' query strings.
The log is size-bounded with rotation, and a write that fails is dropped (and counted)
instead of disturbing the reply: no input, however long or malformed, can fail a reply.
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

MAX_SCRUB_CHARS = 2000  # scrubbed at most; the log keeps 500 (see `scrub`)
LOGGED_STATUSES = ("unknown", "clarify")

# Every pattern runs in time linear in its input (and `scrub` bounds the input as well).
# Python's `re` backtracks and tries every start position, so in each pattern (a) a part
# that can scan far is reached only where a match can begin (after a lookbehind, or after
# '<', '?', '@' or a URL's prefix), and other attempts fail within a bounded number of
# characters ({0,15}, {2,32}, a literal); (b) runs are consumed possessively (`++`, `*+`:
# never given back, so a failing attempt is not retried shorter). The old e-mail pattern
# broke (a): on "aaaa…" every position began a scan to the end of the text: quadratic.
_INVITE = re.compile(  # first: the URL rule below would keep an invite's code (its path)
    r"(?:https?://)?(?:www\.)?(?:discord(?:app)?\.com/invite|discord\.gg)/\S*+",
    re.IGNORECASE)
# A URL keeps scheme, host and path; credentials (user:pass@) and the query string or
# fragment (?token=…, #access_token=…) go. It never fails once its prefix matched, so
# matches never overlap and each character is scanned once.
_URL = re.compile(r"\b(?P<scheme>[a-z][a-z0-9+.-]{0,15}://|www\.)(?:[^\s/?#@]*+@)?+"
                  r"(?P<rest>[^\s?#]*+)(?:[?#]\S*+)?", re.IGNORECASE)
_QUERY = re.compile(r"(?<=[\w/])\?[\w.%-]++=\S*+")  # a bare link's query: site.com/x?token=
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_MENTION = re.compile(r"<(?:@[!&]?|#)\d++>|@(?:everyone|here)\b|@[\w.]{2,32}", re.IGNORECASE)
_LONG_ID = re.compile(r"(?<!\d)\d{17,}+")  # Discord snowflakes (17-20 digits) and longer
# 7 or more digits with short separators: 555-1234, (555) 123-4567, +1 555 123 4567, and
# card or account numbers too. An attempt starts only after a non-word character; one that
# fails has scanned on, past its 7th digit, only through digits followed by digits, where
# no other attempt can start, so at most 7 attempts rescan such a stretch: linear.
_PHONE = re.compile(r"(?<![\w+(])[+(]?+\d(?:[\s().-]{0,3}+\d){6,}(?!\w)")
_RULES = ((_INVITE, "[invite]"), (_URL, r"\g<scheme>\g<rest>"), (_QUERY, ""),
          (_EMAIL, "[email]"), (_MENTION, "[mention]"), (_LONG_ID, "[id]"), (_PHONE, "[phone]"))


def scrub(text: str, *, limit: int | None = MAX_SCRUB_CHARS) -> str:
    """The query without invite links, URL credentials and query strings, e-mail addresses,
    mentions, long ids and phone numbers (zero-width characters are removed first:
    "@\u200beveryone" is still a mention).

    Only the first `limit` characters are scrubbed (None: all); the log keeps fewer. The
    cut-off word and the digits just before it are dropped too: half an address or number
    would not match its rule and would be left in.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit]
        space = text.rfind(" ")
        text = (text[:space] if space > 0 else text).rstrip("0123456789 \t().+-")
    text = strip_invisible(text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


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
        # Encoded here with replacement: a lone surrogate (from a broken client or a
        # surrogate-escaped argument) becomes "?" instead of raising UnicodeEncodeError.
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "replace")
        try:
            with self._lock:
                self._rotate_if_needed(len(line))
                with self.path.open("ab") as handle:
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
