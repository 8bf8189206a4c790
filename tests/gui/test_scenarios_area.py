"""The Scenarios area driven offscreen: create a scenario, edit a band, run it, read the comparison, export."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import Qt

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.gui.areas.scenarios import ScenariosArea
from spm_desktop.services import calc_service, metric_service, plan_service, scenario_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

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
plan: AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
        - {from: 1.0, rate: 0.10}
"""

# Official 2017-Q1: P1 4,000.00, P2 7,000.00, P3 10,000.00 (quota 100,000 each).
SALES = {"P1": 80000, "P2": 120000, "P3": 150000}


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for number, row in enumerate(rows, start=1):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key])
        values["row_hash"] = f"{number:032x}"
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def _build(workspace: Workspace) -> None:
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        _insert(unit.connection, "participants", [
            {"participant_id": pid, "name": f"Rep {pid}", "role": "AE"} for pid in SALES])
        _insert(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": "2017-Q1", "amount": 100000 * 10_000}
            for pid in SALES])
        _insert(unit.connection, "deals", [
            {"deal_id": f"D-{pid}", "owner": pid, "amount": amount * 10_000, "currency": "USD",
             "close_date": "2017-02-15", "stage": "Won", "type": "sale"} for pid, amount in SALES.items()])
    calc_service.calculate(workspace, "2017-Q1")


@pytest.fixture(scope="module")
def calculated_file(tmp_path_factory):
    """A workspace file with 2017-Q1 calculated, copied for each test."""
    path = tmp_path_factory.mktemp("prepared") / "prepared.spm"
    workspace = Workspace.create(path, "tester")
    try:
        _build(workspace)
    finally:
        workspace.close()
    return path


@pytest.fixture
def area(qtbot, app_context, calculated_file, tmp_path):
    target = tmp_path / "test.spm"
    shutil.copyfile(calculated_file, target)
    app_context.set_workspace(Workspace.open(target, "tester"))
    widget = ScenariosArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1300, 900)
    widget.show()
    return widget


def _wait(qtbot, area: ScenariosArea) -> None:
    qtbot.waitUntil(lambda: not area.context.busy, timeout=60_000)


def _create(qtbot, area: ScenariosArea, name: str) -> None:
    qtbot.keyClicks(area.new_name, name)
    area.new_plan.setCurrentText("AE")
    qtbot.mouseClick(area.create_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)


def test_scenarios_area_without_workspace(qtbot, app_context):
    widget = ScenariosArea(app_context)
    qtbot.addWidget(widget)
    assert "Open a workspace" in widget.empty.text()


def test_scenarios_area_empty_state(area):
    assert area.status.text().startswith("Nothing here yet")


def test_scenarios_area_create_lists_and_shows_copy(qtbot, area):
    _create(qtbot, area, "Higher accelerator")
    assert area.scenario_list.currentItem().text() == "Higher accelerator"
    assert area.document.toPlainText() == PLAN


def test_scenarios_area_edit_band_run_and_compare(qtbot, area):
    _create(qtbot, area, "Higher accelerator")
    area.document.setPlainText(area.document.toPlainText().replace("rate: 0.10", "rate: 0.12"))
    qtbot.mouseClick(area.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    area.period.setCurrentText("2017-Q1")
    qtbot.mouseClick(area.run_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    rows = {area.participants.row(i)[0]: area.participants.row(i)[4] for i in range(area.participants.rowCount())}
    assert rows == {"P1": "0.00 USD", "P2": "400.00 USD", "P3": "1,000.00 USD"}
    assert area.status.text().startswith("The scenario costs 1,400.00 USD more than the actual plan")


def test_scenarios_area_alignment_side_by_side(qtbot, area):
    _create(qtbot, area, "Same")
    area.period.setCurrentText("2017-Q1")
    qtbot.mouseClick(area.run_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    cost = next(area.alignment.row(i) for i in range(area.alignment.rowCount())
                if area.alignment.row(i)[0] == "Cost of sales")
    assert cost[1] == cost[2]


def test_scenarios_area_quota_override_saved(qtbot, area):
    _create(qtbot, area, "Lower quota")
    qtbot.mouseClick(area.findChild(type(area.save_button), "addOverride"), Qt.MouseButton.LeftButton)
    from PySide6.QtWidgets import QTableWidgetItem

    for column, value in enumerate(("P1", "bookings", "2017-Q1", "50000", "USD")):
        area.overrides.setItem(0, column, QTableWidgetItem(value))
    qtbot.mouseClick(area.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    (override,) = scenario_service.get_quota_overrides(area.workspace, "Lower quota")
    assert (override.participant_id, str(override.amount)) == ("P1", "50000.0000")


def test_scenarios_area_export(qtbot, area, tmp_path):
    _create(qtbot, area, "Higher accelerator")
    area.period.setCurrentText("2017-Q1")
    qtbot.mouseClick(area.run_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    area.export(tmp_path / "comparison.xlsx")
    _wait(qtbot, area)
    assert (tmp_path / "comparison.xlsx").stat().st_size > 0


def test_scenarios_area_delete(qtbot, area):
    _create(qtbot, area, "Throwaway")
    qtbot.mouseClick(area.delete_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert area.scenario_list.count() == 0


def test_scenarios_area_shows_plan_changes_after_save(qtbot, area):
    _create(qtbot, area, "Higher accelerator")
    assert area.changes.text() == "No change from the copied plan yet."
    area.document.setPlainText(area.document.toPlainText().replace("rate: 0.10", "rate: 0.12"))
    qtbot.mouseClick(area.save_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert "0.12" in area.changes.text()


def test_scenarios_area_rename(qtbot, area):
    _create(qtbot, area, "Draft")
    qtbot.keyClicks(area.new_name, "Final")
    qtbot.mouseClick(area.rename_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, area)
    assert [area.scenario_list.item(i).text() for i in range(area.scenario_list.count())] == ["Final"]


def test_main_window_hosts_scenarios_area(main_window):
    area = main_window.show_area("scenarios")
    assert isinstance(area, ScenariosArea)
    assert area.status.text().startswith("Nothing here yet")
