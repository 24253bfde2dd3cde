"""Near-miss questions made from the knowledge's own questions, for training: questions that
share almost every word with an entry but ask what no answer says.

Three kinds, all general (they work the same for any knowledge file), written by rule rather
than copied from anywhere:
- the subject swapped: the knowledge's main subject replaced by another drug, therapy or
  product that the knowledge never mentions ("how much does psilocybin cost");
- a detail added that the knowledge never covers: a place, a population, a situation or an
  interaction ("how much does an infusion cost in canada", "... while breastfeeding");
- a question about an entry that asks for what its answer does not hold: a price, a number,
  a year, a duration, a name, a place or a dose ("... so how much does that cost?" of an
  answer that names no price);
- a lone word that only an answer uses ("clear", "nightmare"): a word is not a question,
  and an entry whose questions never use it has not been asked.
Candidates whose words the knowledge does use are skipped, so a knowledge file that does
cover pregnancy never learns to refuse pregnancy questions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from bot.engine.text import clean, words

DETAILS = (
    "in canada", "in australia", "in the uk", "in germany", "in india", "in mexico",
    "in texas", "in california", "in new york", "near me", "in my city",
    "for my dog", "for my cat", "for a horse", "for a 10 year old", "for teenagers",
    "for toddlers", "for someone over 80", "for a newborn", "during pregnancy",
    "while breastfeeding", "while trying to get pregnant", "with a pacemaker",
    "with glaucoma", "with epilepsy", "with kidney disease", "with liver failure",
    "with sleep apnea", "with asthma", "if i have hepatitis", "with lithium",
    "with alcohol", "with grapefruit juice", "with birth control pills", "with viagra",
    "with my blood thinner", "after a tattoo", "before a marathon", "on a long flight",
    "in prison", "in the military", "for astronauts", "at the dentist",
    "during ramadan", "while scuba diving", "for olympic athletes", "at high altitude",
    "after bariatric surgery", "during chemotherapy", "after a heart transplant",
    "on medicare part d", "under the nhs", "with an hsa card", "paid in bitcoin",
    "according to the 2023 guidelines", "in the latest cochrane review",
    "in a clinical trial in 2019", "by the who", "for veterinary students",
)
_GLUE = frozenset("in for a with my the if i on at while by to of under".split())
ASKING = {  # what a question adds to ask for one kind of detail (see answerability)
    "cost": ("so how much does that cost?", "and what's the price?", "price?"),
    "count": ("how many exactly?", "how many do people need?"),
    "when": ("when did that start?", "what year was that?"),
    "duration": ("how many minutes exactly?", "how long does that take?"),
    "who": ("who says so?", "who does that?"),
    "where": ("where can i get that?", "which clinic does that?"),
    "dose": ("what dose in mg?", "how many mg is that?"),
}
QUESTION_FRAMES = (
    "who invented {}", "which company makes {}", "what brand is best for {}",
    "how many minutes exactly does {} take", "what is the exact mg dose of {}",
    "what year did {} become legal in canada", "which celebrity uses {}",
    "who is the top doctor for {}", "what are the stock prices of companies behind {}",
)


LONE_WORD_FRAMES = ("{}", "{}?", "what about {}", "{} ?", "so {}")


def lone_answer_words(answers: Sequence[str], phrasings: Sequence[str], tokens: Callable,
                      *, topic: Sequence[tuple[str, ...]] = ()) -> list[str]:
    """Words of the answers (as written, four letters or more) that no phrasing uses once
    normalized by `tokens` (text -> tokens), the knowledge's main subjects set aside."""
    asked = {t for text in phrasings for t in tokens(text)}
    asked |= {word for subject in topic for word in subject}
    found: dict[str, None] = {}
    for answer in answers:
        for word in words(clean(answer)):
            if len(word) >= 4 and word.isalpha() and not set(tokens(word)) & asked:
                found.setdefault(word)
    return list(found)


def lone_word_questions(lone_words: Sequence[str], *, limit: int, seed: int = 0) -> list[str]:
    """Up to `limit` questions that are a lone answer word, bare or in a short frame."""
    rng = np.random.default_rng(seed)
    return [LONE_WORD_FRAMES[int(rng.integers(len(LONE_WORD_FRAMES)))].format(
        lone_words[int(rng.integers(len(lone_words)))])
        for _ in range(min(limit, len(lone_words)))]


def main_subjects(entry_subjects: Sequence[frozenset]) -> list[tuple[str, ...]]:
    """The subjects named by at least half of the entries (the knowledge's own topic)."""
    counts = Counter(s for subjects in entry_subjects for s in subjects)
    # Sorted, not in set order: the near misses must be the same in every process.
    return [s for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if n >= len(entry_subjects) / 2]


def near_misses(texts: Sequence[str], *, known_words: set[str], topic: Sequence[tuple[str, ...]],
                subjects: Sequence[str], limit: int, seed: int = 0,
                missing: Sequence[frozenset[str]] = (), lone_words: Sequence[str] = ()
                ) -> list[str]:
    """Up to `limit` near-miss questions made from `texts` (the entries' phrasings and
    paraphrases). `known_words` are the words the knowledge uses; `topic` its main subjects
    (as word tuples); `subjects` the general lexicon of names; `missing[i]` the kinds of
    detail (ASKING's keys) that the answer of text i's entry does not hold; `lone_words`
    words only answers use (a tenth of the questions are made of them)."""
    rng = np.random.default_rng(seed)
    out = lone_word_questions(lone_words, limit=limit // 10, seed=seed)
    foreign = [s for s in subjects if not set(words(clean(s))) & known_words]
    details = [d for d in DETAILS if not (set(words(d)) - _GLUE) & known_words]
    order = rng.permutation(len(texts))
    for n, i in enumerate(order):
        if len(out) >= limit:
            break
        text = " ".join(texts[i].split())
        tokens = words(clean(text))
        kind = n % 4
        if kind == 3 and len(missing) > i and missing[i]:
            asked = sorted(missing[i])[int(rng.integers(len(missing[i])))]
            tails = ASKING[asked]
            out.append(f"{text.rstrip('?.! ')}, {tails[int(rng.integers(len(tails)))]}")
            continue
        if kind == 0 and foreign and topic:
            swapped = _swap(text, tokens, topic, foreign[int(rng.integers(len(foreign)))])
            if swapped:
                out.append(swapped)
                continue
        if kind == 1 and foreign:
            frame = QUESTION_FRAMES[int(rng.integers(len(QUESTION_FRAMES)))]
            out.append(frame.format(foreign[int(rng.integers(len(foreign)))]))
            continue
        if details:
            out.append(f"{text.rstrip('?.! ')} {details[int(rng.integers(len(details)))]}?")
    return out


def _swap(text: str, tokens: list[str], topic: Sequence[tuple[str, ...]], other: str
          ) -> str | None:
    """`text` with its first mention of a topic subject replaced by `other`, or None."""
    lowered = text.casefold()
    for subject in topic:
        name = " ".join(subject)
        at = lowered.find(name)
        if at >= 0 and name in " ".join(tokens):
            return text[:at] + other + text[at + len(name):]
    return None


def near_misses_for(index, answers: Sequence[str], texts: Sequence[str], labels: Sequence[int],
                    *, subjects: Sequence[str], limit: int, seed: int = 0,
                    lone: bool = True) -> list[str]:
    """`near_misses` for a fitted FaqIndex: `texts` are its training examples (entry number
    in `labels`), `answers` its entries' answers; `lone=False` leaves out the lone words."""
    topic = main_subjects(index.answerability_.entry_subjects_)
    return near_misses(
        list(texts), known_words=set(index.normalizer_.vocabulary_), topic=topic,
        subjects=subjects, limit=limit, seed=seed,
        missing=[index.answerability_.missing(e) for e in labels],
        lone_words=lone_words_for(index, answers) if lone else ())


def lone_words_for(index, answers: Sequence[str]) -> list[str]:
    """`lone_answer_words` for a fitted FaqIndex and its entries' answers."""
    return lone_answer_words(answers, index.phrasing_text_, index.normalizer_.tokens,
                             topic=main_subjects(index.answerability_.entry_subjects_))
