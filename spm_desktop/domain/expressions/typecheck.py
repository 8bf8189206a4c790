"""Static types of an expression: every type mismatch is found before evaluation.

Types are number, text, bool, date and null (a value that is always empty). An empty
value of a field fits every type, so type errors depend only on the kinds of fields and
variables, never on the data, and row-by-row and whole-frame evaluation reject the same
expressions.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from spm_desktop.domain.expressions.errors import ExpressionError
from spm_desktop.domain.expressions.nodes import (
    ARITHMETIC,
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

# Field kinds of ``domain.records`` and the value type each reads as.
KIND_TYPES: dict[str, ValueType] = {
    "id": "text",
    "text": "text",
    "money": "number",
    "decimal": "number",
    "integer": "number",
    "date": "date",
    "datetime": "date",
    "bool": "bool",
    "boolean": "bool",
    "number": "number",
    "null": "null",
}

_ARTICLE = {"number": "a number", "text": "text", "bool": "true/false", "date": "a date", "null": "null"}


def describe(value_type: ValueType) -> str:
    return _ARTICLE[value_type]


class TypeChecker:
    """Infer the type of every node of one syntax tree for one set of name types."""

    def __init__(self, expression: str, names: Mapping[str, ValueType]) -> None:
        self.expression = expression
        self.names = names
        self.types: dict[Node, ValueType] = {}

    def error(self, reason: str, node: Node, position: int | None = None) -> ExpressionError:
        return ExpressionError(reason, self.expression, node.start if position is None else position)

    def check(self, node: Node) -> ValueType:
        result = self._infer(node)
        self.types[node] = result
        return result

    def _infer(self, node: Node) -> ValueType:
        if isinstance(node, Literal):
            return node.type
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Negate):
            return self._expect(node.operand, ("number",), "- needs a number")
        if isinstance(node, Not):
            self._expect(node.operand, ("bool",), "not needs true/false")
            return "bool"
        if isinstance(node, Logical):
            for operand in node.operands:
                self._expect(operand, ("bool",), f"{node.operator} needs true/false on both sides")
            return "bool"
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Call):
            return self._call(node)
        raise self.error(f"unsupported syntax {type(node).__name__}", node)

    def _name(self, node: Name) -> ValueType:
        if node.name in self.names:
            return self.names[node.name]
        suggestion = difflib.get_close_matches(node.name, list(self.names), n=1)
        hint = f"; did you mean {suggestion[0]!r}?" if suggestion else ""
        if not suggestion and self.names:
            shown = sorted(self.names)
            listed = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
            hint = f"; known names: {listed}"
        raise self.error(f"unknown name {node.name!r}{hint}", node)

    def _expect(self, node: Node, allowed: tuple[ValueType, ...], reason: str) -> ValueType:
        found = self.check(node)
        if found != "null" and found not in allowed:
            raise self.error(f"{reason}, but this is {describe(found)}", node)
        return found

    def _unify(self, nodes: tuple[Node, ...], reason: str) -> ValueType:
        result: ValueType = "null"
        for node in nodes:
            found = self.check(node)
            if found == "null":
                continue
            if result == "null":
                result = found
            elif found != result:
                raise self.error(f"{reason}: {describe(result)} and {describe(found)}", node)
        return result

    def _binary(self, node: Binary) -> ValueType:
        if node.operator in ARITHMETIC:
            return self._arithmetic(node)
        found = self._unify((node.left, node.right), f"cannot compare {node.operator} different types")
        if node.operator not in ("==", "!=") and found == "bool":
            raise self.error(f"{node.operator} cannot order true/false values", node, node.operator_position)
        return "bool"

    def _arithmetic(self, node: Binary) -> ValueType:
        left = self.check(node.left)
        right = self.check(node.right)
        if node.operator == "-" and left == right == "date":
            raise self.error("use days_between(start, end) for the number of days between two dates",
                             node, node.operator_position)
        for operand, found in ((node.left, left), (node.right, right)):
            if found not in ("number", "null"):
                raise self.error(f"{node.operator} needs numbers, but this is {describe(found)}", operand)
        return "null" if "null" in (left, right) else "number"

    def _in(self, node: In) -> ValueType:
        found = self._unify((node.operand, *node.options), "in needs values of one type")
        if found == "bool":
            raise self.error("in needs numbers, text or dates, not true/false", node)
        return "bool"

    def _call(self, node: Call) -> ValueType:
        function = node.function
        args = node.args
        if function == "if":
            self._expect(args[0], ("bool",), "the condition of if() must be true/false")
            return self._unify(args[1:], "if() gives values of two types")
        if function in ("min", "max"):
            found = self._unify(args, f"{function}() needs values of one type")
            if found == "bool":
                raise self.error(f"{function}() needs numbers, text or dates", node)
            return found
        if function == "coalesce":
            return self._unify(args, "coalesce() needs values of one type")
        if function in ("abs", "round"):
            self._expect(args[0], ("number",), f"{function}() needs a number")
            return "number"
        if function == "lower":
            self._expect(args[0], ("text",), "lower() needs text")
            return "text"
        if function in ("contains", "starts_with"):
            for arg in args:
                self._expect(arg, ("text",), f"{function}() needs text")
            return "bool"
        if function == "days_between":
            for arg in args:
                self._expect(arg, ("date",), "days_between() needs two dates")
            return "number"
        if function == "metric":
            return "number"
        raise self.error(f"unknown function {function!r}", node)
