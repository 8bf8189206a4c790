"""The pure calculation engine: credits to earnings and payouts, with a line for every cent.

    result = calculate(CalculationInputs(period="2017-Q3", plans=[plan], participants=people,
                                         deals=deals, metrics={"bookings": bookings}))
    text = format_results_csv(result.rows)
"""

from spm_desktop.domain.engine.calculation import calculate, sort_rows
from spm_desktop.domain.engine.exact import exact_decimals
from spm_desktop.domain.engine.model import (
    ADJUSTMENTS,
    DRAW,
    LINE_COLUMNS,
    TOTAL,
    CalculationInputs,
    CalculationResult,
    HeldAmount,
    MetricLike,
    RecordedPeriod,
    ResultLine,
    ResultRow,
)
from spm_desktop.domain.engine.report import RESULT_COLUMNS, format_metric_value, format_results_csv, result_record

__all__ = [
    "ADJUSTMENTS",
    "DRAW",
    "LINE_COLUMNS",
    "RESULT_COLUMNS",
    "TOTAL",
    "CalculationInputs",
    "CalculationResult",
    "HeldAmount",
    "MetricLike",
    "RecordedPeriod",
    "ResultLine",
    "ResultRow",
    "calculate",
    "exact_decimals",
    "format_metric_value",
    "format_results_csv",
    "result_record",
    "sort_rows",
]
