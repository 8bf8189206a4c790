"""The ``spm results --format csv`` layout of result rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from spm_desktop.domain.engine.model import ResultRow
from spm_desktop.domain.money import minor_exponent

RESULT_COLUMNS = ("participant_id", "participant_name", "period", "plan", "component", "metric_value", "quota",
                  "attainment", "earnings", "currency")


def _fixed(value: Decimal, decimals: int) -> str:
    return f"{value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):f}"


def format_metric_value(value: Decimal | None, unit: str | None, currency: str) -> str:
    """Format a metric value: money in the minor unit, counts as integers (two decimals when fractional)."""
    if value is None:
        return ""
    if unit in ("count", "days"):
        return _fixed(value, 0) if value == value.to_integral_value() else _fixed(value, 2)
    if unit == "ratio":
        return _fixed(value, 4)
    return _fixed(value, minor_exponent(currency))


def result_record(row: ResultRow) -> dict[str, str]:
    """Return one row as the text of each ``spm results`` column."""
    money = minor_exponent(row.currency)
    return {
        "participant_id": row.participant_id,
        "participant_name": row.participant_name,
        "period": row.period,
        "plan": row.plan,
        "component": row.component,
        "metric_value": format_metric_value(row.metric_value, row.metric_unit, row.currency),
        "quota": "" if row.quota is None else _fixed(row.quota, money),
        "attainment": "" if row.attainment is None else _fixed(row.attainment, 4),
        "earnings": _fixed(row.earnings, money),
        "currency": row.currency,
    }


def format_results_csv(rows: Iterable[ResultRow]) -> str:
    """Return the rows as ``spm results --format csv`` prints them: header, then rows in the given order.

    Rows from ``calculate`` are already sorted by participant id, period and component with
    TOTAL last.
    """
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(result_record(row))
    return stream.getvalue()
