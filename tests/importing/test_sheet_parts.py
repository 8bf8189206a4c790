"""Large .xlsx sheets read in parts must give the rows of the whole sheet, and clean up after themselves."""

from __future__ import annotations

import datetime as dt
import re
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from spm_desktop.importing import xlsx_parts
from spm_desktop.importing.sources import ImportFileError, Source
from spm_desktop.importing.xlsx_parts import SheetParts


def _normal(row: list[object]) -> list[object]:
    """Return a row with None as "" and without trailing empty cells, the forms both readers may give."""
    cells = ["" if value is None else value for value in row]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _rows(path: Path, sheet: str | None = None) -> list[list[object]]:
    source = Source(path, sheet)
    try:
        rows = [_normal(row) for row in source.rows()]
    finally:
        source.close()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _read_both(path: Path, monkeypatch: pytest.MonkeyPatch, sheet: str | None = None) -> tuple[list, list, Source]:
    whole = _rows(path, sheet)
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    source = Source(path, sheet)
    assert source._parts is not None
    # One row per part, so that every blank row falls between two parts.
    source._parts.part_bytes = 1
    parted = [_normal(row) for row in source.rows()]
    source.close()
    while parted and not parted[-1]:
        parted.pop()
    return whole, parted, source


@pytest.fixture
def report_workbook(tmp_path: Path) -> Path:
    """Return a report-like .xlsx: a merged title, blank rows, a gap column, dates, shared strings, formulas."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Deals"
    sheet["B1"] = "Bookings report"
    sheet.merge_cells("B1:F1")
    sheet.append([])
    sheet.append([None, "deal_id", "owner", "amount", "close_date", "note"])
    for index in range(1, 400):
        if index % 37 == 0:
            sheet.append([])  # a blank row inside the data
            continue
        note = None if index % 5 else f"check {index % 7}"
        sheet.append([None, f"D{index:05d}", f"rep{index % 13:02d}", index * 10.25,
                      dt.date(2024, 1, 1) + dt.timedelta(days=index % 90), note])
    sheet.append([None, "Total", None, "=SUM(D4:D402)"])
    book.create_sheet("Other").append(["other", "sheet"])
    path = tmp_path / "report.xlsx"
    book.save(path)
    return path


def test_parts_match_whole_sheet(report_workbook, monkeypatch):
    whole, parted, _source = _read_both(report_workbook, monkeypatch)
    assert len(parted) == len(whole)
    assert parted == whole


def test_parts_keep_row_positions(report_workbook, monkeypatch):
    _whole, parted, _source = _read_both(report_workbook, monkeypatch)
    assert parted[0][1] == "Bookings report"
    assert parted[2][1:3] == ["deal_id", "owner"]
    assert parted[39] == []  # the blank row after 36 deals, at row 40


def test_parts_dates_and_numbers(report_workbook, monkeypatch):
    _whole, parted, _source = _read_both(report_workbook, monkeypatch)
    row = parted[3]
    assert row[1] == "D00001"
    assert row[3] == 10.25
    assert row[4] in (dt.date(2024, 1, 2), dt.datetime(2024, 1, 2))


def test_parts_second_sheet(report_workbook):
    assert _rows(report_workbook, "Other") == [["other", "sheet"]]


def test_parts_inline_strings_and_1904(tmp_path, monkeypatch):
    path = tmp_path / "inline.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "date_1904": True})
    sheet = book.add_worksheet("Data")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["deal_id", "amount", "close_date"])
    for index in range(1, 300):
        sheet.write_string(index, 0, f"{index:06d}")  # leading zeros stay text
        sheet.write_number(index, 1, index / 4)
        sheet.write_datetime(index, 2, dt.datetime(2023, 12, 31) + dt.timedelta(days=index), date_format)
    book.close()
    whole, parted, source = _read_both(path, monkeypatch)
    assert parted == whole
    assert parted[1][0] == "000001"
    assert source.info.date1904


def test_small_sheet_read_whole(report_workbook):
    source = Source(report_workbook)
    assert source._parts is None
    source.close()


def test_sample_reads_first_part_only(report_workbook, monkeypatch):
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    monkeypatch.setattr(xlsx_parts, "SAMPLE_PART_BYTES", 2_000)
    source = Source(report_workbook)
    loaded = []
    original = SheetParts._load

    def counted(self, name):
        loaded.append(name)
        return original(self, name)

    monkeypatch.setattr(SheetParts, "_load", counted)
    sample = source.sample(5)
    source.close()
    assert len(sample) == 5
    # The first part, and at most the parts loaded ahead of it, were loaded.
    assert len(loaded) <= 1 + xlsx_parts._PARTS_AHEAD + xlsx_parts._LOADERS


def test_early_close_cleans_up(report_workbook, monkeypatch, tmp_path):
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    monkeypatch.setattr(xlsx_parts.tempfile, "tempdir", str(tmp_path / "parts"))
    (tmp_path / "parts").mkdir()
    source = Source(report_workbook)
    source._parts.part_bytes = 2_000
    rows = source.rows()
    for _ in range(50):
        next(rows)
    rows.close()
    source.close()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith(("split report", "load report"))]
    assert list((tmp_path / "parts").iterdir()) == []


def test_broken_part_raises_import_error(report_workbook, monkeypatch, tmp_path):
    """A sheet whose XML breaks in the middle fails with the file named, not with a thread's traceback."""
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(report_workbook) as original, zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                cell = data.index(b'<c r="D300"')
                end = data.index(b"</v>", cell)
                data = data[:end] + b"</v" + data[end + 4:]  # an end tag that never closes
            copy.writestr(item, data)
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    source = Source(broken)
    source._parts.part_bytes = 2_000
    with pytest.raises(ImportFileError, match=r"broken\.xlsx"):
        for _row in source.rows():
            pass
    source.close()


def test_unnumbered_rows_read_whole(report_workbook, monkeypatch, tmp_path):
    """Rows without an r attribute are placed by their order, so such a sheet is read whole."""
    unnumbered = tmp_path / "unnumbered.xlsx"
    with zipfile.ZipFile(report_workbook) as original, zipfile.ZipFile(unnumbered, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'(<(?:row|c)\b[^>]*?) r="[A-Z]*\d+"', rb"\1", data)
            copy.writestr(item, data)
    expected = _rows(unnumbered)
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    source = Source(unnumbered)
    assert source._parts is None
    source.close()
    assert _rows(unnumbered) == expected
    assert expected[0] == ["Bookings report"]


@pytest.mark.parametrize("markup", [b"<!-- </row> -->", b"<?note </row>?>"])
def test_markup_continues_whole(report_workbook, monkeypatch, tmp_path, markup):
    """A comment or instruction could hide a row end, so the sheet is read whole from there on."""
    marked = tmp_path / "marked.xlsx"
    with zipfile.ZipFile(report_workbook) as original, zipfile.ZipFile(marked, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                row = data.index(b'<row r="300"')
                data = data[:row] + markup + data[row:]
            copy.writestr(item, data)
    whole, parted, _source = _read_both(marked, monkeypatch)
    assert parted == whole
    assert len(parted) == 403


def _parted_source(path: Path, monkeypatch: pytest.MonkeyPatch, part_bytes: int = 2_000) -> Source:
    monkeypatch.setattr(xlsx_parts, "PART_BYTES", 2_000)
    monkeypatch.setattr(xlsx_parts, "MIN_PARTS", 1)
    source = Source(path)
    assert source._parts is not None
    source._parts.part_bytes = part_bytes
    return source


def _reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(("split ", "load "))]


def test_close_stops_a_referenced_reader(report_workbook, monkeypatch, tmp_path):
    """A cancel can keep the row generator alive in a traceback; closing the source still stops its threads."""
    monkeypatch.setattr(xlsx_parts.tempfile, "tempdir", str(tmp_path / "parts"))
    (tmp_path / "parts").mkdir()
    source = _parted_source(report_workbook, monkeypatch)
    rows = source.rows()
    next(rows)
    source.close()
    assert _reader_threads() == []
    assert list((tmp_path / "parts").iterdir()) == []
    assert rows is not None  # still referenced, never closed


def test_stop_deletes_files_of_pending_loads(report_workbook, monkeypatch, tmp_path):
    monkeypatch.setattr(xlsx_parts.tempfile, "tempdir", str(tmp_path / "parts"))
    (tmp_path / "parts").mkdir()
    release = threading.Event()
    original = SheetParts._load
    calls = []

    def slow(self, name):
        calls.append(name)
        if len(calls) > 1:
            release.wait(10)  # later loads wait, so that parts queue up behind them
        return original(self, name)

    monkeypatch.setattr(SheetParts, "_load", slow)
    source = _parted_source(report_workbook, monkeypatch, part_bytes=1)
    rows = source.rows()
    next(rows)
    threading.Timer(0.5, release.set).start()
    rows.close()
    source.close()
    assert _reader_threads() == []
    assert list((tmp_path / "parts").iterdir()) == []


def test_unwritable_temp_folder_reads_whole(report_workbook, monkeypatch, tmp_path):
    whole = _rows(report_workbook)
    monkeypatch.setattr(xlsx_parts.tempfile, "tempdir", str(tmp_path / "missing"))
    source = _parted_source(report_workbook, monkeypatch)
    parted = [_normal(row) for row in source.rows()]
    source.close()
    while parted and not parted[-1]:
        parted.pop()
    assert parted == whole


def _rewritten(path: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            copy.writestr(item, data)
    return target


def test_only_first_row_numbered_reads_whole(report_workbook, monkeypatch, tmp_path):
    """Rows after the first may leave out their number; parts then hand over to the whole-sheet reader."""

    def unnumber_later_rows(data: bytes) -> bytes:
        first_end = data.index(b"</row>") + len(b"</row>")
        return data[:first_end] + re.sub(rb'(<(?:row|c)\b[^>]*?) r="[A-Z]*\d+"', rb"\1", data[first_end:])

    path = _rewritten(report_workbook, tmp_path / "first.xlsx", unnumber_later_rows)
    expected = _rows(path)
    source = _parted_source(path, monkeypatch, part_bytes=1)
    parted = [_normal(row) for row in source.rows()]
    source.close()
    while parted and not parted[-1]:
        parted.pop()
    assert parted == expected
    assert len(expected) > 300


def test_repeated_row_names_row(report_workbook, monkeypatch, tmp_path):
    def repeat_row_ten(data: bytes) -> bytes:
        start = data.index(b'<row r="10"')
        end = data.index(b"</row>", start) + len(b"</row>")
        return data[:end] + data[start:end] + data[end:]

    path = _rewritten(report_workbook, tmp_path / "twice.xlsx", repeat_row_ten)
    source = _parted_source(path, monkeypatch, part_bytes=1)
    with pytest.raises(ImportFileError, match="row 10 is stored twice"):
        for _row in source.rows():
            pass
    source.close()
