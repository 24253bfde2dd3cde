"""Load, validate, import and edit knowledge files."""

from bot.knowledge.loader import load_knowledge, parse_knowledge, phrasing_key, read_knowledge
from bot.knowledge.model import Entry, Knowledge
from bot.knowledge.problems import KnowledgeError, Problem, errors_in

__all__ = ["Entry", "Knowledge", "KnowledgeError", "Problem", "errors_in", "load_knowledge",
           "parse_knowledge", "phrasing_key", "read_knowledge"]
