"""Text normalisation shared by indexing and querying.

`clean` makes any Unicode safe and comparable; `Normalizer` turns cleaned text into matching
tokens: synonyms rewritten to one term, unknown words corrected to known ones, word forms
stemmed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

# Characters that change nothing visible but defeat matching (and can smuggle mentions).
INVISIBLE_CODEPOINTS = (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070),
                        0xFEFF, 0x00AD, 0x034F, 0x061C, 0x180E)
_DROP_INVISIBLE = dict.fromkeys(INVISIBLE_CODEPOINTS)
# Searching for them first is far cheaper than translating a long text that has none.
_INVISIBLE = re.compile("[" + "".join(re.escape(chr(c)) for c in INVISIBLE_CODEPOINTS) + "]")
_ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")  # terminal control codes
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # Unicode category C within ASCII
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
MAX_QUERY_CHARS = 1000  # longer input is cut before matching; no FAQ question is this long

# Function words: kept for TF-IDF (IDF already discounts them) but not counted as content
# when measuring how much of a query the knowledge base covers.
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing don down during each few for from
further get got had has have having he her here hers him his how i if in into is it its just
know let like me more most my no nor not now of off on once only or other our out over own
really same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who whom
why will with would you your yours im ive id dont doesnt isnt whats hows thats theres cant
wont pls please hi hey hello thanks thank tell want need think anyone someone ok okay
""".split())


def clean(text: str) -> str:
    """NFKC, no invisible/bidi/control characters, casefolded, whitespace collapsed."""
    # Only the start of a message is ever read, and caching on it alone keeps the cache small
    # whatever the size of the input.
    return _clean(text[: MAX_QUERY_CHARS * 4])


@functools.lru_cache(maxsize=4096)  # one message is cleaned by several routing steps
def _clean(text: str) -> str:
    text = _ANSI_ESCAPE.sub(" ", text)
    if text.isascii():  # NFKC and the invisible characters change nothing in ASCII
        text = _ASCII_CONTROL.sub(" ", text)
    else:
        text = unicodedata.normalize("NFKC", text).translate(_DROP_INVISIBLE)
        # Looked up once per distinct character rather than once per character.
        control = {ch for ch in set(text) if unicodedata.category(ch)[0] == "C"}
        if control:
            text = "".join(" " if ch in control else ch for ch in text)
    text = " ".join(text.casefold().split())
    if len(text) > MAX_QUERY_CHARS:  # cut at a word boundary: half a word reads as another
        text = text[: MAX_QUERY_CHARS + 1].rsplit(" ", 1)[0]
    return text


def strip_invisible(text: str) -> str:
    """NFKC (full-width ＠ becomes @) without zero-width or bidi characters; case kept."""
    if text.isascii():  # NFKC changes no ASCII, and every invisible character is beyond it
        return text
    text = unicodedata.normalize("NFKC", text)
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text


def words(text: str) -> list[str]:
    """Word tokens of cleaned text; apostrophes dropped ("what's" -> "whats"), no punctuation."""
    return [w.replace("'", "").replace("’", "") for w in _WORD.findall(text)]


# Chat shorthand with one clear meaning, expanded before matching: left as is, "ppl" or "yrs"
# are unknown words that make a question look less covered than it is. Knowledge-file
# synonyms take precedence over these.
CHAT_SHORTHAND = {
    "u": "you", "ur": "your", "r": "are", "ppl": "people", "thru": "through",
    "abt": "about", "bc": "because", "cuz": "because", "coz": "because", "tho": "though",
    "altho": "although", "rly": "really", "pls": "please", "plz": "please",
    "idk": "i do not know", "dunno": "do not know", "diff": "different", "yr": "year",
    "yrs": "years", "hr": "hour", "hrs": "hours", "mins": "minutes", "wk": "week",
    "wks": "weeks", "meds": "medications", "med": "medication", "doc": "doctor",
    "docs": "doctors", "dr": "doctor", "appt": "appointment", "info": "information",
    "rx": "prescription", "tx": "treatment", "dx": "diagnosis", "sx": "symptoms",
    "approx": "approximately", "gonna": "going to", "wanna": "want to", "prob": "probably",
    "smth": "something", "sth": "something", "b4": "before", "w": "with", "wo": "without",
    "wat": "what", "wut": "what", "hw": "how",
}

_STEMMER = snowballstemmer.stemmer("english")


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1:] for i in range(len(word))]


class SpellingCorrector:
    """Unknown words -> the closest known word, within a small edit distance.

    Parameters
    ----------
    min_length : shorter words are never corrected (too many near neighbours).
    max_distance : words of 7 letters or more may be two edits away; shorter ones one.
    """

    def __init__(self, *, min_length: int = 4, max_distance: int = 2):
        self.min_length = min_length
        self.max_distance = max_distance

    def fit(self, vocabulary: Iterable[str], known: Iterable[str] = ()) -> SpellingCorrector:
        """Learn the words to correct to (`vocabulary`) and, besides those, words that are
        right as they are and never corrected (`known`)."""
        self.targets_ = frozenset(vocabulary)
        self.vocabulary_ = self.targets_ | frozenset(known)
        self._corrections: dict[str, str] = {}
        self._index: tuple[dict[str, list[str]], dict[int, list[str]]] | None = None
        return self

    def _lookup(self) -> tuple[dict[str, list[str]], dict[int, list[str]]]:
        """The symmetric-delete index (every target under itself and each one-letter
        deletion, so a word one edit away is found by a few dictionary lookups, however large
        the vocabulary) and the targets by length (two-edit corrections of long words scan
        those of similar length). Built on the first unknown word: a session of known words
        never pays for it."""
        if self._index is None:
            deletes: dict[str, list[str]] = {}
            by_length: dict[int, list[str]] = {}
            for w in sorted(self.targets_):
                if not w.isalpha():
                    continue
                if len(w) >= self.min_length - 1:
                    for key in {w, *_deletions(w)}:
                        deletes.setdefault(key, []).append(w)
                by_length.setdefault(len(w), []).append(w)
            self._index = (deletes, by_length)
        return self._index

    def neighbours(self, word: str) -> list[str]:
        """The target words one edit away from `word` (any length)."""
        deletes, _ = self._lookup()
        pool = {c for key in (word, *_deletions(word)) for c in deletes.get(key, ())}
        return sorted(c for c in pool if OSA.distance(word, c) <= 1 and c != word)

    def correct(self, word: str) -> str:
        """The closest known word for an unknown one (or the word itself)."""
        if word in self.vocabulary_ or len(word) < self.min_length or not word.isalpha():
            return word
        cached = self._corrections.get(word)
        if cached is None:
            deletes, by_length = self._lookup()
            pool = {c for key in (word, *_deletions(word)) for c in deletes.get(key, ())}
            best = process.extractOne(word, sorted(pool), scorer=OSA.distance, score_cutoff=1)
            if best is None and len(word) >= 7 and by_length:
                cutoff = self.max_distance
                near = [w for n in range(len(word) - cutoff, len(word) + cutoff + 1)
                        for w in by_length.get(n, ())]
                best = process.extractOne(word, near, scorer=OSA.distance, score_cutoff=cutoff)
            cached = best[0] if best else word
            if len(self._corrections) < 100_000:
                self._corrections[word] = cached
        return cached


class Normalizer:
    """Cleaned text -> matching tokens (chat shorthand and synonyms rewritten, spelling
    corrected, stems).

    Parameters
    ----------
    synonyms : mapping of canonical term -> variants (as written in the knowledge file).
    spelling_min_length : words at least this long that are not in the vocabulary are
        replaced by the closest known word, if one is within `spelling_max_distance` edits.
    """

    def __init__(self, synonyms: Mapping[str, Iterable[str]] | None = None, *,
                 spelling_min_length: int = 4, spelling_max_distance: int = 2):
        self.synonyms = synonyms or {}
        self.spelling_min_length = spelling_min_length
        self.spelling_max_distance = spelling_max_distance

    def fit(self, texts: Iterable[str]) -> Normalizer:
        """Learn the vocabulary (surface words) from the indexed texts."""
        self.phrases_: dict[tuple[str, ...], list[str]] = {
            (short,): long.split() for short, long in CHAT_SHORTHAND.items()}
        for term, variants in self.synonyms.items():
            target = words(clean(term))
            for variant in variants:
                key = tuple(words(clean(variant)))
                if key and tuple(target) != key:
                    self.phrases_[key] = target
        self.longest_phrase_ = max((len(k) for k in self.phrases_), default=1)
        vocabulary = {w for text in texts for w in words(clean(text))}
        vocabulary |= {w for key in self.phrases_ for w in key}
        vocabulary |= {w for target in self.phrases_.values() for w in target}
        self.vocabulary_ = frozenset(vocabulary)
        self.speller_ = SpellingCorrector(min_length=self.spelling_min_length,
                                          max_distance=self.spelling_max_distance
                                          ).fit(vocabulary)
        self._stems: dict[str, str] = {}
        return self

    def correct(self, word: str) -> str:
        """The closest known word for an unknown one (or the word itself)."""
        return self.speller_.correct(word)

    def rewrite(self, tokens: list[str]) -> list[str]:
        """Replace synonym variants (longest first) by their canonical term."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self.longest_phrase_, len(tokens) - i), 0, -1):
                target = self.phrases_.get(tuple(tokens[i:i + size]))
                if target is not None:
                    out.extend(target)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def tokens(self, text: str, *, cleaned: bool = False) -> list[str]:
        """Matching tokens: cleaned, spelling-corrected, synonyms rewritten, stemmed."""
        raw = [self.correct(w) for w in words(text if cleaned else clean(text))]
        return [self.stem(w) for w in self.rewrite(self._in_context(raw))]

    def _in_context(self, raw: list[str]) -> list[str]:
        """Short unknown words are too ambiguous to correct alone ("sid": did, side, six?);
        one is corrected when exactly one candidate makes a known phrase with the next word
        ("sid efects" -> "side effects")."""
        out = list(raw)
        for i in range(len(out) - 1):
            word = out[i]
            if len(word) == 3 and word.isalpha() and word not in self.vocabulary_:
                fits = [c for c in self.speller_.neighbours(word)
                        if (c, out[i + 1]) in self.phrases_]
                if len(fits) == 1:
                    out[i] = fits[0]
        return out

    def stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            stem = _STEMMER.stemWord(word)
            if len(self._stems) < 200_000:
                self._stems[word] = stem
        return stem

    def __call__(self, text: str) -> str:
        """Matching tokens joined by spaces (what the vectorizers see)."""
        return " ".join(self.tokens(text))


def content_tokens(tokens: Iterable[str]) -> set[str]:
    """The tokens that carry meaning (not function words, not single characters)."""
    return {t for t in tokens if len(t) > 1 and t not in _STEMMED_STOPWORDS}


_STEMMED_STOPWORDS = frozenset(_STEMMER.stemWords(list(STOPWORDS))) | STOPWORDS
