"""Payout statements as XLSX workbooks (xlsxwriter): Summary, Detail and Audit sheets.

Figures are typed cells with number and date formats, never formulas, so every reader
sees the same values. Every text cell goes through ``safe.neutralise``, so a name such
as ``=HYPERLINK(...)`` stays text. The workbook's document properties are fixed
(created = approval time, or calculation time for a draft), and xlsxwriter writes its
zip entries with a fixed timestamp, so the same statement gives the same bytes.

NOTE: xlsx stores numbers as IEEE doubles. Money with at most four decimals displays
exactly, and the statement's content hash on the Audit sheet covers the exact values.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from spm_desktop.domain import statements as st
from spm_desktop.domain.money import minor_exponent
from spm_desktop.domain.statements import StatementData
from spm_desktop.exporting.safe import neutralise

SUMMARY_HEADER = ("Component", "Metric", "Metric version", "Credit", "Quota", "Attainment", "Band", "Rate", "Earnings")
DETAIL_HEADER = ("Component", "Date", "Deal ID", "Line ID", "Type", "Customer", "Product", "Share", "Credit kind",
                 "Credited", "Band(s)", "Rate(s)", "FX rate", "Earnings", "Held", "Reference deal", "Via participant")
SUMMARY_WIDTHS = (30, 22, 9, 14, 14, 11, 8, 14, 14)
DETAIL_WIDTHS = (26, 11, 14, 8, 10, 24, 16, 8, 10, 14, 9, 14, 10, 13, 12, 14, 14)
# Rows of the Summary sheet above the component table (title and key facts).
SUMMARY_TABLE_ROW = 7


class _Writer:
    """Typed, neutralised cell writing with the workbook's formats."""

    def __init__(self, workbook: xlsxwriter.Workbook, currency: str) -> None:
        exponent = minor_exponent(currency)
        money = "#,##0" + ("." + "0" * exponent if exponent else "")
        self.formats = {
            "title": workbook.add_format({"bold": True, "font_size": 14}),
            "label": workbook.add_format({"font_color": "#5B6675"}),
            "bold": workbook.add_format({"bold": True}),
            "header": workbook.add_format({"bold": True, "bg_color": "#E4EAF2", "border": 1}),
            "money": workbook.add_format({"num_format": money}),
            "money_bold": workbook.add_format({"num_format": money, "bold": True, "top": 1}),
            "count": workbook.add_format({"num_format": "#,##0.##"}),
            "percent": workbook.add_format({"num_format": "0.00%"}),
            "share": workbook.add_format({"num_format": "0.##%"}),
            "fx": workbook.add_format({"num_format": "0.0000######"}),
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "integer": workbook.add_format({"num_format": "0"}),
            "draft": workbook.add_format({"bold": True, "font_color": "#B03030"}),
        }

    def text(self, sheet, row: int, column: int, value: object, style: str | None = None) -> None:
        if value is None or value == "":
            sheet.write_blank(row, column, None, self.formats.get(style) if style else None)
            return
        sheet.write_string(row, column, neutralise(str(value)), self.formats.get(style) if style else None)

    def number(self, sheet, row: int, column: int, value: Decimal | int | None, style: str) -> None:
        if value is None:
            sheet.write_blank(row, column, None, self.formats[style])
            return
        sheet.write_number(row, column, float(value), self.formats[style])

    def date(self, sheet, row: int, column: int, value: dt.date | dt.datetime | None) -> None:
        if value is None:
            sheet.write_blank(row, column, None, self.formats["date"])
            return
        if isinstance(value, dt.datetime):
            plain = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
            sheet.write_datetime(row, column, plain, self.formats["datetime"])
            return
        sheet.write_datetime(row, column, dt.datetime.combine(value, dt.time()), self.formats["date"])

    def header(self, sheet, row: int, names: tuple[str, ...]) -> None:
        for column, name in enumerate(names):
            sheet.write_string(row, column, name, self.formats["header"])


def _created(data: StatementData) -> dt.datetime:
    stamp = data.approval.approved_at if data.approval else data.calculated_at
    if stamp is None:
        return dt.datetime.combine(dt.date(2000, 1, 1), dt.time())
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _summary_sheet(workbook: xlsxwriter.Workbook, cells: _Writer, data: StatementData) -> None:
    sheet = workbook.add_worksheet("Summary")
    title = f"{data.company_name} payout statement" if data.company_name else "Payout statement"
    cells.text(sheet, 0, 0, title, "title")
    if data.is_draft:
        cells.text(sheet, 0, 3, "DRAFT: not approved; figures may change", "draft")
    facts = (
        ("Participant", data.participant_name, "Plan", f"{data.plan} v{data.plan_version}"),
        ("Participant ID", data.participant_id, "Period", data.period),
        ("Role", data.role, "Period start", data.period_start),
        ("Manager", data.manager_name or data.manager_id, "Period end", data.period_end),
        ("Payroll ID", data.payroll_id, "Currency", data.currency),
    )
    for offset, (label_a, value_a, label_b, value_b) in enumerate(facts, start=1):
        cells.text(sheet, offset, 0, label_a, "label")
        cells.text(sheet, offset, 1, value_a)
        cells.text(sheet, offset, 3, label_b, "label")
        if isinstance(value_b, dt.date):
            cells.date(sheet, offset, 4, value_b)
        else:
            cells.text(sheet, offset, 4, value_b)
    cells.text(sheet, 1, 6, "Payout", "bold")
    cells.number(sheet, 1, 7, data.payout, "money_bold")

    row = SUMMARY_TABLE_ROW
    cells.header(sheet, row, SUMMARY_HEADER)
    for summary in data.components:
        row += 1
        metric_style = "money" if summary.metric_unit == "currency" else "count"
        cells.text(sheet, row, 0, summary.name)
        cells.text(sheet, row, 1, summary.metric_key)
        cells.number(sheet, row, 2, summary.metric_version, "integer")
        cells.number(sheet, row, 3, summary.metric_value, metric_style)
        cells.number(sheet, row, 4, summary.quota, metric_style)
        cells.number(sheet, row, 5, summary.attainment, "percent")
        cells.text(sheet, row, 6, summary.bands)
        cells.text(sheet, row, 7, summary.rates)
        cells.number(sheet, row, 8, summary.earnings, "money")
    sheet.autofilter(SUMMARY_TABLE_ROW, 0, max(row, SUMMARY_TABLE_ROW + 1), len(SUMMARY_HEADER) - 1)
    for name, amount, shown in (("Draw", data.draw_payment, data.draw is not None or bool(data.draw_payment)),
                                ("Adjustments", data.adjustments_total, bool(data.adjustments))):
        if shown:
            row += 1
            cells.text(sheet, row, 0, name)
            cells.number(sheet, row, 8, amount, "money")
    row += 1
    cells.text(sheet, row, 0, "Payout", "bold")
    cells.number(sheet, row, 8, data.payout, "money_bold")
    row = _summary_extras(sheet, cells, data, row + 2)

    for column, width in enumerate(SUMMARY_WIDTHS):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(SUMMARY_TABLE_ROW + 1, 1)


def _summary_extras(sheet, cells: _Writer, data: StatementData, row: int) -> int:
    """Write the draw history, adjustments, clawbacks and held amounts below the component table."""
    if data.draw is not None:
        draw = data.draw
        kind = "recoverable" if draw.recoverable else "non-recoverable"
        cells.text(sheet, row, 0, f"Draw: {st.format_amount(draw.amount, data.currency)} per period, {kind}", "bold")
        row += 1
        cells.header(sheet, row, ("Period", "Earnings", "Draw paid (+) / recovered (-)", "Balance owed after"))
        for entry in draw.history:
            row += 1
            cells.text(sheet, row, 0, entry.period)
            cells.number(sheet, row, 1, entry.earnings, "money")
            cells.number(sheet, row, 2, entry.draw, "money")
            cells.number(sheet, row, 3, entry.balance, "money")
        row += 1
        cells.text(sheet, row, 0, "Balance owed before this period")
        cells.number(sheet, row, 3, draw.opening_balance, "money")
        row += 1
        cells.text(sheet, row, 0, "Balance owed after this period", "bold")
        cells.number(sheet, row, 3, draw.closing_balance, "money_bold")
        row += 2
    if data.adjustments:
        cells.text(sheet, row, 0, "Adjustments", "bold")
        row += 1
        cells.header(sheet, row, ("Kind", "Reason", "From period", "Note", "Amount"))
        for entry in data.adjustments:
            row += 1
            cells.text(sheet, row, 0, {"manual": "Manual", "prior_period": "Prior period"}.get(entry.kind, entry.kind))
            cells.text(sheet, row, 1, entry.reason_code)
            cells.text(sheet, row, 2, entry.source_period)
            cells.text(sheet, row, 3, entry.note)
            cells.number(sheet, row, 4, entry.amount, "money")
        row += 2
    if data.clawbacks:
        cells.text(sheet, row, 0, "Clawbacks", "bold")
        row += 1
        cells.header(sheet, row, ("Component", "Date", "Reversal", "Original deal", "Credited", "Clawback"))
        for line in data.clawbacks:
            row += 1
            cells.text(sheet, row, 0, line.component)
            cells.date(sheet, row, 1, line.credit_date)
            cells.text(sheet, row, 2, line.deal_id)
            cells.text(sheet, row, 3, line.reference_deal_id)
            cells.number(sheet, row, 4, line.credited, "money")
            cells.number(sheet, row, 5, line.earnings, "money")
        row += 2
    if data.holds:
        cells.text(sheet, row, 0, "Held amounts", "bold")
        row += 1
        cells.header(sheet, row, ("Component", "Deal ID", "Held until", "Held amount"))
        for entry in data.holds:
            row += 1
            cells.text(sheet, row, 0, entry.component)
            cells.text(sheet, row, 1, entry.deal_id)
            cells.text(sheet, row, 2, entry.until)
            cells.number(sheet, row, 3, entry.amount, "money")
        row += 2
    for note in data.notes:
        cells.text(sheet, row, 0, note)
        row += 1
    return row


def _detail_sheet(workbook: xlsxwriter.Workbook, cells: _Writer, data: StatementData) -> None:
    sheet = workbook.add_worksheet("Detail")
    cells.header(sheet, 0, DETAIL_HEADER)
    row = 0
    for line in data.lines:
        row += 1
        cells.text(sheet, row, 0, line.component)
        cells.date(sheet, row, 1, line.credit_date)
        cells.text(sheet, row, 2, line.deal_id)
        cells.text(sheet, row, 3, line.line_id)
        cells.text(sheet, row, 4, line.kind)
        cells.text(sheet, row, 5, line.customer)
        cells.text(sheet, row, 6, line.product)
        cells.number(sheet, row, 7, line.share, "share")
        cells.text(sheet, row, 8, line.credit_kind)
        cells.number(sheet, row, 9, line.credited, "money")
        cells.text(sheet, row, 10, line.bands)
        cells.text(sheet, row, 11, line.rates)
        cells.number(sheet, row, 12, line.fx_rate, "fx")
        cells.number(sheet, row, 13, line.earnings, "money")
        cells.number(sheet, row, 14, line.held, "money")
        cells.text(sheet, row, 15, line.reference_deal_id)
        cells.text(sheet, row, 16, line.via_participant_id)
    for column, width in enumerate(DETAIL_WIDTHS):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(row, 1), len(DETAIL_HEADER) - 1)


def _audit_sheet(workbook: xlsxwriter.Workbook, cells: _Writer, data: StatementData) -> None:
    sheet = workbook.add_worksheet("Audit")
    cells.header(sheet, 0, ("Fact", "Value"))
    facts: list[tuple[str, object]] = [
        ("Status", "DRAFT: not approved" if data.is_draft else "Approved"),
        ("Calculation run", data.run_id),
        ("Calculated at (UTC)", data.calculated_at),
        ("Approved by", data.approval.approved_by if data.approval else None),
        ("Approved at (UTC)", data.approval.approved_at if data.approval else None),
        ("Input fingerprint (SHA-256)", data.input_fingerprint),
        ("Statement content SHA-256", st.content_sha256(data)),
        ("Statement content version", str(st.CONTENT_VERSION)),
        ("Written by", "SPM Desktop"),
    ]
    for row, (label, value) in enumerate(facts, start=1):
        cells.text(sheet, row, 0, label, "label")
        if isinstance(value, dt.datetime):
            cells.date(sheet, row, 1, value)
        else:
            cells.text(sheet, row, 1, value)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 70)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(facts), 1)


def render_statement_xlsx(data: StatementData) -> bytes:
    """Return the statement as XLSX bytes."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {
        "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    workbook.set_properties({
        "title": f"Payout statement {data.period} {data.participant_id}",
        "author": "SPM Desktop",
        "company": data.company_name,
        "created": _created(data),
    })
    cells = _Writer(workbook, data.currency)
    _summary_sheet(workbook, cells, data)
    _detail_sheet(workbook, cells, data)
    _audit_sheet(workbook, cells, data)
    workbook.close()
    return buffer.getvalue()


def write_statement_xlsx(data: StatementData, path: Path) -> bytes:
    content = render_statement_xlsx(data)
    path.write_bytes(content)
    return content
