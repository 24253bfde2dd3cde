#!/usr/bin/env python3
"""Latency, build time, peak memory and top-1 of the hybrid engine against a rapidfuzz
full scan, measured in the same run (each measurement in its own process, so peak memory is
its own).

    python benchmarks/latency.py                     # bundled knowledge + MedQuAD 1k/10k/all
    python benchmarks/latency.py --sizes 1000 10000  # MedQuAD sizes only (0 = all)

The risk check (the safety model every message goes through first) is timed on its own, on
the same queries, with its target: at most RISK_TARGET_MS per message at p50.

MedQuAD needs ../shared/data/medquad (skipped with a note when absent). Per-query latency is
wall time for one query at a time after 20 warm-up queries: the whole path for the engine
(normalise, vectorise, score, shortlist, fuzzy re-score, fuse, rank).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDQUAD = ROOT.parent / "shared" / "data" / "medquad"
DEV = ROOT.parent / "shared" / "eval" / "ketamine_dev.jsonl"
WARMUP = 20
RISK_TARGET_MS = 0.3


def _perturb(text: str, rng: random.Random) -> str:
    """A stored phrasing with one word dropped and one typo, like a hurried question."""
    words = text.split()
    if len(words) > 3:
        words.pop(rng.randrange(len(words)))
    text = " ".join(words)
    i = rng.randrange(max(len(text) - 1, 1))
    return text[:i] + text[i + 1:i + 2] + text[i] + text[i + 2:] if len(text) > 2 else text


def load_case(name: str, size: int):
    """(knowledge, queries as (text, expected ids)) for a case."""
    from bot.evaluate import knowledge_from_faq_jsonl, read_jsonl
    from bot.knowledge import Knowledge, load_knowledge

    if name == "bundled":
        knowledge = load_knowledge(ROOT / "knowledge" / "ketamine.yaml")
        if DEV.exists():  # real questions; expected entries are not needed for latency
            queries = [(r["query"], []) for r in read_jsonl(DEV) if r["expect"] == "answer"]
        else:
            rng = random.Random(0)
            queries = [(_perturb(p, rng), [e.id]) for e in knowledge.entries
                       for p in e.alternates[:5]]
        return knowledge, queries
    full = knowledge_from_faq_jsonl(MEDQUAD / "faq.jsonl")
    entries = full.entries[:size] if size else full.entries
    knowledge = Knowledge(title="MedQuAD", disclaimer="", entries=entries)
    queries = [(r["query"], r["expected"]) for r in read_jsonl(MEDQUAD / "queries_perturbed.jsonl")]
    return knowledge, queries


def measure(name: str, size: int, method: str) -> dict:
    knowledge, queries = load_case(name, size)
    started = time.perf_counter()
    if method == "hybrid":
        from bot.engine.engine import Engine
        from bot.runtime import load_engine

        if name == "bundled":  # the trained model, as the bot runs it
            engine = load_engine(ROOT / "knowledge" / "ketamine.yaml").engine
        else:
            engine = Engine(knowledge)

        def top(query: str) -> str:
            return engine.rank(query)[0].entry.id
    else:
        from rapidfuzz import fuzz, process, utils

        choices = [utils.default_process(p) for e in knowledge.entries for p in e.phrasings]
        owner = [e.id for e in knowledge.entries for _ in e.phrasings]

        def top(query: str) -> str:
            best = process.extractOne(utils.default_process(query), choices,
                                      scorer=fuzz.token_set_ratio, processor=None)
            return owner[best[2]]
    build = time.perf_counter() - started
    for text, _ in queries[:WARMUP]:
        top(text)
    latencies, hits, scored = [], 0, 0
    for text, expected in queries:
        t = time.perf_counter()
        got = top(text)
        latencies.append(time.perf_counter() - t)
        if expected:
            scored += 1
            hits += got in expected
    latencies.sort()
    return {"case": name, "entries": len(knowledge), "method": method,
            "build_s": round(build, 2),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
            "p99_ms": round(latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)] * 1000,
                            3),
            "top1": round(hits / scored, 4) if scored else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "queries": len(queries)}


def measure_risk() -> dict:
    """Per-message time of the risk check (model only: the conversation's cache is skipped)."""
    from bot.runtime import load_safety_net

    knowledge, queries = load_case("bundled", 0)
    started = time.perf_counter()
    net, notices = load_safety_net()
    load_s = time.perf_counter() - started
    if net.model is None:
        return {"error": "; ".join(notices)}
    texts = [t for t, _ in queries] + [p for e in knowledge.entries for p in e.phrasings]
    for text in texts[:WARMUP]:
        net.model.assess(text)
    latencies = []
    for text in texts:
        t = time.perf_counter()
        net.model.assess(text)
        latencies.append(time.perf_counter() - t)
    latencies.sort()
    return {"load_s": round(load_s, 3), "messages": len(texts),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3)}


def run_child(name: str, size: int, method: str) -> dict:
    command = [sys.executable, __file__, "--child", name, str(size), method]
    out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 0])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, size, method = args.child
        result = measure_risk() if method == "risk" else measure(name, int(size), method)
        print(json.dumps(result))
        return 0
    cases = [("bundled", 0)]
    if MEDQUAD.exists():
        cases += [("medquad", size) for size in args.sizes]
    else:
        print(f"note: {MEDQUAD} not found: MedQuAD sizes skipped")
    methods = ["hybrid"] + ([] if args.no_baseline else ["rapidfuzz-scan"])
    rows = [run_child(name, size, method) for name, size in cases for method in methods]
    header = f"{'case':<9} {'entries':>7} {'method':<15} {'build s':>8} {'p50 ms':>8} " \
             f"{'p99 ms':>8} {'top-1':>7} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        top1 = f"{r['top1']:.1%}" if r["top1"] is not None else "-"
        print(f"{r['case']:<9} {r['entries']:>7} {r['method']:<15} {r['build_s']:>8.2f} "
              f"{r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {top1:>7} {r['peak_rss_mb']:>8}")
    by_key = {(r["case"], r["entries"], r["method"]): r for r in rows}
    for (case, entries, method), r in by_key.items():
        base = by_key.get((case, entries, "rapidfuzz-scan"))
        if method == "hybrid" and base:
            print(f"{case} {entries}: hybrid p50 is {base['p50_ms'] / r['p50_ms']:.1f}x faster "
                  f"than the rapidfuzz scan (p99 {base['p99_ms'] / r['p99_ms']:.1f}x)")
    risk = run_child("bundled", 0, "risk")
    if "error" in risk:
        print(f"risk check: FAIL ({risk['error']})")
        return 1
    verdict = "PASS" if risk["p50_ms"] <= RISK_TARGET_MS else "FAIL"
    print(f"risk check per message ({risk['messages']} messages): p50 {risk['p50_ms']:.3f} ms, "
          f"p99 {risk['p99_ms']:.3f} ms, model load {risk['load_s']:.2f} s: {verdict} "
          f"(target p50 <= {RISK_TARGET_MS} ms)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
