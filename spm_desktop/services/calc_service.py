"""Calculate plan periods and store the runs with full lineage; read results back.

``calculate`` reads every input (records, plans in force, metric versions, quotas, FX
rates, adjustments, the recorded results of earlier closed periods of the plan year),
runs the domain engine, and stores each plan period's run with its results, lines and
balances in one transaction together with the run's audit entry and the period's new
state. A failure or a cancel before the commit leaves the workspace unchanged.

Every stored result, line and balance carries ``row_hash`` (SHA-256 of its canonical
content, id included) and the run's audit entry records a hash over each table's row
hashes. The content check registered with the audit service recomputes both, so
``spm audit verify`` names a result row that was edited outside the application.

Scenario runs (``kind="scenario"``) use the same engine with plans from the review
engineer's scenario; they never touch period states and never show in official results.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, Table, func, select

from spm_desktop.domain.canonical import canonical_json, fingerprint, sha256_hex
from spm_desktop.domain.money import from_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services import audit_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError
from spm_desktop.store.tables.calc import calc_balances, calc_runs, result_lines, results
from spm_desktop.store.tables.core import audit_log

log = logging.getLogger(__name__)

RUN_ACTION = "calc.run"
RUN_ENTITY = "calc_run"
OFFICIAL = "official"
SCENARIO = "scenario"


# -- row hashes -----------------------------------------------------------------------


def _hash_columns(table: Table) -> list[str]:
    return [column.name for column in table.c if column.name != "row_hash"]


_RESULT_COLUMNS = _hash_columns(results)
_LINE_COLUMNS = _hash_columns(result_lines)
_BALANCE_COLUMNS = _hash_columns(calc_balances)


def _plain(value: object) -> object:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_digest(columns: Sequence[str], values: dict[str, object] | object) -> str:
    """Return the SHA-256 of a stored row's content: its column values in table order, id included."""
    if isinstance(values, dict):
        content = [_plain(values.get(name)) for name in columns]
    else:
        mapping = values._mapping  # type: ignore[attr-defined]
        content = [_plain(mapping[name]) for name in columns]
    return sha256_hex(canonical_json(content))


def chain_digest(row_hashes: Iterable[str]) -> str:
    """Return the SHA-256 over row hashes in id order (what the run's audit entry records)."""
    return sha256_hex("\n".join(row_hashes))


# -- what a run stores -----------------------------------------------------------------


@dataclass
class PreparedRun:
    """One plan period's calculation, turned into table rows but not yet stored."""

    period_label: str
    period_start: dt.date
    period_end: dt.date
    kind: str
    scenario_id: int | None
    started_at: str
    inputs: dict[str, str]
    versions: dict[str, object]
    problems: list[Problem]
    result_rows: list[dict[str, object]]
    # Each line's dict carries "_result_key": the (participant_id, plan, component) of its result row.
    line_rows: list[dict[str, object]]
    balance_rows: list[dict[str, object]]
    period: object = None  # the domain Period, for the period state's span

    @property
    def input_fingerprint(self) -> str:
        return fingerprint(self.inputs)


@dataclass(frozen=True)
class RunSummary:
    """A stored run: its id, period and what it produced."""

    run_id: int
    period: str
    kind: str
    scenario_id: int | None
    user: str
    started_at: str
    finished_at: str
    status: str
    input_fingerprint: str
    participants: int
    result_count: int
    line_count: int
    totals: dict[str, Decimal]  # payout per currency: the sum of the TOTAL rows
    problems: list[Problem] = field(default_factory=list)
    superseded: bool = False


def _next_id(connection: Connection, table: Table) -> int:
    highest = connection.execute(select(func.max(table.c.id))).scalar_one()
    return 1 if highest is None else highest + 1


def _number_rows(connection: Connection, prepared: PreparedRun, run_id: int) -> tuple[list, list, list]:
    """Give results, lines and balances their ids and row hashes inside the write transaction."""
    next_result = _next_id(connection, results)
    result_ids: dict[tuple, int] = {}
    stored_results = []
    for offset, row in enumerate(prepared.result_rows):
        values = {**row, "id": next_result + offset, "run_id": run_id}
        values["row_hash"] = row_digest(_RESULT_COLUMNS, values)
        stored_results.append(values)
        if values["row_kind"] == "component":
            result_ids[(values["participant_id"], values["plan"], values["component"])] = values["id"]
        else:
            result_ids.setdefault((values["participant_id"], values["plan"], values["component"]), values["id"])

    next_line = _next_id(connection, result_lines)
    stored_lines = []
    for offset, row in enumerate(prepared.line_rows):
        values = {key: value for key, value in row.items() if key != "_result_key"}
        values.update(id=next_line + offset, run_id=run_id, result_id=result_ids.get(row.get("_result_key")))
        values["row_hash"] = row_digest(_LINE_COLUMNS, values)
        stored_lines.append(values)

    next_balance = _next_id(connection, calc_balances)
    stored_balances = []
    for offset, row in enumerate(prepared.balance_rows):
        values = {**row, "id": next_balance + offset, "run_id": run_id}
        values["row_hash"] = row_digest(_BALANCE_COLUMNS, values)
        stored_balances.append(values)
    return stored_results, stored_lines, stored_balances


def _insert_chunked(connection: Connection, table: Table, rows: list[dict[str, object]], cancel: CancelToken | None,
                    progress: ProgressCallback, label: str, chunk: int = 20_000) -> None:
    for start in range(0, len(rows), chunk):
        if cancel is not None:
            cancel.raise_if_cancelled()
        connection.execute(table.insert(), rows[start:start + chunk])
        progress(min(start + chunk, len(rows)), len(rows), label)


def _totals(result_rows: Iterable[dict[str, object]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in result_rows:
        if row["row_kind"] == "total":
            currency = str(row["currency"])
            totals[currency] = totals.get(currency, Decimal(0)) + from_minor(int(row["earnings_minor"]), currency)
    return totals


def store_run(unit: object, prepared: PreparedRun, *, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> RunSummary:
    """Write one prepared run, its rows and its audit entry in the caller's transaction.

    Official runs supersede the earlier official runs of the same period and mark the
    period calculated (which clears an approval and rejects a closed period).
    """
    connection = unit.connection  # type: ignore[attr-defined]
    user = unit.user  # type: ignore[attr-defined]
    run_id = _next_id(connection, calc_runs)
    stored_results, stored_lines, stored_balances = _number_rows(connection, prepared, run_id)
    results_hash = chain_digest(row["row_hash"] for row in stored_results)
    lines_hash = chain_digest(row["row_hash"] for row in stored_lines)
    balances_hash = chain_digest(row["row_hash"] for row in stored_balances)
    has_errors = any(problem.severity == "error" for problem in prepared.problems)
    status = "complete_with_problems" if has_errors else "complete"
    finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")

    superseded: list[int] = []
    if prepared.kind == OFFICIAL:
        superseded = _supersede(connection, prepared.period_label)
    connection.execute(calc_runs.insert().values(
        id=run_id, period=prepared.period_label, period_start=prepared.period_start, period_end=prepared.period_end,
        kind=prepared.kind, scenario_id=prepared.scenario_id, user=user, started_at=prepared.started_at,
        finished_at=finished_at, status=status, input_fingerprint=prepared.input_fingerprint,
        inputs=canonical_json(prepared.inputs), versions=canonical_json(prepared.versions),
        problems=canonical_json([problem.as_dict() for problem in prepared.problems]),
        results_hash=results_hash, lines_hash=lines_hash, superseded=False,
    ))
    _insert_chunked(connection, results, stored_results, cancel, progress, f"{prepared.period_label}: storing results")
    _insert_chunked(connection, result_lines, stored_lines, cancel, progress, f"{prepared.period_label}: storing lines")
    _insert_chunked(connection, calc_balances, stored_balances, cancel, progress,
                    f"{prepared.period_label}: storing balances")

    totals = _totals(stored_results)
    participants = len({row["participant_id"] for row in stored_results})
    unit.audit(RUN_ACTION, RUN_ENTITY, run_id, after={  # type: ignore[attr-defined]
        "period": prepared.period_label, "kind": prepared.kind, "scenario_id": prepared.scenario_id,
        "status": status, "input_fingerprint": prepared.input_fingerprint, "versions": prepared.versions,
        "participants": participants, "results": len(stored_results), "lines": len(stored_lines),
        "balances": len(stored_balances), "results_hash": results_hash, "lines_hash": lines_hash,
        "balances_hash": balances_hash, "totals": {currency: str(total) for currency, total in totals.items()},
        "problems": len(prepared.problems), "superseded_runs": superseded,
    })
    if prepared.kind == OFFICIAL:
        from spm_desktop.services import period_service

        period_service.record_calculation(unit, prepared.period_label, run_id,  # type: ignore[arg-type]
                                          period=prepared.period)  # type: ignore[arg-type]
    return RunSummary(run_id, prepared.period_label, prepared.kind, prepared.scenario_id, user, prepared.started_at,
                      finished_at, status, prepared.input_fingerprint, participants, len(stored_results),
                      len(stored_lines), totals, list(prepared.problems))


def _supersede(connection: Connection, period_label: str) -> list[int]:
    query = select(calc_runs.c.id).where(calc_runs.c.period == period_label, calc_runs.c.kind == OFFICIAL,
                                         calc_runs.c.superseded.is_(False))
    earlier = [run_id for (run_id,) in connection.execute(query)]
    if earlier:
        connection.execute(calc_runs.update().where(calc_runs.c.id.in_(earlier)).values(superseded=True))
    return earlier


# -- audit content check ---------------------------------------------------------------


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
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
    for row in connection.execute(query.execution_options(yield_per=10_000)):
        digest = row_digest(columns, row)
        recomputed.append(digest)
        if digest != row.row_hash:
            problems.append(f"{what} {row.id} of calculation run {run_id} was changed outside SPM Desktop "
                            "(its content does not match its stored hash)")
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
        problems += _check_table(connection, results, _RESULT_COLUMNS, run_id, "result row", entry.get("results_hash"))
        problems += _check_table(connection, result_lines, _LINE_COLUMNS, run_id, "result line",
                                 entry.get("lines_hash"))
        problems += _check_table(connection, calc_balances, _BALANCE_COLUMNS, run_id, "balance row",
                                 entry.get("balances_hash"))
    return problems


audit_service.register_content_check("calculation results", verify_stored_results)
