"""Plan versions in a workspace: load, export, immutability, validation, closed periods, diff."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from sqlalchemy import select

from spm_desktop.services import close_service, period_service, plan_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, PeriodLockedError, ValidationError
from spm_desktop.store.tables.core import audit_log

PLAN = """\
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31          # inclusive
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      bands:
        - {from: 0,   rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
    cap: 60000
"""

NAME = "Account Executive 2017"


METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
"""


@pytest.fixture
def plan_workspace(workspace: Workspace) -> Workspace:
    from spm_desktop.services import metric_service

    metric_service.load_yaml(workspace, METRICS)
    return workspace


def _audit_actions(workspace: Workspace) -> list[tuple[str, str]]:
    with workspace.read() as connection:
        return [(row.action, row.entity_id) for row in connection.execute(
            select(audit_log.c.action, audit_log.c.entity_id).order_by(audit_log.c.seq))]


def test_load_then_export_round_trip(plan_workspace, tmp_path):
    plan_service.load(plan_workspace, PLAN, source="plan.yaml")
    target = tmp_path / "out.yaml"
    plan_service.export(plan_workspace, NAME, target)
    assert target.read_bytes() == PLAN.encode("utf-8")


def test_load_records_version_and_audit(plan_workspace):
    outcome = plan_service.load(plan_workspace, PLAN, source="plan.yaml", reason="first version")
    assert outcome.created
    assert outcome.plan.version == 1
    assert outcome.plan.period_kind == "quarter"
    assert outcome.plan.effective_to == dt.date(2017, 12, 31)
    assert outcome.plan.author == "tester"
    assert ("plan.load", f"{NAME}@1") in _audit_actions(plan_workspace)


def test_same_document_twice_unchanged(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    again = plan_service.load(plan_workspace, PLAN)
    assert not again.created
    assert len(plan_service.list_plans(plan_workspace)) == 1


def test_changed_document_same_version_rejected(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    changed = PLAN.replace("rate: 0.09", "rate: 0.10")
    with pytest.raises(ConflictError, match="set 'version: 2'"):
        plan_service.load(plan_workspace, changed)


def test_new_version_keeps_old_document(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    plan_service.load(plan_workspace, PLAN.replace("rate: 0.09", "rate: 0.10").replace("version: 1", "version: 2"))
    with plan_workspace.read() as connection:
        first = plan_service.document(connection, NAME, 1)
        second = plan_service.get_plan(connection, NAME, 2)
    assert first == PLAN
    assert str(second.components[0].tiers.bands[2].rate) == "0.10"


def test_save_new_version_audits_before_after(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    with plan_workspace.read() as connection:
        plan = plan_service.get_plan(connection, NAME)
    stored = plan_service.save_new_version(plan_workspace, plan, reason="raise accelerator")
    assert stored.version == 2
    with plan_workspace.read() as connection:
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "plan.save")).one()
    assert json.loads(entry.before)["version"] == 1
    assert json.loads(entry.after)["reason"] == "raise accelerator"


def test_save_without_reason_rejected(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    with plan_workspace.read() as connection:
        plan = plan_service.get_plan(connection, NAME)
    with pytest.raises(ValidationError, match="needs a reason"):
        plan_service.save_new_version(plan_workspace, plan, reason="  ")


def test_band_gap_names_component_and_band(plan_workspace):
    gapped = PLAN.replace("- {from: 0,   rate: 0.03}", "- {from: 0, to: 0.4, rate: 0.03}")
    with pytest.raises(ValidationError) as raised:
        plan_service.load(plan_workspace, gapped)
    messages = [problem.message for problem in raised.value.problems]
    assert any("band 1" in message and "gap" in message for message in messages)
    assert raised.value.problems[0].component == "Bookings commission"
    assert "Bookings commission" in str(raised.value)


def test_unknown_band_key_rejected(plan_workspace):
    typo = PLAN.replace("{from: 0.5, rate: 0.06}", "{from: 0.5, rate: 0.06, rte: 0.07}")
    with pytest.raises(ValidationError) as raised:
        plan_service.load(plan_workspace, typo)
    assert any("unknown key 'rte'" in problem.message for problem in raised.value.problems)


def test_unknown_metric_rejected(plan_workspace):
    with pytest.raises(ValidationError, match="metric 'revenue' is not defined"):
        plan_service.load(plan_workspace, PLAN.replace("metric: bookings", "metric: revenue"))


def test_rejected_plan_stores_nothing(plan_workspace):
    with pytest.raises(ValidationError):
        plan_service.load(plan_workspace, PLAN.replace("rate: 0.06", "rate: -0.06"))
    assert plan_service.list_plans(plan_workspace) == []


def test_invalid_yaml_rejected(plan_workspace):
    with pytest.raises(ValidationError, match="not valid YAML"):
        plan_service.load(plan_workspace, "plan: [unclosed")


def test_version_inside_closed_period_rejected(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    with plan_workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    close_service.approve(plan_workspace.as_user("checker"), "2017-Q1")
    close_service.close(plan_workspace.as_user("checker"), "2017-Q1")
    changed = PLAN.replace("rate: 0.09", "rate: 0.10").replace("version: 1", "version: 2")
    with pytest.raises(PeriodLockedError, match="2017-04-01 or later"):
        plan_service.load(plan_workspace, changed)
    later = changed.replace("effective_from: 2017-01-01", "effective_from: 2017-04-01")
    assert plan_service.load(plan_workspace, later).plan.version == 2


def test_in_force_takes_highest_overlapping_version(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    second = PLAN.replace("version: 1", "version: 2").replace("effective_from: 2017-01-01",
                                                               "effective_from: 2017-07-01")
    plan_service.load(plan_workspace, second)
    with plan_workspace.read() as connection:
        first_half = plan_service.plans_in_force(connection, dt.date(2017, 1, 1), dt.date(2017, 3, 31))
        second_half = plan_service.plans_in_force(connection, dt.date(2017, 7, 1), dt.date(2017, 9, 30))
    assert [version.version for version, _plan in first_half] == [1]
    assert [version.version for version, _plan in second_half] == [2]


def test_retired_version_not_in_force(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    plan_service.set_status(plan_workspace, NAME, 1, "retired", reason="replaced by the 2018 plan")
    with plan_workspace.read() as connection:
        in_force = plan_service.plans_in_force(connection, dt.date(2017, 1, 1), dt.date(2017, 3, 31))
    assert in_force == []


def test_diff_names_changed_band(plan_workspace):
    plan_service.load(plan_workspace, PLAN)
    plan_service.load(plan_workspace, PLAN.replace("rate: 0.09", "rate: 0.1").replace("version: 1", "version: 2"))
    changes = plan_service.diff(plan_workspace, NAME, 1, 2)
    assert "component 'Bookings commission', tiers, bands, band 3, rate: 0.09 -> 0.1" in changes


def test_export_unknown_plan_lists_stored(plan_workspace, tmp_path):
    plan_service.load(plan_workspace, PLAN)
    with pytest.raises(NotFoundError, match="stored plans: 'Account Executive 2017'"):
        plan_service.export(plan_workspace, "Manager 2017", tmp_path / "x.yaml")


def test_edited_document_reported_by_verify(plan_workspace):
    from spm_desktop.services import audit_service

    plan_service.load(plan_workspace, PLAN)
    connection = sqlite3.connect(plan_workspace.path)
    connection.execute("UPDATE plans SET document = replace(document, '0.09', '0.19')")
    connection.commit()
    connection.close()
    report = audit_service.verify(plan_workspace)
    assert not report.ok
    assert any("plan 'Account Executive 2017' version 1" in problem for problem in report.content_problems)


def test_assignment_conflict_names_both_plans(plan_workspace, tmp_path):
    from spm_desktop.services import import_service

    people = tmp_path / "participants.csv"
    people.write_text("participant_id,name,role\nP1,Ana Diaz,Sales Agent\nP2,Ben Ode,Sales Agent\n",
                      encoding="utf-8")
    second = PLAN.replace(f"plan: {NAME}", "plan: Ben only 2017").replace("{role: Sales Agent}", "{ids: [P2]}")
    # Plans loaded before their participants exist cannot be checked at load time ...
    plan_service.load(plan_workspace, PLAN)
    plan_service.load(plan_workspace, second)
    import_service.commit(plan_workspace, import_service.ImportRequest("participants", people))
    # ... so every period check (and every calculation) finds the conflict.
    [problem] = plan_service.period_assignment_problems(plan_workspace, "2017-Q1")
    assert problem.participant_id == "P2"
    assert "plan 'Account Executive 2017' version 1 and plan 'Ben only 2017' version 1" in problem.message


def test_conflicting_plan_rejected_at_load(plan_workspace, tmp_path):
    from spm_desktop.services import import_service

    people = tmp_path / "participants.csv"
    people.write_text("participant_id,name,role\nP1,Ana Diaz,Sales Agent\nP2,Ben Ode,Sales Agent\n",
                      encoding="utf-8")
    import_service.commit(plan_workspace, import_service.ImportRequest("participants", people))
    plan_service.load(plan_workspace, PLAN)
    second = PLAN.replace(f"plan: {NAME}", "plan: Ben only 2017").replace("{role: Sales Agent}", "{ids: [P2]}")
    with pytest.raises(ValidationError) as raised:
        plan_service.load(plan_workspace, second)
    conflicts = [problem for problem in raised.value.problems if problem.code == "plan.assignment_conflict"]
    assert {problem.participant_id for problem in conflicts} == {"P2"}
    assert "plan 'Account Executive 2017' version 1 and plan 'Ben only 2017' version 1" in conflicts[0].message
