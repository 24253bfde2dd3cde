"""Training data never copies an evaluation row: no safety-corpus message, alternate or
training paraphrase may be within 80% similarity (rapidfuzz ratio of the cleaned texts) of a
query in any evaluation set: the shared dev sets and our own blind sets.

Failures name the training text and the evaluation file, never the evaluation row itself (a
blind row that is read stops being blind).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

from bot.engine.text import clean
from tests.conftest import ROOT, SHARED

SIMILARITY = 80
BLIND = sorted((ROOT / "benchmarks").glob("blind*/**/*.jsonl"))
SHARED_EVAL = [p for p in sorted((SHARED / "eval").glob("*.jsonl")) if p.name != "seed_pairs.jsonl"]


def _queries(path: Path) -> list[str]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip())
    return [clean(r["query"]) for r in rows]


def _training_texts() -> dict[str, list[str]]:
    from bot import paths
    from bot.knowledge import load_knowledge
    from bot.knowledge.importer import parse_faq
    from bot.safety_files import SAFETY_DIR, read_corpus

    texts: dict[str, list[str]] = {}
    for e in read_corpus():
        texts.setdefault(f"knowledge/safety/{e.writer}.jsonl", []).append(e.text)
    pending = SAFETY_DIR / "pending"  # written for training, waiting to be trained on
    if pending.is_dir():
        for e in read_corpus(pending):
            texts.setdefault(f"knowledge/safety/pending/{e.writer}.jsonl", []).append(e.text)
    # The seed questions are the knowledge itself, kept verbatim, not training data.
    seed = {p.question for p in parse_faq(paths.SEED_COPY.read_text(encoding="utf-8"))}
    knowledge = load_knowledge(paths.DEFAULT_KNOWLEDGE)
    texts["knowledge/ketamine.yaml alternates"] = [a for e in knowledge.entries
                                                   for a in e.alternates if a not in seed]
    return texts


def _near_copies(training: list[str], evaluation: list[str]) -> list[str]:
    cleaned = [clean(t) for t in training]
    scores = process.cdist(cleaned, evaluation, scorer=fuzz.ratio, score_cutoff=SIMILARITY,
                           workers=-1)
    return [training[i] for i in sorted(set(scores.nonzero()[0]))]


@pytest.fixture(scope="module")
def training_texts() -> dict[str, list[str]]:
    return _training_texts()


@pytest.mark.parametrize("eval_file", BLIND, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_training_text_is_close_to_a_blind_row(training_texts, eval_file):
    evaluation = _queries(eval_file)
    found = {source: _near_copies(texts, evaluation) for source, texts in training_texts.items()}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"training texts within {SIMILARITY}% of a row of {eval_file.name}: {found}"


@pytest.mark.needs_shared
@pytest.mark.skipif(not SHARED_EVAL, reason="needs ../shared/eval (absent on a bare clone)")
@pytest.mark.parametrize("eval_name", [p.name for p in SHARED_EVAL] or ["none"])
def test_no_training_text_is_close_to_a_shared_eval_row(training_texts, eval_name):
    evaluation = _queries(SHARED / "eval" / eval_name)
    found = {source: _near_copies(texts, evaluation) for source, texts in training_texts.items()}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"training texts within {SIMILARITY}% of a row of {eval_name}: {found}"
