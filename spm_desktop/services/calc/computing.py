"""Run the engine on read inputs and prepare one unstored run per plan period.

``recompute`` and ``compute_runs`` calculate without storing: the official calculation
stores what they return, and the comparison of closed periods with what they paid
reads it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal

from sqlalchemy import Connection

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services.calc.inputs import RecordFrames, RunInputs, read_inputs
from spm_desktop.services.calc.rows import prepare_runs
from spm_desktop.services.calc.storing import SCENARIO, PreparedRun
from spm_desktop.services.errors import ValidationError


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 text with microseconds, as runs record it."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


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
    stay as recorded, so then each open period is calculated on its own. An amount too
    large to hold raises ValidationError naming the period.
    """
    from spm_desktop.domain.engine.calculation import calculate as run_calculation

    label = ", ".join(inputs.periods) or "the period"
    try:
        if not any(problem.code == "calc.period_closed" for problem in inputs.skipped):
            return [run_calculation(inputs.engine_inputs, progress, cancel)]
        outcomes = []
        for period_label in inputs.periods:
            single = dataclasses.replace(inputs.engine_inputs, period=period_label)  # type: ignore[type-var]
            outcome = run_calculation(single, progress, cancel)
            mismatches = [problem for problem in outcome.problems if problem.code != "calc.period_mismatch"]
            outcomes.append(dataclasses.replace(outcome, problems=tuple(mismatches)))
        return outcomes
    except (OverflowError, decimal.Overflow) as error:
        raise ValidationError(f"{label} cannot be calculated: an amount is too large to store ({error}); check "
                              "plan rates and the largest record amounts") from error
