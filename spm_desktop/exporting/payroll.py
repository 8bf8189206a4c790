"""Payroll files (CSV and XLSX): one row per participant and plan period with the approved payout.

Every text cell is neutralised against formula injection; amounts are typed numbers in
XLSX and plain decimals (the currency's minor unit, no thousands separators) in CSV.
The XLSX document properties are fixed, so the same payouts give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from spm_desktop.domain.money import format_plain
from spm_desktop.exporting import safe

PAYROLL_HEADER = ("payroll_id", "participant_id", "participant_name", "period", "currency", "amount")
PAYROLL_FORMATS = (".csv", ".xlsx")


@dataclass(frozen=True)
class PayrollRow:
    payroll_id: str
    participant_id: str
    participant_name: str
    period: str
    currency: str
    amount: Decimal


def _cells(row: PayrollRow) -> tuple[object, ...]:
    return (row.payroll_id, row.participant_id, row.participant_name, row.period, row.currency, row.amount)


def write_payroll_csv(path: Path, rows: Sequence[PayrollRow]) -> None:
    cells = [(*_cells(row)[:5], format_plain(row.amount, row.currency)) for row in rows]
    safe.write_csv(path, PAYROLL_HEADER, cells)


def render_payroll_xlsx(rows: Sequence[PayrollRow], created: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    workbook.set_properties({"title": "Payroll export", "author": "SPM Desktop", "created": created})
    formats = safe.standard_formats(workbook)
    # Decimal cells are the amounts; show them as money.
    formats["decimal"] = formats["money"]
    sheet = workbook.add_worksheet("Payroll")
    safe.write_xlsx_table(sheet, PAYROLL_HEADER, [_cells(row) for row in rows], formats)
    sheet.set_column(2, 2, 30)
    sheet.set_column(5, 5, 14)
    workbook.close()
    return buffer.getvalue()


def write_payroll(path: Path, rows: Sequence[PayrollRow], created: dt.datetime) -> bytes:
    """Write a payroll file chosen by suffix (.csv or .xlsx) and return its bytes."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_payroll_csv(path, rows)
    elif suffix == ".xlsx":
        path.write_bytes(render_payroll_xlsx(rows, created))
    else:
        raise ValueError(f"payroll files are .csv or .xlsx, not {path.name}")
    return path.read_bytes()
