"""Approve and close periods, and carry changes to closed periods forward.

Maker-checker: the user who ran a period's latest calculation cannot approve it. Only
an approved period can be closed, periods close in date order, and a closed period
cannot be reopened. Its recorded results and issued statements never change.

Prior-period adjustments: data dated inside a closed period may change later (a late
deal, a corrected amount or rate, a cancellation). The calculation of the first open
period then recomputes the closed period as of now and compares the result with what
was paid: the closed run's results plus prior-period adjustments already paid in later
closed periods. It pays the difference as adjustments naming the closed period, the
cause and the deals. The calculation service provides the recomputation and stores the
adjustments through ``period_service.record_calculation``:

    prior = close_service.prior_period_adjustments(unit.connection, label, recompute)
    ... pass ``prior`` to the engine with the approved manual adjustments ...
    period_service.record_calculation(unit, label, run_id, prior_adjustments=prior)
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, and_, func, inspect, or_, select, true

from spm_desktop.domain import money
from spm_desktop.domain.canonical import canonical_json, fingerprint
from spm_desktop.exporting import safe
from spm_desktop.services import adjustment_service, audit_service, period_service
from spm_desktop.services.audit_service import AuditFilter
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import (
    ConflictError,
    NotFoundError,
    PeriodLockedError,
    PermissionDeniedError,
    ValidationError,
)
from spm_desktop.services.period_service import PeriodState
from spm_desktop.store import audit
from spm_desktop.store.tables.calc import calc_runs
from spm_desktop.store.tables.close import adjustments, inquiries, period_states
from spm_desktop.store.tables.core import audit_log

log = logging.getLogger(__name__)

PRIOR_PERIOD_REASON = "PRIOR_PERIOD"
# Result rows that are not earnings of their own: the payout total and the adjustments
# row (which a recomputation would otherwise count twice).
NOT_EARNINGS = frozenset({"total", "adjustments"})
REVERSAL_KINDS = frozenset({"reversal", "clawback"})


@dataclass(frozen=True)
class CloseOutcome:
    """The closed period and the warnings the user should read (no signed tie-out, open inquiries)."""

    period: PeriodState
    warnings: list[str] = field(default_factory=list)


# -- approve and close ----------------------------------------------------------------


def approve(workspace: Workspace, label: str) -> PeriodState:
    """Approve the latest calculation of a period as a user other than the one who ran it."""
    with workspace.transaction() as unit:
        before = period_service.state(unit.connection, label)
        _check_approvable(unit.connection, before, unit.user)
        after = replace(before, state="approved", approved_run_id=before.latest_run_id,
                        approved_by=unit.user, approved_at=period_service.now_utc())
        period_service.write_state(unit, before, after, "period.approve")
    log.info("period %s approved (run %s)", after.label, after.approved_run_id)
    return after


def approval_blocker(connection: Connection, label: str, user: str) -> str | None:
    """Return why ``user`` cannot approve the period now, or None when they can.

    The GUI shows this next to a disabled Approve button; ``approve`` raises the same
    reason as an error.
    """
    try:
        _check_approvable(connection, period_service.state(connection, label), user)
    except (ConflictError, PeriodLockedError, PermissionDeniedError) as error:
        return str(error)
    return None


def _check_run_without_errors(connection: Connection, period: PeriodState) -> None:
    """Reject approval of a run whose calculation reported errors (a failed formula, a plan conflict).

    Such a run pays 0 or nothing where the error sits, so paying it would be wrong.
    """
    run = connection.execute(
        select(calc_runs.c.status, calc_runs.c.problems).where(calc_runs.c.id == period.latest_run_id)
    ).first()
    if run is None or run.status != "complete_with_problems":
        return
    errors = [problem for problem in json.loads(run.problems or "[]") if problem.get("severity") == "error"]
    if not errors:
        return
    first = errors[0]
    where = first.get("participant_id") or first.get("component") or ""
    raise ConflictError(
        f"run {period.latest_run_id} of {period.label} has {len(errors)} calculation error(s), for example "
        f"{where + ': ' if where else ''}{first.get('message', first.get('code', ''))}; "
        f"fix the plan or data and recalculate {period.label} before approving"
    )


def _check_approvable(connection: Connection, period: PeriodState, user: str) -> None:
    if period.is_closed:
        raise PeriodLockedError(f"{period.label} is already closed; nothing is left to approve")
    if period.state == "open" or period.latest_run_id is None:
        raise ConflictError(f"{period.label} has not been calculated; run 'spm calc' for it first")
    if period.state == "approved":
        raise ConflictError(
            f"{period.label} is already approved by {period.approved_by} (run {period.approved_run_id}); "
            "close it, or recalculate it to approve a new run"
        )
    # User names compare without case, because Windows logins ignore it.
    if (period.calculated_by or "").casefold() == user.casefold():
        raise PermissionDeniedError(
            f"{user} ran the latest calculation of {period.label} (run {period.latest_run_id}); "
            "another user must approve it (maker-checker)"
        )
    _check_run_without_errors(connection, period)
    _check_prior_adjustments_current(connection, period)
    late = adjustment_service.decided_since(connection, period.label, period.calculated_at or "")
    if late:
        ids = ", ".join(str(value) for value in late)
        raise ConflictError(
            f"adjustment {ids} of {period.label} was approved after the latest calculation; "
            f"recalculate {period.label} so the payout includes it, then approve"
        )


def close(workspace: Workspace, label: str) -> CloseOutcome:
    """Close an approved period: lock its results, adjustments and plans effective inside it."""
    with workspace.transaction() as unit:
        connection = unit.connection
        before = period_service.state(connection, label)
        _check_closable(connection, before)
        warnings = close_warnings(connection, before.label)
        after = replace(before, state="closed", closed_by=unit.user, closed_at=period_service.now_utc(),
                        closed_inputs=period_inputs_fingerprint(connection, before))
        period_service.write_state(unit, before, after, "period.close")
        if warnings:
            unit.audit("period.close_warning", "period", after.label, after={"warnings": warnings})
    log.info("period %s closed with %d warnings", after.label, len(warnings))
    return CloseOutcome(after, warnings)


def _check_closable(connection: Connection, period: PeriodState) -> None:
    if period.is_closed:
        raise PeriodLockedError(f"{period.label} is already closed by {period.closed_by}")
    if period.state != "approved":
        hint = "calculate it, have another user approve it, then close it" if period.state == "open" \
            else "have a user other than the one who calculated it approve it first"
        raise ConflictError(f"{period.label} is {period.state}, not approved; {hint}")
    earlier = [other.label for other in period_service.list_periods(connection)
               if not other.is_closed and other.end_date is not None and period.start_date is not None
               and other.end_date < period.start_date]
    if earlier:
        raise ConflictError(
            f"{period.label} cannot close before {', '.join(earlier)}; periods close in date order, "
            "so close the earlier periods first"
        )
    _check_prior_adjustments_current(connection, period)
    unpaid = adjustment_service.decided_since(connection, period.label, period.calculated_at or "")
    if unpaid:
        ids = ", ".join(str(value) for value in unpaid)
        raise ConflictError(
            f"adjustment {ids} of {period.label} was approved after the approved calculation, so closing now "
            f"would never pay it; recalculate {period.label} and have it approved again"
        )
    pending = adjustment_service.pending_ids(connection, period.label)
    if pending:
        ids = ", ".join(str(value) for value in pending)
        raise ConflictError(
            f"adjustment {ids} of {period.label} is still pending; approve or reject it before closing, "
            "because a closed period's adjustments can no longer be decided"
        )


def _check_prior_adjustments_current(connection: Connection, period: PeriodState) -> None:
    """Reject a period whose prior-period adjustments predate the close of another period.

    That other period may have paid the same changes. Only a recalculation, which
    compares with what closed periods paid, finds what is still owed.
    """
    carried = connection.execute(select(adjustments.c.id).where(
        adjustments.c.period == period.label, adjustments.c.source == "prior_period")).first()
    if carried is None:
        return
    later_closes = [other.label for other in period_service.list_periods(connection)
                    if other.is_closed and (other.closed_at or "") > (period.calculated_at or "")]
    if later_closes:
        raise ConflictError(
            f"{period.label} carries prior-period adjustments calculated before {', '.join(later_closes)} closed, "
            f"which may have paid the same changes; recalculate {period.label} first"
        )


def close_warnings(connection: Connection, label: str) -> list[str]:
    """Return what a user should know before closing: no signed tie-out, open inquiries."""
    warnings = []
    tieout_warning = _tieout_warning(connection, label)
    if tieout_warning:
        warnings.append(tieout_warning)
    open_count = len(connection.execute(
        select(inquiries.c.id).where(inquiries.c.period == label, inquiries.c.state != "resolved")
    ).all())
    if open_count:
        warnings.append(f"{open_count} inquiries about {label} are not resolved yet")
    return warnings


def _tieout_warning(connection: Connection, label: str) -> str | None:
    """Warn when no tie-out of the period is signed off (and the workspace has a tie-out table).

    NOTE: the tie-out table is owned by another area; this reads it by reflection and
    treats a row with a non-empty ``signed_off_by`` (or ``status`` 'signed_off') as signed.
    """
    inspector = inspect(connection)
    if not inspector.has_table("tieouts"):
        return None
    from sqlalchemy import MetaData, Table

    table = Table("tieouts", MetaData(), autoload_with=connection)
    if "period" not in table.c:
        return None
    rows = connection.execute(select(table).where(table.c.period == label)).mappings().all()
    for row in rows:
        if row.get("signed_off_by") or row.get("status") == "signed_off":
            return None
    return f"no tie-out of {label} was signed off; tie credits and payouts out before paying"


# -- prior-period adjustments ------------------------------------------------------------


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
        causes.add("changed quota, draw or other input")
    return changes, tuple(sorted(causes))


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


def store_prior_period_adjustments(unit: UnitOfWork, label: str, run_id: int,
                                   found: Sequence[PriorPeriodAdjustment]) -> list[int]:
    """Replace the open period's prior-period adjustments with those of run ``run_id``; return the new ids.

    They are stored approved: the approval of the period's calculation covers them.
    """
    connection = unit.connection
    old = connection.execute(select(adjustments).where(
        adjustments.c.period == label, adjustments.c.source == "prior_period")).mappings().all()
    if old:
        connection.execute(adjustments.delete().where(
            adjustments.c.period == label, adjustments.c.source == "prior_period"))
        unit.audit("adjustment.prior_period_replace", "period_adjustments", label,
                   before=[dict(row) for row in old], after={"run_id": run_id})
    now = period_service.now_utc()
    new_ids = []
    for item in found:
        values = {
            "participant_id": item.participant_id, "period": label, "amount_minor": item.amount_minor,
            "currency": item.currency, "reason_code": PRIOR_PERIOD_REASON, "note": item.note,
            "author": unit.user, "created_at": now, "status": "approved", "approved_by": None,
            "approved_at": None, "decision_note": "approved with the period's calculation",
            "source": "prior_period", "source_period": item.source_period, "run_id": run_id,
            "detail": canonical_json(item.detail()),
        }
        new_id = connection.execute(adjustments.insert().values(**values)).inserted_primary_key[0]
        unit.audit("adjustment.prior_period", "adjustment", new_id,
                   after={**values, "id": new_id, "detail": json.loads(values["detail"])})
        new_ids.append(new_id)
    return new_ids



# -- integration with the calculation service ---------------------------------------------


def recompute_closed_period(connection: Connection, closed_label: str, *,
                            records: object = None) -> RecomputedPeriod | None:
    """Recalculate a closed period as of now with the plan versions its run recorded.

    Records (deals, splits, quotas, FX rates ...) are read as they are now, so a corrected
    rate or amount shows as a difference; earlier closed periods of the plan year are read
    as recorded. ``records`` (``calc_service.RecordFrames``) reuses record sets already
    loaded on this connection. Returns None when no record set changed since the period's run.
    """
    from spm_desktop.services import calc_service, plan_service
    from spm_desktop.store.tables.calc import calc_runs

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
    inputs = calc_service.read_inputs(connection, period.label, plans=plans, kind=calc_service.SCENARIO,
                                      records=records)  # type: ignore[arg-type]
    changed = [name for name, digest in inputs.fingerprints.items()
               if name.startswith("records.") and recorded_inputs.get(name) != digest]
    if not changed:
        return None
    log.info("recomputing closed period %s because %s changed", period.label, ", ".join(changed))
    prepared = calc_service.compute_runs(inputs, kind=calc_service.SCENARIO)
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

    Covers the deals dated inside the period and their credit splits, FX rates from
    ``FX_LOOKBACK_DAYS`` before it, and all participants, hierarchy rows and quotas. It
    reads the stored values in table order and leaves import lineage out, so
    re-importing the same values does not count as a change.
    NOTE: metric definitions are not covered. A recomputation reads the current metric
    versions, so a metric change after the close shows only with the next record change.
    """
    import datetime as dt

    from spm_desktop.store.tables.records import RECORD_TABLES

    if period.start_date is None or period.end_date is None:
        return None
    deals = RECORD_TABLES["deals"]
    splits = RECORD_TABLES["credit_splits"]
    fx_rates = RECORD_TABLES["fx_rates"]
    first, last = period.start_date.isoformat(), period.end_date.isoformat()
    fx_first = (period.start_date - dt.timedelta(days=FX_LOOKBACK_DAYS)).isoformat()
    in_period = deals.c.close_date.between(first, last)
    selections = {
        "deals": (deals, in_period),
        "credit_splits": (splits, splits.c.deal_id.in_(select(deals.c.deal_id).where(in_period))),
        "fx_rates": (fx_rates, fx_rates.c.date.between(fx_first, last)),
        **{name: (RECORD_TABLES[name], true()) for name in ("participants", "hierarchy", "quotas")},
    }
    digests = {name: _rows_digest(connection, table, condition) for name, (table, condition) in selections.items()}
    return fingerprint(digests)


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


# -- audit for finance ------------------------------------------------------------------


@dataclass(frozen=True)
class FinanceAuditFilter:
    """The audit trail filters of the Audit area: those of ``audit_service.AuditFilter`` plus period and participant.

    An entry belongs to a period when it is about the period itself or its recorded
    before/after names the period (calculation runs, adjustments, inquiries). It belongs
    to a participant when its before/after names the participant_id.
    """

    base: AuditFilter = field(default_factory=AuditFilter)
    period: str | None = None
    participant_id: str | None = None


def _finance_conditions(query_filter: FinanceAuditFilter) -> list:
    # NOTE: reuses the audit service's private filter builder so both areas filter alike.
    conditions = list(audit_service.filter_conditions(query_filter.base))
    if query_filter.period:
        label = query_filter.period.strip()
        pattern = f'%"period":{json.dumps(label)}%'
        conditions.append(or_(
            and_(audit_log.c.entity_type == "period", audit_log.c.entity_id == label),
            audit_log.c.after.like(pattern), audit_log.c.before.like(pattern),
        ))
    if query_filter.participant_id:
        pattern = f'%"participant_id":{json.dumps(query_filter.participant_id.strip())}%'
        conditions.append(or_(audit_log.c.after.like(pattern), audit_log.c.before.like(pattern)))
    return conditions


def count_audit_entries(workspace: Workspace, query_filter: FinanceAuditFilter) -> int:
    """Return how many audit entries match the filter."""
    with workspace.read() as connection:
        return connection.execute(
            select(func.count()).select_from(audit_log).where(and_(true(), *_finance_conditions(query_filter)))
        ).scalar_one()


def list_audit_entries(workspace: Workspace, query_filter: FinanceAuditFilter, *, offset: int = 0,
                       limit: int | None = None, newest_first: bool = True) -> list[audit.AuditEntry]:
    """Return the matching audit entries, newest first unless asked otherwise."""
    order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
    query = (select(audit_log).where(and_(true(), *_finance_conditions(query_filter)))
             .order_by(order).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    with workspace.read() as connection:
        return [audit.AuditEntry(**row._mapping) for row in connection.execute(query)]


def export_audit_entries(workspace: Workspace, target: Path, query_filter: FinanceAuditFilter) -> int:
    """Write the matching entries, oldest first, to .xlsx or .csv and audit the export; return the count."""
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ValidationError(f"cannot export the audit trail to {target.name}: use a .xlsx or .csv file name")
    entries = list_audit_entries(workspace, query_filter, newest_first=False)
    rows = [(e.seq, e.ts, e.user, e.action, e.entity_type, e.entity_id, e.before, e.after, e.prev_hash, e.hash)
            for e in entries]
    if suffix == ".csv":
        safe.write_csv(target, audit_service.EXPORT_HEADER, rows)
    else:
        _write_audit_xlsx(target, rows)
    shown = {"action": query_filter.base.action, "user": query_filter.base.user, "text": query_filter.base.text,
             "since": query_filter.base.since, "until": query_filter.base.until,
             "period": query_filter.period, "participant_id": query_filter.participant_id}
    with workspace.transaction() as unit:
        unit.audit("audit.export", "audit_trail", target.name,
                   after={"entries": len(rows), "format": suffix[1:], "filter": shown})
    return len(rows)


def _write_audit_xlsx(target: Path, rows: list[tuple]) -> None:
    import datetime as dt

    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target), {"strings_to_formulas": False, "strings_to_urls": False})
    # Fixed metadata, so the same entries export to the same bytes.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC), "author": "SPM Desktop"})
    sheet = workbook.add_worksheet("Audit trail")
    safe.write_xlsx_table(sheet, audit_service.EXPORT_HEADER, rows, safe.standard_formats(workbook))
    sheet.set_column(1, 1, 28)
    sheet.set_column(6, 7, 60)
    workbook.close()


@dataclass(frozen=True)
class PayoutTrace:
    """A participant's payout of a period followed to its run, inputs, approval and adjustments."""

    participant_id: str
    period: PeriodState
    run: object | None  # calc_service.RunSummary of the run that paid the period
    run_details: dict[str, object]
    results: list[object]  # calc_service.StoredResult rows of the participant in that run
    adjustments: list[adjustment_service.Adjustment]
    audit_entries: list[audit.AuditEntry]


def trace_payout(workspace: Workspace, participant_id: str, period: str) -> PayoutTrace:
    """Follow a participant's payout of a period to its calculation run, the inputs it read and its approval."""
    from spm_desktop.services import calc_service

    participant_id = participant_id.strip()
    with workspace.read() as connection:
        current = period_service.state(connection, period)
    run_id = current.latest_run_id
    if run_id is None:
        raise NotFoundError(f"{current.label} has not been calculated, so it has no payout to trace; calculate it first")
    run = calc_service.get_run(workspace, run_id)
    details = calc_service.run_details(workspace, run_id)
    with workspace.read() as connection:
        rows = [row for row in calc_service.results_of_runs(connection, [run_id])
                if row.participant_id == participant_id]
    if not rows:
        raise NotFoundError(
            f"run {run_id} of {current.label} has no result for participant {participant_id!r}; "
            "check the id, or whether the participant is on a plan in that period"
        )
    found = adjustment_service.list_adjustments(workspace, period=current.label, participant_id=participant_id)
    entries = _run_and_period_entries(workspace, run_id, current.label)
    return PayoutTrace(participant_id, current, run, details, rows, found, entries)


def _run_and_period_entries(workspace: Workspace, run_id: int, label: str) -> list[audit.AuditEntry]:
    query = select(audit_log).where(or_(
        and_(audit_log.c.entity_type == "calc_run", audit_log.c.entity_id == str(run_id)),
        and_(audit_log.c.entity_type == "period", audit_log.c.entity_id == label),
    )).order_by(audit_log.c.seq)
    with workspace.read() as connection:
        return [audit.AuditEntry(**row._mapping) for row in connection.execute(query)]


def run_of_entry(entry: audit.AuditEntry) -> int | None:
    """Return the calculation run an audit entry refers to (a run, a period state, a prior-period adjustment)."""
    if entry.entity_type == "calc_run" and entry.entity_id.isdigit():
        return int(entry.entity_id)
    after = json.loads(entry.after) if entry.after else {}
    if not isinstance(after, dict):
        return None
    for key in ("latest_run_id", "run_id"):
        value = after.get(key)
        if isinstance(value, int):
            return value
    return None


# -- content check for ``spm audit verify`` ----------------------------------------------

_PERIOD_ACTIONS = ("period.calculate", "period.approve", "period.close")
_ADJUSTMENT_ACTIONS = ("adjustment.create", "adjustment.approve", "adjustment.reject", "adjustment.prior_period")
_PERIOD_FIELDS = ("state", "latest_run_id", "approved_run_id", "calculated_by", "approved_by", "closed_by")
_ADJUSTMENT_FIELDS = ("participant_id", "period", "amount_minor", "currency", "reason_code", "status",
                      "approved_by", "source", "source_period")


def verify_close_records(connection: Connection) -> list[str]:
    """Compare every period state and adjustment row with the latest audit entry that wrote it.

    Returns one message per row edited, inserted or deleted outside the application.
    Prior-period adjustments that a recalculation replaced are deleted on purpose.
    """
    recorded: dict[tuple[str, str], dict] = {}
    query = (select(audit_log.c.entity_type, audit_log.c.entity_id, audit_log.c.after)
             .where(audit_log.c.action.in_(_PERIOD_ACTIONS + _ADJUSTMENT_ACTIONS)).order_by(audit_log.c.seq))
    for entity_type, entity_id, after in connection.execute(query):
        recorded[(entity_type, entity_id)] = json.loads(after) if after else {}
    problems = []
    for row in connection.execute(select(period_states)).mappings():
        problems += _compare(recorded.pop(("period", row["label"]), None), row, _PERIOD_FIELDS,
                             f"period state {row['label']}")
    for row in connection.execute(select(adjustments)).mappings():
        problems += _compare(recorded.pop(("adjustment", str(row["id"])), None), row, _ADJUSTMENT_FIELDS,
                             f"adjustment {row['id']}")
    replaced = _replaced_adjustment_ids(connection)
    for entity_type, entity_id in sorted(recorded):
        if entity_type == "period" or entity_id not in replaced:
            problems.append(f"{entity_type.replace('_', ' ')} {entity_id} is in the audit trail but missing from "
                            "the workspace; it was deleted outside SPM Desktop")
    return problems


def _replaced_adjustment_ids(connection: Connection) -> set[str]:
    """Return ids of prior-period adjustments that a recalculation replaced (and so deleted)."""
    query = select(audit_log.c.before).where(audit_log.c.action == "adjustment.prior_period_replace")
    found = set()
    for (before,) in connection.execute(query):
        found.update(str(row["id"]) for row in json.loads(before or "[]"))
    return found


def _compare(expected: dict | None, row: Mapping[str, object], fields: tuple[str, ...], name: str) -> list[str]:
    if expected is None:
        return [f"{name} has no audit entry; it was written outside SPM Desktop"]
    changed = [column for column in fields if expected.get(column) != row[column]]
    if changed:
        return [f"{name} differs from its audit entry in {', '.join(changed)}; it was edited outside SPM Desktop"]
    return []


audit_service.register_content_check("period states and adjustments", verify_close_records)
