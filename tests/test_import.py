"""`python -m bot import`: FAQ documents -> pairs -> draft knowledge file."""

from __future__ import annotations

import json

from bot.cli import main
from bot.knowledge import parse_knowledge
from bot.knowledge.importer import detect_layout, draft_knowledge, parse_faq
from bot.paths import SEED_COPY
from tests.conftest import SHARED, needs_shared


@needs_shared
def test_seed_copy_gives_exactly_the_35_parsed_seed_pairs():
    expected = [json.loads(line) for line in
                (SHARED / "eval" / "seed_pairs.jsonl").read_text().splitlines()]
    pairs = parse_faq(SEED_COPY.read_text(encoding="utf-8"))
    assert [(p.question, p.answer) for p in pairs] == [(r["question"], r["answer"])
                                                       for r in expected]


def test_seed_copy_layout_and_count():
    text = SEED_COPY.read_text(encoding="utf-8")
    assert detect_layout(text) == "lines"
    assert len(parse_faq(text)) == 35


def test_question_answer_layout():
    text = "Q: Is it safe?\nA: Mostly.\nIt depends.\n\nQ: Does it hurt?\nA: No.\n"
    assert [(p.question, p.answer, p.line) for p in parse_faq(text)] == [
        ("Is it safe?", "Mostly. It depends.", 1), ("Does it hurt?", "No.", 5)]


def test_markdown_layout_skips_headings_that_are_not_questions():
    text = "# Tea FAQ\n\nIntro text.\n\n## Is tea good?\nYes,\nvery.\n\n## Why green?\nTaste.\n"
    assert detect_layout(text) == "markdown"
    assert [(p.question, p.answer) for p in parse_faq(text)] == [
        ("Is tea good?", "Yes, very."), ("Why green?", "Taste.")]


def test_draft_merges_repeated_questions_and_validates():
    pairs = parse_faq(SEED_COPY.read_text(encoding="utf-8"))
    knowledge, problems = parse_knowledge(draft_knowledge(pairs, title="t", source="seed"))
    assert knowledge is not None and len(knowledge) == 33
    assert not [p for p in problems if p.severity == "error"]


def test_import_command_writes_a_draft(tmp_path, capsys):
    out = tmp_path / "draft.yaml"
    assert main(["import", str(SEED_COPY), "-o", str(out)]) == 0
    assert "35 pairs imported" in capsys.readouterr().err
    assert main(["check", str(out)]) == 0
    assert main(["import", str(SEED_COPY), "-o", str(out)]) == 1  # no silent overwrite
