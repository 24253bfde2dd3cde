"""Where files live: the bundled knowledge (the repository's `knowledge/` folder), the files
that sit beside any knowledge file, and the data shipped inside the package."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"
DEFAULT_KNOWLEDGE = KNOWLEDGE_DIR / "ketamine.yaml"
SEED_COPY = KNOWLEDGE_DIR / "sources" / "ketamine_faq_seed.txt"
GENERAL_NEGATIVES = PACKAGE_DIR / "data" / "general_negatives.txt"
SUBJECTS = PACKAGE_DIR / "data" / "subjects.txt"
BACKGROUND_WORDS = PACKAGE_DIR / "data" / "background_words.txt"


def _beside(knowledge_path: Path, suffix: str) -> Path:
    path = Path(knowledge_path)
    return path.with_name(f"{path.stem}{suffix}")


def model_path_for(knowledge_path: Path) -> Path:
    """The trained-model JSON beside a knowledge file (`ketamine.model.json`)."""
    return _beside(knowledge_path, ".model.json")


def negatives_path_for(knowledge_path: Path) -> Path:
    """The knowledge file's own out-of-scope questions (`ketamine.out_of_scope.txt`,
    optional: general ones ship with the bot)."""
    return _beside(knowledge_path, ".out_of_scope.txt")


def cache_path_for(knowledge_path: Path) -> Path:
    """The engine cache beside a knowledge file (`.ketamine.cache.npz`, rebuilt when any
    input changes, never committed)."""
    path = Path(knowledge_path)
    return path.with_name(f".{path.stem}.cache.npz")
