"""The Calculation area driven by clicks: run a period, read results, drill down to lines and source rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPushButton

from spm_desktop.services import import_service, metric_service, plan_service
from spm_desktop.services.context import Workspace

PARTICIPANTS = """\
participant_id,name,role,hire_date,currency
P1,Ana Diaz,Sales Agent,2016-01-01,USD
P2,Ben Ode,Sales Agent,2016-01-01,USD
"""

DEALS = """\
deal_id,owner,amount,currency,close_date,stage,product,customer
D1,P1,40000,USD,2017-01-15,Won,GTX Pro,Acme
D2,P1,30000,USD,2017-02-10,Won,GTX Basic,Initech
D3,P2,20000,USD,2017-03-05,Won,MG Special,Umbrella
D4,P2,5000,USD,2017-03-06,Lost,MG Special,Hooli
"""

QUOTAS = """\
participant_id,quota_key,period,amount
P1,bookings,2017-Q1,50000
P2,bookings,2017-Q1,50000
"""

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
plan: AE 2017
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
draw: {amount: 1000, recoverable: true, year_end: carry_forward}
"""


@pytest.fixture
def seeded_path(workspace_path: Path, tmp_path: Path) -> Path:
    with Workspace.open(workspace_path, "tester") as workspace:
        for record_set, content in (("participants", PARTICIPANTS), ("deals", DEALS), ("quotas", QUOTAS)):
            source = tmp_path / f"{record_set}.csv"
            source.write_text(content, encoding="utf-8")
            import_service.commit(workspace, import_service.ImportRequest(record_set, source))
        metric_service.load_yaml(workspace, METRICS)
        plan_service.load(workspace, PLAN, source="plan.yaml")
    return workspace_path


@pytest.fixture
def area(qtbot, seeded_path, main_window):
    main_window.show_area("calculation")
    return main_window.areas["calculation"]


def _calculate(qtbot, area, label: str) -> None:
    area.period_combo.setEditText(label)
    qtbot.mouseClick(area.calculate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy and area.results_view.results_model.rowCount() > 0,
                    timeout=30_000)


def _click_row(qtbot, area, table, row: int) -> None:
    """Click a table row and wait until the lines or source it loads in a worker are shown."""
    index = table.model().index(row, 0)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)


def _row_of(area, participant_id: str, component: str) -> int:
    model = area.results_view.results_proxy
    for row in range(model.rowCount()):
        if model.index(row, 0).data() == participant_id and model.index(row, 4).data() == component:
            return row
    raise AssertionError(f"no result row for {participant_id} {component}")


def test_offers_plan_periods(area):
    labels = [area.period_combo.itemText(index) for index in range(area.period_combo.count())]
    assert labels == ["2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]
    assert area.stack.currentIndex() == 0


def test_calculate_fills_results(qtbot, area):
    _calculate(qtbot, area, "2017-Q1")
    model = area.results_view.results_model
    assert model.rowCount() == 6
    assert "2017-Q1: run 1 by tester" in area.run_label.text()
    assert "5,050.00 USD" in area.run_label.text()
    row = _row_of(area, "P1", "Bookings commission")
    assert area.results_view.results_proxy.index(row, 8).data() == "4,050.00"
    assert area.results_view.results_proxy.index(row, 7).data() == "140.0%"


def test_drill_down_to_source_row(qtbot, area):
    _calculate(qtbot, area, "2017-Q1")
    view = area.results_view
    _click_row(qtbot, area, view.results_table, _row_of(area, "P1", "Bookings commission"))
    assert view.lines_model.rowCount() == 2
    assert [view.lines_model.index(row, 2).data() for row in range(2)] == ["D1", "D2"]
    assert "2 lines behind Bookings commission of Ana Diaz (P1)" in view.lines_label.text()
    _click_row(qtbot, area, view.lines_table, 1)
    assert view.source_label.text().startswith("Imported from deals.csv, row 3")
    fields = {view.source_model.index(row, 0).data(): view.source_model.index(row, 1).data()
              for row in range(view.source_model.rowCount())}
    assert fields["deal_id"] == "D2"
    assert fields["customer"] == "Initech"


def test_draw_line_has_no_source(qtbot, area):
    _calculate(qtbot, area, "2017-Q1")
    view = area.results_view
    _click_row(qtbot, area, view.results_table, _row_of(area, "P2", "Draw"))
    assert view.lines_model.index(0, 0).data() == "draw"
    _click_row(qtbot, area, view.lines_table, 0)
    assert "no deal behind it" in view.source_label.text()


def test_missing_quota_listed_as_problem(qtbot, area):
    assert not area.problems_list.isVisible()
    _calculate(qtbot, area, "2017-Q2")
    texts = [area.problems_list.item(row).text() for row in range(area.problems_list.count())]
    assert area.problems_list.isVisible()
    assert any("participant P1" in text and "no 'bookings' quota" in text for text in texts)


def test_filter_narrows_rows(qtbot, area):
    _calculate(qtbot, area, "2017-Q1")
    qtbot.keyClicks(area.results_view.filter_edit, "Ben")
    assert area.results_view.results_proxy.rowCount() == 3


def test_period_without_results_explains(qtbot, area):
    area.period_combo.setEditText("2017-Q2")
    qtbot.mouseClick(area.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert area.stack.currentIndex() == 0
    assert "no calculation of 2017-Q2 is stored" in area.empty_label.text()


def test_invalid_period_shows_error(qtbot, area):
    area.period_combo.setEditText("2017-Q9")
    qtbot.mouseClick(area.calculate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    assert "2017-Q9" in str(area.context.last_error)
    area.context.last_error_dialog.close()


def test_earlier_run_selectable(qtbot, area):
    _calculate(qtbot, area, "2017-Q1")
    workspace = area.context.workspace
    plan_service.load(workspace, PLAN.replace("version: 1", "version: 2").replace("rate: 0.03", "rate: 0.04"))
    area.context.notify_changed({"plans"})
    _calculate(qtbot, area, "2017-Q1")
    qtbot.waitUntil(lambda: area.run_combo.count() == 2, timeout=10_000)
    assert area.run_combo.itemText(0) == "run 2 (current)"
    assert area.run_combo.itemText(1) == "run 1 (superseded)"
    ben = _row_of(area, "P2", "Bookings commission")
    assert area.results_view.results_proxy.index(ben, 8).data() == "800.00"
    area.run_combo.setCurrentIndex(1)
    area.run_combo.activated.emit(1)
    qtbot.waitUntil(lambda: "run 1 by" in area.run_label.text(), timeout=10_000)
    ben = _row_of(area, "P2", "Bookings commission")
    assert area.results_view.results_proxy.index(ben, 8).data() == "600.00"


def test_export_writes_results_csv(qtbot, area, tmp_path, monkeypatch):
    _calculate(qtbot, area, "2017-Q1")
    target = tmp_path / "results.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    qtbot.mouseClick(area.export_button, Qt.MouseButton.LeftButton)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "participant_id,participant_name,period,plan,component,metric_value,quota,attainment,earnings,currency"
    assert lines[1] == "P1,Ana Diaz,2017-Q1,AE 2017,Bookings commission,70000.00,50000.00,1.4000,4050.00,USD"
    assert len(lines) == 7


@pytest.mark.slow
def test_cancel_leaves_no_run(qtbot, area, tmp_path):
    from PySide6.QtWidgets import QProgressDialog

    from spm_desktop.services import calc_service

    rows = ["deal_id,owner,amount,currency,close_date,stage,product,customer"]
    rows += [f"X{index:06d},P{1 + index % 2},{100 + index % 900},USD,2017-02-{1 + index % 28:02d},Won,GTX Pro,Acme"
             for index in range(40_000)]
    source = tmp_path / "many.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_service.commit(area.context.workspace, import_service.ImportRequest("deals", source))
    area.period_combo.setEditText("2017-Q1")
    qtbot.mouseClick(area.calculate_button, Qt.MouseButton.LeftButton)

    def progress_dialog() -> QProgressDialog | None:
        return next((widget for widget in area.findChildren(QProgressDialog) if widget.isVisible()), None)

    qtbot.waitUntil(lambda: progress_dialog() is not None, timeout=10_000)
    qtbot.mouseClick(progress_dialog().findChild(QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=60_000)
    assert calc_service.list_runs(area.context.workspace) == []
    assert "cancelled" in str(area.context.last_error)
