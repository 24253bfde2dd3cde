"""Build a ready Engine from files: the knowledge file, the files beside it (trained model,
training paraphrases, out-of-scope questions, engine cache) and the general out-of-scope
questions shipped with the bot. This is the I/O edge that interfaces (CLI, REPL, Discord)
call; the engine itself reads nothing.

Start-up reads the classifiers from the cache when it was built from exactly these inputs.
Otherwise (an edit, a new file, a first run) they are refitted and the thresholds
recalibrated for the new entries, in seconds, and the cache is rewritten: the trained weights
carry over, so an edit never needs a manual step.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot import paths
from bot.conversation.safety import SafetyNet
from bot.engine.calibration import calibrate_thresholds
from bot.engine.classifier import (
    EntryClassifier,
    ExampleNeighbours,
    NearestNegative,
    ScopeClassifier,
    TextFeatures,
)
from bot.engine.engine import Engine, Examples, FittedParts
from bot.engine.index import FaqIndex
from bot.engine.model import DEFAULT_PARAMS, ModelParams, Thresholds, inputs_hash
from bot.knowledge import Knowledge, errors_in, load_knowledge
from bot.knowledge.paraphrases import paraphrases_path_for, read_paraphrases

MAX_MODEL_BYTES = 4 * 2**20
MAX_CACHE_BYTES = 512 * 2**20
MAX_NEGATIVES_BYTES = 8 * 2**20
CACHE_FORMAT = 3


@dataclass(frozen=True)
class Loaded:
    """An engine plus notices worth telling the operator (e.g. a stale model)."""

    engine: Engine
    notices: tuple[str, ...] = ()


class Inputs:
    """The files an engine is fitted on besides the knowledge: its training paraphrases, its
    own out-of-scope questions and the general ones shipped with the bot (each optional).

    Read on first use: a start-up that finds a valid cache needs only their fingerprint
    (their bytes), not their parsed contents.
    """

    def __init__(self, knowledge_path: Path, knowledge: Knowledge):
        self.knowledge_path = Path(knowledge_path)
        self.knowledge = knowledge
        self.paths = (paraphrases_path_for(knowledge_path),
                      paths.negatives_path_for(knowledge_path), paths.GENERAL_NEGATIVES,
                      paths.SUBJECTS, paths.BACKGROUND_WORDS)
        self.notices: list[str] = []

    @functools.cached_property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.paths:
            try:
                digest.update(path.read_bytes() if path.stat().st_size <= MAX_NEGATIVES_BYTES
                              else b"too large")
            except OSError:
                digest.update(b"missing")
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    @functools.cached_property
    def paraphrases(self) -> dict[str, tuple[str, ...]]:
        found, problems = read_paraphrases(self.paths[0], self.knowledge)
        if errors_in(problems):
            self.notices.append(f"{errors_in(problems)[0]}: training paraphrases not used")
            return {}
        self.notices += [str(p) for p in problems][:3]
        return found

    @functools.cached_property
    def negatives(self) -> tuple[str, ...]:
        return self._negatives(self.paths[1], optional=True)

    @functools.cached_property
    def general_negatives(self) -> tuple[str, ...]:
        return self._negatives(self.paths[2], optional=False)

    def _negatives(self, path: Path, *, optional: bool) -> tuple[str, ...]:
        try:
            questions = read_negatives(path)
        except FileNotFoundError:
            if not optional:
                self.notices.append(f"WARNING: {path}: missing; abstention is less well "
                                    "calibrated")
            return ()
        except OSError as exc:
            self.notices.append(f"{path}: cannot read ({exc.strerror or exc}); not used")
            return ()
        # Questions the conversation answers before retrieval (personal medical decisions,
        # small talk) never reach the thresholds, so they do not calibrate them.
        from bot.conversation.conversation import route_before_retrieval

        return tuple(q for q in questions if route_before_retrieval(q) is None)

    @functools.cached_property
    def subjects(self) -> tuple[str, ...]:
        """Names of drugs, therapies and products (bot/data/subjects.txt)."""
        try:
            return tuple(read_negatives(paths.SUBJECTS))  # the same one-per-line format
        except OSError as exc:
            self.notices.append(f"WARNING: {paths.SUBJECTS}: cannot read "
                                f"({exc.strerror or exc}); answerability features are off")
            return ()

    @functools.cached_property
    def background(self) -> dict[str, float] | None:
        """Each word's share of everyday requests (bot/data/background_words.txt)."""
        try:
            return read_background(paths.BACKGROUND_WORDS)
        except (OSError, ValueError) as exc:
            self.notices.append(f"WARNING: {paths.BACKGROUND_WORDS}: cannot read "
                                f"({getattr(exc, 'strerror', None) or exc}); the topical "
                                "feature is off")
            return None

    def examples(self) -> Examples:
        return Examples(self.paraphrases, self.negatives, self.general_negatives)

    def key(self, params: ModelParams) -> str:
        """The fingerprint of everything matching is fitted on, for these weights' settings."""
        return inputs_hash(self.knowledge, self.fingerprint, settings_of(params))


def read_background(path: str | Path) -> dict[str, float]:
    """word -> share of documents, from `word<TAB>count` lines under a `# documents<TAB>N`
    header line."""
    total, shares = 0, {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# documents\t"):
            total = int(line.split("\t")[1])
        elif line and not line.startswith("#"):
            word, count = line.split("\t")
            shares[word] = int(count)
    if total <= 0:
        raise ValueError("no '# documents' line")
    return {w: c / total for w, c in shares.items()}


def read_negatives(path: str | Path) -> list[str]:
    """Out-of-scope questions: one per line, `#` comments and blank lines ignored."""
    path = Path(path)
    if path.stat().st_size > MAX_NEGATIVES_BYTES:
        raise OSError(f"larger than {MAX_NEGATIVES_BYTES:,} bytes")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@functools.lru_cache(maxsize=4)
def _bundled_params() -> tuple[ModelParams | None, str]:
    try:
        return _read_params(paths.model_path_for(paths.DEFAULT_KNOWLEDGE)), ""
    except (OSError, ValueError) as exc:
        return None, str(exc)


def _read_params(path: Path) -> ModelParams:
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ValueError(f"larger than {MAX_MODEL_BYTES:,} bytes")
    return ModelParams.from_json(path.read_text(encoding="utf-8", errors="replace"))


def load_params(model_path: Path) -> tuple[ModelParams, tuple[str, ...]]:
    """The trained weights beside the knowledge file; else the bundled model's (they are over
    features that mean the same for any knowledge file); else cautious hand-set ones."""
    try:
        return _read_params(model_path), ()
    except FileNotFoundError:
        reason = f"{model_path.name} not found"
    except (OSError, ValueError) as exc:
        reason = f"WARNING: {model_path}: {getattr(exc, 'strerror', None) or exc}"
    bundled, why = _bundled_params()
    if bundled is not None and Path(model_path) != paths.model_path_for(paths.DEFAULT_KNOWLEDGE):
        return bundled, (f"{reason}: using the bundled model's weights, with thresholds "
                         "calibrated for this file",)
    return DEFAULT_PARAMS, (f"{reason}{'; ' + why if why else ''}: using cautious default "
                            "weights (run `python train.py`)",)


def cache_key(inputs_key: str, params: ModelParams) -> str:
    """The cache is valid for these inputs and these weights (thresholds depend on both)."""
    return f"{inputs_key}:{params.weights_key}"


def settings_of(params: ModelParams) -> dict:
    return {"use_classifier": params.use_classifier, "classifier_c": params.classifier_c,
            "use_scope": params.use_scope, "scope_c": params.scope_c}


def load_engine(knowledge_path: str | Path = paths.DEFAULT_KNOWLEDGE,
                model_path: str | Path | None = None, *, use_cache: bool = True) -> Loaded:
    """Read, validate and index a knowledge file (raises KnowledgeError if it is invalid)."""
    knowledge_path = Path(knowledge_path)
    knowledge = load_knowledge(knowledge_path)
    inputs = Inputs(knowledge_path, knowledge)
    model_path = Path(model_path) if model_path else paths.model_path_for(knowledge_path)
    params, notices = load_params(model_path)
    key = inputs.key(params)
    index = FaqIndex(subjects=inputs.subjects, background=inputs.background).fit(
        knowledge.entries, knowledge.synonyms, title=knowledge.title)
    cache_path = paths.cache_path_for(knowledge_path)
    cached = read_cache(cache_path, cache_key(key, params), index) if use_cache else None
    if cached is not None:
        parts, thresholds = cached
        engine = Engine(knowledge, replace(params, thresholds=thresholds), index=index,
                        parts=parts, read_examples=inputs.examples)
        if params.inputs_hash != key:
            notices += (_adapted_note(knowledge_path),)
        return Loaded(engine, notices)
    started = time.perf_counter()
    if params.use_scope and not (inputs.negatives or inputs.general_negatives):
        params = replace(params, use_scope=False, entry_softmax=False, scope_coef=(),
                         scope_mean=(), scope_scale=())
    engine = Engine(knowledge, params, index=index, read_examples=inputs.examples)
    if params.inputs_hash != key:  # trained on other inputs: recalibrate for these
        engine = engine.with_params(replace(params, thresholds=calibrate_thresholds(engine)))
        notices += (_adapted_note(knowledge_path, time.perf_counter() - started),)
    notices = tuple(inputs.notices) + notices
    if use_cache:
        problem = write_cache(cache_path, cache_key(key, params), engine)
        if problem:
            notices += (problem,)
    return Loaded(engine, notices)


def _adapted_note(knowledge_path: Path, seconds: float | None = None) -> str:
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    return (f"{knowledge_path.name} and its training files differ from what train.py "
            f"learned on: the classifiers were refitted and the thresholds recalibrated for "
            f"them{took}; `python train.py` relearns the weights too")


# ---------------------------------------------------------------------------- the cache
def write_cache(path: Path, key: str, engine: Engine) -> str | None:
    """Store the fitted classifiers and thresholds (npz, no pickle); None, or a note when the
    cache cannot be written (the bot then refits at each start, a few seconds)."""
    arrays = {"format": np.asarray(CACHE_FORMAT), "key": np.asarray(key),
              "thresholds": np.asarray([engine.params.thresholds.answer,
                                        engine.params.thresholds.margin,
                                        engine.params.thresholds.clarify,
                                        engine.params.thresholds.suggest])}
    for name, part in (("features", engine.parts.features), ("classifier", engine.classifier),
                       ("scope", engine.scope), ("near", engine.near_negative),
                       ("neighbours", engine.parts.neighbours)):
        if part is not None:
            arrays.update({f"{name}.{k}": v for k, v in part.to_arrays().items()})
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        return f"cannot write the engine cache in {path.parent} ({exc.strerror or exc})"
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return f"cannot write the engine cache {path} ({exc.strerror or exc})"
    return None


def read_cache(path: Path, key: str, index: FaqIndex
               ) -> tuple[FittedParts, Thresholds] | None:
    """The cached parts for `key`, or None (missing, stale, or not a valid cache)."""
    try:
        if path.stat().st_size > MAX_CACHE_BYTES:
            return None
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None
    try:
        if int(arrays["format"]) != CACHE_FORMAT or str(arrays["key"]) != key:
            return None
        th = [float(v) for v in arrays["thresholds"]]
        thresholds = Thresholds(answer=th[0], margin=th[1], clarify=th[2], suggest=th[3])

        def group(name: str) -> dict:
            return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{name}.")}

        stored = group("features")
        features = TextFeatures.from_arrays(stored) if stored else None
        n_features = features.n_word_ + features.n_char_ if features else 0
        parts = FittedParts(
            features,
            EntryClassifier.from_arrays(group("classifier"), n_features)
            if group("classifier") else None,
            ScopeClassifier.from_arrays(group("scope"), n_features) if group("scope") else None,
            NearestNegative.from_arrays(group("near"), features.n_char_)
            if group("near") and features else None,
            ExampleNeighbours.from_arrays(group("neighbours"), n_features)
            if group("neighbours") else None)
        if parts.classifier is not None and parts.classifier.n_entries_ != index.n_entries:
            return None
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return parts, thresholds


@functools.lru_cache(maxsize=1)
def load_safety_net() -> tuple[SafetyNet, tuple[str, ...]]:
    """The risk model shipped in knowledge/safety (read once per process), and a warning if it
    cannot be used: then a short list of explicit phrases stands in for it."""
    from bot.safety_files import RISK_MODEL, SafetyFileError, load_risk_model

    try:
        return SafetyNet(load_risk_model(RISK_MODEL)), ()
    except SafetyFileError as exc:
        return SafetyNet(), (f"WARNING: {exc}: crisis detection falls back to a short phrase "
                             "list until `python train.py --safety` runs",)
