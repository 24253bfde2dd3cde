"""The shipped knowledge file: valid, faithful to the seed, and rich in alternates."""

from __future__ import annotations

import json

import pytest

from bot.cli import run_check
from bot.engine.evaluation import seed_to_entries
from bot.knowledge.importer import parse_faq
from bot.paths import SEED_COPY
from tests.conftest import SHARED, SHIPPED, needs_shared

MIN_OWN_ALTERNATES = 5


def seed_pairs():
    return parse_faq(SEED_COPY.read_text(encoding="utf-8"))


def test_shipped_file_has_no_problems_reported_all_at_once():
    knowledge, problems = run_check(SHIPPED)
    assert knowledge is not None
    assert not problems, "problems in the shipped knowledge file:\n" + "\n".join(
        f"  {p}" for p in problems)


def test_the_shipped_engine_cache_is_current(pytestconfig):
    """A fresh install answers in about a second only if the committed cache was built from
    exactly the committed inputs (train.py, or any start of the bot, rewrites it)."""
    stored, expected = pytestconfig.shipped_cache_keys
    assert stored == expected, (
        "knowledge/.ketamine.cache.npz is stale or missing: run `python train.py` (or any "
        "`python -m bot` command) and commit the rewritten cache")


def test_every_seed_question_is_a_phrasing_of_the_entry_holding_its_answer(shipped_knowledge):
    pairs = seed_pairs()
    mapping = seed_to_entries({n: p.answer for n, p in enumerate(pairs, 1)}, shipped_knowledge,
                              {n: p.question for n, p in enumerate(pairs, 1)})
    missing = [(n, p.question, mapping[n]) for n, p in enumerate(pairs, 1)
               if p.question not in shipped_knowledge.get(mapping[n]).phrasings]
    assert not missing, "seed questions not kept verbatim: " + repr(missing)


def test_all_35_seed_pairs_are_represented(shipped_knowledge):
    pairs = seed_pairs()
    assert len(pairs) == 35
    mapping = seed_to_entries({n: p.answer for n, p in enumerate(pairs, 1)}, shipped_knowledge,
                              {n: p.question for n, p in enumerate(pairs, 1)})
    assert set(mapping.values()) == {e.id for e in shipped_knowledge.entries}


def test_each_entry_has_enough_own_alternates(shipped_knowledge):
    seed_questions = {p.question for p in seed_pairs()}
    short = {e.id: len([a for a in e.alternates if a not in seed_questions])
             for e in shipped_knowledge.entries}
    assert all(n >= MIN_OWN_ALTERNATES for n in short.values()), short


@pytest.mark.parametrize("artefact", [", 9 a neurotransmitter", "1975. 1 Early", "best, 5 but",
                                      "Jan 19, 2021", "What is Ketamine therapy?", "..."])
def test_seed_artefacts_are_cleaned(shipped_knowledge, artefact):
    assert not [e.id for e in shipped_knowledge.entries if artefact in e.answer]


@needs_shared
def test_own_alternates_are_not_copied_from_the_dev_set(shipped_knowledge):
    from bot.knowledge.loader import phrasing_key

    dev = {phrasing_key(json.loads(line)["query"])
           for line in (SHARED / "eval" / "ketamine_dev.jsonl").read_text().splitlines()}
    seed_questions = {p.question for p in seed_pairs()}
    copied = [p for e in shipped_knowledge.entries for p in e.alternates
              if phrasing_key(p) in dev and p not in seed_questions]
    assert not copied
