"""Row hashes of stored results, lines and balances, and the chain hash a run's audit entry records.

Every stored result, line and balance carries ``row_hash``: the SHA-256 of its column
values in table order, id included. The run's audit entry records a hash over each
table's row hashes in id order, so an edited, added or deleted row is detectable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import Table

from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.store.tables.calc import calc_balances, result_lines, results


def hash_columns(table: Table) -> list[str]:
    """Return a table's column names in table order, without ``row_hash`` itself."""
    return [column.name for column in table.c if column.name != "row_hash"]


RESULT_COLUMNS = hash_columns(results)
LINE_COLUMNS = hash_columns(result_lines)
BALANCE_COLUMNS = hash_columns(calc_balances)


def _escaped(text: str) -> str:
    return text.replace("\x1e", "\x1e\x1e").replace("\x1f", "\x1e\x1f")


def digest_cells(cells: Sequence[object]) -> str:
    """Return the SHA-256 of a row's cells in column order: NUL for NULL, text of the rest, unit separators between.

    Dates hash as ISO text (``str`` of a date). Separator characters inside a text are
    escaped, so no two different rows join to the same text.
    """
    parts = []
    for cell in cells:
        if cell is None:
            parts.append("\x00")
        elif cell.__class__ is str:
            parts.append(cell)  # type: ignore[arg-type]
        else:
            parts.append(str(cell))
    joined = "\x1f".join(parts)
    if "\x1e" in joined or joined.count("\x1f") != len(parts) - 1:
        joined = "\x1f".join(_escaped(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def row_digest(columns: Sequence[str], values: dict[str, object] | object) -> str:
    """Return the SHA-256 of a stored row's content: its column values in table order, id included."""
    mapping = values if isinstance(values, dict) else values._mapping  # type: ignore[attr-defined]
    return digest_cells([mapping.get(name) for name in columns])


def chain_digest(row_hashes: Iterable[str]) -> str:
    """Return the SHA-256 over row hashes in id order (what the run's audit entry records)."""
    return sha256_hex("\n".join(row_hashes))
