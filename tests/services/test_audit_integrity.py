"""``spm audit verify`` finds hand edits of the SQLite file that a finance reviewer expects it to find.

Every test edits the real workspace file with sqlite3, the way someone with the file and
a SQLite shell would, then runs the verification.
"""

import sqlite3

import pytest
from ae_plan import METRICS, PLAN

from spm_desktop.cli import main
from spm_desktop.services import (
    adjustment_service,
    audit_service,
    calc_service,
    close_service,
    inquiry_service,
    metric_service,
    plan_service,
    settings_service,
)
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import PermissionDeniedError
from spm_desktop.store import audit

DEALS = ("deal_id,owner,amount,currency,close_date,stage\n"
         "D1,P1,60000,USD,2017-01-10,Won\n"
         "D2,P1,40000,USD,2017-02-10,Lost\n"
         "D3,P1,30000,USD,2017-05-10,Won\n")


def _import(path, tmp_path, record_set, text):
    source = tmp_path / f"{record_set}-{abs(hash(text))}.csv"
    source.write_text(text, encoding="utf-8")
    assert main(["--user", "maker", "import", str(path), record_set, str(source)]) == 0


def _edit(workspace, *statements):
    with sqlite3.connect(workspace.path) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


@pytest.fixture
def maker(tmp_path):
    path = tmp_path / "audit.spm"
    workspace = Workspace.create(path, user="maker")
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    _import(path, tmp_path, "participants",
            "participant_id,name,role,currency,hire_date,payroll_id\nP1,Ana Diaz,AE,USD,2016-01-04,PAY-1\n")
    _import(path, tmp_path, "quotas", "participant_id,quota_key,period,amount,currency\n"
            "P1,bookings,2017-Q1,100000,USD\nP1,bookings,2017-Q2,100000,USD\n")
    _import(path, tmp_path, "deals", DEALS)
    yield workspace
    workspace.close()


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


@pytest.fixture
def closed_q1(maker, checker):
    calc_service.calculate(maker, "2017-Q1")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    return maker


def _problems(workspace, anchors=()):
    return audit_service.verify(workspace, anchors=tuple(anchors)).problems


# -- a clean history verifies ---------------------------------------------------------


def test_clean_history_verifies(closed_q1, checker, tmp_path):
    adjustment = adjustment_service.create(closed_q1, "P1", "2017-Q2", "10.00", "FIX")
    adjustment_service.approve(checker, adjustment.id)
    withdrawn = adjustment_service.create(closed_q1, "P1", "2017-Q2", "5.00", "FIX")
    adjustment_service.reject(closed_q1, withdrawn.id)
    settings_service.set(closed_q1, "company.name", "Acme Ltd")
    settings_service.reset(closed_q1, "company.name")
    settings_service.set(closed_q1, "company.name", "Acme Group")
    metric_service.set_status(closed_q1, "bookings", "draft", reason="review")
    metric_service.set_status(closed_q1, "bookings", "approved", reason="reviewed")
    raised = inquiry_service.raise_inquiry(closed_q1, "P1", "2017-Q1", "Where is D1?")
    inquiry_service.answer(checker, raised.id, "Paid in Q1.")
    request = inquiry_service.AdjustmentRequest(amount="15.00", reason_code="FIX", period="2017-Q2")
    inquiry_service.resolve(checker, raised.id, "Paid the difference in Q2.", request)
    _import(closed_q1.path, tmp_path, "deals", DEALS.replace("60000", "61000"))
    calc_service.calculate(closed_q1, "2017-Q2")
    assert _problems(closed_q1) == []


# -- metrics, settings and run users -----------------------------------------------------


def test_widened_metric_filter_found(closed_q1):
    _edit(closed_q1, "UPDATE metric_versions SET filter = 'stage == \"Won\" or stage == \"Lost\"' "
                     "WHERE key = 'bookings'")
    expected = ("metric 'bookings' version 1 differs from its audit entry in filter; "
                "it was edited outside SPM Desktop")
    assert expected in _problems(closed_q1)


def test_metric_status_edit_found(maker):
    _edit(maker, "UPDATE metrics SET status = 'retired' WHERE key = 'bookings'")
    expected = "metric 'bookings' differs from its audit entry in status; it was edited outside SPM Desktop"
    assert _problems(maker) == [expected]


def test_hand_inserted_setting_found(maker):
    _edit(maker, "INSERT OR REPLACE INTO settings VALUES ('tieout.tolerance', "
                 "'{\"absolute\": \"100000\", \"relative\": \"0\"}')")
    expected = "setting tieout.tolerance has no audit entry that wrote it; it was written outside SPM Desktop"
    assert _problems(maker) == [expected]


def test_edited_setting_found(maker):
    settings_service.set(maker, "company.name", "Acme Ltd")
    _edit(maker, "UPDATE settings SET value = '\"Other Ltd\"' WHERE key = 'company.name'")
    expected = ("setting company.name differs from the value its audit entry wrote; "
                "it was edited outside SPM Desktop")
    assert _problems(maker) == [expected]


def test_deleted_setting_found(maker):
    settings_service.set(maker, "company.name", "Acme Ltd")
    _edit(maker, "DELETE FROM settings WHERE key = 'company.name'")
    expected = ("setting company.name is in the audit trail but missing from the workspace; "
                "it was deleted outside SPM Desktop")
    assert _problems(maker) == [expected]


def test_run_user_edit_found(maker):
    calc_service.calculate(maker, "2017-Q1")
    _edit(maker, "UPDATE calc_runs SET user = 'other'")
    expected = ("calculation run 1 differs from its audit entry in user; it was edited outside SPM Desktop "
                "(the trail records it as run by maker)")
    assert _problems(maker) == [expected]


def test_run_inputs_made_invalid_found(maker):
    calc_service.calculate(maker, "2017-Q1")
    _edit(maker, "UPDATE calc_runs SET inputs = 'not json'")
    expected = ("calculation run 1 differs from its audit entry in inputs; it was edited outside SPM Desktop "
                "(the trail records it as run by maker)")
    assert _problems(maker) == [expected]


def test_run_superseded_flag_edit_found(maker):
    calc_service.calculate(maker, "2017-Q1")
    calc_service.calculate(maker, "2017-Q1")
    _edit(maker, "UPDATE calc_runs SET superseded = 0 WHERE id = 1")
    expected = ("calculation run 1 differs from its audit entry in superseded; it was edited outside SPM Desktop "
                "(the trail records it as run by maker)")
    assert _problems(maker) == [expected]


def test_edited_inquiry_answer_found(maker):
    raised = inquiry_service.raise_inquiry(maker, "P1", "2017-Q1", "Where is D1?")
    inquiry_service.answer(maker.as_user("checker"), raised.id, "Paid in Q1.")
    _edit(maker, f"UPDATE inquiries SET answer = 'Not paid.' WHERE id = {raised.id}")
    expected = f"inquiry {raised.id} differs from its audit entry in answer; it was edited outside SPM Desktop"
    assert _problems(maker) == [expected]


# -- records ----------------------------------------------------------------------------


def test_deal_edit_in_closed_period_found(closed_q1):
    _edit(closed_q1, "UPDATE records_deals SET amount_e4 = amount_e4 * 100 WHERE deal_id = 'D1'")
    expected = ("records inside closed period 2017-Q1 were changed outside SPM Desktop (deals); "
                "no import was recorded after the period closed")
    assert expected in _problems(closed_q1)


def test_deal_edit_found_after_later_run(closed_q1):
    _edit(closed_q1, "UPDATE records_deals SET amount_e4 = amount_e4 * 100 WHERE deal_id = 'D1'")
    calc_service.calculate(closed_q1, "2017-Q2")
    expected = ("records inside closed period 2017-Q1 were changed outside SPM Desktop (deals); "
                "no import was recorded after the period closed")
    assert expected in _problems(closed_q1)


def test_payroll_id_edit_names_participants(closed_q1):
    _edit(closed_q1, "UPDATE records_participants SET payroll_id = 'ATTACKER-01' WHERE participant_id = 'P1'")
    expected = ("records inside closed period 2017-Q1 were changed outside SPM Desktop (participants); "
                "no import was recorded after the period closed")
    assert expected in _problems(closed_q1)


def test_open_period_edit_after_run_found(maker):
    calc_service.calculate(maker, "2017-Q2")
    _edit(maker, "UPDATE records_deals SET amount_e4 = amount_e4 + 10000 WHERE deal_id = 'D3'")
    expected = ("records (deals) were changed outside SPM Desktop after calculation run 1; "
                "no import was recorded since that run read them")
    assert _problems(maker) == [expected]


def test_import_after_close_accepted(closed_q1, tmp_path):
    _import(closed_q1.path, tmp_path, "deals", DEALS.replace("60000", "90000"))
    assert _problems(closed_q1) == []


def test_edited_close_fingerprint_still_found(closed_q1):
    _edit(closed_q1, "UPDATE records_deals SET amount_e4 = amount_e4 * 100 WHERE deal_id = 'D1'",
          "UPDATE period_states SET closed_inputs = 'f' WHERE label = '2017-Q1'")
    expected = ("records inside closed period 2017-Q1 were changed outside SPM Desktop (deals); "
                "no import was recorded after the period closed")
    assert expected in _problems(closed_q1)


# -- laundering: a hand edit followed by an application write ---------------------------


def test_approved_edited_adjustment_found(maker, checker):
    calc_service.calculate(maker, "2017-Q1")
    created = adjustment_service.create(maker, "P1", "2017-Q1", "5.00", "SPIF_FIX")
    _edit(maker, f"UPDATE adjustments SET amount_minor = 500000 WHERE id = {created.id}")
    adjustment_service.approve(checker, created.id)
    report = audit_service.verify(maker)
    assert report.continuity_break is not None
    assert report.continuity_break.fields == ("amount", "amount_minor")
    assert report.content_problems == []


def test_maker_rename_before_approval_found(maker):
    calc_service.calculate(maker, "2017-Q1")
    _edit(maker, "UPDATE calc_runs SET user = 'other'",
          "UPDATE period_states SET calculated_by = 'other' WHERE label = '2017-Q1'")
    with pytest.raises(PermissionDeniedError):
        close_service.approve(maker, "2017-Q1")
    checker = maker.as_user("checker")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    breaks = audit_service.verify(maker).continuity_break
    assert str(breaks).startswith("audit entry ")
    assert breaks.entity == "period 2017-Q1"
    assert breaks.action == "period.approve"
    assert breaks.fields == ("calculated_by",)
    assert breaks.previous_seq == breaks.seq - 1


def test_hand_inserted_setting_then_set_found(maker):
    _edit(maker, "INSERT INTO settings VALUES ('company.name', '\"Hand Ltd\"')")
    settings_service.set(maker, "company.name", "Acme Ltd")
    report = audit_service.verify(maker)
    assert report.continuity_break is not None
    assert report.continuity_break.previous_seq is None
    assert report.continuity_break.entity == "setting company.name"


def test_continuity_message_names_both_entries(maker, checker):
    created = adjustment_service.create(maker, "P1", "2017-Q1", "5.00", "SPIF_FIX")
    _edit(maker, f"UPDATE adjustments SET reason_code = 'OTHER' WHERE id = {created.id}")
    adjustment_service.approve(checker, created.id)
    breaks = audit_service.verify(maker).continuity_break
    expected = (f"audit entry {breaks.seq} (adjustment.approve) found adjustment {created.id} different from what "
                f"entry {breaks.previous_seq} recorded, in reason_code: the row was changed outside SPM Desktop "
                f"between entries {breaks.previous_seq} and {breaks.seq}")
    assert str(breaks) == expected


# -- anchors against a rewritten chain --------------------------------------------------


def _rewrite_chain(workspace, old_user, new_user):
    """Rename a user everywhere and recompute every hash and the head, as an insider with the code could."""
    quoted_old, quoted_new = f'"{old_user}"', f'"{new_user}"'
    db = sqlite3.connect(workspace.path)
    db.execute(f"UPDATE period_states SET approved_by = '{new_user}', closed_by = '{new_user}' "
               f"WHERE approved_by = '{old_user}'")
    rows = db.execute("SELECT seq, ts, user, action, entity_type, entity_id, before, after FROM audit_log "
                      "ORDER BY seq").fetchall()
    previous = audit.GENESIS_HASH
    for seq, ts, user, action, entity_type, entity_id, before, after in rows:
        user = new_user if user == old_user else user
        before = before.replace(quoted_old, quoted_new) if before else before
        after = after.replace(quoted_old, quoted_new) if after else after
        digest = audit.entry_hash(previous, seq, ts, user, action, entity_type, entity_id, before, after)
        db.execute("UPDATE audit_log SET user = ?, before = ?, after = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (user, before, after, previous, digest, seq))
        previous = digest
    db.execute("UPDATE workspace_info SET value = ? WHERE key = 'audit_head'", (f"{rows[-1][0]}:{previous}",))
    db.commit()
    db.close()


def test_rewritten_chain_passes_without_anchor(closed_q1):
    _rewrite_chain(closed_q1, "checker", "auditor")
    assert audit_service.verify(closed_q1).ok


def test_rewritten_chain_fails_with_anchor(closed_q1):
    anchor = audit_service.head(closed_q1)
    _rewrite_chain(closed_q1, "checker", "auditor")
    problems = _problems(closed_q1, [anchor])
    assert len(problems) == 1
    assert problems[0].startswith(f"audit entry {anchor.seq} no longer has the anchored hash")


def test_anchor_of_current_head_passes(closed_q1):
    report = audit_service.verify(closed_q1, anchors=(audit_service.head(closed_q1),))
    assert report.ok
    assert report.anchors_checked == 1


def test_anchor_past_the_end_found(closed_q1):
    head = audit_service.head(closed_q1)
    problems = _problems(closed_q1, [audit.Anchor(head.seq + 5, head.hash)])
    expected = (f"anchored audit entry {head.seq + 5} is missing: the trail was cut back or rewritten "
                "outside SPM Desktop")
    assert expected in problems


@pytest.mark.parametrize("text", ["12", "x:" + "a" * 64, "3:" + "a" * 63, "3:" + "g" * 64])
def test_invalid_anchor_rejected(text):
    with pytest.raises(ValueError, match="ENTRY:HASH"):
        audit.parse_anchor(text)


def test_anchor_parses_head_output():
    digest = "AB" * 32
    assert audit.parse_anchor(f" 7:{digest} ") == audit.Anchor(7, digest.lower())
