"""Base class of the main window's areas, and the placeholder for areas not built yet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from spm_desktop.gui.context import AppContext
from spm_desktop.services.context import Workspace


class Area(QWidget):
    """One navigation area; refreshes itself when the workspace or its data changes."""

    title = ""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        context.workspace_changed.connect(self.on_workspace_changed)
        context.data_changed.connect(self.on_data_changed)

    @property
    def workspace(self) -> Workspace | None:
        return self.context.workspace

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        """Reload everything the area shows; override."""

    def on_data_changed(self, changes: frozenset[str]) -> None:
        """Reload what depends on the named changes; override."""


def empty_state_label(text: str) -> QLabel:
    """Return a centred, wrapped, grey label for an area with nothing to show yet."""
    label = QLabel(text)
    label.setObjectName("emptyState")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("color: #666; font-size: 13px; padding: 24px;")
    return label


class PlaceholderArea(Area):
    """Shown for an area whose module is not available in this build."""

    def __init__(self, context: AppContext, title: str, description: str) -> None:
        super().__init__(context)
        self.title = title
        layout = QVBoxLayout(self)
        layout.addWidget(empty_state_label(f"{title}\n\n{description}"))
