"""Recursive-descent parser of the expression language.

Precedence, lowest first: ``or``, ``and``, ``not``, comparisons and ``in``, ``+ -``,
``* /``, unary ``-``. Comparisons do not chain (``a < b < c`` is rejected; write
``a < b and b < c``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from spm_desktop.domain.expressions.errors import ExpressionError
from spm_desktop.domain.expressions.lexer import Token, tokenize
from spm_desktop.domain.expressions.nodes import (
    COMPARISONS,
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

MAX_LENGTH = 2000
# Nesting of parentheses, calls, `not` and unary minus.
MAX_DEPTH = 64
# Height of the syntax tree, which long operator chains also raise. The evaluators recurse
# once per level, so this limit keeps them far below Python's recursion limit.
MAX_TREE_HEIGHT = 200

# Function name -> (minimum, maximum) number of arguments; None means no maximum.
FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "if": (3, 3),
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "round": (1, 2),
    "lower": (1, 1),
    "contains": (2, 2),
    "starts_with": (2, 2),
    "coalesce": (1, None),
    "days_between": (2, 2),
    "date": (1, 1),
    # Provided by the calculation: the participant's value of another metric in the period.
    "metric": (1, 1),
}
# Functions whose value comes from the caller (see ``CompiledExpression.evaluate_scalar``).
CONTEXT_FUNCTIONS = frozenset({"metric"})
MAX_ROUND_DIGITS = 12


def parse(expression: str) -> Node:
    """Parse expression text into a syntax tree, raising ExpressionError with a position."""
    if not isinstance(expression, str):
        raise ExpressionError(f"an expression must be text, not {type(expression).__name__}")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(expression)} characters long; the limit is {MAX_LENGTH}",
                              expression[:MAX_LENGTH], MAX_LENGTH)
    if not expression.strip():
        raise ExpressionError("expression is empty", expression, 0)
    parser = _Parser(expression, tokenize(expression))
    tree = parser.parse_expression()
    token = parser.peek()
    if token.kind != "end":
        raise parser.error(f"unexpected {_describe(token)} after a complete expression", token)
    _check_height(tree, expression)
    return tree


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "end of expression"
    if token.kind == "string":
        return f"text {token.text}"
    if token.kind == "number":
        return f"number {token.text}"
    return f"{token.text!r}"


def _check_height(tree: Node, expression: str) -> None:
    from spm_desktop.domain.expressions.nodes import children

    stack = [(tree, 1)]
    while stack:
        node, height = stack.pop()
        if height > MAX_TREE_HEIGHT:
            raise ExpressionError(f"expression is nested more than {MAX_TREE_HEIGHT} levels deep; split it up",
                                  expression, node.start)
        stack.extend((child, height + 1) for child in children(node))


class _Parser:
    def __init__(self, expression: str, tokens: list[Token]) -> None:
        self.expression = expression
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # Token helpers

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.value == word

    def at(self, kind: str, text: str) -> bool:
        token = self.peek()
        return token.kind == kind and token.value == text

    def expect(self, kind: str, text: str, context: str) -> Token:
        token = self.peek()
        if token.kind != kind or token.value != text:
            raise self.error(f"expected {text!r} {context}, found {_describe(token)}", token)
        return self.advance()

    def error(self, reason: str, token: Token) -> ExpressionError:
        return ExpressionError(reason, self.expression, token.position)

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nests more than {MAX_DEPTH} levels deep", token)

    def leave(self) -> None:
        self.depth -= 1

    # Grammar, lowest precedence first

    def parse_expression(self) -> Node:
        return self.parse_or()

    def parse_or(self) -> Node:
        return self._parse_chain("or", self.parse_and)

    def parse_and(self) -> Node:
        return self._parse_chain("and", self.parse_not)

    def _parse_chain(self, word: str, parse_operand) -> Node:
        first = parse_operand()
        operands = [first]
        while self.at_keyword(word):
            self.advance()
            operands.append(parse_operand())
        if len(operands) == 1:
            return first
        return Logical(first.start, operands[-1].end, word, tuple(operands))

    def parse_not(self) -> Node:
        if not self.at_keyword("not"):
            return self.parse_comparison()
        token = self.advance()
        self.enter(token)
        operand = self.parse_not()
        self.leave()
        return Not(token.position, operand.end, operand)

    def parse_comparison(self) -> Node:
        left = self.parse_additive()
        token = self.peek()
        if token.kind == "operator" and token.value in COMPARISONS:
            self.advance()
            right = self.parse_additive()
            node: Node = Binary(left.start, right.end, token.value, left, right, token.position)
        elif self.at_keyword("in") or (self.at_keyword("not") and self._next_is_in()):
            node = self.parse_in(left)
        else:
            return left
        following = self.peek()
        if (following.kind == "operator" and following.value in COMPARISONS) or self.at_keyword("in"):
            raise self.error("comparisons cannot be chained; join them with and", following)
        return node

    def _next_is_in(self) -> bool:
        following = self.tokens[self.index + 1]
        return following.kind == "keyword" and following.value == "in"

    def parse_in(self, operand: Node) -> Node:
        negated = self.at_keyword("not")
        if negated:
            self.advance()
        self.advance()  # the keyword "in"
        opening = self.expect("punct", "(", "after in")
        self.enter(opening)
        options = [self.parse_expression()]
        while self.at("punct", ","):
            self.advance()
            options.append(self.parse_expression())
        closing = self.expect("punct", ")", "to close the list after in")
        self.leave()
        return In(operand.start, closing.position + 1, operand, tuple(options), negated)

    def parse_additive(self) -> Node:
        return self._parse_binary(("+", "-"), self.parse_multiplicative)

    def parse_multiplicative(self) -> Node:
        return self._parse_binary(("*", "/"), self.parse_unary)

    def _parse_binary(self, operators: tuple[str, ...], parse_operand) -> Node:
        left = parse_operand()
        while self.peek().kind == "operator" and self.peek().value in operators:
            token = self.advance()
            right = parse_operand()
            left = Binary(left.start, right.end, token.value, left, right, token.position)
        return left

    def parse_unary(self) -> Node:
        token = self.peek()
        if token.kind == "operator" and token.value == "-":
            self.advance()
            self.enter(token)
            operand = self.parse_unary()
            self.leave()
            if isinstance(operand, Literal) and operand.type == "number":
                return Literal(token.position, operand.end, -operand.value, "number")
            return Negate(token.position, operand.end, operand)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.advance()
        end = token.position + len(token.text)
        if token.kind == "number":
            return Literal(token.position, end, Decimal(token.value), "number")
        if token.kind == "string":
            return Literal(token.position, end, token.value, "text")
        if token.kind == "keyword" and token.value in ("true", "false"):
            return Literal(token.position, end, token.value == "true", "bool")
        if token.kind == "keyword" and token.value == "null":
            return Literal(token.position, end, None, "null")
        if token.kind == "name":
            if self.at("punct", "("):
                return self.parse_call(token)
            return Name(token.position, end, token.value)
        if token.kind == "punct" and token.value == "(":
            self.enter(token)
            inner = self.parse_expression()
            self.expect("punct", ")", "to close the parenthesis")
            self.leave()
            return inner
        raise self.error(f"expected a value, found {_describe(token)}", token)

    def parse_call(self, name: Token) -> Node:
        function = name.value
        if function not in FUNCTION_ARITY:
            known = ", ".join(sorted(FUNCTION_ARITY))
            raise self.error(f"unknown function {function!r}; the functions are {known}", name)
        opening = self.advance()
        self.enter(opening)
        args: list[Node] = []
        if not self.at("punct", ")"):
            args.append(self.parse_expression())
            while self.at("punct", ","):
                self.advance()
                args.append(self.parse_expression())
        closing = self.expect("punct", ")", f"to close the arguments of {function}()")
        self.leave()
        self._check_arity(name, len(args))
        call = Call(name.position, closing.position + 1, function, tuple(args))
        return self._fold_call(call, name)

    def _check_arity(self, name: Token, count: int) -> None:
        minimum, maximum = FUNCTION_ARITY[name.value]
        if count < minimum or (maximum is not None and count > maximum):
            if maximum is None:
                expected = f"at least {minimum}"
            elif minimum == maximum:
                expected = str(minimum)
            else:
                expected = f"{minimum} to {maximum}"
            raise self.error(f"{name.value}() takes {expected} argument(s), got {count}", name)

    def _fold_call(self, call: Call, name: Token) -> Node:
        """Check literal-only arguments and turn date("...") into a date literal."""
        if call.function == "date":
            return Literal(call.start, call.end, self._date_argument(call), "date")
        if call.function == "metric":
            argument = call.args[0]
            if not (isinstance(argument, Literal) and argument.type == "text"):
                raise self.error('metric() takes a metric key in quotes, such as metric("bookings")', name)
        if call.function == "round" and len(call.args) == 2:
            digits = call.args[1]
            if not (isinstance(digits, Literal) and digits.type == "number"
                    and digits.value == digits.value.to_integral_value()
                    and 0 <= digits.value <= MAX_ROUND_DIGITS):
                raise ExpressionError(
                    f"round() takes a whole number of decimals from 0 to {MAX_ROUND_DIGITS} as its second argument",
                    self.expression, digits.start)
        return call

    def _date_argument(self, call: Call) -> dt.datetime:
        argument = call.args[0]
        if not (isinstance(argument, Literal) and argument.type == "text"):
            raise ExpressionError('date() takes a date in quotes, such as date("2017-03-31")',
                                  self.expression, call.start)
        try:
            return dt.datetime.combine(dt.date.fromisoformat(argument.value.strip()), dt.time())
        except ValueError:
            raise ExpressionError(f"invalid date {argument.value!r}; write it as YYYY-MM-DD",
                                  self.expression, argument.start) from None
