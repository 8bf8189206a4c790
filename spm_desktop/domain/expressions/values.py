"""Scalar values of the expression language and the operations on them.

Values are ``Decimal`` (number), ``str`` (text), ``bool``, ``datetime.datetime`` (date;
a plain date is midnight) and ``None`` (empty). The rules for empty values:

* arithmetic, ordering comparisons and functions of an empty value give an empty value;
* ``==`` treats empty as a value of its own: ``x == null`` is true exactly when x is
  empty, and an empty value equals nothing else (``in`` follows ``==``);
* ``and``, ``or`` and ``not`` use three-valued logic (false and empty = false, true or
  empty = true), and ``if()`` takes its else branch when the condition is empty;
* a filter selects a record only when it evaluates to true, so a record whose filter is
  empty because a field is missing is not selected.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions.nodes import ValueType
from spm_desktop.domain.money import CONTEXT, RECORD_SCALE, round_half_up

Value = Decimal | str | bool | dt.datetime | None


class ValueProblem(Exception):
    """An operation failed on one value; the evaluator adds expression, position and record."""


def is_missing(raw: object) -> bool:
    """Return True for None, pandas NA/NaT and float NaN."""
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return True
    if isinstance(raw, float | np.floating):
        return math.isnan(raw)
    if isinstance(raw, np.datetime64):
        return bool(np.isnat(raw))
    return False


def to_value(raw: object, kind: str | None = None) -> tuple[Value, ValueType]:
    """Convert a Python, numpy or pandas value into an expression value and its type.

    A ``money`` integer is a count of 1/10,000 (the record frames' unit). Raises
    ValueProblem for a value of an unsupported type or a number that is not finite.
    """
    if is_missing(raw):
        return None, "null"
    if isinstance(raw, bool | np.bool_):
        return bool(raw), "bool"
    if isinstance(raw, int | np.integer):
        number = Decimal(int(raw))
        if kind == "money":
            number = number.scaleb(-RECORD_SCALE)
        return number, "number"
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValueProblem(f"{raw} is not a finite number")
        return raw, "number"
    if isinstance(raw, float | np.floating):
        if math.isinf(raw):
            raise ValueProblem(f"{raw} is not a finite number")
        return Decimal(repr(float(raw))), "number"
    if isinstance(raw, str):
        return raw, "text"
    if isinstance(raw, pd.Timestamp):
        return raw.tz_localize(None).to_pydatetime() if raw.tzinfo else raw.to_pydatetime(), "date"
    if isinstance(raw, dt.datetime):
        return raw.replace(tzinfo=None), "date"
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day), "date"  # noqa: DTZ001  (record dates carry no zone)
    if isinstance(raw, np.datetime64):
        return pd.Timestamp(raw).to_pydatetime(), "date"
    raise ValueProblem(f"values of type {type(raw).__name__} are not supported")


def check_finite(number: Decimal) -> Decimal:
    if not number.is_finite():
        raise ValueProblem("the result is out of range")
    return number


def add(left: Decimal, right: Decimal) -> Decimal:
    return check_finite(CONTEXT.add(left, right))


def subtract(left: Decimal, right: Decimal) -> Decimal:
    return check_finite(CONTEXT.subtract(left, right))


def multiply(left: Decimal, right: Decimal) -> Decimal:
    return check_finite(CONTEXT.multiply(left, right))


def divide(left: Decimal, right: Decimal) -> Decimal:
    if right == 0:
        raise ValueProblem("division by zero")
    return check_finite(CONTEXT.divide(left, right))


ARITHMETIC_OPERATIONS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
}


def arithmetic(operator: str, left: Value, right: Value) -> Value:
    if left is None or right is None:
        return None
    return ARITHMETIC_OPERATIONS[operator](left, right)  # type: ignore[arg-type]


def negate(value: Value) -> Value:
    return None if value is None else check_finite(CONTEXT.minus(value))  # type: ignore[arg-type]


def equals(left: Value, right: Value) -> bool:
    if left is None or right is None:
        return left is None and right is None
    return left == right


def compare(operator: str, left: Value, right: Value) -> bool | None:
    if operator == "==":
        return equals(left, right)
    if operator == "!=":
        return not equals(left, right)
    if left is None or right is None:
        return None
    if operator == "<":
        return left < right  # type: ignore[operator]
    if operator == "<=":
        return left <= right  # type: ignore[operator]
    if operator == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def logical_not(value: Value) -> bool | None:
    return None if value is None else not value


def round_number(value: Value, digits: int) -> Value:
    if value is None:
        return None
    try:
        return round_half_up(value, digits)  # type: ignore[arg-type]
    except decimal.InvalidOperation:
        raise ValueProblem("the number is too large to round") from None


def absolute(value: Value) -> Value:
    return None if value is None else CONTEXT.abs(value)  # type: ignore[arg-type]


def extreme(function: str, values: list[Value]) -> Value:
    if any(value is None for value in values):
        return None
    return min(values) if function == "min" else max(values)  # type: ignore[type-var]


def lower(value: Value) -> Value:
    return None if value is None else value.lower()  # type: ignore[union-attr]


def contains(text: Value, part: Value) -> bool | None:
    if text is None or part is None:
        return None
    return part in text  # type: ignore[operator]


def starts_with(text: Value, prefix: Value) -> bool | None:
    if text is None or prefix is None:
        return None
    return text.startswith(prefix)  # type: ignore[union-attr]


def days_between(start: Value, end: Value) -> Value:
    """Return the calendar days from start to end (negative when end is earlier); times are ignored."""
    if start is None or end is None:
        return None
    return Decimal((end.date() - start.date()).days)  # type: ignore[union-attr]
