"""Tie-out service: import of their figures, our side, matching, id map, export and sign-off."""

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from spm_desktop.domain import tieout as matching
from spm_desktop.importing.mapping import parse_mapping
from spm_desktop.services import close_service, import_service, metric_service, period_service, tieout_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from spm_desktop.store.tables.calc import calc_runs, result_lines, results
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.tieout import tieout_sources, tieouts

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"

DEALS_CSV = """deal_id,owner,amount,currency,close_date,stage,customer
D1,ann,1200.00,USD,2017-02-01,Won,Acme
D2,ann,800.00,USD,2017-02-10,Won,Bolt
D3,bob,500.00,USD,2017-03-01,Won,Cargo
D4,bob,700.00,USD,2017-03-03,Won,Cargo
D5,bob,999.00,USD,2017-03-20,Lost,Delta
D6,ann,300.00,USD,2017-04-02,Won,Acme
"""
PARTICIPANTS_CSV = """participant_id,name,currency,payroll_id
ann,Ann Lee,USD,E-100
bob,Bob Ray,USD,E-200
"""
METRICS = """
metrics:
  - {key: bookings, name: Won bookings, owner: Finance, tier: primary, filter: 'stage == "Won"',
     value: sum(amount), status: approved}
"""
# Finance's ERP report: invoice numbers, not deal ids.
FINANCE_CSV = """Invoice No,Customer,Invoice Date,Net Amount,Currency
INV-901,ACME,2017-02-02,1200.00,USD
INV-902,Bolt,2017-02-10,800.40,USD
INV-903,Cargo,2017-03-02,500.00,USD
INV-904,Echo,2017-03-15,50.00,USD
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def import_records(workspace, tmp_path, record_set, text, mapping=None):
    path = write(tmp_path, f"{record_set}.csv", text)
    preview = import_service.preview(workspace, record_set, path, mapping)
    import_service.commit(workspace, preview)


@pytest.fixture
def maker(tmp_path):
    with Workspace.create(tmp_path / "tieout.spm", user="maker") as created:
        import_records(created, tmp_path, "participants", PARTICIPANTS_CSV)
        import_records(created, tmp_path, "deals", DEALS_CSV)
        metric_service.load_yaml(created, METRICS)
        yield created


@pytest.fixture
def checker(maker):
    return maker.as_user("checker")


def statuses(report):
    return sorted((line.status, line.ours.record_id if line.ours else "", line.theirs.record_id if line.theirs else "")
                  for line in report.result.lines)


def key_options(**extra):
    return matching.MatchOptions(("customer", "date"), date_window_days=3, absolute_tolerance=Decimal("0.50"),
                                 **extra)


def test_credits_from_metric_by_composite_key(maker, tmp_path):
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", write(tmp_path, "erp.csv", FINANCE_CSV),
                                         key_options())
    assert statuses(report) == [
        ("ambiguous", "", "INV-903"),
        ("matched", "D1", "INV-901"),
        ("only_theirs", "", "INV-904"),
        ("within_tolerance", "D2", "INV-902"),
    ]


def test_ambiguous_lists_both_candidates(maker, tmp_path):
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", write(tmp_path, "erp.csv", FINANCE_CSV),
                                         key_options())
    line = report.result.by_status(matching.AMBIGUOUS)[0]
    assert [candidate.ours.record_id for candidate in line.candidates] == ["D3", "D4"]


def test_confirmed_pairs_match_on_id_next_time(maker, tmp_path):
    path = write(tmp_path, "erp.csv", FINANCE_CSV)
    first = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, key_options())
    tieout_service.confirm_pairs(maker, "credits", [*first.result.key_matches(), ("D3", "INV-903")])
    second = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, matching.MatchOptions())
    methods = {line.theirs.record_id: line.method for line in second.result.lines if line.theirs is not None}
    assert methods == {"INV-901": "id_map", "INV-902": "id_map", "INV-903": "id_map", "INV-904": None}
    assert tieout_service.list_id_map(maker, "credits")["INV-903"] == "D3"
    assert statuses(second)[-2:] == [("only_theirs", "", "INV-904"), ("outside_tolerance", "D2", "INV-902")]


def test_import_stores_sha256_and_audit(maker, tmp_path):
    path = write(tmp_path, "erp.csv", FINANCE_CSV)
    source = tieout_service.import_figures(maker, "credits", "2017-q1", path)
    with maker.read() as connection:
        stored = connection.execute(select(tieout_sources)).one()
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "tieout.import")).one()
    assert stored.sha256 == source.sha256
    assert stored.period == "2017-Q1"
    assert json.loads(entry.after)["total"] == "2550.4000"


def test_import_without_amount_column_rejected(maker, tmp_path):
    path = write(tmp_path, "bad.csv", "Invoice No,Customer\nINV-1,Acme\n")
    with pytest.raises(ValidationError, match="amount"):
        tieout_service.import_figures(maker, "credits", "2017-Q1", path)


def test_row_without_id_rejected(maker, tmp_path):
    path = write(tmp_path, "erp.csv", "Invoice No,Net Amount\nINV-1,10.00\n,20.00\n")
    with pytest.raises(ValidationError, match="rows 3 name no id"):
        tieout_service.import_figures(maker, "credits", "2017-Q1", path)


def test_mapping_file_names_columns(maker, tmp_path):
    mapping = write(tmp_path, "m.yaml", "columns: {external_id: Ref, amount: Value, our_id: CRM}\n")
    path = write(tmp_path, "erp.csv", "Ref,CRM,Value\nX-1,D1,1200.00\n")
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, matching.MatchOptions(),
                                         tieout_service.load_mapping(mapping))
    assert statuses(report)[0] == ("matched", "D1", "X-1")


def test_other_currency_with_and_without_rate(maker, tmp_path):
    import_records(maker, tmp_path, "fx_rates", "date,from_currency,to_currency,rate\n2017-01-01,EUR,USD,1.2\n")
    path = write(tmp_path, "erp.csv", "Deal,Amount,Currency\nD1,1000.00,EUR\nD2,800.00,GBP\n")
    mapping = tieout_service.load_mapping(write(tmp_path, "m.yaml", "columns: {external_id: Deal, amount: Amount,"
                                                " currency: Currency}\n"))
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, matching.MatchOptions(), mapping)
    found = {line.ours.record_id: line.status for line in report.result.lines if line.ours is not None}
    assert found["D1"] == matching.MATCHED
    assert found["D2"] == matching.CURRENCY_DIFFERS


def test_tolerance_setting_used_by_default(maker):
    maker.set_setting(tieout_service.TOLERANCE_SETTING, {"absolute": "0.50", "relative": "0.01"})
    options = tieout_service.default_options(maker)
    assert options.absolute_tolerance == Decimal("0.50")
    assert options.relative_tolerance == Decimal("0.01")


def test_tolerance_text_parsed():
    assert tieout_service.parse_tolerance("0.01,0.5%") == (Decimal("0.01"), Decimal("0.005"))


def test_export_xlsx_neutralises_text(maker, tmp_path):
    path = write(tmp_path, "erp.csv", "Invoice No,Customer,Invoice Date,Net Amount\n=HYPERLINK(1),Zed,2017-02-02,5\n")
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, key_options())
    target = tmp_path / "tieout.xlsx"
    written = tieout_service.export_xlsx(report, target)
    workbook = openpyxl.load_workbook(target)
    values = list(workbook["Findings"].iter_rows(min_row=2, values_only=True))
    per_participant = list(workbook["Per participant"].iter_rows(values_only=True))
    assert written == 5
    assert "'=HYPERLINK(1)" in [row[7] for row in values]
    assert per_participant[0][:3] == ("participant", "ours", "theirs")
    assert per_participant[1][:3] == ("(no participant)", 0, 5)
    assert per_participant[2][:2] == ("ann", 2000)


# -- payouts and sign-off ------------------------------------------------------------------


def add_run(workspace, label, run_id, totals, user):
    """Store an official run with TOTAL rows as the calculation would, then mark the period calculated."""
    period = period_service.read_period(workspace.engine.connect(), label)
    now = period_service.now_utc()
    with workspace.transaction() as unit:
        unit.connection.execute(calc_runs.insert().values(
            id=run_id, period=label, period_start=period.start, period_end=period.end, kind="official",
            user=user, started_at=now, finished_at=now, status="complete", input_fingerprint="0" * 64,
            inputs="{}", versions="{}", problems="[]", results_hash="0" * 64, lines_hash="0" * 64,
            superseded=False))
        unit.connection.execute(results.insert(), [
            {"id": run_id * 100 + index, "run_id": run_id, "row_kind": "total", "participant_id": participant,
             "period": label, "plan": "Agents", "component": "TOTAL", "earnings_minor": minor,
             "currency": "USD", "row_hash": "0" * 64}
            for index, (participant, minor) in enumerate(totals)])
        unit.connection.execute(result_lines.insert(), [
            {"id": run_id * 100 + index, "run_id": run_id, "participant_id": participant, "plan": "Agents",
             "component": "Bookings", "line_kind": "sale", "deal_id": deal, "credit_kind": "owner",
             "credit_date": dt.date(2017, 2, 1), "credited": amount, "earnings_minor": 0, "paid_now_minor": 0,
             "held_minor": 0, "currency": "USD", "row_hash": "0" * 64}
            for index, (participant, deal, amount) in enumerate([("ann", "D1", "1200.00"), ("bob", "D3", "500.00")])])
        period_service.record_calculation(unit, label, run_id)


PAYROLL_CSV = """Employee ID,Pay Date,Gross Pay
E-100,2017-04-15,1500.00
E-200,2017-04-15,400.00
E-200,2017-04-30,100.00
"""


@pytest.fixture
def approved(maker, checker):
    add_run(maker, "2017-Q1", 7, [("ann", 150000), ("bob", 49000)], "maker")
    close_service.approve(checker, "2017-Q1")
    return maker


def test_payouts_by_payroll_id_summed(approved, tmp_path):
    report = tieout_service.tie_out_file(approved, "payouts", "2017-Q1", write(tmp_path, "payroll.csv", PAYROLL_CSV),
                                         matching.MatchOptions())
    found = {line.ours.record_id: (line.status, line.difference) for line in report.result.lines}
    assert found["ann"] == (matching.MATCHED, Decimal("0.00"))
    assert found["bob"] == (matching.OUTSIDE_TOLERANCE, Decimal("10.00"))


def test_credits_from_official_run(approved, tmp_path):
    path = write(tmp_path, "erp.csv", "Deal,Amount\nD1,1200.00\nD3,500.00\n")
    report = tieout_service.tie_out_file(approved, "credits", "2017-Q1", path, matching.MatchOptions())
    assert report.basis.startswith("credited amounts of official run(s) 7")
    assert [line.status for line in report.result.lines] == [matching.MATCHED, matching.MATCHED]


def test_payouts_before_approval_rejected(maker, tmp_path):
    with pytest.raises(ConflictError, match="approve it"):
        tieout_service.tie_out_file(maker, "payouts", "2017-Q1", write(tmp_path, "payroll.csv", PAYROLL_CSV),
                                    matching.MatchOptions())


def test_signoff_by_calculating_user_rejected(approved, tmp_path):
    tieout_service.tie_out_file(approved, "payouts", "2017-Q1", write(tmp_path, "payroll.csv", PAYROLL_CSV),
                                matching.MatchOptions())
    with pytest.raises(PermissionDeniedError, match="maker ran the calculation"):
        tieout_service.sign_off(approved, "2017-Q1")


def test_signoff_needs_explanations(approved, checker, tmp_path):
    tieout_service.tie_out_file(approved, "payouts", "2017-Q1", write(tmp_path, "payroll.csv", PAYROLL_CSV),
                                matching.MatchOptions())
    with pytest.raises(ConflictError, match="1 findings"):
        tieout_service.sign_off(checker, "2017-Q1")


def test_signoff_after_explanation_clears_close_warning(approved, checker, tmp_path):
    report = tieout_service.tie_out_file(approved, "payouts", "2017-Q1",
                                         write(tmp_path, "payroll.csv", PAYROLL_CSV), matching.MatchOptions())
    with approved.read() as connection:
        before = close_service.close_warnings(connection, "2017-Q1")
    line = report.result.by_status(matching.OUTSIDE_TOLERANCE)[0]
    tieout_service.explain(approved, report.id, line.key, "timing", "paid in the April run")
    signed = tieout_service.sign_off(checker, "2017-Q1")
    with approved.read() as connection:
        after = close_service.close_warnings(connection, "2017-Q1")
        row = connection.execute(select(tieouts)).one()
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "tieout.signoff")).one()
    assert signed == [report.id]
    assert any("tie-out" in warning for warning in before)
    assert not any("tie-out" in warning for warning in after)
    assert row.signed_off_by == "checker"
    assert json.loads(entry.after)["figures"]["ours_total"] == "1990.00"


def test_explain_unknown_finding_rejected(approved, tmp_path):
    report = tieout_service.tie_out_file(approved, "payouts", "2017-Q1",
                                         write(tmp_path, "payroll.csv", PAYROLL_CSV), matching.MatchOptions())
    with pytest.raises(NotFoundError, match=r"no finding 'x\|y'"):
        tieout_service.explain(approved, report.id, "x|y", "timing")


def test_difference_turned_into_adjustment(approved, tmp_path):
    report = tieout_service.tie_out_file(approved, "payouts", "2017-Q1",
                                         write(tmp_path, "payroll.csv", PAYROLL_CSV), matching.MatchOptions())
    with approved.transaction() as unit:
        period_service.write_state(unit, period_service.state(unit.connection, "2017-Q2"),
                                   period_service.PeriodState("2017-Q2", "open", dt.date(2017, 4, 1),
                                                              dt.date(2017, 6, 30)), "period.open")
    line = report.result.by_status(matching.OUTSIDE_TOLERANCE)[0]
    adjustment_id = tieout_service.adjust(approved, report.id, line.key, "bob", Decimal("-10.00"), "payroll_overpaid")
    reloaded = tieout_service.load_report(approved, report.id)
    assert reloaded.explanations[line.key]["adjustment_id"] == adjustment_id
    assert reloaded.unexplained == []


# -- real data: maven-crm -------------------------------------------------------------------

TEAMS_MAPPING = """
record_set: participants
columns: {participant_id: sales_agent, name: sales_agent, manager_id: manager, region: regional_office}
"""
PIPELINE_MAPPING = """
record_set: opportunities
columns: {deal_id: opportunity_id, owner: sales_agent, amount: close_value, close_date: close_date,
          created_date: engage_date, stage: deal_stage, product: product, customer: account}
"""


@pytest.fixture(scope="module")
def maven(tmp_path_factory):
    path = tmp_path_factory.mktemp("maven") / "maven.spm"
    with Workspace.create(path, "tester") as workspace:
        for record_set, source, mapping in (("participants", "sales_teams.csv", TEAMS_MAPPING),
                                            ("opportunities", "sales_pipeline.csv", PIPELINE_MAPPING)):
            preview = import_service.preview(workspace, record_set, MAVEN / source, parse_mapping(mapping))
            import_service.commit(workspace, preview, accept_valid=True)
        metric_service.load_yaml(workspace, METRICS)
    return path


def won_in_q1_2017():
    with (MAVEN / "sales_pipeline.csv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle)
                if row["deal_stage"] == "Won" and "2017-01-01" <= row["close_date"] <= "2017-03-31"]


def test_maven_finance_report_findings(maven, tmp_path):
    deals = won_in_q1_2017()
    missing, changed = deals[0], deals[1]
    lines = ["deal,account,booked,amount"]
    for deal in deals[1:]:
        amount = Decimal(deal["close_value"]) + (25 if deal is changed else 0)
        lines.append(f"{deal['opportunity_id']},{deal['account']},{deal['close_date']},{amount}")
    lines.append("EXTRA001,Finance Only Ltd,2017-03-31,999")
    path = write(tmp_path, "finance.csv", "\n".join(lines) + "\n")
    with Workspace.open(maven, "tester") as workspace:
        report = tieout_service.tie_out_file(workspace, "credits", "2017-Q1", path,
                                             matching.MatchOptions(absolute_tolerance=Decimal("0.01")))
    findings = sorted((line.status, (line.ours or line.theirs).record_id) for line in report.result.lines
                      if line.status != matching.MATCHED)
    assert findings == sorted([(matching.ONLY_OURS, missing["opportunity_id"]),
                               (matching.OUTSIDE_TOLERANCE, changed["opportunity_id"]),
                               (matching.ONLY_THEIRS, "EXTRA001")])
    assert len(report.result.by_status(matching.MATCHED)) == len(deals) - 2


# -- command line ----------------------------------------------------------------------------


def run_cli(*argv):
    from spm_desktop.cli import main

    return main([str(item) for item in argv])


def test_cli_tieout_prints_findings_csv(maker, tmp_path, capsys):
    path = write(tmp_path, "erp.csv", FINANCE_CSV)
    code = run_cli("tieout", maker.path, "--period", "2017-Q1", "--against", path, "--key", "customer,date",
                   "--date-window", "3", "--tolerance", "0.50", "--format", "csv", "--export", tmp_path / "r.xlsx")
    output = capsys.readouterr().out.splitlines()
    assert code == 0
    assert output[0].startswith("key,status,method")
    assert "D2|INV-902,within_tolerance,key,ann,2017-Q1,D2,800.00,USD,INV-902" in output[2]
    assert (tmp_path / "r.xlsx").exists()


def test_cli_signoff_rules(maker, tmp_path, capsys):
    path = write(tmp_path, "erp.csv", "Deal,Amount\nD1,1200.00\n")
    run_cli("tieout", maker.path, "--period", "2017-Q1", "--against", path)
    own = run_cli("tieout", "signoff", maker.path, "--period", "2017-Q1")
    unexplained = run_cli("--user", "checker", "tieout", "signoff", maker.path, "--period", "2017-Q1")
    accepted = run_cli("--user", "checker", "tieout", "signoff", maker.path, "--period", "2017-Q1",
                       "--accept-unexplained")
    assert (own, unexplained, accepted) == (1, 1, 0)
    assert "tester ran the credits tie-out" in capsys.readouterr().err


def test_cli_missing_against_is_usage_error(maker):
    with pytest.raises(SystemExit) as raised:
        run_cli("tieout", maker.path, "--period", "2017-Q1")
    assert raised.value.code == 2


def test_cli_confirm_saves_pair(maker):
    assert run_cli("tieout", "confirm", maker.path, "--pair", "D3=INV-903") == 0
    assert tieout_service.list_id_map(maker, "credits") == {"INV-903": "D3"}


def test_credits_per_participant_grain(maker, tmp_path):
    path = write(tmp_path, "finance.csv", "Rep,Period,Bookings\nann,2017-Q1,2000.00\nbob,2017-Q1,1150.00\n"
                                          "bob,2017-Q2,99.00\n")
    mapping = tieout_service.load_mapping(write(tmp_path, "m.yaml", "columns: {participant_id: Rep, period: Period,"
                                                " amount: Bookings}\n"))
    report = tieout_service.tie_out_file(maker, "credits", "2017-Q1", path, matching.MatchOptions(), mapping,
                                         grain="participant")
    found = {line.ours.record_id: (line.status, line.difference) for line in report.result.lines}
    assert found["ann"] == (matching.MATCHED, Decimal("0.00"))
    assert found["bob"] == (matching.OUTSIDE_TOLERANCE, Decimal("-50.00"))
