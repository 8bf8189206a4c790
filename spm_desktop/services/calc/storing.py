"""Store a prepared run: its results, lines and balances with row hashes, and its audit entry.

``PreparedRun`` is one plan period's calculation turned into table rows. ``store_run``
writes it in the caller's transaction. An official run supersedes the earlier official
runs of its period and marks the period calculated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, Date, Table, func, select

from spm_desktop.domain.canonical import canonical_json, fingerprint
from spm_desktop.domain.money import from_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services import adjustment_service, period_service
from spm_desktop.services.calc.hashing import (
    BALANCE_COLUMNS,
    LINE_COLUMNS,
    RESULT_COLUMNS,
    chain_digest,
    digest_cells,
)
from spm_desktop.store.tables.calc import calc_balances, calc_runs, result_lines, results

RUN_ACTION = "calc.run"
RUN_ENTITY = "calc_run"
OFFICIAL = "official"
SCENARIO = "scenario"

# Prefix of the run inputs that hold, per record set, the digest of the records inside the
# run's period (``prior_period.span_record_digests``).
PERIOD_RECORDS = "period_records."

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
    # prior_period.PriorPeriodAdjustment items this run pays; stored with the period's state.
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
    ordered = [filled[name] for name in LINE_COLUMNS]
    return [(*cells, digest_cells(cells)) for cells in zip(*ordered, strict=True)]


def _result_ids(stored_results: list[tuple]) -> dict[tuple, int]:
    """Map (participant, plan, component) to the result row id that the lines of that component belong to."""
    position = {name: index for index, name in enumerate(RESULT_COLUMNS)}
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
    stored_results = _number_rows(connection, prepared.result_rows, results, RESULT_COLUMNS,
                                  _next_id(connection, results), {"run_id": run_id})
    result_ids = _result_ids(stored_results)
    stored_lines = _number_lines(prepared.line_columns, result_ids, _next_id(connection, result_lines), run_id)
    stored_balances = _number_rows(connection, prepared.balance_rows, calc_balances, BALANCE_COLUMNS,
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
        after = period_service.record_calculation(unit, prepared.period_label, run_id,  # type: ignore[arg-type]
                                                  period=prepared.period)  # type: ignore[arg-type]
        # Replaced on every official run, so statements and later comparisons see what this run paid.
        adjustment_service.store_prior_period_adjustments(unit, after.label, run_id,  # type: ignore[arg-type]
                                                          prepared.prior_adjustments)
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
