"""Compiled expressions: parse once, evaluate on a record, a frame or a set of variables."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions.columns import load_column, row_value
from spm_desktop.domain.expressions.errors import ExpressionError
from spm_desktop.domain.expressions.nodes import Call, Literal, Logical, Name, Node, ValueType, walk
from spm_desktop.domain.expressions.parser import CONTEXT_FUNCTIONS, parse
from spm_desktop.domain.expressions.rowwise import RowEvaluator
from spm_desktop.domain.expressions.typecheck import KIND_TYPES, TypeChecker
from spm_desktop.domain.expressions.values import Value, ValueProblem, to_value
from spm_desktop.domain.expressions.vectorised import FrameEvaluator, RowProblem, Vec, constant_vec, to_objects

# Columns that identify a record in error messages, first match wins.
RECORD_ID_FIELDS = ("deal_id", "participant_id", "record_id", "id")

ContextFunctions = Mapping[str, Callable[[str], object]]
# Type-check results kept per expression, one per combination of name types.
TYPE_CACHE_SIZE = 64


class CompiledExpression:
    """A parsed expression; evaluation never uses Python's eval or exec.

    ``text`` is the whole source and ``tree`` may be part of it (a clause of a filter), so
    positions in errors always refer to the whole source.
    """

    def __init__(self, text: str, tree: Node) -> None:
        self.text = text
        self.tree = tree
        self.names = frozenset(node.name for node in walk(tree) if isinstance(node, Name))
        self.context_functions = frozenset(
            node.function for node in walk(tree) if isinstance(node, Call) and node.function in CONTEXT_FUNCTIONS)
        self._type_cache: dict[tuple[tuple[str, str], ...], dict[Node, ValueType]] = {}
        self.metric_keys = frozenset(
            node.args[0].value for node in walk(tree)  # type: ignore[attr-defined]
            if isinstance(node, Call) and node.function == "metric")

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source_text!r})"

    @property
    def source_text(self) -> str:
        """Return the part of the text this expression covers."""
        return self.text[self.tree.start:self.tree.end]

    # Types

    def check_types(self, name_types: Mapping[str, str]) -> ValueType:
        """Return the result type for the given name kinds or types; raise ExpressionError on a mismatch.

        ``name_types`` maps names to field kinds (``money``, ``text``, ...) or value types
        (``number``, ``text``, ``bool``, ``date``).
        """
        types = {name: _kind_type(name, kind) for name, kind in name_types.items()}
        return self._typecheck(types)[self.tree]

    def _typecheck(self, types: Mapping[str, ValueType]) -> dict[Node, ValueType]:
        # Only the types of the names the expression uses matter, so results are cached by them.
        signature = tuple(sorted((name, types[name]) for name in self.names if name in types))
        cached = self._type_cache.get(signature)
        if cached is not None:
            return cached
        checker = TypeChecker(self.text, types)
        checker.check(self.tree)
        if len(self._type_cache) < TYPE_CACHE_SIZE:
            self._type_cache[signature] = checker.types
        return checker.types

    # One record or one set of variables

    def evaluate_scalar(self, variables: Mapping[str, object], functions: ContextFunctions | None = None) -> Value:
        """Evaluate with variables only (gates, formula components).

        ``functions`` supplies context functions, for example ``{"metric": lambda key: ...}``
        returning the participant's value of another metric as a Decimal.
        """
        return self.evaluate_row({}, variables, functions)

    def evaluate_row(self, record: Mapping[str, object], variables: Mapping[str, object] | None = None,
                     functions: ContextFunctions | None = None, field_kinds: Mapping[str, str] | None = None,
                     record_id: str | None = None) -> Value:
        """Evaluate on one record; a record's field wins over a variable of the same name.

        Money fields (``field_kinds[name] == "money"``) given as int are counts of 1/10,000.
        Dates come back as ``datetime.datetime`` (midnight for a plain date).
        """
        kinds = field_kinds or {}
        label = record_id if record_id is not None else _row_label(record)
        values: dict[str, Value] = {}
        types: dict[str, ValueType] = {}
        try:
            for name, raw in (variables or {}).items():
                values[name], types[name] = to_value(raw)
            for name in self.names:
                if name in record:
                    values[name], types[name] = row_value(record[name], kinds.get(name), name)
        except ValueProblem as problem:
            raise ExpressionError(str(problem), self.text, None, label) from None
        try:
            self._typecheck(types)
            return RowEvaluator(self.text, values, functions).evaluate(self.tree)
        except ExpressionError as error:
            raise error.with_context(record=label) from None

    # A whole frame

    def evaluate_frame(self, frame: pd.DataFrame, field_kinds: Mapping[str, str] | None = None,
                       variables: Mapping[str, object] | None = None) -> pd.Series:
        """Evaluate on every row of a frame at once and return a Series on the frame's index.

        Results: bool as pandas ``boolean`` (NA when empty), numbers as Decimal objects
        (None when empty), text as str objects, dates as ``datetime64[ns]``.
        """
        vec = self.evaluate_vector(frame, field_kinds, variables)
        return vec_to_series(vec, frame.index)

    def evaluate_mask(self, frame: pd.DataFrame, field_kinds: Mapping[str, str] | None = None,
                      variables: Mapping[str, object] | None = None) -> np.ndarray:
        """Return a bool array that is True where the expression is true (empty counts as not true)."""
        vec = self.evaluate_vector(frame, field_kinds, variables)
        if vec.type == "null":
            return np.zeros(len(frame), dtype=bool)
        if vec.type != "bool":
            raise ExpressionError(f"a condition must be true/false, but this gives {vec.type}", self.text,
                                  self.tree.start)
        return vec.data & ~vec.null  # type: ignore[operator]

    def evaluate_vector(self, frame: pd.DataFrame, field_kinds: Mapping[str, str] | None = None,
                        variables: Mapping[str, object] | None = None,
                        active: np.ndarray | None = None) -> Vec:
        """Evaluate on a frame and return the typed vector (fixed-point numbers stay integers)."""
        kinds = field_kinds or {}
        size = len(frame)
        loaders, types = self._frame_names(frame, kinds, variables or {}, size)
        node_types = self._typecheck(types)
        cache: dict[str, Vec] = {}

        def load(name: str) -> Vec:
            if name not in cache:
                cache[name] = loaders[name]()
            return cache[name]

        evaluator = FrameEvaluator(node_types, size, load)
        mask = np.ones(size, dtype=bool) if active is None else active
        try:
            return evaluator.evaluate(self.tree, mask)
        except RowProblem as problem:
            label = _frame_label(frame, problem.row)
            raise ExpressionError(problem.reason, self.text, problem.position, label) from None
        except ValueProblem as problem:
            raise ExpressionError(str(problem), self.text, self.tree.start) from None

    def _frame_names(self, frame: pd.DataFrame, kinds: Mapping[str, str], variables: Mapping[str, object],
                     size: int) -> tuple[dict[str, Callable[[], Vec]], dict[str, ValueType]]:
        from spm_desktop.domain.expressions.columns import column_type

        loaders: dict[str, Callable[[], Vec]] = {}
        types: dict[str, ValueType] = {}
        for name, raw in variables.items():
            try:
                value, value_type = to_value(raw)
            except ValueProblem as problem:
                raise ExpressionError(f"variable {name!r}: {problem}", self.text, None) from None
            types[name] = value_type
            loaders[name] = functools.partial(constant_vec, value, value_type, size)
        for name in self.names:
            if name not in frame.columns:
                continue
            series = frame[name]
            try:
                types[name] = column_type(series, kinds.get(name))
            except ValueProblem as problem:
                raise ExpressionError(f"column {name!r} {problem}", self.text, None) from None
            loaders[name] = functools.partial(_load_checked, series, kinds.get(name), name, self.text)
        # Known columns the expression does not use still help the unknown-name hint.
        for name in frame.columns:
            if isinstance(name, str) and name not in types:
                types[name] = KIND_TYPES.get(kinds.get(name, ""), "null")
        return loaders, types


def _load_checked(series: pd.Series, kind: str | None, name: str, text: str) -> Vec:
    try:
        return load_column(series, kind)
    except ValueProblem as problem:
        raise ExpressionError(f"column {name!r} {problem}", text, None) from None


def _kind_type(name: str, kind: str) -> ValueType:
    if kind not in KIND_TYPES:
        raise ExpressionError(f"name {name!r} has an unknown kind {kind!r}")
    return KIND_TYPES[kind]


def _row_label(record: Mapping[str, object]) -> str | None:
    for field in RECORD_ID_FIELDS:
        value = record.get(field) if hasattr(record, "get") else None
        if isinstance(value, str) and value:
            return f"{field} {value!r}"
    return None


def _frame_label(frame: pd.DataFrame, row: int) -> str:
    label = f"row {frame.index[row]!r}"
    for field in RECORD_ID_FIELDS:
        if field in frame.columns:
            value = frame[field].iloc[row]
            if isinstance(value, str) and value:
                return f"{label} ({field} {value!r})"
    return label


def vec_to_series(vec: Vec, index: pd.Index) -> pd.Series:
    """Convert a typed vector into a pandas Series with empty rows as NA, None or NaT."""
    if vec.type == "null":
        return pd.Series([None] * len(index), index=index, dtype=object)
    if vec.type == "bool":
        return pd.Series(pd.arrays.BooleanArray(vec.data.astype(bool), vec.null.copy()), index=index)  # type: ignore[union-attr]
    if vec.type == "date":
        data = vec.data.view("datetime64[ns]").copy()  # type: ignore[union-attr]
        data[vec.null] = np.datetime64("NaT")
        return pd.Series(data, index=index)
    values = to_objects(vec) if vec.type == "number" else vec.data
    data = np.array(values, dtype=object, copy=True)
    data[vec.null] = None
    return pd.Series(data, index=index, dtype=object)


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> CompiledExpression:
    """Parse an expression once; the result is immutable and cached by its text."""
    return CompiledExpression(text, parse(text))


def evaluate_scalar(expression: str | CompiledExpression, variables: Mapping[str, object],
                    functions: ContextFunctions | None = None) -> Value:
    """Evaluate an expression with variables only: the entry point for gates and formulas."""
    compiled = compile_expression(expression) if isinstance(expression, str) else expression
    return compiled.evaluate_scalar(variables, functions)


@dataclass(frozen=True)
class Clause:
    """Top-level operand of a filter's and-chain (an or inside it stays one clause)."""

    index: int
    text: str
    start: int
    end: int
    expression: CompiledExpression


def clauses(compiled: CompiledExpression) -> list[Clause]:
    """Split a filter into its and-chain clauses (a filter without and is one clause)."""
    tree = compiled.tree
    parts = tree.operands if isinstance(tree, Logical) and tree.operator == "and" else (tree,)
    return [Clause(index, compiled.text[part.start:part.end], part.start, part.end,
                   CompiledExpression(compiled.text, part))
            for index, part in enumerate(parts)]


def clause_results(compiled: CompiledExpression, frame: pd.DataFrame,
                   field_kinds: Mapping[str, str] | None = None,
                   variables: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Return one nullable boolean column per clause (named by its index) for every record.

    A clause that cannot be evaluated on a record where an earlier clause is already false
    (``quota != 0 and credit / quota > 1`` on quota 0) is NA there, because the filter
    itself never evaluates it on that record.
    """
    columns: dict[int, pd.Series] = {}
    not_false = np.ones(len(frame), dtype=bool)
    for clause in clauses(compiled):
        try:
            vec = clause.expression.evaluate_vector(frame, field_kinds, variables)
        except ExpressionError:
            vec = clause.expression.evaluate_vector(frame, field_kinds, variables, active=not_false)
            vec.null = vec.null | ~not_false
        series = vec_to_series(vec, frame.index)
        if vec.type == "null":
            series = pd.Series(pd.array([None] * len(frame), dtype="boolean"), index=frame.index)
        columns[clause.index] = series
        not_false &= ~(series.fillna(True).to_numpy(dtype=bool) == False)  # noqa: E712
    return pd.DataFrame(columns, index=frame.index)


def failing_clauses(compiled: CompiledExpression, record: Mapping[str, object],
                    variables: Mapping[str, object] | None = None,
                    field_kinds: Mapping[str, str] | None = None) -> list[Clause]:
    """Return the clauses that are not true for one record (false or empty)."""
    failing = []
    for clause in clauses(compiled):
        if clause.expression.evaluate_row(record, variables, field_kinds=field_kinds) is not True:
            failing.append(clause)
    return failing


def literal_text(node: Node) -> str | None:
    """Return the text of a text literal node, else None."""
    if isinstance(node, Literal) and node.type == "text":
        return node.value  # type: ignore[return-value]
    return None
