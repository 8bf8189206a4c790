"""Closing a period in the Close area shows the audit anchor to keep outside the workspace."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QTableView

from spm_desktop.gui.areas.close import CloseArea
from spm_desktop.services import audit_service, period_service
from spm_desktop.services.context import Workspace


@pytest.fixture
def area(qtbot, app_context, tmp_path):
    path = tmp_path / "anchor.spm"
    with Workspace.create(path, user="maker") as created, created.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    app_context.set_workspace(Workspace.open(path, "tester"))
    widget = CloseArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    return widget


def _click(qtbot, area, name):
    qtbot.mouseClick(area.findChild(QPushButton, name), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)


def test_close_shows_anchor_of_head(qtbot, area):
    view = area.findChild(QTableView, "periodsTable")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(view.model().index(0, 0)).center())
    qtbot.waitUntil(lambda: area.findChild(QPushButton, "approveButton").isEnabled(), timeout=10_000)
    _click(qtbot, area, "approveButton")
    _click(qtbot, area, "closeButton")
    head = audit_service.head(area.context.workspace)
    assert f"Audit anchor {head}" in area.status.text()
