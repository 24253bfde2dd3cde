"""A multilingual concept lexicon: how many terms of each concept (intent, means, symptoms,
first person, past tense, ...) occur in a message. The risk model reads these counts beside
its n-grams: they mean the same for any wording a concept's terms cover, which n-grams learned
from a few thousand messages cannot.

Terms match whole words of the flattened text (see `flatten`); a multi-word term matches
that word sequence; a trailing `*` matches any word starting with the term; terms in scripts
written without spaces (Chinese, Japanese, Thai, ...) match anywhere as substrings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from bot.engine.text import clean

# One token: a word (letters and digits, inner apostrophes dropped later), or one symbol
# such as an emoji or "?", which carry meaning in chat ("💀", "🪦", "?").
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]", re.UNICODE)
# Scripts written without spaces between words: their terms are matched as substrings.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
                       r"\uf900-\ufaff\uac00-\ud7af]")


def strip_marks(text: str) -> str:
    """Text without combining marks (accents), so "suicídio" and "suicidio" are one word.
    Hangul and other scripts whose letters decompose are put back together afterwards."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def flatten(text: str) -> str:
    """Cleaned (NFKC, casefolded, no invisible or control characters), without accents."""
    return strip_marks(clean(text))


def tokens(flat: str) -> list[str]:
    """Word and symbol tokens of flattened text; apostrophes inside words dropped."""
    return [t.replace("'", "").replace("’", "") for t in _TOKEN.findall(flat)]


class ConceptLexicon:
    """Counts concept terms in messages.

    Parameters
    ----------
    concepts : mapping of concept name -> {language code -> [terms]} (the YAML file's shape).
    """

    def __init__(self, concepts: Mapping[str, Mapping[str, Sequence[str]]]):
        self.concepts = concepts

    def fit(self) -> ConceptLexicon:
        """Compile the terms (nothing is learned; kept for the estimator's shape)."""
        self.names_ = tuple(sorted(self.concepts))
        self.exact_: dict[str, list[int]] = {}
        self.prefix_: dict[str, list[int]] = {}
        self.phrases_: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        unspaced: dict[str, set[int]] = {}
        for c, name in enumerate(self.names_):
            for terms in self.concepts[name].values():
                for raw in terms:
                    self._add(str(raw), c, unspaced)
        self.prefix_lengths_ = sorted({len(p) for p in self.prefix_}, reverse=True)
        self._word_cache: dict[str, tuple[int, ...]] = {}
        self.unspaced_ = [(term, sorted(cs)) for term, cs in sorted(unspaced.items())]
        return self

    def _add(self, raw: str, concept: int, unspaced: dict[str, set[int]]) -> None:
        term = flatten(raw)
        prefix = term.endswith("*")
        term = term.rstrip("*").strip()
        if not term:
            return
        if _UNSPACED.search(term):
            unspaced.setdefault(term, set()).add(concept)
            return
        parts = tuple(tokens(term))
        if not parts:
            return
        if len(parts) > 1:
            self.phrases_.setdefault(parts[0], []).append((parts, concept))
        elif prefix:
            self.prefix_.setdefault(parts[0], []).append(concept)
        else:
            self.exact_.setdefault(parts[0], []).append(concept)

    def compiled(self) -> dict:
        """The fitted matching tables, JSON-ready (`from_compiled` takes them back without
        redoing the work)."""
        return {"names": list(self.names_), "exact": self.exact_, "prefix": self.prefix_,
                "phrases": {k: [[list(parts), c] for parts, c in v]
                            for k, v in self.phrases_.items()},
                "unspaced": [[term, cs] for term, cs in self.unspaced_]}

    @classmethod
    def from_compiled(cls, data: Mapping) -> ConceptLexicon:
        lexicon = cls({})
        lexicon.names_ = tuple(str(n) for n in data["names"])
        n = len(lexicon.names_)

        def concepts(values) -> list[int]:
            out = [int(c) for c in values]
            if any(not 0 <= c < n for c in out):
                raise ValueError("lexicon table names a concept that does not exist")
            return out

        lexicon.exact_ = {str(k): concepts(v) for k, v in data["exact"].items()}
        lexicon.prefix_ = {str(k): concepts(v) for k, v in data["prefix"].items()}
        lexicon.phrases_ = {str(k): [(tuple(str(p) for p in parts), concepts([c])[0])
                                     for parts, c in v] for k, v in data["phrases"].items()}
        lexicon.unspaced_ = [(str(term), concepts(cs)) for term, cs in data["unspaced"]]
        lexicon.prefix_lengths_ = sorted({len(p) for p in lexicon.prefix_}, reverse=True)
        lexicon._word_cache = {}
        return lexicon

    @property
    def n_concepts(self) -> int:
        return len(self.names_)

    def _word_concepts(self, word: str) -> tuple[int, ...]:
        """The concepts one word is a term of, exactly or by prefix (cached: the same words
        come back in every message, and the prefix lookups are most of the counting)."""
        cache = self._word_cache
        found = cache.get(word)
        if found is None:
            found = [*self.exact_.get(word, ())]
            for n in self.prefix_lengths_:
                if n <= len(word):
                    found += self.prefix_.get(word[:n], ())
            found = tuple(found)
            if len(cache) < 100_000:
                cache[word] = found
        return found

    def counts(self, flat: str, words: Sequence[str] | None = None) -> np.ndarray:
        """How many terms of each concept occur in one flattened text (a term once per place)."""
        if not hasattr(self, "names_"):
            raise RuntimeError("this ConceptLexicon is not fitted yet; call fit() first")
        words = tokens(flat) if words is None else words
        out = np.zeros(len(self.names_))
        for i, word in enumerate(words):
            for c in self._word_concepts(word):
                out[c] += 1
            for parts, c in self.phrases_.get(word, ()):
                if tuple(words[i:i + len(parts)]) == parts:
                    out[c] += 1
        if self.unspaced_ and _UNSPACED.search(flat):
            for term, cs in self.unspaced_:
                if term in flat:
                    out[cs] += flat.count(term)
        return out
