"""Problems found in a knowledge file, in one shape: file:line:col: level [id] field: text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or suspicious (warning) in a knowledge file."""

    severity: Severity
    message: str
    path: str = "<memory>"
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    entry_id: str | None = None
    field: str | None = None
    code: str = ""  # short name for warnings, used by `# check: allow <code>` comments

    def __str__(self) -> str:
        return self.format()

    def format(self, *, severity: bool = True) -> str:
        """file:line:col: level [id] field: text (without the level where the caller says
        it already, as in "error: ...")."""
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = ""
        if self.entry_id:
            subject += f" [{self.entry_id}]"
        if self.field:
            subject += f" {self.field}:"
        elif subject:
            subject += ":"
        code = f" ({self.code})" if self.code else ""
        level = f" {self.severity}{code}{subject}" if severity else f"{code}{subject}"
        return f"{where}:{level} {self.message}"


class KnowledgeError(Exception):
    """A knowledge file could not be used; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(str(errors[0]) if errors else "invalid knowledge file")


def errors_in(problems: list[Problem]) -> list[Problem]:
    """Only the errors."""
    return [p for p in problems if p.severity == "error"]
