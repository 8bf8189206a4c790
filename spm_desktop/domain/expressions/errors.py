"""The one exception type of the expression language."""

from __future__ import annotations

# Characters of the expression shown on either side of the caret in a message; longer
# expressions are cut so the caret line stays readable.
_WINDOW = 60


class ExpressionError(ValueError):
    """An expression that cannot be parsed, type-checked or evaluated.

    ``position`` is the 0-based character offset the message points at (None when the
    problem concerns the whole expression), ``record`` names the record being evaluated
    and ``source`` names where the expression comes from ("filter of metric 'bookings'").
    """

    def __init__(self, reason: str, expression: str = "", position: int | None = None,
                 record: str | None = None, source: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expression = expression
        self.position = position
        self.record = record
        self.source = source

    def __str__(self) -> str:
        lines = [self.reason]
        where = f"at position {self.position + 1}" if self.position is not None else ""
        if self.source:
            where = f"{where} of {self.source}" if where else f"in {self.source}"
        if self.record:
            where = f"{where}, for record {self.record}" if where else f"for record {self.record}"
        if where:
            lines.append(f"  {where}:")
        if self.expression:
            lines.append(self.caret_lines())
        return "\n".join(lines)

    def caret_lines(self) -> str:
        """Return the expression on one line and a caret line under the position."""
        text = self.expression.replace("\n", " ").replace("\r", " ").replace("\t", " ")
        position = self.position if self.position is not None else 0
        position = max(0, min(position, len(text)))
        start = max(0, position - _WINDOW)
        end = min(len(text), position + _WINDOW)
        prefix = "..." if start > 0 else ""
        suffix = "..." if end < len(text) else ""
        shown = f"{prefix}{text[start:end]}{suffix}"
        caret = " " * (len(prefix) + position - start) + "^"
        if self.position is None:
            return f"  {shown}"
        return f"  {shown}\n  {caret}"

    def with_context(self, *, record: str | None = None, source: str | None = None) -> ExpressionError:
        """Return a copy that also names the record and/or where the expression comes from."""
        return ExpressionError(self.reason, self.expression, self.position,
                               record if record is not None else self.record,
                               source if source is not None else self.source)
