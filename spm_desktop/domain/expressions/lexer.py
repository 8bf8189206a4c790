"""Split expression text into tokens, each with its character offset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spm_desktop.domain.expressions.errors import ExpressionError

TokenKind = Literal["number", "string", "name", "keyword", "operator", "punct", "end"]

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
# Two-character operators first, so "<=" is not read as "<" then "=".
OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/")
PUNCTUATION = ("(", ")", ",")
# A number literal longer than this cannot be held exactly by the 34-digit decimal context.
MAX_NUMBER_DIGITS = 28


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    position: int
    value: str = ""


def _error(reason: str, expression: str, position: int) -> ExpressionError:
    return ExpressionError(reason, expression, position)


def tokenize(expression: str) -> list[Token]:
    """Return the tokens of an expression, ending with an ``end`` token."""
    tokens: list[Token] = []
    index = 0
    length = len(expression)
    while index < length:
        char = expression[index]
        if char.isspace():
            index += 1
        elif char.isdigit():
            index = _read_number(expression, index, tokens)
        elif char in "\"'":
            index = _read_string(expression, index, tokens)
        elif char == "`":
            index = _read_quoted_name(expression, index, tokens)
        elif char.isalpha() or char == "_":
            index = _read_name(expression, index, tokens)
        elif char == "." and index + 1 < length and expression[index + 1].isdigit():
            raise _error("a number needs a digit before the decimal point (write 0.5, not .5)", expression, index)
        else:
            index = _read_symbol(expression, index, tokens)
    tokens.append(Token("end", "", length))
    return tokens


def _read_number(expression: str, start: int, tokens: list[Token]) -> int:
    index = start
    while index < len(expression) and expression[index].isascii() and expression[index].isdigit():
        index += 1
    if index < len(expression) and expression[index] == ".":
        index += 1
        fraction_start = index
        while index < len(expression) and expression[index].isascii() and expression[index].isdigit():
            index += 1
        if index == fraction_start:
            raise _error("a decimal point must be followed by digits", expression, index - 1)
    if index < len(expression) and (expression[index].isalnum() or expression[index] in "_."):
        raise _error(f"invalid number {expression[start:index + 1]!r}", expression, start)
    text = expression[start:index]
    if not text.isascii():
        raise _error(f"invalid number {text!r}; use the digits 0-9", expression, start)
    if sum(char.isdigit() for char in text) > MAX_NUMBER_DIGITS:
        raise _error(f"number has more than {MAX_NUMBER_DIGITS} digits", expression, start)
    tokens.append(Token("number", text, start, text))
    return index


def _read_string(expression: str, start: int, tokens: list[Token]) -> int:
    quote = expression[start]
    index = start + 1
    parts: list[str] = []
    while index < len(expression):
        char = expression[index]
        if char == "\\" and index + 1 < len(expression) and expression[index + 1] in (quote, "\\"):
            parts.append(expression[index + 1])
            index += 2
            continue
        if char == quote:
            tokens.append(Token("string", expression[start:index + 1], start, "".join(parts)))
            return index + 1
        parts.append(char)
        index += 1
    raise _error(f"text starting here has no closing {quote}", expression, start)


def _read_quoted_name(expression: str, start: int, tokens: list[Token]) -> int:
    end = expression.find("`", start + 1)
    if end < 0:
        raise _error("field name starting here has no closing `", expression, start)
    name = expression[start + 1:end]
    if not name.strip():
        raise _error("empty field name between backquotes", expression, start)
    tokens.append(Token("name", expression[start:end + 1], start, name))
    return end + 1


def _read_name(expression: str, start: int, tokens: list[Token]) -> int:
    index = start
    while index < len(expression) and (expression[index].isalnum() or expression[index] == "_"):
        index += 1
    text = expression[start:index]
    if index < len(expression) and expression[index] == ".":
        raise _error(f"'.' after {text!r}: attribute access is not part of the expression language",
                     expression, index)
    if text.lower() in KEYWORDS:
        tokens.append(Token("keyword", text, start, text.lower()))
    else:
        tokens.append(Token("name", text, start, text))
    return index


def _read_symbol(expression: str, start: int, tokens: list[Token]) -> int:
    for operator in OPERATORS:
        if expression.startswith(operator, start):
            tokens.append(Token("operator", operator, start, operator))
            return start + len(operator)
    char = expression[start]
    if char in PUNCTUATION:
        tokens.append(Token("punct", char, start, char))
        return start + 1
    hints = {
        "=": "use == to compare",
        "[": "indexing is not part of the expression language",
        "&": "use and",
        "|": "use or",
        "!": "use not, or != to compare",
    }
    hint = hints.get(char)
    reason = f"unexpected character {char!r}" + (f"; {hint}" if hint else "")
    raise _error(reason, expression, start)
