"""A saved mapping's date order and decimal mark, used for another file, never decide silently."""

from __future__ import annotations

from spm_desktop.importing.mapping import parse_mapping
from spm_desktop.services import import_service, record_service

EU = 'deal_id,owner,amount,close_date\nD1,P1,"1.500,25",25/01/2017\nD2,P1,"2.000,00",11/05/2017\n'
MAPPING = """\
record_set: deals
columns: {deal_id: deal_id, owner: owner, amount: amount, close_date: close_date}
options: {date_order: dmy, decimal_mark: ","}
"""


def _import_eu(workspace, write_file, import_file) -> None:
    result = import_file("deals", write_file("eu.csv", EU), MAPPING)
    assert result.counts.added == 2
    preview = import_service.preview(workspace, "deals", write_file("eu2.csv", EU))
    import_service.save_mapping(workspace, preview.parsed.mapping, preview.parsed.headers, "eu.csv")


def _codes(preview) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in preview.problems:
        found.setdefault(problem.code, []).append(problem.column)
    return found


def test_ambiguous_file_uses_saved_settings(workspace, write_file, import_file):
    _import_eu(workspace, write_file, import_file)
    us = write_file("us.csv", 'deal_id,owner,amount,close_date\nD3,P1,"1,500",11/05/2017\nD4,P1,20,12/01/2017\n')
    preview = import_service.preview(workspace, "deals", us)
    assert preview.mapping_source.startswith("saved:")
    warned = _codes(preview)["option_from_saved_mapping"]
    assert sorted(warned) == ["amount", "close_date"]
    message = next(p.message for p in preview.problems if p.code == "option_from_saved_mapping")
    assert "check them" in message


def test_own_order_overrules_saved_mapping(workspace, write_file, import_file):
    _import_eu(workspace, write_file, import_file)
    us = write_file("us2.csv", "deal_id,owner,amount,close_date\nD5,P1,1500.25,12/25/2017\nD6,P1,7.5,11/05/2017\n")
    result = import_file("deals", us)
    assert result.counts.added == 2
    overruled = [p for p in result.problems if p.code == "saved_option_overruled"]
    assert sorted(p.column for p in overruled) == ["amount", "close_date"]
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals").set_index("deal_id")
    assert str(frame.loc["D6", "close_date"])[:10] == "2017-11-05"
    assert frame.loc["D5", "amount"] == 15_002_500


def test_options_only_mapping_suggests_columns(workspace, write_file, import_file):
    path = write_file("eu3.csv", "deal_id,owner,amount,close_date\nD7,P1,10,11/05/2017\n")
    preview = import_service.preview(workspace, "deals", path)
    assert "date_order_ambiguous" in [problem.code for problem in preview.problems]
    # The fix the message names: set options.date_order, nothing else.
    result = import_file("deals", path, "record_set: deals\noptions: {date_order: dmy}\n")
    assert result.counts.added == 1
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals").set_index("deal_id")
    assert str(frame.loc["D7", "close_date"])[:10] == "2017-05-11"
    again = import_service.preview(workspace, "deals", path, parse_mapping("record_set: deals\noptions: {date_order: dmy}\n"))
    assert again.mapping_text("the file given") == "the file given, with columns matched from the headers"
