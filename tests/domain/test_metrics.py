"""Metric definitions: validation, selection with reversals, values, aggregation, metrics.yaml."""

from decimal import Decimal

import pandas as pd
import pytest

from spm_desktop.domain.expressions import ExpressionError
from spm_desktop.domain.metrics import (
    MetricDefinition,
    compile_metric,
    dump_metrics_yaml,
    load_metrics_yaml,
    validate,
)


def deals(rows):
    """Build a deals frame from (deal_id, owner, amount, close_date, stage, product, type, reference) tuples."""
    columns = ["deal_id", "owner", "amount", "close_date", "stage", "product", "type", "reference_deal_id"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["amount"] = pd.array([None if row[2] is None else int(Decimal(row[2]) * 10_000) for row in rows],
                               dtype="Int64")
    frame["close_date"] = pd.to_datetime(frame["close_date"])
    return frame


WON = MetricDefinition(key="won", name="Won bookings", owner="Finance", tier="primary",
                       filter='stage == "Won"', value="sum(amount)", status="approved")

SAMPLE = deals([
    ("D1", "ann", "1000.00", "2017-07-03", "Won", "GTX Pro", "sale", None),
    ("D2", "ann", "200.50", "2017-08-10", "Won", "MG Special", "sale", None),
    ("D3", "bob", "5000.00", "2017-09-30", "Lost", "GTX Pro", "sale", None),
    ("D4", "bob", None, None, "Engaging", "GTX Pro", "sale", None),
    ("R1", "ann", "-200.00", "2017-09-01", None, None, "refund", "D1"),
    ("R3", "bob", "-100.00", "2017-09-02", None, None, "credit_note", "D3"),
    ("D1", "ann", "-1000.00", "2017-10-05", None, None, "cancellation", None),
])


def test_filter_selects_won_deals():
    selected = compile_metric(WON).select(SAMPLE)
    assert selected.tolist() == [True, True, False, False, True, False, True]


def test_reversal_follows_its_original_deal():
    metric = compile_metric(WON)
    selected = metric.select(SAMPLE)
    # R1 reverses won D1; R3 reverses lost D3; the cancellation reuses D1's id.
    assert selected.iloc[4]
    assert not selected.iloc[5]
    assert selected.iloc[6]


def test_reversal_row_is_not_filtered_itself():
    # The refund row has no stage; it still counts because D1 passes.
    metric = compile_metric(MetricDefinition(key="gtx", name="GTX", value="sum(amount)",
                                             filter='product == "GTX Pro"'))
    assert metric.select(SAMPLE).tolist() == [True, False, True, True, True, True, True]


def test_period_places_reversal_by_its_own_date():
    metric = compile_metric(WON)
    import datetime as dt

    in_q3 = metric.in_period(SAMPLE, dt.date(2017, 7, 1), dt.date(2017, 9, 30))
    assert in_q3.tolist() == [True, True, True, False, True, True, False]


def test_record_values_are_exact_decimals():
    values = compile_metric(WON).record_values(SAMPLE)
    assert values.tolist() == [Decimal("1000.0000"), Decimal("200.5000"), 0, 0, Decimal("-200.0000"), 0,
                               Decimal("-1000.0000")]


def test_count_treats_cancellation_as_minus_one():
    metric = compile_metric(WON.with_changes(value="count()", unit="count"))
    assert metric.record_values(SAMPLE).tolist() == [1, 1, 0, 0, 0, 0, -1]


def test_aggregate_by_owner():
    import datetime as dt

    metric = compile_metric(WON)
    period = metric.in_period(SAMPLE, dt.date(2017, 7, 1), dt.date(2017, 9, 30))
    totals = metric.aggregate(SAMPLE, selected=metric.select(SAMPLE) & period)
    assert totals.to_dict() == {"ann": Decimal("1000.5000")}


def test_count_distinct_and_avg():
    distinct = compile_metric(WON.with_changes(value="count_distinct(product)", unit="count"))
    average = compile_metric(WON.with_changes(value="avg(amount)"))
    sales = SAMPLE[SAMPLE["type"] == "sale"]
    assert distinct.aggregate(sales).to_dict() == {"ann": Decimal(2)}
    assert average.total(sales) == Decimal("600.25")


def test_value_expression_with_division_is_exact():
    metric = compile_metric(WON.with_changes(value="sum(amount / 3)"))
    sales = SAMPLE[SAMPLE["type"] == "sale"]
    # Each record's value keeps 34 significant digits; the sum is exact on those.
    assert metric.total(sales) == Decimal("400.1666666666666666666666666666666")


def test_empty_filter_counts_everything():
    metric = compile_metric(WON.with_changes(filter="", value="count()", unit="count"))
    assert int(metric.total(SAMPLE)) == 3


def test_filter_error_names_metric_and_record():
    metric = compile_metric(WON.with_changes(filter="1 / (amount - 1000) > 0"))
    with pytest.raises(ExpressionError) as caught:
        metric.select(SAMPLE)
    assert caught.value.source == "filter of metric 'won'"
    assert caught.value.record == "row 0 (deal_id 'D1')"


# Validation


def test_valid_definition_has_no_problems():
    assert validate(WON) == []


@pytest.mark.parametrize(("changes", "code"), [
    ({"key": "1bad"}, "metric.key"),
    ({"key": "won@2"}, "metric.key"),
    ({"name": " "}, "metric.name"),
    ({"tier": "main"}, "metric.tier"),
    ({"status": "live"}, "metric.status"),
    ({"unit": "usd"}, "metric.unit"),
    ({"version": 0}, "metric.version"),
    ({"source": "orders"}, "metric.source"),
    ({"filter": 'stage = "Won"'}, "metric.filter"),
    ({"filter": "amount + 1"}, "metric.filter"),
    ({"value": "total(amount)"}, "metric.value"),
    ({"value": 'sum(stage)'}, "metric.value"),
    ({"value": "count(amount)"}, "metric.value"),
    ({"date": "stage"}, "metric.date"),
    ({"date": "booked_on"}, "metric.date"),
])
def test_invalid_definition_reports_problem(changes, code):
    problems = validate(WON.with_changes(**changes))
    assert [problem.code for problem in problems if problem.severity == "error"] == [code]


def test_filter_problem_has_caret_message():
    problem = validate(WON.with_changes(filter='stage == "Won" and amount >> 5'))[0]
    assert problem.message.splitlines()[-1] == "  " + " " * len('stage == "Won" and amount >') + "^"


def test_value_problem_points_inside_value():
    problem = validate(WON.with_changes(value="sum(amount +)"))[0]
    assert problem.message.splitlines()[-1] == "  " + " " * len("sum(amount +") + "^"


def test_extra_attribute_is_a_warning_without_field_kinds():
    problems = validate(WON.with_changes(filter='sector == "retail"'))
    assert [(problem.code, problem.severity) for problem in problems] == [("metric.extra_field", "warning")]


def test_unknown_field_is_an_error_with_field_kinds():
    problems = validate(WON.with_changes(filter='sector == "retail"'), {"stage": "text", "amount": "money",
                                                                       "close_date": "date"})
    assert problems[0].severity == "error"
    assert "unknown name 'sector'" in problems[0].message


# metrics.yaml

DOCUMENT = """\
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
    version: 3
    status: approved
  - key: on
    name: "yes"
    value: count()
    unit: count
    threshold: 0.10
    review: {by: RevOps, every: quarter}
"""


def test_yaml_reads_values_as_text():
    definitions, problems = load_metrics_yaml(DOCUMENT)
    assert problems == []
    assert definitions[0].version == 3
    assert definitions[1].key == "on"
    assert definitions[1].name == "yes"
    assert definitions[1].extra["threshold"] == "0.10"


def test_yaml_round_trip_keeps_everything():
    definitions, _ = load_metrics_yaml(DOCUMENT)
    again, problems = load_metrics_yaml(dump_metrics_yaml(definitions))
    assert problems == []
    assert again == definitions


def test_yaml_round_trip_of_awkward_text():
    awkward = WON.with_changes(description="Line one\nline two: with 'quotes' and \"more\"\n", name="0.50",
                               filter="stage == 'Won' and product in (\"GTX Pro\", 'MG #1')")
    again, problems = load_metrics_yaml(dump_metrics_yaml([awkward]))
    assert problems == []
    assert again == [awkward]


def test_yaml_problems_name_the_entry():
    text = "metrics:\n  - key: a\n    name: A\n    value: sum(amount)\n    tier: main\n  - name: B\n"
    definitions, problems = load_metrics_yaml(text)
    assert definitions == []
    assert [(problem.code, problem.row) for problem in problems] == [("metric.tier", 1), ("metric.missing", 2)]


def test_yaml_duplicate_key_is_an_error():
    text = "metrics:\n  - {key: a, name: A, value: count(), unit: count}\n  - {key: a, name: B, value: count(), unit: count}\n"
    _, problems = load_metrics_yaml(text)
    assert [problem.code for problem in problems] == ["metric.duplicate"]


def test_yaml_that_is_not_yaml():
    _, problems = load_metrics_yaml("metrics: [unclosed")
    assert problems[0].code == "metric.yaml"


def test_sum_of_huge_amounts_does_not_overflow():
    huge = 5 * 10**18  # fits in int64 (in 1/10,000 units), but two of them do not
    frame = pd.DataFrame({"deal_id": ["A", "B"], "owner": ["ann", "ann"], "stage": ["Won", "Won"],
                          "amount": pd.array([huge, huge], dtype="Int64"),
                          "close_date": pd.to_datetime(["2017-07-01", "2017-07-02"])})
    metric = compile_metric(WON)
    assert metric.total(frame) == Decimal(2 * huge).scaleb(-4)
    assert metric.aggregate(frame).to_dict() == {"ann": Decimal(2 * huge).scaleb(-4)}


def test_missing_date_column_is_an_expression_error():
    import datetime as dt

    metric = compile_metric(WON.with_changes(date="booked_on"))
    with pytest.raises(ExpressionError, match="date field 'booked_on' is not a column"):
        metric.in_period(SAMPLE, dt.date(2017, 7, 1), dt.date(2017, 9, 30))


def test_text_dates_of_extra_attribute_are_read():
    import datetime as dt

    frame = SAMPLE.assign(booked_on=["2017-07-01", "2017-06-30", None, None, None, None, None])
    metric = compile_metric(WON.with_changes(date="booked_on"), {"stage": "text", "amount": "money"})
    assert metric.in_period(frame, dt.date(2017, 7, 1), dt.date(2017, 9, 30)).tolist()[:2] == [True, False]
