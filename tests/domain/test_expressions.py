"""Grammar, types, empty values and error messages of the expression language."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from spm_desktop.domain.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    clause_results,
    clauses,
    compile_expression,
    evaluate_scalar,
    failing_clauses,
)


def scalar(text, **variables):
    return evaluate_scalar(text, variables)


def error_of(text, **variables):
    with pytest.raises(ExpressionError) as caught:
        evaluate_scalar(text, variables)
    return caught.value


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", Decimal(7)),
    ("(1 + 2) * 3", Decimal(9)),
    ("10 - 4 - 3", Decimal(3)),
    ("24 / 4 / 2", Decimal(3)),
    ("-2 * 3", Decimal(-6)),
    ("- (2 + 3)", Decimal(-5)),
    ("2 - -3", Decimal(5)),
    ("0.1 + 0.2", Decimal("0.3")),
    ("1 / 3 * 3", Decimal("0.9999999999999999999999999999999999")),
    ("round(2.675, 2)", Decimal("2.68")),
    ("round(-2.5)", Decimal(-3)),
    ("abs(-4.25)", Decimal("4.25")),
    ("min(3, 1, 2)", Decimal(1)),
    ("max(3, 1, 2)", Decimal(3)),
])
def test_arithmetic_precedence_and_decimals(text, expected):
    assert scalar(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("true or false and false", True),
    ("(true or false) and false", False),
    ("not true or true", True),
    ("not 1 == 2", True),
    ("1 + 1 == 2 and 3 > 2", True),
    ("2 * 3 > 5 or 1 / 0 > 1", True),
    ("1 > 2 and 1 / 0 > 1", False),
    ("1 <= 1 and 1 >= 1 and 1 != 2 and 1 < 2", True),
    ("TRUE AND NOT FALSE", True),
])
def test_logic_precedence_and_short_circuit(text, expected):
    assert scalar(text) is expected


def test_in_list_with_text():
    assert scalar('stage in ("Won", "Lost")', stage="Won") is True


def test_not_in_list():
    assert scalar('stage not in ("Won", "Lost")', stage="Engaging") is True


def test_in_list_with_numbers():
    assert scalar("x in (1, 2.50, 3)", x=Decimal("2.5")) is True


def test_text_comparison_is_exact():
    assert scalar('stage == "won"', stage="Won") is False


def test_lower_makes_comparison_case_blind():
    assert scalar('lower(stage) == "won"', stage="Won") is True


def test_contains_and_starts_with():
    assert scalar('contains(product, "Pro") and starts_with(product, "GTX")', product="GTX Pro") is True


def test_quotes_and_escapes_in_text():
    assert scalar(r'name == "Say \"hi\"" and other == ' + "'it''s'".replace("''", "\\'"),
                  name='Say "hi"', other="it's") is True


def test_backquoted_field_name():
    assert scalar("`deal size` > 5", **{"deal size": Decimal(6)}) is True


def test_date_literal_and_comparison():
    assert scalar('close_date <= date("2017-03-31")', close_date=dt.date(2017, 3, 31)) is True


def test_days_between_counts_calendar_days():
    assert scalar("days_between(a, b)", a=dt.date(2017, 1, 1), b=dt.datetime(2017, 3, 1, 23, 0)) == Decimal(59)


def test_if_picks_branch():
    assert scalar("if(attainment >= 1.2, 0.01 * credit, 0)", attainment=Decimal("1.25"),
                  credit=Decimal("5000.00")) == Decimal("50.0000")


def test_coalesce_takes_first_present_value():
    assert scalar("coalesce(a, b, 3)", a=None, b=Decimal(2)) == Decimal(2)


def test_money_field_in_record_is_scaled():
    compiled = compile_expression("amount * 2")
    assert compiled.evaluate_row({"amount": 12_345}, field_kinds={"amount": "money"}) == Decimal("2.4690")


def test_record_field_wins_over_variable():
    compiled = compile_expression("region")
    assert compiled.evaluate_row({"region": "East"}, {"region": "West"}) == "East"


def test_metric_callback_supplies_values():
    value = evaluate_scalar('metric("bookings") * 0.1', {}, {"metric": {"bookings": Decimal(500)}.__getitem__})
    assert value == Decimal("50.0")


def test_metric_without_callback_is_an_error():
    assert "only available" in error_of('metric("bookings") > 1').reason


def test_metric_names_its_missing_key():
    with pytest.raises(ExpressionError, match="'nope'"):
        evaluate_scalar('metric("nope") > 1', {}, {"metric": {}.__getitem__})


def test_compiled_lists_names_and_metric_keys():
    compiled = compile_expression('credit > quota and metric("pipeline") > 0')
    assert compiled.names == {"credit", "quota"}
    assert compiled.metric_keys == {"pipeline"}


# Empty values


def test_empty_equals_only_null():
    assert scalar("x == null", x=None) is True
    assert scalar('x == "a"', x=None) is False
    assert scalar('x != "a"', x=None) is True


def test_empty_in_arithmetic_and_ordering_is_empty():
    assert scalar("x + 1", x=None) is None
    assert scalar("x > 1", x=None) is None


def test_three_valued_logic():
    assert scalar("x > 1 and false", x=None) is False
    assert scalar("x > 1 or true", x=None) is True
    assert scalar("x > 1 and true", x=None) is None


def test_if_with_empty_condition_takes_else():
    assert scalar("if(x > 1, 1, 2)", x=None) == Decimal(2)


# Errors


def test_unknown_name_suggests_close_match():
    error = error_of("amout > 1", amount=Decimal(1))
    assert error.reason == "unknown name 'amout'; did you mean 'amount'?"
    assert error.position == 0


def test_error_message_has_caret_under_position():
    text = "amount > 1 and stage = 'Won'"
    error = error_of(text, amount=Decimal(1), stage="x")
    assert str(error).splitlines()[-2:] == [f"  {text}", " " * (2 + text.index("=")) + "^"]


def test_error_names_record_on_frame():
    frame = pd.DataFrame({"deal_id": ["D1", "D2"], "quota": pd.array([5, 0], dtype="Int64")})
    with pytest.raises(ExpressionError) as caught:
        compile_expression("10 / quota").evaluate_frame(frame, {"quota": "integer"})
    assert caught.value.record == "row 1 (deal_id 'D2')"
    assert caught.value.reason == "division by zero"
    assert caught.value.position == 3


def test_division_by_zero_is_never_zero():
    assert error_of("credit / quota", credit=Decimal(1), quota=Decimal(0)).reason == "division by zero"


@pytest.mark.parametrize(("text", "reason"), [
    ('amount + "x"', "+ needs numbers, but this is text"),
    ('stage > 5', "cannot compare > different types: text and a number"),
    ("not amount", "not needs true/false, but this is a number"),
    ("amount and true", "and needs true/false on both sides, but this is a number"),
    ('if(true, 1, "a")', "if() gives values of two types: a number and text"),
    ("lower(amount)", "lower() needs text, but this is a number"),
    ("true < false", "< cannot order true/false values"),
    ("day - day", "use days_between(start, end) for the number of days between two dates"),
])
def test_type_mismatch_is_an_error(text, reason):
    error = error_of(text, amount=Decimal(1), stage="Won", day=dt.date(2017, 1, 1))
    assert error.reason == reason


@pytest.mark.parametrize(("text", "position", "reason_start"), [
    ("amount >", 8, "expected a value, found end of expression"),
    ("(1 + 2", 6, "expected ')' to close the parenthesis"),
    ("a.b", 1, "'.' after 'a': attribute access"),
    ("a[0]", 1, "unexpected character '['"),
    ("__import__('os')", 0, "unknown function '__import__'"),
    ("x = 1", 2, "unexpected character '='; use == to compare"),
    ("1 < 2 < 3", 6, "comparisons cannot be chained"),
    ('"open', 0, "text starting here has no closing"),
    ("1 2", 2, "unexpected number 2 after a complete expression"),
    ("round(1.5, x)", 11, "round() takes a whole number of decimals"),
    ('date("31/03/2017")', 5, "invalid date '31/03/2017'"),
    ("if(true, 1)", 0, "if() takes 3 argument(s), got 2"),
    (".5", 0, "a number needs a digit before the decimal point"),
    ("", 0, "expression is empty"),
])
def test_syntax_errors_point_at_position(text, position, reason_start):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.reason.startswith(reason_start)
    assert caught.value.position == position


def test_length_limit():
    with pytest.raises(ExpressionError, match=f"the limit is {MAX_LENGTH}"):
        compile_expression("1" + " + 1" * MAX_LENGTH)


def test_nesting_limit():
    with pytest.raises(ExpressionError, match="nests more than"):
        compile_expression("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))


def test_nesting_below_limit_is_fine():
    depth = MAX_DEPTH - 1
    assert scalar("(" * depth + "1" + ")" * depth) == Decimal(1)


def test_error_is_a_value_error():
    assert issubclass(ExpressionError, ValueError)


def test_source_and_record_in_message():
    error = error_of("amout > 1", amount=Decimal(1)).with_context(source="filter of metric 'won'", record="D-7")
    assert str(error).splitlines()[1] == "  at position 1 of filter of metric 'won', for record D-7:"


# Clauses


def test_clauses_split_top_level_and_only():
    compiled = compile_expression('stage == "Won" and (product == "A" or product == "B") and amount > 0')
    assert [clause.text for clause in clauses(compiled)] == [
        'stage == "Won"', 'product == "A" or product == "B"', "amount > 0"]


def test_failing_clauses_for_one_record():
    compiled = compile_expression('stage == "Won" and amount >= 1000 and product == "GTX Pro"')
    record = {"stage": "Won", "amount": 50_000_000, "product": "MG Special"}
    failing = failing_clauses(compiled, record, field_kinds={"amount": "money"})
    assert [clause.text for clause in failing] == ['product == "GTX Pro"']


def test_clause_results_on_frame():
    frame = pd.DataFrame({"stage": ["Won", "Lost", "Won"], "quota": pd.array([0, 4, 2], dtype="Int64")})
    compiled = compile_expression('stage == "Won" and quota != 0 and 8 / quota > 3')
    results = clause_results(compiled, frame, {"quota": "integer"})
    assert results[0].tolist() == [True, False, True]
    assert results[1].tolist() == [False, True, True]
    # 8 / 0 fails on row 0, so the clause is evaluated only where the filter reaches it.
    assert results[2].isna().tolist() == [True, True, False]
    assert results[2].iloc[2]


def test_frame_result_types():
    frame = pd.DataFrame({"amount": pd.array([15_000, None], dtype="Int64"),
                          "day": pd.to_datetime(["2017-01-02", None])})
    kinds = {"amount": "money", "day": "date"}
    assert compile_expression("amount * 2").evaluate_frame(frame, kinds).tolist() == [Decimal("3.0000"), None]
    assert compile_expression("day").evaluate_frame(frame, kinds).isna().tolist() == [False, True]


def test_text_column_holding_numbers_is_an_error():
    frame = pd.DataFrame({"stage": pd.Series(["Won", 5], dtype=object)})
    with pytest.raises(ExpressionError, match="column 'stage' must contain text but contains 5"):
        compile_expression('stage == "Won"').evaluate_frame(frame, {"stage": "text"})


def test_undeclared_column_of_mixed_types_is_an_error():
    frame = pd.DataFrame({"sector": pd.Series(["retail", 5], dtype=object)})
    with pytest.raises(ExpressionError, match="column 'sector' contains values of mixed types"):
        compile_expression('sector == "retail"').evaluate_frame(frame)


def test_undeclared_columns_are_typed_by_their_values():
    frame = pd.DataFrame({"sector": pd.Series(["retail", None], dtype=object),
                          "seats": pd.Series([Decimal("2.5"), None], dtype=object)})
    result = compile_expression('sector == "retail" and seats > 2').evaluate_frame(frame)
    assert result.tolist() == [True, False]


def test_metric_callback_must_return_number():
    with pytest.raises(ExpressionError, match="returned 'high', not a number"):
        evaluate_scalar('metric("tier") > 1', {}, {"metric": lambda key: "high"})


def test_compiled_expression_is_cached():
    assert compile_expression("credit * 0.1") is compile_expression("credit * 0.1")


def test_scalar_variables_accept_ints_and_dates():
    assert evaluate_scalar("quota * 2 + days_between(start, end)",
                           {"quota": 5, "start": dt.date(2017, 1, 1), "end": dt.date(2017, 1, 3)}) == Decimal(12)
