"""The band table of the plan editor: tier bands or bonus curve points, edited cell by cell."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from spm_desktop.domain.plans import Component
from spm_desktop.domain.problems import Problem

Index = QModelIndex | QPersistentModelIndex
INVALID_BACKGROUND = QColor("#F8D0D0")

_BAND_NUMBER = re.compile(r"\bband (\d+)")
_POINT_NUMBER = re.compile(r"\bcurve point (\d+)")
# Band-table column of each band problem code: 0 from, 1 to, 2 rate.
_BAND_PROBLEM_COLUMNS = {
    "plan.band_start": 0, "plan.band_order": 0, "plan.band_gap": 1, "plan.band_overlap": 1,
    "plan.band_open_end": 1, "plan.negative_rate": 2,
}


def parse_decimal(text: str) -> Decimal:
    """Read a number typed into a cell: plain decimals, an optional % sign, no thousands separators."""
    cleaned = text.strip().replace(" ", "")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    value = Decimal(cleaned)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value / 100 if percent else value


class BandTableModel(QAbstractTableModel):
    """The band table (from, to, rate) or the bonus curve (attainment, payout) of one component.

    The model does not change the plan: a valid edit is emitted as ``cell_edited`` and the
    editor applies it through the undo stack. Text that is not a number stays in its cell,
    red, until it is corrected.
    """

    cell_edited = Signal(int, int, object)

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[Decimal | None]] = []
        self.cell_problems: dict[tuple[int, int], str] = {}
        self.invalid_text: dict[tuple[int, int], str] = {}

    def set_rows(self, header: Sequence[str], rows: Sequence[Sequence[Decimal | None]]) -> None:
        self.beginResetModel()
        self.header = list(header)
        self.rows = [list(row) for row in rows]
        self.invalid_text = {}
        self.endResetModel()

    def set_problems(self, problems: dict[tuple[int, int], str]) -> None:
        self.cell_problems = problems
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.header) - 1))

    def problem_at(self, row: int, column: int) -> str | None:
        key = (row, column)
        if key in self.invalid_text:
            return f"{self.invalid_text[key]!r} is not a number; type a decimal such as 0.05 or 5%"
        return self.cell_problems.get(key) or self.cell_problems.get((row, -1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.header)

    def flags(self, index: Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        key = (index.row(), index.column())
        value = self.rows[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if key in self.invalid_text:
                return self.invalid_text[key]
            return "" if value is None else f"{value:f}"
        if role == Qt.ItemDataRole.BackgroundRole and self.problem_at(*key):
            return QBrush(INVALID_BACKGROUND)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.problem_at(*key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = (index.row(), index.column())
        text = str(value).strip()
        if text == "":
            number = None
        else:
            try:
                number = parse_decimal(text)
            except (InvalidOperation, ValueError):
                self.invalid_text[key] = text
                self.dataChanged.emit(index, index)
                return True
        self.invalid_text.pop(key, None)
        if number != self.rows[key[0]][key[1]]:
            self.cell_edited.emit(key[0], key[1], number)
        else:
            self.dataChanged.emit(index, index)
        return True

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.header[section]
        return str(section + 1)


def band_rows(component: Component) -> tuple[list[str], list[list[Decimal | None]]]:
    if component.type == "bonus":
        return ["Attainment", "Payout (x target)"], [[point.attainment, point.payout] for point in component.curve]
    if component.tiers is None:
        return [], []
    unit = "attainment" if component.tiers.by == "attainment" else "amount"
    header = [f"From ({unit})", f"To ({unit})", "Rate"]
    return header, [[band.start, band.to, band.rate] for band in component.tiers.bands]


def cell_problems(problems: Sequence[Problem], component: str) -> dict[tuple[int, int], str]:
    """Map the problems of one component to band-table cells ((row, -1) marks a whole row)."""
    cells: dict[tuple[int, int], str] = {}
    for problem in problems:
        if problem.component != component or problem.severity != "error":
            continue
        match = _BAND_NUMBER.search(problem.message) or _POINT_NUMBER.search(problem.message)
        if match is None:
            continue
        row = int(match.group(1)) - 1
        column = _BAND_PROBLEM_COLUMNS.get(problem.code, 0 if problem.code == "plan.curve_order" else -1)
        cells.setdefault((row, column), problem.message)
    return cells
