"""The expression language of filters, gates and formula components.

Our own tokenizer, parser, type checker and two evaluators (one record at a time, and a
whole pandas frame at once) over exact decimals; Python's eval and exec are never used.
Expressions have no attribute access, indexing or imports, at most ``MAX_LENGTH``
characters and at most ``MAX_DEPTH`` levels of nesting.

    compiled = compile_expression('stage == "Won" and amount >= 1000')
    mask = compiled.evaluate_mask(deals, field_kinds)          # whole frame
    value = evaluate_scalar("if(attainment >= 1, 0.01 * credit, 0)",
                            {"attainment": Decimal("1.2"), "credit": Decimal("5000")})
"""

from spm_desktop.domain.expressions.compiled import (
    Clause,
    CompiledExpression,
    clause_results,
    clauses,
    compile_expression,
    evaluate_scalar,
    failing_clauses,
)
from spm_desktop.domain.expressions.errors import ExpressionError
from spm_desktop.domain.expressions.nodes import ValueType
from spm_desktop.domain.expressions.parser import FUNCTION_ARITY, MAX_DEPTH, MAX_LENGTH
from spm_desktop.domain.expressions.typecheck import KIND_TYPES

__all__ = [
    "FUNCTION_ARITY",
    "KIND_TYPES",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Clause",
    "CompiledExpression",
    "ExpressionError",
    "ValueType",
    "clause_results",
    "clauses",
    "compile_expression",
    "evaluate_scalar",
    "failing_clauses",
]
