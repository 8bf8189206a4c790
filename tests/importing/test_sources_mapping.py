"""Reading files (encodings, delimiters, sheets) and mapping documents."""

from __future__ import annotations

import datetime as dt

import pytest
import xlsxwriter

from spm_desktop.importing.engine import read_import
from spm_desktop.importing.layout import detect_header_row
from spm_desktop.importing.mapping import MappingError, dump_mapping, parse_mapping, suggest_columns
from spm_desktop.importing.parsing import parse_dates, parse_money, parse_text, serial_to_datetime
from spm_desktop.importing.sources import ImportFileError, Source

CSV = "deal_id,owner,customer\nD1,P1,Müller GmbH\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_encodings_detected(write_file, encoding):
    parsed = read_import(write_file(f"{encoding}.csv", CSV, encoding), "deals")
    assert parsed.record(0)["customer"] == "Müller GmbH"
    assert parsed.headers[0] == "deal_id"


def test_invalid_bytes_for_given_encoding_rejected(write_file):
    path = write_file("bad.csv", "deal_id,owner\nD1,Ren\xe9\n", "cp1252")
    mapping = parse_mapping("record_set: deals\ncolumns: {deal_id: deal_id, owner: owner}\noptions: {encoding: utf-8}\n")
    with pytest.raises(ImportFileError, match="not valid utf-8"):
        read_import(path, "deals", mapping)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_sniffed(write_file, delimiter):
    text = "\n".join(delimiter.join(row) for row in [["deal_id", "owner"], ["D1", "P1"], ["D2", "P2"]]) + "\n"
    path = write_file("data.txt", text)
    assert Source(path).info.delimiter == delimiter


def test_unknown_sheet_lists_sheets(tmp_path):
    path = tmp_path / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Orders")
    workbook.add_worksheet("Returns")
    workbook.close()
    with pytest.raises(ImportFileError, match="Orders, Returns"):
        Source(path, "Order")


def test_unsupported_suffix_rejected(write_file):
    with pytest.raises(ImportFileError, match=r"cannot import \.pdf"):
        Source(write_file("report.pdf", b"%PDF"))


def test_header_detection_skips_titles_and_key_value_lines():
    rows = [["Sales report"], ["Region:", "all"], [None], ["Rep", "Deals", "Amount"], ["A", "1", "5"], ["B", "2", "6"]]
    assert detect_header_row(rows) == 3


def test_mapping_keys_stay_strings_and_positions_are_ints():
    mapping = parse_mapping("record_set: deals\nheader_row: none\ncolumns: {deal_id: 1, owner: '2', stage: on}\n")
    assert mapping.columns == {"deal_id": 1, "owner": "2", "stage": "on"}


def test_mapping_round_trips_through_yaml():
    text = """
record_set: fx_rates
header_row: none
columns: {date: 2, from_currency: 3, to_currency: 4}
options: {date_order: dmy, decimal_mark: ",", period_from_date: quarter}
aliases: {from_currency: {EURO: EUR}}
melt: {field: rate, type_field: rate_type, columns: {average: 5, end_of_day: 6}}
"""
    mapping = parse_mapping(text)
    assert parse_mapping(dump_mapping(mapping)).to_document() == mapping.to_document()


def test_mapping_unknown_field_named():
    with pytest.raises(MappingError, match="'seller' is not a field"):
        parse_mapping("record_set: deals\ncolumns: {seller: Rep}\n")


def test_mapping_invalid_option_named():
    with pytest.raises(MappingError, match="date_order 'ydm' is invalid"):
        parse_mapping("record_set: deals\ncolumns: {deal_id: a}\noptions: {date_order: ydm}\n")


def test_columns_suggested_from_crm_headers():
    suggested = suggest_columns("deals", ["opportunity_id", "sales_agent", "close_value", "deal_stage", "account"])
    assert suggested == {"deal_id": "opportunity_id", "owner": "sales_agent", "amount": "close_value",
                         "stage": "deal_stage", "customer": "account"}


def test_day_month_order_decided_from_column():
    result = parse_dates(["03/04/2017", "13/04/2017"], with_time=False)
    assert result.values == ["2017-04-03", "2017-04-13"]
    assert result.decision == "dmy"


def test_day_month_order_asked_when_unknown():
    result = parse_dates(["03/04/2017", "05/06/2017", "07/07/2017"], with_time=False)
    assert [issue.code for issue in result.issues] == ["date_order_ambiguous", "ambiguous_date", "ambiguous_date"]
    assert result.values == [None, None, "2017-07-07"]


def test_mixed_day_month_orders_conflict():
    result = parse_dates(["13/04/2017", "04/13/2017"], with_time=False)
    assert result.issues[0].code == "date_order_conflict"


def test_serial_60_is_not_a_day():
    with pytest.raises(ValueError, match="1900-02-29"):
        serial_to_datetime(60)


def test_serial_in_1904_system():
    assert serial_to_datetime(41220, date1904=True) == dt.datetime(2016, 11, 8)


def test_money_float_tail_and_decimals():
    result = parse_money([731.9399999999999, 0.12345, "(1,000.00)", "12.50-", "USD 7"])
    assert result.values == [7_319_400, None, -10_000_000, -125_000, 70_000]
    assert [issue.code for issue in result.issues] == ["too_many_decimals"]


def test_text_trimmed_and_spaces_collapsed():
    result = parse_text(["  Darcel  Schlecht\u00a0", "\ufeffP1", 42.0])
    assert result.values == ["Darcel Schlecht", "P1", "42"]
    assert result.normalised == [0, 1]


def test_header_only_file_has_no_records(write_file):
    parsed = read_import(write_file("empty.csv", "deal_id,owner,amount\n"), "deals")
    assert [problem.code for problem in parsed.problems] == ["no_records"]
    assert parsed.has_file_errors


def test_duplicate_headers_warned_and_first_used(write_file):
    parsed = read_import(write_file("dup.csv", "deal_id,owner,amount,amount\nD1,P1,1,2\n"), "deals")
    assert [problem.code for problem in parsed.problems] == ["duplicate_header"]
    assert "columns 3 and 4" in parsed.problems[0].message
    assert parsed.record(0)["amount"] == 1
