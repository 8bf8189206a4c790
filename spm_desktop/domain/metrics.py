"""Governed metric definitions: validation, compilation over record frames, metrics.yaml.

A metric selects records of one record set with a filter, places them in a period by a
date field and aggregates a value per participant (``sum(expr)``, ``count()``,
``count_distinct(field)`` or ``avg(expr)``).

Reversals (types refund, credit_note and cancellation) are selected exactly when the
deal they reverse (``reference_deal_id``, else their own ``deal_id``) has a sale record
that passes the filter. The filter is never evaluated on the reversal row itself, and
the reversal's own date places it in a period. Pass the frame with the original deals
(all periods) to ``select``, then restrict to a period with ``in_period``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions import (
    KIND_TYPES,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)
from spm_desktop.domain.expressions.vectorised import INT64_LIMIT, Vec, to_objects
from spm_desktop.domain.money import CONTEXT
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.records import RECORD_SETS, REVERSAL_TYPES, record_set

TIERS = ("primary", "supporting")
STATUSES = ("draft", "approved", "retired")
UNITS = ("currency", "count", "ratio", "days")
AGGREGATIONS = ("sum", "count", "count_distinct", "avg")
# The fields of metrics.yaml in the order they are written.
DOCUMENT_FIELDS = ("key", "name", "owner", "tier", "description", "source", "filter", "value", "date", "unit",
                   "version", "status")
REQUIRED_FIELDS = ("key", "name", "value")
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
_VALUE_PATTERN = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)

Aggregation = Literal["sum", "count", "count_distinct", "avg"]


@dataclass(frozen=True)
class MetricDefinition:
    """One version of a metric definition, with every value as metrics.yaml writes it.

    ``extra`` keeps keys of the document that this version of the application does not
    know, so loading and saving a document loses nothing.
    """

    key: str
    name: str
    value: str
    owner: str = ""
    tier: str = "supporting"
    description: str = ""
    source: str = "deals"
    filter: str = ""
    date: str = "close_date"
    unit: str = "currency"
    version: int = 1
    status: str = "draft"
    extra: Mapping[str, object] = field(default_factory=dict)

    def as_document(self) -> dict[str, object]:
        """Return the definition as one metrics.yaml entry (known keys first, in order)."""
        document: dict[str, object] = {name: getattr(self, name) for name in DOCUMENT_FIELDS}
        document.update(self.extra)
        return document

    def content(self) -> dict[str, object]:
        """Return what defines the metric's numbers and meaning, without version and status."""
        document = self.as_document()
        document.pop("version")
        document.pop("status")
        return document

    def with_changes(self, **changes: object) -> MetricDefinition:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ValueSpec:
    """The parsed ``value`` of a definition."""

    aggregation: Aggregation
    argument: str  # the expression of sum/avg, the field of count_distinct, "" for count
    offset: int  # position of ``argument`` inside the value text


def parse_value(text: str) -> ValueSpec:
    """Parse ``sum(expr)``, ``count()``, ``count_distinct(field)`` or ``avg(expr)``."""
    match = _VALUE_PATTERN.match(text or "")
    if not match:
        raise ExpressionError("value must be sum(expression), count(), count_distinct(field) or avg(expression)",
                              text or "", 0)
    aggregation = match.group(1)
    argument = match.group(2)
    offset = match.start(2)
    if aggregation not in AGGREGATIONS:
        raise ExpressionError(f"unknown aggregation {aggregation!r}; use sum, count, count_distinct or avg",
                              text, match.start(1))
    if aggregation == "count" and argument.strip():
        raise ExpressionError("count() takes no argument; put conditions in the filter", text, offset)
    if aggregation != "count" and not argument.strip():
        raise ExpressionError(f"{aggregation}() needs an argument", text, offset)
    return ValueSpec(aggregation, argument, offset)  # type: ignore[arg-type]


def source_field_kinds(source: str, frame: pd.DataFrame | None = None) -> dict[str, str | None]:
    """Return field kinds of a record set: the canonical fields, plus extra columns of a frame.

    Extra attributes have no declared kind (None), so their values decide their type.
    """
    spec = record_set(source)
    kinds: dict[str, str | None] = {spec_field.name: spec_field.kind for spec_field in spec.fields}
    if frame is not None:
        for column in frame.columns:
            if isinstance(column, str) and column not in kinds and not column.startswith("_"):
                kinds[column] = None
    return kinds


# Validation


def validate(definition: MetricDefinition, field_kinds: Mapping[str, str | None] | None = None) -> list[Problem]:
    """Check a definition and return every problem found (an empty list when it is valid).

    Without ``field_kinds`` a filter may use fields outside the record set's canonical
    fields (extra attributes of imported rows): each is reported as a warning. With
    ``field_kinds`` (from the actual records) such a name is an error.
    """
    problems: list[Problem] = []
    key = definition.key
    problems += _check_identity(definition)
    if definition.source not in RECORD_SETS and record_set_or_none(definition.source) is None:
        problems.append(_problem(key, "metric.source", "source", definition.source,
                                 f"unknown record set {definition.source!r}; use one of {', '.join(RECORD_SETS)}"))
        return problems
    known = dict(field_kinds) if field_kinds is not None else source_field_kinds(definition.source)
    strict = field_kinds is not None
    problems += _check_filter(definition, known, strict)
    problems += _check_value(definition, known, strict)
    problems += _check_date(definition, known)
    return problems


def record_set_or_none(name: str) -> object | None:
    try:
        return record_set(name)
    except KeyError:
        return None


def _problem(key: str, code: str, column: str, value: object, message: str,
             severity: Literal["error", "warning", "info"] = "error") -> Problem:
    return Problem(code=code, message=f"metric {key!r}: {message}" if key else message, severity=severity,
                   column=column, value=None if value is None else str(value))


def _check_identity(definition: MetricDefinition) -> list[Problem]:
    problems = []
    key = definition.key
    if not key or not KEY_PATTERN.match(key):
        problems.append(_problem(key, "metric.key", "key", key,
                                 "the key must start with a letter and contain only letters, digits, _ . or -"))
    if not definition.name.strip():
        problems.append(_problem(key, "metric.name", "name", definition.name, "the name is missing"))
    checks = (("tier", TIERS), ("status", STATUSES), ("unit", UNITS))
    for name, allowed in checks:
        value = getattr(definition, name)
        if value not in allowed:
            problems.append(_problem(key, f"metric.{name}", name, value,
                                     f"{name} {value!r} is invalid; use one of {', '.join(allowed)}"))
    if not isinstance(definition.version, int) or definition.version < 1:
        problems.append(_problem(key, "metric.version", "version", definition.version,
                                 "the version must be a whole number from 1"))
    return problems


def _name_types(expression: CompiledExpression, known: Mapping[str, str | None], strict: bool,
                definition: MetricDefinition, column: str) -> tuple[dict[str, str], list[Problem]]:
    """Return names with kinds for type checking, and warnings for extra attributes."""
    problems = []
    types: dict[str, str] = {}
    for name, kind in known.items():
        types[name] = kind if kind is not None else "null"
    for name in sorted(expression.names - set(known)):
        if strict:
            continue  # the type check reports it with a position
        types[name] = "null"
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(_problem(definition.key, "metric.extra_field", column, name,
                                 f"{name!r} is not a field of {definition.source}{hint}; it must be an extra "
                                 "attribute of the imported records", "warning"))
    return types, problems


def _expression_problem(definition: MetricDefinition, column: str, error: ExpressionError,
                        text: str, offset: int = 0) -> Problem:
    located = ExpressionError(error.reason, text, None if error.position is None else error.position + offset,
                              source=f"{column} of metric {definition.key!r}")
    return Problem(code=f"metric.{column}", message=str(located), column=column, value=text)


def _check_filter(definition: MetricDefinition, known: Mapping[str, str | None], strict: bool) -> list[Problem]:
    if not definition.filter.strip():
        return []
    try:
        compiled = compile_expression(definition.filter)
        types, problems = _name_types(compiled, known, strict, definition, "filter")
        result = compiled.check_types(types)
    except ExpressionError as error:
        return [_expression_problem(definition, "filter", error, definition.filter)]
    if result not in ("bool", "null"):
        error = ExpressionError(f"a filter must be true/false, but this gives {result}", definition.filter, 0)
        problems.append(_expression_problem(definition, "filter", error, definition.filter))
    return problems


def _check_value(definition: MetricDefinition, known: Mapping[str, str | None], strict: bool) -> list[Problem]:
    try:
        spec = parse_value(definition.value)
    except ExpressionError as error:
        return [_expression_problem(definition, "value", error, definition.value)]
    problems = []
    if spec.aggregation == "count_distinct":
        name = spec.argument.strip().strip("`")
        if name not in known:
            severity = "error" if strict else "warning"
            problems.append(_problem(definition.key, "metric.value", "value", name,
                                     f"count_distinct field {name!r} is not a field of {definition.source}",
                                     severity))
    elif spec.aggregation in ("sum", "avg"):
        try:
            compiled = compile_expression(spec.argument)
            types, warnings = _name_types(compiled, known, strict, definition, "value")
            problems += warnings
            result = compiled.check_types(types)
        except ExpressionError as error:
            return [_expression_problem(definition, "value", error, definition.value, spec.offset)]
        if result not in ("number", "null"):
            error = ExpressionError(f"{spec.aggregation}() needs a number, but this gives {result}",
                                    definition.value, spec.offset)
            problems.append(_expression_problem(definition, "value", error, definition.value))
    if spec.aggregation in ("count", "count_distinct") and definition.unit == "currency":
        problems.append(_problem(definition.key, "metric.unit", "unit", definition.unit,
                                 f"{spec.aggregation}() gives a count; set unit to count", "warning"))
    return problems


def _check_date(definition: MetricDefinition, known: Mapping[str, str | None]) -> list[Problem]:
    kind = known.get(definition.date, "missing")
    if kind == "missing":
        return [_problem(definition.key, "metric.date", "date", definition.date,
                         f"date field {definition.date!r} is not a field of {definition.source}")]
    if kind is not None and KIND_TYPES.get(kind) != "date":
        return [_problem(definition.key, "metric.date", "date", definition.date,
                         f"{definition.date!r} is not a date field")]
    return []


# Compilation


class CompiledMetric:
    """A definition compiled against the field kinds of its record set."""

    def __init__(self, definition: MetricDefinition, field_kinds: Mapping[str, str | None]) -> None:
        self.definition = definition
        self.field_kinds = {name: kind for name, kind in field_kinds.items() if kind is not None}
        self.filter = compile_expression(definition.filter) if definition.filter.strip() else None
        self.value_spec = parse_value(definition.value)
        self.value_expression: CompiledExpression | None = None
        if self.value_spec.aggregation in ("sum", "avg"):
            self.value_expression = compile_expression(self.value_spec.argument)

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def version(self) -> int:
        return self.definition.version

    @property
    def unit(self) -> str:
        return self.definition.unit

    @property
    def date_field(self) -> str:
        return self.definition.date

    @property
    def additive(self) -> bool:
        """True when per-record values add up to the metric (sum and count)."""
        return self.value_spec.aggregation in ("sum", "count")

    def _located(self, error: ExpressionError, part: str) -> ExpressionError:
        return error.with_context(source=f"{part} of metric {self.definition.key!r}")

    def filter_mask(self, frame: pd.DataFrame, active: np.ndarray | None = None) -> np.ndarray:
        """Return where the filter is true, evaluated only on ``active`` rows (default all)."""
        if self.filter is None:
            return np.ones(len(frame), dtype=bool) if active is None else active.copy()
        try:
            vec = self.filter.evaluate_vector(frame, self.field_kinds, active=active)
        except ExpressionError as error:
            raise self._located(error, "filter") from None
        if vec.type == "null":
            return np.zeros(len(frame), dtype=bool)
        if vec.type != "bool":
            raise self._located(ExpressionError(f"a filter must be true/false, but this gives {vec.type}",
                                                self.filter.text, 0), "filter")
        mask = vec.data & ~vec.null  # type: ignore[operator]
        return mask if active is None else mask & active

    def select(self, frame: pd.DataFrame) -> pd.Series:
        """Return a bool Series: which records count in this metric (any period)."""
        reversal = reversal_mask(frame)
        mask = self.filter_mask(frame, active=~reversal if reversal.any() else None)
        if reversal.any():
            passing = pd.unique(frame["deal_id"].to_numpy(dtype=object)[mask & ~reversal])
            rows = np.flatnonzero(reversal)
            references = reversal_references(frame)[rows]
            mask = mask.copy()
            mask[rows] = pd.Series(references, dtype=object).isin(passing).to_numpy(dtype=bool)
        return pd.Series(mask, index=frame.index, dtype=bool)

    def in_period(self, frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
        """Return where the metric's date field falls between start and end (inclusive)."""
        name = self.definition.date
        if name not in frame.columns:
            raise ExpressionError(f"date field {name!r} is not a column of the {self.definition.source} records",
                                  source=f"metric {self.definition.key!r}")
        try:
            column = pd.to_datetime(frame[name])
        except (TypeError, ValueError) as error:
            raise ExpressionError(f"date field {name!r} contains values that are not dates ({error})",
                                  source=f"metric {self.definition.key!r}") from None
        days = column.dt.normalize()
        inside = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
        return inside.fillna(False).astype(bool)

    def record_values(self, frame: pd.DataFrame, selected: pd.Series | None = None) -> pd.Series:
        """Return each record's contribution as Decimal: 0 where the record is not selected.

        sum and avg: the value expression (an empty value contributes 0). count: 1 for a
        sale, -1 for a cancellation, 0 for a refund or credit note (they reverse money, not
        deals). count_distinct: 1 on the first selected record of each distinct value in
        frame order, else 0. Only sum and count add up per record (see ``additive``).
        """
        return self.record_values_and_parts(frame, selected)[0]

    def record_values_and_parts(self, frame: pd.DataFrame, selected: pd.Series | None = None,
                                known: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> tuple[
            pd.Series, tuple[np.ndarray, np.ndarray] | None]:
        """Return ``record_values`` and, when the values are fixed-point, their int64 coefficients and int16 exponents.

        A value ``units / 10**scale`` is the Decimal with coefficient ``units`` and exponent
        ``-scale``; an empty record is Decimal 0 (coefficient 0, exponent 0). The engine stores
        lines from these parts instead of reading each Decimal back. ``known``, when given,
        receives the parts and returns the records whose Decimal the caller already has: those
        are None in the values, so no object is made for them.
        """
        mask = (self.select(frame) if selected is None else selected).to_numpy(dtype=bool)
        units = self._record_vec(frame, mask)
        parts = None
        empty = ~mask | units.null
        if units.fixed and units.data.dtype == np.int64 and units.scale < 2**15:
            parts = (np.where(empty, 0, units.data).astype(np.int64),
                     np.where(empty, 0, -units.scale).astype(np.int16))
        skip = known(*parts) if known is not None and parts is not None else None
        data = np.array(to_objects(units, mask if skip is None else mask & ~skip), dtype=object)
        data[empty] = Decimal(0)
        if skip is not None:
            data[skip] = None
        return pd.Series(data, index=frame.index, dtype=object), parts

    def _record_vec(self, frame: pd.DataFrame, mask: np.ndarray) -> Vec:
        size = len(frame)
        aggregation = self.value_spec.aggregation
        if aggregation == "count":
            kinds = frame["type"].to_numpy(dtype=object) if "type" in frame.columns else np.full(size, None)
            data = np.where(kinds == "cancellation", -1, np.where(reversal_mask(frame), 0, 1)).astype(np.int64)
            return Vec("number", data, np.zeros(size, dtype=bool), True, 0)
        if aggregation == "count_distinct":
            values = self._distinct_values(frame)
            first = ~pd.Series(values).where(mask).duplicated().to_numpy() & mask & ~pd.isna(values)
            return Vec("number", first.astype(np.int64), np.zeros(size, dtype=bool), True, 0)
        assert self.value_expression is not None
        try:
            vec = self.value_expression.evaluate_vector(frame, self.field_kinds, active=mask)
        except ExpressionError as error:
            raise self._located(error, "value") from None
        if vec.type == "null":
            return Vec("number", np.zeros(size, dtype=np.int64), np.ones(size, dtype=bool), True, 0)
        return vec

    def _distinct_values(self, frame: pd.DataFrame) -> np.ndarray:
        name = self.value_spec.argument.strip().strip("`")
        if name not in frame.columns:
            raise ExpressionError(f"count_distinct field {name!r} is not a column of the records",
                                  self.definition.value, self.value_spec.offset,
                                  source=f"value of metric {self.definition.key!r}")
        return frame[name].to_numpy(dtype=object)

    def aggregate(self, frame: pd.DataFrame, by: str = "owner", selected: pd.Series | None = None) -> pd.Series:
        """Return the metric per value of ``by`` (Decimal), for the selected records only.

        Owners with no selected record are absent; an avg whose records all have empty
        values is absent too.
        """
        mask = (self.select(frame) if selected is None else selected).to_numpy(dtype=bool)
        return self._aggregate(frame, frame[by].to_numpy(dtype=object), mask)

    def _aggregate(self, frame: pd.DataFrame, keys: np.ndarray, mask: np.ndarray) -> pd.Series:
        aggregation = self.value_spec.aggregation
        if aggregation == "count_distinct":
            values = self._distinct_values(frame)
            picked = pd.DataFrame({"key": keys[mask], "value": values[mask]}).dropna()
            counts = picked.groupby("key", sort=True)["value"].nunique()
            return counts.map(lambda count: Decimal(int(count))).astype(object)
        vec = self._record_vec(frame, mask)
        present = mask & ~vec.null
        if vec.fixed and aggregation != "avg":
            units = vec.data[mask]  # type: ignore[index]
            if units.size and int(np.abs(units).max()) * units.size > INT64_LIMIT:
                # The int64 sum could overflow, so sum Python integers, which cannot.
                units = units.astype(object)
            sums = pd.Series(units).groupby(keys[mask], sort=True).sum()
            return sums.map(lambda total: Decimal(int(total)).scaleb(-vec.scale)).astype(object)
        values = to_objects(vec, present)
        result: dict[object, list[Decimal]] = {}
        for key, value in zip(keys[present], values[present], strict=True):
            result.setdefault(key, []).append(value)
        if aggregation == "avg":
            totals = {key: CONTEXT.divide(_exact_sum(items), Decimal(len(items))) for key, items in result.items()}
        else:
            totals = {key: _exact_sum(items) for key, items in result.items()}
            for key in set(keys[mask]) - set(totals):
                totals[key] = Decimal(0)
        return pd.Series(dict(sorted(totals.items(), key=lambda item: str(item[0]))), dtype=object)

    def total(self, frame: pd.DataFrame, selected: pd.Series | None = None) -> Decimal:
        """Return the metric over all selected records (not the sum of per-owner avg or distinct counts)."""
        mask = (self.select(frame) if selected is None else selected).to_numpy(dtype=bool)
        result = self._aggregate(frame, np.zeros(len(frame), dtype=np.int64), mask)
        return result.iloc[0] if len(result) else Decimal(0)


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = Decimal(0)
    for value in values:
        total = CONTEXT.add(total, value)
    return total


# Fields that name the participant a record belongs to, by record set; the first present wins.
PARTICIPANT_FIELDS = ("owner", "participant_id")


def participant_field(frame: pd.DataFrame) -> str | None:
    """Return the column that names each record's participant (deals: owner, activities: participant_id)."""
    return next((name for name in PARTICIPANT_FIELDS if name in frame.columns), None)


def reversal_mask(frame: pd.DataFrame) -> np.ndarray:
    """Return where a record is a refund, credit note or cancellation."""
    if "type" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["type"].isin(REVERSAL_TYPES).to_numpy(dtype=bool)


def reversal_references(frame: pd.DataFrame) -> np.ndarray:
    """Return the deal each record reverses: reference_deal_id, else its own deal_id."""
    own = frame["deal_id"].to_numpy(dtype=object)
    if "reference_deal_id" not in frame.columns:
        return own
    reference = frame["reference_deal_id"].to_numpy(dtype=object)
    empty = pd.isna(reference) | (reference == "")
    return np.where(empty, own, reference)


def compile_metric(definition: MetricDefinition, field_kinds: Mapping[str, str | None] | None = None) -> CompiledMetric:
    """Compile a definition; raises ExpressionError naming the part of the definition that is invalid."""
    kinds = field_kinds if field_kinds is not None else source_field_kinds(definition.source)
    try:
        return CompiledMetric(definition, kinds)
    except ExpressionError as error:
        part = "filter" if definition.filter and error.expression == definition.filter else "value"
        raise error.with_context(source=f"{part} of metric {definition.key!r}") from None


# metrics.yaml


def _yaml_loader():
    from ruamel.yaml import YAML

    # The base loader reads every scalar as text: numbers stay exact and keys such as
    # "on" or "no" stay strings.
    return YAML(typ="base")


def load_metrics_yaml(text: str) -> tuple[list[MetricDefinition], list[Problem]]:
    """Read a metrics.yaml document; return the definitions and every problem found.

    Definitions with errors are left out of the list, and their problems give the reason.
    """
    from ruamel.yaml.error import YAMLError

    try:
        document = _yaml_loader().load(io.StringIO(text))
    except YAMLError as error:
        return [], [Problem("metric.yaml", f"metrics.yaml is not valid YAML: {error}")]
    entries = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return [], [Problem("metric.yaml", "metrics.yaml must have a top-level 'metrics:' list")]
    definitions: list[MetricDefinition] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        definition, entry_problems = _definition_from_entry(entry, index)
        if definition is not None and definition.key in seen:
            entry_problems.append(Problem("metric.duplicate", f"metric {definition.key!r} appears twice in the file",
                                          row=index, value=definition.key))
        problems += entry_problems
        if definition is not None and not any(problem.severity == "error" for problem in entry_problems):
            definitions.append(definition)
            seen.add(definition.key)
    return definitions, problems


def _definition_from_entry(entry: object, index: int) -> tuple[MetricDefinition | None, list[Problem]]:
    if not isinstance(entry, dict):
        return None, [Problem("metric.yaml", f"entry {index} of metrics is not a mapping of keys", row=index)]
    missing = [name for name in REQUIRED_FIELDS if not str(entry.get(name) or "").strip()]
    if missing:
        label = entry.get("key") or f"entry {index}"
        return None, [Problem("metric.missing", f"metric {label!r} is missing {', '.join(missing)}", row=index)]
    values: dict[str, object] = {}
    known = {item.name for item in fields(MetricDefinition)} - {"extra"}
    for name in DOCUMENT_FIELDS:
        if name in entry and entry[name] is not None:
            values[name] = entry[name] if isinstance(entry[name], str) else str(entry[name])
    problems: list[Problem] = []
    version_text = str(values.pop("version", "1")).strip()
    if not version_text.isdigit() or int(version_text) < 1:
        problems.append(Problem("metric.version", f"metric {values['key']!r}: version {version_text!r} is not a "
                                "whole number from 1", row=index, value=version_text))
        version = 1
    else:
        version = int(version_text)
    extra = {name: value for name, value in entry.items() if name not in known}
    definition = MetricDefinition(version=version, extra=extra, **values)  # type: ignore[arg-type]
    problems += [replace(problem, row=index) for problem in validate(definition)]
    return definition, problems


def dump_metrics_yaml(definitions: Iterable[MetricDefinition]) -> str:
    """Write definitions as a metrics.yaml document that ``load_metrics_yaml`` reads back unchanged."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = {"metrics": [definition.as_document() for definition in definitions]}
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()
