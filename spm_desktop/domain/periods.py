"""Plan periods: weeks, two-week cycles, months, quarters and years, with fiscal years.

Labels are the ones the command line and quota files use:

* month ``2017-07`` (always a calendar month);
* quarter ``2017-Q3`` and year ``2017`` when the fiscal year starts in January;
* quarter ``FY2018-Q1`` and year ``FY2018`` when it starts in another month. A fiscal
  year is named after the calendar year in which it ends, so with a July start
  ``FY2018`` runs from 2017-07-01 to 2018-06-30;
* week and two-week cycle: the ISO date of the first day, ``2024-01-15``.

Weeks start on the weekday of the plan's ``period_start``, or on Monday without one.
Two-week cycles need ``period_start`` and repeat every 14 days from it, before and after.
A week or cycle belongs to the fiscal year that contains its first day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

PeriodKind = Literal["week", "two_weeks", "month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "two_weeks", "month", "quarter", "year")

# Rank of each kind by length, used to tell whether a label is coarser than a plan's period.
_KIND_RANK = {"week": 0, "two_weeks": 1, "month": 2, "quarter": 3, "year": 4}
_DEFAULT_WEEK_ANCHOR = dt.date(2024, 1, 1)  # a Monday

_YEAR = re.compile(r"^(FY)?(\d{4})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(FY)?(\d{4})-Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class PeriodError(ValueError):
    """A period label or kind that cannot be read, with the value and what to write instead."""


@dataclass(frozen=True, order=True)
class Period:
    """One plan period; ``end`` is inclusive."""

    start: dt.date
    end: dt.date
    kind: PeriodKind
    label: str
    fiscal_year: int
    fiscal_start_month: int = 1

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return self.label


def _check_kind(kind: str) -> None:
    if kind not in _KIND_RANK:
        raise PeriodError(f"unknown period kind {kind!r}; expected one of: {', '.join(PERIOD_KINDS)}")


def _check_fiscal_start(fiscal_start_month: int) -> None:
    if not 1 <= fiscal_start_month <= 12:
        raise PeriodError(f"fiscal start month {fiscal_start_month} is invalid; expected 1 to 12")


def _add_months(day: dt.date, months: int) -> dt.date:
    """Return the first day of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _add_months(first, 1) - dt.timedelta(days=1)


def fiscal_year_start(fiscal_year: int, fiscal_start_month: int = 1) -> dt.date:
    """Return the first day of a fiscal year, named after the calendar year it ends in."""
    _check_fiscal_start(fiscal_start_month)
    if fiscal_start_month == 1:
        return dt.date(fiscal_year, 1, 1)
    return dt.date(fiscal_year - 1, fiscal_start_month, 1)


def fiscal_year_of(day: dt.date, fiscal_start_month: int = 1) -> int:
    """Return the fiscal year that contains ``day``."""
    _check_fiscal_start(fiscal_start_month)
    if fiscal_start_month == 1 or day.month < fiscal_start_month:
        return day.year
    return day.year + 1


def _year_label(fiscal_year: int, fiscal_start_month: int) -> str:
    return str(fiscal_year) if fiscal_start_month == 1 else f"FY{fiscal_year}"


def _make_year(fiscal_year: int, fiscal_start_month: int) -> Period:
    start = fiscal_year_start(fiscal_year, fiscal_start_month)
    end = _add_months(start, 12) - dt.timedelta(days=1)
    label = _year_label(fiscal_year, fiscal_start_month)
    return Period(start, end, "year", label, fiscal_year, fiscal_start_month)


def _make_quarter(fiscal_year: int, quarter: int, fiscal_start_month: int) -> Period:
    start = _add_months(fiscal_year_start(fiscal_year, fiscal_start_month), 3 * (quarter - 1))
    end = _add_months(start, 3) - dt.timedelta(days=1)
    label = f"{_year_label(fiscal_year, fiscal_start_month)}-Q{quarter}"
    return Period(start, end, "quarter", label, fiscal_year, fiscal_start_month)


def _make_month(first: dt.date, fiscal_start_month: int) -> Period:
    label = f"{first.year:04d}-{first.month:02d}"
    fiscal_year = fiscal_year_of(first, fiscal_start_month)
    return Period(first, _month_end(first), "month", label, fiscal_year, fiscal_start_month)


def _make_cycle(start: dt.date, kind: PeriodKind, fiscal_start_month: int) -> Period:
    length = 7 if kind == "week" else 14
    end = start + dt.timedelta(days=length - 1)
    fiscal_year = fiscal_year_of(start, fiscal_start_month)
    return Period(start, end, kind, start.isoformat(), fiscal_year, fiscal_start_month)


def _cycle_anchor(kind: PeriodKind, period_start: dt.date | None) -> dt.date:
    if period_start is not None:
        return period_start
    if kind == "two_weeks":
        raise PeriodError("a plan paid every two weeks needs period_start: the first day of one cycle")
    return _DEFAULT_WEEK_ANCHOR


def period_containing(
    day: dt.date,
    kind: PeriodKind,
    fiscal_start_month: int = 1,
    period_start: dt.date | None = None,
) -> Period:
    """Return the period of ``kind`` that contains ``day``."""
    _check_kind(kind)
    _check_fiscal_start(fiscal_start_month)
    if kind == "year":
        return _make_year(fiscal_year_of(day, fiscal_start_month), fiscal_start_month)
    if kind == "quarter":
        fiscal_year = fiscal_year_of(day, fiscal_start_month)
        year_start = fiscal_year_start(fiscal_year, fiscal_start_month)
        months_since = (day.year * 12 + day.month) - (year_start.year * 12 + year_start.month)
        return _make_quarter(fiscal_year, months_since // 3 + 1, fiscal_start_month)
    if kind == "month":
        return _make_month(day.replace(day=1), fiscal_start_month)
    anchor = _cycle_anchor(kind, period_start)
    length = 7 if kind == "week" else 14
    offset = (day - anchor).days % length
    return _make_cycle(day - dt.timedelta(days=offset), kind, fiscal_start_month)


def _parse_day(text: str) -> dt.date | None:
    match = _DAY.match(text)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise PeriodError(f"period label {text!r} is not a real date") from None


def _calendar_quarter(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * quarter - 2, 1)
    return start, _add_months(start, 3) - dt.timedelta(days=1)


def _label_span(text: str, fiscal_start_month: int) -> tuple[str, dt.date, dt.date]:
    """Read a label into (kind, first day, last day) without aligning it to a plan."""
    match = _YEAR.match(text)
    if match:
        year = int(match[2])
        if match[1]:
            period = _make_year(year, fiscal_start_month)
            return "year", period.start, period.end
        return "year", dt.date(year, 1, 1), dt.date(year, 12, 31)
    match = _QUARTER.match(text)
    if match:
        year, quarter = int(match[2]), int(match[3])
        if match[1]:
            period = _make_quarter(year, quarter, fiscal_start_month)
            return "quarter", period.start, period.end
        return "quarter", *_calendar_quarter(year, quarter)
    match = _MONTH.match(text)
    if match:
        month = int(match[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"period label {text!r} has month {month}; expected 01 to 12")
        first = dt.date(int(match[1]), month, 1)
        return "month", first, _month_end(first)
    day = _parse_day(text)
    if day is not None:
        return "day", day, day
    raise PeriodError(
        f"period label {text!r} is invalid; write a quarter 2017-Q3, a month 2017-07, a year 2017, "
        "a fiscal quarter FY2018-Q1 or a week's first day 2024-01-15"
    )


def parse_period(
    label: str,
    kind: PeriodKind | None = None,
    fiscal_start_month: int = 1,
    period_start: dt.date | None = None,
) -> Period:
    """Read one period label.

    ``kind`` is needed only to tell a week from a two-week cycle, both labelled by their
    first day (a day label without ``kind`` is a week). A calendar quarter or year label
    is accepted under another fiscal start when it is exactly one fiscal period, and the
    result then carries the fiscal label.
    """
    _check_fiscal_start(fiscal_start_month)
    text = label.strip()
    label_kind, start, end = _label_span(text, fiscal_start_month)
    if label_kind == "day":
        cycle_kind: PeriodKind = kind if kind in ("week", "two_weeks") else "week"
        period = period_containing(start, cycle_kind, fiscal_start_month, period_start)
        if period.start != start:
            raise PeriodError(
                f"period label {text!r} is not the first day of a {cycle_kind.replace('_', '-')} cycle; "
                f"the cycle containing it starts on {period.label}"
            )
        return period
    period = period_containing(start, label_kind, fiscal_start_month)  # type: ignore[arg-type]
    if (period.start, period.end) != (start, end):
        raise PeriodError(
            f"period label {text!r} does not match the fiscal {label_kind} that starts in month "
            f"{fiscal_start_month}; write it as {period.label} or another fiscal label"
        )
    return period


def next_period(period: Period, period_start: dt.date | None = None) -> Period:
    """Return the period of the same kind that follows ``period``."""
    anchor = period_start if period_start is not None else period.start
    return period_containing(period.end + dt.timedelta(days=1), period.kind, period.fiscal_start_month, anchor)


def periods_in(
    label: str,
    kind: PeriodKind,
    fiscal_start_month: int = 1,
    period_start: dt.date | None = None,
) -> list[Period]:
    """Return the periods of ``kind`` that a label covers, in order.

    A label of the plan's own kind returns that one period. A coarser label returns the
    periods inside it and must cover whole periods: with a quarterly plan, ``2017`` works
    but ``2017-07`` does not. Weeks and two-week cycles belong to the label that contains
    their first day.
    """
    _check_kind(kind)
    _check_fiscal_start(fiscal_start_month)
    text = label.strip()
    label_kind, start, end = _label_span(text, fiscal_start_month)

    if kind in ("week", "two_weeks"):
        if label_kind == "day":
            return [parse_period(text, kind, fiscal_start_month, period_start)]
        first = period_containing(start, kind, fiscal_start_month, period_start)
        if first.start < start:
            first = next_period(first, period_start)
        periods = []
        while first.start <= end:
            periods.append(first)
            first = next_period(first, period_start)
        return periods

    if label_kind == "day" or _KIND_RANK[label_kind] < _KIND_RANK[kind]:
        raise PeriodError(
            f"period label {text!r} is shorter than the plan's {kind}; "
            f"use the {kind} label, for example {period_containing(start, kind, fiscal_start_month).label}"
        )
    periods = []
    current = period_containing(start, kind, fiscal_start_month)
    while current.start <= end:
        periods.append(current)
        current = next_period(current)
    if periods[0].start != start or periods[-1].end != end:
        raise PeriodError(
            f"period label {text!r} does not cover whole {kind}s of a fiscal year starting in month "
            f"{fiscal_start_month}; use fiscal labels such as {periods[0].label}"
        )
    return periods


def plan_year_of(period: Period) -> Period:
    """Return the fiscal year (the plan year for year-to-date figures) that ``period`` belongs to."""
    return _make_year(period.fiscal_year, period.fiscal_start_month)


def periods_of_year_before(period: Period, period_start: dt.date | None = None) -> list[Period]:
    """Return the periods of the same kind and plan year that come before ``period``, in order."""
    year = plan_year_of(period)
    return [earlier for earlier in periods_in(year.label, period.kind, period.fiscal_start_month, period_start)
            if earlier.start < period.start]


def active_days(period: Period, hire_date: dt.date | None, termination_date: dt.date | None) -> int:
    """Return the number of days of ``period`` between hire and termination, both inclusive."""
    first = max(period.start, hire_date) if hire_date else period.start
    last = min(period.end, termination_date) if termination_date else period.end
    return max(0, (last - first).days + 1)


def active_months(period: Period, hire_date: dt.date | None, termination_date: dt.date | None) -> int:
    """Return the number of whole calendar months of ``period`` in which the participant was active all month."""
    count = 0
    month = period.start.replace(day=1)
    while month <= period.end:
        month_end = _month_end(month)
        hired_in_time = hire_date is None or hire_date <= max(month, period.start)
        stayed = termination_date is None or termination_date >= min(month_end, period.end)
        if hired_in_time and stayed:
            count += 1
        month = _add_months(month, 1)
    return count


def months_in(period: Period) -> int:
    """Return how many calendar months ``period`` spans (0 for a week or two-week cycle)."""
    if period.kind in ("week", "two_weeks"):
        return 0
    return (period.end.year * 12 + period.end.month) - (period.start.year * 12 + period.start.month) + 1
