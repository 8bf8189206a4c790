"""Period states: open, calculated, approved and closed, and the lock a close sets.

A period moves open -> calculated (a calculation was stored) -> approved (by a user other
than the one who calculated) -> closed. Recalculating clears an approval. A closed
period cannot be reopened: a change to data inside it is carried into the first open
period as an adjustment.

A period without a row in ``period_states`` is open. Other services call
``assert_period_open`` (or ``assert_dates_open`` for date ranges such as a plan's
effective dates) inside their own transaction before they write.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, select

from spm_desktop.domain.periods import Period, PeriodError, parse_period
from spm_desktop.services.context import UnitOfWork
from spm_desktop.services.errors import PeriodLockedError
from spm_desktop.store.tables.close import period_states
from spm_desktop.store.tables.core import settings

log = logging.getLogger(__name__)

FISCAL_START_SETTING = "fiscal_year.start_month"


@dataclass(frozen=True)
class PeriodState:
    """The close state of one period and who moved it there."""

    label: str
    state: str = "open"
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    latest_run_id: int | None = None
    calculated_by: str | None = None
    calculated_at: str | None = None
    approved_run_id: int | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    closed_by: str | None = None
    closed_at: str | None = None
    closed_inputs: str | None = None

    @property
    def is_closed(self) -> bool:
        return self.state == "closed"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 text with microseconds, as the audit trail writes it."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def fiscal_start_month(connection: Connection) -> int:
    """Return the workspace's fiscal start month (1 to 12; 1 when not set)."""
    value = connection.execute(
        select(settings.c.value).where(settings.c.key == FISCAL_START_SETTING)
    ).scalar_one_or_none()
    if value is None:
        return 1
    month = json.loads(value)
    return month if isinstance(month, int) and 1 <= month <= 12 else 1


def read_period(connection: Connection, label: str) -> Period | None:
    """Read a label with the workspace's fiscal start; None when the label has no fixed span.

    A day label names a week or a two-week cycle, which only a plan can tell apart, so it
    returns None unless the day starts a Monday-based week.
    """
    try:
        return parse_period(label, fiscal_start_month=fiscal_start_month(connection))
    except PeriodError:
        return None


def normalise_label(connection: Connection, label: str) -> str:
    """Return the label as the period parser writes it (``fy2018-q1`` -> ``FY2018-Q1``)."""
    text = label.strip()
    period = read_period(connection, text)
    return period.label if period is not None else text


def _from_row(row: object) -> PeriodState:
    return PeriodState(**row._mapping)  # type: ignore[attr-defined]


def state(connection: Connection, label: str) -> PeriodState:
    """Return the state of a period; a period never calculated is open."""
    text = normalise_label(connection, label)
    row = connection.execute(select(period_states).where(period_states.c.label == text)).first()
    if row is not None:
        return _from_row(row)
    period = read_period(connection, text)
    if period is None:
        return PeriodState(text)
    return PeriodState(text, start_date=period.start, end_date=period.end)


def list_periods(connection: Connection) -> list[PeriodState]:
    """Return every period with a recorded state, earliest first."""
    rows = connection.execute(select(period_states)).all()
    found = [_from_row(row) for row in rows]
    return sorted(found, key=_sort_key)


def _sort_key(period: PeriodState) -> tuple[dt.date, dt.date, str]:
    start = period.start_date or dt.date.max
    end = period.end_date or dt.date.max
    return start, end, period.label


def first_open_period(connection: Connection) -> PeriodState | None:
    """Return the earliest recorded period that is not closed, or None when all are closed."""
    for period in list_periods(connection):
        if not period.is_closed:
            return period
    return None


def _closed_message(period: PeriodState, connection: Connection) -> str:
    when = (period.closed_at or "")[:10]
    by = f" by {period.closed_by} on {when}" if period.closed_by else ""
    target = first_open_period(connection)
    where = f"the first open period ({target.label})" if target is not None else "the first open period"
    return (f"{period.label} is closed{by}; record the change as an adjustment in {where}, "
            "because a closed period cannot be reopened")


def assert_period_open(connection: Connection, label: str) -> None:
    """Raise PeriodLockedError when the period is closed."""
    current = state(connection, label)
    if current.is_closed:
        raise PeriodLockedError(_closed_message(current, connection))


def closed_periods_between(connection: Connection, start: dt.date, end: dt.date | None) -> list[PeriodState]:
    """Return the closed periods that share at least one day with start..end (end None = open-ended)."""
    found = []
    for period in list_periods(connection):
        if not period.is_closed or period.start_date is None or period.end_date is None:
            continue
        if period.end_date < start:
            continue
        if end is not None and period.start_date > end:
            continue
        found.append(period)
    return found


def assert_dates_open(connection: Connection, start: dt.date, end: dt.date | None,
                      change: str = "this change") -> None:
    """Raise PeriodLockedError when a closed period overlaps start..end (inclusive; end None = open-ended).

    The plan service calls it with a plan version's effective dates.
    """
    closed = closed_periods_between(connection, start, end)
    if not closed:
        return
    labels = ", ".join(period.label for period in closed)
    last_closed = closed[-1].end_date
    assert last_closed is not None
    raise PeriodLockedError(
        f"{change} takes effect inside closed {'period' if len(closed) == 1 else 'periods'} {labels}; make it "
        f"effective from {(last_closed + dt.timedelta(days=1)).isoformat()} or later, or record an adjustment in "
        "the first open period"
    )


def record_calculation(unit: UnitOfWork, label: str, run_id: int, *, period: Period | None = None) -> PeriodState:
    """Mark a period calculated by ``run_id`` inside the calculation's own transaction.

    Clears an earlier approval. Raises PeriodLockedError for a closed period, so the whole
    calculation rolls back. ``period`` gives the span when the label alone cannot (a week
    or a two-week cycle).
    """
    connection = unit.connection
    before = state(connection, label)
    if before.is_closed:
        raise PeriodLockedError(_closed_message(before, connection))
    span = period or read_period(connection, before.label)
    after = PeriodState(
        label=before.label,
        state="calculated",
        start_date=span.start if span else before.start_date,
        end_date=span.end if span else before.end_date,
        latest_run_id=run_id,
        calculated_by=unit.user,
        calculated_at=now_utc(),
    )
    write_state(unit, before, after, "period.calculate")
    if before.state == "approved":
        log.info("approval of %s by %s cleared by the recalculation in run %s",
                 before.label, before.approved_by, run_id)
    return after


def write_state(unit: UnitOfWork, before: PeriodState, after: PeriodState, action: str) -> None:
    """Store a period's new state and its audit entry in the caller's transaction."""
    values = after.as_dict()
    exists = unit.connection.execute(
        select(period_states.c.label).where(period_states.c.label == before.label)
    ).first()
    if exists is None:
        unit.connection.execute(period_states.insert().values(**values))
        before_entry = None
    else:
        unit.connection.execute(period_states.update().where(period_states.c.label == before.label).values(**values))
        before_entry = before.as_dict()
    unit.audit(action, "period", after.label, before=before_entry, after=after.as_dict())
