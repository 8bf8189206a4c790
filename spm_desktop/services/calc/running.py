"""Calculate plan periods: read the inputs, run the engine and store one run per plan period.

``calculate`` stores the runs of one call, their audit entries and the new period
states in one transaction, so a failure or a cancel before the commit leaves the
workspace unchanged. ``recompute`` and ``compute_runs`` calculate without storing,
for the comparison of closed periods with what they paid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import Connection

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services.calc.inputs import RecordFrames, RunInputs, read_inputs
from spm_desktop.services.calc.rows import prepare_runs
from spm_desktop.services.calc.storing import OFFICIAL, SCENARIO, PreparedRun, RunSummary, store_run
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError

log = logging.getLogger(__name__)


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 text with microseconds, as runs record it."""
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
    started_at = now_utc()
    progress(0, 0, f"{period_label}: reading inputs")
    with workspace.read() as connection:
        inputs = read_inputs(connection, period_label, plans=plans_override, quota_overrides=quota_overrides,
                             kind=kind)
        prior: dict[str, list[object]] = {}
        if kind == OFFICIAL:
            from spm_desktop.services import close_service

            progress(0, 0, f"{period_label}: checking closed periods for changed data")
            prior = close_service.apply_prior_period_adjustments(connection, inputs)  # type: ignore[assignment]
    if cancel is not None:
        cancel.raise_if_cancelled()

    prepared = compute_runs(inputs, kind=kind, scenario_id=scenario_id, started_at=started_at,
                            progress=progress, cancel=cancel)
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


def recompute(connection: Connection, period_label: str, plans: dict[str, object], *,
              records: RecordFrames | None = None) -> list[PreparedRun]:
    """Calculate a label with the given plans (name -> Plan) on the records as they are now, without storing.

    For comparing a closed period with what it paid: the result has the rows and lines
    that a run would store (``result_rows``, ``line_rows``), and the fingerprints of
    what it read (``inputs``). Nothing is written and period states are not checked.
    ``records`` reuses record sets already loaded on this connection.
    """
    inputs = read_inputs(connection, period_label, plans=plans, kind=SCENARIO, records=records)
    return compute_runs(inputs, kind=SCENARIO)


def compute_runs(inputs: RunInputs, *, kind: str, scenario_id: int | None = None, started_at: str | None = None,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> list[PreparedRun]:
    """Run the engine on inputs from ``read_inputs`` and return one prepared, unstored run per plan period."""
    engine_results = _run_engine(inputs, progress, cancel)
    if cancel is not None:
        cancel.raise_if_cancelled()
    return prepare_runs(inputs, engine_results, kind, scenario_id, started_at or now_utc())


def _run_engine(inputs: RunInputs, progress: ProgressCallback, cancel: CancelToken | None) -> list[object]:
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
