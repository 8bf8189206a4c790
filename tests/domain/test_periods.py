import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.periods import (
    PeriodError,
    active_days,
    active_months,
    fiscal_year_of,
    next_period,
    parse_period,
    period_containing,
    periods_in,
    periods_of_year_before,
    plan_year_of,
)

D = dt.date


def test_calendar_quarter_label():
    period = parse_period("2017-Q3")
    assert period.kind == "quarter"
    assert (period.start, period.end) == (D(2017, 7, 1), D(2017, 9, 30))
    assert period.fiscal_year == 2017
    assert period.label == "2017-Q3"


def test_month_label():
    period = parse_period("2024-02")
    assert (period.start, period.end) == (D(2024, 2, 1), D(2024, 2, 29))
    assert period.days == 29


def test_year_label():
    period = parse_period("2017")
    assert (period.start, period.end, period.kind) == (D(2017, 1, 1), D(2017, 12, 31), "year")


def test_fiscal_year_named_after_end_year():
    period = parse_period("FY2018", fiscal_start_month=7)
    assert (period.start, period.end) == (D(2017, 7, 1), D(2018, 6, 30))


def test_fiscal_quarter_label():
    period = parse_period("FY2018-Q1", fiscal_start_month=7)
    assert (period.start, period.end) == (D(2017, 7, 1), D(2017, 9, 30))
    assert period.label == "FY2018-Q1"


def test_fiscal_quarter_february_start():
    period = parse_period("FY2019-Q4", fiscal_start_month=2)
    assert (period.start, period.end) == (D(2018, 11, 1), D(2019, 1, 31))


def test_calendar_quarter_aligned_with_fiscal_gets_fiscal_label():
    period = parse_period("2017-Q3", fiscal_start_month=7)
    assert period.label == "FY2018-Q1"


def test_calendar_quarter_not_aligned_with_fiscal_rejected():
    with pytest.raises(PeriodError, match="FY"):
        parse_period("2017-Q3", fiscal_start_month=2)


def test_fiscal_label_with_january_start_is_calendar():
    period = parse_period("FY2018-Q1")
    assert period.label == "2018-Q1"


def test_week_label_is_first_day():
    period = parse_period("2024-01-15", "week")
    assert (period.start, period.end) == (D(2024, 1, 15), D(2024, 1, 21))


def test_week_label_not_first_day_rejected():
    with pytest.raises(PeriodError, match="2024-01-15"):
        parse_period("2024-01-17", "week")


def test_week_starts_on_anchor_weekday():
    period = period_containing(D(2024, 1, 17), "week", period_start=D(2024, 1, 3))
    assert period.start == D(2024, 1, 17)


def test_two_weeks_cycles_from_anchor():
    period = period_containing(D(2024, 2, 29), "two_weeks", period_start=D(2024, 1, 5))
    assert (period.start, period.end) == (D(2024, 2, 16), D(2024, 2, 29))


def test_two_weeks_before_anchor():
    period = period_containing(D(2023, 12, 25), "two_weeks", period_start=D(2024, 1, 5))
    assert period.start == D(2023, 12, 22)


def test_two_weeks_needs_anchor():
    with pytest.raises(PeriodError, match="period_start"):
        period_containing(D(2024, 3, 1), "two_weeks")


@pytest.mark.parametrize("label", ["2017-13", "2017-Q5", "Q3-2017", "2017-02-30", "", "FY17"])
def test_invalid_labels_rejected(label):
    with pytest.raises(PeriodError):
        parse_period(label)


def test_unknown_kind_rejected():
    with pytest.raises(PeriodError, match="fortnight"):
        period_containing(D(2024, 1, 1), "fortnight")  # type: ignore[arg-type]


def test_fiscal_start_out_of_range_rejected():
    with pytest.raises(PeriodError, match="13"):
        parse_period("2017", fiscal_start_month=13)


def test_year_yields_quarters_in_order():
    labels = [period.label for period in periods_in("2017", "quarter")]
    assert labels == ["2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]


def test_quarter_yields_months():
    labels = [period.label for period in periods_in("2017-Q3", "month")]
    assert labels == ["2017-07", "2017-08", "2017-09"]


def test_same_kind_yields_one_period():
    assert [period.label for period in periods_in("2017-Q3", "quarter")] == ["2017-Q3"]


def test_finer_label_than_plan_rejected():
    with pytest.raises(PeriodError, match="2017-Q3"):
        periods_in("2017-07", "quarter")


def test_fiscal_year_yields_fiscal_quarters():
    labels = [period.label for period in periods_in("FY2018", "quarter", fiscal_start_month=7)]
    assert labels == ["FY2018-Q1", "FY2018-Q2", "FY2018-Q3", "FY2018-Q4"]


def test_calendar_year_over_fiscal_quarters_rejected():
    with pytest.raises(PeriodError, match="whole quarters"):
        periods_in("2017", "quarter", fiscal_start_month=2)


def test_calendar_year_over_fiscal_months():
    periods = periods_in("2017", "month", fiscal_start_month=7)
    assert len(periods) == 12
    assert periods[6].fiscal_year == 2018


def test_month_yields_weeks_starting_in_it():
    periods = periods_in("2024-01", "week")
    assert [period.label for period in periods] == ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22",
                                                   "2024-01-29"]


def test_year_yields_two_week_cycles():
    periods = periods_in("2024", "two_weeks", period_start=D(2024, 1, 5))
    assert len(periods) == 26
    assert periods[0].label == "2024-01-05"


def test_week_label_yields_itself():
    assert [period.label for period in periods_in("2024-01-15", "week")] == ["2024-01-15"]


def test_period_containing_fiscal_quarter():
    period = period_containing(D(2018, 1, 15), "quarter", fiscal_start_month=7)
    assert period.label == "FY2018-Q3"


def test_plan_year_of_month():
    year = plan_year_of(parse_period("2017-08", fiscal_start_month=7))
    assert year.label == "FY2018"


def test_plan_year_of_week_uses_first_day():
    week = parse_period("2024-12-30", "week")
    assert plan_year_of(week).label == "2024"


def test_fiscal_year_of_dates():
    assert fiscal_year_of(D(2017, 6, 30), 7) == 2017
    assert fiscal_year_of(D(2017, 7, 1), 7) == 2018


def test_next_period_crosses_year():
    assert next_period(parse_period("2017-Q4")).label == "2018-Q1"


def test_periods_before_in_plan_year():
    labels = [period.label for period in periods_of_year_before(parse_period("2017-Q3"))]
    assert labels == ["2017-Q1", "2017-Q2"]


def test_active_days_mid_period_start():
    assert active_days(parse_period("2019-Q1"), D(2019, 3, 1), None) == 31


def test_active_months_counts_whole_months():
    quarter = parse_period("2019-Q1")
    assert active_months(quarter, D(2019, 3, 1), None) == 1
    assert active_months(quarter, D(2019, 2, 2), None) == 1
    assert active_months(quarter, None, D(2019, 2, 27)) == 1


def test_periods_sort_by_start():
    periods = sorted([parse_period("2017-Q3"), parse_period("2017-Q1")])
    assert periods[0].label == "2017-Q1"


@settings(max_examples=200, deadline=None)
@given(day=st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)),
       kind=st.sampled_from(["week", "two_weeks", "month", "quarter", "year"]),
       fiscal_start=st.integers(1, 12))
def test_period_containing_round_trips(day, kind, fiscal_start):
    anchor = D(2024, 1, 5)
    period = period_containing(day, kind, fiscal_start, anchor)
    assert period.start <= day <= period.end
    assert parse_period(period.label, kind, fiscal_start, anchor) == period


@settings(max_examples=100, deadline=None)
@given(year=st.integers(2000, 2040), kind=st.sampled_from(["week", "two_weeks", "month", "quarter"]),
       fiscal_start=st.integers(1, 12))
def test_year_periods_are_contiguous(year, kind, fiscal_start):
    label = str(year) if fiscal_start == 1 else f"FY{year}"
    periods = periods_in(label, kind, fiscal_start, D(2024, 1, 5))
    for earlier, later in itertools.pairwise(periods):
        assert later.start == earlier.end + dt.timedelta(days=1)
    if kind in ("month", "quarter"):
        assert periods[0].start == parse_period(label, fiscal_start_month=fiscal_start).start
        assert periods[-1].end == parse_period(label, fiscal_start_month=fiscal_start).end
