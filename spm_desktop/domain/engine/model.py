"""Inputs and results of a calculation run: the stable API the services and faces build on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import pandas as pd

from spm_desktop.domain.engine.exact import EXACT_COLUMNS, exact_value
from spm_desktop.domain.money import minor_exponent
from spm_desktop.domain.plans import Plan
from spm_desktop.domain.problems import Problem

DRAW = "Draw"
ADJUSTMENTS = "Adjustments"
TOTAL = "TOTAL"


class MetricLike(Protocol):
    """The interface the engine needs of a compiled metric definition.

    ``record_values`` returns one value per record: for a currency metric, the amount in
    the record's own currency units (Decimal, int counts of 1/10,000 are not accepted);
    for a count, the count of the record.
    """

    key: str
    version: int
    unit: str
    date_field: str

    def select(self, frame: pd.DataFrame) -> pd.Series: ...

    def record_values(self, frame: pd.DataFrame) -> pd.Series: ...


@dataclass(frozen=True)
class HeldAmount:
    """Part of a deal's statement line kept back until the period that contains its release date."""

    participant_id: str
    plan: str
    component: str
    deal_id: str
    line_id: str | None
    held_in_period: str
    amount: Decimal
    until_field: str
    release_date: dt.date | None = None


@dataclass(frozen=True)
class RecordedPeriod:
    """The recorded figures of a closed period of the plan year, read instead of recalculating it.

    ``earnings`` maps (participant_id, component) to the component's rounded earnings.
    ``draw_balances`` maps participant_id to the draw balance after the period, and
    ``held`` lists the amounts still held after it. ``lines`` optionally maps
    (participant_id, component, deal_id, line_id, credit_kind) to a deal's exact line,
    so that clawbacks at the original rate use the recorded figure.
    """

    plan: str
    period: str
    earnings: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    draw_balances: Mapping[str, Decimal] = field(default_factory=dict)
    held: tuple[HeldAmount, ...] = ()
    lines: Mapping[tuple[str, str, str, str | None, str], Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class CalculationInputs:
    """Everything one calculation reads; frames follow ``domain.records``.

    ``period`` is a label (``2017-Q3``, ``2017``, ``FY2018-Q1``, ``2024-01-15``): each plan
    calculates its own periods inside it. Deals should reach back to the start of the plan
    year (and the clawback window before it), because year-to-date figures, draws, holds
    and clawbacks of open earlier periods are recalculated from them.
    """

    period: str
    plans: Sequence[Plan]
    participants: pd.DataFrame
    deals: pd.DataFrame
    metrics: Mapping[str, MetricLike]
    credit_splits: pd.DataFrame | None = None
    hierarchy: pd.DataFrame | None = None
    quotas: pd.DataFrame | None = None
    fx_rates: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None
    recorded: Sequence[RecordedPeriod] = ()


@dataclass(frozen=True)
class ResultRow:
    """One row of ``spm results``: a participant's component, Draw, Adjustments or TOTAL in a period."""

    participant_id: str
    participant_name: str
    period: str
    plan: str
    plan_version: int
    component: str
    metric_key: str | None
    metric_version: int | None
    metric_value: Decimal | None
    metric_unit: str | None
    quota: Decimal | None
    attainment: Decimal | None
    earnings: Decimal
    currency: str
    period_start: dt.date


# Columns of CalculationResult.lines, one row per statement line. The statement line and
# its paid and held parts are integer minor units of the plan currency (``plan_currency``)
# there. The unrounded line is the Decimal ``exact_coefficient * 10**exact_exponent`` (int64
# and int16), or ``exact_decimal`` on the rare line that does not fit them (see engine.exact),
# so a run of millions of lines makes no Decimal per line. ``exact_decimals(lines)`` returns them.
LINE_COLUMNS: tuple[str, ...] = (
    "participant_id", "period", "plan", "plan_version", "component", "kind",
    "deal_id", "line_id", "row_id", "batch_id", "source_row", "credit_kind", "via_participant_id",
    "share", "credit_date", "amount", "currency", "fx_rate", "credited", "bands", "rates",
    *EXACT_COLUMNS, "rounded_minor", "paid_now_minor", "held_minor", "note", "plan_currency",
)


@dataclass(frozen=True)
class ResultLine:
    """One statement line with its lineage to the imported record.

    ``kind`` is deal, reversal, clawback, true_up, cap, gate, bonus, formula,
    hold_release, draw or adjustment. ``bands`` are 1-based band numbers. ``exact`` is
    unrounded; ``rounded`` is the largest-remainder statement line; ``paid_now`` and
    ``held`` split it when the component holds part back. ``currency`` is the record's
    currency and ``plan_currency`` the currency of the earnings.
    """

    participant_id: str
    period: str
    plan: str
    plan_version: int
    component: str
    kind: str
    deal_id: str | None
    line_id: str | None
    row_id: Any
    batch_id: Any
    source_row: Any
    credit_kind: str | None
    via_participant_id: str | None
    share: Decimal | None
    credit_date: dt.date | None
    amount: Decimal | None
    currency: str | None
    fx_rate: Decimal | None
    credited: Decimal | None
    bands: tuple[int, ...]
    rates: tuple[Decimal, ...]
    exact: Decimal
    rounded: Decimal
    paid_now: Decimal
    held: Decimal
    note: str
    plan_currency: str


@dataclass(frozen=True)
class CalculationResult:
    """Rows, statement lines (a frame with ``LINE_COLUMNS``), balances, holds and problems of a run.

    ``draw_balances`` maps (participant_id, plan, period) to the balance after each period
    calculated. ``held`` lists the amounts still held after the last period calculated.
    """

    rows: tuple[ResultRow, ...]
    lines: pd.DataFrame
    draw_balances: Mapping[tuple[str, str, str], Decimal]
    held: tuple[HeldAmount, ...]
    problems: tuple[Problem, ...]
    periods: tuple[str, ...]

    def iter_lines(self) -> Iterator[ResultLine]:
        """Yield the statement lines as records."""
        for values in self.lines.itertuples(index=False, name=None):
            data = {key: (None if _missing(value) else value) for key, value in zip(LINE_COLUMNS, values, strict=True)}
            if isinstance(data["credit_date"], pd.Timestamp):
                data["credit_date"] = data["credit_date"].date()
            data["exact"] = exact_value(*(data.pop(column) for column in EXACT_COLUMNS))
            exponent = minor_exponent(data["plan_currency"])
            for name in ("rounded", "paid_now", "held"):
                data[name] = Decimal(int(data.pop(f"{name}_minor"))).scaleb(-exponent)
            data["note"] = data["note"] or ""
            yield ResultLine(**data)

    def rows_for(self, participant_id: str) -> list[ResultRow]:
        return [row for row in self.rows if row.participant_id == participant_id]

    def earnings(self, participant_id: str, component: str, period: str | None = None) -> Decimal:
        """Return the earnings of one row, raising KeyError when the row does not exist."""
        for row in self.rows:
            if row.participant_id == participant_id and row.component == component and (
                    period is None or row.period == period):
                return row.earnings
        raise KeyError(f"no result row for participant {participant_id!r}, component {component!r}")


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)
