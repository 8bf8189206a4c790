"""Import of .ods and 1904-system .xls workbooks, text files with mixed encodings, and the column readers."""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import pandas as pd
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from import_paths import DATA, SUPERSTORE

from spm_desktop.importing import parsing
from spm_desktop.importing.columns import CodedColumnBuilder
from spm_desktop.importing.sources import ImportFileError, xls_date1904
from spm_desktop.services import import_service, record_service
from spm_desktop.services.errors import ValidationError

FORMATS = DATA / "import" / "formats"


def _deals(workspace) -> pd.DataFrame:
    with workspace.read() as connection:
        return record_service.load_frame(connection, "deals")


def _units(amount: str) -> int:
    return int(Decimal(amount) * 10_000)


# --- OpenDocument spreadsheets -------------------------------------------------------------

PIPELINE_MAPPING = """
record_set: opportunities
columns: {deal_id: opportunity_id, owner: sales_agent, amount: close_value, close_date: close_date,
          created_date: engage_date, stage: deal_stage, product: product, customer: account}
"""


@pytest.fixture
def ods_pipeline(workspace, import_file):
    return import_file("opportunities", FORMATS / "sales_pipeline.ods", PIPELINE_MAPPING)


def test_ods_pipeline_row_count(ods_pipeline):
    assert ods_pipeline.counts.added == 8800


def test_ods_pipeline_won_total(workspace, ods_pipeline):
    deals = _deals(workspace)
    assert int(deals.loc[deals["stage"] == "Won", "amount"].sum()) == _units("10005534")


def test_ods_pipeline_dates_and_open_deals(workspace, ods_pipeline):
    deals = _deals(workspace).set_index("deal_id")
    assert deals.loc["1C1I7A6R", "close_date"] == pd.Timestamp("2017-03-01")
    assert deals.loc["1C1I7A6R", "created_date"] == pd.Timestamp("2016-10-20")
    assert int(deals["close_date"].isna().sum()) == 2089


REPORT_MAPPING = "record_set: deals\ncolumns: {deal_id: Deal, owner: Rep, amount: Amount, close_date: Closed}\n"


def test_ods_report_header_below_preamble(workspace):
    from spm_desktop.importing.mapping import parse_mapping

    preview = import_service.preview(workspace, "deals", FORMATS / "deals_report.ods", parse_mapping(REPORT_MAPPING))
    assert preview.header_row == 4


def test_ods_report_amounts_typed_as_text(workspace, import_file):
    import_file("deals", FORMATS / "deals_report.ods", REPORT_MAPPING)
    assert _deals(workspace)["amount"].tolist() == [_units("1234.50"), _units("12000.00"), _units("93139.00")]


def test_ods_report_date_cells(workspace, import_file):
    import_file("deals", FORMATS / "deals_report.ods", REPORT_MAPPING)
    assert _deals(workspace)["close_date"].tolist() == [pd.Timestamp("2017-05-15"), pd.Timestamp("2017-06-30"),
                                                        pd.Timestamp("2017-07-03")]


# --- the 1904 date system of legacy .xls files ----------------------------------------------

def test_xls_date_system_detected():
    assert xls_date1904(FORMATS / "deals_1904.xls") is True


def test_xls_1900_system_detected():
    assert xls_date1904(SUPERSTORE) is False


def test_xls_date_system_of_non_ole_file(tmp_path):
    path = tmp_path / "fake.xls"
    path.write_bytes(b"deal_id,owner\n")
    assert xls_date1904(path) is False


def test_xls_1904_plain_serials_read_as_dates(workspace, import_file):
    import_file("deals", FORMATS / "deals_1904.xls")
    assert _deals(workspace)["close_date"].tolist() == [pd.Timestamp("2016-11-08"), pd.Timestamp("2014-01-02"),
                                                        pd.Timestamp("2016-11-08")]


# --- text files whose lines mix UTF-8 and cp1252 ----------------------------------------------

MIXED_LINES = (b"deal_id,owner,customer\n" + "D-1,P1,Café Lumière\n".encode()
               + "D-2,P1,Société Générale\n".encode("cp1252") + b"D-3,P1,Plain Ltd\n")


def test_mixed_encoding_lines_decoded(workspace, write_file, import_file):
    import_file("deals", write_file("mixed.csv", MIXED_LINES))
    assert _deals(workspace)["customer"].tolist() == ["Café Lumière", "Société Générale", "Plain Ltd"]


def test_mixed_encoding_warning_names_line(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("mixed.csv", MIXED_LINES))
    warnings = [problem for problem in preview.problems if problem.code == "mixed_encoding"]
    assert [(problem.severity, problem.row, problem.value) for problem in warnings] == [("warning", 3, "cp1252")]


def test_single_encoding_file_has_no_warning(workspace, write_file):
    path = write_file("cp1252.csv", "deal_id,owner,customer\nD-2,P1,Société Générale\n", "cp1252")
    preview = import_service.preview(workspace, "deals", path)
    assert not [problem for problem in preview.problems if problem.code == "mixed_encoding"]


def test_mixed_encoding_text_has_no_replacement_character(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("mixed.csv", MIXED_LINES))
    assert all("\ufffd" not in (value or "") for value in preview.parsed.block.values["customer"])


# --- the column readers -------------------------------------------------------------------

def test_blank_csv_lines_skipped_and_counted(workspace, write_file, import_file):
    result = import_file("deals", write_file("gaps.csv", "deal_id,owner\nD-1,P1\n\nD-2,P1\n,\n"))
    assert (result.counts.added, result.skipped_rows) == (2, 2)


def test_csv_wide_row_falls_back(workspace, write_file, import_file):
    rows = "".join(f"D-{number},P1\n" for number in range(1, 251))
    result = import_file("deals", write_file("wide.csv", f"deal_id,owner\n{rows}D-251,P1,extra\n"))
    assert result.counts.added == 251


def test_csv_source_rows_after_preamble(workspace, write_file):
    path = write_file("report.csv", "Deals export\n\ndeal_id,owner\nD-1,P1\nTotal,\nD-2,P1\n")
    preview = import_service.preview(workspace, "deals", path)
    assert preview.parsed.block.source_rows == [4, 6]


def test_boolean_cell_not_read_as_number(workspace, tmp_path):
    path = tmp_path / "flags.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["deal_id", "owner", "amount"])
    sheet.write_row(1, 0, ["D-1", "P1", 1])
    sheet.write_row(2, 0, ["D-2", "P1"])
    sheet.write_boolean(2, 2, True)
    workbook.close()
    preview = import_service.preview(workspace, "deals", path)
    assert [(problem.code, problem.row) for problem in preview.problems if problem.code == "invalid_amount"] == [
        ("invalid_amount", 3)]


def test_coded_column_keeps_true_apart_from_one():
    builder = CodedColumnBuilder()
    builder.add([1, None, "x"])
    builder.add([True, 1.0, None])
    column = builder.finish()
    assert [type(cell) for cell in column] == [int, type(None), str, bool, float, type(None)]


def test_repeated_bad_amount_listed_on_every_row(workspace, write_file):
    path = write_file("bad.csv", "deal_id,owner,amount\nD-1,P1,abc\nD-2,P1,10\nD-3,P1,abc\n")
    preview = import_service.preview(workspace, "deals", path)
    assert [problem.row for problem in preview.problems if problem.code == "invalid_amount"] == [2, 4]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("-99999999999999.9999"), max_value=Decimal("99999999999999.9999"),
                            places=4, allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_plain_amount_texts_scale_exactly(amounts):
    texts = [format(amount, "f") for amount in amounts]
    expected = [int(amount.scaleb(4)) for amount in amounts]
    assert parsing.parse_money(texts).values == expected


def test_plain_amount_forms():
    texts = ["12.", ".5", "-.5", "-0", "007.25", "١٢"]
    assert parsing.parse_money(texts).values == [120000, 5000, -5000, 0, 72500, 120000]


@pytest.mark.parametrize(("texts", "expected"), [
    (["1.5", "", "-2"], [15000, None, -20000]),
    (["1.5", "1.5", "3"], [15000, 15000, 30000]),
    (["1.5", "€ 2", "3"], [15000, 20000, 30000]),
    (["1.250", "2.500"], [12500, 25000]),
])
def test_plain_amounts_gaps_and_repeats(texts, expected):
    assert parsing.parse_money(texts).values == expected


def test_plain_amounts_ambiguous_thousands():
    result = parsing.parse_money(["1.250", "2.500", "3"])
    assert result.values == [12500, 25000, 30000]
    assert [issue.code for issue in result.issues] == ["ambiguous_decimal_mark"] * 2



def test_large_csv_sample_and_rows(workspace, write_file, import_file):
    rows = "".join(f"D-{number:07d},P{number % 7},{number}.25\n" for number in range(60_000))
    path = write_file("large.csv", "Deals export\n\ndeal_id,owner,amount\n" + rows)
    result = import_file("deals", path)
    assert (result.counts.added, result.skipped_rows) == (60_000, 0)


def test_csv_totals_row_skipped_and_checked(workspace, write_file):
    path = write_file("totals.csv", "deal_id,owner,amount,stage\nD-1,P1,10,\nD-2,P1,20,\nTotal,,30,\n")
    preview = import_service.preview(workspace, "deals", path)
    totals = [problem for problem in preview.problems if problem.code == "totals_row_skipped"]
    assert (preview.record_count, preview.parsed.skipped_rows) == (2, 1)
    assert [(problem.row, problem.severity) for problem in totals] == [(4, "info")]


@pytest.mark.parametrize(("content", "named"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
    (b"PK\x03\x04" + bytes(40), "a ZIP archive"),
    (bytes(range(256)) * 4, "binary data"),
])
def test_file_that_is_not_text_is_named(workspace, write_file, content, named):
    path = write_file("renamed.csv", content)
    with pytest.raises(ImportFileError) as raised:
        import_service.preview(workspace, "deals", path)
    assert f"renamed.csv is not a text file: it contains {named}" in str(raised.value)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark(workspace, write_file, import_file, encoding):
    path = write_file("wide.csv", "deal_id,owner,amount\nD1,Zoë,12.50\n", encoding=encoding)
    result = import_file("deals", path, accept_valid=True)
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame["owner"].tolist() == ["Zoë"]
    assert result.counts.added == 1


def test_long_amount_text_memory():
    long_text = "1" * 5_000
    result = parsing.parse_money(["12.50", long_text, "-3"])
    assert result.values == [125_000, None, -30_000]
    assert [issue.code for issue in result.issues] == ["amount_too_large"]
    texts = [f"{number}.25" for number in range(2_000)] + [long_text]
    tracemalloc.start()
    try:
        assert parsing._plain_numbers(texts).texts == texts[:-1]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A text array as wide as the long cell would take 2,001 x 5,000 x 4 bytes (40 MB) per copy.
    assert peak < 10_000_000


def test_huge_float_amount_no_warning(recwarn):
    result = parsing.parse_money([1e15, 2.5])
    assert result.values[1] == 25_000
    assert not [warning for warning in recwarn if issubclass(warning.category, RuntimeWarning)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.-\n ,", min_size=1, max_size=12), min_size=1, max_size=8, unique=True))
def test_short_amounts_match_digit_path(texts):
    short = parsing._short_plain_numbers(texts)
    if short is not None:
        assert short == parsing._digit_plain_numbers(texts)


def test_short_amounts_float_path():
    texts = ["99999999999", "-9999999.99", "0.0001", "12.", "-.5", "1.234"]
    short = parsing._short_plain_numbers(texts)
    assert short is not None
    assert short.unit_list == [999_999_999_990_000, -99_999_999_900, 1, 120_000, -5_000, 12_340]
    assert short.votes == {".": ["-9999999.99", "0.0001", "12.", "-.5"], "?": ["1.234"]}
    assert parsing._short_plain_numbers(["1.5", "1e5"]) is None
    assert parsing._short_plain_numbers(["1.5", "5\n"]) is None


def test_long_negative_amounts_digit_path():
    plain = parsing._plain_numbers(["-12345678901234.5", "-0.0001", "7"])
    assert plain.every
    assert plain.unit_list == [-123_456_789_012_345_000, -1, 70_000]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.,-€ ", max_size=8), max_size=10, unique=True))
def test_distinct_cells_match_list(texts):
    plain, distinct = parsing.parse_money(texts), parsing.parse_money(parsing.DistinctCells(texts))
    assert (distinct.values, distinct.issues, distinct.decision) == (plain.values, plain.issues, plain.decision)


def test_amount_marks_out_of_order():
    result = parsing.parse_money(["1.2,3.4", "0.,.", "5.5"])
    assert result.values == [None, None, 55_000]
    assert [(issue.index, issue.code) for issue in result.issues] == [(0, "invalid_amount"), (1, "invalid_amount")]


@pytest.mark.parametrize("text", ["(-5)", "--5", "-5-", "5--", "-+5", "(+5)"])
def test_amount_with_two_signs_rejected(text):
    result = parsing.parse_money([text])
    assert result.values == [None]
    assert [issue.code for issue in result.issues] == ["invalid_amount"]


@pytest.mark.parametrize(("text", "units"), [
    ("(5)", -50_000), ("5-", -50_000), ("$-5", -50_000), ("-$5", -50_000), ("USD -5", -50_000), ("+5", 50_000),
])
def test_amount_with_one_sign(text, units):
    assert parsing.parse_money([text]).values == [units]


@pytest.mark.parametrize(("texts", "mark", "units"), [
    (["1,234.5"], ".", [12_345_000]),
    (["12,34,567.89"], ".", [12_345_678_900]),
    (["1'234.5"], ".", [12_345_000]),
    (["1 234,5"], ",", [12_345_000]),
    (["1.234.567,89"], ",", [12_345_678_900]),
    (["1,2,3"], ".", [None]),
    (["12,34,5.6"], ".", [None]),
    (["1 2"], ".", [None]),
    (["1\n2"], ".", [None]),
    (["1,234 567"], ".", [None]),
    (["1..2"], ",", [None]),
    (["1.234.5"], ",", [None]),
])
def test_amount_digit_grouping(texts, mark, units):
    result = parsing.parse_money(texts, mark)
    assert result.values == units
    assert [issue.code for issue in result.issues] == ["invalid_amount"] * units.count(None)


def test_malformed_amounts_do_not_vote():
    result = parsing.parse_money(["1.2.3", "2.3.4", "1.5"])
    assert result.decision == "."
    assert result.values == [None, None, 15_000]
    assert [(issue.index, issue.code) for issue in result.issues] == [(0, "invalid_amount"), (1, "invalid_amount")]


def test_percent_amount_rejected():
    result = parsing.parse_money(["5%", "7"])
    assert result.values == [None, 70_000]
    assert [issue.message for issue in result.issues] == ["a percentage is not an amount; enter the amount itself"]


def test_share_percent_still_read():
    assert parsing.parse_decimal(["50%", "1,2,3"]).values == ["0.5", None]


def test_csv_rows_of_spaces_skipped(workspace, write_file, import_file):
    content = "deal_id,owner,amount\nD-1,P1,5\n   \n  ,  , \t\nD-2,P1,6\n\u00a0,,\n"
    result = import_file("deals", write_file("spaces.csv", content))
    assert (result.counts.added, result.skipped_rows) == (2, 3)
    assert [problem.code for problem in result.problems if problem.severity == "error"] == []


def test_csv_row_with_a_value_kept(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("gap.csv", "deal_id,owner,amount\nD-1,P1,5\nD-2, ,6\n"))
    assert preview.parsed.skipped_rows == 0
    assert [(problem.code, problem.row) for problem in preview.problems if problem.severity == "error"] == [
        ("missing_value", 3)]


def test_xlsx_row_of_spaces_skipped(workspace, tmp_path, import_file):
    path = tmp_path / "spaces.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Deals")
    for number, row in enumerate([["deal_id", "owner", "amount"], ["D-1", "P1", 5], ["   "], ["D-2", "P1", 6]]):
        sheet.write_row(number, 0, row)
    workbook.close()
    result = import_file("deals", path)
    assert (result.counts.added, result.skipped_rows) == (2, 1)


@pytest.mark.parametrize(("content", "line"), [
    ('deal_id,owner,amount\nD-1,"P1,5\nD-2,P1,6\nD-3,P1,7\n', 2),
    ('deal_id,owner,amount\nD-1,P1,5\n"D-2,P1,6', 3),
])
def test_unclosed_quote_blocks_import(workspace, write_file, content, line):
    preview = import_service.preview(workspace, "deals", write_file("quote.csv", content))
    problems = [problem for problem in preview.problems if problem.code == "unclosed_quote"]
    assert [problem.severity for problem in problems] == ["error"]
    assert problems[0].message.startswith(f"line {line} opens a quoted cell that no quote closes")
    with pytest.raises(ValidationError):
        import_service.commit(workspace, preview, accept_valid=True)


def test_inch_mark_quote_imports(workspace, write_file, import_file):
    result = import_file("deals", write_file("inch.csv", 'deal_id,owner,amount,product\nD-1,P1,5,5" screen\n'))
    assert result.counts.added == 1
    assert not [problem for problem in result.problems if problem.code == "unclosed_quote"]
