"""The signal service on a workspace holding the Maven CRM pipeline, with generated history."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spm_desktop.domain.progress import Cancelled, CancelToken
from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import signal_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import NotFoundError, ValidationError
from spm_desktop.store.tables.calc import calc_runs, results
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"
QUARTERS = ("2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4")


def insert_records(connection, record_set: str, rows: list[dict]) -> None:
    """Write record rows the way an import stores them (money given in whole units)."""
    spec = RECORD_SETS[record_set]
    table = RECORD_TABLES[record_set]
    stored = []
    for index, row in enumerate(rows):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        for field in spec.fields:
            if field.kind == "money" and row.get(field.name) not in (None, ""):
                values[column_name(field)] = int(Decimal(row[field.name]) * 10_000)
        key = [row.get(name) for name in spec.natural_key] or [index]
        values["record_key"] = json.dumps(key)
        stored.append(values)
    connection.execute(table.insert(), stored)


def maven_rows() -> dict[str, list[dict]]:
    with (MAVEN / "sales_teams.csv").open(newline="", encoding="utf-8") as handle:
        teams = list(csv.DictReader(handle))
    with (MAVEN / "sales_pipeline.csv").open(newline="", encoding="utf-8") as handle:
        pipeline = list(csv.DictReader(handle))
    participants = [{"participant_id": row["sales_agent"], "name": row["sales_agent"], "role": "Sales Agent",
                     "manager_id": row["manager"], "region": row["regional_office"], "currency": "USD",
                     "target_incentive": "40000"} for row in teams]
    deals = [{"deal_id": row["opportunity_id"], "owner": row["sales_agent"], "amount": row["close_value"] or None,
              "currency": "USD", "close_date": row["close_date"] or None, "created_date": row["engage_date"] or None,
              "stage": row["deal_stage"], "product": row["product"], "customer": row["account"] or None,
              "type": "sale"} for row in pipeline]
    quotas = [{"participant_id": row["sales_agent"], "quota_key": "bookings", "period": quarter,
               "amount": "120000", "currency": "USD"} for row in teams for quarter in QUARTERS]
    return {"participants": participants, "deals": deals, "quotas": quotas}


@pytest.fixture(scope="module")
def maven_workspace(tmp_path_factory) -> Path:
    """A workspace with the Maven CRM records and generated history (seed 7), shared by the read-only tests."""
    path = tmp_path_factory.mktemp("maven") / "maven.spm"
    with Workspace.create(path, "tester") as workspace:
        with workspace.transaction() as unit:
            for record_set, rows in maven_rows().items():
                insert_records(unit.connection, record_set, rows)
        signal_service.generate_history(workspace, seed=7)
    return path


@pytest.fixture
def maven(maven_workspace):
    with Workspace.open(maven_workspace, "tester") as workspace:
        yield workspace


@pytest.fixture(scope="module")
def q3_report(maven_workspace):
    with Workspace.open(maven_workspace, "tester") as workspace:
        return signal_service.compute(workspace, "2017-Q3", as_of=dt.date(2017, 8, 15))


def count_rows(workspace: Workspace, record_set: str, generated: bool | None = None) -> int:
    table = RECORD_TABLES[record_set]
    query = select(func.count()).select_from(table)
    if generated is not None:
        query = query.where(table.c.generated.is_(generated))
    with workspace.read() as connection:
        return connection.execute(query).scalar_one()


def test_generate_writes_flagged_rows(maven):
    assert count_rows(maven, "stage_history", generated=True) > 8_000
    assert count_rows(maven, "stage_history", generated=False) == 0
    assert count_rows(maven, "activities", generated=True) > 10_000


def test_generate_marks_the_attribute(maven):
    table = RECORD_TABLES["stage_history"]
    with maven.read() as connection:
        attributes = connection.execute(select(table.c.attributes).limit(1)).scalar_one()
    assert json.loads(attributes) == {"generated": "true"}


def test_generate_records_an_audit_entry(maven):
    with maven.read() as connection:
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "signals.generate_history")).one()
    assert json.loads(entry.after)["seed"] == 7


def test_generated_rows_load_as_generated(maven):
    counts = signal_service.generated_row_counts(maven)
    assert counts["stage_history"] == count_rows(maven, "stage_history")


def test_generate_again_replaces_rows(tmp_path):
    path = tmp_path / "again.spm"
    with Workspace.create(path, "tester") as workspace:
        rows = maven_rows()
        with workspace.transaction() as unit:
            insert_records(unit.connection, "participants", rows["participants"])
            insert_records(unit.connection, "deals", rows["deals"][:300])
        first = signal_service.generate_history(workspace, seed=1)
        second = signal_service.generate_history(workspace, seed=1)
        assert second.replaced_rows == first.stage_rows + first.activity_rows
        assert count_rows(workspace, "stage_history") == first.stage_rows


def test_generate_leaves_imported_history_alone(tmp_path):
    path = tmp_path / "imported.spm"
    with Workspace.create(path, "tester") as workspace:
        rows = maven_rows()
        with workspace.transaction() as unit:
            insert_records(unit.connection, "participants", rows["participants"])
            insert_records(unit.connection, "deals", rows["deals"][:50])
            insert_records(unit.connection, "stage_history", [
                {"deal_id": rows["deals"][0]["deal_id"], "changed_at": "2016-10-20 10:00:00", "stage": "Prospecting"}])
        summary = signal_service.generate_history(workspace, seed=2)
        assert summary.skipped_deals == 1
        assert count_rows(workspace, "stage_history", generated=False) == 1


def test_generate_cancel_writes_nothing(tmp_path):
    path = tmp_path / "cancel.spm"
    with Workspace.create(path, "tester") as workspace:
        rows = maven_rows()
        with workspace.transaction() as unit:
            insert_records(unit.connection, "deals", rows["deals"][:100])
        token = CancelToken()

        def cancel_when_writing(done: int, total: int, message: str) -> None:
            if message.startswith("Writing"):
                token.cancel()

        with pytest.raises(Cancelled):
            signal_service.generate_history(workspace, seed=3, progress=cancel_when_writing, cancel=token)
        assert count_rows(workspace, "stage_history") == 0


def test_generate_without_deals_is_rejected(workspace):
    with pytest.raises(NotFoundError, match="no deals"):
        signal_service.generate_history(workspace)


def test_compute_without_participants_is_rejected(workspace):
    with pytest.raises(NotFoundError, match="no participants"):
        signal_service.compute(workspace, "2017-Q3")


def test_compute_rejects_a_bad_period(maven):
    with pytest.raises(ValidationError, match="2017-Q7"):
        signal_service.compute(maven, "2017-Q7")


def test_compute_rejects_as_of_before_the_period(maven):
    with pytest.raises(ValidationError, match="before period 2017-Q3"):
        signal_service.compute(maven, "2017-Q3", as_of=dt.date(2017, 1, 1))


def test_report_has_a_row_per_agent(q3_report):
    assert len(q3_report.table) == 35


def test_known_credit_of_darcel_schlecht(q3_report):
    # Darcel Schlecht won 115 deals worth 373,218 in 2017-Q3; 2017-08-15 cuts that short.
    full = q3_report.participant("Darcel Schlecht")
    assert full["credit"] > 0


def test_full_quarter_credit_matches_the_sample(maven):
    report = signal_service.compute(maven, "2017-Q3")
    row = report.participant("Darcel Schlecht")
    assert row["credit"] == 373_218 * 10_000
    assert row["won_count"] == 115


def test_every_agent_gets_a_diagnosis(q3_report):
    assert q3_report.table["diagnosis"].notna().all()
    assert set(q3_report.table["diagnosis"]) <= {"on_track", "low_activity", "weak_conversion", "slow_velocity",
                                                 "territory_capacity", "not_assessed"}


def test_report_knows_it_read_generated_data(q3_report):
    assert q3_report.generated_rows > 0
    assert "Generated data" in signal_service.describe_generated(q3_report)


def test_segment_setting_changes_peer_groups(maven_workspace):
    with Workspace.open(maven_workspace, "tester") as workspace:
        workspace.set_setting("signals.segment", "manager_id")
        try:
            report = signal_service.compute(workspace, "2017-Q3", as_of=dt.date(2017, 8, 15))
        finally:
            workspace.set_setting("signals.segment", "region")
    row = report.participant("Anna Snelling")
    assert row["segment"] == "Dustin Brinkmann"


def test_invalid_setting_is_named(maven_workspace):
    with Workspace.open(maven_workspace, "tester") as workspace:
        workspace.set_setting("signals.low_activity", "often")
        try:
            with pytest.raises(ValidationError, match="low_activity"):
                signal_service.compute(workspace, "2017-Q3")
        finally:
            workspace.set_setting("signals.low_activity", 0.7)


def test_settings_help_lists_defaults():
    keys = dict(signal_service.settings_help())
    assert keys["signals.segment"] == "region"
    assert keys["signals.behind_pace"] == 0.9


def test_earnings_pace_from_official_results(tmp_path):
    path = tmp_path / "earnings.spm"
    with Workspace.create(path, "tester") as workspace:
        with workspace.transaction() as unit:
            connection = unit.connection
            insert_records(connection, "participants", [
                {"participant_id": "P1", "name": "Ana", "role": "AE", "target_incentive": "36500"}])
            insert_records(connection, "deals", [
                {"deal_id": "D1", "owner": "P1", "amount": "1000", "created_date": "2017-07-03",
                 "close_date": "2017-07-20", "stage": "Won", "type": "sale"}])
            insert_records(connection, "quotas", [
                {"participant_id": "P1", "quota_key": "bookings", "period": "2017-Q3", "amount": "10000"}])
            connection.execute(calc_runs.insert().values(
                id=1, period="2017-Q3", period_start=dt.date(2017, 7, 1), period_end=dt.date(2017, 9, 30),
                kind="official", user="tester", started_at="x", finished_at="x", status="complete",
                input_fingerprint="0" * 64, inputs="{}", versions="{}", problems="[]", results_hash="0" * 64,
                lines_hash="0" * 64, superseded=False))
            connection.execute(results.insert(), [
                {"id": 1, "run_id": 1, "row_kind": "component", "participant_id": "P1", "period": "2017-Q3",
                 "plan": "AE", "component": "Commission", "earnings_minor": 230_000, "currency": "USD",
                 "row_hash": "0" * 64},
                {"id": 2, "run_id": 1, "row_kind": "total", "participant_id": "P1", "period": "2017-Q3",
                 "plan": "AE", "component": "TOTAL", "earnings_minor": 230_000, "currency": "USD",
                 "row_hash": "0" * 64}])
        row = signal_service.compute(workspace, "2017-Q3", as_of=dt.date(2017, 8, 15)).participant("P1")
    # 36,500 a year is 100 a day: 46 days expect 4,600; the component earned 2,300.
    assert row["earnings"] == Decimal("2300.00")
    assert row["earnings_pace"] == pytest.approx(0.5)


def test_export_rows_are_plain_text(q3_report):
    header, rows = signal_service.export_rows(q3_report)
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    darcel = by_id["Darcel Schlecht"]
    assert darcel["period"] == "2017-Q3"
    assert darcel["as_of"] == "2017-08-15"
    assert darcel["generated_data"] == "yes"
    assert len(darcel["attainment_pace"].split(".")[1]) == 4


def test_export_rows_for_one_manager(q3_report):
    _, rows = signal_service.export_rows(q3_report, manager_id="Dustin Brinkmann")
    assert len(rows) == 5  # the five agents of Dustin Brinkmann in sales_teams.csv


def test_catalog_lists_signal_metrics():
    keys = signal_service.catalog_keys()
    assert "signal_pipeline_created_value" in keys
    assert "signal_activities" in keys


def test_ensure_catalog_registers_supporting_metrics(workspace):
    from spm_desktop.services import metric_service

    created = signal_service.ensure_catalog(workspace)
    assert created == signal_service.catalog_keys()
    tiers = {summary.definition.key: summary.definition.tier for summary in metric_service.list_metrics(workspace)}
    assert {tiers[key] for key in created} == {"supporting"}


def test_ensure_catalog_keeps_existing_definitions(workspace):
    signal_service.ensure_catalog(workspace)
    assert signal_service.ensure_catalog(workspace) == []


def test_cli_prints_csv(maven_workspace, capsys):
    from spm_desktop.cli import main

    code = main(["signals", str(maven_workspace), "--period", "2017-Q3", "--as-of", "2017-08-15",
                 "--format", "csv", "--manager", "Dustin Brinkmann"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith("participant_id,name,manager_id")
    assert len(lines) == 6


def test_cli_generate_needs_the_workspace(capsys):
    from spm_desktop.cli import main

    assert main(["signals", "generate"]) == 2
    assert "needs the workspace" in capsys.readouterr().err


def test_cli_without_period_is_a_usage_error(maven_workspace, capsys):
    from spm_desktop.cli import main

    assert main(["signals", str(maven_workspace)]) == 2
    assert "--period is required" in capsys.readouterr().err


def test_cli_bad_period_is_a_user_error(maven_workspace, capsys):
    from spm_desktop.cli import main

    assert main(["signals", str(maven_workspace), "--period", "2017-Q9"]) == 1
    assert "2017-Q9" in capsys.readouterr().err


def test_update_settings_validates_before_writing(workspace):
    with pytest.raises(ValidationError, match="low_activity"):
        signal_service.update_settings(workspace, {"segment": "territory", "low_activity": "often"})
    assert signal_service.current_stored(workspace) == {}


def test_update_settings_and_reset(workspace):
    signal_service.update_settings(workspace, {"low_activity": "0.6", "history_periods": 2})
    assert signal_service.current_stored(workspace) == {"low_activity": 0.6, "history_periods": 2}
    signal_service.update_settings(workspace, {}, reset=("low_activity",))
    assert signal_service.current_stored(workspace) == {"history_periods": 2}


def test_update_settings_audits_each_key(workspace):
    signal_service.update_settings(workspace, {"segment": "territory"})
    with workspace.read() as connection:
        entry = connection.execute(select(audit_log).where(audit_log.c.entity_id == "signals.segment")).one()
    assert json.loads(entry.after) == "territory"


def test_cli_settings_set_and_show(maven_workspace, capsys):
    from spm_desktop.cli import main

    assert main(["signals", "settings", str(maven_workspace), "--set", "repeat_slips=3"]) == 0
    out = capsys.readouterr().out
    assert main(["signals", "settings", str(maven_workspace), "--reset", "repeat_slips"]) == 0
    assert "signals.repeat_slips        3" in out


@pytest.mark.slow
def test_signals_after_importing_the_demo_files(tmp_path):
    from spm_desktop.importing.mapping import load_mapping_file
    from spm_desktop.services import import_service

    demo = Path(__file__).resolve().parents[2] / "resources" / "demo"
    with Workspace.create(tmp_path / "demo.spm", "tester") as workspace:
        for record_set, data, mapping in (("participants", "participants.csv", "mapping-participants.yaml"),
                                          ("deals", "sales_pipeline.csv", "mapping-opportunities.yaml"),
                                          ("quotas", "quotas-2017.csv", "mapping-quotas.yaml")):
            request = import_service.ImportRequest(record_set, demo / data, load_mapping_file(demo / mapping))
            import_service.commit(workspace, request, accept_valid=True)
        signal_service.generate_history(workspace, seed=0)
        report = signal_service.compute(workspace, "2017-Q3")
    darcel = report.participant("Darcel Schlecht")
    assert darcel["credit"] == 373_218 * 10_000
    assert darcel["won_count"] == 115
    # Agents hold "bookings" quotas and managers "team_bookings": managers own no deals and are left out.
    assert len(report.table) == 35
    assert report.problems[0].code == "signals.quota_key"
