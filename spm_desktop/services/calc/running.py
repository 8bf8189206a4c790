"""Calculate plan periods: read the inputs, run the engine and store one run per plan period.

``calculate`` stores the runs of one call, their audit entries and the new period
states in one transaction, so a failure or a cancel before the commit leaves the
workspace unchanged. An official calculation first adds the prior-period adjustments
of closed periods whose records changed.
"""

from __future__ import annotations

import logging

from spm_desktop.domain.progress import CancelToken, ProgressCallback, no_progress
from spm_desktop.services import prior_period
from spm_desktop.services.calc.computing import compute_runs, now_utc
from spm_desktop.services.calc.inputs import read_inputs
from spm_desktop.services.calc.storing import OFFICIAL, PERIOD_RECORDS, SCENARIO, RunSummary, store_run
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError

log = logging.getLogger(__name__)


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
    rows with the same participant, key and period; both are for scenario runs. A scenario
    run pays the prior-period adjustments that the official run stored.
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
        scoped: dict[str, dict[str, str]] = {}
        if kind == OFFICIAL:
            progress(0, 0, f"{period_label}: checking closed periods for changed data")
            prior = prior_period.apply_prior_period_adjustments(connection, inputs)  # type: ignore[assignment]
            # What approve and close compare with, to find records changed after this run read them.
            scoped = {label: prior_period.span_record_digests(connection, span.start, span.end)
                      for label, span in inputs.periods.items()}
        else:
            prior_period.carry_stored_adjustments(connection, inputs)
    if cancel is not None:
        cancel.raise_if_cancelled()

    prepared = compute_runs(inputs, kind=kind, scenario_id=scenario_id, started_at=started_at,
                            progress=progress, cancel=cancel)
    for run in prepared:
        run.prior_adjustments = list(prior.get(run.period_label, []))
        run.inputs.update({f"{PERIOD_RECORDS}{name}": digest
                           for name, digest in scoped.get(run.period_label, {}).items()})
    if not prepared:
        raise NotFoundError(f"no plan period of {period_label} was calculated; "
                            + "; ".join(problem.message for problem in inputs.skipped))

    with workspace.transaction() as unit:
        summaries = [store_run(unit, run, progress=progress, cancel=cancel) for run in prepared]
    for summary in summaries:
        log.info("stored %s run %d of %s: %d result rows, %d lines", summary.kind, summary.run_id, summary.period,
                 summary.result_count, summary.line_count)
    return summaries
