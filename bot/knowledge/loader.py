"""Read a knowledge file: YAML -> validated `Knowledge`.

Two readers, one validator. Starting the bot uses PyYAML's C safe loader (fast, plain Python
values; entry line numbers come from a scan of the text). When that finds a problem, and for
`check` and edits, the file is read again with ruamel's round-trip loader, which knows the
line and column of every value, so each message points at the place to fix. Neither builds
Python objects from tags. Every problem is collected, not just the first, so one `check` run
lists them all. Size, nesting and number-length limits turn hostile files into one-line errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml as pyyaml

from bot.knowledge.model import Entry, Knowledge
from bot.knowledge.problems import KnowledgeError, Problem, errors_in

TOP_LEVEL_KEYS = {"title", "description", "disclaimer", "source", "synonyms",
                  "crisis_message", "entries"}
REQUIRED_TOP_LEVEL = ("title", "disclaimer", "entries")
ENTRY_KEYS = {"id", "question", "alternates", "answer", "tags", "source"}
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DISCORD_EMBED_LIMIT = 4096
# A `# check: allow <code> -- <reason>` comment inside an entry accepts one kind of warning.
ALLOW_PRAGMA = re.compile(r"#\s*check:\s*allow\s+([a-z-]+)\s*(?:--|—|:)\s*(\S.*)$")
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
MAX_FILE_BYTES = 8 * 2**20  # a knowledge file of thousands of entries is a few megabytes
MAX_DEPTH = 32  # the format needs 4 levels; deeper nesting is a mistake or an attack
MAX_NUMBER_DIGITS = 1000  # Python refuses to read integers past 4,300 digits
_LONG_NUMBER = re.compile(rf"\d{{{MAX_NUMBER_DIGITS},}}")
_ENTRY_LINE = re.compile(r"^[ \t]*-[ \t]+id[ \t]*:[ \t]*[\"']?([^\s\"'#]+)", re.MULTILINE)


def phrasing_key(text: str) -> str:
    """How two phrasings are compared for "the same phrasing": case and punctuation ignored."""
    return _PUNCT.sub(" ", text.casefold()).strip()


def _yaml():
    # The round-trip loader builds only plain mappings, sequences and scalars (no Python
    # objects), like a safe loader, and keeps line numbers for messages. Imported here: the
    # fast path at start-up never needs it.
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


class _Collector:
    """Builds problems that all carry the file path."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def error(self, message: str, *, pos: tuple[int, int] | None = None,
              entry_id: str | None = None, field: str | None = None) -> None:
        self._add("error", message, pos, entry_id, field, "")

    def warning(self, code: str, message: str, *, pos: tuple[int, int] | None = None,
                entry_id: str | None = None, field: str | None = None) -> None:
        self._add("warning", message, pos, entry_id, field, code)

    def _add(self, severity, message, pos, entry_id, field, code) -> None:
        line, col = (pos[0] + 1, pos[1] + 1) if pos else (None, None)
        self.problems.append(Problem(severity, message, self.path, line, col, entry_id, field,
                                     code))


def _key_pos(node: Any, key: Any) -> tuple[int, int] | None:
    try:
        return tuple(node.lc.key(key))  # type: ignore[return-value]
    except (AttributeError, KeyError, TypeError):
        return _node_pos(node)


def _value_pos(node: Any, key: Any) -> tuple[int, int] | None:
    try:
        return tuple(node.lc.value(key))  # type: ignore[return-value]
    except (AttributeError, KeyError, TypeError):
        return _key_pos(node, key)


def _item_pos(node: Any, index: int) -> tuple[int, int] | None:
    try:
        return tuple(node.lc.item(index))  # type: ignore[return-value]
    except (AttributeError, KeyError, TypeError, IndexError):
        return _node_pos(node)


def _node_pos(node: Any) -> tuple[int, int] | None:
    lc = getattr(node, "lc", None)
    return (lc.line, lc.col) if lc is not None and lc.line is not None else None


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r:.40}"


def parse_knowledge(text: str, *, path: str = "<memory>", precise: bool = False
                    ) -> tuple[Knowledge | None, list[Problem]]:
    """Parse and validate knowledge-file text; the Knowledge is None when there are errors.

    `precise` reads with positions from the start (for `check` and edits); otherwise the fast
    reader runs first and the precise one only when there are errors to point at.
    """
    out = _Collector(path)
    limit = text_limits(text)
    if limit:
        line, message = limit
        out.error(message, pos=(line, 0) if line is not None else None)
        return None, out.problems
    if not precise:
        data = _fast_load(text)
        if data is not None:
            knowledge = _checked(data, out, text)
            if not errors_in(out.problems):
                return knowledge, out.problems
        out = _Collector(path)
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line, mark.column) if mark is not None else None
        reason = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        if any(hint in reason for hint in ("block end", "mapping values", "block mapping")):
            reason += " (check the indentation here and on the line above)"
        out.error(f"invalid YAML: {reason}", pos=pos)
        return None, out.problems
    except (YAMLError, RecursionError, ValueError) as exc:  # errors without a position (rare)
        out.error(f"invalid YAML: {' '.join(str(exc).split())[:200]}")
        return None, out.problems
    knowledge = _checked(data, out, text)
    return knowledge, out.problems


def text_limits(text: str) -> tuple[int | None, str] | None:
    """(0-based line or None, message) when the text is too big, too deep or holds a number
    too long to read; None when it is within limits."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        return None, f"file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})"
    long_number = _LONG_NUMBER.search(text)
    if long_number:
        return (text.count("\n", 0, long_number.start()),
                f"a number of more than {MAX_NUMBER_DIGITS} digits")
    depth = deepest = 0
    crossed = None  # where the depth first went past the limit
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    for at, ch in enumerate(text):  # flow collections ([...], {...}) are the only deep nesting
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH and crossed is None:
                crossed = at
        elif ch in "]}":
            depth = max(depth - 1, 0)
    if crossed is not None:
        return (text.count("\n", 0, crossed),
                f"brackets nested {deepest} deep (the limit is {MAX_DEPTH})")
    return None


_SAFE_LOADER = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)  # libyaml's, when built


def safe_yaml(text: str) -> Any:
    """YAML as plain Python values, by PyYAML's safe loader (in C where available): it builds
    no Python objects from tags. Raises pyyaml.YAMLError (or RecursionError, ValueError)."""
    return pyyaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506  (a safe loader, in C)


def _fast_load(text: str) -> Any:
    """The YAML as plain Python values; None when it does not parse."""
    try:
        return safe_yaml(text)
    except (pyyaml.YAMLError, RecursionError, ValueError):
        return None


def _checked(data: Any, out: _Collector, text: str) -> Knowledge | None:
    if not isinstance(data, dict):
        out.error(f"the file must be a mapping with title, disclaimer and entries; "
                  f"got {_type_name(data)}", pos=(0, 0))
        return None
    knowledge = _validate(data, out, text)
    return None if errors_in(out.problems) else knowledge


def read_knowledge(path: str | Path, *, precise: bool = False
                   ) -> tuple[Knowledge | None, list[Problem]]:
    """Read a file and parse it; unreadable files are reported as problems, not raised."""
    name = str(path)
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            return None, [Problem("error", f"file too large (the limit is {MAX_FILE_BYTES:,} "
                                  "bytes)", name)]
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem("error", "file not found", name)]
    except UnicodeDecodeError as exc:
        return None, [Problem("error", f"not UTF-8 text (byte {exc.start})", name)]
    except OSError as exc:
        return None, [Problem("error", f"cannot read: {exc.strerror or exc}", name)]
    return parse_knowledge(text, path=name, precise=precise)


def load_knowledge(path: str | Path) -> Knowledge:
    """Read a knowledge file, raising KnowledgeError with every problem if it has errors."""
    knowledge, problems = read_knowledge(path)
    if knowledge is None:
        raise KnowledgeError(problems)
    return knowledge


def _string(node: dict, key: str, out: _Collector, *, required: bool,
            entry_id: str | None = None) -> str:
    if key not in node:
        if required:
            out.error("missing (required)", pos=_node_pos(node), entry_id=entry_id, field=key)
        return ""
    value = node[key]
    if not isinstance(value, str):
        out.error(f"must be text; got {_type_name(value)}", pos=_value_pos(node, key),
                  entry_id=entry_id, field=key)
        return ""
    if not value.strip():
        out.error("must not be empty", pos=_value_pos(node, key), entry_id=entry_id, field=key)
        return ""
    return value.strip()


def _string_list(node: dict, key: str, out: _Collector,
                 entry_id: str | None = None) -> tuple[str, ...]:
    if key not in node or node[key] is None:
        return ()
    value = node[key]
    if not isinstance(value, list):
        out.error(f"must be a list of text; got {_type_name(value)}", pos=_value_pos(node, key),
                  entry_id=entry_id, field=key)
        return ()
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            out.error(f"item {i + 1} must be non-empty text; got {_type_name(item)}",
                      pos=_item_pos(value, i), entry_id=entry_id, field=key)
            continue
        items.append(item.strip())
    return tuple(items)


def _unknown_keys(node: dict, allowed: set[str], out: _Collector,
                  entry_id: str | None = None) -> None:
    for key in node:
        if key not in allowed:
            out.error(f"unknown key (allowed: {', '.join(sorted(allowed))})",
                      pos=_key_pos(node, key), entry_id=entry_id, field=str(key))


def _validate(data: dict, out: _Collector, text: str) -> Knowledge:
    _unknown_keys(data, TOP_LEVEL_KEYS, out)
    title = _string(data, "title", out, required=True)
    disclaimer = _string(data, "disclaimer", out, required=True)
    description = _string(data, "description", out, required=False)
    source = _string(data, "source", out, required=False)
    crisis_message = _string(data, "crisis_message", out, required=False)
    synonyms = _synonyms(data, out)
    entries = _entries(data, out, _entry_lines(text))
    allowed = justified_warnings(entries, text)
    out.problems[:] = drop_justified(out.problems, allowed)
    return Knowledge(title=title, disclaimer=disclaimer, entries=tuple(entries),
                     description=description, source=source, synonyms=synonyms,
                     crisis_message=crisis_message, path=out.path,
                     justified_warnings=frozenset(allowed))


def _synonyms(data: dict, out: _Collector) -> dict[str, tuple[str, ...]]:
    if "synonyms" not in data or data["synonyms"] is None:
        return {}
    node = data["synonyms"]
    if not isinstance(node, dict):
        out.error(f"must be a mapping of term -> list of variants; got {_type_name(node)}",
                  pos=_value_pos(data, "synonyms"), field="synonyms")
        return {}
    result: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for term in node:
        field = f"synonyms.{term}"
        if not isinstance(term, str) or not term.strip():
            out.error("a term must be non-empty text", pos=_key_pos(node, term), field=field)
            continue
        variants = _string_list(node, term, out) if not isinstance(node[term], str) \
            else (node[term].strip(),)
        canonical = phrasing_key(term)
        kept = []
        for variant in variants:
            key = phrasing_key(variant)
            if not key:
                continue
            if key == canonical:
                out.warning("synonym-self", f"variant {variant!r} is the term itself",
                            pos=_value_pos(node, term), field=field)
                continue
            if key in owner and owner[key] != canonical:
                out.error(f"variant {variant!r} is also listed under {owner[key]!r}",
                          pos=_value_pos(node, term), field=field)
                continue
            owner[key] = canonical
            kept.append(variant)
        result[term.strip()] = tuple(kept)
    return result


def _entry_lines(text: str) -> dict[str, int]:
    """1-based line of each `- id: ...` in the text (for readers that keep no positions)."""
    lines: dict[str, int] = {}
    for match in _ENTRY_LINE.finditer(text):
        lines.setdefault(match.group(1), text.count("\n", 0, match.start()) + 1)
    return lines


def _entries(data: dict, out: _Collector, lines: dict[str, int]) -> list[Entry]:
    if "entries" not in data:
        return []
    node = data["entries"]
    if not isinstance(node, list) or not node:
        out.error(f"must be a non-empty list of entries; got {_type_name(node)}",
                  pos=_value_pos(data, "entries"), field="entries")
        return []
    entries: list[Entry] = []
    seen_ids: dict[str, int] = {}
    seen_phrasings: dict[str, tuple[int, str]] = {}
    for index, item in enumerate(node):
        pos = _item_pos(node, index)
        if not isinstance(item, dict):
            out.error(f"entry {index + 1} must be a mapping; got {_type_name(item)}", pos=pos,
                      field="entries")
            continue
        raw_id = item.get("id")
        entry_id = raw_id if isinstance(raw_id, str) and raw_id else f"#{index + 1}"
        _unknown_keys(item, ENTRY_KEYS, out, entry_id)
        entry_id = _entry_id(item, out, entry_id, seen_ids)
        question = _string(item, "question", out, required=True, entry_id=entry_id)
        answer = _string(item, "answer", out, required=True, entry_id=entry_id)
        alternates = _string_list(item, "alternates", out, entry_id)
        tags = _string_list(item, "tags", out, entry_id)
        source = _string(item, "source", out, required=False, entry_id=entry_id)
        _check_phrasings(item, (index, entry_id), question, alternates, seen_phrasings, out)
        _check_answer(item, entry_id, answer, out)
        line = pos[0] + 1 if pos else lines.get(entry_id)
        entries.append(Entry(id=entry_id, question=question, answer=answer,
                             alternates=alternates, tags=tags, source=source, line=line))
    return entries


def _entry_id(item: dict, out: _Collector, fallback: str,
              seen_ids: dict[str, int]) -> str:
    raw = _string(item, "id", out, required=True, entry_id=fallback)
    if not raw:
        return fallback
    pos = _value_pos(item, "id")
    if not ID_PATTERN.match(raw):
        out.error(f"{raw!r} is not a slug (lower-case letters, digits and single hyphens)",
                  pos=pos, entry_id=raw, field="id")
    if raw in seen_ids:
        out.error(f"duplicate id (first used on line {seen_ids[raw]})", pos=pos, entry_id=raw,
                  field="id")
    else:
        seen_ids[raw] = pos[0] + 1 if pos else 0
    return raw


def _check_phrasings(item: dict, owner: tuple[int, str], question: str,
                     alternates: tuple[str, ...], seen: dict[str, tuple[int, str]],
                     out: _Collector) -> None:
    entry_id = owner[1]
    local: set[str] = set()
    for field, text in [("question", question)] + [("alternates", a) for a in alternates]:
        key = phrasing_key(text)
        if not key:
            if text:
                out.error(f"{text!r} has no letters or digits", pos=_value_pos(item, field),
                          entry_id=entry_id, field=field)
            continue
        pos = _value_pos(item, field)
        if field == "alternates":
            pos = _item_pos(item["alternates"], alternates.index(text))
        if key in local:
            out.warning("repeated", f"{text!r} is listed twice in this entry", pos=pos,
                        entry_id=entry_id, field=field)
            continue
        local.add(key)
        if key in seen and seen[key] != owner:
            out.error(f"{text!r} is also a phrasing of entry {seen[key][1]!r}", pos=pos,
                      entry_id=entry_id, field=field)
        seen.setdefault(key, owner)


_TERMINAL = ('.', '!', '?', '"', "'", '”', '’', ')')


def _check_answer(item: dict, entry_id: str, answer: str, out: _Collector) -> None:
    if not answer:
        return
    pos = _value_pos(item, "answer")
    if len(answer) > DISCORD_EMBED_LIMIT:
        out.warning("too-long", f"{len(answer)} characters; Discord embeds hold "
                    f"{DISCORD_EMBED_LIMIT}", pos=pos, entry_id=entry_id, field="answer")
    tail = answer.rstrip()
    if tail.endswith(("...", "…")) or not tail.endswith(_TERMINAL):
        out.warning("truncated", f"looks cut off: ends with {tail[-30:]!r}", pos=pos,
                    entry_id=entry_id, field="answer")


def justified_warnings(entries: list[Entry], text: str) -> set[tuple[str, str]]:
    """(entry id, warning code) pairs accepted by `# check: allow <code> -- <reason>` comments.

    A comment belongs to the entry whose block it sits in (after that entry's `- id:` line).
    """
    starts = sorted((e.line, e.id) for e in entries if e.line)
    allowed: set[tuple[str, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = ALLOW_PRAGMA.search(line)
        owner = None
        for start, entry_id in starts if match else ():
            if start <= number:
                owner = entry_id
        if match and owner:
            allowed.add((owner, match.group(1)))
    return allowed


def drop_justified(problems: list[Problem], allowed: set[tuple[str, str]] | frozenset) -> list[
        Problem]:
    """The problems minus the warnings that the file itself justifies."""
    return [p for p in problems
            if not (p.severity == "warning" and (p.entry_id, p.code) in allowed)]
