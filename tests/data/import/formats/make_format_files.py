"""Write the workbooks in this folder: .ods and .xls files made by LibreOffice from openpyxl workbooks.

Run from the repository root with LibreOffice installed (``soffice`` on PATH):

    python tests/data/import/formats/make_format_files.py

The tests read the files written here and never run LibreOffice themselves.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import openpyxl
from openpyxl.utils.datetime import CALENDAR_MAC_1904

HERE = Path(__file__).resolve().parent
PIPELINE = HERE.parents[1] / "maven-crm" / "sales_pipeline.csv"


def convert(source: Path, target_format: str) -> None:
    """Convert a file with LibreOffice into this folder, keeping its stem."""
    subprocess.run(["soffice", "--headless", "--convert-to", target_format, "--outdir", str(HERE), str(source)],
                   check=True, capture_output=True, timeout=300)


def report_workbook(path: Path) -> None:
    """A deals report: title lines, a blank row, then a header, date cells and amounts typed as text."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Deals"
    sheet.append(["Quarterly deals report"])
    sheet.append(["Region: all"])
    sheet.append([])
    sheet.append(["Deal", "Rep", "Amount", "Closed"])
    for deal, rep, amount, closed in (("Q-1", "DOR", "€1,234.50", dt.date(2017, 5, 15)),
                                      ("Q-2", "KLE", "€12,000.00", dt.date(2017, 6, 30)),
                                      ("Q-3", "DOR", "€93,139.00", dt.date(2017, 7, 3))):
        sheet.append([deal, rep, amount, closed])
        sheet.cell(row=sheet.max_row, column=4).number_format = "yyyy-mm-dd"
    workbook.save(path)


def mac_workbook(path: Path) -> None:
    """A 1904-system workbook whose close dates are plain numbers, except one date-formatted cell."""
    workbook = openpyxl.Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.title = "Deals"
    sheet.append(["deal_id", "owner", "amount", "close_date"])
    sheet.append(["D-1", "P1", 100, 41220])  # 2016-11-08 in the 1904 system, 2012-11-07 in the 1900 one
    sheet.append(["D-2", "P1", 200, 40179])  # 2014-01-02 in the 1904 system
    sheet.append(["D-3", "P1", 300, dt.date(2016, 11, 8)])
    sheet.cell(row=4, column=4).number_format = "yyyy-mm-dd"
    workbook.save(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copy(PIPELINE, work / "sales_pipeline.csv")
        convert(work / "sales_pipeline.csv", "ods")
        report_workbook(work / "deals_report.xlsx")
        convert(work / "deals_report.xlsx", "ods")
        mac_workbook(work / "deals_1904.xlsx")
        convert(work / "deals_1904.xlsx", "xls")


if __name__ == "__main__":
    main()
