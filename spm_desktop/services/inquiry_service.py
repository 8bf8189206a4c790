"""Participant inquiries about statements: log, answer, resolve (optionally with an adjustment).

An inquiry moves open -> answered -> resolved; it may also be resolved straight from
open. It may be logged about any period, closed ones included, because questions
usually come after statements are issued. A resolution that changes the payout
creates a pending adjustment (source ``inquiry``) in an open period, which another
user approves like any manual adjustment.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, inspect, select

from spm_desktop.services import adjustment_service, period_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, ValidationError
from spm_desktop.store.tables.close import INQUIRY_STATES, adjustments, inquiries

log = logging.getLogger(__name__)

MAX_TEXT = 10_000


@dataclass(frozen=True)
class Inquiry:
    """One logged inquiry and the adjustment its resolution created, if any."""

    id: int
    participant_id: str
    period: str
    result_line_id: int | None
    text: str
    raised_by: str
    raised_at: str
    state: str
    answer: str | None
    answered_by: str | None
    answered_at: str | None
    resolution: str | None
    resolved_by: str | None
    resolved_at: str | None
    adjustment_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class AdjustmentRequest:
    """The adjustment a resolution asks for; ``period`` defaults to the first open period."""

    amount: object
    reason_code: str
    period: str | None = None
    currency: str | None = None
    note: str | None = None


def _clean_text(value: str, field_name: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"the {field_name} is missing; enter the participant's question or the response given")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"the {field_name} has {len(text)} characters; the maximum is {MAX_TEXT}, so shorten it")
    return text


def _adjustment_of(connection: Connection, inquiry_id: int) -> int | None:
    return connection.execute(
        select(adjustments.c.id).where(adjustments.c.inquiry_id == inquiry_id).order_by(adjustments.c.id.desc())
    ).scalars().first()


def get(connection: Connection, inquiry_id: int) -> Inquiry:
    """Return one inquiry, raising NotFoundError naming the id."""
    row = connection.execute(select(inquiries).where(inquiries.c.id == inquiry_id)).first()
    if row is None:
        raise NotFoundError(f"inquiry {inquiry_id} does not exist; 'spm inquiry list' shows the ids")
    return Inquiry(**row._mapping, adjustment_id=_adjustment_of(connection, inquiry_id))


def _check_result_line(connection: Connection, participant_id: str, result_line_id: int) -> None:
    """Reject a statement line that does not exist or belongs to another participant."""
    if not inspect(connection).has_table("result_lines"):
        return
    from spm_desktop.store.tables.calc import result_lines

    owner = connection.execute(
        select(result_lines.c.participant_id).where(result_lines.c.id == result_line_id)
    ).scalar_one_or_none()
    if owner is None:
        raise NotFoundError(f"statement line {result_line_id} does not exist; check the line id on the statement")
    if owner != participant_id:
        raise ValidationError(
            f"statement line {result_line_id} belongs to participant {owner}, not {participant_id}; "
            "check the participant or the line id"
        )


def raise_inquiry(workspace: Workspace, participant_id: str, period: str, text: str, *,
                  result_line_id: int | None = None) -> Inquiry:
    """Log a participant's question about a period's statement (or one of its lines)."""
    participant_id = (participant_id or "").strip()
    if not participant_id:
        raise ValidationError("participant id is missing; give the id of the participant who asked")
    body = _clean_text(text, "question")
    with workspace.transaction() as unit:
        connection = unit.connection
        label = period_service.normalise_label(connection, period)
        if result_line_id is not None:
            _check_result_line(connection, participant_id, result_line_id)
        values = {
            "participant_id": participant_id, "period": label, "result_line_id": result_line_id, "text": body,
            "raised_by": unit.user, "raised_at": period_service.now_utc(), "state": "open",
        }
        new_id = connection.execute(inquiries.insert().values(**values)).inserted_primary_key[0]
        created = get(connection, new_id)
        unit.audit("inquiry.raise", "inquiry", new_id, after=created.as_dict())
    return created


def answer(workspace: Workspace, inquiry_id: int, text: str) -> Inquiry:
    """Record the answer given to the participant; an answered inquiry may be answered again."""
    body = _clean_text(text, "answer")
    with workspace.transaction() as unit:
        connection = unit.connection
        before = get(connection, inquiry_id)
        if before.state == "resolved":
            raise ConflictError(f"inquiry {inquiry_id} is already resolved; log a new inquiry for a new question")
        connection.execute(inquiries.update().where(inquiries.c.id == inquiry_id).values(
            state="answered", answer=body, answered_by=unit.user, answered_at=period_service.now_utc()))
        after = get(connection, inquiry_id)
        unit.audit("inquiry.answer", "inquiry", inquiry_id, before=before.as_dict(), after=after.as_dict())
    return after


def resolve(workspace: Workspace, inquiry_id: int, resolution: str,
            adjustment: AdjustmentRequest | None = None) -> Inquiry:
    """Resolve an inquiry; with ``adjustment``, also create a pending adjustment in the same transaction."""
    body = _clean_text(resolution, "resolution")
    with workspace.transaction() as unit:
        connection = unit.connection
        before = get(connection, inquiry_id)
        if before.state == "resolved":
            raise ConflictError(f"inquiry {inquiry_id} is already resolved by {before.resolved_by}")
        if adjustment is not None:
            target = _adjustment_period(connection, before, adjustment)
            note = adjustment.note or f"inquiry {inquiry_id}: {body}"
            adjustment_service.create_in(unit, before.participant_id, target, adjustment.amount,
                                         adjustment.reason_code, note=note, currency=adjustment.currency,
                                         source="inquiry", inquiry_id=inquiry_id)
        connection.execute(inquiries.update().where(inquiries.c.id == inquiry_id).values(
            state="resolved", resolution=body, resolved_by=unit.user, resolved_at=period_service.now_utc()))
        after = get(connection, inquiry_id)
        unit.audit("inquiry.resolve", "inquiry", inquiry_id, before=before.as_dict(), after=after.as_dict())
    return after


def _adjustment_period(connection: Connection, inquiry: Inquiry, request: AdjustmentRequest) -> str:
    """Choose the period that pays a resolution's adjustment: as requested, else the inquiry's if open."""
    if request.period:
        return request.period
    if not period_service.state(connection, inquiry.period).is_closed:
        return inquiry.period
    first_open = period_service.first_open_period(connection)
    if first_open is None:
        raise ValidationError(
            f"{inquiry.period} is closed and no later period has been calculated; "
            "give the period that should pay the adjustment"
        )
    return first_open.label


def list_inquiries(workspace: Workspace, *, state: str | None = None, participant_id: str | None = None,
                   period: str | None = None) -> list[Inquiry]:
    """Return inquiries matching every filter given, newest first."""
    if state is not None and state not in INQUIRY_STATES:
        raise ValidationError(f"inquiry state {state!r} is invalid; expected one of {', '.join(INQUIRY_STATES)}")
    with workspace.read() as connection:
        statement = select(inquiries).order_by(inquiries.c.id.desc())
        if state:
            statement = statement.where(inquiries.c.state == state)
        if participant_id:
            statement = statement.where(inquiries.c.participant_id == participant_id)
        if period:
            statement = statement.where(inquiries.c.period == period_service.normalise_label(connection, period))
        rows = connection.execute(statement).all()
        return [Inquiry(**row._mapping, adjustment_id=_adjustment_of(connection, row.id)) for row in rows]
