"""Validation: every problem names file, line, entry and field; warnings can be justified."""

from __future__ import annotations

import io

import pytest

from bot.cli import main
from bot.knowledge import load_knowledge, parse_knowledge
from bot.knowledge.problems import KnowledgeError


def problems_of(text: str) -> list[str]:
    return [str(p) for p in parse_knowledge(text, path="kb.yaml")[1]]


def test_tiny_file_is_valid(tiny_text):
    knowledge, problems = parse_knowledge(tiny_text, path="kb.yaml")
    assert problems == []
    assert [e.id for e in knowledge.entries] == ["green-tea-caffeine", "brew-time",
                                                 "water-temperature"]
    assert knowledge.synonyms["tea"] == ("chai", "cuppa")
    assert knowledge.entries[0].line == 10


def test_broken_indent_is_one_line_with_position(tiny_file, capsys):
    text = tiny_file.read_text().replace("    answer: Steep", "  answer: Steep")
    tiny_file.write_text(text)
    assert main(["check", str(tiny_file)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{tiny_file}:26:3: error invalid YAML: ")


def test_missing_empty_and_mistyped_fields(tiny_text):
    answer_line = "    answer: Green tea contains caffeine, usually less than coffee.\n"
    text = (tiny_text.replace(answer_line, "")
            .replace("question: How long should I steep tea?", "question: ''")
            .replace("tags: [brewing]\n", "tags: brewing\n", 1))
    assert problems_of(text) == [
        "kb.yaml:10:5: error [green-tea-caffeine] answer: missing (required)",
        "kb.yaml:19:15: error [brew-time] question: must not be empty",
        "kb.yaml:26:11: error [brew-time] tags: must be a list of text; got str 'brewing'",
    ]


def test_unknown_keys_duplicate_ids_and_shared_phrasings(tiny_text):
    text = (tiny_text.replace("source: written for the tests", "sauce: oops")
            .replace("id: brew-time", "id: green-tea-caffeine")
            .replace("- steeping time", "- caffeine in green tea"))
    assert problems_of(text) == [
        "kb.yaml:5:1: error sauce: unknown key (allowed: crisis_message, description, "
        "disclaimer, entries, source, synonyms, title)",
        "kb.yaml:19:9: error [green-tea-caffeine] id: duplicate id (first used on line 10)",
        "kb.yaml:22:9: error [green-tea-caffeine] alternates: 'caffeine in green tea' is also a "
        "phrasing of entry 'green-tea-caffeine'",
    ]


def test_bad_yaml_gives_line_and_column():
    assert problems_of("title: [unclosed\n") == [
        "kb.yaml:2:1: error invalid YAML: expected ',' or ']', but got '<stream end>'"]


def test_not_a_mapping_and_empty_file():
    assert problems_of("- a\n- b\n") == [
        "kb.yaml:1:1: error the file must be a mapping with title, disclaimer and entries; "
        "got a list"]
    assert problems_of("") == [
        "kb.yaml:1:1: error the file must be a mapping with title, disclaimer and entries; "
        "got empty"]


def test_truncated_and_too_long_answers_warn(tiny_text):
    text = tiny_text.replace("usually less than coffee.", "usually less than ...").replace(
        "for two to three.", "for two to three. " + "More. " * 700)
    found = problems_of(text)
    assert any("warning (truncated) [green-tea-caffeine] answer" in p for p in found)
    assert any("warning (too-long) [brew-time] answer: 4" in p for p in found)


def test_a_comment_can_justify_a_warning(tiny_text):
    text = tiny_text.replace("usually less than coffee.", "usually less than ...").replace(
        "    tags: [caffeine]", "    # check: allow truncated -- the source is cut here\n"
        "    tags: [caffeine]")
    assert problems_of(text) == []


def test_synonym_variant_under_two_terms(tiny_text):
    text = tiny_text.replace("caffeine: [caffiene]", "caffeine: [caffiene, chai]")
    assert problems_of(text) == [
        "kb.yaml:8:13: error synonyms.caffeine: variant 'chai' is also listed under 'tea'"]


def test_near_duplicates_and_closer_to_other_warn(tiny_file, capsys):
    text = tiny_file.read_text().replace("- boiling water for green tea",
                                         "- how many minutes to brew the tea")
    tiny_file.write_text(text)
    assert main(["check", str(tiny_file)]) == 0  # warnings do not fail the check
    out = capsys.readouterr().out
    assert "warning (near-duplicate) [brew-time] alternates: 'how many minutes to brew tea' " \
        "is nearly the same as 'how many minutes to brew the tea' in entry " \
        "'water-temperature'" in out


def test_load_raises_with_every_error(tmp_path):
    path = tmp_path / "kb.yaml"
    path.write_text("title: x\nentries: []\n")
    try:
        load_knowledge(path)
    except KnowledgeError as exc:
        assert [p.message for p in exc.problems] == [
            "missing (required)", "must be a non-empty list of entries; got a list"]
    else:
        raise AssertionError("expected KnowledgeError")


def test_unreadable_file_is_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.yaml")]) == 1
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'missing.yaml'}: error file not found"


FAULTS = {
    "nesting": ("title: x\nentries: " + "[" * 250 + "]" * 250 + "\n", ":2:1: brackets nested 250"),
    "long number": ("title: x\nentries:\n  - id: a\n    question: " + "9" * 4400 + "\n",
                    ":4:1: a number of more than 1000 digits"),
    "size": ("title: x\n# " + "a" * (9 * 1024 * 1024) + "\n", ": file too large"),
}


@pytest.mark.parametrize("command", [["check"], ["ask", "hi"], ["chat"]])
@pytest.mark.parametrize("fault", FAULTS)
def test_file_limits_are_one_line_and_a_failing_exit(tmp_path, capsys, monkeypatch, fault,
                                                     command):
    text, expected = FAULTS[fault]
    path = tmp_path / "kb.yaml"
    path.write_text(text)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"hi\n")))
    assert main(["--knowledge", str(path), *command]) == 1
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).strip().splitlines()
    if command == ["check"]:  # the problem, then the count
        assert lines[-1].endswith("1 error(s), 0 warning(s)")
        lines = lines[:-1]
    assert len(lines) == 1, lines
    assert f"{path}{expected}" in lines[0].replace(": error ", ": ")
