"""Calculate plan periods and store the runs with full lineage; read results back.

``calculate`` reads every input: records, plans in force, metric versions, quotas, FX
rates, adjustments and the recorded results of earlier closed periods of the plan year.
It runs the domain engine and stores each plan period's run with its results, lines
and balances. All of that, the run's audit entry and the period's new state are
written in one transaction. A failure or a cancel before the commit leaves the workspace unchanged.

Every stored result, line and balance carries ``row_hash`` (SHA-256 of its canonical
content, id included) and the run's audit entry records a hash over each table's row
hashes. The content check registered with the audit service recomputes both, so
``spm audit verify`` names a result row that was edited outside the application.

Scenario runs (``kind="scenario"``) use the same engine with plans from the review
engineer's scenario; they never touch period states and never show in official results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Date, Table, func, select

from spm_desktop import __version__
from spm_desktop.domain.canonical import canonical_json, fingerprint, sha256_hex
from spm_desktop.domain.money import from_minor, to_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services import audit_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, SpmError, ValidationError
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


def _escaped(text: str) -> str:
    return text.replace("\x1e", "\x1e\x1e").replace("\x1f", "\x1e\x1f")


def digest_cells(cells: Sequence[object]) -> str:
    """Return the SHA-256 of a row's cells in column order: NUL for NULL, text of the rest, unit separators between.

    Dates hash as ISO text (``str`` of a date). Separator characters inside a text are
    escaped, so no two different rows join to the same text.
    """
    parts = []
    for cell in cells:
        if cell is None:
            parts.append("\x00")
        elif cell.__class__ is str:
            parts.append(cell)  # type: ignore[arg-type]
        else:
            parts.append(str(cell))
    joined = "\x1f".join(parts)
    if "\x1e" in joined or joined.count("\x1f") != len(parts) - 1:
        joined = "\x1f".join(_escaped(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def row_digest(columns: Sequence[str], values: dict[str, object] | object) -> str:
    """Return the SHA-256 of a stored row's content: its column values in table order, id included."""
    mapping = values if isinstance(values, dict) else values._mapping  # type: ignore[attr-defined]
    return digest_cells([mapping.get(name) for name in columns])


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
    # Lines column by column (result_lines column name -> values, one per line), with
    # "_result_key": the (participant_id, plan, component) of each line's result row.
    line_columns: dict[str, list[object]]
    balance_rows: list[dict[str, object]]
    period: object = None  # the domain Period, for the period state's span
    # close_service.PriorPeriodAdjustment items this run pays; stored with the period's state.
    prior_adjustments: list[object] = field(default_factory=list)

    @property
    def input_fingerprint(self) -> str:
        return fingerprint(self.inputs)

    @property
    def line_count(self) -> int:
        return len(self.line_columns.get("_result_key", ()))

    @property
    def line_rows(self) -> list[dict[str, object]]:
        """Return the lines as one mapping per line (built on request; storing reads the columns)."""
        names = list(self.line_columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.line_columns.values(), strict=True)]


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


def _number_rows(connection: Connection, rows: list[dict[str, object]], table: Table, columns: list[str],
                 first_id: int, fixed: dict[str, object]) -> list[tuple]:
    """Return rows as tuples in table column order with their ids and row hashes, ready to insert."""
    date_positions = [index for index, name in enumerate(columns) if isinstance(table.c[name].type, Date)]
    id_position = columns.index("id")
    fixed_positions = [(columns.index(name), value) for name, value in fixed.items()]
    numbered = []
    for offset, row in enumerate(rows):
        cells = [row.get(name) for name in columns]
        cells[id_position] = first_id + offset
        for position, value in fixed_positions:
            cells[position] = value
        for position in date_positions:
            if cells[position] is not None:
                cells[position] = cells[position].isoformat()  # type: ignore[attr-defined]
        numbered.append((*cells, digest_cells(cells)))
    return numbered


def _number_lines(line_columns: dict[str, list[object]], result_ids: dict[tuple, int], first_id: int,
                  run_id: int) -> list[tuple]:
    """Return line tuples in result_lines column order with ids, result ids and row hashes."""
    count = len(line_columns.get("_result_key", ()))
    if not count:
        return []
    filled = {
        **line_columns,
        "id": range(first_id, first_id + count),
        "run_id": [run_id] * count,
        "result_id": [result_ids.get(key) for key in line_columns.get("_result_key", ())],  # type: ignore[arg-type]
    }
    ordered = [filled[name] for name in _LINE_COLUMNS]
    return [(*cells, digest_cells(cells)) for cells in zip(*ordered, strict=True)]


def _result_ids(stored_results: list[tuple]) -> dict[tuple, int]:
    """Map (participant, plan, component) to the result row id that the lines of that component belong to."""
    position = {name: index for index, name in enumerate(_RESULT_COLUMNS)}
    ids: dict[tuple, int] = {}
    for row in stored_results:
        key = (row[position["participant_id"]], row[position["plan"]], row[position["component"]])
        ids.setdefault(key, row[position["id"]])  # type: ignore[arg-type]
    return ids


def _insert_chunked(connection: Connection, table: Table, rows: list[tuple], cancel: CancelToken | None,
                    progress: ProgressCallback, label: str, chunk: int = 20_000) -> None:
    """Insert row tuples (all columns, row_hash last) with the driver's executemany, in chunks."""
    names = [*(column for column in table.c.keys() if column != "row_hash"), "row_hash"]  # noqa: SIM118
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    quoted = ", ".join(f'"{name}"' for name in names)
    statement = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join([marker] * len(names))})'
    for start in range(0, len(rows), chunk):
        if cancel is not None:
            cancel.raise_if_cancelled()
        connection.exec_driver_sql(statement, rows[start:start + chunk])
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
    stored_results = _number_rows(connection, prepared.result_rows, results, _RESULT_COLUMNS,
                                  _next_id(connection, results), {"run_id": run_id})
    result_ids = _result_ids(stored_results)
    stored_lines = _number_lines(prepared.line_columns, result_ids, _next_id(connection, result_lines), run_id)
    stored_balances = _number_rows(connection, prepared.balance_rows, calc_balances, _BALANCE_COLUMNS,
                                   _next_id(connection, calc_balances), {"run_id": run_id})
    results_hash = chain_digest(row[-1] for row in stored_results)
    lines_hash = chain_digest(row[-1] for row in stored_lines)
    balances_hash = chain_digest(row[-1] for row in stored_balances)
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

    totals = _totals(prepared.result_rows)
    participants = len({row["participant_id"] for row in prepared.result_rows})
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
                                          period=prepared.period,  # type: ignore[arg-type]
                                          prior_adjustments=prepared.prior_adjustments)
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
        problems += _check_table(connection, results, _RESULT_COLUMNS, run_id, "result row", entry.get("results_hash"))
        problems += _check_table(connection, result_lines, _LINE_COLUMNS, run_id, "result line",
                                 entry.get("lines_hash"))
        problems += _check_table(connection, calc_balances, _BALANCE_COLUMNS, run_id, "balance row",
                                 entry.get("balances_hash"))
    return problems


audit_service.register_content_check("calculation results", verify_stored_results)


# -- reading runs and results ----------------------------------------------------------


@dataclass(frozen=True)
class StoredResult:
    """One stored result row: a component, the Draw or Adjustments row, or the TOTAL of a participant."""

    id: int
    run_id: int
    row_kind: str
    participant_id: str
    participant_name: str | None
    period: str
    plan: str
    plan_version: int | None
    component: str
    metric_key: str | None
    metric_version: int | None
    metric_unit: str | None
    metric_value: Decimal | None
    quota: Decimal | None
    attainment: Decimal | None
    earnings: Decimal
    currency: str
    period_start: dt.date | None = None


@dataclass(frozen=True)
class StoredLine:
    """One stored result line: how a deal, reversal, clawback, draw, hold or adjustment reached a result."""

    id: int
    run_id: int
    result_id: int | None
    participant_id: str
    plan: str
    component: str
    line_kind: str
    deal_row_id: int | None
    deal_id: str | None
    line_id: str | None
    credit_date: dt.date | None
    share: Decimal | None
    credit_kind: str | None
    via_participant_id: str | None
    amount: Decimal | None
    deal_currency: str | None
    credited: Decimal | None
    fx_rate: Decimal | None
    bands: list[str]
    rates: list[str]
    exact_earnings: Decimal | None
    earnings: Decimal
    paid_now: Decimal
    held: Decimal
    currency: str
    source_batch: int | None
    source_row: int | None
    note: str | None


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None or text == "" else Decimal(text)


def _json_list(text: str | None) -> list[str]:
    return [] if not text else [str(item) for item in json.loads(text)]


def _stored_result(row: object, period_start: dt.date | None = None) -> StoredResult:
    r = row  # type: ignore[assignment]
    return StoredResult(
        r.id, r.run_id, r.row_kind, r.participant_id, r.participant_name, r.period, r.plan,  # type: ignore[attr-defined]
        r.plan_version, r.component, r.metric_key, r.metric_version, r.metric_unit,  # type: ignore[attr-defined]
        _decimal_or_none(r.metric_value), _decimal_or_none(r.quota),  # type: ignore[attr-defined]
        _decimal_or_none(r.attainment), from_minor(r.earnings_minor, r.currency), r.currency,  # type: ignore[attr-defined]
        period_start,
    )


def _stored_line(row: object) -> StoredLine:
    r = row  # type: ignore[assignment]
    return StoredLine(
        r.id, r.run_id, r.result_id, r.participant_id, r.plan, r.component, r.line_kind,  # type: ignore[attr-defined]
        r.deal_row_id, r.deal_id, r.line_id, r.credit_date, _decimal_or_none(r.share),  # type: ignore[attr-defined]
        r.credit_kind, r.via_participant_id, _decimal_or_none(r.amount), r.deal_currency,  # type: ignore[attr-defined]
        _decimal_or_none(r.credited), _decimal_or_none(r.fx_rate),  # type: ignore[attr-defined]
        _json_list(r.bands), _json_list(r.rates), _decimal_or_none(r.exact_earnings),  # type: ignore[attr-defined]
        from_minor(r.earnings_minor, r.currency), from_minor(r.paid_now_minor, r.currency),  # type: ignore[attr-defined]
        from_minor(r.held_minor, r.currency), r.currency,  # type: ignore[attr-defined]
        r.source_batch, r.source_row, r.note,  # type: ignore[attr-defined]
    )


def _summary_from_row(connection: Connection, run: object) -> RunSummary:
    r = run  # type: ignore[assignment]
    totals: dict[str, Decimal] = {}
    query = select(results.c.currency, func.sum(results.c.earnings_minor)).where(
        results.c.run_id == r.id, results.c.row_kind == "total").group_by(results.c.currency)  # type: ignore[attr-defined]
    for currency, minor in connection.execute(query):
        totals[currency] = from_minor(int(minor or 0), currency)
    participants = connection.execute(
        select(func.count(results.c.participant_id.distinct())).where(results.c.run_id == r.id)  # type: ignore[attr-defined]
    ).scalar_one()
    result_count = connection.execute(
        select(func.count()).select_from(results).where(results.c.run_id == r.id)  # type: ignore[attr-defined]
    ).scalar_one()
    line_count = connection.execute(
        select(func.count()).select_from(result_lines).where(result_lines.c.run_id == r.id)  # type: ignore[attr-defined]
    ).scalar_one()
    problems = [Problem(**item) for item in json.loads(r.problems)]  # type: ignore[attr-defined]
    return RunSummary(r.id, r.period, r.kind, r.scenario_id, r.user, r.started_at, r.finished_at,  # type: ignore[attr-defined]
                      r.status, r.input_fingerprint, participants, result_count, line_count, totals,  # type: ignore[attr-defined]
                      problems, bool(r.superseded))  # type: ignore[attr-defined]


def list_runs(workspace: Workspace, *, period: str | None = None, kind: str | None = OFFICIAL,
              scenario_id: int | None = None) -> list[RunSummary]:
    """Return stored runs, newest first, optionally of one period, kind or scenario."""
    query = select(calc_runs).order_by(calc_runs.c.id.desc())
    if period is not None:
        query = query.where(calc_runs.c.period == period)
    if kind is not None:
        query = query.where(calc_runs.c.kind == kind)
    if scenario_id is not None:
        query = query.where(calc_runs.c.scenario_id == scenario_id)
    with workspace.read() as connection:
        return [_summary_from_row(connection, run) for run in connection.execute(query).all()]


def get_run(workspace: Workspace, run_id: int) -> RunSummary:
    with workspace.read() as connection:
        run = connection.execute(select(calc_runs).where(calc_runs.c.id == run_id)).first()
        if run is None:
            raise NotFoundError(f"calculation run {run_id} not found; list the runs of a period in the Calculation area")
        return _summary_from_row(connection, run)


def run_details(workspace: Workspace, run_id: int) -> dict[str, object]:
    """Return a run's recorded inputs (fingerprints), versions used and problems, as stored."""
    with workspace.read() as connection:
        run = connection.execute(select(calc_runs).where(calc_runs.c.id == run_id)).first()
    if run is None:
        raise NotFoundError(f"calculation run {run_id} not found")
    return {"inputs": json.loads(run.inputs), "versions": json.loads(run.versions),
            "problems": json.loads(run.problems), "input_fingerprint": run.input_fingerprint}


def current_runs(connection: Connection, period_label: str, *, kind: str = OFFICIAL,
                 scenario_id: int | None = None) -> list[object]:
    """Return the latest runs for a label: the run of that period, or those of the periods inside it."""
    from spm_desktop.services import period_service

    label = period_service.normalise_label(connection, period_label)
    base = select(calc_runs).where(calc_runs.c.kind == kind).order_by(calc_runs.c.period_start, calc_runs.c.id)
    if kind == OFFICIAL:
        base = base.where(calc_runs.c.superseded.is_(False))
    elif scenario_id is not None:
        base = base.where(calc_runs.c.scenario_id == scenario_id)
    exact = connection.execute(base.where(calc_runs.c.period == label)).all()
    if exact:
        return _latest_per_period(exact)
    span = period_service.read_period(connection, label)
    if span is None:
        return []
    inside = connection.execute(
        base.where(calc_runs.c.period_start >= span.start, calc_runs.c.period_end <= span.end)).all()
    return _latest_per_period(inside)


def _latest_per_period(runs: Sequence[object]) -> list[object]:
    latest: dict[str, object] = {}
    for run in runs:
        latest[run.period] = run  # type: ignore[attr-defined]  # runs come in id order, so the newest wins
    return sorted(latest.values(), key=lambda run: (run.period_start, run.period))  # type: ignore[attr-defined]


def _result_sort_key(row: StoredResult) -> tuple:
    # Code-point order of participant ids, then period, plan, and components with TOTAL last.
    return (row.participant_id, row.period_start or dt.date.min, row.plan, row.row_kind == "total", row.component)


def results_of_runs(connection: Connection, run_ids: Sequence[int]) -> list[StoredResult]:
    """Return the result rows of runs in the order ``spm results`` prints them."""
    ordered: list[StoredResult] = []
    for run_id in run_ids:
        period_start = connection.execute(select(calc_runs.c.period_start).where(calc_runs.c.id == run_id)).scalar()
        query = select(results).where(results.c.run_id == run_id)
        ordered.extend(_stored_result(row, period_start) for row in connection.execute(query))
    return sorted(ordered, key=_result_sort_key)


def period_results(workspace: Workspace, period_label: str, *, kind: str = OFFICIAL,
                   scenario_id: int | None = None) -> list[StoredResult]:
    """Return the current results of a period (or of the plan periods inside a coarser label)."""
    with workspace.read() as connection:
        runs = current_runs(connection, period_label, kind=kind, scenario_id=scenario_id)
        if not runs:
            raise NotFoundError(
                f"no calculation of {period_label} is stored; calculate it first with "
                f"'spm calc WORKSPACE --period {period_label}' or in the Calculation area"
            )
        return results_of_runs(connection, [run.id for run in runs])  # type: ignore[attr-defined]


def run_results(workspace: Workspace, run_id: int) -> list[StoredResult]:
    """Return the result rows of one stored run (also a superseded or scenario run), in results order."""
    with workspace.read() as connection:
        if connection.execute(select(calc_runs.c.id).where(calc_runs.c.id == run_id)).first() is None:
            raise NotFoundError(f"calculation run {run_id} not found")
        return results_of_runs(connection, [run_id])


def export_csv(workspace: Workspace, rows: Sequence[StoredResult], target: Path) -> int:
    """Write result rows in the ``spm results --format csv`` layout to a file; return the row count.

    Text cells are neutralised against spreadsheet formula injection, as every export is.
    """
    from spm_desktop.exporting import safe

    header, texts = format_rows(rows)
    numeric = [index for index, name in enumerate(header) if name in ("metric_value", "quota", "attainment", "earnings")]
    cells: list[list[object]] = []
    for row in texts:
        # Numbers go out as Decimal, so a negative amount is not mistaken for a formula and quoted.
        values: list[object] = list(row)
        for index in numeric:
            values[index] = Decimal(row[index]) if row[index] else None
        cells.append(values)
    try:
        safe.write_csv(target, header, cells)
    except OSError as error:
        raise SpmError(f"cannot write results to {target}: {error.strerror}; choose a writable file") from error
    with workspace.transaction() as unit:
        unit.audit("results.export", "results", target.name,
                   after={"rows": len(cells), "runs": sorted({row.run_id for row in rows})})
    return len(cells)


def _engine_row(row: StoredResult, period_start: dt.date) -> object:
    from spm_desktop.domain.engine.model import ResultRow

    return ResultRow(
        participant_id=row.participant_id, participant_name=row.participant_name or "", period=row.period,
        plan=row.plan, plan_version=row.plan_version or 0, component=row.component, metric_key=row.metric_key,
        metric_version=row.metric_version, metric_value=row.metric_value, metric_unit=row.metric_unit,
        quota=row.quota, attainment=row.attainment, earnings=row.earnings, currency=row.currency,
        period_start=period_start,
    )


def format_csv(rows: Sequence[StoredResult]) -> str:
    """Return the ``spm results --format csv`` text of stored rows, in the order given."""
    from spm_desktop.domain.engine import format_results_csv

    return format_results_csv([_engine_row(row, row.period_start or dt.date.min) for row in rows])


def format_rows(rows: Sequence[StoredResult]) -> tuple[list[str], list[list[str]]]:
    """Return the header and the formatted cells of the results layout (the CSV's values, for tables and JSON)."""
    from spm_desktop.domain.engine import RESULT_COLUMNS, result_record

    cells = []
    for row in rows:
        record = result_record(_engine_row(row, row.period_start or dt.date.min))  # type: ignore[arg-type]
        cells.append([record[column] for column in RESULT_COLUMNS])
    return list(RESULT_COLUMNS), cells


def lines_of_result(workspace: Workspace, result_id: int) -> list[StoredLine]:
    """Return the lines behind one result row, in (credit date, deal id) order as the engine made them."""
    with workspace.read() as connection:
        row = connection.execute(select(results).where(results.c.id == result_id)).first()
        if row is None:
            raise NotFoundError(f"result row {result_id} not found")
        query = select(result_lines).where(result_lines.c.run_id == row.run_id,
                                           result_lines.c.participant_id == row.participant_id)
        if row.row_kind != "total":
            query = query.where(result_lines.c.result_id == result_id)
        return [_stored_line(line) for line in connection.execute(query.order_by(result_lines.c.id))]


@dataclass(frozen=True)
class LineSource:
    """Origin of a line's deal: the import batch, file and row, and the record as stored."""

    line_id: int
    deal_row_id: int | None
    batch_id: int | None
    file_name: str | None
    sheet: str | None
    source_row: int | None
    imported_at: str | None
    imported_by: str | None
    record: dict[str, object]


def line_source(workspace: Workspace, line_id: int) -> LineSource:
    """Follow a result line to the deal record and the spreadsheet row it was imported from.

    ``record`` contains the deal's fields by their canonical names (money as Decimal), then
    its extra attributes, as ``spm data export`` shows them.
    """
    from spm_desktop.store.tables.records import deals, import_batches

    with workspace.read() as connection:
        line = connection.execute(select(result_lines).where(result_lines.c.id == line_id)).first()
        if line is None:
            raise NotFoundError(f"result line {line_id} not found")
        record: dict[str, object] = {}
        if line.deal_row_id is not None:
            deal = connection.execute(select(deals).where(deals.c.id == line.deal_row_id)).first()
            if deal is not None:
                record = _deal_fields(deal)
        batch = None
        if line.source_batch is not None:
            batch = connection.execute(select(import_batches).where(import_batches.c.id == line.source_batch)).first()
    return LineSource(
        line_id, line.deal_row_id, line.source_batch,
        None if batch is None else batch.file_name, None if batch is None else batch.sheet,
        line.source_row, None if batch is None else batch.imported_at, None if batch is None else batch.imported_by,
        record,
    )


def _deal_fields(deal: object) -> dict[str, object]:
    from spm_desktop.domain.money import from_record_units
    from spm_desktop.domain.records import record_set
    from spm_desktop.store.tables.records import column_name

    values = deal._mapping  # type: ignore[attr-defined]
    fields: dict[str, object] = {}
    for spec in record_set("deals").fields:
        value = values[column_name(spec)]
        fields[spec.name] = from_record_units(value) if spec.kind == "money" and value is not None else value
    if values["attributes"]:
        fields.update(json.loads(values["attributes"]))
    return fields


def iter_lines(connection: Connection, run_id: int) -> Iterator[StoredLine]:
    query = select(result_lines).where(result_lines.c.run_id == run_id).order_by(result_lines.c.id)
    for row in connection.execute(query.execution_options(yield_per=10_000)):
        yield _stored_line(row)


# -- calculating ---------------------------------------------------------------------


@dataclass
class _Inputs:
    """Inputs one calculation read, before the engine runs."""

    label: str
    engine_inputs: object
    versions_by_name: dict[str, list[object]]  # plan name -> PlanVersions passed to the engine
    plan_currency: dict[str, str]
    periods: dict[str, object]  # label -> domain Period of every plan period to store
    skipped: list[Problem]
    fingerprints: dict[str, str]
    versions: dict[str, object]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def calculate(workspace: Workspace, period_label: str, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None, *, plans_override: dict[str, object] | None = None,
              kind: str = OFFICIAL, scenario_id: int | None = None,
              quota_overrides: object = None) -> list[RunSummary]:
    """Calculate a period (or every plan period inside a coarser label) and store one run per plan period.

    All runs of the call are stored in one transaction with their audit entries, or
    none is. Official runs reject closed periods: a label that names one raises
    PeriodLockedError, and closed periods inside a coarser label keep their recorded
    results (a ``calc.period_closed`` problem in the summary names each). ``plans_override`` (plan name -> Plan)
    replaces plans in force and ``quota_overrides`` (a quotas frame) replaces quota
    rows with the same participant, key and period; both are for scenario runs.
    """
    if kind not in (OFFICIAL, SCENARIO):
        raise ValueError(f"run kind {kind!r} is invalid; expected {OFFICIAL} or {SCENARIO}")
    if kind == OFFICIAL and (plans_override or quota_overrides is not None):
        raise ValueError("plan and quota overrides are for scenario runs only")
    started_at = _now()
    progress(0, 0, f"{period_label}: reading inputs")
    with workspace.read() as connection:
        inputs = _read_inputs(connection, period_label, plans_override, quota_overrides, kind)
        prior: dict[str, list[object]] = {}
        if kind == OFFICIAL:
            from spm_desktop.services import close_service

            progress(0, 0, f"{period_label}: checking closed periods for changed data")
            prior = close_service.apply_prior_period_adjustments(connection, inputs)  # type: ignore[assignment]
    if cancel is not None:
        cancel.raise_if_cancelled()

    engine_results = _run_engine(inputs, progress, cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    prepared = _prepare_runs(inputs, engine_results, kind, scenario_id, started_at)
    for run in prepared:
        run.prior_adjustments = list(prior.get(run.period_label, []))
    if not prepared:
        raise NotFoundError(f"no plan period of {period_label} was calculated; "
                            + "; ".join(problem.message for problem in inputs.skipped))

    with workspace.transaction() as unit:
        summaries = [store_run(unit, run, progress=progress, cancel=cancel) for run in prepared]
    for summary in summaries:
        log.info("stored %s run %d of %s: %d result rows, %d lines", summary.kind, summary.run_id, summary.period,
                 summary.result_count, summary.line_count)
    return summaries


def recompute(connection: Connection, period_label: str, plans: dict[str, object]) -> list[PreparedRun]:
    """Calculate a label with the given plans (name -> Plan) on the records as they are now, without storing.

    For comparing a closed period with what it paid: the result has the rows and lines
    that a run would store (``result_rows``, ``line_rows``), and the fingerprints of
    what it read (``inputs``). Nothing is written and period states are not checked.
    """
    inputs = _read_inputs(connection, period_label, plans, None, SCENARIO)
    outcomes = _run_engine(inputs, no_progress, None)
    return _prepare_runs(inputs, outcomes, SCENARIO, None, _now())


def _run_engine(inputs: _Inputs, progress: ProgressCallback, cancel: CancelToken | None) -> list[object]:
    """Run the engine on the label, or period by period when closed periods lie inside it.

    The engine recalculates every period it is asked for and reads only the periods
    before them from their recorded results. A closed period inside a coarser label must
    stay as recorded, so then each open period is calculated on its own.
    """
    from spm_desktop.domain.engine.calculation import calculate as run_calculation

    if not any(problem.code == "calc.period_closed" for problem in inputs.skipped):
        return [run_calculation(inputs.engine_inputs, progress, cancel)]
    outcomes = []
    for label in inputs.periods:
        single = dataclasses.replace(inputs.engine_inputs, period=label)  # type: ignore[type-var]
        outcome = run_calculation(single, progress, cancel)
        mismatches = [problem for problem in outcome.problems if problem.code != "calc.period_mismatch"]
        outcomes.append(dataclasses.replace(outcome, problems=tuple(mismatches)))
    return outcomes


def _label_span(connection: Connection, label: str, plans: Sequence[object]) -> tuple[dt.date, dt.date]:
    """Return the first and last day a label covers (a day label covers the cycles of week plans)."""
    from spm_desktop.domain import periods as period_domain
    from spm_desktop.services import period_service

    period = period_service.read_period(connection, label)
    if period is not None and period.kind != "week":
        return period.start, period.end
    try:
        day = dt.date.fromisoformat(label.strip())
    except ValueError:
        # parse_period's error message lists the valid label forms.
        try:
            parsed = period_domain.parse_period(label, fiscal_start_month=period_service.fiscal_start_month(connection))
        except period_domain.PeriodError as error:
            raise ValidationError(str(error)) from None
        return parsed.start, parsed.end
    lengths = [14 if getattr(plan, "period", "") == "two_weeks" else 7 for plan in plans] or [7]
    return day, day + dt.timedelta(days=max(lengths) - 1)


def _plan_periods(label: str, plan: object) -> list[object]:
    """Return the plan's periods inside a label, as the engine reads them (with the plan's own fiscal start)."""
    from spm_desktop.domain import periods as period_domain

    found = period_domain.periods_in(label, plan.period, plan.fiscal_start_month,  # type: ignore[attr-defined]
                                     plan.period_start)  # type: ignore[attr-defined]
    first, last = plan.effective_from, plan.effective_to  # type: ignore[attr-defined]
    return [period for period in found if period.end >= first and (last is None or period.start <= last)]


def _select_plans(connection: Connection, label: str,
                  plans_override: dict[str, object] | None) -> tuple[list[object], dict[str, list[object]]]:
    if plans_override:
        return list(plans_override.values()), {}
    wide_start, wide_end = _label_span(connection, label, [])
    # A day label may start a two-week cycle, so look two weeks ahead for plans.
    in_force = plan_service.plans_in_force(connection, wide_start, wide_end + dt.timedelta(days=13))
    versions: dict[str, list[object]] = {}
    for version, _plan in in_force:
        versions.setdefault(version.name, []).append(version)
    return [plan for _version, plan in in_force], versions


def _periods_to_store(connection: Connection, label: str, plans: Sequence[object],
                      kind: str) -> tuple[dict[str, object], list[Problem]]:
    from spm_desktop.domain.periods import PeriodError
    from spm_desktop.services import period_service

    periods: dict[str, object] = {}
    skipped: list[Problem] = []
    errors: list[str] = []
    for plan in plans:
        try:
            found = _plan_periods(label, plan)
        except PeriodError as error:
            errors.append(f"plan {plan.name!r}: {error}")  # type: ignore[attr-defined]
            continue
        for period in found:
            periods.setdefault(period.label, period)
    if errors and not periods:
        raise ValidationError(f"{label} cannot be calculated: " + "; ".join(errors))
    skipped += [Problem("calc.period_skipped", message, severity="warning") for message in errors]
    if kind == OFFICIAL:
        closed = [name for name in periods if period_service.state(connection, name).is_closed]
        if closed and len(closed) == len(periods):
            period_service.assert_period_open(connection, closed[0])
        for name in closed:
            periods.pop(name)
            skipped.append(Problem("calc.period_closed", f"{name} is closed, so its recorded results stand and it "
                                   "was not recalculated", severity="info"))
    ordered = dict(sorted(periods.items(), key=lambda item: (item[1].start, item[1].end, item[0])))  # type: ignore[attr-defined]
    return ordered, skipped


_FRAME_SETS = ("participants", "hierarchy", "credit_splits", "quotas", "fx_rates", "deals")


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """Return SHA-256 over a frame's column names and pandas' 64-bit hash of each row, in row order.

    NOTE: the per-row hashes are 64-bit (``pandas.util.hash_pandas_object``). They tell
    changed inputs apart but do not resist a deliberate collision, so the audit trail,
    not this fingerprint, protects stored data.
    """
    digest = hashlib.sha256(canonical_json([str(column) for column in frame.columns]).encode())
    if len(frame):
        row_hashes = pd.util.hash_pandas_object(frame.astype(object).where(frame.notna(), None), index=False)
        digest.update(row_hashes.to_numpy().tobytes())
    return digest.hexdigest()


def _load_frames(connection: Connection) -> dict[str, pd.DataFrame]:
    from spm_desktop.services import record_service

    return {name: record_service.load_frame(connection, name) for name in _FRAME_SETS}


def _apply_quota_overrides(quotas: pd.DataFrame, overrides: object) -> pd.DataFrame:
    if overrides is None or len(overrides) == 0:  # type: ignore[arg-type]
        return quotas
    key = ["participant_id", "quota_key", "period"]
    replaced = quotas.merge(overrides[key], on=key, how="left", indicator=True)  # type: ignore[index]
    remaining = quotas[(replaced["_merge"] == "left_only").to_numpy()]
    return pd.concat([remaining, overrides], ignore_index=True)  # type: ignore[list-item]


def _compile_metrics(connection: Connection, keys: Iterable[str],
                     deals: pd.DataFrame) -> tuple[dict[str, object], dict[str, int], list[Problem]]:
    from spm_desktop.domain.metrics import compile_metric
    from spm_desktop.services import metric_service

    compiled: dict[str, object] = {}
    versions: dict[str, int] = {}
    problems: list[Problem] = []
    for key in sorted(keys):
        try:
            version, definition = metric_service.current_version(connection, key)
        except NotFoundError as error:
            problems.append(Problem("calc.unknown_metric", str(error)))
            continue
        if definition.status != "approved":
            problems.append(Problem("calc.metric_not_approved", f"metric {key!r} version {version} is "
                                    f"{definition.status}, not approved; plans should pay on approved definitions",
                                    severity="warning"))
        compiled[key] = compile_metric(definition, metric_service.field_kinds(definition.source, deals))
        versions[key] = version
    return compiled, versions, problems


def _adjustments_frame(connection: Connection, labels: Iterable[str]) -> pd.DataFrame:
    """Return the approved manual adjustments of the periods as the engine's adjustments frame."""
    from spm_desktop.services import adjustment_service

    frames = [adjustment_service.adjustments_frame(connection, label) for label in labels]
    if not frames:
        return adjustment_service.adjustments_frame(connection, "")
    combined = pd.concat(frames, ignore_index=True)
    for column in ("amount", "adjustment_id"):
        combined[column] = pd.array(combined[column].tolist(), dtype="Int64")
    return combined


def _recorded_periods(connection: Connection, periods: dict[str, object]) -> tuple[list[object], list[dict]]:
    """Read the recorded results of closed periods of the plan years being calculated."""
    from spm_desktop.domain.engine.model import HeldAmount, RecordedPeriod
    from spm_desktop.domain.periods import plan_year_of
    from spm_desktop.services import period_service

    if not periods:
        return [], []
    years = [plan_year_of(period) for period in periods.values()]  # type: ignore[arg-type]
    first = min(year.start for year in years)
    last = max(period.end for period in periods.values())  # type: ignore[attr-defined]
    recorded: list[object] = []
    listed: list[dict] = []
    for state in period_service.list_periods(connection):
        if not state.is_closed or state.latest_run_id is None or state.start_date is None:
            continue
        if state.start_date < first or state.start_date > last:
            continue
        run_id = state.latest_run_id
        listed.append({"period": state.label, "run_id": run_id})
        earnings: dict[str, dict[tuple[str, str], Decimal]] = {}
        for row in connection.execute(select(results).where(results.c.run_id == run_id,
                                                            results.c.row_kind == "component")):
            earnings.setdefault(row.plan, {})[(row.participant_id, row.component)] = from_minor(
                row.earnings_minor, row.currency)
        balances: dict[str, dict[str, Decimal]] = {}
        held: dict[str, list[HeldAmount]] = {}
        for row in connection.execute(select(calc_balances).where(calc_balances.c.run_id == run_id)):
            if row.kind == "draw_balance":
                balances.setdefault(row.plan, {})[row.participant_id] = Decimal(row.amount)
            elif row.kind == "held":
                detail = json.loads(row.detail or "{}")
                release = detail.get("release_date")
                held.setdefault(row.plan, []).append(HeldAmount(
                    row.participant_id, row.plan, row.component or "", str(detail.get("deal_id", "")),
                    detail.get("line_id"), str(detail.get("held_in_period", state.label)), Decimal(row.amount),
                    str(detail.get("until_field", "")), None if release is None else dt.date.fromisoformat(release)))
        lines: dict[str, dict[tuple, Decimal]] = {}
        query = select(result_lines).where(result_lines.c.run_id == run_id, result_lines.c.line_kind == "sale")
        for row in connection.execute(query):
            if row.exact_earnings is not None:
                key = (row.participant_id, row.component, row.deal_id, row.line_id, row.credit_kind)
                lines.setdefault(row.plan, {})[key] = Decimal(row.exact_earnings)
        for plan in sorted(set(earnings) | set(balances) | set(held)):
            recorded.append(RecordedPeriod(plan, state.label, earnings.get(plan, {}), balances.get(plan, {}),
                                           tuple(held.get(plan, ())), lines.get(plan, {})))
    return recorded, listed


def _read_inputs(connection: Connection, label: str, plans_override: dict[str, object] | None,
                 quota_overrides: object, kind: str) -> _Inputs:
    from spm_desktop.domain.engine.model import CalculationInputs

    label = label.strip()
    plans, versions_by_name = _select_plans(connection, label, plans_override)
    if not plans:
        raise NotFoundError(f"no active plan is in force in {label}; load a plan whose effective dates cover it "
                            "with 'spm plan load' or in the Plans area")
    periods, skipped = _periods_to_store(connection, label, plans, kind)

    frames = _load_frames(connection)
    quotas = _apply_quota_overrides(frames["quotas"], quota_overrides)
    metric_keys = {component.metric for plan in plans for component in plan.components}  # type: ignore[attr-defined]
    metrics, metric_versions, metric_problems = _compile_metrics(connection, metric_keys, frames["deals"])
    missing = [problem for problem in metric_problems if problem.severity == "error"]
    if missing:
        raise ValidationError(f"{label} cannot be calculated: {missing[0].message}", metric_problems)
    skipped += metric_problems
    adjustments = _adjustments_frame(connection, periods)
    recorded, recorded_list = _recorded_periods(connection, periods)

    engine_inputs = CalculationInputs(
        period=label, plans=tuple(plans), participants=frames["participants"], deals=frames["deals"],
        metrics=metrics, credit_splits=frames["credit_splits"], hierarchy=frames["hierarchy"], quotas=quotas,
        fx_rates=frames["fx_rates"], adjustments=adjustments, recorded=tuple(recorded),
    )
    fingerprints = {f"records.{name}": frame_fingerprint(frames[name]) for name in _FRAME_SETS}
    fingerprints["records.quotas"] = frame_fingerprint(quotas)
    plan_versions = {plan.name: plan.version for plan in plans}  # type: ignore[attr-defined]
    fingerprints["plans"] = fingerprint(sorted(
        (plan.name, plan.version, sha256_hex(_plan_text(plan))) for plan in plans))  # type: ignore[attr-defined]
    fingerprints["metrics"] = fingerprint(metric_versions)
    fingerprints["adjustments"] = frame_fingerprint(adjustments)
    fingerprints["recorded_periods"] = fingerprint(recorded_list)
    if quota_overrides is not None:
        fingerprints["quota_overrides"] = sha256_hex(quota_overrides.to_csv(index=False))  # type: ignore[attr-defined]
    versions = {"plans": plan_versions, "metrics": metric_versions, "recorded_periods": recorded_list,
                "application": __version__}
    currencies = {plan.name: plan.currency for plan in plans}  # type: ignore[attr-defined]
    return _Inputs(label, engine_inputs, versions_by_name, currencies, periods, skipped, fingerprints, versions)


def _plan_text(plan: object) -> str:
    from spm_desktop.domain.plans import dump_plan

    return dump_plan(plan)  # type: ignore[arg-type]


_ROW_KINDS = {"Draw": "draw", "Adjustments": "adjustments", "TOTAL": "total"}
_LINE_KIND_NAMES = {"deal": "sale", "hold_release": "release"}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _result_values(row: object) -> dict[str, object]:
    r = row  # type: ignore[assignment]
    return {
        "row_kind": _ROW_KINDS.get(r.component, "component"),  # type: ignore[attr-defined]
        "participant_id": r.participant_id, "participant_name": r.participant_name,  # type: ignore[attr-defined]
        "period": r.period, "plan": r.plan, "plan_version": r.plan_version,  # type: ignore[attr-defined]
        "component": r.component, "metric_key": r.metric_key,  # type: ignore[attr-defined]
        "metric_version": r.metric_version, "metric_unit": r.metric_unit,  # type: ignore[attr-defined]
        "metric_value": _text(r.metric_value), "quota": _text(r.quota),  # type: ignore[attr-defined]
        "attainment": _text(r.attainment),  # type: ignore[attr-defined]
        "earnings_minor": to_minor(r.earnings, r.currency), "currency": r.currency,  # type: ignore[attr-defined]
    }


def _column(frame: pd.DataFrame, name: str) -> list[object]:
    """Return a frame column as Python values with None for every missing value (NaN, NaT, NA)."""
    column = frame[name]
    return column.astype(object).where(column.notna(), None).tolist()


def _texts(values: list[object]) -> list[str | None]:
    return [None if value is None else format(value, "f") for value in values]  # type: ignore[arg-type]


def _ints(values: list[object]) -> list[int | None]:
    return [None if value is None else int(value) for value in values]  # type: ignore[call-overload]


def _iso_dates(values: list[object]) -> list[str | None]:
    """Return dates (or timestamps) as ISO day text, the form the Date columns store."""
    days = [value.date() if isinstance(value, dt.datetime) else value for value in values]
    return [None if day is None else day.isoformat() for day in days]  # type: ignore[union-attr]


def _json_text(values: object, quoted: bool) -> str:
    """Write a band or rate tuple as a JSON list (rates as quoted decimal text)."""
    items = values or ()
    if quoted:
        return "[" + ", ".join(f'"{format(item, "f")}"' for item in items) + "]"  # type: ignore[union-attr]
    return "[" + ", ".join(str(int(item)) for item in items) + "]"  # type: ignore[union-attr]


def _line_columns(frame: pd.DataFrame) -> dict[str, list[object]]:
    """Turn engine lines (a frame with LINE_COLUMNS) into result_lines values, column by column."""
    participants = [str(value) for value in frame["participant_id"].tolist()]
    plans = [str(value) for value in frame["plan"].tolist()]
    components = [str(value) for value in frame["component"].tolist()]
    deal_currencies = _column(frame, "currency")
    currencies = [str(currency) for currency in frame["plan_currency"].tolist()]
    columns: dict[str, list[object]] = {
        "participant_id": participants, "plan": plans, "component": components,  # type: ignore[dict-item]
        "line_kind": [_LINE_KIND_NAMES.get(kind, kind) for kind in frame["kind"].tolist()],
        "deal_row_id": _ints(_column(frame, "row_id")), "deal_id": _column(frame, "deal_id"),  # type: ignore[dict-item]
        "line_id": _column(frame, "line_id"), "credit_date": _iso_dates(_column(frame, "credit_date")),  # type: ignore[dict-item]
        "share": _texts(_column(frame, "share")), "credit_kind": _column(frame, "credit_kind"),  # type: ignore[dict-item]
        "via_participant_id": _column(frame, "via_participant_id"),
        "amount": _texts(_column(frame, "amount")), "deal_currency": deal_currencies,  # type: ignore[dict-item]
        "credited": _texts(_column(frame, "credited")), "fx_rate": _texts(_column(frame, "fx_rate")),  # type: ignore[dict-item]
        "bands": [_json_text(bands, quoted=False) for bands in frame["bands"].tolist()],
        "rates": [_json_text(rates, quoted=True) for rates in frame["rates"].tolist()],
        "exact_earnings": _texts(_column(frame, "exact")),  # type: ignore[dict-item]
        "earnings_minor": _ints(_column(frame, "rounded_minor")),  # type: ignore[dict-item]
        "paid_now_minor": _ints(_column(frame, "paid_now_minor")),  # type: ignore[dict-item]
        "held_minor": _ints(_column(frame, "held_minor")),  # type: ignore[dict-item]
        "currency": currencies,  # type: ignore[dict-item]
        "source_batch": _ints(_column(frame, "batch_id")), "source_row": _ints(_column(frame, "source_row")),  # type: ignore[dict-item]
        "note": [value or None for value in _column(frame, "note")],
    }
    columns["_result_key"] = list(zip(participants, plans, components, strict=True))
    return columns


def _still_held(held: object, label: str, periods: dict[str, object]) -> bool:
    """Tell whether a held amount is still held at the end of period ``label``.

    It is when it was held in that period or an earlier one (a label outside this
    calculation is an earlier, recorded period) and its release date, if known, falls
    after the period. Storing only the amounts held in ``label`` itself would drop older
    holds once a later period is closed, and they would never be released.
    """
    period = periods[label]
    held_in = periods.get(held.held_in_period)  # type: ignore[attr-defined]
    if held_in is not None and held_in.start > period.start:  # type: ignore[attr-defined]
        return False
    release = held.release_date  # type: ignore[attr-defined]
    return release is None or release > period.end  # type: ignore[attr-defined]


def _balance_rows(result: object, label: str, currencies: dict[str, str],
                  periods: dict[str, object] | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for (participant_id, plan, period), amount in sorted(result.draw_balances.items()):  # type: ignore[attr-defined]
        if period == label:
            rows.append({"participant_id": participant_id, "plan": plan, "component": None, "kind": "draw_balance",
                         "amount": format(amount, "f"), "currency": currencies.get(plan, ""), "detail": None})
    for held in result.held:  # type: ignore[attr-defined]
        if periods is None or label not in periods:
            if held.held_in_period != label:
                continue
        elif not _still_held(held, label, periods):
            continue
        detail = {"deal_id": held.deal_id, "line_id": held.line_id, "held_in_period": held.held_in_period,
                  "until_field": held.until_field,
                  "release_date": None if held.release_date is None else held.release_date.isoformat()}
        rows.append({"participant_id": held.participant_id, "plan": held.plan, "component": held.component,
                     "kind": "held", "amount": format(held.amount, "f"), "currency": currencies.get(held.plan, ""),
                     "detail": canonical_json(detail)})
    return rows


def _merge_columns(parts: list[dict[str, list[object]]]) -> dict[str, list[object]]:
    if not parts:
        return {}
    merged: dict[str, list[object]] = {name: [] for name in parts[0]}
    for part in parts:
        for name, values in part.items():
            merged[name].extend(values)
    return merged


def _problems_by_period(problems: list[Problem], labels: list[str]) -> dict[str, list[Problem]]:
    """Give each run the problems that name its period, and every run the problems that name none."""
    by_period: dict[str, list[Problem]] = {label: [] for label in labels}
    seen: set[Problem] = set()
    for problem in problems:
        if problem in seen:
            continue
        seen.add(problem)
        text = f"{problem.message} {problem.value or ''}"
        named = [label for label in labels if label in text]
        for label in named or labels:
            by_period[label].append(problem)
    return by_period


def _prepare_runs(inputs: _Inputs, engine_results: list[object], kind: str, scenario_id: int | None,
                  started_at: str) -> list[PreparedRun]:
    rows_by_period: dict[str, list[dict[str, object]]] = {}
    lines_by_period: dict[str, list[dict[str, list[object]]]] = {}
    problems = list(inputs.skipped)
    for result in engine_results:
        for row in result.rows:  # type: ignore[attr-defined]
            rows_by_period.setdefault(row.period, []).append(_result_values(row))
        lines = result.lines  # type: ignore[attr-defined]
        for period, group in lines.groupby("period", sort=False) if not lines.empty else ():
            lines_by_period.setdefault(str(period), []).append(_line_columns(group))
        problems += list(result.problems)  # type: ignore[attr-defined]

    problems_by_period = _problems_by_period(problems, list(inputs.periods))
    prepared = []
    for label, period in inputs.periods.items():
        versions = dict(inputs.versions)
        plan_names = sorted({str(row["plan"]) for row in rows_by_period.get(label, [])})
        versions["plans"] = {name: inputs.versions["plans"][name] for name in plan_names  # type: ignore[index]
                             if name in inputs.versions["plans"]}  # type: ignore[operator]
        prepared.append(PreparedRun(
            period_label=label, period_start=period.start, period_end=period.end,  # type: ignore[attr-defined]
            kind=kind, scenario_id=scenario_id, started_at=started_at, inputs=dict(inputs.fingerprints),
            versions=versions, problems=problems_by_period[label], result_rows=rows_by_period.get(label, []),
            line_columns=_merge_columns(lines_by_period.get(label, [])),
            balance_rows=[row for result in engine_results
                          for row in _balance_rows(result, label, inputs.plan_currency, inputs.periods)],
            period=period,
        ))
    return prepared


MAX_SUGGESTED_PERIODS = 120


def suggested_periods(workspace: Workspace) -> tuple[list[str], str | None]:
    """Return period labels to offer (plan periods of active plans and calculated periods) and the one to preselect.

    The preselected label is the period of the newest official run, else the first
    plan period. Plan periods are listed over each active version's effective range
    (at most ``MAX_SUGGESTED_PERIODS``; open-ended plans are listed for one year).
    """
    from spm_desktop.domain.periods import PeriodError, periods_in

    found: dict[str, dt.date] = {}
    with workspace.read() as connection:
        for version, plan in plan_service.plans_in_force(connection, dt.date.min, dt.date.max):
            last = plan.effective_to or plan.effective_from + dt.timedelta(days=365)
            for year in range(plan.effective_from.year, last.year + 2):
                try:
                    periods = periods_in(str(year), plan.period, plan.fiscal_start_month, plan.period_start)
                except PeriodError:
                    continue
                for period in periods:
                    if period.end >= plan.effective_from and period.start <= last:
                        found.setdefault(period.label, period.start)
            log.debug("suggested periods of plan %s version %d", version.name, version.version)
        runs = connection.execute(
            select(calc_runs.c.period, calc_runs.c.period_start).where(calc_runs.c.kind == OFFICIAL)
            .order_by(calc_runs.c.id.desc())).all()
    for period, start in runs:
        found.setdefault(period, start)
    labels = [label for label, _start in sorted(found.items(), key=lambda item: (item[1], item[0]))]
    labels = labels[:MAX_SUGGESTED_PERIODS]
    if runs:
        default = runs[0].period
    else:
        default = labels[0] if labels else None
    return labels, default
