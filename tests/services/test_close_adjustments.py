"""Manual adjustments and inquiries: maker-checker approval, validation, resolution with an adjustment."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from spm_desktop.services import adjustment_service, close_service, inquiry_service, period_service, prior_period
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import (
    ConflictError,
    NotFoundError,
    PeriodLockedError,
    PermissionDeniedError,
    ValidationError,
)
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import participants


@pytest.fixture
def maker(tmp_path):
    with Workspace.create(tmp_path / "adjust.spm", user="maker") as created:
        with created.transaction() as unit:
            unit.connection.execute(participants.insert(), [
                {"participant_id": "P1", "name": "Ana Diaz", "currency": "USD",
                 "record_key": '["P1"]'},
                {"participant_id": "P2", "name": "Ben Ode", "currency": None,
                 "record_key": '["P2"]'},
                {"participant_id": "P3", "name": "Kei Sato", "currency": "JPY",
                 "record_key": '["P3"]'},
            ])
        yield created


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


def _actions(workspace):
    with workspace.read() as connection:
        return [row.action for row in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]


def test_adjustment_created_pending(maker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "-125.50", "CLAWBACK_FIX", note="returned order")
    assert created.status == "pending"
    assert created.amount == Decimal("-125.50")
    assert created.amount_minor == -12550
    assert created.currency == "USD"
    assert created.author == "maker"
    assert created.source == "manual"
    assert _actions(maker)[-1] == "adjustment.create"


def test_adjustment_approved_by_other_user(maker, checker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "300", "SPIF_FIX")
    approved = adjustment_service.approve(checker, created.id, note="checked against CRM")
    assert approved.status == "approved"
    assert approved.approved_by == "checker"
    assert approved.decision_note == "checked against CRM"
    assert _actions(maker)[-1] == "adjustment.approve"


def test_adjustment_author_cannot_approve(maker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "300", "SPIF_FIX")
    with pytest.raises(PermissionDeniedError, match="another user must approve it"):
        adjustment_service.approve(maker, created.id)
    with maker.read() as connection:
        assert adjustment_service.get(connection, created.id).status == "pending"


def test_adjustment_author_in_other_case_cannot_approve(maker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "300", "SPIF_FIX")
    with pytest.raises(PermissionDeniedError):
        adjustment_service.approve(maker.as_user("Maker"), created.id)


def test_adjustment_author_may_withdraw(maker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "300", "SPIF_FIX")
    rejected = adjustment_service.reject(maker, created.id, note="typed the wrong amount")
    assert rejected.status == "rejected"


def test_adjustment_decided_once(maker, checker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "300", "SPIF_FIX")
    adjustment_service.reject(checker, created.id)
    with pytest.raises(ConflictError, match="already rejected"):
        adjustment_service.approve(checker, created.id)


def test_adjustment_currency_from_option(maker):
    created = adjustment_service.create(maker, "P2", "2017-Q2", "10.00", "FX", currency="eur")
    assert created.currency == "EUR"


@pytest.mark.parametrize(("participant", "amount", "reason", "currency", "message"), [
    ("P1", "12.345", "FIX", None, "more decimals than USD allows"),
    ("P3", "100.5", "FIX", None, "more decimals than JPY allows"),
    ("P1", "0", "FIX", None, "amount is 0"),
    ("P1", "ten", "FIX", None, "amount 'ten' is invalid"),
    ("P1", "10", "bad code!", None, "reason code 'bad code!' is invalid"),
    ("P2", "10", "FIX", None, "has no currency"),
    ("P1", "10", "FIX", "dollars", "currency 'DOLLARS' is invalid"),
])
def test_adjustment_invalid_input(maker, participant, amount, reason, currency, message):
    with pytest.raises(ValidationError, match=message):
        adjustment_service.create(maker, participant, "2017-Q2", amount, reason, currency=currency)


def test_adjustment_unknown_participant(maker):
    with pytest.raises(NotFoundError, match="participant 'P9' is not among the imported participants"):
        adjustment_service.create(maker, "P9", "2017-Q2", "10", "FIX")


def test_adjustment_invalid_period(maker):
    with pytest.raises(ValidationError, match="period '2017-Q7' is invalid"):
        adjustment_service.create(maker, "P1", "2017-Q7", "10", "FIX")


def test_approved_adjustments_for_calculation(maker, checker):
    first = adjustment_service.create(maker, "P1", "2017-Q2", "100", "A")
    adjustment_service.create(maker, "P1", "2017-Q2", "200", "B")
    rejected = adjustment_service.create(maker, "P1", "2017-Q2", "300", "C")
    other_period = adjustment_service.create(maker, "P1", "2017-Q3", "400", "D")
    for adjustment in (first, other_period):
        adjustment_service.approve(checker, adjustment.id)
    adjustment_service.reject(checker, rejected.id)
    with maker.read() as connection:
        found = adjustment_service.approved_adjustments(connection, "2017-q2")
    assert [adjustment.id for adjustment in found] == [first.id]


def test_list_adjustments_filters(maker, checker):
    first = adjustment_service.create(maker, "P1", "2017-Q2", "100", "A")
    adjustment_service.create(maker, "P3", "2017-Q2", "200", "B")
    adjustment_service.approve(checker, first.id)
    assert len(adjustment_service.list_adjustments(maker)) == 2
    assert [a.participant_id for a in adjustment_service.list_adjustments(maker, status="pending")] == ["P3"]
    assert [a.id for a in adjustment_service.list_adjustments(maker, participant_id="P1")] == [first.id]


def test_inquiry_open_to_resolved_with_adjustment(maker, checker):
    raised = inquiry_service.raise_inquiry(maker, "P1", "2017-Q2", "My GTX Pro deal of May 3 is missing")
    assert raised.state == "open"
    answered = inquiry_service.answer(maker, raised.id, "The deal was booked under Ben; we will credit you")
    assert answered.state == "answered"
    assert answered.answered_by == "maker"
    request = inquiry_service.AdjustmentRequest(amount="450.00", reason_code="MISSED_CREDIT")
    resolved = inquiry_service.resolve(maker, raised.id, "Credited by adjustment", request)
    assert resolved.state == "resolved"
    assert resolved.adjustment_id is not None
    with maker.read() as connection:
        created = adjustment_service.get(connection, resolved.adjustment_id)
    assert created.source == "inquiry"
    assert created.inquiry_id == raised.id
    assert created.status == "pending"
    assert created.amount == Decimal("450.00")
    assert created.period == "2017-Q2"
    approved = adjustment_service.approve(checker, created.id)
    assert approved.status == "approved"


def test_inquiry_on_closed_period_pays_in_first_open(maker, checker):
    with maker.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
        period_service.record_calculation(unit, "2017-Q2", 2)
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    raised = inquiry_service.raise_inquiry(maker, "P1", "2017-Q1", "Rate looks wrong")
    request = inquiry_service.AdjustmentRequest(amount="20", reason_code="RATE_FIX")
    resolved = inquiry_service.resolve(checker, raised.id, "Rate corrected", request)
    with maker.read() as connection:
        created = adjustment_service.get(connection, resolved.adjustment_id)
    assert created.period == "2017-Q2"


def test_inquiry_adjustment_in_closed_period_rolls_back(maker, checker):
    with maker.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    raised = inquiry_service.raise_inquiry(maker, "P1", "2017-Q1", "Rate looks wrong")
    request = inquiry_service.AdjustmentRequest(amount="20", reason_code="RATE_FIX", period="2017-Q1")
    with pytest.raises(PeriodLockedError):
        inquiry_service.resolve(checker, raised.id, "Rate corrected", request)
    assert inquiry_service.list_inquiries(maker)[0].state == "open"


def test_inquiry_resolved_once(maker):
    raised = inquiry_service.raise_inquiry(maker, "P1", "2017-Q2", "Why is my draw negative?")
    inquiry_service.resolve(maker, raised.id, "Explained the draw recovery")
    with pytest.raises(ConflictError, match="already resolved"):
        inquiry_service.answer(maker, raised.id, "again")


def test_inquiry_empty_text_rejected(maker):
    with pytest.raises(ValidationError, match="question is missing"):
        inquiry_service.raise_inquiry(maker, "P1", "2017-Q2", "   ")


def test_inquiry_list_filters(maker):
    first = inquiry_service.raise_inquiry(maker, "P1", "2017-Q2", "one")
    inquiry_service.raise_inquiry(maker, "P3", "2017-Q3", "two")
    inquiry_service.answer(maker, first.id, "done")
    assert [i.id for i in inquiry_service.list_inquiries(maker, state="answered")] == [first.id]
    assert [i.participant_id for i in inquiry_service.list_inquiries(maker, period="2017-Q3")] == ["P3"]
    assert len(inquiry_service.list_inquiries(maker, participant_id="P1")) == 1


def test_adjustments_frame_for_engine(maker, checker):
    approved = adjustment_service.create(maker, "P1", "2017-Q2", "-125.50", "CLAWBACK_FIX", note="returned")
    adjustment_service.approve(checker, approved.id)
    adjustment_service.create(maker, "P3", "2017-Q2", "1000", "PENDING_ONE")
    prior = prior_period.PriorPeriodAdjustment(
        participant_id="P3", participant_name="Kei Sato", period="2017-Q2", source_period="2017-Q1",
        component="Bookings", amount_minor=500, currency="JPY", causes=("late deal",), deals={"D9": 500})
    with maker.read() as connection:
        frame = adjustment_service.adjustments_frame(connection, "2017-Q2", [prior])
    assert list(frame["participant_id"]) == ["P1", "P3"]
    assert list(frame["amount"]) == [-1255000, 5000000]
    assert str(frame["amount"].dtype) == "Int64"
    assert list(frame["reason_code"]) == ["CLAWBACK_FIX", "PRIOR_PERIOD"]
    assert frame["note"][1] == "2017-Q1 Bookings: late deal (deals D9)"
    assert list(frame["source"]) == ["manual", "prior_period"]


def test_self_approval_names_author_and_acting_user(maker):
    created = adjustment_service.create(maker, "P1", "2017-Q2", "10.00", "FIX")
    with pytest.raises(PermissionDeniedError) as raised:
        adjustment_service.approve(maker.as_user("MAKER"), created.id)
    assert f"adjustment {created.id} was created by maker and the acting user is MAKER" in str(raised.value)
