"""Sparklines: a small line of a signal over recent periods, painted in a table cell.

The model gives each sparkline cell a ``Sparkline`` under ``SPARKLINE_ROLE``. The
delegate paints the line, marks the latest point in the colour of its status and
writes the latest value as text on the right. Missing values leave gaps in the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

SPARKLINE_ROLE = Qt.ItemDataRole.UserRole + 40

STATUS_COLOURS = {
    "ok": QColor("#2E7D32"),
    "watch": QColor("#EF6C00"),
    "behind": QColor("#C62828"),
    "none": QColor("#9E9E9E"),
}
LINE_COLOUR = QColor("#5C6B7A")
REFERENCE_COLOUR = QColor("#B0BEC5")


@dataclass(frozen=True)
class Sparkline:
    """Values oldest first (None for a period without a value), the text of the latest one and its status."""

    values: tuple[float | None, ...]
    text: str
    status: str = "none"  # ok | watch | behind | none
    reference: float | None = None  # a dotted line, such as pace 1.0

    def finite(self) -> list[float]:
        return [value for value in self.values if value is not None and math.isfinite(value)]


def sparkline_points(values: Sequence[float | None], rect: QRectF,
                     reference: float | None = None) -> list[QPointF | None]:
    """Return the point of each value inside ``rect`` (None for a missing value); a flat line sits in the middle."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if reference is not None:
        finite.append(reference)
    if not finite:
        return [None] * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    step = rect.width() / max(len(values) - 1, 1)
    points: list[QPointF | None] = []
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            points.append(None)
            continue
        share = 0.5 if span == 0 else (value - low) / span
        points.append(QPointF(rect.left() + index * step, rect.bottom() - share * rect.height()))
    return points


def paint_sparkline(painter: QPainter, rect: QRectF, sparkline: Sparkline, text_colour: QColor,
                    *, selected: bool = False) -> None:
    """Paint the line in the left part of ``rect`` and the latest value's text in the right part.

    The text takes the status colour, except in a selected row, where it keeps ``text_colour``.
    """
    text_width = min(64.0, rect.width() * 0.45)
    line_rect = QRectF(rect.left() + 4, rect.top() + 5, rect.width() - text_width - 10, rect.height() - 10)
    text_rect = QRectF(rect.right() - text_width - 2, rect.top(), text_width, rect.height())
    points = sparkline_points(sparkline.values, line_rect, sparkline.reference)

    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if sparkline.reference is not None and sparkline.finite():
        level = _reference_y(sparkline, line_rect)
        painter.setPen(QPen(REFERENCE_COLOUR, 1, Qt.PenStyle.DotLine))
        painter.drawLine(QPointF(line_rect.left(), level), QPointF(line_rect.right(), level))

    path = QPainterPath()
    drawing = False
    for point in points:
        if point is None:
            drawing = False
            continue
        if drawing:
            path.lineTo(point)
        else:
            path.moveTo(point)
            drawing = True
    painter.setPen(QPen(LINE_COLOUR, 1.4))
    painter.drawPath(path)

    latest = next((point for point in reversed(points) if point is not None), None)
    colour = STATUS_COLOURS.get(sparkline.status, STATUS_COLOURS["none"])
    if latest is not None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(latest, 2.8, 2.8)
    alert = sparkline.status in ("behind", "watch") and not selected
    painter.setPen(colour if alert else text_colour)
    painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, sparkline.text)
    painter.restore()


def _reference_y(sparkline: Sparkline, rect: QRectF) -> float:
    values = [*sparkline.finite(), sparkline.reference]
    low, high = min(values), max(values)
    if high == low:
        return rect.center().y()
    return rect.bottom() - (sparkline.reference - low) / (high - low) * rect.height()


class SparklineDelegate(QStyledItemDelegate):
    """Paints the ``Sparkline`` of a cell; cells without one are painted as usual."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        sparkline = index.data(SPARKLINE_ROLE)
        if not isinstance(sparkline, Sparkline):
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_colour = option.palette.highlightedText().color() if selected else option.palette.text().color()
        paint_sparkline(painter, QRectF(option.rect), sparkline, text_colour, selected=selected)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802  (Qt override)
        if isinstance(index.data(SPARKLINE_ROLE), Sparkline):
            return QSize(150, 30)
        return super().sizeHint(option, index)


class SparklineWidget(QWidget):
    """A sparkline on its own, for headers and summaries outside a table."""

    def __init__(self, sparkline: Sparkline | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sparkline = sparkline
        self.setMinimumSize(120, 28)

    def set_sparkline(self, sparkline: Sparkline | None) -> None:
        self._sparkline = sparkline
        self.update()

    @property
    def sparkline(self) -> Sparkline | None:
        return self._sparkline

    def paintEvent(self, event: object) -> None:  # noqa: N802  (Qt override)
        if self._sparkline is None:
            return
        painter = QPainter(self)
        try:
            paint_sparkline(painter, QRectF(self.rect()), self._sparkline, self.palette().text().color())
        finally:
            painter.end()
