"""Checks of a knowledge file that need the matcher: phrasings that will confuse matching."""

from __future__ import annotations

import numpy as np

from bot.engine.index import FEATURES, FaqIndex
from bot.knowledge.loader import drop_justified
from bot.knowledge.model import Knowledge
from bot.knowledge.problems import Problem

NEAR_DUPLICATE = 0.9  # character TF-IDF cosine between phrasings of two entries
MAX_PAIRWISE_PHRASINGS = 5000  # above this the pairwise check would be slow; it is skipped


def lint(knowledge: Knowledge, index: FaqIndex | None = None) -> list[Problem]:
    """Warnings: near-duplicate phrasings across entries, and entries whose own question
    matches another entry better than its own (leave-one-out)."""
    index = index or FaqIndex().fit(knowledge.entries, knowledge.synonyms)
    problems = _near_duplicates(knowledge, index) + _closer_to_other(knowledge, index)
    return drop_justified(problems, knowledge.justified_warnings)


def _warning(knowledge: Knowledge, entry_index: int, code: str, field: str, message: str
             ) -> Problem:
    entry = knowledge.entries[entry_index]
    return Problem("warning", message, knowledge.path, entry.line, None, entry.id, field, code)


def _near_duplicates(knowledge: Knowledge, index: FaqIndex) -> list[Problem]:
    n = len(index.phrasing_norm_)
    if n > MAX_PAIRWISE_PHRASINGS:
        return []
    m = index.phrasing_char_.matrix_t.T.tocsr()
    sim = (m @ m.T).toarray()
    owner = index.phrasing_entry_
    sim[owner[:, None] == owner[None, :]] = 0.0
    problems, seen = [], set()
    for a, b in zip(*np.nonzero(np.triu(sim) >= NEAR_DUPLICATE), strict=True):
        ea, eb = int(owner[a]), int(owner[b])
        if (ea, eb) in seen:
            continue
        seen.add((ea, eb))
        text_a, text_b = index.phrasing_text_[a], index.phrasing_text_[b]
        message = (f"{text_a!r} is nearly the same as {text_b!r} in entry "
                   f"{knowledge.entries[eb].id!r} (similarity {sim[a, b]:.2f})")
        problems.append(_warning(knowledge, ea, "near-duplicate", "alternates", message))
    return problems


def _closer_to_other(knowledge: Knowledge, index: FaqIndex) -> list[Problem]:
    questions = [int(s) for s in index.entry_starts_]
    problems = []
    counts = np.bincount(index.phrasing_entry_)
    texts = [index.phrasing_text_[j] for j in questions]
    exclude = [j if counts[index.phrasing_entry_[j]] > 1 else None for j in questions]
    columns = [FEATURES.index(f) for f in ("word", "char", "answer", "sentence")]
    for e, found in enumerate(index.candidates(texts, exclude=exclude)):
        best = int(found.entries[int(np.argmax(found.features[:, columns].sum(axis=1)))])
        if best != e and exclude[e] is not None:
            problems.append(_warning(
                knowledge, e, "closer-to-other", "question",
                f"the question matches entry {knowledge.entries[best].id!r} better than this "
                f"entry's own alternates and answer"))
    return problems
