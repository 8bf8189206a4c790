"""The Plans area and plan editor driven by clicks and keys: band edits, validation, undo/redo, curve, save."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from spm_desktop.services import plan_service
from spm_desktop.services.context import Workspace

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
"""

PLAN = """\
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
  - name: Attainment bonus
    type: bonus
    metric: bookings
    quota: bookings
    target: 5000
    curve:
      - {attainment: 0.5, payout: 0}
      - {attainment: 1.0, payout: 1.0}
      - {attainment: 1.5, payout: 2.0}
"""
NAME = "Account Executive 2017"


@pytest.fixture
def seeded_path(workspace_path: Path) -> Path:
    from spm_desktop.services import metric_service

    with Workspace.open(workspace_path, "tester") as workspace:
        metric_service.load_yaml(workspace, METRICS)
        plan_service.load(workspace, PLAN, source="plan.yaml")
    return workspace_path


@pytest.fixture
def plans_area(qtbot, seeded_path, main_window):
    main_window.show_area("plans")
    area = main_window.areas["plans"]
    qtbot.waitUntil(lambda: area.editor.plan is not None, timeout=10_000)
    return area


def _edit_cell(qtbot, table, row: int, column: int, text: str) -> None:
    """Type into a band-table cell the way a user does: select it, F2, type, Enter."""
    index = table.model().index(row, column)
    center = table.visualRect(index).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    editor = table.viewport().findChild(QLineEdit)
    assert editor is not None, "double-clicking the cell opened no editor"
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The item delegate commits the editor's text in a queued call.
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState, timeout=5_000)


def _rate(area, band: int) -> Decimal:
    return area.editor.plan.components[0].tiers.bands[band].rate


def test_opens_latest_version(plans_area):
    assert plans_area.editor.title_label.text() == f"{NAME}, version 1 (active)"
    assert plans_area.editor.components_list.count() == 2
    assert plans_area.editor.band_model.rowCount() == 3


def test_band_edit_then_undo_redo(qtbot, plans_area):
    table = plans_area.editor.bands_table
    _edit_cell(qtbot, table, 1, 2, "0.07")
    assert _rate(plans_area, 1) == Decimal("0.07")
    assert plans_area.editor.title_label.text().endswith("edited (not saved)")
    plans_area.editor.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _rate(plans_area, 1) == Decimal("0.06")
    assert plans_area.editor.title_label.text() == f"{NAME}, version 1 (active)"
    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _rate(plans_area, 1) == Decimal("0.07")


def test_undo_button_restores_band(qtbot, plans_area):
    _edit_cell(qtbot, plans_area.editor.bands_table, 2, 2, "12%")
    assert _rate(plans_area, 2) == Decimal("0.12")
    qtbot.mouseClick(plans_area.editor.undo_button, Qt.MouseButton.LeftButton)
    assert _rate(plans_area, 2) == Decimal("0.09")
    assert plans_area.editor.redo_button.isEnabled()


def test_curve_follows_band_edit(qtbot, plans_area):
    editor = plans_area.editor
    before = dict(editor.curve_points())
    _edit_cell(qtbot, editor.bands_table, 2, 2, "0.20")
    after = dict(editor.curve_points())
    # Marginal at quota 100,000: 3% of 50,000 + 6% of 50,000 + the top rate on 50,000.
    assert before[Decimal("1.5")] == Decimal("9000")
    assert after[Decimal("1.5")] == Decimal("14500")
    axes = editor.chart.figure.axes[0]
    assert max(axes.lines[0].get_ydata()) == pytest.approx(float(max(after.values())))


def test_gap_marks_cell_red_with_tooltip(qtbot, plans_area):
    editor = plans_area.editor
    _edit_cell(qtbot, editor.bands_table, 0, 1, "0.4")
    tooltip = editor.band_model.data(editor.band_model.index(0, 1), Qt.ItemDataRole.ToolTipRole)
    background = editor.band_model.data(editor.band_model.index(0, 1), Qt.ItemDataRole.BackgroundRole)
    assert "to 0.4 must equal the next band's from 0.5" in tooltip
    assert background is not None
    assert not editor.save_button.isEnabled()
    assert editor.curve_points() == []


def test_text_in_rate_cell_stays_red(qtbot, plans_area):
    editor = plans_area.editor
    _edit_cell(qtbot, editor.bands_table, 1, 2, "six")
    tooltip = editor.band_model.data(editor.band_model.index(1, 2), Qt.ItemDataRole.ToolTipRole)
    assert "'six' is not a number" in tooltip
    assert _rate(plans_area, 1) == Decimal("0.06")
    assert not editor.save_button.isEnabled()


def test_bonus_curve_point_edit(qtbot, plans_area):
    editor = plans_area.editor
    editor.components_list.setCurrentRow(1)
    assert editor.band_model.header[0] == "Attainment"
    _edit_cell(qtbot, editor.bands_table, 2, 1, "3")
    points = dict(editor.curve_points())
    assert points[Decimal("1.5")] == Decimal("15000")


def test_add_band_then_summary(qtbot, plans_area):
    editor = plans_area.editor
    qtbot.mouseClick(editor.add_band_button, Qt.MouseButton.LeftButton)
    assert editor.band_model.rowCount() == 4
    assert "from 150% of quota up" in editor.summary_view.toPlainText()
    assert "band 4" in editor.changes_view.toPlainText()


def test_save_new_version_with_reason(qtbot, plans_area):
    editor = plans_area.editor
    _edit_cell(qtbot, editor.bands_table, 2, 2, "0.1")
    assert not editor.save_button.isEnabled()
    qtbot.keyClicks(editor.reason_edit, "raise the accelerator")
    assert editor.save_button.isEnabled()
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not plans_area.context.busy, timeout=10_000)
    qtbot.waitUntil(lambda: "version 2" in editor.title_label.text(), timeout=10_000)
    with plans_area.context.workspace.read() as connection:
        stored = plan_service.get_plan(connection, NAME, 2)
        version = plan_service.get_version(connection, NAME, 2)
    assert stored.components[0].tiers.bands[2].rate == Decimal("0.1")
    assert version.reason == "raise the accelerator"


def test_compare_versions_shows_change(qtbot, plans_area):
    workspace = plans_area.context.workspace
    plan_service.load(workspace, PLAN.replace("rate: 0.09", "rate: 0.1").replace("version: 1", "version: 2"))
    plans_area.context.notify_changed({"plans"})
    tree = plans_area.tree
    second = tree.topLevelItem(0).child(1)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(second).center())
    assert "version 2" in plans_area.editor.title_label.text()
    assert plans_area.diff_from.currentText() == "1"
    qtbot.mouseClick(plans_area.compare_button, Qt.MouseButton.LeftButton)
    assert "band 3, rate: 0.09 -> 0.1" in plans_area.diff_view.toPlainText()


def test_retire_version_with_reason(qtbot, plans_area):
    plans_area.status_combo.setCurrentText("retired")
    qtbot.mouseClick(plans_area.status_button, Qt.MouseButton.LeftButton)
    assert plan_service.list_plans(plans_area.context.workspace)[0].status == "active"
    qtbot.keyClicks(plans_area.status_reason, "replaced by the 2018 plan")
    qtbot.mouseClick(plans_area.status_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "(retired)" in plans_area.editor.title_label.text(), timeout=10_000)
    assert plan_service.list_plans(plans_area.context.workspace)[0].status == "retired"
    assert plans_area.tree.topLevelItem(0).child(0).text(1) == "retired"
