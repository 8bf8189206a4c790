"""Scenarios: save a plan copy, change one band, run it on a calculated quarter, compare, export.

Three participants on one quarterly plan, quota 100,000 each, marginal 5% to quota and
10% above it. Official 2017-Q1 earnings: P1 80,000 -> 4,000.00; P2 120,000 -> 5,000 +
2,000 = 7,000.00; P3 150,000 -> 5,000 + 5,000 = 10,000.00. The scenario raises the band
from 100% to 12%: P1 4,000.00 (no change), P2 7,400.00 (+400.00), P3 11,000.00 (+1,000.00).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from decimal import Decimal as D  # noqa: N817  (short for hand-computed tables)

import pytest
from openpyxl import load_workbook

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import audit_service, calc_service, metric_service, plan_service, scenario_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, ValidationError
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

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

PLAN = """\
plan: AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
        - {from: 1.0, rate: 0.10}
"""

HIGHER = PLAN.replace("{from: 1.0, rate: 0.10}", "{from: 1.0, rate: 0.12}")
SALES = {"P1": 80000, "P2": 120000, "P3": 150000}


def insert_records(connection, record_set: str, rows: list[dict]) -> None:
    """Write record rows the way an import stores them (money already in 1/10,000 units)."""
    spec = RECORD_SETS[record_set]
    stored = []
    for number, row in enumerate(rows, start=1):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key])
        values["row_hash"] = f"{number:032x}"
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def _build(workspace) -> None:
    metric_service.load_yaml(workspace, METRICS)
    plan_service.load(workspace, PLAN)
    with workspace.transaction() as unit:
        insert_records(unit.connection, "participants", [
            {"participant_id": pid, "name": f"Rep {pid}", "role": "AE", "region": "East"}
            for pid in SALES])
        insert_records(unit.connection, "quotas", [
            {"participant_id": pid, "quota_key": "bookings", "period": "2017-Q1", "amount": 100000 * 10_000,
             "currency": "USD"} for pid in SALES])
        insert_records(unit.connection, "deals", [
            {"deal_id": f"D-{pid}", "owner": pid, "amount": amount * 10_000, "currency": "USD",
             "close_date": "2017-02-15", "stage": "Won", "type": "sale"} for pid, amount in SALES.items()])
    calc_service.calculate(workspace, "2017-Q1")


def _copy_of(template, tmp_path):
    """Open a fresh copy of a prepared workspace file, so each test starts from the same state."""
    target = tmp_path / "test.spm"
    shutil.copyfile(template, target)
    return Workspace.open(target, "tester")


def _prepared(tmp_path_factory, build) -> object:
    path = tmp_path_factory.mktemp("prepared") / "prepared.spm"
    workspace = Workspace.create(path, "tester")
    try:
        build(workspace)
    finally:
        workspace.close()
    return path


@pytest.fixture(scope="module")
def calculated_file(tmp_path_factory):
    return _prepared(tmp_path_factory, _build)


@pytest.fixture
def calculated(calculated_file, tmp_path):
    workspace = _copy_of(calculated_file, tmp_path)
    yield workspace
    workspace.close()


def dump_official(path) -> list:
    """Return every stored row of official runs, the period states and plans, in id order."""
    with sqlite3.connect(path) as connection:
        official = [row[0] for row in connection.execute("SELECT id FROM calc_runs WHERE kind = 'official'")]
        marks = ",".join("?" * len(official))
        dump = [list(connection.execute(f"SELECT * FROM calc_runs WHERE id IN ({marks}) ORDER BY id", official))]
        for table in ("results", "result_lines", "calc_balances"):
            dump.append(list(connection.execute(
                f"SELECT * FROM {table} WHERE run_id IN ({marks}) ORDER BY id", official)))
        dump.append(list(connection.execute("SELECT * FROM period_states ORDER BY label")))
        dump.append(list(connection.execute("SELECT * FROM plans ORDER BY id")))
    return dump


def test_create_copies_latest_plan_version(calculated):
    info = scenario_service.create(calculated, "Higher accelerator", "AE")
    assert (info.base_plan, info.base_version) == ("AE", 1)
    with calculated.read() as connection:
        assert scenario_service.document(connection, "Higher accelerator") == PLAN


def test_create_is_audited(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    (entry,) = audit_service.list_entries(calculated, audit_service.AuditFilter(action="scenario.create"))
    assert entry.entity_id == "Higher accelerator"


def test_create_rejects_duplicate_name(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE")
    with pytest.raises(ConflictError, match="already exists"):
        scenario_service.create(calculated, "Higher accelerator", "AE")


def test_create_rejects_unknown_plan(calculated):
    with pytest.raises(NotFoundError, match="plan 'Nope' not found"):
        scenario_service.create(calculated, "X", "Nope")


def test_create_rejects_gap_in_bands(calculated):
    gapped = PLAN.replace("- {from: 1.0, rate: 0.10}", "- {from: 1.1, rate: 0.10}").replace(
        "- {from: 0, rate: 0.05}", "- {from: 0, to: 1.0, rate: 0.05}")
    with pytest.raises(ValidationError):
        scenario_service.create(calculated, "Gapped", "AE", document_text=gapped)


def test_run_changes_cost_per_participant_exactly(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    report = scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    differences = {change.participant_id: change.difference for change in report.comparison.changes}
    assert differences == {"P1": D("0.00"), "P2": D("400.00"), "P3": D("1000.00")}


def test_run_totals(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    comparison = scenario_service.run(calculated, "Higher accelerator", "2017-Q1").comparison
    assert comparison.actual_cost == D("21000.00")
    assert comparison.scenario_cost == D("22400.00")
    assert [change.participant_id for change in comparison.winners] == ["P3", "P2"]
    assert comparison.losers == ()
    assert comparison.unchanged == 1


def test_run_leaves_official_results_byte_identical(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    before = dump_official(calculated.path)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    assert dump_official(calculated.path) == before


def test_run_is_stored_as_scenario_kind(calculated):
    info = scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    (run,) = calc_service.list_runs(calculated, kind="scenario")
    assert run.scenario_id == info.id


def test_official_results_ignore_scenario_runs(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    totals = {row.participant_id: row.earnings for row in calc_service.period_results(calculated, "2017-Q1")
              if row.component == "TOTAL"}
    assert totals["P3"] == D("10000.00")


def test_audit_verify_passes_after_run(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    assert audit_service.verify(calculated).ok


def test_parity_needs_more_attainment_below_nothing(calculated):
    # Below quota both plans pay 5%, so the same payout needs the same attainment.
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    parity = scenario_service.run(calculated, "Higher accelerator", "2017-Q1").comparison.parity
    assert parity[0].attainment == D("0.5")
    assert parity[0].scenario_attainment == D("0.5")


def test_parity_above_quota(calculated):
    # At 150% the actual plan pays 5,000 + 5,000; the scenario pays that at 1 + 5,000 / 12,000 of quota.
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    parity = scenario_service.run(calculated, "Higher accelerator", "2017-Q1").comparison.parity
    row = parity[-1]
    assert row.actual_payout == D("10000")
    assert abs(row.scenario_attainment - (1 + D(5000) / D(12000))) < D("1e-20")


def test_quota_override_changes_attainment(calculated):
    # P1's quota halved: 80,000 of 50,000 pays 2,500 + 3,000 = 5,500.00, so +1,500.00
    overrides = [scenario_service.QuotaOverride("P1", "bookings", "2017-Q1", D(50000))]
    scenario_service.create(calculated, "Lower quota", "AE", overrides=overrides)
    report = scenario_service.run(calculated, "Lower quota", "2017-Q1")
    differences = {change.participant_id: change.difference for change in report.comparison.changes}
    assert differences == {"P1": D("1500.00"), "P2": D("0.00"), "P3": D("0.00")}


def test_update_replaces_document_and_overrides(calculated):
    scenario_service.create(calculated, "Try", "AE", overrides=[
        scenario_service.QuotaOverride("P1", "bookings", "2017-Q1", D(50000))])
    info = scenario_service.update(calculated, "Try", document_text=HIGHER, overrides=[])
    assert info.quota_overrides == 0
    with calculated.read() as connection:
        assert scenario_service.document(connection, "Try") == HIGHER


def test_compare_before_run_names_the_command(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    with pytest.raises(NotFoundError, match="spm scenario run"):
        scenario_service.compare(calculated, "Higher accelerator", "2017-Q1")


def test_compare_with_alignment_figures(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    report = scenario_service.compare(calculated, "Higher accelerator", "2017-Q1")
    assert report.actual_review.cost_of_sales.total_earnings == D("21000.00")
    assert report.scenario_review.cost_of_sales.total_earnings == D("22400.00")


def test_export_workbook(calculated, tmp_path):
    scenario_service.create(calculated, "=HYPERLINK(1)", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "=HYPERLINK(1)", "2017-Q1")
    target = scenario_service.export(calculated, "=HYPERLINK(1)", "2017-Q1", tmp_path / "scenario.xlsx")
    workbook = load_workbook(target)
    assert workbook.sheetnames == ["Summary", "Participants", "Components", "Same payout", "Plan changes",
                                   "Quota overrides", "Scenario plan"]
    assert workbook["Summary"]["B2"].value == "'=HYPERLINK(1)"
    assert workbook["Participants"]["E4"].value == 1000


def test_export_is_audited(calculated, tmp_path):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    scenario_service.export(calculated, "Higher accelerator", "2017-Q1", tmp_path / "scenario.xlsx")
    entries = audit_service.list_entries(calculated, audit_service.AuditFilter(action="scenario.export"))
    assert len(entries) == 1


def test_delete_keeps_runs(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    scenario_service.delete_scenario(calculated, "Higher accelerator")
    assert scenario_service.list_scenarios(calculated) == []
    assert len(calc_service.list_runs(calculated, kind="scenario")) == 1


# --- the command line -------------------------------------------------------------------


def test_cli_create_from_yaml_and_run_csv(calculated, tmp_path, capsys):
    from spm_desktop.cli import main

    plan_file = tmp_path / "higher.yaml"
    plan_file.write_text(HIGHER, encoding="utf-8")
    workspace = str(calculated.path)
    assert main(["scenario", "create", workspace, "Higher", "--plan", "AE", "--from-yaml", str(plan_file)]) == 0
    capsys.readouterr()
    assert main(["scenario", "run", workspace, "Higher", "--period", "2017-Q1", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "participant_id,participant_name,actual,scenario,difference,currency"
    assert lines[3] == "P3,Rep P3,10000.00,11000.00,1000.00,USD"


def test_cli_create_with_quota_file(calculated, tmp_path, capsys):
    from spm_desktop.cli import main

    quotas = tmp_path / "quotas.csv"
    quotas.write_text("participant_id,quota_key,period,amount\nP1,bookings,2017-Q1,\"50,000\"\n", encoding="utf-8")
    assert main(["scenario", "create", str(calculated.path), "Lower", "--plan", "AE", "--quotas", str(quotas)]) == 0
    assert "with 1 quota override(s)" in capsys.readouterr().out


def test_cli_quota_file_without_amount_column(calculated, tmp_path, capsys):
    from spm_desktop.cli import main

    quotas = tmp_path / "quotas.csv"
    quotas.write_text("participant_id,quota_key,period\nP1,bookings,2017-Q1\n", encoding="utf-8")
    assert main(["scenario", "create", str(calculated.path), "Lower", "--plan", "AE", "--quotas", str(quotas)]) == 1
    assert "lacks the column(s) amount" in capsys.readouterr().err


def test_cli_run_unknown_scenario(calculated, capsys):
    from spm_desktop.cli import main

    assert main(["scenario", "run", str(calculated.path), "Nope", "--period", "2017-Q1"]) == 1
    assert "scenario 'Nope' not found" in capsys.readouterr().err


def test_cli_export(calculated, tmp_path, capsys):
    from spm_desktop.cli import main

    workspace = str(calculated.path)
    main(["scenario", "create", workspace, "Higher", "--plan", "AE", "--from-yaml", str(_write(tmp_path, HIGHER))])
    main(["scenario", "run", workspace, "Higher", "--period", "2017-Q1"])
    target = tmp_path / "out.xlsx"
    assert main(["scenario", "export", workspace, "Higher", "--period", "2017-Q1", "-o", str(target)]) == 0
    assert load_workbook(target)["Participants"].max_row == 4


def _write(folder, text: str):
    path = folder / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_payroll_after_scenario_run_pays_official(calculated, tmp_path):
    from spm_desktop.services import close_service, payroll_service

    close_service.approve(calculated.as_user("checker"), "2017-Q1")
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    summary = payroll_service.export_payroll(calculated, "2017-Q1", tmp_path / "payroll.csv")
    assert summary.totals == {"USD": D("21000.00")}


def test_scenario_run_keeps_period_approved(calculated):
    from spm_desktop.services import close_service, period_service

    close_service.approve(calculated.as_user("checker"), "2017-Q1")
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    with calculated.read() as connection:
        assert period_service.state(connection, "2017-Q1").state == "approved"


def test_scenario_runs_on_closed_period(calculated):
    from spm_desktop.services import close_service

    checker = calculated.as_user("checker")
    close_service.approve(checker, "2017-Q1")
    close_service.close(checker, "2017-Q1")
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    report = scenario_service.run(calculated, "Higher accelerator", "2017-Q1")
    assert report.comparison.cost_difference == D("1400.00")


def test_plan_changes_name_the_band(calculated):
    scenario_service.create(calculated, "Higher accelerator", "AE", document_text=HIGHER)
    with calculated.read() as connection:
        changes = scenario_service.plan_changes(connection, "Higher accelerator")
    assert len(changes) == 1
    assert "0.10" in changes[0]
    assert "0.12" in changes[0]


def test_rename_is_audited(calculated):
    scenario_service.create(calculated, "Draft", "AE")
    info = scenario_service.rename(calculated, "Draft", "Final")
    assert info.name == "Final"
    (entry,) = audit_service.list_entries(calculated, audit_service.AuditFilter(action="scenario.rename"))
    assert entry.before == '{"name":"Draft"}'


def test_rename_to_taken_name(calculated):
    scenario_service.create(calculated, "A", "AE")
    scenario_service.create(calculated, "B", "AE")
    with pytest.raises(ConflictError, match="'B' already exists"):
        scenario_service.rename(calculated, "A", "B")


def test_cli_list_and_delete(calculated, capsys):
    from spm_desktop.cli import main

    workspace = str(calculated.path)
    main(["scenario", "create", workspace, "Higher", "--plan", "AE"])
    capsys.readouterr()
    assert main(["scenario", "list", workspace]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("Higher    AE    1")
    assert main(["scenario", "delete", workspace, "Higher"]) == 0
    assert scenario_service.list_scenarios(calculated) == []
