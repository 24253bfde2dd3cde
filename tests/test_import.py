"""`python -m bot import`: FAQ documents -> pairs -> draft knowledge file."""

from __future__ import annotations

import json

import pytest

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


MARKDOWN_FAQ = """\
# **Tea** Questions

Everything about tea.

## **Is tea good for me?**
Yes, *mostly*: it has
`L-theanine` and **antioxidants**.

Things to watch:

- caffeine, which
  keeps some people awake
- sugar, if you add it
  * honey counts too

## How do I brew it?
1. Boil the water.
2. Steep for *three* minutes.
3) Remove the bag.
"""


def test_markdown_lists_stay_lists_and_emphasis_stays_markdown():
    pairs = parse_faq(MARKDOWN_FAQ)
    assert [p.question for p in pairs] == ["Is tea good for me?", "How do I brew it?"]
    assert pairs[0].answer == (
        "Yes, *mostly*: it has `L-theanine` and **antioxidants**.\n\n"
        "Things to watch:\n\n"
        "- caffeine, which keeps some people awake\n"
        "- sugar, if you add it\n"
        "  * honey counts too")
    assert pairs[1].answer == ("1. Boil the water.\n2. Steep for *three* minutes.\n"
                               "3) Remove the bag.")


def test_import_takes_the_h1_as_title_and_the_file_keeps_lists(tmp_path, capsys):
    source, out = tmp_path / "tea-faq.md", tmp_path / "draft.yaml"
    source.write_text(MARKDOWN_FAQ, encoding="utf-8")
    assert main(["import", str(source), "-o", str(out)]) == 0
    knowledge, problems = parse_knowledge(out.read_text(encoding="utf-8"))
    assert knowledge is not None, problems
    assert knowledge.title == "**Tea** Questions"  # not "tea-faq"
    assert [e.answer for e in knowledge.entries] == [p.answer for p in parse_faq(MARKDOWN_FAQ)]
    assert "      - caffeine, which keeps some people awake\n" in out.read_text()  # readable
    assert main(["import", str(source), "--title", "Mine", "-o", str(out), "--force"]) == 0
    assert parse_knowledge(out.read_text(encoding="utf-8"))[0].title == "Mine"


def test_a_document_without_h1_is_titled_by_its_file_name(tmp_path):
    source, out = tmp_path / "tea-faq.md", tmp_path / "draft.yaml"
    source.write_text(MARKDOWN_FAQ.replace("# **Tea** Questions\n", ""), encoding="utf-8")
    assert main(["import", str(source), "-o", str(out)]) == 0
    assert parse_knowledge(out.read_text(encoding="utf-8"))[0].title == "tea-faq"


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_unreadable_or_unwritable_paths_are_one_line_errors(tmp_path, capsys):
    source = tmp_path / "faq.md"
    source.write_text(MARKDOWN_FAQ, encoding="utf-8")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("", encoding="utf-8")
    assert main(["import", str(source), "-o", str(a_file / "draft.yaml")]) == 1
    assert "cannot write" in _one_line_error(capsys)
    assert main(["import", str(source), "-o", str(tmp_path), "--force"]) == 1  # a folder
    assert "cannot write" in _one_line_error(capsys)
    assert main(["import", str(tmp_path)]) == 1
    assert "cannot read" in _one_line_error(capsys)
    assert main(["import", str(tmp_path / "missing.md")]) == 1
    assert "cannot read" in _one_line_error(capsys)
    (tmp_path / "latin1.md").write_bytes(b"## Caf\xe9?\nYes.\n")
    assert main(["import", str(tmp_path / "latin1.md")]) == 1
    assert "cannot read" in _one_line_error(capsys)


@pytest.fixture(scope="module")
def untrained_draft(tmp_path_factory):
    """The seed document imported as a new knowledge base, with no model file, no
    paraphrases and no negatives of its own: what a maintainer has before `train.py`."""
    from bot.runtime import load_engine

    out = tmp_path_factory.mktemp("draft") / "draft.yaml"
    assert main(["import", str(SEED_COPY), "-o", str(out)]) == 0
    loaded = load_engine(out)
    assert any("model" in notice for notice in loaded.notices)  # says it is untrained
    return loaded.engine


@pytest.mark.parametrize("query", ["what should I wear", "how do I reset my password",
                                   "will it rain tomorrow", "recommend a pizza place nearby",
                                   "what time do you close on sundays", "clear"])
def test_an_untrained_draft_does_not_answer_unrelated_questions(untrained_draft, query):
    assert untrained_draft.match(query).status != "answer"


def test_an_untrained_draft_answers_its_own_questions_and_broad_ones_cautiously(
        untrained_draft):
    own = untrained_draft.knowledge.entries[0].question
    assert untrained_draft.match(own).status == "answer"
    broad = untrained_draft.match("what is ketamine")
    if broad.status == "answer":  # only an overview entry may take it outright
        assert broad.candidates[0].entry.question.lower().startswith("what is")
    else:
        assert broad.status in {"clarify", "unknown"}
