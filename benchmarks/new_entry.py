#!/usr/bin/env python3
"""Fairness to new entries: does an entry that a maintainer has just added, with only its
question and three alternates, hold its own against neighbours that have dozens of training
paraphrases?

    python benchmarks/new_entry.py [--entries N]

For each entry in turn, the knowledge file keeps only that entry's question and first three
alternates and drops its training paraphrases; the bot then does what it does after `add`:
refits the classifiers and recalibrates the thresholds, with the trained weights. The
entry's questions in the dev sets (../shared/eval, rows whose answer is that entry) are
asked (those only it answers), and the share answered right is compared with the full-data
bot on the same rows.
Prints the mean over entries, the worst entry, and PASS when the mean is within TARGET
points of the full-data figure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
TARGET = 0.10
MIN_ROWS_FOR_WORST = 3


def rows_by_entry(knowledge) -> dict[str, list[str]]:
    """Dev-set questions that only this entry answers (answer rows whose listed answers all
    map to it: a row another entry also answers would not tell whether this one holds up)."""
    from bot.evaluate import read_jsonl, seed_map

    seeds = seed_map(knowledge)
    out: dict[str, list[str]] = {}
    for name in ("ketamine_dev.jsonl", "ketamine_dev2.jsonl"):
        for row in read_jsonl(EVAL / name, queries=True):
            if row["expect"] == "answer":
                entries = {seeds[n] for n in row.get("seed", []) if n in seeds}
                if len(entries) == 1:
                    out.setdefault(entries.pop(), []).append(row["query"])
    return out


def right(engine, entry_id: str, queries: list[str], outcomes: dict | None = None) -> float:
    """The share answered with this entry; `outcomes` counts what the others got."""
    answered = [engine.match(q) for q in queries]
    hits = [m.status == "answer" and m.candidates[0].entry.id == entry_id for m in answered]
    if outcomes is not None:
        for m, hit in zip(answered, hits, strict=True):
            key = "right" if hit else "wrong" if m.status == "answer" else m.status
            outcomes[key] = outcomes.get(key, 0) + 1
    return sum(hits) / len(queries)


def thinned_copy(folder: Path, entry_id: str) -> Path:
    """The bundled files in `folder`, with `entry_id` cut to its question and three
    alternates and no training paraphrases."""
    from bot import paths
    from bot.knowledge.loader import safe_yaml
    from bot.knowledge.paraphrases import paraphrases_path_for
    from bot.knowledge.store import entry_yaml

    source = paths.DEFAULT_KNOWLEDGE
    for path in (paths.model_path_for(source), paths.negatives_path_for(source)):
        shutil.copy(path, folder / path.name)
    text = source.read_text(encoding="utf-8")
    from bot.knowledge.loader import parse_knowledge

    knowledge, _ = parse_knowledge(text, precise=True)
    entry = knowledge.get(entry_id)
    start = text.index(f"  - id: {entry_id}\n")
    end = text.find("\n  - id: ", start + 1)
    end = len(text) if end < 0 else end + 1
    kept = {"id": entry.id, "question": entry.question, "alternates": list(entry.alternates[:3]),
            "answer": entry.answer}
    target = folder / source.name
    target.write_text(text[:start] + entry_yaml(kept, indent=2) + text[end:], encoding="utf-8")
    table = safe_yaml(paraphrases_path_for(source).read_text(encoding="utf-8"))["paraphrases"]
    table.pop(entry_id, None)
    paraphrases_path_for(target).write_text(
        yaml.safe_dump({"paraphrases": table}, allow_unicode=True), encoding="utf-8")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, help="only the first N entries (a quick look)")
    args = parser.parse_args()
    if not EVAL.is_dir():
        print(f"note: {EVAL} not found: this benchmark needs the dev sets")
        return 0
    from bot.runtime import load_engine

    full = load_engine().engine
    queries = rows_by_entry(full.knowledge)
    ids = [e.id for e in full.knowledge.entries if e.id in queries][: args.entries]
    results, outcomes = [], {}
    started = time.perf_counter()
    for entry_id in ids:
        with tempfile.TemporaryDirectory(prefix="faqbot-new-entry-") as folder:
            path = thinned_copy(Path(folder), entry_id)
            thin = load_engine(path, use_cache=False).engine
        results.append((entry_id, len(queries[entry_id]), right(full, entry_id, queries[entry_id]),
                        right(thin, entry_id, queries[entry_id], outcomes)))
        print(f"  {entry_id:<62} {results[-1][1]:>3} rows: full {results[-1][2]:6.1%}, "
              f"new {results[-1][3]:6.1%}", flush=True)
    mean_full = sum(r[2] for r in results) / len(results)
    mean_new = sum(r[3] for r in results) / len(results)
    # The worst of the entries with a few rows (one row is 0% or 100% by chance).
    worst = min([r for r in results if r[1] >= MIN_ROWS_FOR_WORST] or results,
                key=lambda r: r[3] - r[2])
    verdict = "PASS" if mean_full - mean_new <= TARGET else "FAIL"
    print(f"mean over {len(results)} entries: full data {mean_full:.1%}, as a new entry "
          f"(question + 3 alternates) {mean_new:.1%}: {mean_full - mean_new:+.1%} "
          f"({verdict}, target within {TARGET:.0%})")
    print(f"worst entry (of those with {MIN_ROWS_FOR_WORST}+ rows): {worst[0]} "
          f"({worst[1]} rows): full {worst[2]:.1%}, new {worst[3]:.1%}")
    print("as new entries, the rows got: " + ", ".join(
        f"{k} {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])))
    print(f"({time.perf_counter() - started:.0f} s; each entry refitted and recalibrated as "
          "after `add`)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
