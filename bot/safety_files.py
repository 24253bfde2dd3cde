"""The safety files: the labelled corpus and the concept lexicon that train the risk model,
and the trained model itself. This is the I/O edge; bot.engine.risk reads nothing.

Corpus files are JSON Lines, one message each: {"text", "label", "category", "lang"}; the
file's name is the writer (cross-validation never splits one writer's category).
"""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot import paths
from bot.engine.risk import LABELS, RiskModel
from bot.engine.risk_training import SafetyExample
from bot.textio import json_objects

SAFETY_DIR = paths.KNOWLEDGE_DIR / "safety"
LEXICON = SAFETY_DIR / "lexicon"
RISK_MODEL = SAFETY_DIR / "risk_model.json"
MAX_MODEL_BYTES = 64 * 2**20


class SafetyFileError(ValueError):
    """A safety file that cannot be used; the message names the file, line and field."""


def corpus_files(folder: Path = SAFETY_DIR) -> list[Path]:
    return sorted(Path(folder).glob("*.jsonl"))


def read_corpus(folder: Path = SAFETY_DIR) -> list[SafetyExample]:
    """Every labelled message of the corpus files in `folder`."""
    examples = []
    files = corpus_files(folder)
    if not files:
        raise SafetyFileError(f"{folder}: no safety corpus files (*.jsonl)")
    for path in files:
        examples += read_corpus_file(path)
    return examples


def read_corpus_file(path: Path) -> list[SafetyExample]:
    out = []
    for number, row in json_objects(path, SafetyFileError):
        for field in ("text", "label", "category", "lang"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise SafetyFileError(f"{path}:{number}: {field}: missing or not text")
        if row["label"] not in LABELS:
            raise SafetyFileError(f"{path}:{number}: label: {row['label']!r} is not one of "
                                  f"{', '.join(LABELS)}")
        out.append(SafetyExample(row["text"], row["label"], row["category"], row["lang"],
                                 path.stem))
    return out


def read_lexicon(folder: Path = LEXICON) -> dict[str, dict[str, list[str]]]:
    """concept -> {language -> terms}, merged from the folder's YAML files (one per group of
    languages); raises SafetyFileError naming the problem."""
    files = sorted(Path(folder).glob("*.yaml"))
    if not files:
        raise SafetyFileError(f"{folder}: no lexicon files (*.yaml)")
    merged: dict[str, dict[str, list[str]]] = {}
    for path in files:
        for concept, languages in read_lexicon_file(path).items():
            for lang, terms in languages.items():
                merged.setdefault(concept, {}).setdefault(lang, []).extend(terms)
    return {c: {lang: sorted(set(t)) for lang, t in sorted(langs.items())}
            for c, langs in sorted(merged.items())}


def read_lexicon_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """One lexicon file: concept -> {language -> terms}."""
    try:
        data = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                              ) from exc
    except YAMLError as exc:
        raise SafetyFileError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict) or not data:
        raise SafetyFileError(f"{path}: expected a mapping of concept -> language -> terms")
    out: dict[str, dict[str, list[str]]] = {}
    for concept, languages in data.items():
        if not isinstance(languages, dict):
            raise SafetyFileError(f"{path}: {concept}: expected a mapping of language -> terms")
        out[str(concept)] = {}
        for lang, terms in languages.items():
            if not isinstance(terms, list) or not all(isinstance(t, str | int) for t in terms):
                raise SafetyFileError(f"{path}: {concept}.{lang}: expected a list of terms")
            out[str(concept)][str(lang)] = [str(t) for t in terms]
    return out


def load_risk_model(path: Path = RISK_MODEL) -> RiskModel:
    """The trained risk model; raises SafetyFileError with a one-line reason."""
    try:
        if Path(path).stat().st_size > MAX_MODEL_BYTES:
            raise SafetyFileError(f"{path}: larger than {MAX_MODEL_BYTES // 2**20} MB")
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                              ) from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SafetyFileError(f"{path}: not JSON") from exc
    if not isinstance(data, dict):
        raise SafetyFileError(f"{path}: not a risk model")
    try:
        return RiskModel.from_dict(data)
    except ValueError as exc:
        raise SafetyFileError(f"{path}: {exc}") from exc
