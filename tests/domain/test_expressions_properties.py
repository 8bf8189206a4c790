"""Property tests: whole-frame evaluation agrees with row-by-row, and random text only raises ExpressionError."""

import contextlib
import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spm_desktop.domain.expressions import MAX_LENGTH, ExpressionError, compile_expression, evaluate_scalar

# Hypothesis warns that the nested expression strategies have a very long description, which is
# unrelated to the code under test.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

KINDS = {"amount": "money", "qty": "integer", "rate": "decimal", "stage": "text", "close_date": "date",
         "won": "bool"}

NUMBERS = st.sampled_from(["0", "1", "2", "3", "0.5", "1000", "0.001", "12345.6789", "9999999999"])
TEXTS = st.sampled_from(['"Won"', '"Lost"', '""', '"won"', '"W"'])
LEAVES = st.one_of(
    st.sampled_from(list(KINDS)),
    NUMBERS,
    TEXTS,
    st.sampled_from(['date("2017-01-01")', 'date("2016-12-31")', "true", "false", "null"]),
)

BINARY = ["+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or"]


def _combine(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(not ({c}))"),
        children.map(lambda c: f"-({c})"),
        st.tuples(children, st.lists(LEAVES, min_size=1, max_size=3), st.booleans()).map(
            lambda t: f"({t[0]} {'not in' if t[2] else 'in'} ({', '.join(t[1])}))"),
        st.tuples(children, children, children).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(st.sampled_from(["abs", "lower"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.integers(0, 4)).map(lambda t: f"round({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["contains", "starts_with", "days_between"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    )


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)


# Well-typed expressions, so most examples evaluate instead of failing the type check.
def _typed():
    numbers = st.deferred(lambda: st.one_of(
        st.sampled_from(["amount", "qty", "rate"]), NUMBERS, NUMBERS, st.just("null"),
        st.tuples(numbers, st.sampled_from(["+", "-", "*", "/"]), numbers).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        numbers.map(lambda c: f"-({c})"),
        numbers.map(lambda c: f"abs({c})"),
        st.tuples(numbers, st.integers(0, 4)).map(lambda t: f"round({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["min", "max", "coalesce"]), st.lists(numbers, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(conditions, numbers, numbers).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(dates, dates).map(lambda t: f"days_between({t[0]}, {t[1]})"),
    ))
    texts = st.deferred(lambda: st.one_of(
        st.just("stage"), TEXTS, texts.map(lambda c: f"lower({c})"),
        st.tuples(conditions, texts, texts).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        st.lists(texts, min_size=1, max_size=3).map(lambda items: f"coalesce({', '.join(items)})"),
    ))
    dates = st.deferred(lambda: st.one_of(
        st.just("close_date"), st.sampled_from(['date("2017-01-01")', 'date("2016-12-31")']),
        st.lists(dates, min_size=1, max_size=2).map(lambda items: f"max({', '.join(items)})"),
    ))
    conditions = st.deferred(lambda: st.one_of(
        st.sampled_from(["won", "true", "false"]),
        st.tuples(numbers, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(texts, st.sampled_from(["==", "!=", "<", ">="]), texts).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(dates, st.sampled_from(["==", "<", ">="]), dates).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(conditions, st.sampled_from(["and", "or"]), conditions).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        conditions.map(lambda c: f"(not {c})"),
        st.tuples(texts, st.lists(TEXTS, min_size=1, max_size=3), st.booleans()).map(
            lambda t: f"({t[0]} {'not in' if t[2] else 'in'} ({', '.join(t[1])}))"),
        st.tuples(numbers, st.lists(NUMBERS, min_size=1, max_size=3)).map(lambda t: f"({t[0]} in ({', '.join(t[1])}))"),
        st.tuples(st.sampled_from(["contains", "starts_with"]), texts, texts).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    ))
    return st.one_of(numbers, texts, dates, conditions)


TYPED_EXPRESSIONS = _typed()

MONEY = st.one_of(st.none(), st.integers(-10**9, 10**9), st.sampled_from([0, 10_000, 5_000, -10_000]))
ROW = st.fixed_dictionaries({
    "amount": MONEY,
    "qty": st.one_of(st.none(), st.integers(-5, 5)),
    "rate": st.one_of(st.none(), st.sampled_from([Decimal("0"), Decimal("0.05"), Decimal("1.5"), Decimal("-2")])),
    "stage": st.one_of(st.none(), st.sampled_from(["Won", "Lost", "won", ""])),
    "close_date": st.one_of(st.none(), st.dates(dt.date(2016, 12, 1), dt.date(2017, 2, 1))),
    "won": st.one_of(st.none(), st.booleans()),
})


def make_frame(rows):
    return pd.DataFrame({
        "deal_id": [f"D{index}" for index in range(len(rows))],
        "amount": pd.array([row["amount"] for row in rows], dtype="Int64"),
        "qty": pd.array([row["qty"] for row in rows], dtype="Int64"),
        "rate": pd.Series([row["rate"] for row in rows], dtype=object),
        "stage": pd.Series([row["stage"] for row in rows], dtype=object),
        "close_date": pd.to_datetime(pd.Series([row["close_date"] for row in rows], dtype=object)),
        "won": pd.array([row["won"] for row in rows], dtype="boolean"),
    })


def normalise(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def row_results(compiled, rows):
    results = []
    for index, row in enumerate(rows):
        record = {"deal_id": f"D{index}", **row}
        results.append(compiled.evaluate_row(record, field_kinds=KINDS))
    return results


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(EXPRESSIONS, TYPED_EXPRESSIONS, TYPED_EXPRESSIONS), rows=st.lists(ROW, min_size=1, max_size=8))
def test_frame_evaluation_equals_row_by_row(text, rows):
    assume(len(text) <= MAX_LENGTH)
    compiled = compile_expression(text)
    frame = make_frame(rows)
    try:
        by_frame = [normalise(value) for value in compiled.evaluate_frame(frame, KINDS).tolist()]
        frame_error = None
    except ExpressionError as error:
        frame_error = error
    try:
        by_row = [normalise(value) for value in row_results(compiled, rows)]
        row_error = None
    except ExpressionError as error:
        row_error = error
    assert (frame_error is None) == (row_error is None), (frame_error, row_error)
    if frame_error is None:
        assert by_frame == by_row


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=20))
def test_mask_equals_row_by_row_on_typical_filter(rows):
    compiled = compile_expression(
        'stage in ("Won", "won") and coalesce(amount, 0) >= 0.5 and close_date <= date("2017-01-15")')
    mask = compiled.evaluate_mask(make_frame(rows), KINDS).tolist()
    assert mask == [value is True for value in row_results(compiled, rows)]


EXPRESSION_CHARACTERS = st.sampled_from([*list("abcdeinorstu_ 0123456789.,()\"'`+-*/<>=!&|[]{}:;\\\n\t"), " and ", " or ", " not ", " in ", "if(", "min(", "round(", "date(", "metric(", "null", "true", "lower("])


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.lists(EXPRESSION_CHARACTERS, max_size=40).map("".join)))
def test_random_text_only_raises_expression_error(text):
    variables = {"a": Decimal(1), "b": "x", "in_": Decimal(0), "t": True, "d": dt.date(2017, 1, 1)}
    try:
        compiled = compile_expression(text)
        evaluate_scalar(compiled, variables, {"metric": lambda key: Decimal(2)})
    except ExpressionError:
        pass


@settings(max_examples=300, deadline=None)
@given(text=EXPRESSIONS)
def test_generated_expressions_only_raise_expression_error(text):
    variables = {"amount": Decimal("12.5"), "qty": Decimal(0), "rate": None, "stage": "Won",
                 "close_date": dt.date(2017, 1, 1), "won": True}
    with contextlib.suppress(ExpressionError):
        evaluate_scalar(text, variables)


def test_no_float_drift_over_a_million_cents():
    frame = pd.DataFrame({"amount": pd.array([100] * 1_000_000, dtype="Int64")})
    total = compile_expression("amount * 3").evaluate_vector(frame, {"amount": "money"})
    assert total.fixed
    assert Decimal(int(total.data.sum())).scaleb(-total.scale) == Decimal("30000.0000")
