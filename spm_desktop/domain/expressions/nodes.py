"""Syntax tree of a parsed expression.

Every node keeps the character span ``[start, end)`` of its source text, so errors can
point at it and clause attribution can quote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

ValueType = TypingLiteral["number", "text", "bool", "date", "null"]


@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Literal(Node):
    # Decimal, str, bool, datetime.datetime (a date at midnight) or None.
    value: object
    type: ValueType


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Logical(Node):
    """An and-chain or an or-chain of two or more operands."""

    operator: TypingLiteral["and", "or"]
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (+ - * /) or comparison (== != < <= > >=)."""

    operator: str
    left: Node
    right: Node
    operator_position: int


@dataclass(frozen=True)
class In(Node):
    operand: Node
    options: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


ARITHMETIC = frozenset({"+", "-", "*", "/"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def children(node: Node) -> tuple[Node, ...]:
    """Return the direct sub-expressions of a node."""
    if isinstance(node, (Negate, Not)):
        return (node.operand,)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.options)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Node):
    """Yield a node and all nodes below it, parents first."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
