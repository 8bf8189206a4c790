"""Evaluate a syntax tree over a whole pandas frame at once.

Numbers are held in fixed point (an int64 array and a decimal scale) while that stays
exact: money columns arrive as int64 counts of 1/10,000, so ``+``, ``-``, ``*`` and
comparisons run on integers. When an operation would overflow int64, and for every
division, the numbers move to object arrays of ``Decimal`` computed with the same
34-digit context as row-by-row evaluation, so both give equal results.

Every node is evaluated with an ``active`` mask: the rows on which row-by-row evaluation
would evaluate it (``and``, ``or``, ``if`` and ``coalesce`` short-circuit). A division by
zero or an out-of-range number is an error only on an active row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from spm_desktop.domain.expressions import values as ops
from spm_desktop.domain.expressions.nodes import (
    Binary,
    Call,
    In,
    Literal,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    ValueType,
)
from spm_desktop.domain.expressions.values import ValueProblem

INT64_LIMIT = 2**63 - 1
NANOSECONDS_PER_DAY = 86_400 * 10**9
_ZERO = Decimal(0)


@dataclass
class Vec:
    """A column of values of one type; ``null`` marks empty rows, whose data is a filler.

    Numbers are fixed point when ``fixed`` is True (``data`` int64, value = data / 10**scale)
    and otherwise an object array of Decimal. Text is an object array of str, bools a bool
    array, dates int64 nanoseconds since 1970.
    """

    type: ValueType
    data: np.ndarray | None
    null: np.ndarray
    fixed: bool = False
    scale: int = 0


class RowProblem(Exception):
    """A value error on one row: the frame evaluator turns it into an ExpressionError."""

    def __init__(self, reason: str, node: Node, position: int, row: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node
        self.position = position
        self.row = row


def null_vec(size: int) -> Vec:
    return Vec("null", None, np.ones(size, dtype=bool))


def constant_vec(value: object, value_type: ValueType, size: int) -> Vec:
    """Broadcast one scalar expression value to a column."""
    if value is None or value_type == "null":
        return null_vec(size) if value_type == "null" else _empty_of_type(value_type, size)
    null = np.zeros(size, dtype=bool)
    if value_type == "number":
        fixed = decimal_to_fixed(value)  # type: ignore[arg-type]
        if fixed is not None:
            units, scale = fixed
            return Vec("number", np.full(size, units, dtype=np.int64), null, True, scale)
        data = np.empty(size, dtype=object)
        data[:] = value
        return Vec("number", data, null)
    if value_type == "text":
        data = np.empty(size, dtype=object)
        data[:] = value
        return Vec("text", data, null)
    if value_type == "bool":
        return Vec("bool", np.full(size, bool(value)), null)
    return Vec("date", np.full(size, _datetime_to_ns(value), dtype=np.int64), null)


def _empty_of_type(value_type: ValueType, size: int) -> Vec:
    null = np.ones(size, dtype=bool)
    if value_type == "number":
        return Vec("number", np.zeros(size, dtype=np.int64), null, True, 0)
    if value_type == "text":
        data = np.empty(size, dtype=object)
        data[:] = ""
        return Vec("text", data, null)
    if value_type == "bool":
        return Vec("bool", np.zeros(size, dtype=bool), null)
    return Vec("date", np.zeros(size, dtype=np.int64), null)


def _datetime_to_ns(value: object) -> int:
    import pandas as pd

    return int(pd.Timestamp(value).as_unit("ns").value)


def decimal_to_fixed(number: Decimal) -> tuple[int, int] | None:
    """Return (units, scale) with number == units / 10**scale, or None when units overflow int64."""
    sign, digits, exponent = number.as_tuple()
    units = int("".join(map(str, digits)) or "0")
    scale = 0
    if isinstance(exponent, int):
        if exponent >= 0:
            units *= 10**exponent
        else:
            scale = -exponent
    if units > INT64_LIMIT:
        return None
    return (-units if sign else units), scale


def _max_abs(data: np.ndarray) -> int:
    if data.size == 0:
        return 0
    return max(abs(int(data.min())), abs(int(data.max())))


def to_objects(vec: Vec, wanted: np.ndarray | None = None) -> np.ndarray:
    """Return a number column as an object array of Decimal (Decimal 0 on empty rows).

    With a ``wanted`` mask only those rows are converted and the others are Decimal 0,
    which saves most of the time when few rows matter.
    """
    if not vec.fixed:
        return vec.data  # type: ignore[return-value]
    result = np.empty(len(vec.null), dtype=object)
    result[:] = _ZERO
    rows = np.flatnonzero(~vec.null if wanted is None else ~vec.null & wanted)
    # Multiplying by a power of ten gives the same coefficient and exponent as scaleb, because
    # an int64 has fewer digits than the context's precision. It takes about two thirds of the time.
    result[rows] = list(map(Decimal(1).scaleb(-vec.scale).__mul__,
                            map(Decimal, vec.data[rows].tolist())))  # type: ignore[index]
    return result


def rescale(vec: Vec, scale: int) -> np.ndarray | None:
    """Return the fixed-point data at a larger scale, or None when it would overflow."""
    factor = 10 ** (scale - vec.scale)
    if factor == 1:
        return vec.data
    if _max_abs(vec.data) * factor > INT64_LIMIT:  # type: ignore[arg-type]
        return None
    return vec.data * factor


def align(left: Vec, right: Vec) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Bring two fixed-point columns to one scale, or None when that would overflow."""
    if not (left.fixed and right.fixed):
        return None
    scale = max(left.scale, right.scale)
    left_data = rescale(left, scale)
    right_data = rescale(right, scale)
    if left_data is None or right_data is None:
        return None
    return left_data, right_data, scale


class FrameEvaluator:
    """Evaluate one typed syntax tree on columns loaded on demand."""

    def __init__(self, types: Mapping[Node, ValueType], size: int, load: Callable[[str], Vec]) -> None:
        self.types = types
        self.size = size
        self.load = load

    # Helpers

    def fail(self, reason: str, node: Node, rows: np.ndarray, position: int | None = None) -> None:
        """Raise RowProblem for the first row of ``rows`` that is set, if any."""
        failing = np.flatnonzero(rows)
        if failing.size:
            raise RowProblem(reason, node, node.start if position is None else position, int(failing[0]))

    def evaluate(self, node: Node, active: np.ndarray) -> Vec:
        if isinstance(node, Literal):
            return constant_vec(node.value, node.type, self.size)
        if isinstance(node, Name):
            return self.load(node.name)
        if isinstance(node, Logical):
            return self._logical(node, active)
        if isinstance(node, Not):
            operand = self.evaluate(node.operand, active)
            if operand.type == "null":
                return operand
            return Vec("bool", ~operand.data, operand.null)  # type: ignore[operator]
        if isinstance(node, Negate):
            return self._negate(node, active)
        if isinstance(node, Binary):
            return self._binary(node, active)
        if isinstance(node, In):
            return self._in(node, active)
        if isinstance(node, Call):
            return self._call(node, active)
        raise ValueProblem(f"unsupported syntax {type(node).__name__}")

    # Logic

    def _logical(self, node: Logical, active: np.ndarray) -> Vec:
        deciding = node.operator == "or"
        decided = np.zeros(self.size, dtype=bool)
        unknown = np.zeros(self.size, dtype=bool)
        for operand in node.operands:
            value = self.evaluate(operand, active & ~decided)
            if value.type == "null":
                unknown |= ~decided
                continue
            hits = ~value.null & (value.data if deciding else ~value.data)  # type: ignore[operator]
            unknown |= ~decided & value.null
            decided |= hits
        data = decided if deciding else ~decided
        return Vec("bool", data, ~decided & unknown)

    # Arithmetic

    def _negate(self, node: Negate, active: np.ndarray) -> Vec:
        operand = self.evaluate(node.operand, active)
        if operand.type == "null":
            return operand
        if operand.fixed and _max_abs(operand.data) <= INT64_LIMIT:  # type: ignore[arg-type]
            return Vec("number", -operand.data, operand.null, True, operand.scale)  # type: ignore[operator]
        return self._object_unary(node, operand, active, ops.negate)

    def _object_unary(self, node: Node, operand: Vec, active: np.ndarray, operation: Callable) -> Vec:
        data = to_objects(operand).copy()
        rows = np.flatnonzero(active & ~operand.null)
        for row in rows:
            try:
                data[row] = operation(data[row])
            except ValueProblem as problem:
                raise RowProblem(str(problem), node, node.start, int(row)) from None
        return Vec("number", data, operand.null.copy())

    def _binary(self, node: Binary, active: np.ndarray) -> Vec:
        left = self.evaluate(node.left, active)
        right = self.evaluate(node.right, active)
        if node.operator in ("+", "-", "*", "/"):
            return self._arithmetic(node, left, right, active)
        return self._compare(node.operator, left, right)

    def _arithmetic(self, node: Binary, left: Vec, right: Vec, active: np.ndarray) -> Vec:
        if "null" in (left.type, right.type):
            return null_vec(self.size)
        null = left.null | right.null
        operator = node.operator
        if operator == "/":
            self.fail("division by zero", node, active & ~null & self._is_zero(right), node.operator_position)
        fixed = self._fixed_arithmetic(operator, left, right, null)
        if fixed is not None:
            return fixed
        return self._object_arithmetic(node, left, right, null, active)

    def _is_zero(self, vec: Vec) -> np.ndarray:
        if vec.fixed:
            return vec.data == 0  # type: ignore[return-value]
        return np.fromiter((value == 0 for value in vec.data), dtype=bool, count=self.size)  # type: ignore[union-attr]

    def _fixed_arithmetic(self, operator: str, left: Vec, right: Vec, null: np.ndarray) -> Vec | None:
        if operator == "/" or not (left.fixed and right.fixed):
            return None
        if operator == "*":
            if _max_abs(left.data) * _max_abs(right.data) > INT64_LIMIT:  # type: ignore[arg-type]
                return None
            return Vec("number", left.data * right.data, null, True, left.scale + right.scale)  # type: ignore[operator]
        aligned = align(left, right)
        if aligned is None:
            return None
        left_data, right_data, scale = aligned
        if _max_abs(left_data) + _max_abs(right_data) > INT64_LIMIT:
            return None
        data = left_data + right_data if operator == "+" else left_data - right_data
        return Vec("number", data, null, True, scale)

    def _object_arithmetic(self, node: Binary, left: Vec, right: Vec, null: np.ndarray, active: np.ndarray) -> Vec:
        left_data = to_objects(left)
        right_data = to_objects(right)
        operation = ops.ARITHMETIC_OPERATIONS[node.operator]
        data = np.empty(self.size, dtype=object)
        data[:] = _ZERO
        for row in np.flatnonzero(active & ~null):
            try:
                data[row] = operation(left_data[row], right_data[row])
            except ValueProblem as problem:
                raise RowProblem(str(problem), node, node.operator_position, int(row)) from None
        return Vec("number", data, null)

    # Comparison

    def _compare(self, operator: str, left: Vec, right: Vec) -> Vec:
        if operator in ("==", "!="):
            equal = self._equal(left, right)
            return Vec("bool", equal if operator == "==" else ~equal, np.zeros(self.size, dtype=bool))
        null = left.null | right.null
        if "null" in (left.type, right.type):
            return Vec("bool", np.zeros(self.size, dtype=bool), np.ones(self.size, dtype=bool))
        left_data, right_data = self._comparable(left, right)
        if operator == "<":
            data = left_data < right_data
        elif operator == "<=":
            data = left_data <= right_data
        elif operator == ">":
            data = left_data > right_data
        else:
            data = left_data >= right_data
        return Vec("bool", np.asarray(data, dtype=bool) & ~null, null)

    def _comparable(self, left: Vec, right: Vec) -> tuple[np.ndarray, np.ndarray]:
        if left.type == "number":
            aligned = align(left, right)
            if aligned is not None:
                return aligned[0], aligned[1]
            return to_objects(left), to_objects(right)
        return left.data, right.data  # type: ignore[return-value]

    def _equal(self, left: Vec, right: Vec) -> np.ndarray:
        both_null = left.null & right.null
        if "null" in (left.type, right.type):
            return both_null
        left_data, right_data = self._comparable(left, right)
        same = np.asarray(left_data == right_data, dtype=bool)
        return both_null | (same & ~left.null & ~right.null)

    def _in(self, node: In, active: np.ndarray) -> Vec:
        operand = self.evaluate(node.operand, active)
        found = self._isin_constants(operand, node.options)
        if found is None:
            found = np.zeros(self.size, dtype=bool)
            for option in node.options:
                found |= self._equal(operand, self.evaluate(option, active))
        return Vec("bool", found != node.negated, np.zeros(self.size, dtype=bool))

    def _isin_constants(self, operand: Vec, options: tuple[Node, ...]) -> np.ndarray | None:
        """Hash lookup for the usual case of a text or fixed-point column against literals."""
        if operand.type not in ("text", "number") or not all(isinstance(option, Literal) for option in options):
            return None
        literals = [option.value for option in options]  # type: ignore[attr-defined]
        matches_null = any(value is None for value in literals)
        present = [value for value in literals if value is not None]
        if operand.type == "text":
            import pandas as pd

            found = pd.Series(operand.data, copy=False).isin(present).to_numpy()
        elif operand.fixed:
            fixed = [decimal_to_fixed(value) for value in present]
            if any(item is None or item[1] > operand.scale for item in fixed):
                return None
            targets = [units * 10 ** (operand.scale - scale) for units, scale in fixed]  # type: ignore[misc]
            found = np.isin(operand.data, np.array(targets, dtype=np.int64)) if targets else np.zeros(self.size, bool)
        else:
            return None
        return np.where(operand.null, matches_null, found & ~operand.null)

    # Functions

    def _call(self, node: Call, active: np.ndarray) -> Vec:
        function = node.function
        if function == "if":
            return self._if(node, active)
        if function == "coalesce":
            return self._coalesce(node, active)
        if function == "metric":
            self.fail(f"{function}() is only available where a calculation provides it "
                      "(gates and formula components)", node, active)
            return _empty_of_type("number", self.size)
        args = [self.evaluate(arg, active) for arg in node.args]
        if function in ("min", "max"):
            return self._extreme(node, args)
        if function == "abs":
            return self._abs(node, args[0], active)
        if function == "round":
            digits = int(node.args[1].value) if len(node.args) == 2 else 0  # type: ignore[attr-defined]
            return self._round(node, args[0], digits, active)
        if function == "lower":
            return self._text_map(args[0], str.lower, "text")
        if function == "contains":
            return self._text_pair(args[0], args[1], lambda text, part: part in text)
        if function == "starts_with":
            return self._text_pair(args[0], args[1], str.startswith)
        if function == "days_between":
            return self._days_between(args[0], args[1])
        raise ValueProblem(f"unknown function {function!r}")

    def _if(self, node: Call, active: np.ndarray) -> Vec:
        condition = self.evaluate(node.args[0], active)
        if condition.type == "null":
            take_then = np.zeros(self.size, dtype=bool)
        else:
            take_then = condition.data & ~condition.null  # type: ignore[operator]
        then_vec = self.evaluate(node.args[1], active & take_then)
        else_vec = self.evaluate(node.args[2], active & ~take_then)
        return self.merge(take_then, then_vec, else_vec, self.types[node])

    def _coalesce(self, node: Call, active: np.ndarray) -> Vec:
        result = self.evaluate(node.args[0], active)
        for arg in node.args[1:]:
            following = self.evaluate(arg, active & result.null)
            result = self.merge(~result.null, result, following, self.types[node])
        return result

    def merge(self, take_first: np.ndarray, first: Vec, second: Vec, result_type: ValueType) -> Vec:
        """Return first where take_first is set and second elsewhere."""
        if result_type == "null":
            return null_vec(self.size)
        first = first if first.type != "null" else _empty_of_type(result_type, self.size)
        second = second if second.type != "null" else _empty_of_type(result_type, self.size)
        null = np.where(take_first, first.null, second.null)
        if result_type == "number":
            aligned = align(first, second)
            if aligned is not None:
                return Vec("number", np.where(take_first, aligned[0], aligned[1]), null, True, aligned[2])
            data = np.where(take_first, to_objects(first), to_objects(second))
            return Vec("number", data, null)
        return Vec(result_type, np.where(take_first, first.data, second.data), null)

    def _extreme(self, node: Call, args: list[Vec]) -> Vec:
        result_type = self.types[node]
        if result_type == "null" or any(arg.type == "null" for arg in args):
            return null_vec(self.size) if result_type == "null" else _empty_of_type(result_type, self.size)
        null = np.logical_or.reduce([arg.null for arg in args])
        reducer = np.minimum if node.function == "min" else np.maximum
        if result_type == "number":
            return self._extreme_numbers(args, null, reducer)
        data = args[0].data
        for arg in args[1:]:
            data = reducer(data, arg.data)  # type: ignore[arg-type]
        return Vec(result_type, data, null)

    def _extreme_numbers(self, args: list[Vec], null: np.ndarray, reducer: Callable) -> Vec:
        if all(arg.fixed for arg in args):
            scale = max(arg.scale for arg in args)
            scaled = [rescale(arg, scale) for arg in args]
            if all(item is not None for item in scaled):
                return Vec("number", reducer.reduce(scaled), null, True, scale)
        objects = [to_objects(arg) for arg in args]
        data = objects[0]
        for other in objects[1:]:
            data = reducer(data, other)
        return Vec("number", data, null)

    def _abs(self, node: Call, operand: Vec, active: np.ndarray) -> Vec:
        if operand.type == "null":
            return _empty_of_type("number", self.size)
        if operand.fixed and _max_abs(operand.data) <= INT64_LIMIT:  # type: ignore[arg-type]
            return Vec("number", np.abs(operand.data), operand.null, True, operand.scale)
        return self._object_unary(node, operand, active, ops.absolute)

    def _round(self, node: Call, operand: Vec, digits: int, active: np.ndarray) -> Vec:
        if operand.type == "null":
            return _empty_of_type("number", self.size)
        if operand.fixed and operand.scale <= digits:
            return operand
        if operand.fixed and operand.scale - digits <= 18:
            factor = 10 ** (operand.scale - digits)
            magnitude = np.abs(operand.data)
            rounded = (magnitude + factor // 2) // factor
            return Vec("number", np.where(operand.data < 0, -rounded, rounded), operand.null, True, digits)
        return self._object_unary(node, operand, active, lambda value: ops.round_number(value, digits))

    def _text_map(self, operand: Vec, function: Callable[[str], str], result_type: ValueType) -> Vec:
        if operand.type == "null":
            return _empty_of_type(result_type, self.size)
        data = np.empty(self.size, dtype=object)
        data[:] = [function(text) for text in operand.data]  # type: ignore[union-attr]
        return Vec(result_type, data, operand.null)

    def _text_pair(self, text: Vec, part: Vec, function: Callable[[str, str], bool]) -> Vec:
        if "null" in (text.type, part.type):
            return _empty_of_type("bool", self.size)
        null = text.null | part.null
        data = np.fromiter((function(a, b) for a, b in zip(text.data, part.data, strict=True)),  # type: ignore[arg-type]
                           dtype=bool, count=self.size)
        return Vec("bool", data & ~null, null)

    def _days_between(self, start: Vec, end: Vec) -> Vec:
        if "null" in (start.type, end.type):
            return _empty_of_type("number", self.size)
        null = start.null | end.null
        days = end.data // NANOSECONDS_PER_DAY - start.data // NANOSECONDS_PER_DAY  # type: ignore[operator]
        return Vec("number", np.where(null, 0, days).astype(np.int64), null, True, 0)
