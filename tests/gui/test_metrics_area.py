"""The Metrics area driven offscreen: catalog by tier and owner, flags, editor, preview, comparison, adoption."""

from __future__ import annotations

import json
from decimal import Decimal

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.gui.areas.metrics import MetricsArea
from spm_desktop.gui.metric_editor import NEW_METRIC_HINT
from spm_desktop.services import metric_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

METRICS = """\
metrics:
  - key: won
    name: Won bookings
    owner: Finance
    tier: primary
    filter: stage == "Won"
    value: sum(amount)
    status: approved
  - key: won_big
    name: Won bookings
    owner: RevOps
    tier: primary
    filter: stage == "Won" and amount >= 1000
    value: sum(amount)
    status: approved
  - key: deal_count
    name: Won deals
    owner: RevOps
    tier: supporting
    filter: stage == "Won"
    value: count()
    unit: count
    status: draft
"""

DEALS = [
    ("D1", "ann", "1000.00", "2017-07-03", "Won"),
    ("D2", "ann", "200.50", "2017-08-10", "Won"),
    ("D3", "bob", "5000.00", "2017-09-30", "Won"),
    ("D4", "bob", "999.99", "2017-09-15", "Won"),
    ("D6", "cat", "1500.00", "2017-08-01", "Lost"),
]


def _insert_deals(connection) -> None:
    spec = RECORD_SETS["deals"]
    rows = []
    for deal_id, owner, amount, day, stage in DEALS:
        values = {column_name(field): None for field in spec.fields}
        values.update({"deal_id": deal_id, "owner": owner, "amount_e4": int(Decimal(amount) * 10_000),
                       "close_date": day, "stage": stage, "type": "sale"})
        values["record_key"] = json.dumps([deal_id, None, "sale"])
        values["row_hash"] = "0" * 32
        rows.append(values)
    connection.execute(RECORD_TABLES["deals"].insert(), rows)


def _wait(qtbot, area) -> None:
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)


@pytest.fixture
def area(qtbot, app_context, workspace_path):
    workspace = Workspace.open(workspace_path, "tester")
    metric_service.load_yaml(workspace, METRICS)
    with workspace.transaction() as unit:
        _insert_deals(unit.connection)
    app_context.set_workspace(workspace)
    widget = MetricsArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 850)
    widget.show()
    _wait(qtbot, widget)
    return widget


def _tree_paths(area) -> list[str]:
    paths = []
    for tier_index in range(area.tree.topLevelItemCount()):
        tier = area.tree.topLevelItem(tier_index)
        for owner_index in range(tier.childCount()):
            owner = tier.child(owner_index)
            for index in range(owner.childCount()):
                paths.append(f"{tier.text(0).split('  ')[0]} / {owner.text(0)} / {owner.child(index).text(0)}")
    return paths


def test_metrics_area_without_workspace(qtbot, app_context):
    widget = MetricsArea(app_context)
    qtbot.addWidget(widget)
    assert "Open a workspace" in widget.empty_label.text()


def test_metrics_area_empty_catalog(qtbot, app_context, workspace_path):
    app_context.set_workspace(Workspace.open(workspace_path, "tester"))
    widget = MetricsArea(app_context)
    qtbot.addWidget(widget)
    widget.show()
    _wait(qtbot, widget)
    assert widget.catalog_empty.isVisible()
    assert widget.catalog_empty.text().startswith("Nothing here yet")


def test_catalog_grouped_by_tier_and_owner(area):
    assert _tree_paths(area) == [
        "Primary / Finance / ⚑ won",
        "Primary / RevOps / ⚑ won_big",
        "Supporting / RevOps / deal_count",
    ]


def test_same_name_flag_is_listed(area):
    texts = [area.flag_list.item(index).text() for index in range(area.flag_list.count())]
    assert any("share the name 'Won bookings'" in text for text in texts)


def test_selecting_metric_opens_editor(area):
    assert area.select_metric("won_big")
    assert area.editor.filter_edit.toPlainText() == 'stage == "Won" and amount >= 1000'
    assert area.editor.version_label.text() == "1"


def test_editor_shows_caret_message(qtbot, area):
    area.select_metric("won")
    area.editor.filter_edit.setPlainText('stage == "Won" and amount > > 5')
    qtbot.waitUntil(lambda: "expected a value" in area.editor.validation_label.text(), timeout=5_000)
    lines = area.editor.validation_label.text().splitlines()
    assert lines[-1] == "  " + " " * len('stage == "Won" and amount > ') + "^"
    assert not area.editor.save_button.isEnabled()


def test_editor_live_preview(qtbot, area):
    area.select_metric("won")
    qtbot.keyClicks(area.editor.period_edit, "2017-Q3")
    qtbot.waitUntil(lambda: area.editor.preview_model.rowCount() == 2, timeout=10_000)
    assert area.editor.preview_model.row(0) == ["ann", "1,200.50", "2"]
    assert area.editor.preview_status.text() == "Total 7,200.49 from 4 records in 2017-Q3"


def test_editor_preview_follows_edits(qtbot, area):
    area.select_metric("won")
    qtbot.keyClicks(area.editor.period_edit, "2017-Q3")
    qtbot.waitUntil(lambda: area.editor.preview_model.rowCount() == 2, timeout=10_000)
    area.editor.filter_edit.setPlainText('stage == "Lost"')
    qtbot.waitUntil(lambda: area.editor.preview_model.rowCount() == 1, timeout=10_000)
    assert area.editor.preview_model.row(0)[0] == "cat"


def test_editor_preview_bad_period_is_inline(qtbot, area):
    area.select_metric("won")
    qtbot.keyClicks(area.editor.period_edit, "2017-Q9")
    qtbot.waitUntil(lambda: "is invalid" in area.editor.preview_status.text(), timeout=10_000)
    assert area.editor.preview_model.rowCount() == 0


def test_editor_saves_new_version(qtbot, area):
    area.select_metric("won")
    area.editor.filter_edit.setPlainText('stage == "Won" and amount > 0')
    qtbot.keyClicks(area.editor.reason_edit, "exclude zero-value deals")
    qtbot.mouseClick(area.editor.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    qtbot.waitUntil(lambda: area.editor.version_label.text() == "2", timeout=10_000)
    versions = metric_service.history(area.workspace, "won")
    assert versions[0].reason == "exclude zero-value deals"


def test_editor_save_without_reason_is_rejected(qtbot, area):
    area.select_metric("won")
    area.editor.filter_edit.setPlainText('stage == "Won" and amount > 0')
    qtbot.mouseClick(area.editor.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert "reason" in area.editor.validation_label.text()
    assert len(metric_service.history(area.workspace, "won")) == 1


def test_new_metric_form_starts_without_errors(qtbot, area):
    qtbot.mouseClick(area.findChild(type(area.editor.save_button), "newMetricButton"), Qt.MouseButton.LeftButton)
    assert area.editor.validation_label.text() == NEW_METRIC_HINT
    assert not area.editor.save_button.isEnabled()
    qtbot.keyClicks(area.editor.key_edit, "9lost")
    qtbot.waitUntil(lambda: "the key must start with a letter" in area.editor.validation_label.text(), timeout=5_000)


def test_new_metric_is_created(qtbot, area):
    qtbot.mouseClick(area.findChild(type(area.editor.save_button), "newMetricButton"), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(area.editor.key_edit, "lost")
    qtbot.keyClicks(area.editor.name_edit, "Lost bookings")
    area.editor.filter_edit.setPlainText('stage == "Lost"')
    qtbot.keyClicks(area.editor.reason_edit, "track lost value")
    qtbot.waitUntil(lambda: area.editor.save_button.isEnabled(), timeout=5_000)
    qtbot.mouseClick(area.editor.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    qtbot.waitUntil(lambda: "Supporting / (no owner) / lost" in _tree_paths(area), timeout=10_000)


def _compare(qtbot, area) -> None:
    view = area.reconcile_view
    area.tabs.setCurrentWidget(view)
    view.set_pair("won", "won_big")
    qtbot.keyClicks(view.period_edit, "2017-Q3")
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)


def test_reconciliation_totals(qtbot, area):
    _compare(qtbot, area)
    view = area.reconcile_view
    assert view.total_a.text() == "7,200.49"
    assert view.total_b.text() == "6,000.00"
    assert view.total_difference.text() == "-1,200.49"


def test_reconciliation_participants_and_records(qtbot, area):
    _compare(qtbot, area)
    view = area.reconcile_view
    assert view.participants_model.row(0) == ["ann", "1,200.50", "1,000.00", "-200.50"]
    assert [view.only_a_model.row(index)[0] for index in range(view.only_a_model.rowCount())] == ["D2", "D4"]
    assert view.only_a_model.row(0)[5] == "amount >= 1000"
    assert view.records_tabs.tabText(0) == "Only in A (2)"


def test_reconciliation_export(qtbot, area, tmp_path, monkeypatch):
    _compare(qtbot, area)
    target = tmp_path / "comparison.xlsx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    qtbot.mouseClick(area.reconcile_view.export_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert openpyxl.load_workbook(target).sheetnames[0] == "Summary"


def test_reconciliation_adopt(qtbot, area):
    _compare(qtbot, area)
    view = area.reconcile_view
    view.adopt_choice.setCurrentText("B")
    qtbot.keyClicks(view.adopt_reason, "Finance agreed to the minimum deal size")
    qtbot.mouseClick(view.adopt_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    with area.workspace.read() as connection:
        assert metric_service.current_version(connection, "won")[1].status == "retired"
    qtbot.waitUntil(lambda: not any("share the name" in area.flag_list.item(index).text()
                                    for index in range(area.flag_list.count())), timeout=10_000)


def test_history_lists_versions_and_compares_them(qtbot, area):
    area.select_metric("won")
    area.editor.filter_edit.setPlainText('stage == "Won" and amount >= 500')
    qtbot.keyClicks(area.editor.reason_edit, "minimum deal size")
    qtbot.mouseClick(area.editor.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    area.tabs.setCurrentIndex(2)
    area.select_metric("won")
    qtbot.waitUntil(lambda: area.versions_model.rowCount() == 2, timeout=10_000)
    assert area.versions_model.row(0)[3] == "minimum deal size"
    qtbot.mouseClick(area.compare_versions_button, Qt.MouseButton.LeftButton)
    view = area.reconcile_view
    assert (view.metric_a.currentText(), view.metric_b.currentText()) == ("won@1", "won@2")
    qtbot.keyClicks(view.period_edit, "2017-Q3")
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert view.total_difference.text() == "-200.50"


def test_editor_rejects_field_missing_from_records(qtbot, area):
    area.select_metric("won")
    qtbot.waitUntil(lambda: area.editor.known_fields is not None, timeout=10_000)
    area.editor.filter_edit.setPlainText('stage == "Won" and produkt == "GTX Pro"')
    qtbot.waitUntil(lambda: "did you mean 'product'" in area.editor.validation_label.text(), timeout=5_000)
    assert "unknown name 'produkt'" in area.editor.validation_label.text()
    assert not area.editor.save_button.isEnabled()


def test_primary_limit_setting_flags_catalog(qtbot, area):
    area.max_primary.setValue(1)
    qtbot.mouseClick(area.max_primary_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    qtbot.waitUntil(lambda: any("more than the limit of 1" in area.flag_list.item(index).text()
                                for index in range(area.flag_list.count())), timeout=10_000)
    assert area.workspace.get_setting(metric_service.MAX_PRIMARY_SETTING) == 1


def test_clicking_participant_filters_records(qtbot, area):
    _compare(qtbot, area)
    view = area.reconcile_view
    table = view.participants_table
    bob = table.model().index(1, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(bob).center())
    assert view.record_filter.text() == "bob"
    assert view.records_tabs.tabText(0) == "Only in A (1 of 2)"
    assert view.record_filters[0].index(0, 0).data() == "D4"
