"""Export approved payouts to payroll: one row per participant and plan period.

Only the approved run of each plan period is exported (the TOTAL rows of ``spm results``);
a period that is calculated but not approved is rejected with what to do next. Each
export is recorded in the audit trail with its period, runs, file SHA-256 and totals. A
second export of a plan period that payroll already received is rejected unless the
caller passes ``again=True``, because payroll would pay the same payouts twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, select

from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.exporting.payroll import PAYROLL_FORMATS, PayrollRow, write_payroll
from spm_desktop.services import calc_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError
from spm_desktop.store.tables.calc import calc_runs
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import participants

log = logging.getLogger(__name__)

EXPORT_ACTION = "payroll.export"


@dataclass(frozen=True)
class EarlierExport:
    """A payroll export recorded in the audit trail that covered some of the same plan periods."""

    exported_at: str
    user: str
    label: str  # the period label the export requested
    run_ids: tuple[int, ...]
    periods: tuple[str, ...]  # plan periods of those runs that the new export covers too
    file_name: str
    totals: dict[str, str]

    def describe(self) -> str:
        """Return 'by USER at TIME (runs, file, totals)' for messages."""
        totals = ", ".join(f"{amount} {currency}" for currency, amount in sorted(self.totals.items())) or "0.00"
        runs = ", ".join(str(run_id) for run_id in self.run_ids)
        return f"by {self.user} at {self.exported_at} (run {runs}, file {self.file_name}, total {totals})"


class PayrollAlreadyExportedError(ConflictError):
    """A payroll export of plan periods that payroll already received, without ``again``."""

    def __init__(self, message: str, earlier: list[EarlierExport]) -> None:
        super().__init__(message)
        self.earlier = earlier


@dataclass
class PayrollSummary:
    path: Path
    rows: int
    totals: dict[str, Decimal]
    file_sha256: str
    # Participants exported without a payroll id: payroll cannot match them to a person.
    missing_payroll_ids: list[str] = field(default_factory=list)
    # Earlier exports of the same plan periods; not empty only for an export made with ``again``.
    earlier: list[EarlierExport] = field(default_factory=list)


def export_payroll(workspace: Workspace, period: str, path: Path | str, progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None, *, again: bool = False) -> PayrollSummary:
    """Write the approved payouts of a period (or of the plan periods inside it) to a .csv or .xlsx file.

    Raises ConflictError when a plan period is calculated but not approved, naming the
    exported run a recalculation superseded. Raises PayrollAlreadyExportedError when an
    earlier export covered one of the plan periods, unless ``again`` is true. With
    ``again`` the summary lists those exports, so the caller can warn.
    """
    target = Path(path)
    if target.suffix.lower() not in PAYROLL_FORMATS:
        raise SpmError(f"cannot write payroll to {target.name}: use a .csv or .xlsx file name")
    progress(0, 0, "reading approved payouts")
    with workspace.read() as connection:
        runs = calc_service.current_runs(connection, period)
        if not runs:
            raise NotFoundError(f"no calculation of {period} is stored; calculate and approve it before "
                                "exporting payroll")
        earlier = earlier_exports(connection, [run.period for run in runs])  # type: ignore[attr-defined]
        approved_times = []
        for run in runs:
            state = period_service.state(connection, run.period)  # type: ignore[attr-defined]
            if state.state not in ("approved", "closed") or state.approved_run_id != run.id:  # type: ignore[attr-defined]
                _reject_superseded(run, earlier)
                raise ConflictError(
                    f"{run.period} is {state.state}, not approved; payroll takes approved payouts only. "  # type: ignore[attr-defined]
                    f"Approve it first with 'spm approve WORKSPACE --period {run.period}' "  # type: ignore[attr-defined]
                    "(as a user other than the one who calculated it)"
                )
            approved_times.append(state.approved_at or "")
        if earlier and not again:
            raise _already_exported(period, runs, earlier)
        payroll_ids = {row.participant_id: row.payroll_id or "" for row in connection.execute(
            select(participants.c.participant_id, participants.c.payroll_id))}
        stored = calc_service.results_of_runs(connection, [run.id for run in runs])  # type: ignore[attr-defined]
    if cancel is not None:
        cancel.raise_if_cancelled()

    rows = sorted(
        (PayrollRow(payroll_ids.get(row.participant_id, ""), row.participant_id, row.participant_name or "",
                    row.period, row.currency, row.earnings) for row in stored if row.row_kind == "total"),
        key=lambda row: (row.participant_id, row.period),
    )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.currency] += row.amount
    missing = [row.participant_id for row in rows if not row.payroll_id]
    created = dt.datetime.fromisoformat(max(approved_times)).astimezone(dt.UTC).replace(tzinfo=None)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        content = write_payroll(target, rows, created)
    except OSError as error:
        raise SpmError(f"cannot write {target} ({error.strerror}); choose another file") from error
    file_hash = sha256_hex(content)

    with workspace.transaction() as unit:
        unit.audit(EXPORT_ACTION, "payroll", period, after={
            "period": period, "runs": [run.id for run in runs], "file": target.name,  # type: ignore[attr-defined]
            "file_sha256": file_hash, "rows": len(rows),
            "totals": {currency: str(amount) for currency, amount in sorted(totals.items())},
            "missing_payroll_ids": missing,
            "again": bool(earlier), "earlier": [entry.exported_at for entry in earlier],
        })
    if missing:
        log.warning("payroll export of %s: %d participants have no payroll id", period, len(missing))
    log.info("exported payroll of %s: %d rows to %s", period, len(rows), target)
    progress(len(rows), len(rows), "payroll written")
    if earlier:
        log.warning("payroll of %s exported again after %d earlier exports", period, len(earlier))
    return PayrollSummary(target, len(rows), dict(totals), file_hash, missing, earlier)


def exports_of(workspace: Workspace, period: str) -> list[EarlierExport]:
    """Return the recorded payroll exports that covered a plan period of ``period``, oldest first."""
    with workspace.read() as connection:
        runs = calc_service.current_runs(connection, period)
        return earlier_exports(connection, [run.period for run in runs])  # type: ignore[attr-defined]


def earlier_exports(connection: Connection, plan_periods: list[str]) -> list[EarlierExport]:
    """Return the recorded payroll exports that covered any of these plan periods, oldest first.

    An export covers the plan periods of the runs it recorded, so exporting 2017 and
    then 2017-Q1 finds the first export too.
    """
    requested = set(plan_periods)
    entries = connection.execute(
        select(audit_log.c.ts, audit_log.c.user, audit_log.c.after)
        .where(audit_log.c.action == EXPORT_ACTION).order_by(audit_log.c.seq)
    ).all()
    found = []
    for ts, user, after_text in entries:
        after = json.loads(after_text or "{}")
        run_ids = tuple(int(run_id) for run_id in after.get("runs", ()))
        periods = _run_periods(connection, run_ids)
        covered = tuple(sorted(requested & set(periods.values())))
        if covered:
            found.append(EarlierExport(ts, user, str(after.get("period", "")), run_ids, covered,
                                       str(after.get("file", "")), dict(after.get("totals", {}))))
    return found


def _run_periods(connection: Connection, run_ids: tuple[int, ...]) -> dict[int, str]:
    if not run_ids:
        return {}
    query = select(calc_runs.c.id, calc_runs.c.period).where(calc_runs.c.id.in_(run_ids))
    return dict(connection.execute(query).all())


def _reject_superseded(run: object, earlier: list[EarlierExport]) -> None:
    """Reject exporting a plan period whose exported run a recalculation superseded."""
    label = run.period  # type: ignore[attr-defined]
    exported = [entry for entry in earlier if label in entry.periods]
    if not exported:
        return
    last = exported[-1]
    run_id = run.id  # type: ignore[attr-defined]
    raise ConflictError(
        f"{label} was recalculated in run {run_id} after its approved payouts were exported {last.describe()}, "
        f"and run {run_id} is not approved; approve it first with 'spm approve WORKSPACE --period {label}' "
        "(as a user other than the one who calculated it)"
    )


def _already_exported(period: str, runs: list[object], earlier: list[EarlierExport]) -> PayrollAlreadyExportedError:
    last = earlier[-1]
    current = {run.period: run.id for run in runs}  # type: ignore[attr-defined]
    same_runs = all(current.get(label) in last.run_ids for label in last.periods)
    source = "the same approved run" if same_runs else "an earlier approved run"
    message = (
        f"payroll of {', '.join(last.periods)} was already exported {last.describe()}, from {source}; "
        f"exporting {period} again makes payroll pay these payouts twice. Export again only if payroll did not "
        "process the earlier file (spm payroll --again, or confirm in the Statements area)"
    )
    return PayrollAlreadyExportedError(message, earlier)
