"""Turn a FAQ text document into question/answer pairs and a draft knowledge file.

Three layouts are recognised: Markdown (`## question` headings), `Q: ... / A: ...` text, and the
scraped "people also ask" layout (a line ending in "?" followed by its answer lines).

Answers keep their shape: wrapped lines are joined into one line per paragraph, but list items
stay one per line and paragraphs stay apart, and Markdown emphasis is kept as written (the
Discord and terminal interfaces show it).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from bot.knowledge.loader import phrasing_key

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>\S.*?)\s*#*\s*$")
_Q_LINE = re.compile(r"^\s*(?:Q|Question)\s*[:.)]\s*(?P<text>.*)$", re.IGNORECASE)
_A_LINE = re.compile(r"^\s*(?:A|Answer)\s*[:.)]\s*(?P<text>.*)$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d{1,9}[.)])\s+\S")
_WRAPPED = re.compile(r"^(\*\*|__|\*|_)(?P<text>\S.*\S|\S)\1$")  # **a whole heading**
MAX_QUESTION_WORDS = 30  # longer lines ending in "?" are answer text, not questions
DEFAULT_DISCLAIMER = ("This is general information, not medical advice. Talk to your own "
                      "clinician before making any decision about treatment.")


@dataclass(frozen=True)
class FaqPair:
    """One question and its answer as found in a document (line is 1-based)."""

    question: str
    answer: str
    line: int


def _heading(line: str) -> str | None:
    """A Markdown heading's text (emphasis around the whole of it removed), or None."""
    match = _HEADING.match(line)
    if not match:
        return None
    text = match.group("text")
    wrapped = _WRAPPED.match(text)
    return wrapped.group("text") if wrapped else text


def markdown_title(text: str) -> str | None:
    """The document's first `# H1` heading that is not a question, if any."""
    for line in text.splitlines():
        title = _heading(line)
        if title and line.lstrip().startswith("# ") and not title.endswith("?"):
            return title
    return None


def detect_layout(text: str) -> str:
    """'markdown', 'qa' or 'lines' (question lines ending in '?')."""
    lines = text.splitlines()
    if any((_heading(line) or "").endswith("?") for line in lines):
        return "markdown"
    if any(_Q_LINE.match(line) for line in lines) and any(_A_LINE.match(line) for line in lines):
        return "qa"
    return "lines"


def parse_faq(text: str, *, layout: str | None = None) -> list[FaqPair]:
    """Every question/answer pair in the document, in order; questions without answers skipped."""
    layout = layout or detect_layout(text)
    parser = {"markdown": _parse_markdown, "qa": _parse_qa, "lines": _parse_lines}[layout]
    return [pair for pair in parser(text.splitlines()) if pair.question and pair.answer]


def _join(parts: list[str]) -> str:
    return " ".join(" ".join(part.split()) for part in parts if part.strip())


def _answer_text(lines: list[str]) -> str:
    """Answer lines as text: a paragraph's wrapped lines joined into one line, each list item
    on its own line (its wrapped lines joined to it; nesting kept as relative indentation),
    a blank line between paragraphs."""
    items = [m for m in map(_LIST_ITEM.match, lines) if m]
    base = min((len(m.group("indent").expandtabs(4)) for m in items), default=0)
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        text = " ".join(line.split())
        item = _LIST_ITEM.match(line)
        if item:
            indent = len(item.group("indent").expandtabs(4)) - base
            blocks[-1].append(" " * max(indent, 0) + text)
        elif blocks[-1]:
            blocks[-1][-1] += " " + text  # a wrapped line of a paragraph or of a list item
        else:
            blocks[-1].append(text)
    return "\n\n".join("\n".join(block) for block in blocks if block)


def _is_question_line(line: str) -> bool:
    stripped = line.strip()
    return stripped.endswith("?") and len(stripped.split()) <= MAX_QUESTION_WORDS


def _split_at(lines: list[str], boundary: Callable[[str], str | None]) -> list[FaqPair]:
    """Pairs from lines where `boundary(line)` is None for an answer line, or the question the
    line starts ("" for a boundary that starts no pair, such as a Markdown section title)."""
    pairs: list[FaqPair] = []
    question, start, answer = None, 0, []
    for number, line in enumerate(lines, start=1):
        found = boundary(line)
        if found is None:
            if question is not None:
                answer.append(line)
            continue
        if question is not None:
            pairs.append(FaqPair(question, _answer_text(answer), start))
        question, start, answer = (found or None), number, []
    if question is not None:
        pairs.append(FaqPair(question, _answer_text(answer), start))
    return pairs


def _parse_lines(lines: list[str]) -> list[FaqPair]:
    return _split_at(lines, lambda line: line.strip() if _is_question_line(line) else None)


def _markdown_boundary(line: str) -> str | None:
    text = _heading(line)
    if text is None:
        return None
    return text if text.endswith("?") else ""


def _parse_markdown(lines: list[str]) -> list[FaqPair]:
    return _split_at(lines, _markdown_boundary)


def _parse_qa(lines: list[str]) -> list[FaqPair]:
    pairs: list[FaqPair] = []
    question: list[str] | None = None
    answer: list[str] | None = None
    start = 0

    def flush() -> None:
        if question is not None:
            pairs.append(FaqPair(_join(question), _answer_text(answer or []), start))

    for number, line in enumerate(lines, start=1):
        q, a = _Q_LINE.match(line), _A_LINE.match(line)
        if q:
            flush()
            question, answer, start = [q.group("text")], None, number
        elif a and question is not None:
            answer = [a.group("text")]
        elif answer is not None:
            answer.append(line)
        elif question is not None:
            question.append(line)
    flush()
    return pairs


def slugify(text: str, *, max_length: int = 60) -> str:
    """A lower-case hyphenated id from a question."""
    words = re.sub(r"[^a-z0-9]+", " ", text.casefold()).split()
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or "entry"


def _block(answer: str) -> FoldedScalarString | LiteralScalarString:
    """Folded YAML (rewrapped to the width) for paragraphs; literal (lines as they are) once
    there is a single line break, as in a list: folded style would have to double it."""
    if re.search(r"(?<!\n)\n(?!\n)", answer):
        return LiteralScalarString(answer)
    return FoldedScalarString(answer)


def draft_knowledge(pairs: list[FaqPair], *, title: str, source: str) -> str:
    """A knowledge-file draft (YAML text) holding the pairs, ready for editing and `check`."""
    used: set[str] = set()
    entries: list[dict] = []
    by_question: dict[str, dict] = {}
    for pair in pairs:
        same = by_question.get(phrasing_key(pair.question))
        if same is not None:
            # A repeated question keeps one entry holding both answers, so none is lost.
            same["answer"] = _block(f"{same['answer']}\n\n{pair.answer}")
            same["source"] += f" + line {pair.line}"
            continue
        base = slug = slugify(pair.question)
        counter = 2
        while slug in used:
            slug, counter = f"{base}-{counter}", counter + 1
        used.add(slug)
        entries.append({"id": slug, "question": pair.question, "alternates": [],
                        "answer": _block(pair.answer),
                        "source": f"{source} line {pair.line}"})
        by_question[phrasing_key(pair.question)] = entries[-1]
    document = {"title": title, "description": f"Imported from {source}.",
                "disclaimer": DEFAULT_DISCLAIMER, "source": source, "synonyms": {},
                "entries": entries}
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 96
    buffer = io.StringIO()
    buffer.write("# Draft made by `python -m bot import`: add alternates, check the answers, then\n"
                 "# run `python -m bot check` on this file.\n")
    yaml.dump(document, buffer)
    return buffer.getvalue()
