"""Commit rules: all or nothing, updates by key, rejected rows, batches, audit, cancellation."""

from __future__ import annotations

import json

import openpyxl
import pytest
from sqlalchemy import select

from spm_desktop.domain.progress import Cancelled, CancelToken
from spm_desktop.importing.columns import same_throughout
from spm_desktop.importing.mapping import parse_mapping
from spm_desktop.services import audit_service, import_service, record_service
from spm_desktop.services.errors import ValidationError
from spm_desktop.store.tables.core import audit_log
from spm_desktop.store.tables.records import import_batches

PEOPLE = "participant_id,name,hire_date,termination_date\nP1,Ann,2020-01-01,\nP2,Bob,2020-01-01,2024-02-29\n"


def _count(workspace, record_set: str) -> int:
    with workspace.read() as connection:
        return record_service.count_records(connection, record_set)


def test_rejected_row_means_nothing_written(workspace, write_file):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,abc\n")
    preview = import_service.preview(workspace, "deals", path)
    with pytest.raises(ValidationError) as raised:
        import_service.commit(workspace, preview)
    assert "1 of 2 records rejected" in str(raised.value)
    assert [problem.code for problem in raised.value.problems][:1] == ["invalid_amount"]
    assert _count(workspace, "deals") == 0


def test_accept_valid_writes_valid_rows(workspace, write_file):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,abc\n")
    result = import_service.commit(workspace, import_service.preview(workspace, "deals", path), accept_valid=True)
    assert result.counts.added == 1
    assert result.counts.rejected == 1
    assert _count(workspace, "deals") == 1


def test_reimport_counts_added_updated_unchanged(workspace, write_file, import_file):
    import_file("deals", write_file("a.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,200\n"))
    result = import_file("deals", write_file("b.csv", "deal_id,owner,amount\nD1,P1,100\nD2,P1,250\nD3,P2,5\n"))
    assert (result.counts.added, result.counts.updated, result.counts.unchanged) == (1, 1, 1)
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame.set_index("deal_id")["amount"].to_dict() == {"D1": 1_000_000, "D2": 2_500_000, "D3": 50_000}
    assert frame.set_index("deal_id")["_batch_id"].to_dict()["D1"] == frame["_batch_id"].min()


def test_same_key_different_rows_name_both(workspace, write_file):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\nD1,P1,150\n")
    preview = import_service.preview(workspace, "deals", path)
    clashes = [problem for problem in preview.problems if problem.code == "duplicate_key"]
    assert [problem.row for problem in clashes] == [2, 3]
    assert "rows 2, 3" in clashes[0].message


def test_invoice_lines_need_line_ids(workspace, write_file, import_file):
    result = import_file("deals", write_file("lines.csv", "deal_id,line_id,owner,amount\nI1,1,P1,10\nI1,2,P1,10\n"))
    assert result.counts.added == 2


def test_batch_row_and_audit_entry(workspace, write_file, import_file):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\n")
    result = import_file("deals", path)
    with workspace.read() as connection:
        batch = connection.execute(select(import_batches)).one()
        entry = connection.execute(select(audit_log).where(audit_log.c.action == "records.import")).one()
    after = json.loads(entry.after)
    assert batch.file_sha256 == result.sha256
    assert batch.added == 1
    assert after["sha256"] == result.sha256
    assert after["counts"]["added"] == 1
    assert after["mapping"]["columns"]["deal_id"] == "deal_id"
    assert audit_service.verify(workspace).ok


def test_same_file_again_detected(workspace, write_file, import_file):
    path = write_file("deals.csv", "deal_id,owner,amount\nD1,P1,100\n")
    first = import_file("deals", path)
    preview = import_service.preview(workspace, "deals", path)
    assert preview.previous_batches == [first.batch_id]
    assert preview.problems[0].code == "already_imported"


@pytest.mark.parametrize("step", ["Writing", "Indexing"])
def test_cancel_rolls_back(workspace, write_file, step):
    # More than 100,000 new rows: the indexes are dropped, and rebuilt after the insert.
    rows = "".join(f"D{index},P1,{index}\n" for index in range(120_000))
    path = write_file("many.csv", "deal_id,owner,amount\n" + rows)
    preview = import_service.preview(workspace, "deals", path)
    token = CancelToken()

    def cancel_during_step(done: int, total: int, message: str) -> None:
        if message.startswith(step) and done:
            token.cancel()

    with pytest.raises(Cancelled):
        import_service.commit(workspace, preview, progress=cancel_during_step, cancel=token)
    assert _count(workspace, "deals") == 0
    with workspace.read() as connection:
        assert connection.execute(select(import_batches)).first() is None
        indexes = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records_deals'").scalars().all()
    assert "ix_records_deals_close_date" in indexes


def test_unknown_participant_rejected_with_suggestion(workspace, write_file, import_file):
    import_file("participants", write_file("people.csv", PEOPLE))
    preview = import_service.preview(workspace, "deals", write_file("d.csv", "deal_id,owner,amount\nD1,P3,1\n"))
    unknown = [problem for problem in preview.problems if problem.code == "unknown_participant"]
    assert unknown[0].severity == "error"
    assert "'P3'" in unknown[0].message


def test_deal_after_termination_warned(workspace, write_file, import_file):
    import_file("participants", write_file("people.csv", PEOPLE))
    preview = import_service.preview(workspace, "deals", write_file(
        "d.csv", "deal_id,owner,amount,close_date\nD1,P2,1,2024-03-15\n"))
    left = [problem for problem in preview.problems if problem.code == "participant_left"]
    assert "left on 2024-02-29" in left[0].message


def test_split_shares_must_total_one(workspace, write_file):
    csv = ("deal_id,participant_id,share,kind\nD1,P1,0.6,split\nD1,P2,0.3,split\nD1,M1,0.015,overlay\n"
           "D2,P1,1,split\nD2,P1,1,split\n")
    preview = import_service.preview(workspace, "credit_splits", write_file("splits.csv", csv))
    totals = [problem for problem in preview.problems if problem.code == "split_total"]
    copies = [problem for problem in preview.problems if problem.code == "duplicate_row"]
    assert [problem.row for problem in totals] == [2, 3]
    assert "deal 'D1' total 0.9" in totals[0].message
    assert [problem.row for problem in copies] == [6]


def test_split_rows_for_same_person_added(workspace, write_file, import_file):
    csv = "deal_id,participant_id,share,kind\nD1,P1,0.25,split\nD1,P1,0.35,split\nD1,P2,40%,split\n"
    result = import_file("credit_splits", write_file("splits.csv", csv))
    with workspace.read() as connection:
        splits = record_service.load_frame(connection, "credit_splits")
    assert result.counts.added == 2
    assert dict(zip(splits["participant_id"], map(str, splits["share"]), strict=True)) == {"P1": "0.6", "P2": "0.4"}


def test_negative_quota_rejected(workspace, write_file):
    csv = "participant_id,quota_key,period,amount\nP1,bookings,2024-Q1,-5\nP1,bookings,2024-Q2,5\n"
    preview = import_service.preview(workspace, "quotas", write_file("q.csv", csv))
    assert [problem.code for problem in preview.problems if problem.severity == "error"] == ["negative_quota"]


def test_quota_period_must_be_a_label(workspace, write_file):
    csv = "participant_id,quota_key,period,amount\nP1,bookings,Q1 2024,5\n"
    preview = import_service.preview(workspace, "quotas", write_file("q.csv", csv))
    assert [problem.code for problem in preview.problems] == ["invalid_period"]


def test_positive_refund_rejected(workspace, write_file):
    csv = "deal_id,type,owner,amount\nD1,Credit Note,P1,200\nD2,refund,P1,-5\n"
    preview = import_service.preview(workspace, "deals", write_file("d.csv", csv))
    errors = [problem for problem in preview.problems if problem.severity == "error"]
    assert [(problem.code, problem.row) for problem in errors] == [("reversal_positive", 2)]


def test_invalid_choice_lists_choices(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("d.csv", "deal_id,type,owner\nD1,swap,P1\n"))
    assert "sale, refund, credit_note, cancellation" in preview.problems[0].message


def test_missing_required_value(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("d.csv", "deal_id,owner\nD1,\n"))
    assert [(problem.code, problem.column) for problem in preview.problems] == [("missing_value", "owner")]


def test_unmapped_required_field_blocks_file(workspace, write_file):
    preview = import_service.preview(workspace, "deals", write_file("d.csv", "deal_id,amount\nD1,5\n"))
    assert preview.parsed.has_file_errors
    with pytest.raises(ValidationError, match="cannot be imported"):
        import_service.commit(workspace, preview)


def test_formula_without_value_reported(workspace, tmp_path):
    path = tmp_path / "formulas.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["deal_id", "owner", "amount"])
    sheet.append(["D1", "P1", "=2*50"])
    workbook.save(path)
    preview = import_service.preview(workspace, "deals", path)
    formula = [problem for problem in preview.problems if problem.code == "formula_without_value"]
    assert "C2" in formula[0].message
    assert formula[0].severity == "error"


def test_dates_outside_plans_warned(workspace, write_file):
    from spm_desktop.importing.engine import ImportFacts, read_import

    facts = ImportFacts(plan_ranges=[("2024-01-01", "2024-12-31")])
    parsed = read_import(write_file("d.csv", "deal_id,owner,close_date\nD1,P1,2023-12-31\nD2,P1,2024-01-01\n"),
                         "deals", facts=facts)
    assert [(problem.code, problem.row) for problem in parsed.problems] == [("outside_plans", 2)]


def test_ids_keep_leading_zeros_and_drop_float_tail(workspace, tmp_path, import_file):
    path = tmp_path / "ids.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["deal_id", "owner", "amount"])
    sheet.append([1234.0, "0042", 1])
    workbook.save(path)
    import_file("deals", path)
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame[["deal_id", "owner"]].iloc[0].tolist() == ["1234", "0042"]


def test_mapping_aliases_recorded_and_reused(workspace, write_file, import_file):
    mapping = "record_set: deals\ncolumns: {deal_id: id, owner: rep, product: item}\naliases:\n  product: {GTXPro: GTX Pro}\n"
    import_file("deals", write_file("a.csv", "id,rep,item\nD1,P1,GTXPro\n"), mapping)
    result = import_file("deals", write_file("b.csv", "id,rep,item\nD2,P1,GTXPro\n"),
                         "record_set: deals\ncolumns: {deal_id: id, owner: rep, product: item}\n")
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert set(frame["product"]) == {"GTX Pro"}
    assert [problem.code for problem in result.problems] == ["alias_applied"]


def test_saved_mapping_suggested_for_similar_file(workspace, write_file, import_file):
    mapping = "record_set: deals\ncolumns: {deal_id: Ref, owner: Seller, amount: Net}\n"
    import_file("deals", write_file("march.csv", "Ref,Seller,Net\nD1,P1,5\n"), mapping)
    preview = import_service.preview(workspace, "deals", write_file("april.csv", "Ref,Seller,Net,Note\nD2,P1,6,x\n"))
    assert preview.mapping_source.startswith("saved")
    assert preview.mapping.columns == {"deal_id": "Ref", "owner": "Seller", "amount": "Net"}


def test_saved_mapping_for_positional_file(workspace, write_file, import_file):
    mapping = parse_mapping("record_set: deals\nheader_row: none\ncolumns: {deal_id: 1, owner: 2}\n")
    import_service.save_mapping(workspace, mapping, ["1", "2"], "export.tsv")
    assert [saved.name for saved in import_service.list_saved_mappings(workspace, "deals")] == ["deals: export.tsv"]


def test_identical_activities_add_counts(workspace, write_file, import_file):
    csv = "participant_id,date,type\nP1,2024-03-01,call\nP1,2024-03-01,call\nP1,2024-03-01,call\nP1,2024-03-02,call\n"
    result = import_file("activities", write_file("calls.csv", csv))
    with workspace.read() as connection:
        activities = record_service.load_frame(connection, "activities")
    assert result.counts.added == 2
    assert activities["count"].iloc[0] == 3
    assert activities["count"].isna().tolist() == [False, True]


def _stored_deals(workspace, columns: str) -> list:
    with workspace.read() as connection:
        return connection.exec_driver_sql(f"SELECT {columns} FROM records_deals ORDER BY deal_id").fetchall()


def _import_deals(workspace, write_file, header: str, lines: list[str], first: int):
    """Import the deal lines, after importing the first ``first`` of them on their own when first > 0."""
    if first:
        import_service.commit(workspace, import_service.preview(
            workspace, "deals", write_file("first.csv", header + "\n".join(lines[:first]) + "\n")))
    path = write_file("deals.csv", header + "\n".join(lines) + "\n")
    return import_service.commit(workspace, import_service.preview(workspace, "deals", path))


@pytest.mark.parametrize("reimport", [False, True])
def test_every_written_value_reads_back(workspace, write_file, reimport):
    # 200 rows fill several multi-row statements and leave a remainder. The re-import
    # adds rows through the path that compares with stored records.
    lines = [f"D{number:04d},P{number % 7},{number}.{number % 100:02d},2024-0{number % 9 + 1}-1{number % 10},"
             f"{'' if number % 5 else 'note ' + str(number)}" for number in range(200)]
    header = "deal_id,owner,amount,close_date,memo\n"
    result = _import_deals(workspace, write_file, header, lines, 50 if reimport else 0)
    assert result.counts.added == (150 if reimport else 200)
    assert result.counts.unchanged == (50 if reimport else 0)
    rows = _stored_deals(workspace, "deal_id, owner, amount_e4, close_date, attributes, source_row, record_key, batch_id")
    assert len(rows) == 200
    for number, row in enumerate(rows):
        memo = None if number % 5 else json.dumps({"memo": f"note {number}"}, separators=(",", ":"))
        expected_batch = 1 if reimport and number < 50 else result.batch_id
        assert row == (f"D{number:04d}", f"P{number % 7}", number * 10_000 + (number % 100) * 100,
                       f"2024-0{number % 9 + 1}-1{number % 10}", memo, number + 2,
                       f'["D{number:04d}", null, "sale"]', expected_batch)


def test_oversized_integer_row_problem(workspace, write_file):
    path = write_file("calls.csv", "participant_id,date,type,count\nP1,2026-01-05,call,99999999999999999999\n"
                      "P1,2026-01-06,call,2\n")
    preview = import_service.preview(workspace, "activities", path)
    problems = [(problem.code, problem.row, problem.column) for problem in preview.problems
                if problem.severity == "error"]
    assert problems == [("integer_too_large", 2, "count")]
    result = import_service.commit(workspace, preview, accept_valid=True)
    assert result.counts.added == 1
    assert result.counts.rejected == 1


@pytest.mark.parametrize(("record_set", "content", "field", "expected"), [
    ("deals", "deal_id,owner,amount,type\nD1,P1,100,\nD2,P1,-5,refund\n", "type", ["sale", "refund"]),
    ("deals", "deal_id,owner,amount\nD1,P1,100\n", "type", ["sale"]),
    ("credit_splits", "deal_id,participant_id,share,kind\nD1,P1,1,\nD1,M1,0.1,overlay\n", "kind",
     ["split", "overlay"]),
    ("fx_rates", ("date,from_currency,to_currency,rate,rate_type\n2024-01-31,EUR,USD,1.1,\n"
     "2024-01-31,GBP,USD,1.3,end_of_day\n"), "rate_type", ["average", "end_of_day"]),
])
def test_implied_defaults_fill_empty_cells(workspace, write_file, import_file, record_set, content, field, expected):
    import_file(record_set, write_file("file.csv", content), accept_valid=True)
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, record_set)
    assert frame[field].tolist() == expected


@pytest.mark.parametrize(("column", "expected"), [
    ([], False), ([None, None], False), ([None, "x"], True), (["x", None], True), ([None, 0], True), ([None, ""], True),
])
def test_has_value_cases(column, expected):
    assert import_service._has_value(column) is expected


@pytest.mark.parametrize("reimport", [False, True])
@pytest.mark.parametrize("shared", ["O'Brien", "x'); DROP TABLE records_deals; --", "Zoë 😀", "a" * 201, "0042"])
def test_shared_column_values_read_back(workspace, write_file, reimport, shared):
    # Every row has the same stage, amount and product, so they go into the statement as literals
    # (the 201-character text is too long for that and is bound).
    quoted = '"' + shared.replace('"', '""') + '"'
    lines = [f"D{number:04d},P1,5,{quoted},{quoted},{number}" for number in range(130)]
    header = "deal_id,owner,amount,stage,product,quantity\n"
    result = _import_deals(workspace, write_file, header, lines, 10 if reimport else 0)
    assert result.counts.added == (120 if reimport else 130)
    rows = _stored_deals(workspace, "deal_id, amount_e4, stage, product, quantity, typeof(amount_e4), type")
    assert len(rows) == 130
    for number, row in enumerate(rows):
        assert row == (f"D{number:04d}", 50_000, shared, shared, str(number), "integer", "sale")


@pytest.mark.parametrize(("value", "literal"), [
    (None, "NULL"), (7, "7"), (-(2**63), str(-(2**63))), ("O'K", "'O''K'"), ("Zoë", "'Zoë'"),
    (2**63, None), (True, None), (1.5, None), ("a\x00b", None), ("tab\there", None), ("a" * 201, None),
])
def test_sql_literal_cases(value, literal):
    assert import_service._sql_literal(value) == literal


@pytest.mark.parametrize(("column", "expected"), [
    (["a"], True), (["a", "a", "a"], True), ([1, 1], True), (["a", "b", "a"], False), (["a", "a", "b"], False),
    (["a", "a", "a", "b", "a"], False),
])
def test_same_throughout_cases(column, expected):
    assert same_throughout(column) is expected


def test_spelling_in_one_value_column():
    from spm_desktop.importing import validate

    findings = validate.spelling_findings(["Prospectng"] * 3, "stage")
    assert [finding.record for finding in findings] == [0, 1, 2]
    assert "'prospecting'" in findings[0].message
    assert validate.spelling_findings([None] * 3, "stage") == []
    assert validate.spelling_findings(["Won", "Won", "Lost"], "stage") == []
