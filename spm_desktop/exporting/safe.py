"""Neutralise spreadsheet formula injection in every exported text cell.

Excel and LibreOffice run a text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula when the file is opened. Such text therefore gets a leading
single quote (') and stays text. Numbers and dates are written as typed values
and are never changed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Return text that no spreadsheet program evaluates as a formula."""
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def neutralise_text(text: str) -> str:
    """Neutralise a text cell of a CSV unless it is a plain number such as -1561.00.

    CSV has no cell types, so a negative amount and a formula both start with "-": only
    text that does not read as a number gets the quote.
    """
    if not text.startswith(FORMULA_PREFIXES):
        return text
    try:
        number = Decimal(text)
    except ArithmeticError:
        return "'" + text
    return text if number.is_finite() and text.strip() == text else "'" + text


def safe_cell(value: object) -> object:
    """Neutralise text; keep numbers, Decimals, dates and None as they are."""
    if isinstance(value, str):
        return neutralise(value)
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a UTF-8 CSV (with BOM, so Excel reads accents) with every text cell neutralised."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([neutralise(name) for name in header])
        for row in rows:
            writer.writerow([_csv_text(value) for value in row])


def _csv_text(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return safe_cell(value)


def write_xlsx_table(worksheet, header: Sequence[str], rows: Iterable[Sequence[object]], formats: dict) -> int:
    """Write a header and rows into an xlsxwriter worksheet as typed, neutralised cells.

    ``formats`` maps "header", "money", "decimal", "date" and "datetime" to xlsxwriter
    formats. Text is written with ``write_string`` so no cell can become a formula.
    Returns the number of data rows written.
    """
    for column, name in enumerate(header):
        worksheet.write_string(0, column, neutralise(str(name)), formats.get("header"))
    count = 0
    for count, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            _write_value(worksheet, count, column, value, formats)
    widths = [max(10, min(60, len(str(name)) + 2)) for name in header]
    for column, width in enumerate(widths):
        worksheet.set_column(column, column, width)
    worksheet.freeze_panes(1, 0)
    if header:
        worksheet.autofilter(0, 0, max(count, 1), len(header) - 1)
    return count


def _write_value(worksheet, row: int, column: int, value: object, formats: dict) -> None:
    if value is None:
        worksheet.write_blank(row, column, None)
    elif isinstance(value, bool):
        worksheet.write_boolean(row, column, value)
    elif isinstance(value, Decimal):
        # NOTE: xlsx number cells hold IEEE doubles, so more than 15 significant digits are lost here.
        worksheet.write_number(row, column, float(value), formats.get("decimal"))
    elif isinstance(value, (int, float)):
        worksheet.write_number(row, column, value, formats.get("decimal"))
    elif isinstance(value, dt.datetime):
        worksheet.write_datetime(row, column, value.replace(tzinfo=None), formats.get("datetime"))
    elif isinstance(value, dt.date):
        # Spreadsheet dates carry no time zone, so the cell gets a naive midnight.
        midnight = dt.datetime(value.year, value.month, value.day)  # noqa: DTZ001
        worksheet.write_datetime(row, column, midnight, formats.get("date"))
    else:
        worksheet.write_string(row, column, neutralise(str(value)))


def standard_formats(workbook) -> dict:
    """Return the shared header, money, decimal, date and datetime formats of a workbook."""
    return {
        "header": workbook.add_format({"bold": True, "bg_color": "#DDE4EE", "border": 1}),
        "money": workbook.add_format({"num_format": "#,##0.00"}),
        "decimal": workbook.add_format({"num_format": "General"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
