"""Import field cases: names that do not join, serial dates, preambles, totals rows, duplicates
and refunds, combined codes with invisible spaces, and amounts written as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from import_paths import MAVEN, SUPERSTORE

from spm_desktop.importing.engine import read_import
from spm_desktop.importing.mapping import parse_mapping
from spm_desktop.importing.parsing import parse_datetime_values
from spm_desktop.services import import_service, record_service

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
references:
  product: {file: products.csv, column: product}
  customer: {file: accounts.csv, column: account}
"""


def _deals(workspace) -> pd.DataFrame:
    with workspace.read() as connection:
        return record_service.load_frame(connection, "deals")


def _units(amount: str) -> int:
    return int(Decimal(amount) * 10_000)


# --- names that do not join (real CRM export) ----------------------------------------------

@pytest.fixture
def maven_imported(workspace, import_file):
    import_file("participants", MAVEN / "sales_teams.csv", TEAMS_MAPPING, accept_valid=True)
    mapping = parse_mapping(PIPELINE_MAPPING, base=MAVEN)
    preview = import_service.preview(workspace, "opportunities", MAVEN / "sales_pipeline.csv", mapping)
    result = import_service.commit(workspace, preview)
    return preview, result, mapping


def test_maven_gtxpro_rows_reported_without_alias(maven_imported):
    preview, _result, _mapping = maven_imported
    unknown = [problem for problem in preview.problems if problem.code == "unknown_product"]
    assert len(unknown) == 1480
    assert {problem.value for problem in unknown} == {"GTXPro"}
    assert "GTXPro -> GTX Pro" in unknown[0].message


def test_maven_sector_typo_flagged_on_twelve_accounts(maven_imported):
    preview, _result, _mapping = maven_imported
    typos = [problem for problem in preview.problems if problem.code == "possible_misspelling"]
    assert len(typos) == 12
    assert {problem.value for problem in typos} == {"technolgy"}
    assert {problem.file for problem in typos} == {"accounts.csv"}


def test_maven_totals_with_alias(workspace, maven_imported):
    _preview, _result, mapping = maven_imported
    import_service.add_alias(workspace, "deals", "product", "GTXPro", "GTX Pro")
    preview = import_service.preview(workspace, "opportunities", MAVEN / "sales_pipeline.csv", mapping)
    result = import_service.commit(workspace, preview)
    assert result.counts.updated == 1480
    assert result.counts.unchanged == 8800 - 1480
    deals = _deals(workspace)
    won = deals[deals["stage"] == "Won"]
    assert int(won.loc[won["product"] == "GTX Pro", "amount"].sum()) == _units("3510578")
    assert int(won["amount"].sum()) == _units("10005534")
    with workspace.read() as connection:
        people = record_service.load_frame(connection, "participants")
    by_region = won.merge(people, left_on="owner", right_on="participant_id").groupby("region")["amount"].sum()
    assert int(by_region["Central"]) == _units("3346293")
    assert int(by_region["West"]) == _units("3568647")
    assert int(by_region["East"]) == _units("3090594")


def test_maven_reps_without_deals_kept(workspace, maven_imported):
    deals = _deals(workspace)
    with workspace.read() as connection:
        people = record_service.list_participants(connection)
    assert len(people) == 35
    assert len({person.participant_id for person in people} - set(deals["owner"])) == 5


def test_maven_open_deals_without_account_accepted(workspace, maven_imported):
    _preview, result, _mapping = maven_imported
    deals = _deals(workspace)
    assert result.counts.added == 8800
    assert result.counts.rejected == 0
    no_account = deals[deals["customer"].isna()]
    assert len(no_account) == 1425
    assert set(no_account["stage"]) <= {"Engaging", "Prospecting"}


# --- Excel serial dates ------------------------------------------------------------------

def test_serials_and_date_text_in_one_column():
    values = parse_datetime_values([45581, 42870, 42682, "5/15/2017 1:00 AM"])
    assert values == [dt.datetime(2024, 10, 16), dt.datetime(2017, 5, 15), dt.datetime(2016, 11, 8),
                      dt.datetime(2017, 5, 15, 1, 0)]


def test_serial_column_imports_as_dates(workspace, tmp_path, import_file):
    path = tmp_path / "history.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("History")
    sheet.write_row(0, 0, ["deal_id", "changed_at", "stage"])
    for row, value in enumerate([45581, 42870, 42682, "5/15/2017 1:00 AM"], start=1):
        sheet.write(row, 0, f"D-{row}")
        sheet.write(row, 1, value)
        sheet.write(row, 2, "Won")
    workbook.close()
    import_file("stage_history", path)
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "stage_history")
    assert frame["changed_at"].tolist() == [pd.Timestamp("2024-10-16"), pd.Timestamp("2017-05-15"),
                                            pd.Timestamp("2016-11-08"), pd.Timestamp("2017-05-15 01:00")]


def test_workbook_in_1904_system(workspace, tmp_path, import_file):
    path = tmp_path / "mac.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"date_1904": True})
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["deal_id", "owner", "close_date"])
    sheet.write_row(1, 0, ["D-1", "P1"])
    sheet.write_number(1, 2, 41220)  # a plain number, so only the workbook's date system gives the day
    sheet.write_row(2, 0, ["D-2", "P1"])
    sheet.write_datetime(2, 2, dt.datetime(2016, 11, 8), date_format)
    workbook.close()
    import_file("deals", path)
    assert _deals(workspace)["close_date"].tolist() == [pd.Timestamp("2016-11-08")] * 2


@pytest.mark.slow
def test_superstore_order_dates_and_postal_codes(workspace, import_file):
    mapping = """
record_set: deals
sheet: Orders
columns: {deal_id: Order ID, line_id: Row ID, owner: Region, close_date: Order Date, amount: Sales,
          quantity: Quantity, product: Product ID, customer: Customer ID}
"""
    result = import_file("deals", SUPERSTORE, mapping)
    deals = _deals(workspace)
    assert result.counts.added == 9994
    assert deals["close_date"].min() == pd.Timestamp("2014-01-03")
    assert deals["close_date"].max() == pd.Timestamp("2017-12-30")
    assert int(deals["amount"].sum()) == _units("2297200.8603")
    assert deals["Postal Code"].iloc[0] == "42420"
    assert "05408" in set(deals["Postal Code"])
    assert deals["line_id"].iloc[0] == "1"


# --- report preamble, BOM and thousands separators -----------------------------------------

PREAMBLE_CSV = "\ufeff" + "\r\n".join([
    "Quarterly rep summary", "Company: Example Ltd", "Report date: 2024-04-02", "Region: all",
    "Currency: USD", "Prepared by: finance", "", "Confidential", "Do not forward",
    '"Rep","Deals","Amount"', '"DOR","D-1","1,234.50"', '"KLE","D-2","12,000"',
]) + "\r\n"


def test_preamble_header_found_on_line_ten(workspace, write_file):
    path = write_file("summary.csv", PREAMBLE_CSV)
    preview = import_service.preview(workspace, "deals", path, parse_mapping(
        "record_set: deals\ncolumns: {owner: Rep, deal_id: Deals, amount: Amount}\n"))
    assert preview.header_row == 10
    assert preview.headers[0] == "Rep"
    assert preview.parsed.info.encoding == "utf-8-sig"


def test_preamble_amounts_total(workspace, write_file, import_file):
    path = write_file("summary.csv", PREAMBLE_CSV)
    import_file("deals", path, "record_set: deals\ncolumns: {owner: Rep, deal_id: Deals, amount: Amount}\n")
    assert int(_deals(workspace)["amount"].sum()) == _units("13234.50")


# --- merged title, blank row and a totals row --------------------------------------------

@pytest.fixture
def totals_workbook(tmp_path):
    path = tmp_path / "deals.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "Deals booked in March"
    sheet.merge_cells("A1:D1")
    sheet.append([])
    sheet.append(["deal_id", "owner", "close_date", "amount"])
    sheet.append(["Total", None, None, 7500])
    sheet.append(["D-1", "P1", dt.date(2024, 3, 1), 2000])
    sheet.append(["D-2", "P2", dt.date(2024, 3, 2), 3000])
    sheet.append(["D-3", "P1", dt.date(2024, 3, 3), 2500])
    workbook.save(path)
    return path


def test_totals_row_skipped_and_checked(workspace, totals_workbook, import_file):
    result = import_file("deals", totals_workbook)
    totals = [problem for problem in result.problems if problem.code == "totals_row_skipped"]
    assert result.counts.added == 3
    assert len(totals) == 1
    assert totals[0].row == 4
    assert "matches" in totals[0].message
    assert totals[0].severity == "info"
    assert int(_deals(workspace)["amount"].sum()) == _units("7500")


def test_totals_row_mismatch_is_a_warning(workspace, tmp_path):
    path = tmp_path / "deals.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["deal_id", "owner", "amount"])
    sheet.append(["D-1", "P1", 2000])
    sheet.append(["D-2", "P1", 3000])
    sheet.append(["Grand total", None, 6000])
    workbook.save(path)
    preview = import_service.preview(workspace, "deals", path)
    totals = [problem for problem in preview.problems if problem.code == "totals_row_skipped"]
    assert totals[0].severity == "warning"
    assert "does not match" in totals[0].message


# --- duplicate ids and refunds ------------------------------------------------------------

FILE_ONE = "deal_id,type,owner,amount,close_date\nT-1001,sale,P1,5000.00,2024-03-05\n"
FILE_TWO = FILE_ONE + "T-1001,refund,P1,-5000.00,2024-04-10\n"


def test_repeated_sale_ignored_and_refund_kept(workspace, write_file, import_file):
    import_file("deals", write_file("one.csv", FILE_ONE))
    result = import_file("deals", write_file("two.csv", FILE_TWO))
    deals = _deals(workspace)
    assert result.counts.unchanged == 1
    assert result.counts.added == 1
    assert len(deals) == 2
    assert deals.loc[deals["type"] == "refund", "reference_deal_id"].tolist() == ["T-1001"]
    assert int(deals["amount"].sum()) == 0


def test_refund_nets_commission_by_month(workspace, write_file, import_file):
    import_file("deals", write_file("two.csv", FILE_TWO))
    deals = _deals(workspace)
    commission = (deals.groupby(deals["close_date"].dt.strftime("%Y-%m"))["amount"].sum()
                  .map(lambda units: Decimal(int(units)).scaleb(-4) * Decimal("0.10")))
    assert commission["2024-03"] == Decimal("500.00")
    assert commission["2024-04"] == Decimal("-500.00")


def test_identical_row_in_one_file_counted_once(workspace, write_file, import_file):
    result = import_file("deals", write_file("twice.csv", FILE_ONE + FILE_ONE.splitlines()[1] + "\n"))
    assert result.counts.added == 1
    assert result.counts.duplicates == 1


# --- combined codes and invisible spaces -----------------------------------------------------

REPS_CSV = ("deal_id,rep,amount\nA-1,DOR,1500\nA-2,KLE,2000\nA-3,DOR/KLE,2000\nA-4,DOR ,300\n"
            "A-5,KLE\u00a0,200\n")


def test_combined_codes_split_equally(workspace, write_file, import_file):
    result = import_file("deals", write_file("reps.csv", REPS_CSV),
                         "record_set: deals\ncolumns: {deal_id: deal_id, owner: rep, amount: amount}\n")
    deals = _deals(workspace)
    with workspace.read() as connection:
        splits = record_service.load_frame(connection, "credit_splits")
    credit: dict[str, Decimal] = {}
    for deal in deals.itertuples():
        amount = Decimal(int(deal.amount)).scaleb(-4)
        shares = splits[splits["deal_id"] == deal.deal_id]
        for person, share in (zip(shares["participant_id"], shares["share"], strict=True) if len(shares)
                              else [(deal.owner, Decimal(1))]):
            credit[person] = credit.get(person, Decimal(0)) + amount * share
    assert set(deals["owner"]) == {"DOR", "KLE"}
    assert credit == {"DOR": Decimal("2800"), "KLE": Decimal("3200")}
    assert result.related["credit_splits"].added == 2


def test_normalised_rows_listed(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("reps.csv", REPS_CSV), parse_mapping(
        "record_set: deals\ncolumns: {deal_id: deal_id, owner: rep, amount: amount}\n"))
    normalised = [problem for problem in preview.problems if problem.code == "text_normalised"]
    assert [problem.row for problem in normalised] == [5, 6]
    assert [problem.value for problem in normalised] == ["DOR ", "KLE\u00a0"]


# --- amounts as text --------------------------------------------------------------------------

def test_euro_amounts_with_symbols(workspace, write_file, import_file):
    import_file("deals", write_file("eur.csv", 'deal_id,owner,amount\nE-1,P1,"€93,139.00"\nE-2,P1,"€6,892.29"\n'))
    assert _deals(workspace)["amount"].tolist() == [_units("93139.00"), _units("6892.29")]


def test_semicolon_file_with_decimal_comma(workspace, write_file, import_file):
    path = write_file("eu.csv", "deal_id;owner;amount\nE-1;P1;1.234,56\nE-2;P1;12.000,00\n", "cp1252")
    result = import_file("deals", path)
    assert _deals(workspace)["amount"].tolist() == [_units("1234.56"), _units("12000.00")]
    assert result.counts.added == 2


def test_lone_ambiguous_amount_flagged(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("one.csv", 'deal_id,owner,amount\nX,P1,"1,234"\n'))
    flagged = [problem for problem in preview.problems if problem.code == "ambiguous_decimal_mark"]
    assert len(flagged) == 1
    assert flagged[0].value == "1,234"


def test_decimal_mark_decided_per_column(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text('deal_id;owner;amount;cost\nA;P1;1.234,56;"10.5"\n', encoding="utf-8")
    parsed = read_import(path, "deals")
    assert parsed.decisions["amount"] == ","
    assert parsed.decisions["cost"] == "."
    assert parsed.record(0)["cost"] == Decimal("10.5")


def test_combined_owner_repeated_code(workspace, write_file, import_file):
    result = import_file("deals", write_file("twice.csv", "deal_id,owner,amount\nB-1,P1/P1,100\n"))
    assert _deals(workspace)["owner"].tolist() == ["P1"]
    assert "credit_splits" not in result.related


def test_combined_owner_unknown_code_rejected(workspace, write_file, import_file):
    import_file("participants", write_file("people.csv", "participant_id,name\nDOR,Dora\nKLE,Klaus\n"))
    path = write_file("reps.csv", "deal_id,owner,amount\nC-1,DOR/XXX,100\nC-2,DOR/KLE,200\n")
    preview = import_service.preview(workspace, "deals", path)
    errors = [(problem.code, problem.row) for problem in preview.problems if problem.severity == "error"]
    assert ("combined_owner_unknown", 2) in errors
    result = import_service.commit(workspace, preview, accept_valid=True)
    assert result.counts.added == 1
    assert result.counts.rejected == 1
    with workspace.read() as connection:
        splits = record_service.load_frame(connection, "credit_splits")
    assert sorted(zip(splits["deal_id"], splits["participant_id"], strict=True)) == [("C-2", "DOR"), ("C-2", "KLE")]
