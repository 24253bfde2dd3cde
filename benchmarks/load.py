#!/usr/bin/env python3
"""Load benchmark (a script, not a test): 1,000 concurrent sessions x 20 messages through
`ChatService.handle`, the async handler the Discord bot uses, on one event loop and one core.

    python benchmarks/load.py [--sessions 1000] [--messages 20] [--profile]

Prints throughput, p50/p99 handler latency, the longest event-loop stall (a heartbeat task
that sleeps 5 ms and records its overshoot) and RSS before, after the run and after the
sessions expire (an injected clock jumps past the idle timeout), with PASS/FAIL per target.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import paths
from bot.conversation import Conversation
from bot.querylog import QueryLog
from bot.runtime import load_engine, load_safety_net
from bot.service import ChatService

TARGETS = {"throughput": 1000.0, "p99_ms": 20.0, "stall_ms": 50.0, "memory_mb": 20.0}
IDLE_SECONDS = 1800.0
FOLLOW_UPS = ["2", "1", "more", "why", "yes", "3", "no"]
SMALL_TALK = ["hi", "hello there", "thanks!", "thank you so much", "bye", "help", "who are you",
              "ok", "lol"]
OUT_OF_SCOPE = ["what's the weather tomorrow", "how do i bake sourdough bread",
                "who won the world cup", "recommend a good laptop", "what time is it in tokyo",
                "how do i reset my password", "best pizza near me", "explain quantum computing",
                "is coffee bad for you", "how do i learn python", "tell me a joke",
                "can you help with my taxes"]


class Clock:
    """A monotonic clock the benchmark can move forward (to expire idle sessions)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def rss_mb() -> float:
    """Resident memory from /proc/self/status (0 where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def perturb(text: str, rng: random.Random) -> str:
    """A phrasing as people type it: lower case, a typo, a dropped word, no punctuation."""
    words = text.lower().rstrip("?.!").split()
    roll = rng.random()
    if roll < 0.3 and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif roll < 0.6:
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]  # swapped letters
    elif roll < 0.7:
        words.insert(0, rng.choice(["hey", "hi,", "quick question:"]))
    return " ".join(words)


def message_script(phrasings: list[str], rng: random.Random, n: int) -> list[str]:
    """One session's messages: mostly questions, with follow-ups, small talk, off-topic."""
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.55 or not out:
            out.append(perturb(rng.choice(phrasings), rng))
        elif roll < 0.75:
            out.append(rng.choice(FOLLOW_UPS))
        elif roll < 0.87:
            out.append(rng.choice(SMALL_TALK))
        else:
            out.append(rng.choice(OUT_OF_SCOPE))
    return out


async def run(service: ChatService, scripts: list[list[str]]) -> dict:
    latencies: list[float] = []
    stall = 0.0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal stall
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            stall = max(stall, time.perf_counter() - start - 0.005)

    async def handle(key: int, text: str, sent: float) -> None:
        start = time.perf_counter()
        await service.handle(("bench", key), text)
        end = time.perf_counter()
        latencies.append(end - start)
        responses.append(end - sent)

    async def gateway() -> None:
        # Like discord.py: one gateway event per loop turn, each handled in its own task.
        # All sessions are live at once, interleaved round-robin; a person sends the next
        # message only after the previous reply arrived.
        pending: dict[int, asyncio.Task] = {}
        for turn in range(max(map(len, scripts))):
            for key, script in enumerate(scripts):
                if turn >= len(script):
                    continue
                if key in pending and not pending[key].done():
                    await pending[key]
                pending[key] = asyncio.create_task(handle(key, script[turn],
                                                          time.perf_counter()))
                await asyncio.sleep(0)
        await asyncio.gather(*pending.values())

    responses: list[float] = []
    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.01)
    started, cpu_started = time.perf_counter(), time.process_time()
    await gateway()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    done.set()
    await beat
    latencies.sort()
    pick = lambda q: latencies[min(int(q * len(latencies)), len(latencies) - 1)]  # noqa: E731
    return {"messages": len(latencies), "seconds": elapsed,
            "throughput": len(latencies) / elapsed, "cpu_throughput": len(latencies) / cpu,
            "p50_ms": pick(0.50) * 1000,
            "p99_ms": pick(0.99) * 1000, "max_ms": latencies[-1] * 1000,
            "response_p99_ms": sorted(responses)[int(0.99 * (len(responses) - 1))] * 1000,
            "stall_ms": stall * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--knowledge", type=Path, default=paths.DEFAULT_KNOWLEDGE)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the top cProfile lines")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (tottime, ...)")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    engine = load_engine(args.knowledge).engine
    clock = Clock()
    conversation = Conversation(engine, safety_net=load_safety_net()[0],
                                max_sessions=max(10_000, args.sessions),
                                idle_seconds=IDLE_SECONDS, clock=clock)
    folder = tempfile.TemporaryDirectory(prefix="faqbot-load-")
    query_log = QueryLog(Path(folder.name) / "query_log.jsonl")
    service = ChatService(conversation, query_log=query_log)
    rng = random.Random(args.seed)
    phrasings = [p for e in engine.knowledge.entries for p in e.phrasings]
    scripts = [message_script(phrasings, rng, args.messages) for _ in range(args.sessions)]
    warm = [message_script(phrasings, random.Random(1), 20) for _ in range(10)]
    asyncio.run(service.warm_up())  # as the Discord bot does at login
    asyncio.run(run(service, warm))  # first-call costs (caches, lazy imports) are not load
    conversation.sessions.clear()
    gc.collect()
    before = rss_mb()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    result = asyncio.run(run(service, scripts))
    if profiler:
        profiler.disable()
    after = rss_mb()
    live = len(conversation.sessions)
    clock.offset += IDLE_SECONDS + 1  # every session is now idle past the timeout
    conversation.sessions.get("probe")  # touching one session runs the expiry
    gc.collect()
    expired = rss_mb()
    left = len(conversation.sessions)
    folder.cleanup()

    memory_growth = expired - before
    rows = [
        ("throughput (msg/s)", f"{result['throughput']:,.0f}", f">= {TARGETS['throughput']:,.0f}",
         result["throughput"] >= TARGETS["throughput"]),
        # Per CPU-second: what the code costs, whatever else the machine is doing.
        ("throughput per CPU-second", f"{result['cpu_throughput']:,.0f}", "", None),
        ("p50 latency (ms)", f"{result['p50_ms']:.2f}", "", None),
        ("p99 latency (ms)", f"{result['p99_ms']:.2f}", f"<= {TARGETS['p99_ms']:.0f}",
         result["p99_ms"] <= TARGETS["p99_ms"]),
        ("max latency (ms)", f"{result['max_ms']:.2f}", "", None),
        ("p99 dispatch-to-reply (ms)", f"{result['response_p99_ms']:.2f}", "", None),
        ("longest loop stall (ms)", f"{result['stall_ms']:.2f}", f"<= {TARGETS['stall_ms']:.0f}",
         result["stall_ms"] <= TARGETS["stall_ms"]),
        ("RSS before (MB)", f"{before:.1f}", "", None),
        (f"RSS after run (MB), {live} sessions", f"{after:.1f}", "", None),
        (f"RSS after expiry (MB), {left} session", f"{expired:.1f}",
         f"<= before + {TARGETS['memory_mb']:.0f}",
         memory_growth <= TARGETS["memory_mb"] and left <= 1),
        ("query log writes dropped", str(query_log.dropped), "", None),
    ]
    print(f"{result['messages']:,} messages from {args.sessions:,} sessions in "
          f"{result['seconds']:.1f}s (pid {os.getpid()}, "
          f"cpus {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'})")
    width = max(len(r[0]) for r in rows)
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {name:<{width}}  {value:>10}  {target:<18} {verdict}")
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(args.sort).print_stats(30)
        print(stream.getvalue())
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
