"""Build a ready Engine from files: the knowledge file and the trained model beside it.

This is the I/O edge that interfaces (CLI, REPL, Discord) call; the engine itself reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import paths
from bot.engine.engine import Engine
from bot.engine.model import DEFAULT_PARAMS, ModelParams, knowledge_hash
from bot.knowledge import Knowledge, load_knowledge


@dataclass(frozen=True)
class Loaded:
    """An engine plus notices worth telling the operator once (e.g. a stale model)."""

    engine: Engine
    notices: tuple[str, ...] = ()


def load_params(knowledge: Knowledge, model_path: Path) -> tuple[ModelParams, tuple[str, ...]]:
    """The trained parameters if they match this knowledge; safe defaults otherwise."""
    try:
        params = ModelParams.from_json(model_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_PARAMS, (f"{model_path.name} not found: using safe default thresholds "
                                "(run `python train.py` to calibrate)",)
    except (OSError, ValueError) as exc:
        return DEFAULT_PARAMS, (f"{model_path}: {exc}; using safe default thresholds",)
    if params.knowledge_hash != knowledge_hash(knowledge):
        return DEFAULT_PARAMS, (f"{Path(knowledge.path).name} changed since it was trained: "
                                "using safe default thresholds until you run `python train.py`",)
    return params, ()


def load_engine(knowledge_path: str | Path = paths.DEFAULT_KNOWLEDGE,
                model_path: str | Path | None = None) -> Loaded:
    """Read, validate and index a knowledge file (raises KnowledgeError if it is invalid)."""
    knowledge_path = Path(knowledge_path)
    knowledge = load_knowledge(knowledge_path)
    model_path = Path(model_path) if model_path else paths.model_path_for(knowledge_path)
    params, notices = load_params(knowledge, model_path)
    negatives: list[str] = []
    if params.use_scope:
        negatives_path = paths.negatives_path_for(knowledge_path)
        try:
            negatives = read_negatives(negatives_path)
        except OSError as exc:
            params = DEFAULT_PARAMS
            notices += (f"{negatives_path}: cannot read ({exc.strerror or exc}): using safe "
                        "default thresholds",)
    return Loaded(Engine(knowledge, params, negatives=negatives), notices)


def read_negatives(path: str | Path) -> list[str]:
    """Out-of-scope questions: one per line, `#` comments and blank lines ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
