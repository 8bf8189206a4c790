"""Read stored runs and their result rows, and write them in the ``spm results`` layout.

Official results of a period are those of its latest, not superseded, official run.
A coarser label (a year) reads the current runs of every plan period inside it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, func, select

from spm_desktop.domain.money import from_minor
from spm_desktop.domain.problems import Problem
from spm_desktop.services.calc.storing import OFFICIAL, RunSummary
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, SpmError
from spm_desktop.store.tables.calc import calc_runs, result_lines, results


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


def decimal_or_none(text: str | None) -> Decimal | None:
    """Return stored decimal text as Decimal; None for NULL or empty text."""
    return None if text is None or text == "" else Decimal(text)


def _stored_result(row: object, period_start: dt.date | None = None) -> StoredResult:
    r = row  # type: ignore[assignment]
    return StoredResult(
        r.id, r.run_id, r.row_kind, r.participant_id, r.participant_name, r.period, r.plan,  # type: ignore[attr-defined]
        r.plan_version, r.component, r.metric_key, r.metric_version, r.metric_unit,  # type: ignore[attr-defined]
        decimal_or_none(r.metric_value), decimal_or_none(r.quota),  # type: ignore[attr-defined]
        decimal_or_none(r.attainment), from_minor(r.earnings_minor, r.currency), r.currency,  # type: ignore[attr-defined]
        period_start,
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
