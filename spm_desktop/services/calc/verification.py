"""The content checks that ``spm audit verify`` runs over calculation runs and the records they read.

The first recomputes every row hash of every run and compares the rows with their
stored hashes, each table's chain hash with the one the run's audit entry recorded,
and the run's user and inputs with that entry. The second finds records changed by
hand: inside closed periods, and since the newest official run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, Table, select

from spm_desktop.domain.canonical import fingerprint
from spm_desktop.services import audit_service
from spm_desktop.services.calc.hashing import (
    BALANCE_COLUMNS,
    LINE_COLUMNS,
    RESULT_COLUMNS,
    chain_digest,
    digest_cells,
)
from spm_desktop.services.calc.storing import RUN_ACTION, RUN_ENTITY
from spm_desktop.store.tables.calc import calc_balances, calc_runs, result_lines, results
from spm_desktop.store.tables.core import audit_log


@dataclass(frozen=True)
class RecordedRun:
    """A run's audit entry: its position in the trail, the acting user and the run summary it recorded."""

    seq: int
    user: str
    after: dict[str, object]


def _recorded_runs(connection: Connection) -> dict[int, RecordedRun]:
    query = select(audit_log.c.seq, audit_log.c.user, audit_log.c.entity_id, audit_log.c.after).where(
        audit_log.c.action == RUN_ACTION, audit_log.c.entity_type == RUN_ENTITY)
    recorded = {}
    for seq, user, entity_id, after in connection.execute(query):
        if entity_id.isdigit() and after:
            recorded[int(entity_id)] = RecordedRun(seq, user, json.loads(after))
    return recorded


def _check_run_row(run: object, entry: RecordedRun, superseded: set[int]) -> list[str]:
    """Compare a calc_runs row with its audit entry: user, period, kind, what it read and whether a later run replaced it."""
    changed = []
    if bool(run.superseded) != (run.id in superseded):  # type: ignore[attr-defined]
        changed.append("superseded")
    if run.user != entry.user:  # type: ignore[attr-defined]
        changed.append("user")
    for column in ("period", "kind", "input_fingerprint"):
        if getattr(run, column) != entry.after.get(column):
            changed.append(column)
    if _inputs_fingerprint(run.inputs) != entry.after.get("input_fingerprint"):  # type: ignore[attr-defined]
        changed.append("inputs")
    if not changed:
        return []
    message = (f"calculation run {run.id} differs from its audit entry in {', '.join(changed)}; "  # type: ignore[attr-defined]
               f"it was edited outside SPM Desktop (the trail records it as run by {entry.user})")
    return [message]


def _inputs_fingerprint(stored: str) -> str | None:
    """Return the fingerprint of a run's stored inputs, or None when they are not valid JSON any more."""
    try:
        return fingerprint(json.loads(stored))
    except ValueError:
        return None


def _check_table(connection: Connection, table: Table, columns: list[str], run_id: int, what: str,
                 recorded_hash: object) -> list[str]:
    problems = []
    recomputed = []
    query = select(*(table.c[name] for name in columns), table.c.row_hash).where(
        table.c.run_id == run_id).order_by(table.c.id)
    id_position = columns.index("id")
    for row in connection.execute(query.execution_options(yield_per=10_000)):
        values = tuple(row)
        digest = digest_cells(values[:-1])
        recomputed.append(digest)
        if digest != values[-1]:
            problems.append(f"{what} {values[id_position]} of calculation run {run_id} was changed outside "
                            "SPM Desktop (its content does not match its stored hash)")
    if not problems and chain_digest(recomputed) != recorded_hash:
        problems.append(f"the {what}s of calculation run {run_id} do not match the audit trail "
                        f"(rows were added, deleted or re-hashed outside SPM Desktop)")
    return problems


def verify_stored_results(connection: Connection) -> list[str]:
    """Recompute the row hashes of every run and compare them with the rows and the audit trail."""
    recorded = _recorded_runs(connection)
    problems: list[str] = []
    stored_runs = {row.id: row for row in connection.execute(select(calc_runs))}
    superseded = {int(run_id) for entry in recorded.values() for run_id in entry.after.get("superseded_runs") or ()}
    for run_id in sorted(set(recorded) - set(stored_runs)):
        problems.append(f"calculation run {run_id} is recorded in the audit trail but missing from the workspace")
    for run_id, run in sorted(stored_runs.items()):
        recorded_run = recorded.get(run_id)
        if recorded_run is None:
            problems.append(f"calculation run {run_id} has no audit entry (it was inserted outside SPM Desktop)")
            continue
        problems += _check_run_row(run, recorded_run, superseded)
        entry = recorded_run.after
        if (run.results_hash, run.lines_hash) != (entry.get("results_hash"), entry.get("lines_hash")):
            problems.append(f"calculation run {run_id} was changed outside SPM Desktop (its hashes differ "
                            "from the audit trail)")
        problems += _check_table(connection, results, RESULT_COLUMNS, run_id, "result row", entry.get("results_hash"))
        problems += _check_table(connection, result_lines, LINE_COLUMNS, run_id, "result line",
                                 entry.get("lines_hash"))
        problems += _check_table(connection, calc_balances, BALANCE_COLUMNS, run_id, "balance row",
                                 entry.get("balances_hash"))
    return problems


audit_service.register_content_check("calculation results", verify_stored_results)


# -- records changed by hand -------------------------------------------------------------

# Audited actions that write the record sets a calculation reads. A record change after
# the newest of these was made outside the application.
RECORD_WRITE_ACTIONS = ("records.import",)
_PERIOD_RECORD_SETS = "deals, credit splits, FX rates, participants, hierarchy or quotas"


def verify_records(connection: Connection) -> list[str]:
    """Find record sets changed outside the application, inside closed periods and since the last import's first run.

    A closed period is checked against the records fingerprint its close recorded in the
    audit trail, unless an audited import came later (prior-period adjustments pay that
    change). The stored ``records.*`` fingerprints of the period's approved run name
    which record set changed.
    NOTE: records of open periods are covered only after an official run read them: a
    hand edit before any run is calculated like an import, and is found only when a
    closed period it reaches is compared.
    """
    from spm_desktop.services.calc.inputs import load_records

    recorded_runs = _recorded_runs(connection)
    last_write = _newest_record_write(connection)
    frames = None
    problems = []
    for label, closed_inputs, approved_run_id, close_seq in _closed_periods(connection):
        if close_seq < last_write or _period_fingerprint(connection, label) == closed_inputs:
            continue
        frames = frames or load_records(connection)
        changed = _changed_sets(connection, frames, recorded_runs.get(approved_run_id), last_write)
        problems.append(f"records inside closed period {label} were changed outside SPM Desktop "
                        f"({changed}); no import was recorded after the period closed")
    since_run = _first_official_run_since(recorded_runs, last_write)
    if since_run is not None:
        frames = frames or load_records(connection)
        changed = _changed_sets(connection, frames, recorded_runs[since_run], last_write, strict=True)
        if changed:
            problems.append(f"records ({changed}) were changed outside SPM Desktop after calculation run "
                            f"{since_run}; no import was recorded since that run read them")
    return problems


def _newest_record_write(connection: Connection) -> int:
    from sqlalchemy import func

    query = select(func.max(audit_log.c.seq)).where(audit_log.c.action.in_(RECORD_WRITE_ACTIONS))
    return connection.execute(query).scalar_one() or 0


def _closed_periods(connection: Connection) -> list[tuple[str, object, object, int]]:
    """Return (label, closed_inputs, approved_run_id, entry id) of each close in the trail, newest per period.

    The values come from the close's audit entry, not from ``period_states``, so editing the
    stored fingerprint by hand hides nothing.
    """
    query = (select(audit_log.c.seq, audit_log.c.entity_id, audit_log.c.after)
             .where(audit_log.c.action == "period.close", audit_log.c.entity_type == "period")
             .order_by(audit_log.c.seq))
    closes = {}
    for seq, label, after in connection.execute(query):
        state = json.loads(after) if after else {}
        if isinstance(state, dict) and state.get("closed_inputs"):
            closes[label] = (label, state["closed_inputs"], state.get("approved_run_id"), seq)
    return list(closes.values())


def _period_fingerprint(connection: Connection, label: str) -> str | None:
    from spm_desktop.services import period_service
    from spm_desktop.services.prior_period import period_inputs_fingerprint

    return period_inputs_fingerprint(connection, period_service.state(connection, label))


def _first_official_run_since(recorded_runs: dict[int, RecordedRun], last_write: int) -> int | None:
    """Return the earliest official run after the newest audited record write.

    Every official run since that write read the same records, so comparing the earliest
    one with the records now also finds an edit that a later run already read.
    """
    from spm_desktop.services.calc.storing import OFFICIAL

    official = [(entry.seq, run_id) for run_id, entry in recorded_runs.items()
                if entry.after.get("kind") == OFFICIAL and entry.seq > last_write]
    return min(official)[1] if official else None


def _changed_sets(connection: Connection, frames: object, run: RecordedRun | None, last_write: int, *,
                  strict: bool = False) -> str:
    """Name the record sets whose current fingerprint differs from what ``run`` read.

    Without a usable run (none, or an import came after it) this returns every set a
    closed period covers, unless ``strict``, which then returns "".
    """
    from spm_desktop.services.calc.inputs import RECORD_SETS

    inputs = _run_inputs(connection, run) if run is not None and run.seq > last_write else None
    if inputs is None:
        return "" if strict else f"one of {_PERIOD_RECORD_SETS}"
    changed = [name.replace("_", " ") for name in RECORD_SETS
               if inputs.get(f"records.{name}") not in (None, frames.fingerprint(name))]  # type: ignore[attr-defined]
    return ", ".join(changed)


def _run_inputs(connection: Connection, run: RecordedRun) -> dict[str, str] | None:
    """Return the input fingerprints a run stored, when they still match its audit entry."""
    for (stored,) in connection.execute(select(calc_runs.c.inputs).where(
            calc_runs.c.input_fingerprint == run.after.get("input_fingerprint"))):
        if _inputs_fingerprint(stored) == run.after.get("input_fingerprint"):
            return json.loads(stored)
    return None


audit_service.register_content_check("imported records", verify_records)
