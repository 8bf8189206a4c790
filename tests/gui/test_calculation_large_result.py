"""The Calculation area on a payout with 100,000 lines: lines load in a worker and the window keeps responding."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from spm_desktop.domain.periods import parse_period
from spm_desktop.services import calc_service
from spm_desktop.services.context import Workspace

LINE_COUNT = 100_000
PLAN = "AE 2017"
COMPONENT = "Bookings commission"
PARTICIPANT = "P1"


def _result(row_kind: str, component: str, earnings_minor: int) -> dict:
    return {"row_kind": row_kind, "participant_id": PARTICIPANT, "participant_name": "Ana Diaz",
            "period": "2017-Q1", "plan": PLAN, "plan_version": 1, "component": component,
            "metric_key": None, "metric_version": None, "metric_unit": None, "metric_value": None, "quota": None,
            "attainment": None, "earnings_minor": earnings_minor, "currency": "USD"}


def _line_columns(count: int) -> dict[str, list[object]]:
    """Return ``count`` sale lines of 1.00 each (100.00 credited at 1%), column by column."""
    days = [dt.date(2017, 1, 1) + dt.timedelta(days=index % 90) for index in range(count)]
    return {
        "participant_id": [PARTICIPANT] * count, "plan": [PLAN] * count, "component": [COMPONENT] * count,
        "line_kind": ["sale"] * count, "deal_row_id": [None] * count,
        "deal_id": [f"D{index:06d}" for index in range(count)], "line_id": [None] * count,
        "credit_date": [day.isoformat() for day in days], "share": ["1"] * count, "credit_kind": ["owner"] * count,
        "via_participant_id": [None] * count, "amount": ["100"] * count, "deal_currency": ["USD"] * count,
        "credited": ["100"] * count, "fx_rate": [None] * count, "bands": ["[1]"] * count,
        "rates": ['["0.01"]'] * count, "exact_earnings": ["1.00"] * count, "earnings_minor": [100] * count,
        "paid_now_minor": [100] * count, "held_minor": [0] * count, "currency": ["USD"] * count,
        "source_batch": [None] * count, "source_row": [None] * count, "note": [None] * count,
        "_result_key": [(PARTICIPANT, PLAN, COMPONENT)] * count,
    }


def store_large_result(path: Path) -> None:
    """Store one official run of 2017-Q1 whose commission row has ``LINE_COUNT`` lines."""
    period = parse_period("2017-Q1")
    total_minor = 100 * LINE_COUNT
    prepared = calc_service.PreparedRun(
        "2017-Q1", period.start, period.end, calc_service.OFFICIAL, None, calc_service.now_utc(),
        {"records.deals": "0" * 64}, {"plans": {PLAN: 1}}, [],
        [_result("component", COMPONENT, total_minor), _result("total", "TOTAL", total_minor)],
        _line_columns(LINE_COUNT), [], period,
    )
    with Workspace.open(path, "tester") as workspace, workspace.transaction() as unit:
        calc_service.store_run(unit, prepared)


@pytest.fixture
def large_result_path(workspace_path: Path) -> Path:
    store_large_result(workspace_path)
    return workspace_path


@pytest.fixture
def area(qtbot, large_result_path, main_window):
    main_window.show_area("calculation")
    area = main_window.areas["calculation"]
    qtbot.waitUntil(lambda: not area.context.busy and area.results_view.results_model.rowCount() == 2,
                    timeout=30_000)
    return area


def _click_component_row(qtbot, area) -> None:
    view = area.results_view
    row = next(row for row in range(view.results_proxy.rowCount()) if view.results_proxy.index(row, 4).data() == COMPONENT)
    index = view.results_proxy.index(row, 0)
    qtbot.mouseClick(view.results_table.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.results_table.visualRect(index).center())


@pytest.mark.slow
def test_timer_ticks_while_lines_load(qtbot, area):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    clicked = time.perf_counter()
    _click_component_row(qtbot, area)
    qtbot.waitUntil(lambda: area.results_view.lines_label.text().startswith("100,000 lines"), timeout=60_000)
    finished = time.perf_counter()
    timer.stop()
    marks = [clicked, *[tick for tick in ticks if tick > clicked], finished]
    longest_gap = max(later - earlier for earlier, later in itertools.pairwise(marks))
    # Reading 100,000 lines takes long enough for many ticks, and a freeze shows as one long gap between them.
    assert finished - clicked > 0.2
    assert longest_gap < 1.0, f"the UI thread stalled for {longest_gap:.2f} s of {finished - clicked:.2f} s"


@pytest.mark.slow
def test_lines_table_formats_one_page(qtbot, area):
    _click_component_row(qtbot, area)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=60_000)
    model = area.results_view.lines_model
    assert model.total == LINE_COUNT
    assert model.rowCount() == 500
    assert model.index(499, 2).data() == "D000499"


@pytest.mark.slow
def test_scrolling_formats_next_page(qtbot, area):
    _click_component_row(qtbot, area)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=60_000)
    table = area.results_view.lines_table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: area.results_view.lines_model.rowCount() > 500, timeout=10_000)
    assert area.results_view.lines_model.index(500, 2).data() == "D000500"
