#!/usr/bin/env python3
"""Concurrent `add`: no entry is lost when two people add to the same knowledge file at once.

    python benchmarks/concurrent_add.py [--rounds 20]

Each round starts two `python -m bot add --knowledge <copy> --question ... --answer ...`
processes at the same time on a temporary copy of a small knowledge file, and waits for both.
Each `add` also refits the engine afterwards, so a round takes a few seconds. At the end it
prints how many of the 2 x rounds entries the file kept, and PASS when it kept all of them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge import load_knowledge  # noqa: E402  (needs ROOT on sys.path)
from bot.knowledge.importer import slugify  # noqa: E402

SMALL = """\
title: Tea FAQ
description: Questions about tea.
disclaimer: General information only, not medical advice.
entries:
  - id: brew-time
    question: How long should I steep tea?
    alternates:
      - steeping time
      - how many minutes to brew tea
    answer: Steep black tea for three to five minutes and green tea for two to three.
  - id: water-temperature
    question: What water temperature is best for tea?
    alternates:
      - how hot should the water be
      - best temperature to brew tea
    answer: Use boiling water for black tea and water around 80 degrees Celsius for green tea.
"""
WATERS = ("spring", "mineral")


def add(path: Path, question: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "bot", "add", "--knowledge", str(path),
               "--question", question, "--answer", "Either works; taste and see."]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tea.yaml"
        path.write_text(SMALL, encoding="utf-8")
        questions, failed = [], 0
        for round_ in range(1, args.rounds + 1):
            pair = [f"Can round {round_} tea be made with {water} water?" for water in WATERS]
            runs = [add(path, question) for question in pair]  # both start before either ends
            for run in runs:
                _, err = run.communicate()
                if run.returncode:
                    failed += 1
                    print(f"round {round_}: add failed: {err.strip().splitlines()[-1:]}")
            questions += pair
            kept = sum(load_knowledge(path).get(slugify(q)) is not None for q in questions)
            print(f"round {round_}: {kept}/{len(questions)} entries kept", flush=True)
    ok = kept == len(questions) and not failed
    print(f"kept {kept} of {len(questions)} entries ({failed} add(s) failed): "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
