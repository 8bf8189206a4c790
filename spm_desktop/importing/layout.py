"""Find the header row below report preambles, and recognise totals and subtotal rows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from spm_desktop.importing.mapping import SYNONYMS, normalise_header

# How many rows from the top are searched for the header.
HEADER_SEARCH_ROWS = 60

_TOTAL_WORD = re.compile(r"^(?:grand\s+total|sub-?\s*total|totals?|sum|summe|gesamt|total\s+g[ée]n[ée]ral)\b"
                         r"|\b(?:grand\s+total|sub-?\s*total|totals?)$", re.IGNORECASE)
_NUMBER_LIKE = re.compile(r"^[\s(+\-−]*[€$£¥]?\s*[\d.,' ]+\s*%?[)]?\s*[A-Z]{0,3}$")


def _filled(row: Sequence[object]) -> list[object]:
    return [cell for cell in row if cell is not None and not (isinstance(cell, str) and not cell.strip())]


def _is_label(cell: object) -> bool:
    return isinstance(cell, str) and not _NUMBER_LIKE.match(cell.strip())


def detect_header_row(rows: Sequence[Sequence[object]], expected: Sequence[str] = (), record_set: str = "") -> int | None:
    """Return the 0-based index of the header row in the top rows, or None when none qualifies.

    A header row is mostly text labels and about as wide as the data below it. When the
    mapping names headers, the row that contains most of them wins. Otherwise the first
    qualifying row wins, so titles, report dates and blank rows above it are skipped.
    """
    top = list(rows[:HEADER_SEARCH_ROWS])
    widths = [len(_filled(row)) for row in top]
    data_width = _typical_width(widths)
    if data_width == 0:
        return None
    wanted = {normalise_header(name) for name in expected if isinstance(name, str)}
    known = _known_headers(record_set)
    best: tuple[int, int] | None = None
    best_index = None
    for index, row in enumerate(top):
        cells = _filled(row)
        if len(cells) < max(1, data_width * 0.8) or len(cells) < min(2, data_width):
            continue
        if isinstance(cells[0], str) and cells[0].rstrip().endswith(":"):
            continue  # a "Region: all" line of a report preamble
        labels = [cell for cell in cells if _is_label(cell)]
        if len(labels) < 0.8 * len(cells):
            continue
        names = {normalise_header(label) for label in labels}
        score = (len(names & wanted), len(names & known))
        if wanted and score[0] == len(wanted):
            return index
        if best is None or score > best:
            best, best_index = score, index
    return best_index


def _typical_width(widths: list[int]) -> int:
    """Return the most common non-zero width in the lower half of the sample (the data rows)."""
    lower = [width for width in widths[len(widths) // 2:] if width] or [width for width in widths if width]
    if not lower:
        return 0
    counts = Counter(lower)
    return max(counts, key=lambda width: (counts[width], width))


def _known_headers(record_set: str) -> set[str]:
    from spm_desktop.domain.records import RECORD_SET_ALIASES, RECORD_SETS

    spec = RECORD_SETS.get(RECORD_SET_ALIASES.get(record_set, record_set))
    if spec is None:
        return set()
    names = set(spec.field_names)
    for field_name in spec.field_names:
        names.update(SYNONYMS.get(field_name, ()))
    return names


def totals_label(row: Sequence[object], header_width: int) -> str | None:
    """Return the label of a totals or subtotal row ("Total", "East Total"), or None for a data row.

    A row counts only when a text cell reads like a totals label and the row is sparser
    than the header, so a product named "Total Care" in a full row stays data.
    """
    cells = _filled(row)
    if not cells or (len(cells) >= header_width and header_width > 2):
        return None
    for cell in cells:
        if is_totals_word(cell):
            return cell.strip()  # type: ignore[union-attr]
    return None


def is_totals_word(cell: object) -> bool:
    """Return whether a cell reads like the label of a totals or subtotal row ("Total", "East Total")."""
    return isinstance(cell, str) and _TOTAL_WORD.search(cell.strip()) is not None
