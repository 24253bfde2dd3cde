"""The command line: `python -m bot` / `faqbot`. Thin: parse arguments, call the library,
turn its exceptions into one-line messages and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import paths
from bot.knowledge import KnowledgeError, Problem, errors_in, read_knowledge
from bot.knowledge.importer import detect_layout, draft_knowledge, parse_faq
from bot.knowledge.store import add_entry, atomic_write, new_entry

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem to report to the user as one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


def _print_problems(problems: Sequence[Problem], stream=None) -> None:
    stream = stream or sys.stdout
    for problem in problems:
        print(problem, file=stream)


def knowledge_checks(knowledge) -> list[Problem]:
    """Checks that need the matching engine (near-duplicates, entries closer to others)."""
    from bot.engine.diagnostics import lint  # imported here: scikit-learn is slow to import

    return lint(knowledge)


def run_check(path: Path) -> tuple[object | None, list[Problem]]:
    """Validate a knowledge file fully; returns (knowledge or None, problems)."""
    knowledge, problems = read_knowledge(path)
    if knowledge is not None:
        problems = problems + knowledge_checks(knowledge)
    return knowledge, problems


def cmd_check(args: argparse.Namespace) -> int:
    knowledge, problems = run_check(args.file)
    _print_problems(problems)
    errors = errors_in(problems)
    warnings = len(problems) - len(errors)
    if knowledge is None or errors:
        print(f"{args.file}: {len(errors)} error(s), {warnings} warning(s)", file=sys.stderr)
        return EXIT_ERROR
    print(f"{args.file}: ok, {len(knowledge)} entries, "
          f"{sum(len(e.phrasings) for e in knowledge.entries)} phrasings, "
          f"{warnings} warning(s)", file=sys.stderr)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                       ) from exc
    pairs = parse_faq(text, layout=args.layout)
    if not pairs:
        raise CliError(f"{args.file}: no question/answer pairs found "
                       f"(layout {args.layout or detect_layout(text)})")
    draft = draft_knowledge(pairs, title=args.title or Path(args.file).stem,
                            source=Path(args.file).name)
    if args.output:
        if Path(args.output).exists() and not args.force:
            raise CliError(f"{args.output}: exists; pass --force to replace it")
        atomic_write(Path(args.output), draft)
        print(f"{args.output}: {len(pairs)} pairs imported", file=sys.stderr)
    else:
        sys.stdout.write(draft)
    return EXIT_OK


def _ask(prompt: str, read: Callable[[str], str]) -> str:
    try:
        return read(prompt).strip()
    except EOFError:
        return ""


def cmd_add(args: argparse.Namespace, read: Callable[[str], str] = input) -> int:
    interactive = sys.stdin.isatty() or args.interactive
    question, answer, alternates = args.question, args.answer, list(args.alternate or [])
    if (not question or not answer) and not interactive:
        raise CliError("add: --question and --answer are required when not interactive",
                       EXIT_USAGE)
    if not question:
        question = _ask("Question: ", read)
    if not answer:
        answer = _ask("Answer: ", read)
    if interactive and not args.alternate:
        print("Other phrasings, one per line (empty line to finish):")
        while line := _ask("  alternate: ", read):
            alternates.append(line)
    entry = new_entry(question=question, answer=answer, alternates=alternates,
                      entry_id=args.id, tags=args.tag, source=args.source)
    try:
        warnings = add_entry(args.file, entry, extra_checks=knowledge_checks)
    except KnowledgeError as exc:
        _print_problems(exc.problems)
        raise CliError(f"{args.file}: not changed ({len(errors_in(exc.problems))} error(s))"
                       ) from exc
    _print_problems(warnings)
    print(f"{args.file}: added entry {entry['id']!r}", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faqbot", description="A retrieval FAQ chatbot over an editable knowledge file.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="validate a knowledge file (errors and warnings)")
    check.add_argument("file", nargs="?", type=Path, default=paths.DEFAULT_KNOWLEDGE)
    check.set_defaults(handler=cmd_check)

    imp = sub.add_parser("import", help="turn a FAQ text document into a draft knowledge file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--layout", choices=["lines", "qa", "markdown"],
                     help="document layout (default: detected)")
    imp.add_argument("--title", help="title of the draft knowledge base")
    imp.add_argument("-o", "--output", type=Path, help="write the draft here (default: stdout)")
    imp.add_argument("--force", action="store_true", help="replace an existing --output file")
    imp.set_defaults(handler=cmd_import)

    add = sub.add_parser("add", help="add an entry (validated, atomic write)")
    add.add_argument("--question", help="the entry's main question")
    add.add_argument("--answer", help="the answer text")
    add.add_argument("--alternate", action="append", help="another phrasing (repeatable)")
    add.add_argument("--id", help="stable id (default: made from the question)")
    add.add_argument("--tag", action="append", help="topic tag (repeatable)")
    add.add_argument("--source", help="where the answer comes from")
    add.add_argument("--file", type=Path, default=paths.DEFAULT_KNOWLEDGE,
                     help="knowledge file (default: the bundled one)")
    add.add_argument("--interactive", action="store_true",
                     help="prompt for missing fields even when stdin is not a terminal")
    add.set_defaults(handler=cmd_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_OK
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
