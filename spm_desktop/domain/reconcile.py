"""Reconcile two metric definitions (or two versions of one) on the same records and period.

The result contains both totals, the difference per participant, the
records counted by one definition and not the other with the reason for each, and the
records counted by both with different values.

NOTE: a participant here is the record's owner (deals) or participant_id (activities).
Credit splits and overlays are applied by the calculation, not by this comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions import ExpressionError, clause_results, clauses
from spm_desktop.domain.metrics import (
    CompiledMetric,
    MetricDefinition,
    compile_metric,
    participant_field,
    reversal_mask,
    reversal_references,
    source_field_kinds,
)
from spm_desktop.domain.money import CONTEXT
from spm_desktop.domain.records import record_set

PARTICIPANT_COLUMNS = ("participant_id", "value_a", "value_b", "difference")
DIFFERING_COLUMNS = ("record", "deal_id", "line_id", "type", "owner", "date", "value", "excluded_by", "reason")
CHANGED_COLUMNS = ("record", "deal_id", "line_id", "type", "owner", "date", "value_a", "value_b", "difference")


@dataclass(frozen=True)
class Reconciliation:
    """The comparison of definition A with definition B in one period.

    Differences are B minus A. ``only_a`` lists the records that A counts and B does not.
    Its ``excluded_by`` names what in B excluded each one: the clause(s) of B's filter, B's
    date field, or the deal that a reversal reverses. ``only_b`` is the same the other way round.
    """

    a: MetricDefinition
    b: MetricDefinition
    period_label: str
    start: dt.date
    end: dt.date
    total_a: Decimal
    total_b: Decimal
    participants: pd.DataFrame
    only_a: pd.DataFrame
    only_b: pd.DataFrame
    changed: pd.DataFrame
    comparable_records: bool

    @property
    def difference(self) -> Decimal:
        return CONTEXT.subtract(self.total_b, self.total_a)

    @property
    def label_a(self) -> str:
        return f"{self.a.key}@{self.a.version}"

    @property
    def label_b(self) -> str:
        return f"{self.b.key}@{self.b.version}"


@dataclass
class _Side:
    definition: MetricDefinition
    metric: CompiledMetric
    frame: pd.DataFrame
    counted: np.ndarray  # selected and dated inside the period
    selected: np.ndarray
    dated: np.ndarray
    values: pd.Series


def _side(definition: MetricDefinition, frame: pd.DataFrame, start: dt.date, end: dt.date) -> _Side:
    metric = compile_metric(definition, source_field_kinds(definition.source, frame))
    selected = metric.select(frame).to_numpy(dtype=bool)
    dated = metric.in_period(frame, start, end).to_numpy(dtype=bool)
    counted = selected & dated
    values = metric.record_values(frame, pd.Series(counted, index=frame.index))
    return _Side(definition, metric, frame, counted, selected, dated, values)


def reconcile(a: MetricDefinition, b: MetricDefinition, frames: Mapping[str, pd.DataFrame],
              period_label: str, start: dt.date, end: dt.date) -> Reconciliation:
    """Compare A and B on the records of their sources in the period ``[start, end]``.

    ``frames`` maps record set names to their frames (all periods, so reversals can find
    the deals they reverse). Raises ExpressionError when a definition cannot be evaluated.
    """
    side_a = _side(a, frames[a.source], start, end)
    side_b = _side(b, frames[b.source], start, end)
    total_a = side_a.metric.total(side_a.frame, pd.Series(side_a.counted, index=side_a.frame.index))
    total_b = side_b.metric.total(side_b.frame, pd.Series(side_b.counted, index=side_b.frame.index))
    participants = _participants(side_a, side_b)
    # "opportunities" is another name for "deals", so such a pair still compares record by record.
    comparable = record_set(a.source).name == record_set(b.source).name
    if comparable:
        only_a = _differing(side_a, side_b, side_a.counted & ~side_b.counted, period_label)
        only_b = _differing(side_b, side_a, side_b.counted & ~side_a.counted, period_label)
        changed = _changed(side_a, side_b)
    else:
        only_a = pd.DataFrame(columns=list(DIFFERING_COLUMNS))
        only_b = pd.DataFrame(columns=list(DIFFERING_COLUMNS))
        changed = pd.DataFrame(columns=list(CHANGED_COLUMNS))
    return Reconciliation(a, b, period_label, start, end, total_a, total_b, participants, only_a, only_b,
                          changed, comparable)


def _by_owner(side: _Side) -> pd.Series:
    field = participant_field(side.frame)
    if field is None:
        return pd.Series(dtype=object)
    return side.metric.aggregate(side.frame, by=field, selected=pd.Series(side.counted, index=side.frame.index))


def _participants(side_a: _Side, side_b: _Side) -> pd.DataFrame:
    per_a = _by_owner(side_a)
    per_b = _by_owner(side_b)
    owners = sorted(set(per_a.index) | set(per_b.index), key=str)
    rows = []
    for owner in owners:
        value_a = per_a.get(owner, Decimal(0))
        value_b = per_b.get(owner, Decimal(0))
        rows.append((owner, value_a, value_b, CONTEXT.subtract(value_b, value_a)))
    return pd.DataFrame(rows, columns=list(PARTICIPANT_COLUMNS))


def _record_identity(frame: pd.DataFrame, rows: np.ndarray, date_field: str) -> dict[str, list[object]]:
    if "_row_id" in frame.columns:
        record = frame["_row_id"].to_numpy()[rows].tolist()
    else:
        record = frame.index.to_numpy()[rows].tolist()
    identity: dict[str, list[object]] = {"record": record}
    for column in ("deal_id", "line_id", "type", "owner"):
        if column in frame.columns:
            values = frame[column].to_numpy(dtype=object)[rows]
            identity[column] = np.where(pd.isna(values), None, values).tolist()
        else:
            identity[column] = [None] * len(rows)
    if date_field in frame.columns:
        dates = pd.Series(pd.to_datetime(frame[date_field]).to_numpy()[rows])
        identity["date"] = [None if pd.isna(value) else value for value in dates.dt.date]
    else:
        identity["date"] = [None] * len(rows)
    return identity


def _differing(counted_by: _Side, other: _Side, where: np.ndarray, period_label: str) -> pd.DataFrame:
    rows = np.flatnonzero(where)
    if rows.size == 0:
        return pd.DataFrame(columns=list(DIFFERING_COLUMNS))
    data = _record_identity(counted_by.frame, rows, counted_by.definition.date)
    data["value"] = counted_by.values.to_numpy(dtype=object)[rows].tolist()
    excluded, reasons = _exclusions(other, rows, period_label)
    data["excluded_by"] = excluded
    data["reason"] = reasons
    return pd.DataFrame(data, columns=list(DIFFERING_COLUMNS))


def _exclusions(other: _Side, rows: np.ndarray, period_label: str) -> tuple[list[str], list[str]]:
    """Say for each row why ``other`` does not count it: its date, its filter clauses, or the reversed deal."""
    frame = other.frame
    reversal = reversal_mask(frame)
    references = reversal_references(frame) if reversal.any() else None
    originals = _original_rows(frame, reversal, references, rows) if references is not None else {}
    filter_rows = [row for row in rows if other.dated[row] and not reversal[row]]
    failing = _failing_clauses(other, sorted(set(filter_rows) | set(originals.values())))

    excluded: list[str] = []
    reasons: list[str] = []
    date_field = other.definition.date
    for row in rows:
        if not other.dated[row]:
            value = frame[date_field].iloc[row] if date_field in frame.columns else None
            date_text = "empty" if pd.isna(value) else pd.Timestamp(value).date().isoformat()
            excluded.append(f"date: {date_field}")
            reasons.append(f"{date_field} is {date_text}, outside {period_label}")
        elif reversal[row]:
            reference = references[row]  # type: ignore[index]
            excluded.append(f"reversed deal {reference}")
            original = originals.get(row)
            if original is None:
                reasons.append(f"reverses deal {reference}, which has no sale record")
            else:
                _texts, original_reason = failing.get(original, ([], "not selected"))
                reasons.append(f"reverses deal {reference}, for which {original_reason}")
        else:
            clause_texts, clause_reason = failing.get(row, ([], "not selected"))
            excluded.append(" and ".join(clause_texts) if clause_texts else "filter")
            reasons.append(clause_reason)
    return excluded, reasons


def _original_rows(frame: pd.DataFrame, reversal: np.ndarray, references: np.ndarray,
                   rows: np.ndarray) -> dict[int, int]:
    """Map each reversal among ``rows`` to the position of the first sale record of the deal it reverses."""
    deal_ids = frame["deal_id"].to_numpy(dtype=object)
    sales = pd.Series(np.flatnonzero(~reversal), index=deal_ids[~reversal])
    first_sale = sales[~sales.index.duplicated()].to_dict()
    found = {}
    for row in rows:
        if reversal[row] and references[row] in first_sale:
            found[int(row)] = int(first_sale[references[row]])
    return found


def _failing_clauses(other: _Side, rows: list[int]) -> dict[int, tuple[list[str], str]]:
    compiled = other.metric.filter
    if compiled is None or not rows:
        return {}
    subset = other.frame.iloc[rows]
    try:
        results = clause_results(compiled, subset, other.metric.field_kinds)
    except ExpressionError as error:
        return {row: ([], f"the filter cannot be evaluated: {error.reason}") for row in rows}
    parts = clauses(compiled)
    # Each record gets a code from the outcomes of all clauses (0 true, 1 false, 2 empty), so
    # the explanation is built once per combination of outcomes, not once per record.
    codes = np.zeros(len(rows), dtype=np.int64)
    for clause in parts:
        column = results[clause.index]
        empty = column.isna().to_numpy(dtype=bool)
        false = ~empty & ~column.fillna(True).to_numpy(dtype=bool)
        codes = codes * 3 + np.where(empty, 2, np.where(false, 1, 0))
    explanations = {int(code): _explain(parts, int(code)) for code in np.unique(codes)}
    return {row: explanations[int(code)] for row, code in zip(rows, codes, strict=True)}


def _explain(parts: list, code: int) -> tuple[list[str], str]:
    """Return the failing clause texts and the reason for one combination of clause outcomes."""
    outcomes = []
    for _clause in parts:
        outcomes.append(code % 3)
        code //= 3
    outcomes.reverse()
    texts = []
    reasons = []
    for clause, outcome in zip(parts, outcomes, strict=True):
        if outcome == 2:
            texts.append(clause.text)
            reasons.append(f"{clause.text} is empty (a field it needs has no value)")
        elif outcome == 1:
            texts.append(clause.text)
            reasons.append(f"{clause.text} is false")
    return texts, "; ".join(reasons) or "not selected"


def _changed(side_a: _Side, side_b: _Side) -> pd.DataFrame:
    # count_distinct gives 1 only on the first record of each value, so its per-record values
    # can differ between definitions without meaning anything. Such pairs list no changed values.
    if "count_distinct" in (side_a.metric.value_spec.aggregation, side_b.metric.value_spec.aggregation):
        return pd.DataFrame(columns=list(CHANGED_COLUMNS))
    both = side_a.counted & side_b.counted
    values_a = side_a.values.to_numpy(dtype=object)
    values_b = side_b.values.to_numpy(dtype=object)
    rows = np.flatnonzero(both & (values_a != values_b))
    if rows.size == 0:
        return pd.DataFrame(columns=list(CHANGED_COLUMNS))
    data = _record_identity(side_a.frame, rows, side_a.definition.date)
    data["value_a"] = [values_a[row] for row in rows]
    data["value_b"] = [values_b[row] for row in rows]
    data["difference"] = [CONTEXT.subtract(values_b[row], values_a[row]) for row in rows]
    return pd.DataFrame(data, columns=list(CHANGED_COLUMNS))
