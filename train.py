#!/usr/bin/env python3
"""Check and train a knowledge file: validate it, learn the fusion weights and thresholds from
it, its training paraphrases and the out-of-scope questions, write the model JSON beside it,
and print a short report. The risk model (knowledge/safety) is retrained too when its corpus
or lexicon changed since it was trained.

    python train.py                                  # the bundled knowledge
    python train.py --knowledge my.yaml              # another file (nothing else needed)
    python train.py --safety                         # retrain the risk model now
    python train.py --eval ../shared/eval/ketamine_dev.jsonl [--plot sweep.png]
    python train.py --eval ../shared/data/clinc150   # a benchmark folder

You rarely need it: after an edit the bot refits the classifiers and recalibrates the
thresholds by itself. A full retrain also relearns the weights that combine the signals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from bot import paths
from bot.cli import run_check
from bot.conversation import Conversation
from bot.engine.training import calibrate
from bot.evaluate import EvalFileError, evaluate_dataset, evaluate_file
from bot.knowledge import errors_in, load_knowledge
from bot.knowledge.store import atomic_write
from bot.runtime import Inputs, cache_key, load_engine, load_safety_net, write_cache


class Progress:
    """One progress bar per stage (tqdm); silent when stderr is not a terminal, so piped
    output holds only the report."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=f"  {stage}", file=self.stream,
                                          disable=None, leave=False, unit="step")
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()


def train(knowledge_path: Path, model_path: Path, progress: Progress) -> int:
    knowledge, problems = run_check(knowledge_path)
    for problem in problems:
        print(problem)
    if knowledge is None or errors_in(problems):
        print(f"{knowledge_path}: not trained: fix the errors above", file=sys.stderr)
        return 1
    inputs = Inputs(knowledge_path, knowledge)
    examples = inputs.examples()
    for notice in inputs.notices:
        print(notice, file=sys.stderr)
    n_paraphrases = sum(len(v) for v in inputs.paraphrases.values())
    print(f"training on {knowledge_path.name}: {len(knowledge)} entries, {n_paraphrases} "
          f"training paraphrases, {len(inputs.negatives)} own and "
          f"{len(inputs.general_negatives)} general out-of-scope questions")
    try:
        params, report, engine = calibrate(
            knowledge, examples.negatives, general_negatives=examples.general_negatives,
            paraphrases=examples.paraphrases, subjects=inputs.subjects,
            background=inputs.background, progress=progress)
    except ValueError as exc:
        print(f"{knowledge_path}: not trained: {exc}", file=sys.stderr)
        return 1
    key = inputs.key(params)
    params = replace(params, inputs_hash=key)
    atomic_write(model_path, params.to_json())
    note = write_cache(paths.cache_path_for(knowledge_path), cache_key(key, params),
                       engine.with_params(params))
    if note:
        print(note, file=sys.stderr)
    th, cal = report["thresholds"], report["calibration"]
    print(f"  examples: {report['phrasings']} phrasings, {report['paraphrases']} paraphrases "
          f"({report['positive_queries']} queries as people type them), "
          f"{report['negatives']} out-of-scope questions")
    print(f"  thresholds: answer {th['answer']:.2f} (lead {th['margin']:.2f}), clarify "
          f"{th['clarify']:.2f}, suggest {th['suggest']:.2f}")
    print(f"  out of fold: top-1 {cal['top1']:.1%}, answered correctly "
          f"{cal['answered_correct']:.1%}, wrong {cal['wrong']:.1%}")
    top = sorted(report["weights"].items(), key=lambda kv: -abs(kv[1]))[:5]
    print("  strongest weights: " + ", ".join(f"{k} {v:+.2f}" for k, v in top))
    print(f"wrote {model_path} ({report['seconds']:.1f}s)")
    return 0


def knowledge_examples(knowledge_path: Path) -> list:
    """The bundled knowledge's phrasings and training paraphrases as ordinary messages: every
    one is a question about the topic, and none signals risk (those about suicide as a topic
    are "concern")."""
    from bot.engine.risk_training import SafetyExample
    from bot.knowledge.paraphrases import paraphrases_path_for, read_paraphrases

    knowledge = load_knowledge(knowledge_path)
    paraphrases, _ = read_paraphrases(paraphrases_path_for(knowledge_path), knowledge)
    topic = re.compile(r"suicid|self.?harm|overdos", re.IGNORECASE)
    texts = [t for e in knowledge.entries for t in (*e.phrasings, *paraphrases.get(e.id, ()))]
    return [SafetyExample(t, "concern" if topic.search(t) else "none", "knowledge", "en",
                          "knowledge") for t in texts]


def safety_inputs_hash() -> str:
    """A fingerprint of the safety corpus and lexicon. (The knowledge's phrasings are training
    examples too, but an edit to them alone does not call for a retrain: `--safety` does.)"""
    from bot.safety_files import LEXICON, corpus_files

    digest = hashlib.sha256()
    for path in [*corpus_files(), *sorted(LEXICON.glob("*.yaml"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def safety_is_current() -> bool:
    from bot.safety_files import RISK_MODEL

    try:
        stored = json.loads(RISK_MODEL.read_text(encoding="utf-8")).get("inputs_hash")
    except (OSError, ValueError, AttributeError):
        return False
    return stored == safety_inputs_hash()


def train_safety(progress: Progress) -> int:
    """Train the risk model on knowledge/safety and write it (JSON, no pickle)."""
    from bot.engine.risk_training import train_risk_model
    from bot.safety_files import RISK_MODEL, SafetyFileError, read_corpus, read_lexicon

    try:
        examples, lexicon = read_corpus(), read_lexicon()
    except SafetyFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    examples += knowledge_examples(paths.DEFAULT_KNOWLEDGE)
    started = time.perf_counter()
    print(f"training the risk model: {len(examples)} messages, {len(lexicon)} concepts")
    model, report = train_risk_model(examples, lexicon, progress=progress)
    data = model.to_dict()
    data["inputs_hash"] = safety_inputs_hash()
    data["metrics"] = {k: report[k] for k in ("examples", "out_of_fold")}
    atomic_write(RISK_MODEL, json.dumps(data, ensure_ascii=False) + "\n")
    th, oof = report["thresholds"], report["out_of_fold"]
    print(f"  thresholds: alarm {th['alarm']:.3f}, concern {th['concern']:.3f}, signal "
          f"{th['signal']:.3f}")
    print(f"  out of fold (grouped by writer and category): risk recall "
          f"{oof['risk_recall']:.1%}, false alarms {oof['false_alarms']:.1%}, concern rows "
          f"given the resources line {oof['concern_rate']:.1%}")
    weakest = sorted((v["risk_recall"], k) for k, v in report["by_category"].items()
                     if k.split("/")[0] in ("crisis", "emergency"))[:5]
    print("  weakest risk categories out of fold: "
          + ", ".join(f"{k} {r:.0%}" for r, k in weakest))
    print(f"wrote {RISK_MODEL} ({time.perf_counter() - started:.1f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--knowledge", type=Path, default=paths.DEFAULT_KNOWLEDGE)
    parser.add_argument("--model", type=Path, help="where to write the model JSON "
                        "(default: beside the knowledge file)")
    parser.add_argument("--eval", type=Path, metavar="FILE_OR_FOLDER",
                        help="after training, evaluate on a labelled JSONL file or a benchmark "
                        "folder (faq.jsonl + queries_*.jsonl)")
    parser.add_argument("--no-train", action="store_true", help="only evaluate")
    parser.add_argument("--safety", action="store_true",
                        help="retrain the risk model on knowledge/safety now")
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
    progress = Progress()
    if args.safety:
        return train_safety(progress)
    if args.eval and args.eval.is_dir():
        evaluate_dataset(args.eval, progress=progress)
        return 0
    if not args.no_train:
        code = train(args.knowledge, model_path, progress)
        if code:
            return code
        if args.knowledge == paths.DEFAULT_KNOWLEDGE and not safety_is_current():
            code = train_safety(progress)
            if code:
                return code
    if args.eval:
        loaded = load_engine(args.knowledge, model_path)
        for notice in loaded.notices:
            print(notice, file=sys.stderr)
        report = evaluate_file(args.eval, Conversation(loaded.engine,
                                                       safety_net=load_safety_net()[0]))
        if args.plot:
            from bot.plot import plot_report

            out = plot_report(report.in_scope, report.out_of_scope,
                              answer=loaded.engine.params.thresholds.answer, path=args.plot,
                              title=args.eval.name)
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
