"""Evaluate a syntax tree on one record or one set of variables."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from spm_desktop.domain.expressions import values as ops
from spm_desktop.domain.expressions.errors import ExpressionError
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
)
from spm_desktop.domain.expressions.values import Value, ValueProblem

ContextFunction = Callable[..., object]


class RowEvaluator:
    """Walk the tree once for one record; ``and``, ``or``, ``if`` and ``coalesce`` short-circuit."""

    def __init__(self, expression: str, names: Mapping[str, Value],
                 functions: Mapping[str, ContextFunction] | None = None) -> None:
        self.expression = expression
        self.names = names
        self.functions = functions or {}

    def error(self, reason: str, node: Node, position: int | None = None) -> ExpressionError:
        return ExpressionError(reason, self.expression, node.start if position is None else position)

    def evaluate(self, node: Node) -> Value:
        if isinstance(node, Literal):
            return node.value  # type: ignore[return-value]
        if isinstance(node, Name):
            return self.names[node.name]
        if isinstance(node, Logical):
            return self._logical(node)
        if isinstance(node, Not):
            return ops.logical_not(self.evaluate(node.operand))
        if isinstance(node, Negate):
            return self._guard(node, ops.negate, self.evaluate(node.operand))
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Call):
            return self._call(node)
        raise self.error(f"unsupported syntax {type(node).__name__}", node)

    def _guard(self, node: Node, operation: Callable[..., Value], *args: object, position: int | None = None) -> Value:
        try:
            return operation(*args)
        except ValueProblem as problem:
            raise self.error(str(problem), node, position) from None

    def _logical(self, node: Logical) -> Value:
        # Three-valued logic: a deciding operand (false for and, true for or) ends the chain.
        deciding = node.operator == "or"
        unknown = False
        for operand in node.operands:
            value = self.evaluate(operand)
            if value is None:
                unknown = True
            elif value is deciding:
                return deciding
        return None if unknown else not deciding

    def _binary(self, node: Binary) -> Value:
        left = self.evaluate(node.left)
        right = self.evaluate(node.right)
        if node.operator in ("+", "-", "*", "/"):
            return self._guard(node, ops.arithmetic, node.operator, left, right, position=node.operator_position)
        return ops.compare(node.operator, left, right)

    def _in(self, node: In) -> Value:
        value = self.evaluate(node.operand)
        found = any(ops.equals(value, self.evaluate(option)) for option in node.options)
        return found != node.negated

    def _call(self, node: Call) -> Value:
        function = node.function
        if function == "if":
            condition = self.evaluate(node.args[0])
            return self.evaluate(node.args[1] if condition is True else node.args[2])
        if function == "coalesce":
            for arg in node.args:
                value = self.evaluate(arg)
                if value is not None:
                    return value
            return None
        if function == "metric":
            return self._context_function(node)
        args = [self.evaluate(arg) for arg in node.args]
        if function in ("min", "max"):
            return ops.extreme(function, args)
        if function == "abs":
            return ops.absolute(args[0])
        if function == "round":
            digits = int(args[1]) if len(args) == 2 else 0  # type: ignore[arg-type]
            return self._guard(node, ops.round_number, args[0], digits)
        if function == "lower":
            return ops.lower(args[0])
        if function == "contains":
            return ops.contains(args[0], args[1])
        if function == "starts_with":
            return ops.starts_with(args[0], args[1])
        if function == "days_between":
            return ops.days_between(args[0], args[1])
        raise self.error(f"unknown function {function!r}", node)

    def _context_function(self, node: Call) -> Value:
        callback = self.functions.get(node.function)
        argument = node.args[0].value  # type: ignore[attr-defined]
        if callback is None:
            raise self.error(f"{node.function}() is only available where a calculation provides it "
                             "(gates and formula components)", node)
        try:
            raw = callback(argument)
        except ExpressionError:
            raise
        except (LookupError, ValueError) as error:
            raise self.error(f"{node.function}({argument!r}) failed: {error}", node) from None
        try:
            value, value_type = ops.to_value(raw)
        except ValueProblem as problem:
            raise self.error(f"{node.function}({argument!r}) returned an invalid value: {problem}", node) from None
        if value_type not in ("number", "null"):
            raise self.error(f"{node.function}({argument!r}) returned {raw!r}, not a number", node)
        return value
