#!/usr/bin/env python3
"""Check and train a knowledge file: validate it, learn the fusion weights and thresholds,
write the model JSON beside it, and print a short report.

    python train.py                                  # the bundled knowledge
    python train.py --knowledge my.yaml --negatives my_oos.txt
    python train.py --eval ../shared/eval/ketamine_dev.jsonl [--plot sweep.png]
    python train.py --eval ../shared/data/clinc150   # a benchmark folder
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot import paths
from bot.cli import run_check
from bot.conversation import Conversation
from bot.conversation.conversation import route_before_retrieval
from bot.engine.training import calibrate
from bot.evaluate import EvalFileError, evaluate_dataset, evaluate_file
from bot.knowledge import errors_in
from bot.knowledge.store import atomic_write
from bot.runtime import load_engine, read_negatives


class Progress:
    """Prints progress for steps that take more than a second."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        start = self.started.setdefault(stage, now)
        if now - start > 1.0 or (done == total and now - start > 1.0):
            end = "\n" if done >= total else "\r"
            print(f"  {stage}: {done}/{total} ({now - start:.0f}s)", end=end, file=self.stream,
                  flush=True)


def train(knowledge_path: Path, negatives_path: Path, model_path: Path) -> int:
    knowledge, problems = run_check(knowledge_path)
    for problem in problems:
        print(problem)
    if knowledge is None or errors_in(problems):
        print(f"{knowledge_path}: not trained: fix the errors above", file=sys.stderr)
        return 1
    try:
        negatives = read_negatives(negatives_path)
    except OSError as exc:
        print(f"{negatives_path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    # Questions the conversation layer routes before retrieval (personal medical decisions,
    # crisis, small talk) never reach the thresholds, so they do not calibrate them.
    reaching = [q for q in negatives if route_before_retrieval(q) is None]
    print(f"training on {knowledge_path.name}: {len(knowledge)} entries, "
          f"{len(reaching)} out-of-scope questions ({len(negatives) - len(reaching)} more are "
          "handled before retrieval)")
    negatives = reaching
    try:
        params, report = calibrate(knowledge, negatives, progress=Progress())
    except ValueError as exc:
        print(f"{knowledge_path}: not trained: {exc}", file=sys.stderr)
        return 1
    atomic_write(model_path, params.to_json())
    cal = report["calibration"]
    th = report["thresholds"]
    print(f"  leave-one-out top-1: fused {report['top1_fused']:.1%}, retrieval only "
          f"{report['top1_retrieval']:.1%}" + (f", classifier only {report['top1_classifier']:.1%}"
                                               if report["top1_classifier"] is not None else ""))
    print(f"  thresholds: answer {th['answer']:.2f} (lead {th['margin']:.2f}), clarify "
          f"{th['clarify']:.2f}, suggest {th['suggest']:.2f}")
    print(f"  on calibration data: answered correctly {cal['answered_correct']:.1%}, "
          f"wrong {cal['wrong']:.1%}, resolved {cal['resolved']:.1%}, out-of-scope abstained "
          f"{cal['oos_abstained']:.1%}")
    top = sorted(report["weights"].items(), key=lambda kv: -abs(kv[1]))[:5]
    print("  strongest weights: " + ", ".join(f"{k} {v:+.2f}" for k, v in top))
    print(f"wrote {model_path} ({report['seconds']:.1f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knowledge", type=Path, default=paths.DEFAULT_KNOWLEDGE)
    parser.add_argument("--negatives", type=Path, help="out-of-scope questions, one per line "
                        "(default: out_of_scope.txt beside the knowledge file)")
    parser.add_argument("--model", type=Path, help="where to write the model JSON "
                        "(default: beside the knowledge file)")
    parser.add_argument("--eval", type=Path, metavar="FILE_OR_FOLDER",
                        help="after training, evaluate on a labelled JSONL file or a benchmark "
                        "folder (faq.jsonl + queries_*.jsonl)")
    parser.add_argument("--no-train", action="store_true", help="only evaluate")
    parser.add_argument("--plot", type=Path, help="with --eval: save threshold plots here")
    args = parser.parse_args(argv)
    model_path = args.model or paths.model_path_for(args.knowledge)
    if args.plot:  # fail before the slow part when the optional extra is missing
        from bot.plot import PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            print(exc, file=sys.stderr)
            return 1
    try:
        return run(args, model_path)
    except EvalFileError as exc:
        print(exc, file=sys.stderr)
        return 1


def run(args: argparse.Namespace, model_path: Path) -> int:
    if args.eval and args.eval.is_dir():
        evaluate_dataset(args.eval, progress=Progress())
        return 0
    if not args.no_train:
        code = train(args.knowledge, args.negatives or paths.negatives_path_for(args.knowledge),
                     model_path)
        if code:
            return code
    if args.eval:
        loaded = load_engine(args.knowledge, model_path)
        for notice in loaded.notices:
            print(f"note: {notice}", file=sys.stderr)
        report = evaluate_file(args.eval, Conversation(loaded.engine))
        if args.plot:
            from bot.plot import plot_report

            out = plot_report(report.in_scope, report.out_of_scope,
                              answer=loaded.engine.params.thresholds.answer, path=args.plot,
                              title=args.eval.name)
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
