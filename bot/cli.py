"""The command line: `python -m bot` / `faqbot`. Thin: parse arguments, call the library,
turn its exceptions into one-line messages and exit codes.

Pipes are ordinary use: stdin is read as bytes decoded with replacement (one invalid byte
costs that character, not the run), and a reader that stops early (`| head`) ends the
command quietly instead of with a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import paths
from bot.knowledge import KnowledgeError, Problem, errors_in, read_knowledge
from bot.textio import read_lines

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


def _unloadable(path: Path, problems: Sequence[Problem]) -> CliError:
    """The error for a knowledge file that does not load: its one error as the message, or
    every error printed and a summary line."""
    errors = list(errors_in(problems))
    if len(errors) == 1:
        return CliError(f"{errors[0].format(severity=False)} (cannot load the knowledge file)")
    _print_problems(errors, sys.stderr)
    return CliError(f"{path}: cannot load the knowledge file ({len(errors)} errors above)")


def knowledge_checks(knowledge) -> list[Problem]:
    """Checks that need the matching engine (near-duplicates, entries closer to others)."""
    from bot.engine.diagnostics import lint  # imported here: scikit-learn is slow to import

    return lint(knowledge)


def run_check(path: Path) -> tuple[object | None, list[Problem]]:
    """Validate a knowledge file fully; returns (knowledge or None, problems)."""
    knowledge, problems = read_knowledge(path, precise=True)
    if knowledge is not None:
        problems = problems + knowledge_checks(knowledge)
    return knowledge, problems


def cmd_check(args: argparse.Namespace) -> int:
    args.file = args.file or knowledge_path(args)
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
    from bot.knowledge.importer import detect_layout, draft_knowledge, markdown_title, parse_faq
    from bot.knowledge.store import atomic_write

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.file}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:  # a draft must not carry U+FFFD for what was lost
        raise CliError(f"{args.file}: cannot read: not UTF-8 (byte 0x{exc.object[exc.start]:02x} "
                       f"at offset {exc.start}); save it as UTF-8 and import again") from exc
    pairs = parse_faq(text, layout=args.layout)
    if not pairs:
        raise CliError(f"{args.file}: no question/answer pairs found "
                       f"(layout {args.layout or detect_layout(text)})")
    title = args.title or markdown_title(text) or Path(args.file).stem
    draft = draft_knowledge(pairs, title=title, source=Path(args.file).name)
    if args.output:
        if Path(args.output).exists() and not args.force:
            raise CliError(f"{args.output}: exists; pass --force to replace it")
        try:
            atomic_write(Path(args.output), draft)
        except OSError as exc:
            raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from exc
        print(f"{args.output}: {len(pairs)} pairs imported", file=sys.stderr)
    else:
        sys.stdout.write(draft)
    return EXIT_OK


def _ask(prompt: str, read: Callable[[str], str]) -> str:
    try:
        return read(prompt).strip()
    except EOFError:
        return ""


def cmd_add(args: argparse.Namespace, read: Callable[[str], str] | None = None) -> int:
    from bot.knowledge.store import add_entry, new_entry

    read = read or input
    path = knowledge_path(args)
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
        warnings = add_entry(path, entry, extra_checks=knowledge_checks)
    except KnowledgeError as exc:
        _print_problems(exc.problems)
        raise CliError(f"{path}: not changed ({len(errors_in(exc.problems))} error(s))"
                       ) from exc
    _print_problems(warnings)
    print(f"{path}: added entry {entry['id']!r}", file=sys.stderr)
    _refit(path)
    return EXIT_OK


def _refit(path: Path) -> None:
    """After an edit: refit the classifiers and recalibrate the thresholds for the new file
    now (seconds), so the next start is fast and no manual step is needed."""
    from bot.runtime import load_engine

    try:
        loaded = load_engine(path)
    except KnowledgeError:  # cannot happen for a validated write; the next start reports it
        return
    for notice in loaded.notices:
        print(notice, file=sys.stderr)


def knowledge_path(args: argparse.Namespace) -> Path:
    """--knowledge FILE (before or after the command), or the bundled file."""
    return Path(args.knowledge) if getattr(args, "knowledge", None) else \
        paths.DEFAULT_KNOWLEDGE


def _load(args: argparse.Namespace):
    """Engine for --knowledge (or the bundled file); notices go to stderr once."""
    from bot.runtime import load_engine

    path = knowledge_path(args)
    try:
        loaded = load_engine(path)
    except KnowledgeError as exc:
        raise _unloadable(path, exc.problems) from exc
    for notice in loaded.notices:
        print(f"note: {notice}", file=sys.stderr)
    return loaded.engine


def _conversation(engine):
    from bot.conversation import Conversation
    from bot.runtime import load_safety_net

    safety_net, notices = load_safety_net()
    for notice in notices:
        print(notice, file=sys.stderr)
    return Conversation(engine, safety_net=safety_net)


def cmd_ask(args: argparse.Namespace) -> int:
    import json

    conversation = _conversation(_load(args))
    if args.question:
        reply = conversation.reply("ask", " ".join(args.question))
        if args.json:
            print(json.dumps(reply.to_dict(), ensure_ascii=False))
        else:
            print(reply.text)
        return EXIT_OK
    # Batch: one query per line in, one JSON object per line out, in order, flushed.
    for number, line in enumerate(read_lines(sys.stdin)):
        key = "batch" if args.session else ("batch", number)
        reply = conversation.reply(key, line)
        sys.stdout.write(json.dumps(reply.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return EXIT_OK


def chat_reloader(args: argparse.Namespace):
    """What the terminal's /reload calls: a new engine and its notices, or None and the
    errors (the old engine keeps serving)."""
    from bot.runtime import load_engine

    def reload():
        try:
            loaded = load_engine(knowledge_path(args))
        except KnowledgeError as exc:
            return None, [str(p) for p in errors_in(exc.problems)]
        return loaded.engine, list(loaded.notices)

    return reload


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.repl import Repl

    engine = _load(args)
    reload = chat_reloader(args)
    interactive = sys.stdin.isatty()
    # Typed lines too (input() decodes with the stream's `errors`): an invalid byte becomes
    # U+FFFD, not a UnicodeDecodeError or, under a C locale, a lone surrogate.
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdin.reconfigure(errors="replace")
    if interactive:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    return Repl(_conversation(engine), stdin=sys.stdin, stdout=sys.stdout,
                interactive=interactive, reload=reload, query_log=_query_log()).run()


def _query_log():
    """The maintainer's log when FAQBOT_QUERY_LOG names a file (off otherwise)."""
    import os

    from bot.querylog import QueryLog

    path = os.environ.get("FAQBOT_QUERY_LOG")
    return QueryLog(path) if path else None


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.evaluate import (
        EvalFileError,
        evaluate_dataset,
        evaluate_file,
        evaluate_safety_file,
        is_safety_file,
        read_jsonl,
    )

    try:
        if args.file.is_dir():
            evaluate_dataset(args.file)
            return EXIT_OK
        if not args.file.exists():
            raise CliError(f"{args.file}: not found")
        conversation = _conversation(_load(args))
        if is_safety_file(read_jsonl(args.file, queries=True)):
            evaluate_safety_file(args.file, conversation)
        else:
            evaluate_file(args.file, conversation, rows_shown=not args.figures_only)
    except EvalFileError as exc:
        raise CliError(str(exc)) from exc
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """Group the query log into suggestions, or apply the accepted ones (--apply)."""
    import os

    from bot import review
    from bot.knowledge.edit import add_many_alternates
    from bot.knowledge.store import atomic_write
    from bot.querylog import read_log

    path = knowledge_path(args)
    knowledge, problems = read_knowledge(path)
    if knowledge is None:
        raise _unloadable(path, problems)
    if args.apply:
        try:
            additions, questions = review.accepted(args.apply.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CliError(f"{args.apply}: {getattr(exc, 'strerror', None) or exc}") from exc
        additions, skipped = review.without_existing(knowledge, additions)
        for query in skipped:
            print(f"already there, skipped: {query!r}", file=sys.stderr)
        if additions:
            try:
                _print_problems(add_many_alternates(path, additions,
                                                    extra_checks=knowledge_checks))
            except KnowledgeError as exc:
                _print_problems(exc.problems)
                raise CliError(f"{path}: not changed "
                               f"({len(errors_in(exc.problems))} error(s))") from exc
        for entry_id, added in additions.items():
            print(f"{path}: {entry_id}: added {len(added)} alternate(s)", file=sys.stderr)
        if additions:
            _refit(path)
        for question in questions:
            print(f"new question to write an answer for: python -m bot add --question "
                  f"{question!r}", file=sys.stderr)
        if not additions and not questions:
            print(f"{args.apply}: nothing accepted (set `accept: true` on items)",
                  file=sys.stderr)
        return EXIT_OK
    log_path = args.log or Path(os.environ.get("FAQBOT_QUERY_LOG") or "query_log.jsonl")
    try:
        items = review.logged_queries(read_log(log_path))
    except OSError as exc:
        raise CliError(f"{log_path}: cannot read: {exc.strerror or exc}") from exc
    if not items:
        print(f"{log_path}: no logged queries to review", file=sys.stderr)
        return EXIT_OK
    groups = review.group_queries(knowledge, items)
    print(f"{len(groups)} group(s) from {sum(c for _, c in items)} logged queries "
          f"({len(items)} distinct) in {log_path}")
    review.print_groups(groups, sys.stdout)
    atomic_write(args.out, review.suggestions_yaml(groups, source=str(log_path)))
    print(f"wrote {args.out}: set `accept: true` on what you want, then run "
          f"`python -m bot review --apply {args.out}`", file=sys.stderr)
    return EXIT_OK


def cmd_discord(args: argparse.Namespace) -> int:
    from bot.discord_app import runner  # imported here: discord.py is only needed for this

    return runner.main(sync=args.sync, guild=args.guild, knowledge=args.knowledge or None)


EVAL_HELP = """\
Measure the bot on labelled queries. LABELLED is one of three things:

1. A labelled query file, JSON Lines (UTF-8, one object per line):
     {"query": "how much does it cost", "expect": "answer", "seed": [12]}
     {"query": "what's the capital of peru", "expect": "abstain"}
   query   the message, as a user would type it (required)
   expect  answer  - the bot should answer; `seed` (required for these rows) lists the
                     numbers, from 1, of the acceptable question/answer pairs in
                     knowledge/sources/ketamine_faq_seed.txt, in file order
           abstain - out of scope: the bot should neither answer nor offer choices
           crisis  - the reply must lead with crisis resources (988 / 911)
           safe    - hostile input: any reply that is non-empty, bounded, with no live
                     mass mention and no link copied from the message

2. A safety set, JSON Lines, where every row's `expect` is crisis, emergency, concern or
   none (at least one row not crisis):
     {"query": "...", "expect": "concern", "category": "self-harm", "lang": "en"}
   category, lang  optional; figures are broken down by them. No message text is
                   printed, only rates.

3. A benchmark folder holding faq.jsonl ({"id", "question", "alternates", "answer"}) and
   queries_<split>.jsonl ({"query", "expected": [entry ids]}; [] = out of scope), with an
   optional queries_train_oos.jsonl of out-of-scope queries used for calibration.
"""


def _knowledge_option(parser: argparse.ArgumentParser, *, main: bool = False) -> None:
    # On the main parser it sets the default; on a command it only overrides when given
    # (argparse would otherwise let the command's default undo `faqbot --knowledge F ask`).
    parser.add_argument("--knowledge", "--file", dest="knowledge", type=Path, metavar="FILE",
                        default=None if main else argparse.SUPPRESS,
                        help="knowledge file (default: the bundled one; for discord: "
                        "$FAQBOT_KNOWLEDGE or the bundled one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faqbot", description="A retrieval FAQ chatbot over an editable knowledge file.")
    _knowledge_option(parser, main=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="validate a knowledge file (errors and warnings)")
    check.add_argument("file", nargs="?", type=Path,
                       help="knowledge file (default: --knowledge or the bundled one)")
    _knowledge_option(check)
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
    _knowledge_option(add)
    add.add_argument("--interactive", action="store_true",
                     help="prompt for missing fields even when stdin is not a terminal")
    add.set_defaults(handler=cmd_add)

    ask = sub.add_parser("ask", help="answer one question, or one per stdin line as JSON")
    ask.add_argument("question", nargs="*", help="the question (none: read stdin lines)")
    ask.add_argument("--json", action="store_true", help="print the reply as one JSON object")
    ask.add_argument("--session", action="store_true",
                     help="batch mode: keep one conversation across lines (default: each line "
                     "on its own)")
    _knowledge_option(ask)
    ask.set_defaults(handler=cmd_ask)

    chat = sub.add_parser("chat", help="chat in the terminal (the default command)")
    _knowledge_option(chat)
    chat.set_defaults(handler=cmd_chat)

    evaluate = sub.add_parser("eval", help="measure on a labelled JSONL file or benchmark folder",
                              description=EVAL_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("file", type=Path, metavar="LABELLED",
                          help="labelled JSONL file or benchmark folder (see above)")
    evaluate.add_argument("--figures-only", action="store_true",
                          help="print figures only, no failing queries (for blind sets)")
    _knowledge_option(evaluate)
    evaluate.set_defaults(handler=cmd_eval)
    review = sub.add_parser("review", help="group the query log into suggested alternates "
                            "and new questions; --apply adds the accepted ones")
    review.add_argument("--log", type=Path, help="query log (default: $FAQBOT_QUERY_LOG or "
                        "query_log.jsonl)")
    review.add_argument("--out", type=Path, default=Path("suggestions.yaml"),
                        help="suggestions file to write (default: suggestions.yaml)")
    review.add_argument("--apply", type=Path, metavar="SUGGESTIONS",
                        help="add the accepted alternates of a reviewed suggestions file")
    _knowledge_option(review)
    review.set_defaults(handler=cmd_review)

    disc = sub.add_parser("discord", help="run the Discord bot (token: $DISCORD_TOKEN or .env)")
    disc.add_argument("--sync", action="store_true",
                      help="publish the slash commands, then exit (run once after changes)")
    disc.add_argument("--guild", type=int, metavar="ID",
                      help="with --sync: publish to this server only (instant)")
    _knowledge_option(disc)
    disc.set_defaults(handler=cmd_discord)
    return parser


def _stdout_to_devnull() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's flush at exit
    does not fail (and print a second traceback) on what is still buffered."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no real stdout: nothing to do
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:  # the reader has gone (`| head`): what it wanted, it has
        _stdout_to_devnull()
        return EXIT_OK


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "handler", None):  # no command: chat
        args.handler = cmd_chat
    try:
        code = args.handler(args)
        sys.stdout.flush()  # here, so a closed pipe is met inside main's try, not at exit
        return code
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
