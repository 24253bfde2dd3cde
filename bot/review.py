"""`python -m bot review`: turn the query log into a reviewable suggestions file.

Logged queries (unanswered, clarify, low confidence, "not helpful") are grouped by TF-IDF
similarity (agglomerative clustering, cosine distance threshold: deterministic, no seed), each
group is compared with every entry's phrasings, and the maintainer gets a YAML file in which a
group close to an entry offers its queries as candidate alternates of that entry, and a group
far from all entries offers a candidate new question. Nothing changes until the maintainer sets
`accept: true` and runs `review --apply`, which goes through the validated, atomic edit path.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np
import scipy.sparse as sp
from ruamel.yaml import YAML
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from bot.engine.text import Normalizer, content_tokens
from bot.knowledge.loader import phrasing_key
from bot.knowledge.model import Knowledge

GROUP_DISTANCE = 0.75  # cosine distance under which two queries (average link) share a group
ALTERNATE_SIMILARITY = 0.45  # a group this close to an entry suggests alternates for it
WORD_WEIGHT = 0.7  # share of the word n-grams in the similarity (the rest: characters)


@dataclass
class Group:
    """Logged queries that ask the same thing, and the entry they come closest to."""

    queries: list[tuple[str, int]]  # (query, times logged), most frequent first
    entry: str
    entry_question: str
    similarity: float
    representative: str = ""
    per_query: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(count for _, count in self.queries)

    @property
    def kind(self) -> str:
        return "alternates" if self.similarity >= ALTERNATE_SIMILARITY else "new-question"


def logged_queries(records: Iterable[dict]) -> list[tuple[str, int]]:
    """Distinct queries (case and punctuation ignored) with counts, in first-seen order."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for record in records:
        query = record.get("query")
        if record.get("kind", "query") not in ("query", "feedback") or not isinstance(query, str):
            continue
        key = phrasing_key(query)
        if key:
            first.setdefault(key, " ".join(query.split()))
            counts[key] += 1
    return [(first[key], counts[key]) for key in first]


def _content(normalizer: Normalizer, text: str) -> str:
    """Normalised tokens without function words ("how do i", "need", "please")."""
    tokens = normalizer.tokens(text)
    keep = content_tokens(tokens)
    return " ".join(t for t in tokens if t in keep)


def _vectors(knowledge: Knowledge, queries: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix,
                                                                list[int]]:
    """Unit TF-IDF rows (content words after the engine's normaliser: synonyms, spelling,
    stems; plus their character n-grams for leftover typos) for the queries and for every
    phrasing; plus the entry index of each phrasing."""
    phrasings = [(i, p) for i, e in enumerate(knowledge.entries) for p in e.phrasings]
    texts = [p for _, p in phrasings]
    normalizer = Normalizer(knowledge.synonyms).fit(texts)
    corpus = [_content(normalizer, t) for t in texts + queries]
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+")  # noqa: S106
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    blocks = []
    for vectorizer, weight in ((word, WORD_WEIGHT), (char, 1.0 - WORD_WEIGHT)):
        try:
            blocks.append(normalize(vectorizer.fit_transform(corpus)) * np.sqrt(weight))
        except ValueError:  # empty vocabulary (only function words everywhere)
            blocks.append(sp.csr_matrix((len(corpus), 1)))
    matrix = normalize(sp.hstack(blocks).tocsr())
    return matrix[len(texts):], matrix[:len(texts)], [i for i, _ in phrasings]


def group_queries(knowledge: Knowledge, items: list[tuple[str, int]], *,
                  distance: float = GROUP_DISTANCE) -> list[Group]:
    """Cluster the logged queries and attach each group's nearest entry, largest group first."""
    if not items or not knowledge.entries:
        return []
    queries = [q for q, _ in items]
    q_vec, p_vec, owner = _vectors(knowledge, queries)
    if len(queries) > 1:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=distance,
                                         metric="cosine", linkage="average"
                                         ).fit_predict(q_vec.toarray())
    else:
        labels = np.zeros(1, dtype=int)
    sims = (q_vec @ p_vec.T).toarray()  # query x phrasing cosine
    per_entry = np.zeros((len(queries), len(knowledge.entries)))
    np.maximum.at(per_entry.T, np.array(owner), sims.T)
    groups = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        weights = np.array([items[m][1] for m in members], dtype=float)
        mean = (per_entry[members] * weights[:, None]).sum(0) / weights.sum()
        best = int(np.argmax(mean))
        entry = knowledge.entries[best]
        centre = q_vec[members].toarray()
        central = members[int(np.argmax(centre @ centre.mean(0)))]
        ordered = sorted(members, key=lambda m: (-items[m][1], -per_entry[m, best], m))
        groups.append(Group([items[m] for m in ordered], entry.id, entry.question,
                            round(float(mean[best]), 3), queries[central],
                            [round(float(per_entry[m, best]), 3) for m in ordered]))
    groups.sort(key=lambda g: (-g.size, -len(g.queries), g.queries[0][0]))
    return groups


def print_groups(groups: list[Group], out: TextIO, *, examples: int = 5) -> None:
    for number, group in enumerate(groups, start=1):
        what = ("candidate alternates for" if group.kind == "alternates" else
                "candidate new question; nearest")
        print(f"[{number}] {group.size} quer{'y' if group.size == 1 else 'ies'} -> {what} "
              f"{group.entry} (similarity {group.similarity:.2f})", file=out)
        for query, count in group.queries[:examples]:
            print(f"      {query!r}" + (f"  x{count}" if count > 1 else ""), file=out)
        if len(group.queries) > examples:
            print(f"      ... and {len(group.queries) - examples} more", file=out)


def suggestions_yaml(groups: list[Group], *, source: str) -> str:
    """The reviewable file: every item starts as `accept: false`."""
    header = (f"# Suggestions from the query log {source} (python -m bot review).\n"
              "# Set `accept: true` on the items you want, then run\n"
              "#   python -m bot review --apply THIS_FILE\n"
              "# kind alternates: accepted queries are added to `entry` as alternates (you may\n"
              "#   change `entry` to another id). kind new-question: write an answer with\n"
              "#   python -m bot add --question ... (review --apply only lists them).\n")
    data = []
    for number, g in enumerate(groups, start=1):
        item = {"group": number, "kind": g.kind, "size": g.size}
        item["entry" if g.kind == "alternates" else "nearest_entry"] = g.entry
        item["entry_question"] = g.entry_question
        item["similarity"] = g.similarity
        if g.kind == "new-question":
            item["question"] = g.representative
            item["accept"] = False
        item["queries"] = [{"query": q, "count": c, "similarity": s, "accept": False}
                           for (q, c), s in zip(g.queries, g.per_query, strict=True)]
        data.append(item)
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # keep the order above
    yaml.width = 100
    buffer = io.StringIO()
    yaml.dump({"groups": data}, buffer)
    return header + buffer.getvalue()


def accepted(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """({entry id: accepted alternates}, accepted new questions) from a suggestions file.
    Raises ValueError when the file is not a suggestions file."""
    data = YAML(typ="safe", pure=True).load(text)
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError("not a suggestions file (no `groups:` list)")
    alternates: dict[str, list[str]] = {}
    questions: list[str] = []
    for group in data["groups"]:
        if not isinstance(group, dict):
            continue
        if group.get("kind") == "new-question":
            if group.get("accept") is True and isinstance(group.get("question"), str):
                questions.append(group["question"])
            continue
        entry = group.get("entry")
        for item in group.get("queries") or ():
            if isinstance(item, dict) and item.get("accept") is True and isinstance(entry, str):
                alternates.setdefault(entry, []).append(str(item.get("query", "")))
    return alternates, questions


def without_existing(knowledge: Knowledge, additions: dict[str, list[str]]
                     ) -> tuple[dict[str, list[str]], list[str]]:
    """Drop accepted queries that are already phrasings of their entry (e.g. applied twice)."""
    kept: dict[str, list[str]] = {}
    skipped = []
    for entry_id, queries in additions.items():
        entry = knowledge.get(entry_id)
        have = {phrasing_key(p) for p in entry.phrasings} if entry else set()
        for query in queries:
            key = phrasing_key(query)
            if key in have:
                skipped.append(query)
            else:
                have.add(key)
                kept.setdefault(entry_id, []).append(query)
    return kept, skipped
