"""The Review area driven offscreen: choose a period, review it, walk the figures, export the charts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from PySide6.QtCore import Qt

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.gui.areas.review import ReviewArea
from spm_desktop.services import metric_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.calc import calc_runs, results
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
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: flat
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
"""

# participant, name, region, bookings credit, quota, earnings, close date of the one won deal
PEOPLE = [
    ("P1", "Ana", "East", 50000, 100000, 2500, "2017-03-24"),
    ("P2", "Ben", "East", 120000, 100000, 6000, "2017-01-15"),
    ("P3", "Cai", "West", 90000, 100000, 4500, "2017-02-10"),
    ("P4", "Dee", "West", 30000, 60000, 1500, "2017-03-30"),
]


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for row in rows:
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key])
        values["row_hash"] = "0" * 32
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def _seed(workspace: Workspace) -> None:
    """Store a plan, participants, won deals and one official run of 2017-Q1 as a calculation leaves them."""
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        connection = unit.connection
        _insert(connection, "participants", [{"participant_id": p[0], "name": p[1], "role": "AE", "region": p[2]}
                                             for p in PEOPLE])
        _insert(connection, "deals", [{"deal_id": f"D-{p[0]}", "owner": p[0], "amount": p[3] * 10_000,
                                       "close_date": p[6], "stage": "Won"} for p in PEOPLE])
        connection.execute(calc_runs.insert().values(
            id=1, period="2017-Q1", period_start=dt.date(2017, 1, 1), period_end=dt.date(2017, 3, 31),
            kind="official", user="tester", started_at="x", finished_at="x", status="complete",
            input_fingerprint="0" * 64, inputs="{}", versions="{}", problems="[]", results_hash="0" * 64,
            lines_hash="0" * 64, superseded=False))
        rows = []
        for pid, name, _region, credit, quota, earnings, _day in PEOPLE:
            common = {"run_id": 1, "participant_id": pid, "participant_name": name, "period": "2017-Q1",
                      "plan": "AE", "plan_version": 1, "earnings_minor": earnings * 100, "currency": "USD",
                      "row_hash": "0" * 64, "metric_key": None, "metric_unit": None, "metric_value": None,
                      "quota": None, "attainment": None}
            rows.append({**common, "id": len(rows) + 1, "row_kind": "component", "component": "Bookings commission",
                         "metric_key": "bookings", "metric_unit": "currency", "metric_value": str(credit),
                         "quota": str(quota), "attainment": str(credit / quota)})
            rows.append({**common, "id": len(rows) + 1, "row_kind": "total", "component": "TOTAL"})
        connection.execute(results.insert(), rows)


@pytest.fixture
def area(qtbot, app_context, workspace_path):
    workspace = Workspace.open(workspace_path, "tester")
    _seed(workspace)
    app_context.set_workspace(workspace)
    widget = ReviewArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    return widget


def _review(qtbot, area: ReviewArea) -> None:
    area.period.setCurrentText("2017-Q1")
    qtbot.mouseClick(area.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)


def test_review_area_without_workspace(qtbot, app_context):
    widget = ReviewArea(app_context)
    qtbot.addWidget(widget)
    assert "Open a workspace" in widget.empty.text()


def test_review_area_lists_calculated_periods(area):
    assert [area.period.itemText(i) for i in range(area.period.count())] == ["2017-Q1", "2017"]


def test_review_area_shows_every_figure(qtbot, area):
    _review(qtbot, area)
    titles = [area.headlines.row(i)[0] for i in range(area.headlines.rowCount())]
    assert titles == ["Pay for performance", "Top earners against top performers",
                      "Attainment and payout distributions", "Cost of sales", "Behaviours not paid for",
                      "Plan complexity", "Forecast distortion"]


def test_review_area_first_figure_explains_correlation(qtbot, area):
    _review(qtbot, area)
    assert "Spearman 0.95 over 4 participants" in area.explanation.text()


def test_review_area_selecting_cost_of_sales(qtbot, area):
    _review(qtbot, area)
    area.figure_list.selectRow(3)
    assert area.explanation.text().startswith("Incentive pay cost 5.0% of revenue.")
    assert area.details.rowCount() == 3  # one plan and two regions


def test_review_area_chart_is_drawn(qtbot, area):
    _review(qtbot, area)
    axes = area.chart.figure.axes[0]
    assert len(axes.collections[0].get_offsets()) == 4


def test_review_area_exports_one_png_per_figure(qtbot, area, tmp_path):
    _review(qtbot, area)
    written = area.export_charts(tmp_path)
    assert len(written) == 7
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_review_area_unknown_period_reports_error(qtbot, area, monkeypatch):
    from spm_desktop.gui import errors

    shown = []
    monkeypatch.setattr(errors, "show_error", lambda parent, error: shown.append(str(error)))
    area.period.setCurrentText("2016-Q1")
    qtbot.mouseClick(area.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)
    assert "calculate it first" in shown[0]


def test_review_area_late_window_of_one_week(qtbot, area):
    area.late_weeks.setValue(1)
    _review(qtbot, area)
    assert area.review.forecast_distortion.window_weeks == 1


def test_main_window_hosts_review_area(main_window):
    area = main_window.show_area("review")
    assert isinstance(area, ReviewArea)
    assert area.empty.text().startswith("Nothing here yet")
