"""Approve and close periods, and carry changes to closed periods forward.

Maker-checker: the user who ran a period's latest calculation cannot approve it. Only
an approved period can be closed, periods close in date order, and a closed period
cannot be reopened. Its recorded results and issued statements never change.

Changes to closed periods are paid in the first open period as prior-period
adjustments; ``prior_period`` finds them and a close requires them to be current.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Connection, and_, func, inspect, or_, select, true

from spm_desktop.exporting import safe
from spm_desktop.services import adjustment_service, audit_service, period_service
from spm_desktop.services.audit_service import AuditFilter
from spm_desktop.services.calc.inputs import RECORD_SETS, load_records
from spm_desktop.services.calc.storing import PERIOD_RECORDS, RUN_ACTION, RUN_ENTITY
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import (
    ConflictError,
    NotFoundError,
    PeriodLockedError,
    PermissionDeniedError,
    ValidationError,
)
from spm_desktop.services.period_service import PeriodState
from spm_desktop.services.prior_period import period_inputs_fingerprint, span_record_digests
from spm_desktop.store import audit
from spm_desktop.store.tables.calc import calc_runs
from spm_desktop.store.tables.close import adjustments, inquiries, period_states
from spm_desktop.store.tables.core import audit_log

log = logging.getLogger(__name__)


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
        _reject_coarse_label(connection, period, "approve")
        raise ConflictError(f"{period.label} has not been calculated; run 'spm calc' for it first")
    if period.state == "approved":
        raise ConflictError(
            f"{period.label} is already approved by {period.approved_by} (run {period.approved_run_id}); "
            "close it, or recalculate it to approve a new run"
        )
    # User names compare without case, because Windows logins ignore it. The maker is
    # the user the run's audit entry recorded: the period row can be edited by hand.
    maker = _run_maker(connection, period.latest_run_id) or period.calculated_by or ""
    if maker.casefold() == user.casefold() or (period.calculated_by or "").casefold() == user.casefold():
        raise PermissionDeniedError(
            f"{maker} ran the latest calculation of {period.label} (run {period.latest_run_id}) and the acting "
            f"user is {user}; another user must approve it (maker-checker)"
        )
    _check_run_without_errors(connection, period)
    _check_records_unchanged(connection, period, period.latest_run_id, "approving")
    _check_prior_adjustments_current(connection, period)
    late = adjustment_service.decided_since(connection, period.label, period.calculated_at or "")
    if late:
        ids = ", ".join(str(value) for value in late)
        raise ConflictError(
            f"adjustment {ids} of {period.label} was approved after the latest calculation; "
            f"recalculate {period.label} so the payout includes it, then approve"
        )


def _run_maker(connection: Connection, run_id: int) -> str | None:
    """Return the user whose audit entry stored calculation run ``run_id``."""
    return connection.execute(
        select(audit_log.c.user).where(audit_log.c.action == RUN_ACTION, audit_log.c.entity_type == RUN_ENTITY,
                                       audit_log.c.entity_id == str(run_id)).order_by(audit_log.c.seq).limit(1)
    ).scalar_one_or_none()


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
    if period.state == "open":
        _reject_coarse_label(connection, period, "close")
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
    _check_records_unchanged(connection, period, period.approved_run_id, "closing")
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


def _reject_coarse_label(connection: Connection, period: PeriodState, verb: str) -> None:
    """Reject a label such as 2017 whose plan periods (2017-Q1 ...) carry the states, naming them.

    A calculation of a coarser label stores one state per plan period inside it, so
    approving and closing work on those plan periods one by one.
    """
    if period.start_date is None or period.end_date is None:
        return
    inside = [other.label for other in period_service.list_periods(connection)
              if other.label != period.label and other.start_date is not None and other.end_date is not None
              and period.start_date <= other.start_date and other.end_date <= period.end_date]
    if inside:
        raise ConflictError(
            f"{period.label} has no state of its own: its calculation stored the plan periods "
            f"{', '.join(inside)}; {verb} each of them, for example 'spm {verb} WORKSPACE --period {inside[0]}'"
        )


def close_blocker(connection: Connection, label: str) -> str | None:
    """Return why the period cannot be closed now, or None when it can.

    The GUI shows this next to a disabled Close button; ``close`` raises the same reason
    as an error.
    """
    try:
        _check_closable(connection, period_service.state(connection, label))
    except (ConflictError, PeriodLockedError) as error:
        return str(error)
    return None


def latest_audit_seq(connection: Connection) -> int:
    """Return the sequence number of the newest audit entry (0 for none); every service write appends one."""
    return connection.execute(select(func.max(audit_log.c.seq))).scalar_one() or 0


def records_changed_since_run(connection: Connection, run_id: int | None) -> list[str]:
    """Return the record sets whose records changed since run ``run_id`` read them.

    A run records, per record set, the digest of the records that can change its
    period's earnings (``prior_period.span_record_digests``: deals dated inside the
    period, their splits, recent FX rates, all participants, hierarchy and quotas).
    They are compared with the same digests now, without recalculating, so a deal
    dated in a later period does not count. Runs stored before those digests existed
    are compared on the fingerprints of whole record sets. Returns an empty list for a
    run that is not stored or recorded neither.
    """
    if run_id is None:
        return []
    run = connection.execute(select(calc_runs.c.inputs, calc_runs.c.period_start, calc_runs.c.period_end)
                             .where(calc_runs.c.id == run_id)).first()
    if run is None:
        return []
    recorded = json.loads(run.inputs or "{}")
    scoped = {name.removeprefix(PERIOD_RECORDS): digest for name, digest in recorded.items()
              if name.startswith(PERIOD_RECORDS)}
    if scoped:
        now = span_record_digests(connection, run.period_start, run.period_end)
        return [name for name, digest in scoped.items() if now.get(name) != digest]
    # NOTE: runs stored before period digests existed are compared on whole record sets,
    # so a change outside their period (a deal of a later quarter) also counts.
    names = [name for name in RECORD_SETS if f"records.{name}" in recorded]
    if not names:
        return []
    records = load_records(connection)
    return [name for name in names if records.fingerprint(name) != recorded[f"records.{name}"]]


def _check_records_unchanged(connection: Connection, period: PeriodState, run_id: int | None, action: str) -> None:
    """Reject approving or closing a run whose records changed after it read them.

    Closing fingerprints the records as they are at close time, so a change made after
    the calculation would count as paid although the run never read it.
    """
    changed = records_changed_since_run(connection, run_id)
    if changed:
        again = "" if action == "approving" else " and have it approved again"
        raise ConflictError(
            f"the {', '.join(changed)} records changed since run {run_id} of {period.label} read them; "
            f"recalculate {period.label}{again} before {action} it, so the payout includes the change"
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
    from spm_desktop.domain.canonical import canonical_json

    recorded: dict[tuple[str, str], dict] = {}
    query = (select(audit_log.c.entity_type, audit_log.c.entity_id, audit_log.c.after)
             .where(audit_log.c.action.in_(_PERIOD_ACTIONS + _ADJUSTMENT_ACTIONS)).order_by(audit_log.c.seq))
    for entity_type, entity_id, after in connection.execute(query):
        recorded[(entity_type, entity_id)] = json.loads(after) if after else {}

    # Besides who and what, the times, the close's records fingerprint and an adjustment's
    # notes and detail are compared, so none of them can be rewritten by hand either.
    period_fields = (*_PERIOD_FIELDS, "calculated_at", "approved_at", "closed_at", "closed_inputs")
    adjustment_fields = (*_ADJUSTMENT_FIELDS, "note", "author", "created_at", "approved_at", "decision_note",
                         "run_id", "inquiry_id", "detail")
    problems = []
    for row in connection.execute(select(period_states)).mappings():
        problems += _compare(recorded.pop(("period", row["label"]), None), row, period_fields,
                             f"period state {row['label']}")
    for row in connection.execute(select(adjustments)).mappings():
        expected = recorded.pop(("adjustment", str(row["id"])), None)
        if expected is not None and isinstance(expected.get("detail"), dict):
            # A prior-period adjustment's entry records its detail as JSON, the row as canonical JSON text.
            expected = {**expected, "detail": canonical_json(expected["detail"])}
        problems += _compare(expected, row, adjustment_fields, f"adjustment {row['id']}")
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
