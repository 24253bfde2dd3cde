"""Where the bundled files live (the repository's `knowledge/` folder)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"
DEFAULT_KNOWLEDGE = KNOWLEDGE_DIR / "ketamine.yaml"
SEED_COPY = KNOWLEDGE_DIR / "sources" / "ketamine_faq_seed.txt"


def model_path_for(knowledge_path: Path) -> Path:
    """The trained-model JSON that sits beside a knowledge file."""
    return knowledge_path.with_suffix(".model.json")


def negatives_path_for(knowledge_path: Path) -> Path:
    """The out-of-scope questions used to calibrate abstention for a knowledge file."""
    return knowledge_path.parent / "out_of_scope.txt"
