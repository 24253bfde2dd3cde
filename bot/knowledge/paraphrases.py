"""Training paraphrases: optional extra phrasings per entry, kept beside a knowledge file as
`<name>.paraphrases.yaml`:

    paraphrases:
      entry-id:
        - another way to ask it
        - ...

They train the classifiers and the fusion weights but are not matched against: the knowledge
file stays the short, curated thing a person maintains. Entries that are not in the knowledge
file are reported and skipped, so deleting an entry never breaks the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml as pyyaml

from bot.knowledge.loader import MAX_FILE_BYTES, phrasing_key, safe_yaml, text_limits
from bot.knowledge.model import Knowledge
from bot.knowledge.problems import Problem

Paraphrases = Mapping[str, tuple[str, ...]]


def paraphrases_path_for(knowledge_path: str | Path) -> Path:
    """`knowledge/ketamine.yaml` -> `knowledge/ketamine.paraphrases.yaml`."""
    path = Path(knowledge_path)
    return path.with_name(f"{path.stem}.paraphrases.yaml")


def parse_paraphrases(text: str, knowledge: Knowledge, *, path: str = "<memory>"
                      ) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """entry id -> its paraphrases (known entries only), and the problems found."""
    problems: list[Problem] = []

    def problem(severity: str, message: str, entry_id: str | None = None) -> None:
        problems.append(Problem(severity, message, path, entry_id=entry_id,  # type: ignore[arg-type]
                                field="paraphrases"))

    limit = text_limits(text)
    if limit:
        problem("error", limit[1])
        return {}, problems
    try:
        data = safe_yaml(text)
    except (pyyaml.YAMLError, RecursionError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem("error", f"invalid YAML{where}: {' '.join(str(exc).split())[:160]}")
        return {}, problems
    if data is None:
        return {}, problems
    table = data.get("paraphrases") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        problem("error", "expected a top-level `paraphrases:` mapping of entry id -> list")
        return {}, problems
    found: dict[str, tuple[str, ...]] = {}
    for entry_id, items in table.items():
        entry = knowledge.get(str(entry_id))
        if entry is None:
            problem("warning", "no such entry in the knowledge file; skipped", str(entry_id))
            continue
        if not isinstance(items, list):
            problem("error", "must be a list of text", str(entry_id))
            continue
        own = {phrasing_key(p) for p in entry.phrasings}
        texts = []
        for i, item in enumerate(items, start=1):
            if not isinstance(item, str) or not phrasing_key(item):
                problem("error", f"item {i} must be text with letters or digits", str(entry_id))
            elif phrasing_key(item) not in own:
                texts.append(" ".join(item.split()))
        found[str(entry_id)] = tuple(dict.fromkeys(texts))
    return found, problems


def read_paraphrases(path: str | Path, knowledge: Knowledge
                     ) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """The paraphrases file at `path`; a missing file is simply none."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return {}, [Problem("error", f"file too large (the limit is {MAX_FILE_BYTES:,} "
                                "bytes)", str(path))]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem("error", f"cannot read: {getattr(exc, 'strerror', None) or exc}",
                            str(path))]
    return parse_paraphrases(text, knowledge, path=str(path))
