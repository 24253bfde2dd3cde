"""The shipped knowledge and model still answer the bundled blind query sets well.

A guard for edits to the knowledge file, the negatives or the engine: the floors sit a few
points under today's figures (README, "Measured"), so a change that loses several questions
fails here, with the questions it lost in the message.
"""

from __future__ import annotations

import io

import pytest

from bot.conversation import Conversation
from bot.evaluate import evaluate_file
from bot.runtime import load_engine
from tests.conftest import ROOT

BLIND = ROOT / "benchmarks" / "blind_sets"


@pytest.fixture(scope="module")
def conversation() -> Conversation:
    loaded = load_engine()
    assert not loaded.notices, loaded.notices  # the shipped model matches the shipped file
    return Conversation(loaded.engine)


@pytest.mark.parametrize("name", ["casual", "careful", "mixed"])
def test_blind_sets_stay_resolved_and_rarely_wrong(conversation, name):
    out = io.StringIO()
    rates = evaluate_file(BLIND / f"{name}.jsonl", conversation, out).rates
    assert rates["resolved"] >= 0.90, out.getvalue()
    assert rates["confidently_wrong"] <= 0.03, out.getvalue()
    assert rates["oos_abstained"] >= 0.85, out.getvalue()
