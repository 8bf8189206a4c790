"""The content check that ``spm audit verify`` runs over stored calculation runs.

It recomputes every row hash of every run and compares the rows with their stored
hashes and each table's chain hash with the one the run's audit entry recorded.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Table, select

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


def _recorded_runs(connection: Connection) -> dict[int, dict[str, object]]:
    query = select(audit_log.c.entity_id, audit_log.c.after).where(
        audit_log.c.action == RUN_ACTION, audit_log.c.entity_type == RUN_ENTITY)
    recorded = {}
    for entity_id, after in connection.execute(query):
        if entity_id.isdigit() and after:
            recorded[int(entity_id)] = json.loads(after)
    return recorded


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
    for run_id in sorted(set(recorded) - set(stored_runs)):
        problems.append(f"calculation run {run_id} is recorded in the audit trail but missing from the workspace")
    for run_id, run in sorted(stored_runs.items()):
        entry = recorded.get(run_id)
        if entry is None:
            problems.append(f"calculation run {run_id} has no audit entry (it was inserted outside SPM Desktop)")
            continue
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
