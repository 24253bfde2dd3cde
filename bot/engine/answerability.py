"""Can this entry answer this question? Features that ask it directly, the same way for any
knowledge file, where similarity alone is fooled.

- foreign subject: the question names a drug, therapy or product (from a general lexicon of
  such names) that the entry never mentions: "is mdma better than ketamine" is not answered
  by an entry about ketamine's benefits, however many words they share. Names are matched
  as whole words, so character n-grams cannot make "esketamine" into "ketamine".
- question type: the question asks how much (a price), how many, when, how long, who or
  where, and the entry's answer holds nothing of that kind (no price, number, year,
  duration, name or place).
- topical: the share of the question's words that are the knowledge's own, against how
  often everyday requests use them: a one-word question such as "clear" shares a word with an
  answer but says nothing about the topic.
- broad fit: the question names only the topic ("what is ketamine", "tell me about iv
  ketamine") and the entry is one of the knowledge's overview questions (the most central:
  its question and answer share most with all the others'); such a question should get the
  broadest answer, not the one whose wording happens to be closest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from bot.engine.text import clean, content_tokens, words
from bot.knowledge.model import Entry

ANSWERABILITY = ("foreign_subject", "qtype_mismatch", "broad_fit", "topical")
TOPICAL_RATIO = 10.0  # a word is the knowledge's own when its share of entries is 10x its
# share of everyday requests
MAX_SUBJECTS = 2

# Question types, asked as word patterns on the cleaned question ...
_QUESTION_TYPES = {
    "cost": re.compile(r"\b(?:cost|costs|price|prices|pricey|expensive|cheap|afford|fee|fees|"
                       r"how much (?:is|are|does|do|will|would) (?:it|they|an?|one|each|the)\b"
                       r"(?! (?:dose|amount|mg))|out of pocket|dollars?)\b|\$"),
    "count": re.compile(r"\bhow many\b(?! (?:hours|minutes|days|weeks|months|years|mins|hrs)"
                        r")"),
    "when": re.compile(r"\b(?:when (?:was|were|did|is|are)|what year|which year|what decade|"
                       r"since when|how long ago)\b"),
    "duration": re.compile(r"\b(?:how long|how many (?:hours|minutes|days|weeks|months|years|"
                           r"mins|hrs)|how soon|how quickly|how fast)\b"),
    "who": re.compile(r"\b(?:who|whose|which doctor|which company|which scientist)\b"),
    "where": re.compile(r"\b(?:where|which (?:clinic|hospital|city|country|state|place))\b"),
    "dose": re.compile(r"\b(?:dose|doses|dosage|dosages|dosing|mg|milligrams?|mcg|"
                       r"how much (?:ketamine|of it|do they give|should))\b"),
}
# ... and the evidence an answer holds for each, on its original text.
_NUMBER = r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|fifty|" \
          r"hundred|dozen|several|single|once|twice)\b)"
_UNIT = r"(?:second|minute|hour|day|week|month|year|decade)s?"
_EVIDENCE = {
    "cost": re.compile(r"\$|\b(?:cost|costs|price|insurance|pay|paid|dollars?|expensive|"
                       r"cheap|covered|afford)\b", re.IGNORECASE),
    "count": re.compile(_NUMBER, re.IGNORECASE),
    "when": re.compile(r"\b(?:1[89]\d\d|20\d\d)s?\b|\b(?:decade|century|since|ago|early|"
                       r"first)\b", re.IGNORECASE),
    "duration": re.compile(rf"{_NUMBER}[\w\s-]{{0,12}}\b{_UNIT}\b|\b(?:{_UNIT}|briefly|"
                           r"temporary|temporarily|lasting|lasts?|wears? off|long-term|"
                           r"short-term)\b", re.IGNORECASE),
    # a capitalised word inside a sentence (a name), or a word for people
    "who": re.compile(r"\b[a-z][a-z,]*\s+[A-Z][a-z]{2,}|\b(?:doctors?|physicians?|"
                      r"researchers?|scientists?|psychiatrists?|anesthesiologists?|patients|"
                      r"people|adults|children|veterans)\b"),
    "where": re.compile(r"\b(?:clinic|clinics|hospital|office|home|center|centre|university|"
                        r"in the (?:us|uk|united states)|country|countries|setting|vein|arm|"
                        r"muscle)\b", re.IGNORECASE),
    "dose": re.compile(r"\d\s*(?:mg|milligrams?|mcg|ml|mg/kg)\b|\bper (?:kilogram|kg)\b",
                       re.IGNORECASE),
}
BROAD_WORDS = 2  # a broad question has at most this many content words, all of the topic
_TITLE_GLUE = frozenset({"faq", "faqs", "question", "questions", "answer", "answers"})
TOPIC_SHARE = 0.3  # a token in at least this share of the entries' questions is the topic


class Answerability:
    """Per-entry facts, fitted on the knowledge's entries.

    Parameters
    ----------
    subjects : names of drugs, therapies and products (one per item, lower case, 1-3 words).
    synonyms : the knowledge file's synonyms: an entry that names a variant names its term.
    """

    def __init__(self, subjects: Sequence[str] = (),
                 synonyms: Mapping[str, Sequence[str]] | None = None):
        self.subjects = subjects
        self.synonyms = synonyms or {}

    def fit(self, entries: Sequence[Entry], tokens_of, *, title: str = "",
            centrality: np.ndarray | None = None,
            background: Mapping[str, float] | None = None) -> Answerability:
        """`tokens_of(text)` gives the index's matching tokens (for the topic words);
        `centrality` how close each entry is to the knowledge as a whole (0-1); `background`
        each matching token's share of everyday requests."""
        self.by_first_: dict[str, list[tuple[str, ...]]] = {}
        for name in self.subjects:
            parts = tuple(words(clean(name)))
            if parts:
                self.by_first_.setdefault(parts[0], []).append(parts)
        groups = [{tuple(words(clean(t))) for t in (term, *variants)}
                  for term, variants in self.synonyms.items()]
        self.entry_subjects_ = []
        for entry in entries:
            found = set()
            for text in (*entry.phrasings, entry.answer):
                found |= self._subjects(words(clean(text)))
            for group in groups:  # naming one form of a synonym names them all
                if found & group:
                    found |= group
            self.entry_subjects_.append(frozenset(found))
        self.evidence_ = [frozenset(kind for kind, pattern in _EVIDENCE.items()
                                    if pattern.search(entry.answer)) for entry in entries]
        self._last_query = None
        questions = [content_tokens(tokens_of(e.question)) for e in entries]
        share = Counter(t for q in questions for t in q)
        common = [t for t, n in share.most_common() if n >= max(2, TOPIC_SHARE * len(entries))]
        # The topic's main word, implied in any question that names none of the topic's words
        # (only when it is the knowledge's clear subject: most entries' questions name it).
        self.implied_ = common[0] if common and share[common[0]] >= len(entries) / 2 else None
        self.topic_ = frozenset(common) | (
            content_tokens(tokens_of(title)) - _TITLE_GLUE)
        self.generality_ = np.zeros(len(entries)) if centrality is None else \
            np.asarray(centrality, dtype=float)
        # Shares over the knowledge's documents (each phrasing and each answer): over whole
        # entries a word that one answer uses once would look as common as the topic itself.
        documents = [content_tokens(tokens_of(text))
                     for e in entries for text in (*e.phrasings, e.answer)]
        share_kb = Counter(t for tokens in documents for t in tokens)
        n = max(len(documents), 1)
        floor = min(background.values(), default=0.0) if background else 0.0
        self.topical_ = frozenset(
            t for t, k in share_kb.items()
            if background is None or k / n >= TOPICAL_RATIO * background.get(t, floor))
        return self

    def missing(self, entry: int) -> frozenset[str]:
        """The kinds of detail (price, number, year, ...) that an entry's answer does not
        hold."""
        return frozenset(_EVIDENCE) - self.evidence_[entry]

    def overview(self, n: int = 3) -> list[int]:
        """The entries that answer the knowledge's topic at the broadest level, broadest
        first."""
        return [int(e) for e in np.argsort(-self.generality_, kind="stable")[:n]]

    def _subjects(self, tokens: Sequence[str]) -> set[tuple[str, ...]]:
        found = set()
        for i, token in enumerate(tokens):
            for parts in self.by_first_.get(token, ()):
                if tuple(tokens[i:i + len(parts)]) == parts:
                    found.add(parts)
        return found

    def query(self, text: str, content: set[str]) -> tuple[frozenset, frozenset, bool, float]:
        """(subjects named, question types asked, broad?, share of its content words that
        are the knowledge's own) of one query; `content` is its content tokens as the index
        sees them. Broad: a few content words, all of them the topic's own."""
        last = self._last_query  # matching asks twice about each query
        if last is not None and last[0] == text and last[1] == content:
            return last[2]
        found = self._query(text, content)
        self._last_query = (text, frozenset(content), found)
        return found

    def _query(self, text: str, content: set[str]) -> tuple[frozenset, frozenset, bool, float]:
        cleaned = clean(text)
        subjects = frozenset(self._subjects(words(cleaned)))
        kinds = frozenset(k for k, pattern in _QUESTION_TYPES.items() if pattern.search(cleaned))
        broad = 0 < len(content) <= BROAD_WORDS and any(t in self.topic_ for t in content) \
            and all(t in self.topic_ or len(t) <= 3 for t in content)
        topical = sum(t in self.topical_ for t in content) / len(content) if content else 0.0
        return subjects, kinds, broad, topical

    def features(self, query: tuple[frozenset, frozenset, bool, float], entries: np.ndarray
                 ) -> np.ndarray:
        """(len(entries), len(ANSWERABILITY)) for the candidates of one query."""
        subjects, kinds, broad, topical = query
        out = np.zeros((len(entries), len(ANSWERABILITY)))
        for r, e in enumerate(entries):
            out[r, 0] = min(len(subjects - self.entry_subjects_[e]), MAX_SUBJECTS)
            out[r, 1] = float(bool(kinds - self.evidence_[e]))
            out[r, 2] = self.generality_[e] if broad else 0.0
        out[:, 3] = topical
        return out
