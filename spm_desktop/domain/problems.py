"""Problem records: what is wrong with an input, where, and what to do about it.

Import, plan and calculation checks collect problems instead of raising on the first
one, so a user sees every issue of a file or plan in one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    severity: Severity = "error"
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    participant_id: str | None = None
    component: str | None = None

    def location(self) -> str:
        """Return 'file, sheet S, row R, column C' with the parts that are known."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        if self.participant_id:
            parts.append(f"participant {self.participant_id}")
        if self.component:
            parts.append(f"component {self.component}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        value = f" (value {self.value!r})" if self.value is not None else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity} {self.code}{value}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def has_errors(problems: list[Problem]) -> bool:
    return any(problem.severity == "error" for problem in problems)
