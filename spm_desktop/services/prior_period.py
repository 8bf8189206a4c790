"""Prior-period adjustments: carry changes to closed periods into the first open period.

Data dated inside a closed period may change later (a late deal, a corrected amount or
rate, a cancellation). The official calculation of the first open period then
recomputes each closed period whose records changed. It uses the records as they are
now and the plan versions the closed run recorded. What was paid is the closed run's
results plus prior-period adjustments already paid in later closed periods, and the
difference is paid as adjustments naming the closed period, the cause and the deals:

    found = prior_period.apply_prior_period_adjustments(connection, inputs)  # engine inputs gain them
    ... run the engine and store the run ...
    adjustment_service.store_prior_period_adjustments(unit, label, run_id, found[label])
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, select, true

from spm_desktop.domain import money
from spm_desktop.domain.canonical import canonical_json, fingerprint
from spm_desktop.services import adjustment_service, period_service, plan_service
from spm_desktop.services.adjustment_service import PRIOR_PERIOD_REASON
from spm_desktop.services.calc.computing import compute_runs
from spm_desktop.services.calc.inputs import read_inputs
from spm_desktop.services.calc.storing import SCENARIO
from spm_desktop.services.period_service import PeriodState
from spm_desktop.store.tables.calc import calc_runs
from spm_desktop.store.tables.close import adjustments

log = logging.getLogger(__name__)

# Result rows that are not earnings of their own: the payout total and the adjustments
# row (which a recomputation would otherwise count twice).
NOT_EARNINGS = frozenset({"total", "adjustments"})
REVERSAL_KINDS = frozenset({"reversal", "clawback"})


@dataclass(frozen=True)
class RecomputedPeriod:
    """A closed period recalculated as of now, as rows shaped like the calc area's tables.

    ``results`` contains mappings with participant_id, participant_name, component,
    row_kind, earnings_minor and currency. ``lines`` contains mappings with
    participant_id, component, deal_id, line_kind and earnings_minor.
    """

    results: Sequence[Mapping[str, object]]
    lines: Sequence[Mapping[str, object]]
    # ``period_inputs_fingerprint`` of the records the recomputation read.
    inputs: str | None = None


# Called with a closed period's label; returns its recomputation, or None when no input
# of that period changed since it was calculated.
Recompute = Callable[[str], RecomputedPeriod | None]


@dataclass(frozen=True)
class PriorPeriodAdjustment:
    """A difference between a closed period recomputed now and what was paid for it."""

    participant_id: str
    participant_name: str | None
    period: str  # the open period that pays it
    source_period: str  # the closed period it corrects
    component: str
    amount_minor: int
    currency: str
    causes: tuple[str, ...]
    # Deal id -> difference in minor units, for deals whose earnings changed.
    deals: Mapping[str, int]
    # ``period_inputs_fingerprint`` of the closed period's records this difference was computed from.
    inputs: str | None = None

    reason_code = PRIOR_PERIOD_REASON

    @property
    def amount(self) -> Decimal:
        return money.from_minor(self.amount_minor, self.currency)

    @property
    def note(self) -> str:
        deal_text = f" (deals {', '.join(sorted(self.deals))})" if self.deals else ""
        return f"{self.source_period} {self.component}: {', '.join(self.causes)}{deal_text}"

    def detail(self) -> dict[str, object]:
        return {"component": self.component, "causes": list(self.causes), "deals": dict(self.deals),
                "participant_name": self.participant_name, "inputs": self.inputs}


_Key = tuple[str, str, str]  # participant_id, component, currency


@dataclass
class _Earnings:
    """Earnings per (participant, component, currency) and per deal within them, in minor units."""

    totals: dict[_Key, int] = field(default_factory=lambda: defaultdict(int))
    deals: dict[_Key, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    deal_kinds: dict[_Key, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    names: dict[str, str | None] = field(default_factory=dict)
    # the measured credit and the quota of each component row (None where empty)
    measures: dict[_Key, tuple[object, object]] = field(default_factory=dict)


def prior_period_adjustments(connection: Connection, open_label: str, recompute: Recompute) -> list[PriorPeriodAdjustment]:
    """Return the adjustments the first open period pays for changes inside closed periods.

    Returns an empty list when ``open_label`` is not the first open period (the changes
    are carried into that one instead). Raises PeriodLockedError for a closed label.
    """
    period_service.assert_period_open(connection, open_label)
    current = period_service.state(connection, open_label)
    closed = [period for period in period_service.list_periods(connection)
              if period.is_closed and period.latest_run_id is not None]
    if not _is_first_open(connection, current):
        return []
    found: list[PriorPeriodAdjustment] = []
    for period in closed:
        recomputed = recompute(period.label)
        if recomputed is None:
            continue
        paid = _paid_earnings(connection, period)
        now = _earnings_from_rows(recomputed.results, recomputed.lines)
        found.extend(_differences(period.label, current.label, paid, now, recomputed.inputs))
    return found


def _is_first_open(connection: Connection, current: PeriodState) -> bool:
    # NOTE: a period that was never calculated has no row, so calculating a later period
    # first carries the changes there. Closing in date order and
    # _check_prior_adjustments_current keep them from being paid twice.
    for period in period_service.list_periods(connection):
        if period.label == current.label or period.is_closed:
            continue
        if period.start_date and current.start_date and period.start_date < current.start_date:
            return False
    return True


def _calc_tables() -> tuple:
    from spm_desktop.store.tables.calc import result_lines, results

    return results, result_lines


def _paid_earnings(connection: Connection, period: PeriodState) -> _Earnings:
    """Read what was paid for a closed period: its run's earnings plus adjustments paid later."""
    results, result_lines = _calc_tables()
    result_rows = connection.execute(select(results).where(results.c.run_id == period.latest_run_id)).mappings().all()
    line_rows = connection.execute(
        select(result_lines).where(result_lines.c.run_id == period.latest_run_id)
    ).mappings().all()
    paid = _earnings_from_rows(result_rows, line_rows)
    for carried in _carried_adjustments(connection, period.label):
        detail = carried.details
        key = (carried.participant_id, str(detail.get("component", "")), carried.currency)
        paid.totals[key] += carried.amount_minor
        for deal_id, amount in dict(detail.get("deals") or {}).items():
            paid.deals[key][deal_id] += int(amount)
    return paid


def _carried_adjustments(connection: Connection, source_period: str) -> list[adjustment_service.Adjustment]:
    """Return prior-period adjustments of ``source_period`` that closed periods already paid."""
    closed_labels = [period.label for period in period_service.list_periods(connection) if period.is_closed]
    statement = select(adjustments).where(
        adjustments.c.source == "prior_period", adjustments.c.source_period == source_period,
        adjustments.c.period.in_(closed_labels),
    )
    return [adjustment_service.Adjustment(**row._mapping) for row in connection.execute(statement)]


def _earnings_from_rows(result_rows: Iterable[Mapping[str, object]],
                        line_rows: Iterable[Mapping[str, object]]) -> _Earnings:
    earnings = _Earnings()
    currencies: dict[tuple[str, str], str] = {}
    for row in result_rows:
        if str(row.get("row_kind", "component")).lower() in NOT_EARNINGS or row["component"] in ("TOTAL", "Adjustments"):
            continue
        participant = str(row["participant_id"])
        key = (participant, str(row["component"]), str(row["currency"]))
        earnings.totals[key] += int(row["earnings_minor"])  # type: ignore[call-overload]
        earnings.measures[key] = (_number(row.get("metric_value")), _number(row.get("quota")))
        earnings.names.setdefault(participant, row.get("participant_name"))  # type: ignore[arg-type]
        currencies[(participant, str(row["component"]))] = str(row["currency"])
    for line in line_rows:
        deal_id = line.get("deal_id")
        component = str(line["component"])
        participant = str(line["participant_id"])
        if deal_id is None or component in ("TOTAL", "Adjustments"):
            continue
        currency = str(line.get("currency") or currencies.get((participant, component), ""))
        key = (participant, component, currency)
        earnings.deals[key][str(deal_id)] += int(line["earnings_minor"])  # type: ignore[call-overload]
        earnings.deal_kinds[key][str(deal_id)].add(str(line.get("line_kind", "sale")))
    return earnings


def _differences(source_period: str, open_label: str, paid: _Earnings, now: _Earnings,
                 inputs: str | None) -> list[PriorPeriodAdjustment]:
    found = []
    for key in sorted(set(paid.totals) | set(now.totals)):
        difference = now.totals.get(key, 0) - paid.totals.get(key, 0)
        if difference == 0:
            continue
        participant, component, currency = key
        deals, causes = _deal_changes(key, paid, now, difference)
        found.append(PriorPeriodAdjustment(
            participant_id=participant,
            participant_name=now.names.get(participant) or paid.names.get(participant),
            period=open_label,
            source_period=source_period,
            component=component,
            amount_minor=difference,
            currency=currency,
            causes=causes,
            deals=deals,
            inputs=inputs,
        ))
    return found


def _deal_changes(key: _Key, paid: _Earnings, now: _Earnings, difference: int) -> tuple[dict[str, int], tuple[str, ...]]:
    """Return the deals whose earnings changed (with the change) and the causes of the difference."""
    paid_deals = paid.deals.get(key, {})
    now_deals = now.deals.get(key, {})
    changes: dict[str, int] = {}
    causes: set[str] = set()
    for deal_id in sorted(set(paid_deals) | set(now_deals)):
        change = now_deals.get(deal_id, 0) - paid_deals.get(deal_id, 0)
        if change == 0:
            continue
        changes[deal_id] = change
        causes.add(_deal_cause(deal_id, key, paid, now))
    if sum(changes.values()) != difference:
        causes.add(_other_cause(key, paid, now))
    return changes, tuple(sorted(causes))


def _other_cause(key: _Key, paid: _Earnings, now: _Earnings) -> str:
    """Name what moved a component beyond its own deal lines: its measured credit, its quota, or neither."""
    paid_credit, paid_quota = paid.measures.get(key, (None, None))
    now_credit, now_quota = now.measures.get(key, (None, None))
    if paid_credit != now_credit:
        return (f"changed credit measured by the component ({_shown(paid_credit)} -> {_shown(now_credit)}), "
                "such as a late or corrected deal of someone whose credit it counts")
    if paid_quota != now_quota:
        return f"changed quota ({_shown(paid_quota)} -> {_shown(now_quota)})"
    return "changed quota, draw or other input"


def _number(value: object) -> Decimal | None:
    """Read a stored figure as a Decimal, so "100.00" and "100.0" compare equal; None when empty or not a number."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _shown(value: Decimal | None) -> str:
    return "none" if value is None else f"{value:f}"


def _deal_cause(deal_id: str, key: _Key, paid: _Earnings, now: _Earnings) -> str:
    paid_kinds = paid.deal_kinds.get(key, {}).get(deal_id, set())
    now_kinds = now.deal_kinds.get(key, {}).get(deal_id, set())
    if now_kinds & REVERSAL_KINDS and not paid_kinds & REVERSAL_KINDS:
        return "cancellation"
    if deal_id not in paid.deals.get(key, {}):
        return "late deal"
    if deal_id not in now.deals.get(key, {}):
        return "removed deal"
    return "re-priced deal (amount, rate or tier changed)"


def recompute_closed_period(connection: Connection, closed_label: str, *,
                            records: object = None) -> RecomputedPeriod | None:
    """Recalculate a closed period as of now with the plan versions its run recorded.

    Records (deals, splits, quotas, FX rates ...) are read as they are now, so a corrected
    rate or amount shows as a difference. Earlier closed periods of the plan year are read
    as recorded. ``records`` (``calc_service.RecordFrames``) reuses record sets already
    loaded on this connection. Returns None when no record set changed since the period's run.
    """
    period = period_service.state(connection, closed_label)
    run = connection.execute(select(calc_runs).where(calc_runs.c.id == period.latest_run_id)).first()
    if run is None:
        return None
    current_inputs = period_inputs_fingerprint(connection, period)
    if current_inputs is not None and current_inputs == _paid_inputs(connection, period):
        return None
    recorded_inputs = json.loads(run.inputs)
    versions = json.loads(run.versions).get("plans", {})
    if not versions:
        return None
    plans = {name: plan_service.plan_for_calculation(connection, name, int(version))
             for name, version in versions.items()}
    inputs = read_inputs(connection, period.label, plans=plans, kind=SCENARIO,
                                      records=records)  # type: ignore[arg-type]
    changed = [name for name, digest in inputs.fingerprints.items()
               if name.startswith("records.") and recorded_inputs.get(name) != digest]
    if not changed:
        return None
    log.info("recomputing closed period %s because %s changed", period.label, ", ".join(changed))
    prepared = compute_runs(inputs, kind=SCENARIO)
    for item in prepared:
        if item.period_label == period.label:
            return RecomputedPeriod(item.result_rows, item.line_rows, current_inputs)
    return None


# Days before a closed period whose FX rates can still price its deals: a reversal is
# converted at the rate of the deal it reverses, which may be that old.
FX_LOOKBACK_DAYS = 366
# Columns that record where a record came from, not what it is.
_LINEAGE_COLUMNS = ("id", "batch_id", "source_row")


def period_inputs_fingerprint(connection: Connection, period: PeriodState) -> str | None:
    """Return SHA-256 over the records that can change a period's earnings; None without dates.

    The fingerprint of ``span_record_digests`` for the period's dates.
    NOTE: metric definitions are not covered. A recomputation reads the current metric
    versions, so a metric change after the close shows only with the next record change.
    """
    if period.start_date is None or period.end_date is None:
        return None
    return fingerprint(span_record_digests(connection, period.start_date, period.end_date))


def span_record_digests(connection: Connection, start: dt.date, end: dt.date) -> dict[str, str]:
    """Return SHA-256 per record set over the records that can change earnings between two dates.

    Covers the deals dated inside the span and their credit splits, FX rates from
    ``FX_LOOKBACK_DAYS`` before it, and all participants, hierarchy rows and quotas. It
    reads the stored values in table order and leaves import lineage out, so
    re-importing the same values does not count as a change.
    """
    from spm_desktop.store.tables.records import RECORD_TABLES

    deals = RECORD_TABLES["deals"]
    splits = RECORD_TABLES["credit_splits"]
    fx_rates = RECORD_TABLES["fx_rates"]
    first, last = start.isoformat(), end.isoformat()
    fx_first = (start - dt.timedelta(days=FX_LOOKBACK_DAYS)).isoformat()
    in_period = deals.c.close_date.between(first, last)
    selections = {
        "deals": (deals, in_period),
        "credit_splits": (splits, splits.c.deal_id.in_(select(deals.c.deal_id).where(in_period))),
        "fx_rates": (fx_rates, fx_rates.c.date.between(fx_first, last)),
        **{name: (RECORD_TABLES[name], true()) for name in ("participants", "hierarchy", "quotas")},
    }
    return {name: _rows_digest(connection, table, condition) for name, (table, condition) in selections.items()}


def _rows_digest(connection: Connection, table: object, condition: object) -> str:
    """Return SHA-256 over the stored values of the matching rows, without import lineage, in table order."""
    import hashlib

    columns = [column for column in table.c if column.name not in _LINEAGE_COLUMNS]  # type: ignore[attr-defined]
    query = select(*columns).where(condition).order_by(table.c.id)  # type: ignore[attr-defined]
    digest = hashlib.sha256(canonical_json([column.name for column in columns]).encode())
    # Stored record values are text, integers or NULL, whose repr is stable across runs.
    rows = [tuple(row) for row in connection.execute(query)]
    digest.update(repr(rows).encode())
    return digest.hexdigest()


def _paid_inputs(connection: Connection, period: PeriodState) -> str | None:
    """Return the records fingerprint that what was paid for a closed period corresponds to.

    That is the newest fingerprint of a prior-period adjustment of the period already
    paid in a closed period, else the fingerprint taken when the period closed.
    NOTE: a record change that alters no earnings leaves no adjustment behind, so the
    period is recomputed (to no difference) on every later calculation.
    """
    carried = sorted(_carried_adjustments(connection, period.label), key=lambda item: item.id)
    for adjustment in reversed(carried):
        inputs = adjustment.details.get("inputs")
        if inputs:
            return str(inputs)
    return period.closed_inputs


def apply_prior_period_adjustments(connection: Connection, inputs: object) -> dict[str, list[PriorPeriodAdjustment]]:
    """Add the prior-period adjustments of an official calculation to its engine inputs.

    ``inputs`` is a ``calc_service.RunInputs`` from ``calc_service.read_inputs``; it is
    changed in place. Closed periods are recomputed on its record sets, so the records
    are read once however many closed periods changed. Only the earliest period being
    calculated can be the first open period, so only it receives adjustments. Returns
    {period label: adjustments}, for ``period_service.record_calculation``.
    """
    import dataclasses

    periods = list(inputs.periods)  # type: ignore[attr-defined]
    if not periods:
        return {}
    label = periods[0]
    records = inputs.records  # type: ignore[attr-defined]
    found = prior_period_adjustments(
        connection, label, lambda closed: recompute_closed_period(connection, closed, records=records))
    if not found:
        return {}
    engine_inputs = inputs.engine_inputs  # type: ignore[attr-defined]
    extra = adjustment_service.adjustments_frame(connection, label, found)
    extra = extra[extra["source"] == "prior_period"][list(engine_inputs.adjustments.columns)]
    combined = pd.concat([engine_inputs.adjustments, extra], ignore_index=True)
    combined["amount"] = pd.array(combined["amount"].tolist(), dtype="Int64")
    inputs.engine_inputs = dataclasses.replace(engine_inputs, adjustments=combined)  # type: ignore[attr-defined]
    inputs.fingerprints["prior_period_adjustments"] = fingerprint(  # type: ignore[attr-defined]
        [[item.participant_id, item.source_period, item.component, item.amount_minor, item.currency]
         for item in found])
    return {label: found}


def carry_stored_adjustments(connection: Connection, inputs: object) -> None:
    """Add the approved prior-period adjustments stored for the periods of a scenario run to its engine inputs.

    The official run of an open period stores the prior-period adjustments it pays. A
    scenario pays the same stored amounts, as it does manual adjustments, so an unchanged
    copy of a plan shows no difference. ``inputs`` is changed in place.
    """
    import dataclasses

    from spm_desktop.services.calc.inputs import frame_fingerprint

    engine_inputs = inputs.engine_inputs  # type: ignore[attr-defined]
    frames = [engine_inputs.adjustments]
    for label in inputs.periods:  # type: ignore[attr-defined]
        stored = adjustment_service.query(connection, period=label, source="prior_period", status="approved")
        if stored:
            extra = adjustment_service.adjustments_frame(connection, label, sorted(stored, key=lambda item: item.id))
            frames.append(extra[extra["source"] == "prior_period"][list(engine_inputs.adjustments.columns)])
    if len(frames) == 1:
        return
    combined = pd.concat(frames, ignore_index=True)
    for column in ("amount", "adjustment_id"):
        combined[column] = pd.array(combined[column].tolist(), dtype="Int64")
    inputs.engine_inputs = dataclasses.replace(engine_inputs, adjustments=combined)  # type: ignore[attr-defined]
    inputs.fingerprints["adjustments"] = frame_fingerprint(combined)  # type: ignore[attr-defined]
