"""Table models for large data: rows are fetched in pages as the view scrolls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


class LazyTableModel(QAbstractTableModel):
    """Show ``count()`` rows, loading them ``page_size`` at a time through ``fetch(offset, limit)``.

    ``fetch`` returns a list of row tuples (display values). ``alignments`` may give a
    Qt alignment per column (money right-aligned, for example).
    """

    def __init__(self, fetch: Callable[[int, int], list[Sequence[Any]]], count: Callable[[], int],
                 header: Sequence[str], *, page_size: int = 500,
                 alignments: dict[int, Qt.AlignmentFlag] | None = None) -> None:
        super().__init__()
        self._fetch = fetch
        self._count = count
        self._header = list(header)
        self._page_size = page_size
        self._alignments = alignments or {}
        self._rows: list[Sequence[Any]] = []
        self._total = 0
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._total = self._count()
        self._rows = self._fetch(0, self._page_size) if self._total else []
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._header)

    @property
    def total(self) -> int:
        return self._total

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and len(self._rows) < self._total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if parent.isValid():
            return
        more = self._fetch(len(self._rows), self._page_size)
        if not more:
            self._total = len(self._rows)
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
        self._rows.extend(more)
        self.endInsertRows()

    def row(self, index: int) -> Sequence[Any]:
        return self._rows[index]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self._rows[index.row()][index.column()]
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self._alignments:
            return int(self._alignments[index.column()])
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._header[section]
        return None


class ListTableModel(QAbstractTableModel):
    """A small in-memory table: rows of display values, replaced as a whole."""

    # The role a sort proxy reads: a column's sort key where ``sort_keys`` names one, else its text.
    SORT_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[Any]] = (),
                 alignments: dict[int, Qt.AlignmentFlag] | None = None,
                 sort_keys: dict[int, Callable[[Any], Any]] | None = None) -> None:
        super().__init__()
        self._header = list(header)
        self._rows = [list(row) for row in rows]
        self._alignments = alignments or {}
        self._sort_keys = sort_keys or {}

    def set_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        self.beginResetModel()
        self._rows = [list(row) for row in rows]
        self.endResetModel()

    def row(self, index: int) -> list[Any]:
        return self._rows[index]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._header)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self._rows[index.row()][index.column()]
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self._alignments:
            return int(self._alignments[index.column()])
        if role == self.SORT_ROLE:
            value = self._rows[index.row()][index.column()]
            key = self._sort_keys.get(index.column())
            if key is not None:
                return key(value)
            return "" if value is None else str(value)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._header[section]
        return None
