"""Matplotlib charts embedded in Qt."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("QtAgg")

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QVBoxLayout, QWidget


class ChartWidget(QWidget):
    """A matplotlib figure in a widget; draw on ``figure`` then call ``draw()``."""

    def __init__(self, parent: QWidget | None = None, *, width: float = 5.0, height: float = 3.0) -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=(width, height), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

    def clear(self) -> None:
        self.figure.clear()

    def draw(self) -> None:
        self.canvas.draw_idle()

    def export_png(self, path: Path, dpi: int = 150) -> None:
        self.figure.savefig(str(path), dpi=dpi)
