"""Engine: a fitted index (+ optional entry classifier) and the model's weights and thresholds.

Pure: it is given a Knowledge and ModelParams and never reads files or settings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bot.engine.classifier import EntryClassifier, NearestNegative, ScopeClassifier
from bot.engine.decide import Match, Scored, decide
from bot.engine.index import FaqIndex
from bot.engine.model import DEFAULT_PARAMS, ModelParams
from bot.engine.text import clean, words
from bot.knowledge.model import Knowledge


class Engine:
    """Matches queries against one knowledge base."""

    def __init__(self, knowledge: Knowledge, params: ModelParams = DEFAULT_PARAMS, *,
                 negatives: Sequence[str] = (), index: FaqIndex | None = None):
        self.knowledge = knowledge
        self.params = params
        self.index = index or FaqIndex().fit(knowledge.entries, knowledge.synonyms)
        self.classifier = EntryClassifier(C=params.classifier_c).fit(self.index) \
            if params.use_classifier else None
        if params.use_scope and not negatives:
            raise ValueError("this model needs the out-of-scope questions it was trained with")
        self.scope = ScopeClassifier(C=params.scope_c).fit(self.index, negatives) \
            if params.use_scope else None
        self.near_negative = NearestNegative().fit(self.index, negatives) \
            if params.use_scope else None

    def rank(self, query: str, *, explain: int = 1) -> list[Scored]:
        """All shortlisted candidates with their confidence, best first (the first `explain`
        carry the query words that matched them)."""
        vectors = self.index.vectorize([query])
        proba = self.classifier.proba(vectors) if self.classifier is not None else None
        scope = self.scope.proba(vectors) if self.scope is not None else None
        near = self.near_negative.similarity(vectors) if self.near_negative is not None \
            else None
        found = self.index.candidates(vectors, classifier_proba=proba, in_scope=scope,
                                      near_negative=near)[0]
        confidence = self.params.confidence(found.features)
        order = np.argsort(-confidence, kind="stable")
        entries = self.knowledge.entries
        ranked = []
        for rank, r in enumerate(order):
            e = int(found.entries[r])
            ranked.append(Scored(
                entry=entries[e], confidence=float(confidence[r]),
                phrasing=_phrasing_text(entries[e], int(self.index.entry_starts_[e]),
                                        int(found.best_phrasing[r])),
                terms=tuple(self.index.explain_terms(query, e)) if rank < explain else ()))
        return ranked

    def match(self, query: str) -> Match:
        """Decide how to reply to `query`.

        A message of several sentences ("My son was in hospital last year. Do doctors use
        ketamine for that?") is also matched question by question, and the most confident
        reading wins: the story around a question dilutes its match.
        """
        if not words(clean(query)):
            return Match("invalid")
        ranked = self.rank(query)
        parts = [] if ranked[0].confidence >= self.params.thresholds.answer \
            else question_parts(query)
        for part in parts:
            candidate = self.rank(part)
            if candidate and candidate[0].confidence > ranked[0].confidence:
                ranked = candidate
        return decide(ranked, self.params.thresholds)


_SENTENCE = re.compile(r"[^.?!\n]+[.?!]*")


def question_parts(text: str, *, min_words: int = 3, limit: int = 3) -> list[str]:
    """The question sentences of a message of several sentences (none for a single one)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= min_words]
    if len(sentences) < 2:
        return []
    questions = [s for s in sentences if s.endswith("?")] or sentences[-1:]
    return questions[-limit:]


def _phrasing_text(entry, first_phrasing: int, phrasing: int) -> str:
    offset = phrasing - first_phrasing if phrasing >= 0 else 0
    phrasings = entry.phrasings
    return phrasings[offset] if 0 <= offset < len(phrasings) else entry.question
