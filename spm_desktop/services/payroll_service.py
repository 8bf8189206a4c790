"""Export approved payouts to payroll: one row per participant and plan period.

Only the approved run of each plan period is exported (the TOTAL rows of ``spm results``);
a period that is calculated but not approved is rejected with what to do next. The file's
SHA-256 is recorded in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from spm_desktop.domain.canonical import sha256_hex
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.exporting.payroll import PAYROLL_FORMATS, PayrollRow, write_payroll
from spm_desktop.services import calc_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, SpmError
from spm_desktop.store.tables.records import participants

log = logging.getLogger(__name__)

EXPORT_ACTION = "payroll.export"


@dataclass
class PayrollSummary:
    path: Path
    rows: int
    totals: dict[str, Decimal]
    file_sha256: str
    # Participants exported without a payroll id: payroll cannot match them to a person.
    missing_payroll_ids: list[str] = field(default_factory=list)


def export_payroll(workspace: Workspace, period: str, path: Path | str, progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> PayrollSummary:
    """Write the approved payouts of a period (or of the plan periods inside it) to a .csv or .xlsx file.

    Raises ConflictError when a plan period is calculated but not approved.
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
        approved_times = []
        for run in runs:
            state = period_service.state(connection, run.period)  # type: ignore[attr-defined]
            if state.state not in ("approved", "closed") or state.approved_run_id != run.id:  # type: ignore[attr-defined]
                raise ConflictError(
                    f"{run.period} is {state.state}, not approved; payroll takes approved payouts only. "  # type: ignore[attr-defined]
                    f"Approve it first with 'spm approve WORKSPACE --period {run.period}' "  # type: ignore[attr-defined]
                    "(as a user other than the one who calculated it)"
                )
            approved_times.append(state.approved_at or "")
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
        })
    if missing:
        log.warning("payroll export of %s: %d participants have no payroll id", period, len(missing))
    log.info("exported payroll of %s: %d rows to %s", period, len(rows), target)
    progress(len(rows), len(rows), "payroll written")
    return PayrollSummary(target, len(rows), dict(totals), file_hash, missing)
