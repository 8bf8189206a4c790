"""Manual payout adjustments: create, approve or reject (maker-checker), list.

An adjustment adds an amount in the participant's currency to one period's payout.
It counts in a calculation only once approved, and only by a user other than its
author. Adjustments of a closed period can be neither created nor decided. The
calculation reads approved adjustments with ``approved_adjustments``; prior-period
adjustments (source ``prior_period``) are written by the calculation itself and are
not returned there, because each calculation recomputes them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, select

from spm_desktop.domain import money
from spm_desktop.domain.canonical import canonical_json
from spm_desktop.domain.problems import Problem
from spm_desktop.domain.records import record_set
from spm_desktop.services import period_service
from spm_desktop.services.context import UnitOfWork, Workspace
from spm_desktop.services.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    SpmError,
    ValidationError,
)
from spm_desktop.store.tables.close import adjustments

log = logging.getLogger(__name__)

REASON_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
MANUAL_SOURCES = ("manual", "inquiry", "import")
PRIOR_PERIOD_REASON = "PRIOR_PERIOD"
MAX_AMOUNT = Decimal(10) ** 14


@dataclass(frozen=True)
class Adjustment:
    """One stored adjustment; ``amount_minor`` counts minor units of ``currency``."""

    id: int
    participant_id: str
    period: str
    amount_minor: int
    currency: str
    reason_code: str
    note: str | None
    author: str
    created_at: str
    status: str
    approved_by: str | None
    approved_at: str | None
    decision_note: str | None
    source: str
    source_period: str | None
    run_id: int | None
    inquiry_id: int | None
    detail: str | None

    @property
    def amount(self) -> Decimal:
        return money.from_minor(self.amount_minor, self.currency)

    @property
    def details(self) -> dict[str, object]:
        """Return the decoded ``detail`` JSON (cause and deals of a prior-period adjustment)."""
        return json.loads(self.detail) if self.detail else {}

    def as_dict(self) -> dict[str, object]:
        values = asdict(self)
        values["amount"] = str(self.amount)
        return values


def _from_row(row: object) -> Adjustment:
    return Adjustment(**row._mapping)  # type: ignore[attr-defined]


def get(connection: Connection, adjustment_id: int) -> Adjustment:
    """Return one adjustment, raising NotFoundError naming the id."""
    row = connection.execute(select(adjustments).where(adjustments.c.id == adjustment_id)).first()
    if row is None:
        raise NotFoundError(f"adjustment {adjustment_id} does not exist; 'spm adjust list' shows the ids")
    return _from_row(row)


def parse_amount(value: object, currency: str) -> int:
    """Read an amount exactly and return its minor units; reject extra decimals and zero."""
    try:
        amount = money.to_decimal(value)
    except money.MoneyError as error:
        raise ValidationError(f"adjustment amount {value!r} is invalid: {error}; write it as -125.50") from None
    exponent = money.minor_exponent(currency)
    if amount != money.round_half_up(amount, exponent):
        raise ValidationError(
            f"adjustment amount {value} has more decimals than {currency} allows ({exponent}); round it first"
        )
    if amount == 0:
        raise ValidationError("adjustment amount is 0; give a positive amount to pay more or a negative one to recover")
    # The engine carries adjustments in 1/10,000 units in a signed 64-bit integer.
    if abs(amount) >= MAX_AMOUNT:
        raise ValidationError(f"adjustment amount {value} has more than 14 integer digits; the largest is "
                              "99999999999999.99. Check it for a typing mistake")
    return money.to_minor(amount, currency)


def _participant_currency(connection: Connection, participant_id: str) -> tuple[bool, str | None]:
    """Return (known, currency) of an imported participant."""
    from spm_desktop.services import record_service

    for participant in record_service.list_participants(connection):
        if participant.participant_id == participant_id:
            return True, participant.currency
    return False, None


def _check_new(connection: Connection, participant_id: str, reason_code: str, currency: str | None) -> str:
    """Validate a new adjustment's participant, reason code and currency; return the currency."""
    if not participant_id.strip():
        raise ValidationError("participant id is missing; give the participant_id of an imported participant")
    if not REASON_CODE.match(reason_code or ""):
        raise ValidationError(
            f"reason code {reason_code!r} is invalid; use letters, digits, '_', '-' or '.', for example SPIF_FIX"
        )
    known, participant_currency = _participant_currency(connection, participant_id)
    if not known:
        raise NotFoundError(
            f"participant {participant_id!r} is not among the imported participants; import them first "
            "or check the id"
        )
    chosen = (currency or participant_currency or "").strip().upper()
    if not chosen:
        raise ValidationError(
            f"participant {participant_id!r} has no currency; give the adjustment's currency, for example USD"
        )
    if not CURRENCY_CODE.match(chosen):
        raise ValidationError(f"currency {chosen!r} is invalid; give a three-letter ISO code such as USD")
    return chosen


def create(workspace: Workspace, participant_id: str, period: str, amount: object, reason_code: str, *,
           note: str | None = None, currency: str | None = None, source: str = "manual",
           inquiry_id: int | None = None) -> Adjustment:
    """Record a pending adjustment of an open period; another user must approve it."""
    with workspace.transaction() as unit:
        return create_in(unit, participant_id, period, amount, reason_code, note=note, currency=currency,
                         source=source, inquiry_id=inquiry_id)


def create_in(unit: UnitOfWork, participant_id: str, period: str, amount: object, reason_code: str, *,
              note: str | None = None, currency: str | None = None, source: str = "manual",
              inquiry_id: int | None = None, detail: dict[str, object] | None = None) -> Adjustment:
    """Record a pending adjustment inside the caller's transaction (used by inquiry resolution)."""
    if source not in MANUAL_SOURCES:
        raise ValidationError(f"adjustment source {source!r} is invalid; expected one of {', '.join(MANUAL_SOURCES)}")
    connection = unit.connection
    label = period_service.normalise_label(connection, period)
    if period_service.read_period(connection, label) is None and not _is_day_label(label):
        raise ValidationError(f"period {period!r} is invalid; write a label such as 2017-Q3, 2017-07 or 2017")
    period_service.assert_period_open(connection, label)
    participant_id = participant_id.strip()
    chosen_currency = _check_new(connection, participant_id, reason_code, currency)
    amount_minor = parse_amount(amount, chosen_currency)
    values = {
        "participant_id": participant_id,
        "period": label,
        "amount_minor": amount_minor,
        "currency": chosen_currency,
        "reason_code": reason_code,
        "note": (note or "").strip() or None,
        "author": unit.user,
        "created_at": period_service.now_utc(),
        "status": "pending",
        "source": source,
        "inquiry_id": inquiry_id,
        "detail": None if detail is None else canonical_json(detail),
    }
    new_id = connection.execute(adjustments.insert().values(**values)).inserted_primary_key[0]
    created = get(connection, new_id)
    unit.audit("adjustment.create", "adjustment", new_id, after=created.as_dict())
    return created


def coverage_warning(workspace: Workspace, period: str) -> str | None:
    """Say when no active plan is in force in an adjustment's period, so nothing would pay it yet."""
    from spm_desktop.services import plan_service

    with workspace.read() as connection:
        span = period_service.read_period(connection, period)
        if span is None or plan_service.plans_in_force(connection, span.start, span.end):
            return None
    return (f"no active plan is in force in {period}, so a calculation of {period} cannot pay this adjustment "
            "until a plan covers the period; check the period")


def _is_day_label(label: str) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", label) is not None


def approve(workspace: Workspace, adjustment_id: int, note: str | None = None) -> Adjustment:
    """Approve a pending adjustment; its author cannot (maker-checker)."""
    return _decide(workspace, adjustment_id, "approved", note)


def reject(workspace: Workspace, adjustment_id: int, note: str | None = None) -> Adjustment:
    """Reject a pending adjustment; its author may reject (withdraw) it too."""
    return _decide(workspace, adjustment_id, "rejected", note)


def _decide(workspace: Workspace, adjustment_id: int, status: str, note: str | None) -> Adjustment:
    with workspace.transaction() as unit:
        connection = unit.connection
        before = get(connection, adjustment_id)
        _check_decision(connection, before, status, unit.user)
        connection.execute(adjustments.update().where(adjustments.c.id == adjustment_id).values(
            status=status, approved_by=unit.user, approved_at=period_service.now_utc(),
            decision_note=(note or "").strip() or None,
        ))
        after = get(connection, adjustment_id)
        action = "adjustment.approve" if status == "approved" else "adjustment.reject"
        unit.audit(action, "adjustment", adjustment_id, before=before.as_dict(), after=after.as_dict())
    return after


def _check_decision(connection: Connection, adjustment: Adjustment, status: str, user: str) -> None:
    if adjustment.status != "pending":
        raise ConflictError(
            f"adjustment {adjustment.id} is already {adjustment.status} by {adjustment.approved_by}; "
            "create a new adjustment to change the payout"
        )
    period_service.assert_period_open(connection, adjustment.period)
    if status == "approved" and adjustment.author.casefold() == user.casefold():
        raise PermissionDeniedError(
            f"adjustment {adjustment.id} was created by {adjustment.author} and the acting user is {user}; "
            "another user must approve it (maker-checker)"
        )


def list_adjustments(workspace: Workspace, *, period: str | None = None, participant_id: str | None = None,
                     status: str | None = None, source: str | None = None) -> list[Adjustment]:
    """Return adjustments matching every filter given, newest first."""
    with workspace.read() as connection:
        return query(connection, period=period, participant_id=participant_id, status=status, source=source)


def query(connection: Connection, *, period: str | None = None, participant_id: str | None = None,
          status: str | None = None, source: str | None = None) -> list[Adjustment]:
    """Return adjustments matching every filter given, newest first, on an open connection."""
    statement = select(adjustments).order_by(adjustments.c.id.desc())
    if period:
        statement = statement.where(adjustments.c.period == period_service.normalise_label(connection, period))
    if participant_id:
        statement = statement.where(adjustments.c.participant_id == participant_id)
    if status:
        statement = statement.where(adjustments.c.status == status)
    if source:
        statement = statement.where(adjustments.c.source == source)
    return [_from_row(row) for row in connection.execute(statement)]


def approved_adjustments(connection: Connection, period: str) -> list[Adjustment]:
    """Return the approved manual, inquiry and imported adjustments of a period, oldest first.

    The calculation passes them to the engine as the period's ``Adjustments`` row.
    Prior-period adjustments are not included: ``prior_period.prior_period_adjustments``
    recomputes them on every calculation.
    """
    label = period_service.normalise_label(connection, period)
    statement = (select(adjustments)
                 .where(adjustments.c.period == label, adjustments.c.status == "approved",
                        adjustments.c.source.in_(MANUAL_SOURCES))
                 .order_by(adjustments.c.id))
    return [_from_row(row) for row in connection.execute(statement)]


def pending_ids(connection: Connection, period: str) -> list[int]:
    """Return the ids of the period's adjustments that wait for a decision."""
    label = period_service.normalise_label(connection, period)
    statement = select(adjustments.c.id).where(adjustments.c.period == label, adjustments.c.status == "pending")
    return [value for (value,) in connection.execute(statement.order_by(adjustments.c.id))]


def decided_since(connection: Connection, period: str, since: str) -> list[int]:
    """Return ids of the period's manual adjustments approved after ``since`` (UTC ISO text)."""
    label = period_service.normalise_label(connection, period)
    statement = select(adjustments.c.id).where(
        adjustments.c.period == label, adjustments.c.source.in_(MANUAL_SOURCES),
        adjustments.c.status == "approved", adjustments.c.approved_at > since,
    )
    return [value for (value,) in connection.execute(statement.order_by(adjustments.c.id))]


ADJUSTMENT_FRAME_EXTRA = ("adjustment_id", "source", "source_period")


def adjustments_frame(connection: Connection, period: str, prior: Sequence[object] = ()) -> pd.DataFrame:
    """Return the period's approved adjustments as the engine's ``adjustments`` frame.

    The frame follows the ``adjustments`` record set (amount in 1/10,000 units) with the
    extra columns adjustment_id, source and source_period. ``prior`` takes the
    ``prior_period.PriorPeriodAdjustment`` items of this calculation, which carry
    reason code PRIOR_PERIOD and a note naming the closed period, the cause and the deals.
    """
    rows = []
    for adjustment in approved_adjustments(connection, period):
        rows.append(_frame_row(adjustment.participant_id, adjustment.period, adjustment.amount_minor,
                               adjustment.currency, adjustment.reason_code, adjustment.note,
                               adjustment.id, adjustment.source, None))
    for item in prior:
        rows.append(_frame_row(item.participant_id, item.period, item.amount_minor,  # type: ignore[attr-defined]
                               item.currency, item.reason_code, item.note,  # type: ignore[attr-defined]
                               None, "prior_period", item.source_period))  # type: ignore[attr-defined]
    columns = [*record_set("adjustments").field_names, *ADJUSTMENT_FRAME_EXTRA]
    frame = pd.DataFrame(rows, columns=columns)
    frame["amount"] = frame["amount"].astype("Int64")
    frame["adjustment_id"] = frame["adjustment_id"].astype("Int64")
    return frame


def _frame_row(participant_id: str, period: str, amount_minor: int, currency: str, reason_code: str,
               note: str | None, adjustment_id: int | None, source: str, source_period: str | None) -> list:
    # Minor units to 1/10,000 units: every ISO currency has at most four decimals.
    amount_e4 = amount_minor * 10 ** (money.RECORD_SCALE - money.minor_exponent(currency))
    return [participant_id, period, amount_e4, currency, reason_code, note, adjustment_id, source, source_period]


WITHDRAW_IMPORT_ACTION = "adjustment.import_withdraw"


@dataclass(frozen=True)
class ImportedRow:
    """An imported ``adjustments`` record that is not staged yet, with the file row it came from."""

    record_id: int
    file_name: str | None
    source_row: int | None
    participant_id: str
    period: str
    amount: Decimal
    currency: str | None
    reason_code: str
    note: str | None

    def location(self) -> str:
        """Return 'row R of FILE' (or what of it is known) for messages."""
        row = f"row {self.source_row}" if self.source_row is not None else f"record {self.record_id}"
        return f"{row} of {self.file_name}" if self.file_name else row


@dataclass(frozen=True)
class StagingOutcome:
    """The adjustments ``stage_imported`` created and one problem per imported row it rejected."""

    staged: list[Adjustment]
    rejected: list[Problem]


def stage_imported(workspace: Workspace) -> StagingOutcome:
    """Turn each valid imported ``adjustments`` record that is not staged yet into a pending adjustment.

    A row that names an unknown participant, a closed or invalid period, or an amount
    the currency cannot hold stays unstaged and is reported with its file row, the
    reason and what to do. Each staging reports it again until ``withdraw_imported``
    withdraws it; a corrected row arrives as a new record with the next import. Each
    staged adjustment keeps the record's id, import batch and row in ``detail``.
    """
    with workspace.transaction() as unit:
        created: list[Adjustment] = []
        problems: list[Problem] = []
        for row in _unstaged_rows(unit.connection):
            detail = {"record_id": row.record_id, "batch_id": row.batch_id, "source_row": row.imported.source_row}
            try:
                adjustment = create_in(unit, row.imported.participant_id, row.imported.period, row.imported.amount,
                                       row.imported.reason_code, note=row.imported.note,
                                       currency=row.imported.currency, source="import", detail=detail)
            except SpmError as error:
                problems.append(_rejected_problem(row.imported, str(error)))
                continue
            created.append(adjustment)
    if problems:
        log.warning("staging imported adjustments: %d staged, %d rows rejected", len(created), len(problems))
    return StagingOutcome(created, problems)


def _rejected_problem(imported: ImportedRow, reason: str) -> Problem:
    message = (f"{imported.location()}: {reason}. Import the corrected row, then withdraw this one with "
               f"'spm adjust withdraw WORKSPACE {imported.record_id}' so staging skips it")
    return Problem("adjustment.import_rejected", message, file=imported.file_name, row=imported.source_row,
                   participant_id=imported.participant_id, value=str(imported.amount))


@dataclass(frozen=True)
class _UnstagedRow:
    record_id: int
    batch_id: int | None
    imported: ImportedRow


def _unstaged_rows(connection: Connection) -> list[_UnstagedRow]:
    """Read imported adjustment records neither staged nor withdrawn, in import order."""
    from spm_desktop.store.tables.records import RECORD_TABLES, import_batches

    records = RECORD_TABLES["adjustments"]
    skipped = _staged_record_ids(connection) | _withdrawn_record_ids(connection)
    files = dict(connection.execute(select(import_batches.c.id, import_batches.c.file_name)).all())
    found = []
    for row in connection.execute(select(records).order_by(records.c.id)).mappings():
        if row["id"] in skipped:
            continue
        imported = ImportedRow(
            record_id=row["id"], file_name=files.get(row["batch_id"]), source_row=row["source_row"],
            participant_id=row["participant_id"], period=row["period"],
            amount=_record_amount(int(row["amount_e4"])), currency=row["currency"],
            reason_code=row["reason_code"], note=row["note"])
        found.append(_UnstagedRow(row["id"], row["batch_id"], imported))
    return found


def _record_amount(amount_e4: int) -> Decimal:
    """Return a record amount with two decimals, or with as many as it needs beyond two (0.001, not 0.0010)."""
    amount = money.from_record_units(amount_e4)
    if amount == amount.quantize(Decimal("0.01")):
        return amount.quantize(Decimal("0.01"))
    return amount.normalize()


def unstaged_imports(workspace: Workspace) -> list[ImportedRow]:
    """Return the imported adjustment rows that are neither staged nor withdrawn, in import order."""
    with workspace.read() as connection:
        return [row.imported for row in _unstaged_rows(connection)]


def withdraw_imported(workspace: Workspace, record_id: int, note: str | None = None) -> ImportedRow:
    """Withdraw an imported adjustment row that is not staged, so staging skips it from now on.

    The record itself stays, as every imported record does; the withdrawal is an audit
    entry naming the record and its values. A staged row is a pending adjustment
    instead, which its author or another user rejects.
    """
    with workspace.transaction() as unit:
        connection = unit.connection
        rows = {row.record_id: row.imported for row in _unstaged_rows(connection)}
        if record_id not in rows:
            raise _not_withdrawable(connection, record_id)
        withdrawn = rows[record_id]
        after = {**asdict(withdrawn), "amount": str(withdrawn.amount), "note": (note or "").strip() or None,
                 "row_note": withdrawn.note}
        unit.audit(WITHDRAW_IMPORT_ACTION, "adjustment_record", record_id, after=after)
    log.info("imported adjustment record %s withdrawn", record_id)
    return withdrawn


def _not_withdrawable(connection: Connection, record_id: int) -> SpmError:
    if record_id in _withdrawn_record_ids(connection):
        return ConflictError(f"imported adjustment record {record_id} is already withdrawn")
    if record_id in _staged_record_ids(connection):
        return ConflictError(
            f"imported adjustment record {record_id} is already staged as a pending adjustment; reject that "
            "adjustment with 'spm adjust reject' instead (find its id with 'spm adjust list --source import')"
        )
    return NotFoundError(
        f"imported adjustment record {record_id} does not exist; 'spm adjust stage' names the records it rejects"
    )


def _withdrawn_record_ids(connection: Connection) -> set[int]:
    from spm_desktop.store.tables.core import audit_log

    statement = select(audit_log.c.entity_id).where(audit_log.c.action == WITHDRAW_IMPORT_ACTION)
    return {int(value) for (value,) in connection.execute(statement)}


def _staged_record_ids(connection: Connection) -> set[int]:
    statement = select(adjustments.c.detail).where(adjustments.c.source == "import")
    found = set()
    for (detail,) in connection.execute(statement):
        record_id = json.loads(detail or "{}").get("record_id")
        if isinstance(record_id, int):
            found.add(record_id)
    return found


def store_prior_period_adjustments(unit: UnitOfWork, label: str, run_id: int,
                                   found: Sequence[object]) -> list[int]:
    """Replace the open period's prior-period adjustments with those of run ``run_id``; return the new ids.

    ``found`` contains ``prior_period.PriorPeriodAdjustment`` items.

    They are stored approved: the approval of the period's calculation covers them.
    """
    connection = unit.connection
    old = connection.execute(select(adjustments).where(
        adjustments.c.period == label, adjustments.c.source == "prior_period")).mappings().all()
    if old:
        connection.execute(adjustments.delete().where(
            adjustments.c.period == label, adjustments.c.source == "prior_period"))
        unit.audit("adjustment.prior_period_replace", "period_adjustments", label,
                   before=[dict(row) for row in old], after={"run_id": run_id})
    now = period_service.now_utc()
    new_ids = []
    for item in found:
        values = {
            "participant_id": item.participant_id, "period": label, "amount_minor": item.amount_minor,
            "currency": item.currency, "reason_code": PRIOR_PERIOD_REASON, "note": item.note,
            "author": unit.user, "created_at": now, "status": "approved", "approved_by": None,
            "approved_at": None, "decision_note": "approved with the period's calculation",
            "source": "prior_period", "source_period": item.source_period, "run_id": run_id,
            "detail": canonical_json(item.detail()),
        }
        new_id = connection.execute(adjustments.insert().values(**values)).inserted_primary_key[0]
        unit.audit("adjustment.prior_period", "adjustment", new_id,
                   after={**values, "id": new_id, "detail": json.loads(values["detail"])})
        new_ids.append(new_id)
    return new_ids
