#!/usr/bin/env python3
"""Start-up: process start to first answer, against the import floor, in one paired run.

    python benchmarks/startup.py [--runs 5]

Each round runs, one after the other, `python -c "import sklearn.feature_extraction.text,
rapidfuzz"` (the floor: what any TF-IDF + fuzzy bot must import) and `python -m bot ask "how
much does it cost"` (the whole path: imports, knowledge file, cache, risk model, one
answer). The cache is built once before timing, as it is after the first start. It prints
the medians and PASS when the bot needs at most TARGET_S more than the floor.

It also times the terminal chat's `/reload` of unchanged knowledge (target: under
RELOAD_TARGET_S).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
RELOAD_TARGET_S = 2.0
FLOOR = [sys.executable, "-c", "import sklearn.feature_extraction.text, rapidfuzz"]
ASK = [sys.executable, "-m", "bot", "ask", "how much does it cost"]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    return time.perf_counter() - started


def reload_seconds() -> float:
    """Wall time of the terminal chat's /reload on unchanged knowledge (in-process)."""
    sys.path.insert(0, str(ROOT))
    import io

    from bot.cli import build_parser, chat_reloader

    reload = chat_reloader(build_parser().parse_args(["chat"]))
    reload()  # warm: the first call also imports
    started = time.perf_counter()
    engine, _ = reload()
    assert engine is not None
    del io
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    timed(ASK)  # builds the engine cache if it is missing, as the first start does
    floor, ask = [], []
    for _ in range(args.runs):
        floor.append(timed(FLOOR))
        ask.append(timed(ASK))
    f, a = statistics.median(floor), statistics.median(ask)
    verdict = "PASS" if a - f <= TARGET_S else "FAIL"
    print(f"import floor: median {f:.2f} s (runs {', '.join(f'{x:.2f}' for x in floor)})")
    print(f"ask:          median {a:.2f} s (runs {', '.join(f'{x:.2f}' for x in ask)})")
    print(f"start-up over the floor: {a - f:+.2f} s: {verdict} (target <= {TARGET_S} s)")
    seconds = reload_seconds()
    reload_verdict = "PASS" if seconds < RELOAD_TARGET_S else "FAIL"
    print(f"terminal /reload of unchanged knowledge: {seconds:.2f} s: {reload_verdict} "
          f"(target < {RELOAD_TARGET_S} s)")
    return 0 if verdict == reload_verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
