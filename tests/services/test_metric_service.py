"""The metric catalog service on real workspace files: versions, statuses, adoption, YAML, evaluation, comparison."""

import json
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from spm_desktop.domain.metrics import MetricDefinition
from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.services import audit_service, metric_service
from spm_desktop.services.errors import ConflictError, NotFoundError, ValidationError
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

METRICS = """\
metrics:
  - key: won
    name: Won bookings
    owner: Finance
    tier: primary
    description: Won deal value on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
  - key: won_big
    name: Large won bookings
    owner: RevOps
    tier: primary
    source: deals
    filter: stage == "Won" and amount >= 1000
    value: sum(amount)
    date: close_date
    unit: currency
    status: draft
"""

DEALS = [
    {"deal_id": "D1", "owner": "ann", "amount": "1000.00", "close_date": "2017-07-03", "stage": "Won"},
    {"deal_id": "D2", "owner": "ann", "amount": "200.50", "close_date": "2017-08-10", "stage": "Won",
     "product": "=HYPERLINK(\"x\")"},
    {"deal_id": "D3", "owner": "bob", "amount": "5000.00", "close_date": "2017-09-30", "stage": "Won"},
    {"deal_id": "D4", "owner": "bob", "amount": "999.99", "close_date": "2017-09-15", "stage": "Won"},
    {"deal_id": "D5", "owner": "cat", "amount": "3000.00", "close_date": "2017-10-01", "stage": "Won"},
    {"deal_id": "D6", "owner": "cat", "amount": "1500.00", "close_date": "2017-08-01", "stage": "Lost"},
    {"deal_id": "D1", "owner": "ann", "amount": "-200.00", "close_date": "2017-09-01", "type": "refund",
     "reference_deal_id": "D1"},
]


def insert_records(connection, record_set, rows):
    """Write record rows the way an import stores them (money given in whole units)."""
    spec = RECORD_SETS[record_set]
    stored = []
    for index, row in enumerate(rows):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        for field in spec.fields:
            if field.kind == "money" and row.get(field.name) is not None:
                values[column_name(field)] = int(Decimal(row[field.name]) * 10_000)
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key] + [index])
        values["row_hash"] = "0" * 32
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


@pytest.fixture
def catalog(workspace):
    metric_service.load_yaml(workspace, METRICS, source="metrics.yaml")
    return workspace


@pytest.fixture
def with_deals(catalog):
    with catalog.transaction() as unit:
        insert_records(unit.connection, "deals", [{"type": "sale", **row} for row in DEALS])
    return catalog


def audit_actions(workspace):
    with workspace.read() as connection:
        return [row.action for row in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]


def current(workspace, key):
    with workspace.read() as connection:
        return metric_service.current_version(connection, key)


# Versions


def test_load_creates_version_one(catalog):
    version, definition = current(catalog, "won")
    assert version == 1
    assert definition.status == "approved"
    assert definition.filter == 'stage == "Won"'


def test_change_adds_immutable_version(catalog):
    _, definition = current(catalog, "won")
    metric_service.save_definition(catalog, definition.with_changes(filter='stage == "Won" and amount > 0'),
                                   reason="exclude zero deals")
    versions = metric_service.history(catalog, "won")
    assert [info.definition.version for info in versions] == [2, 1]
    assert versions[0].reason == "exclude zero deals"
    assert versions[0].author == "tester"
    assert versions[1].definition.filter == 'stage == "Won"'


def test_unchanged_save_adds_no_version(catalog):
    _, definition = current(catalog, "won")
    stored = metric_service.save_definition(catalog, definition, reason="no change")
    assert stored.version == 1


def test_every_change_is_audited(catalog):
    _, definition = current(catalog, "won")
    metric_service.save_definition(catalog, definition.with_changes(description="Changed."), reason="wording")
    actions = audit_actions(catalog)
    assert actions.count("metric.create") == 2
    assert actions.count("metric.version") == 1
    assert actions.count("metrics.load") == 1
    assert audit_service.verify(catalog).ok


def test_stale_editor_save_is_rejected(catalog):
    _, definition = current(catalog, "won")
    metric_service.save_definition(catalog, definition.with_changes(description="First."), reason="one")
    with pytest.raises(ConflictError, match="version 2, not 1"):
        metric_service.save_definition(catalog, definition.with_changes(description="Second."), reason="two",
                                       expected_version=1)


def test_save_needs_reason(catalog):
    _, definition = current(catalog, "won")
    with pytest.raises(ValidationError, match="needs a reason"):
        metric_service.save_definition(catalog, definition, reason=" ")


def test_invalid_definition_is_rejected(catalog):
    bad = MetricDefinition(key="bad", name="Bad", value="sum(amount)", filter="stage = 'Won'")
    with pytest.raises(ValidationError) as caught:
        metric_service.save_definition(catalog, bad, reason="try")
    assert caught.value.problems[0].code == "metric.filter"


def test_key_at_version_resolves_old_version(catalog):
    _, definition = current(catalog, "won")
    metric_service.save_definition(catalog, definition.with_changes(value="count()", unit="count"), reason="count")
    with catalog.read() as connection:
        assert metric_service.resolve(connection, "won@1").value == "sum(amount)"
        assert metric_service.resolve(connection, "won").value == "count()"


def test_unknown_metric_names_catalog(catalog):
    with catalog.read() as connection, pytest.raises(NotFoundError, match="won, won_big"):
        metric_service.current_version(connection, "bookings")


def test_missing_version_is_not_found(catalog):
    with catalog.read() as connection, pytest.raises(NotFoundError, match="no version 4"):
        metric_service.resolve(connection, "won@4")


# Status and adoption


def test_status_change_is_recorded(catalog):
    metric_service.set_status(catalog, "won_big", "approved", reason="RevOps view signed off")
    assert current(catalog, "won_big")[1].status == "approved"
    event = metric_service.events(catalog, "won_big")[0]
    assert (event.action, event.from_status, event.to_status) == ("status", "draft", "approved")


def test_adopt_approves_one_and_retires_other(catalog):
    metric_service.adopt(catalog, "won_big", "won", reason="Finance agreed to the minimum deal size")
    assert current(catalog, "won_big")[1].status == "approved"
    assert current(catalog, "won")[1].status == "retired"
    superseded = metric_service.events(catalog, "won")[0]
    assert (superseded.action, superseded.other_key) == ("superseded", "won_big")
    assert superseded.reason == "Finance agreed to the minimum deal size"


def test_adopt_can_rename_the_other(catalog):
    metric_service.adopt(catalog, "won_big", "won", reason="keep both", rename_to="Won bookings (all sizes)")
    version, definition = current(catalog, "won")
    assert version == 2
    assert definition.name == "Won bookings (all sizes)"
    assert definition.tier == "supporting"
    assert definition.status == "approved"


def test_adopt_over_itself_is_rejected(catalog):
    with pytest.raises(ValidationError, match="over itself"):
        metric_service.adopt(catalog, "won", "won", reason="x")


# metrics.yaml


def test_export_then_load_changes_nothing(catalog, tmp_path):
    target = tmp_path / "out.yaml"
    metric_service.export_yaml(catalog, target)
    summary = metric_service.load_yaml_file(catalog, target)
    assert summary.unchanged == ["won", "won_big"]
    assert summary.changed == []


def test_loading_changed_document_adds_versions(catalog):
    summary = metric_service.load_yaml(catalog, METRICS.replace("amount >= 1000", "amount >= 2000"))
    assert summary.changed == ["won_big"]
    assert current(catalog, "won_big")[0] == 2


def test_invalid_document_loads_nothing(catalog):
    broken = METRICS.replace("amount >= 1000", "amount >= 2000").replace('stage == "Won"\n    value',
                                                                         'stage = "Won"\n    value', 1)
    with pytest.raises(ValidationError) as caught:
        metric_service.load_yaml(catalog, broken)
    assert caught.value.problems[0].file == "metrics.yaml"
    assert current(catalog, "won_big")[0] == 1


def test_missing_file_is_not_found(catalog, tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        metric_service.load_yaml_file(catalog, tmp_path / "nope.yaml")


# Flags


def test_same_name_and_too_many_primary_flags(catalog):
    metric_service.save_definition(catalog, MetricDefinition(
        key="won_sales", name="Won bookings", owner="Sales", tier="primary", value="sum(amount)",
        filter='stage == "Won"', status="approved"), reason="Sales view")
    catalog.set_setting(metric_service.MAX_PRIMARY_SETTING, 1)
    flags = {flag.code: flag for flag in metric_service.proliferation_flags(catalog)}
    assert flags["too_many_primary"].keys == ("won", "won_sales")
    assert flags["same_name"].keys == ("won", "won_sales")


def test_plan_flags(catalog):
    from spm_desktop.services import plan_service

    plan = """\
plan: AE 2017
version: 1
effective_from: 2017-01-01
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Commission
    type: commission
    metric: won_big
    tiers: {method: flat, by: amount, bands: [{from: 0, rate: 0.05}]}
    gate: metric("won") > 0
"""
    plan_service.load(catalog, plan)
    metric_service.save_definition(catalog, MetricDefinition(
        key="calls", name="Calls", tier="primary", value="count()", unit="count", source="activities",
        date="date", status="approved"), reason="activity metric")
    flags = {(flag.code, flag.keys) for flag in metric_service.proliferation_flags(catalog)}
    assert ("plan_uses_unapproved", ("won_big",)) in flags
    assert ("primary_unused", ("calls",)) in flags
    assert ("primary_unused", ("won",)) not in flags


# Evaluation and comparison


def test_evaluate_per_participant(with_deals):
    values = metric_service.evaluate(with_deals, "won", "2017-Q3")
    per = dict(zip(values.per_participant["participant_id"], values.per_participant["value"], strict=True))
    assert values.total == Decimal("7000.49")
    assert per == {"ann": Decimal("1000.50"), "bob": Decimal("5999.99")}


def test_evaluate_sees_records_added_later(with_deals):
    metric_service.evaluate(with_deals, "won", "2017-Q3")
    with with_deals.transaction() as unit:
        insert_records(unit.connection, "deals", [{"deal_id": "D9", "owner": "cat", "amount": "10.00",
                                                  "close_date": "2017-08-01", "stage": "Won", "type": "sale"}])
    assert metric_service.evaluate(with_deals, "won", "2017-Q3").total == Decimal("7010.49")


def test_evaluate_unsaved_definition(with_deals):
    draft = MetricDefinition(key="draft", name="Draft", value="count()", unit="count", filter='stage == "Lost"')
    assert metric_service.evaluate(with_deals, draft, "2017-Q3").total == Decimal(1)


def test_evaluate_rejects_bad_period(with_deals):
    with pytest.raises(ValidationError, match="period label '2017-Q5' is invalid"):
        metric_service.evaluate(with_deals, "won", "2017-Q5")


def test_compare_and_export(with_deals, tmp_path):
    result = metric_service.compare(with_deals, "won", "won_big", "2017-Q3")
    assert result.difference == Decimal("-1200.49")
    assert result.only_a["deal_id"].tolist() == ["D2", "D4"]
    target = tmp_path / "compare.xlsx"
    count = metric_service.export_comparison(with_deals, result, target)
    assert count == 2
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Summary", "Participants", "Only in won@1", "Only in won_big@1", "Different values"]
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["total (exact text)"] == ("7000.4900", "5800.0000")
    assert "metrics.compare_export" in audit_actions(with_deals)


def test_export_neutralises_formula_text(with_deals, tmp_path):
    result = metric_service.compare(with_deals, "won", "won_big", "2017-Q3")
    frame = result.only_a.assign(owner=["=cmd|' /C calc'!A0", "bob"])
    target = tmp_path / "compare.xlsx"
    metric_service.write_comparison_xlsx(type(result)(**{**result.__dict__, "only_a": frame}), target)
    sheet = openpyxl.load_workbook(target)["Only in won@1"]
    assert sheet["E2"].value == "'=cmd|' /C calc'!A0"
    assert sheet["E2"].data_type == "s"


def test_compare_versions_of_one_metric(with_deals):
    _, definition = current(with_deals, "won_big")
    metric_service.save_definition(with_deals, definition.with_changes(filter='stage == "Won"'), reason="drop minimum")
    result = metric_service.compare(with_deals, "won_big@1", "won_big@2", "2017-Q3")
    assert result.difference == Decimal("1200.49")


# Command line


def run_cli(capsys, *args):
    from spm_desktop.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_load_list_and_export(workspace_path, tmp_path, capsys):
    source = tmp_path / "metrics.yaml"
    source.write_text(METRICS, encoding="utf-8")
    code, out, _ = run_cli(capsys, "metrics", "load", str(workspace_path), str(source))
    assert code == 0
    assert out.strip() == "loaded metrics.yaml: 2 created, 0 changed, 0 status changed, 0 unchanged"
    code, out, _ = run_cli(capsys, "metrics", "list", str(workspace_path), "--format", "csv")
    assert out.splitlines()[1].startswith("won,1,approved,primary,Finance,Won bookings,currency,")
    target = tmp_path / "out.yaml"
    code, out, _ = run_cli(capsys, "metrics", "export", str(workspace_path), "-o", str(target))
    assert out.strip() == f"wrote 2 metric definitions to {target}"


def test_cli_compare_csv(with_deals, workspace_path, capsys):
    code, out, _ = run_cli(capsys, "metrics", "compare", str(workspace_path), "won", "won_big",
                           "--period", "2017-Q3", "--format", "csv")
    assert code == 0
    assert out.splitlines() == [
        "participant_id,won@1,won_big@1,difference",
        "ann,1000.50,800.00,-200.50",
        "bob,5999.99,5000.00,-999.99",
        "TOTAL,7000.49,5800.00,-1200.49",
    ]


def test_cli_compare_versions_and_xlsx(with_deals, workspace_path, tmp_path, capsys):
    target = tmp_path / "c.xlsx"
    code, out, _err = run_cli(capsys, "metrics", "compare", str(workspace_path), "won@1", "won_big@1",
                             "--period", "2017-Q3", "-o", str(target))
    assert code == 0
    assert "2 record(s) counted only by won@1" in out
    assert target.exists()


def test_cli_unknown_metric_exits_1(catalog, workspace_path, capsys):
    code, _, err = run_cli(capsys, "metrics", "compare", str(workspace_path), "won", "nope", "--period", "2017-Q3")
    assert code == 1
    assert "metric 'nope' not found" in err


def test_cli_adopt_needs_reason(catalog, workspace_path, capsys):
    with pytest.raises(SystemExit) as caught:
        run_cli(capsys, "metrics", "adopt", str(workspace_path), "won_big", "--over", "won")
    assert caught.value.code == 2


def test_cli_adopt(catalog, workspace_path, capsys):
    code, out, _ = run_cli(capsys, "metrics", "adopt", str(workspace_path), "won_big", "--over", "won",
                           "--reason", "agreed")
    assert code == 0
    assert out.strip() == "adopted won_big; won retired"


# Real data through the import service

MAVEN = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "maven-crm"
TEAMS_MAPPING = """
record_set: participants
columns: {participant_id: sales_agent, name: sales_agent, manager_id: manager, region: regional_office}
"""
PIPELINE_MAPPING = """
record_set: opportunities
columns:
  deal_id: opportunity_id
  owner: sales_agent
  amount: close_value
  close_date: close_date
  created_date: engage_date
  stage: deal_stage
  product: product
  customer: account
"""
MAVEN_METRICS = """
metrics:
  - {key: won, name: Won bookings, owner: Finance, filter: 'stage == "Won"', value: sum(amount), status: approved}
  - {key: won_big, name: Won bookings of 1000 or more, owner: Sales, value: sum(amount),
     filter: 'stage == "Won" and amount >= 1000'}
"""


@pytest.fixture(scope="module")
def maven_workspace(tmp_path_factory):
    from spm_desktop.importing.mapping import parse_mapping
    from spm_desktop.services import import_service
    from spm_desktop.services.context import Workspace

    path = tmp_path_factory.mktemp("maven") / "maven.spm"
    with Workspace.create(path, "tester") as workspace:
        for record_set, source, mapping in (("participants", "sales_teams.csv", TEAMS_MAPPING),
                                            ("opportunities", "sales_pipeline.csv", PIPELINE_MAPPING)):
            preview = import_service.preview(workspace, record_set, MAVEN / source, parse_mapping(mapping))
            import_service.commit(workspace, preview, accept_valid=True)
        metric_service.load_yaml(workspace, MAVEN_METRICS)
    return path


@pytest.fixture(scope="module")
def maven_expected():
    import pandas as pd

    raw = pd.read_csv(MAVEN / "sales_pipeline.csv", dtype=str, keep_default_na=False)
    raw = raw.assign(value=pd.to_numeric(raw["close_value"].replace("", None)),
                     day=pd.to_datetime(raw["close_date"].replace("", None)))
    won = raw[(raw["deal_stage"] == "Won") & (raw["day"] >= "2017-07-01") & (raw["day"] <= "2017-09-30")]
    small = won[won["value"] < 1000]
    return {"won": int(won["value"].sum()), "big": int(won.loc[won["value"] >= 1000, "value"].sum()),
            "by_agent": small.groupby("sales_agent")["value"].sum().astype(int).to_dict(),
            "differing": sorted(small["opportunity_id"])}


@pytest.fixture(scope="module")
def maven_result(maven_workspace):
    from spm_desktop.services.context import Workspace

    with Workspace.open(maven_workspace, "tester") as workspace:
        return metric_service.compare(workspace, "won", "won_big", "2017-Q3")


@pytest.mark.slow
def test_maven_import_compare_totals(maven_result, maven_expected):
    assert maven_result.total_a == Decimal(maven_expected["won"])
    assert maven_result.total_b == Decimal(maven_expected["big"])


@pytest.mark.slow
def test_maven_import_compare_per_agent(maven_result, maven_expected):
    rows = maven_result.participants.set_index("participant_id")
    for agent, small in maven_expected["by_agent"].items():
        assert rows.loc[agent, "difference"] == Decimal(-small), agent
    assert set(rows.index[rows["difference"] != 0]) == set(maven_expected["by_agent"])


@pytest.mark.slow
def test_maven_import_compare_differing_deals(maven_result, maven_expected):
    assert sorted(maven_result.only_a["deal_id"]) == maven_expected["differing"]
    assert set(maven_result.only_a["excluded_by"]) == {"amount >= 1000"}


def test_cli_value_status_and_history(with_deals, workspace_path, capsys):
    code, out, _ = run_cli(capsys, "metrics", "value", str(workspace_path), "won", "--period", "2017-Q3",
                           "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["participant_id,value,records", "ann,1000.50,3", "bob,5999.99,2",
                                "TOTAL,7000.49,5"]
    code, out, _ = run_cli(capsys, "metrics", "status", str(workspace_path), "won_big", "approved",
                           "--reason", "signed off")
    assert out.strip() == "won_big@1 is approved"
    code, out, _ = run_cli(capsys, "metrics", "history", str(workspace_path), "won")
    assert out.splitlines()[1].split()[0] == "1"
