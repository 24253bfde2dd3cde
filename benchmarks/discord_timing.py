#!/usr/bin/env python3
"""Timing targets of the Discord bot, each against a baseline measured in the same run.

    python benchmarks/discord_timing.py [--runs 5]

1. Autocomplete (runs on every keystroke of /ask): the median time per keystroke of the cog's
   handler over the shipped knowledge, against the bare fuzzy search it wraps (rapidfuzz over
   the same prepared phrasings). PASS when it costs at most AUTOCOMPLETE_RATIO times the bare
   search and under AUTOCOMPLETE_MS: a handler that rebuilt its phrasings per keystroke, or
   ran the engine, fails the ratio on any machine.
2. Start-up mistakes (no token, a garbage token, --guild without --sync): the wall time of
   `python -m bot discord ...` until its one-line error, against `python -m bot --help` (the
   CLI's own start), best of --runs each (other processes only ever add time). PASS when each
   takes at most EXIT_RATIO times the baseline and under EXIT_S: the checks must come before
   discord.py, the engine and the network (importing those took about 25 times the baseline;
   the runner and python-dotenv, which the checks need, add well under one).

Prints the figures and PASS/FAIL; exits 1 if any target fails. Needs no token and no network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AUTOCOMPLETE_RATIO, AUTOCOMPLETE_MS = 1.5, 20.0
EXIT_RATIO, EXIT_S = 3.0, 5.0
TYPED = "how much does an infusion"  # typed one keystroke at a time
CLI = [sys.executable, "-m", "bot"]
MISTAKES = {  # name: (arguments, DISCORD_TOKEN or None, expected exit code)
    "no token": (["discord"], None, 2),
    "garbage token": (["discord"], "garbage", 3),
    "--guild without --sync": (["discord", "--guild", "1"], "garbage", 2),
}


def per_keystroke_ms(call) -> float:
    """The mean time per keystroke of `call(prefix)` while typing TYPED."""
    started = time.perf_counter()
    for n in range(1, len(TYPED) + 1):
        call(TYPED[:n])
    return (time.perf_counter() - started) / len(TYPED) * 1000


def autocomplete(runs: int) -> bool:
    from unittest.mock import create_autospec

    import discord
    from rapidfuzz import fuzz, process, utils

    from bot.discord_app import create_bot
    from bot.discord_app.cog import CHOICE_MAX, CHOICES
    from bot.runtime import load_engine

    cog = create_bot(engine=load_engine().engine).faq_cog
    interaction = create_autospec(discord.Interaction, instance=True)
    loop = asyncio.new_event_loop()

    def handler(text: str) -> None:
        loop.run_until_complete(cog.ask_autocomplete(interaction, text))

    def bare(text: str) -> None:
        process.extract(text[:CHOICE_MAX], names, scorer=fuzz.WRatio,
                        processor=utils.default_process, limit=CHOICES)

    handler("warm up")  # builds the phrasings once, as the first keystroke after a load does
    names = cog._names
    bare("warm up")
    rounds = [(per_keystroke_ms(bare), per_keystroke_ms(handler)) for _ in range(runs)]
    loop.close()  # rounds interleaved, so drift hits baseline and handler alike
    base, ours = (statistics.median(r) for r in zip(*rounds, strict=True))
    ratio = ours / base
    ok = ratio <= AUTOCOMPLETE_RATIO and ours < AUTOCOMPLETE_MS
    print(f"autocomplete: {ours:.2f} ms per keystroke, bare fuzzy search {base:.2f} ms "
          f"({len(names)} phrasings): x{ratio:.2f}: {'PASS' if ok else 'FAIL'} "
          f"(target <= x{AUTOCOMPLETE_RATIO:g} and < {AUTOCOMPLETE_MS:g} ms)")
    return ok


def timed(args: list[str], token: str | None, cwd: Path) -> tuple[float, int]:
    """Wall time and exit code of `python -m bot ARGS`."""
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    if token is not None:
        env["DISCORD_TOKEN"] = token
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True,  # noqa: S603
                          timeout=120)
    return time.perf_counter() - started, done.returncode


def start_up_mistakes(runs: int) -> bool:
    import tempfile

    ok = True
    with tempfile.TemporaryDirectory() as cwd:  # no .env in the way
        timed(["--help"], None, Path(cwd))  # warm the file cache
        base_runs, runs_of = [], {name: [] for name in MISTAKES}
        for _ in range(runs):  # interleaved, so drift hits baseline and targets alike
            base_runs.append(timed(["--help"], None, Path(cwd))[0])
            for name, (args, token, _code) in MISTAKES.items():
                runs_of[name].append(timed(args, token, Path(cwd)))
    base = min(base_runs)
    print(f"baseline `python -m bot --help`: best {base:.2f} s")
    for name, results in runs_of.items():
        best = min(seconds for seconds, _ in results)
        codes = sorted({code for _, code in results})
        passed = best <= EXIT_RATIO * base and best < EXIT_S and codes == [MISTAKES[name][2]]
        ok &= passed
        print(f"{name}: best {best:.2f} s, x{best / base:.2f} the baseline, exit "
              f"{'/'.join(map(str, codes))}: {'PASS' if passed else 'FAIL'} (target <= "
              f"x{EXIT_RATIO:g} and < {EXIT_S:g} s, exit {MISTAKES[name][2]})")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = [autocomplete(args.runs), start_up_mistakes(args.runs)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
