"""Exact statement lines stored as int64 coefficient and exponent: every digit and exponent comes back."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spm_desktop.domain.engine import LINE_COLUMNS, CalculationInputs, calculate, exact_decimals
from spm_desktop.domain.engine.exact import join_exact, product_parts, split_distinct, split_exact, whole_counts
from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.plans import load_plan
from spm_desktop.services.calc.rows import engine_lines_to_columns


def decimals(*texts: str) -> np.ndarray:
    values = np.empty(len(texts), dtype=object)
    values[:] = [Decimal(text) for text in texts]
    return values


def round_trip(values: np.ndarray) -> list[str]:
    return [repr(value) for value in join_exact(*split_exact(values))]


def test_split_keeps_trailing_zeros():
    values = decimals("1.50", "1.5", "0.0012", "-12.3400", "0E-7", "0")
    assert round_trip(values) == [repr(value) for value in values]


def test_split_plain_values_need_no_decimals():
    _coefficients, _exponents, others = split_exact(decimals("1.50", "-7", "0.000"))
    assert others is None


def test_split_coefficient_and_exponent():
    coefficients, exponents, _others = split_exact(decimals("-12.3400", "1E+3"))
    assert coefficients.tolist() == [-123400, 1]
    assert exponents.tolist() == [-4, 3]


@pytest.mark.parametrize("text", ["-0.00", "-0", "NaN", "-Infinity", "9999999999999999999",
                                  "123456789012345678901234.5", "1E-40000"])
def test_split_keeps_unfit_value_as_decimal(text):
    values = decimals("2.5", text)
    _coefficients, _exponents, others = split_exact(values)
    assert others is not None
    assert others[1] is values[1]
    assert others[0] is None
    assert round_trip(values) == [repr(value) for value in values]


def test_split_scientific_notation_that_fits():
    values = decimals("1.2E+5", "5E-9", "-3.40E-12")
    _coefficients, _exponents, others = split_exact(values)
    assert others is None
    assert round_trip(values) == [repr(value) for value in values]


def test_split_largest_int64_coefficients():
    values = decimals(str(2**62), str(-(2**62)), "999999999999999999", "-0.999999999999999999")
    assert round_trip(values) == [repr(value) for value in values]


@given(st.lists(st.decimals(allow_nan=True, allow_infinity=True), max_size=20))
def test_split_round_trip_any_decimal(values):
    array = np.empty(len(values), dtype=object)
    array[:] = values
    assert round_trip(array) == [repr(value) for value in values]


def test_split_empty_array():
    coefficients, exponents, others = split_exact(np.empty(0, dtype=object))
    assert len(coefficients) == 0
    assert len(exponents) == 0
    assert others is None


PLAN = """
plan: Reps
version: 1
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {role: Rep}
components:
  - name: Commission
    type: commission
    metric: sales
    cap: 50
    tiers:
      method: marginal
      by: amount
      bands: [{from: 0, rate: 0.0125}, {from: 3000, rate: 0.05}]
"""


def calculate_quarter(plan: str = PLAN) -> object:
    people = pd.DataFrame({"participant_id": ["A"], "name": ["Ann"], "role": ["Rep"]})
    deals = pd.DataFrame({
        "deal_id": ["D-1", "D-2", "D-3"], "owner": ["A", "A", "A"],
        "amount": pd.array([1000_0000, 2500_5000, 1_0000], dtype="Int64"),
        "close_date": pd.to_datetime(["2024-01-05", "2024-02-05", "2024-03-05"]), "currency": "USD",
    })
    sales = compile_metric(MetricDefinition(key="sales", name="Sales", value="sum(amount)"))
    return calculate(CalculationInputs(period="2024-Q1", plans=[load_plan(plan)], participants=people,
                                       deals=deals, metrics={"sales": sales}))


def test_lines_frame_has_compact_columns():
    lines = calculate_quarter().lines
    assert list(lines.columns) == list(LINE_COLUMNS)
    assert lines["exact_coefficient"].dtype == np.int64
    assert lines["exact_exponent"].dtype == np.int16


def test_lines_frame_exact_values():
    lines = calculate_quarter().lines
    # D-2 crosses from the 1.25% band into the 5% band at 3,000, and the cap line takes off what passes 50.
    assert [repr(value) for value in exact_decimals(lines)] == [
        "Decimal('12.50000000')", "Decimal('50.02500000')", "Decimal('0.050000')", "Decimal('-12.57500000')"]


def test_iter_lines_rebuilds_exact():
    result = calculate_quarter()
    assert [line.exact for line in result.iter_lines()] == list(exact_decimals(result.lines))


def test_stored_exact_earnings_text():
    columns = engine_lines_to_columns(calculate_quarter().lines)
    assert columns["exact_earnings"] == ["12.50000000", "50.02500000", "0.050000", "-12.57500000"]



def test_long_rate_lines_keep_decimal():
    # 1,000.0000 times a rate of 18 decimals has a 24-digit coefficient, more than an int64 can represent.
    result = calculate_quarter(PLAN.replace("rate: 0.0125", "rate: 0.012345678901234567"))
    others = result.lines["exact_decimal"].tolist()
    assert others[0] == Decimal("12.3456789012345670000000")
    assert others[2] is None
    assert exact_decimals(result.lines)[0] == others[0]


def test_long_rate_stored_text():
    result = calculate_quarter(PLAN.replace("rate: 0.0125", "rate: 0.012345678901234567"))
    columns = engine_lines_to_columns(result.lines)
    assert columns["exact_earnings"][0] == "12.3456789012345670000000"
    assert columns["exact_earnings"][2] == "0.050000"


def test_product_parts_match_decimal_products():
    left = decimals("1.50", "-2.5", "0", "-4.00", "123456789.0123")
    right = decimals("0.03", "0", "-0.5", "0.10", "2")
    parts = [split_exact(side)[:2] for side in (left, right)]
    coefficients, exponents, fits = product_parts(*parts[0], *parts[1])
    products = [a * b for a, b in zip(left.tolist(), right.tolist(), strict=True)]
    # -2.5 times 0 and 0 times -0.5 are Decimal's negative zero, which the parts cannot hold.
    assert fits.tolist() == [True, False, False, True, True]
    rebuilt = join_exact(coefficients, exponents, None)
    assert [repr(value) for value, held in zip(rebuilt, fits, strict=True) if held] == [
        repr(value) for value, held in zip(products, fits, strict=True) if held]
    assert [str(products[1]), str(products[2])] == ["-0.0", "-0.0"]


def test_product_parts_refuse_int64_overflow():
    big = np.array([3 * 10**18, np.iinfo(np.int64).min], dtype=np.int64)
    coefficients, _exponents, fits = product_parts(big, np.zeros(2, dtype=np.int16), np.array([4, 1]),
                                                   np.zeros(2, dtype=np.int64))
    assert fits.tolist() == [False, False]
    assert coefficients.tolist() == [0, 0]


def test_whole_counts_scale_exactly_or_refuse():
    coefficients = np.array([15, -25, 7], dtype=np.int64)
    exponents = np.array([-1, -7, 2], dtype=np.int16)
    assert whole_counts(coefficients[:1], exponents[:1], 6).tolist() == [1_500_000]
    assert whole_counts(coefficients[2:], exponents[2:], 0).tolist() == [700]
    # -25 * 10**-7 is not a whole count of millionths.
    assert whole_counts(coefficients, exponents, 6) is None
    assert whole_counts(np.array([10**17]), np.array([3], dtype=np.int16), 0) is None


def test_split_distinct_reads_repeated_objects_once():
    half, third = Decimal("0.50"), Decimal("0.333")
    values = np.empty(200, dtype=object)
    values[:] = [half, third] * 100
    coefficients, exponents, others = split_distinct(values)
    assert others is None
    assert [repr(value) for value in join_exact(coefficients, exponents, None)] == [repr(v) for v in values]


def test_refund_at_zero_rate_keeps_negative_zero_line():
    plan = PLAN.replace("    cap: 50\n", "").replace("method: marginal", "method: retroactive").replace(
        "rate: 0.0125", "rate: 0")
    people = pd.DataFrame({"participant_id": ["A"], "name": ["Ann"], "role": ["Rep"]})
    deals = pd.DataFrame({
        "deal_id": ["D-1", "D-2"], "owner": ["A", "A"], "amount": pd.array([1000_0000, -200_0000], dtype="Int64"),
        "close_date": pd.to_datetime(["2024-01-05", "2024-02-05"]), "currency": "USD", "type": ["sale", "sale"],
    })
    sales = compile_metric(MetricDefinition(key="sales", name="Sales", value="sum(amount)"))
    result = calculate(CalculationInputs(period="2024-Q1", plans=[load_plan(plan)], participants=people,
                                         deals=deals, metrics={"sales": sales}))
    # Both credits stay in the 0% band: 1000.0000 * 0 and -200.0000 * 0 (negative zero).
    assert [repr(value) for value in exact_decimals(result.lines)] == ["Decimal('0.0000')", "Decimal('-0.0000')"]


def test_plain_lines_agree_with_decimal_products():
    lines = calculate_quarter(PLAN.replace("    cap: 50\n", "")).lines
    # The first and third lines stay in one band: credit times that band's rate, digit for digit.
    values = exact_decimals(lines)
    assert repr(values[0]) == repr(Decimal("1000.0000") * Decimal("0.0125"))
    assert repr(values[2]) == repr(Decimal("1.0000") * Decimal("0.05"))


def test_two_metrics_on_one_amount_share_value_objects():
    plan = PLAN.replace("    cap: 50\n", "") + """  - name: Second
    type: commission
    metric: copy
    tiers: {method: flat, by: amount, bands: [{from: 0, rate: 0.01}]}
"""
    people = pd.DataFrame({"participant_id": ["A"], "name": ["Ann"], "role": ["Rep"]})
    deals = pd.DataFrame({
        "deal_id": ["D-1", "D-2"], "owner": ["A", "A"], "amount": pd.array([1000_0000, 25_5000], dtype="Int64"),
        "close_date": pd.to_datetime(["2024-01-05", "2024-02-05"]), "currency": "USD",
    })
    metrics = {key: compile_metric(MetricDefinition(key=key, name=key, value="sum(amount)")) for key in ("sales", "copy")}
    lines = calculate(CalculationInputs(period="2024-Q1", plans=[load_plan(plan)], participants=people, deals=deals,
                                        metrics=metrics)).lines
    first = lines[lines["component"] == "Commission"]["amount"].tolist()
    second = lines[lines["component"] == "Second"]["amount"].tolist()
    assert [repr(value) for value in first] == ["Decimal('1000.0000')", "Decimal('25.5000')"]
    assert all(one is other for one, other in zip(first, second, strict=True))
