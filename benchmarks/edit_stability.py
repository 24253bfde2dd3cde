#!/usr/bin/env python3
"""Does editing the knowledge keep the bot as good as it was, with no manual step?

    python benchmarks/edit_stability.py

Three copies of the bundled knowledge (with its model, paraphrases and negatives) are
measured on the dev sets (../shared/eval) and the blind query sets (benchmarks/blind):
the file as shipped, the file after a one-word edit to one alternate ("doctor" -> "dr"),
and the file after `add` of a new entry. The edited copies are loaded as the bot loads them
(the inputs differ from what train.py learned on, so the classifiers are refitted and the
thresholds recalibrated automatically). Prints each figure and PASS when every figure of an
edited copy, on each dev set and on the blind set as a whole, is within TARGET points of the
shipped one (a blind file alone has about 130 answerable rows: one row is 0.8 points). Blind
sets print figures only.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
BLIND = ROOT / "benchmarks" / "blind" / "queries"
TARGET = 0.01
JUDGED = {"ketamine_dev", "ketamine_dev2", "blind-all"}  # the dev sets and the whole blind set
MEASURES = ("answered_correct", "resolved", "confidently_wrong", "oos_abstained")
NEW_ENTRY = {  # a question none of the query sets asks about
    "question": "Can I bring my own music or headphones to an infusion?",
    "answer": "Most clinics welcome your own music and headphones during an infusion; ask "
              "your clinic what they provide.",
    "alternates": ["can i listen to music during the infusion",
                   "should i bring headphones to my session"],
}


def query_sets() -> list[Path]:
    found = sorted(BLIND.glob("*.jsonl"))
    if EVAL.is_dir():
        found = [EVAL / "ketamine_dev.jsonl", EVAL / "ketamine_dev2.jsonl", *found]
    return found


def copy_bundle(folder: Path) -> Path:
    """The bundled knowledge file and the files beside it that training reads."""
    from bot import paths
    from bot.knowledge.paraphrases import paraphrases_path_for

    source = paths.DEFAULT_KNOWLEDGE
    for path in (source, paths.model_path_for(source), paths.negatives_path_for(source),
                 paraphrases_path_for(source)):
        shutil.copy(path, folder / path.name)
    return folder / source.name


def one_word_edit(path: Path) -> str:
    """Replace "doctor" by "dr" in the first alternate that has it; says what changed."""
    from bot.knowledge.loader import parse_knowledge

    text = path.read_text(encoding="utf-8")
    knowledge, _ = parse_knowledge(text, precise=True)
    for entry in knowledge.entries:
        for alternate in entry.alternates:
            if " doctor" in alternate:
                edited = alternate.replace(" doctor", " dr", 1)
                path.write_text(text.replace(alternate, edited, 1), encoding="utf-8")
                return f"{alternate!r} -> {edited!r}"
    raise SystemExit("no alternate says 'doctor': pick another edit")


def add_entry(path: Path) -> str:
    from bot.knowledge.store import add_entry as add
    from bot.knowledge.store import new_entry

    entry = new_entry(question=NEW_ENTRY["question"], answer=NEW_ENTRY["answer"],
                      alternates=NEW_ENTRY["alternates"])
    add(path, entry)
    return f"added {entry['id']!r}"


def figures(path: Path | None, pooled: Path) -> dict[str, dict[str, float]]:
    from bot.conversation import Conversation
    from bot.evaluate import evaluate_file
    from bot.runtime import load_engine, load_safety_net

    loaded = load_engine(path) if path else load_engine()
    conversation = Conversation(loaded.engine, safety_net=load_safety_net()[0])
    return {p.stem: evaluate_file(p, conversation, io.StringIO(), rows_shown=False).rates
            for p in [*query_sets(), pooled]}


def pool_blind(folder: Path) -> Path:
    """The blind query sets as one file (they were written as one set, in three voices)."""
    pooled = folder / "blind-all.jsonl"
    pooled.write_text("".join(p.read_text(encoding="utf-8") for p in sorted(BLIND.glob(
        "*.jsonl"))), encoding="utf-8")
    return pooled


def main() -> int:
    started = time.perf_counter()
    scratch = tempfile.TemporaryDirectory(prefix="faqbot-edit-")
    pooled = pool_blind(Path(scratch.name))
    baseline = figures(None, pooled)
    verdict = "PASS"
    for name, edit in (("one-word edit", one_word_edit), ("add an entry", add_entry)):
        with tempfile.TemporaryDirectory(prefix="faqbot-edit-") as folder:
            path = copy_bundle(Path(folder))
            what = edit(path)
            t0 = time.perf_counter()
            edited = figures(path, pooled)
            took = time.perf_counter() - t0
        print(f"{name}: {what} (refit, recalibration and evaluation {took:.0f} s)")
        for set_name, rates in edited.items():
            cells, worst = [], 0.0
            for measure in MEASURES:
                before, after = baseline[set_name][measure], rates[measure]
                worst = max(worst, abs(after - before))
                cells.append(f"{measure} {before:.1%}->{after:.1%}")
            ok = worst <= TARGET + 1e-9
            if set_name in JUDGED:
                verdict = verdict if ok else "FAIL"
            print(f"  {set_name:<20} {'ok ' if ok else 'OFF'} " + ", ".join(cells))
    scratch.cleanup()
    print(f"{verdict}: every figure of {', '.join(sorted(JUDGED))} within {TARGET:.0%} of the "
          f"shipped bot's; single blind files shown for detail "
          f"({time.perf_counter() - started:.0f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
