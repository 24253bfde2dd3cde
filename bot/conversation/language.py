"""Is a message written in a language other than English? Asked only of messages retrieval
could not answer, so the bot can say "I can only answer in English" (with a helpline finder)
instead of a bare "I don't know".

Scripts decide most cases at once; for Latin-script text that has few common English words,
py3langid (a maintained fork of langid.py, its model shipped in the package) decides. Its
model loads on first use (about half a second), so `warm_up` can be called from a background
thread at start-up.
"""

from __future__ import annotations

import functools
import threading
import unicodedata

from bot.engine.text import STOPWORDS, clean, words

MIN_LETTERS = 8  # shorter messages ("ok", "k safe?") are too short to tell
MIN_CONFIDENCE = 0.9
# Short words of other languages that are also English words or chat tokens never count as
# English evidence on their own; common English words do.
_ENGLISH = STOPWORDS | frozenset("""
ketamine infusion infusions therapy treatment cost price side effects effect work works
depression pain doctor clinic long much many safe help does is are what how why when where
who which can will would should could take takes get got feel feeling first time dose
""".split())
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def warm_up() -> None:
    """Load the language model now (it takes about half a second)."""
    with _lock:
        _identifier()


def _latin_share(letters: list[str]) -> float:
    latin = sum(1 for ch in letters if ch.isascii() or "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


@functools.lru_cache(maxsize=1024)
def is_other_language(text: str) -> bool:
    """True when `text` is confidently in a language other than English."""
    cleaned = clean(text)
    letters = [ch for ch in cleaned if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return False
    if _latin_share(letters) < 0.5:
        return True
    tokens = words(cleaned)
    if tokens and sum(t in _ENGLISH for t in tokens) / len(tokens) >= 0.25:
        return False
    with _lock:
        lang, confidence = _identifier().classify(cleaned)
    return lang != "en" and confidence >= MIN_CONFIDENCE
