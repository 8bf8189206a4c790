"""Turn pandas columns into typed vectors for whole-frame evaluation."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions.nodes import ValueType
from spm_desktop.domain.expressions.typecheck import KIND_TYPES
from spm_desktop.domain.expressions.values import ValueProblem, to_value
from spm_desktop.domain.expressions.vectorised import Vec, null_vec

# pandas.api.types.infer_dtype results and the value type each means.
_INFERRED_TYPES: dict[str, ValueType] = {
    "string": "text",
    "empty": "null",
    "decimal": "number",
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
    "boolean": "bool",
    "date": "date",
    "datetime": "date",
    "datetime64": "date",
}


def column_type(series: pd.Series, kind: str | None) -> ValueType:
    """Return the value type of a column from its declared field kind, else from its values.

    Raises ValueProblem when the values mix types (text and numbers, say).
    """
    if kind is not None:
        if kind not in KIND_TYPES:
            raise ValueProblem(f"unknown field kind {kind!r}")
        return KIND_TYPES[kind]
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred not in _INFERRED_TYPES:
        raise ValueProblem(f"contains values of mixed types ({inferred}); import it with one field kind")
    return _INFERRED_TYPES[inferred]


def load_column(series: pd.Series, kind: str | None) -> Vec:
    """Return a column as a typed vector; a ``money`` column contains int counts of 1/10,000."""
    value_type = column_type(series, kind)
    null = series.isna().to_numpy(dtype=bool)
    if value_type == "null" or null.all():
        return null_vec(len(series)) if value_type == "null" else _all_empty(value_type, len(series))
    if value_type == "number":
        return _numbers(series, kind, null)
    if value_type == "text":
        return _texts(series, null)
    if value_type == "bool":
        return _bools(series, null)
    return _dates(series, null)


def _all_empty(value_type: ValueType, size: int) -> Vec:
    from spm_desktop.domain.expressions.vectorised import _empty_of_type

    return _empty_of_type(value_type, size)


def _numbers(series: pd.Series, kind: str | None, null: np.ndarray) -> Vec:
    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        data = series.to_numpy(dtype=np.int64, na_value=0)
        return Vec("number", data, null, True, 4 if kind == "money" else 0)
    if kind == "money":
        raise ValueProblem(f"is a money column but has dtype {dtype}; money columns hold integer counts of 1/10,000")
    data = np.empty(len(series), dtype=object)
    data[:] = Decimal(0)
    values = series.to_numpy(dtype=object)
    for row in np.flatnonzero(~null):
        value, found = to_value(values[row])
        if found != "number":
            raise ValueProblem(f"must contain numbers but contains {values[row]!r}")
        data[row] = value
    return Vec("number", data, null)


def _texts(series: pd.Series, null: np.ndarray) -> Vec:
    values = series.to_numpy(dtype=object)
    # Without empty rows the column's own array serves as is; evaluation never writes into it.
    data = np.where(null, "", values) if null.any() else values
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred not in ("string", "empty"):
            bad = next(value for value in values[~null] if not isinstance(value, str))
            raise ValueProblem(f"must contain text but contains {bad!r}")
    return Vec("text", data, null)


def _bools(series: pd.Series, null: np.ndarray) -> Vec:
    if pd.api.types.is_bool_dtype(series.dtype):
        return Vec("bool", series.to_numpy(dtype=bool, na_value=False), null)
    values = series.to_numpy(dtype=object)
    data = np.zeros(len(series), dtype=bool)
    for row in np.flatnonzero(~null):
        value, found = to_value(values[row])
        if found != "bool":
            raise ValueProblem(f"must contain true/false but contains {values[row]!r}")
        data[row] = value
    return Vec("bool", data, null)


def _dates(series: pd.Series, null: np.ndarray) -> Vec:
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError) as error:
            raise ValueProblem(f"must contain dates ({error})") from None
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    nanoseconds = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return Vec("date", np.where(null, 0, nanoseconds), null)


def row_value(raw: object, kind: str | None, name: str) -> tuple[object, ValueType]:
    """Convert one record value, checking it against its declared kind."""
    value, found = to_value(raw, kind)
    if kind is None or found == "null":
        return value, (KIND_TYPES[kind] if kind is not None and kind in KIND_TYPES else found)
    expected = KIND_TYPES.get(kind)
    if expected is None:
        raise ValueProblem(f"field {name!r} has an unknown kind {kind!r}")
    if found != expected:
        raise ValueProblem(f"field {name!r} must contain {expected} but contains {raw!r}")
    return value, found
