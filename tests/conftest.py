"""Shared fixtures: a tiny knowledge file, the shipped one, and `../shared` when present."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHIPPED = ROOT / "knowledge" / "ketamine.yaml"

needs_shared = pytest.mark.skipif(
    not (SHARED / "eval").is_dir(),
    reason="needs ../shared (the eval and seed files); a bare clone has no ../shared")

TINY = """\
# A tiny knowledge base for tests.
title: Tea FAQ
description: Questions about tea.
disclaimer: General information only, not medical advice.
source: written for the tests
synonyms:
  tea: [chai, cuppa]
  caffeine: [caffiene]
entries:
  - id: green-tea-caffeine
    question: Does green tea have caffeine?
    alternates:
      - caffeine in green tea
      - is there caffeine in green tea
      - green tea caffeine content
      - will green tea keep me awake
    answer: Green tea contains caffeine, usually less than coffee.
    tags: [caffeine]
  - id: brew-time
    question: How long should I steep tea?
    alternates:
      - steeping time
      - how many minutes to brew tea
      - how long do i leave the tea bag in
      - brewing time for black tea
    answer: Steep black tea for three to five minutes and green tea for two to three.
    tags: [brewing]
  - id: water-temperature
    question: What water temperature is best for tea?
    alternates:
      - how hot should the water be
      - boiling water for green tea
      - best temperature to brew tea
      - should tea water be boiling
    answer: Use boiling water for black tea and water around 80 degrees Celsius for green tea.
    tags: [brewing]
"""


def shipped_cache_keys() -> tuple[str | None, str]:
    """(the key stored in the shipped engine cache, the key the shipped inputs need)."""
    import numpy as np

    from bot import paths
    from bot.knowledge import load_knowledge
    from bot.runtime import Inputs, cache_key, load_params

    params, _ = load_params(paths.model_path_for(SHIPPED))
    expected = cache_key(Inputs(SHIPPED, load_knowledge(SHIPPED)).key(params), params)
    try:
        with np.load(paths.cache_path_for(SHIPPED)) as cache:
            return str(cache["key"]), expected
    except (OSError, KeyError, ValueError):
        return None, expected


def pytest_sessionstart(session) -> None:
    # Read before any test loads the shipped engine (which rewrites a stale cache).
    session.config.shipped_cache_keys = shipped_cache_keys()


@pytest.fixture
def tiny_text() -> str:
    return TINY


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> bytes:
    """The tiny file's engine cache, fitted once: each test's copy starts from it as a second
    start of the bot would (a test that edits the file refits, as the bot does)."""
    from bot import paths
    from bot.runtime import load_engine

    path = tmp_path_factory.mktemp("tiny") / "tea.yaml"
    path.write_text(TINY, encoding="utf-8")
    load_engine(path)
    return paths.cache_path_for(path).read_bytes()


@pytest.fixture
def tiny_file(tmp_path: Path, tiny_cache: bytes) -> Path:
    from bot import paths

    path = tmp_path / "tea.yaml"
    path.write_text(TINY, encoding="utf-8")
    paths.cache_path_for(path).write_bytes(tiny_cache)
    return path


@pytest.fixture(scope="session")
def shipped_knowledge():
    from bot.knowledge import load_knowledge

    return load_knowledge(SHIPPED)


@pytest.fixture(scope="session")
def safety_net():
    """The shipped risk model, read once."""
    from bot.runtime import load_safety_net

    net, notices = load_safety_net()
    assert not notices, notices
    return net

