"""Marks in cells: an amount that names its currency, and the quote that exports put before formula text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.importing import parsing
from spm_desktop.importing.parsing import amount_currency
from spm_desktop.services import import_service, record_service
from spm_desktop.services.errors import ValidationError


@pytest.mark.parametrize(("text", "currency"), [
    ("1.234,56 EUR", "EUR"), ("€500", "EUR"), ("£ 1,200.00", "GBP"), ("500 JPY", "JPY"), ("-50,00 GBP", "GBP"),
    ("(EUR 1,200.00)", "EUR"), ("US$ 12", "USD"), ("C$20", "CAD"), ("12 345,00 €", "EUR"),
    ("$500", None), ("¥500", None), ("kr 500", None), ("1234.50", None), ("", None), (None, None),
])
def test_amount_currency(text, currency):
    assert amount_currency(text) == currency


def _deals(workspace) -> dict[str, tuple[int, str | None]]:
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    return {row.deal_id: (row.amount, row.currency) for row in frame.itertuples()}


def test_empty_currency_taken_from_the_amount(workspace, write_file, import_file):
    path = write_file("eu.csv", 'deal_id,owner,amount,currency\nD1,P1,"1.234,56 EUR",\nD2,P1,€500,\n'
                                "D3,P1,$500,\nD4,P1,700,usd\n")
    result = import_file("deals", path)
    assert result.counts.added == 4
    assert _deals(workspace) == {"D1": (12_345_600, "EUR"), "D2": (5_000_000, "EUR"), "D3": (5_000_000, None),
                                 "D4": (7_000_000, "usd")}
    filled = [problem for problem in result.problems if problem.code == "currency_from_amount"]
    assert [problem.message for problem in filled] == [
        "currency EUR taken from the amount cells of 2 rows that had no currency"]


def test_amount_and_currency_that_differ_reject_the_row(workspace, write_file):
    path = write_file("clash.csv", "deal_id,owner,amount,currency\nD1,P1,£500,USD\nD2,P1,£500,GBP\n")
    preview = import_service.preview(workspace, "deals", path)
    clashes = [problem for problem in preview.problems if problem.code == "currency_conflict"]
    assert [(problem.row, problem.column, problem.value) for problem in clashes] == [(2, "amount", "GBP")]
    assert "the amount names GBP but the row's currency is USD" in clashes[0].message
    with pytest.raises(ValidationError):
        import_service.commit(workspace, preview)
    assert _deals(workspace) == {}


def test_amount_without_a_currency_column_fills_it(workspace, write_file, import_file):
    import_file("deals", write_file("nocol.csv", "deal_id,owner,amount\nD1,P1,GBP 20.5\n"))
    assert _deals(workspace) == {"D1": (205_000, "GBP")}


def test_record_set_without_currency_warns(workspace, write_file):
    path = write_file("stages.csv", "deal_id,changed_at,stage,amount\nO1,2017-01-05 10:00,Open,€500\n")
    preview = import_service.preview(workspace, "stage_history", path)
    ignored = [problem for problem in preview.problems if problem.code == "currency_mark_ignored"]
    assert len(ignored) == 1
    assert "no currency field" in ignored[0].message


def test_own_export_imports_back_unchanged(workspace, tmp_path, write_file, import_file):
    from spm_desktop.services import data_service

    people = write_file("people.csv", "participant_id,name,payroll_id\nP1,=HYPERLINK(\"x\"),PX-1\nP2,-Team,PX-2\n"
                                      "P3,Ann,PX-3\n")
    import_file("participants", people)
    exported = tmp_path / "exported.csv"
    data_service.export_records(workspace, "participants", exported)
    assert "'=HYPERLINK" in exported.read_text(encoding="utf-8-sig")
    result = import_file("participants", exported)
    assert (result.counts.added, result.counts.updated) == (0, 0)
    assert [problem.code for problem in result.problems if problem.code == "formula_quote_removed"] == [
        "formula_quote_removed"]
    with workspace.read() as connection:
        names = record_service.load_frame(connection, "participants").set_index("participant_id")["name"]
    assert names.to_dict() == {"P1": '=HYPERLINK("x")', "P2": "-Team", "P3": "Ann"}


_MARK_ALPHABET = "0123456789 .,-+()%'\u00a0\u2212$€£¥₹CAUSDEURkrGBP＄"


@given(st.lists(st.text(alphabet=_MARK_ALPHABET, max_size=12), max_size=40))
@settings(max_examples=300, deadline=None)
def test_mark_candidates_cover_marks(cells):
    candidates = set(parsing.currency_mark_candidates(cells))
    for cell in cells:
        if parsing.amount_currency(cell) is not None:
            assert cell in candidates


def test_plain_amounts_have_no_candidates():
    assert parsing.currency_mark_candidates(["1,234.50", "(20)", "-3\u00a0000,5", "12 %", "", None, 7.5]) == []


def test_mark_candidates_mixed_cells():
    assert parsing.currency_mark_candidates(["€5", None, 7.5, "3", ""]) == ["€5"]
    assert parsing.currency_mark_candidates(("USD 5", "", "4")) == ["USD 5"]


def test_mark_byte_scan_matches_pattern():
    passed = {code for code in range(128) if not parsing._MARK_CHARACTER.match(chr(code))}
    assert set(parsing._NO_MARK_BYTES) == passed
    assert parsing.currency_mark_candidates(["1 234.50", "(20)", "USD"]) == ["USD"]


def test_quote_message_counts_values():
    singular = parsing.parse_text(["'=A1", "B"]).issues[0].message
    plural = parsing.parse_text(["'=A1", "'+B", "C"]).issues[0].message
    assert "of 1 distinct value that starts with =" in singular
    assert "of 2 distinct values that start with =" in plural


def test_spaces_only_cell_message(workspace, write_file):
    path = write_file("deals.csv", "deal_id,owner,amount,stage\nD1,P1,5,Won\nD2,P1,6,\u00a0 \n")
    preview = import_service.preview(workspace, "deals", path)
    normalised = [problem for problem in preview.problems if problem.code == "text_normalised"]
    assert [(problem.row, problem.message) for problem in normalised] == [(3, "only spaces: read as empty")]
