"""Period labels the Calculation area offers: plan periods of active plans and calculated periods."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from spm_desktop.services import plan_service
from spm_desktop.services.calc.storing import OFFICIAL
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.calc import calc_runs

log = logging.getLogger(__name__)

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
