"""A workspace whose one statement runs over several pages, for the preview's page navigation."""

from __future__ import annotations

from pathlib import Path

from statement_workspace import PERIOD, PLAN, _line, _result, _seed

from spm_desktop.domain.periods import parse_period
from spm_desktop.services import calc_service
from spm_desktop.services.context import Workspace


def create_long_statement_workspace(path: Path, line_count: int = 150) -> None:
    """Create a workspace with P-1007 credited ``line_count`` deal lines of 1.00 each (3 A4 pages at 150)."""
    created = Workspace.create(path, user="maker")
    _seed(created)
    earnings_minor = 100 * line_count
    result_rows = [
        _result("component", "P-1007", "Darcel Schlecht", "Bookings commission", earnings_minor,
                metric_key="bookings", metric_version=2, metric_unit="currency", quota="20000",
                metric_value=str(1000 * line_count), attainment="1"),
        _result("total", "P-1007", "Darcel Schlecht", "TOTAL", earnings_minor),
    ]
    line_rows = [_line("P-1007", "sale", 1, f"D{index:04d}", "2017-07-05", "1000", 100, ["1"], ["0.001"], "1.00")
                 for index in range(line_count)]
    period = parse_period(PERIOD)
    prepared = calc_service.PreparedRun(
        PERIOD, period.start, period.end, calc_service.OFFICIAL, None, "2017-10-04T09:30:00.000000+00:00",
        {"deals": "a" * 64, "plans": "b" * 64}, {"plans": {PLAN: 1}}, [], result_rows,
        {name: [row[name] for row in line_rows] for name in line_rows[0]}, [], period,
    )
    with created.transaction() as unit:
        calc_service.store_run(unit, prepared)
    created.close()
