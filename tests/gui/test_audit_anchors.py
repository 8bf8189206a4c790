"""The Audit area checks anchors typed into its anchor field."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from spm_desktop.gui.areas.audit import AuditArea
from spm_desktop.services import audit_service, settings_service
from spm_desktop.services.context import Workspace


@pytest.fixture
def workspace(tmp_path):
    with Workspace.create(tmp_path / "anchors.spm", user="maker") as created:
        settings_service.set(created, "company.name", "Acme Ltd")
    opened = Workspace.open(tmp_path / "anchors.spm", "tester")
    yield opened
    opened.close()


@pytest.fixture
def area(qtbot, app_context, workspace):
    app_context.set_workspace(workspace)
    widget = AuditArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    return widget


def _verify_with(qtbot, area, text):
    edit = area.findChild(QLineEdit, "anchorEdit")
    edit.clear()
    qtbot.keyClicks(edit, text)
    qtbot.mouseClick(area.findChild(QPushButton, "verifyButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    return area.status.text()


def test_matching_anchor_reported(qtbot, area, workspace):
    status = _verify_with(qtbot, area, str(audit_service.head(workspace)))
    assert "1 anchors match" in status


def test_changed_hash_fails(qtbot, area, workspace):
    head = audit_service.head(workspace)
    status = _verify_with(qtbot, area, f"{head.seq}:{'0' * 64}")
    assert status.startswith(f"Verification FAILED:\naudit entry {head.seq} no longer has the anchored hash")


def test_invalid_anchor_text_reported(qtbot, area):
    status = _verify_with(qtbot, area, "12")
    assert status.startswith("anchor '12' is invalid")
