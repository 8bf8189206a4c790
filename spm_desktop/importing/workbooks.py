"""Workbooks for the import: calamine's workbook and rows, and the parts of an .xlsx package.

The package parts are searched with regular expressions instead of an XML parser, so a
crafted file cannot trigger entity expansion. Only a few attributes are needed.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import python_calamine

from spm_desktop.services.errors import SpmError


class ImportFileError(SpmError):
    """A file cannot be opened or decoded; the message names the file and what to do."""


def open_workbook(path: Path) -> python_calamine.CalamineWorkbook:
    """Open a workbook with calamine, or raise ImportFileError with what to do when it cannot be read."""
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise ImportFileError(f"{path.name} is password protected; save an unprotected copy and import that") from None
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise ImportFileError(f"{path.name} cannot be read as a workbook ({error}); "
                              "check that it opens in a spreadsheet program and save it again as .xlsx") from None


def workbook_rows(worksheet: python_calamine.CalamineSheet) -> Iterator[list[object]]:
    """Yield the rows of a calamine sheet from row 1 and column A.

    iter_rows starts at row 1 but at the first used column, so columns to its left are
    put back to keep positions equal to the spreadsheet's column numbers.
    """
    first_column = worksheet.start[1] if worksheet.start else 0
    if not first_column:
        yield from worksheet.iter_rows()
        return
    padding = [None] * first_column
    for row in worksheet.iter_rows():
        yield padding + row


SHEET_ENTRY = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)/?>")
ATTRIBUTE = re.compile(rb"([\w:]+)\s*=\s*\"([^\"]*)\"")


def xml_attributes(text: bytes) -> dict[str, str]:
    """Return the attributes of an XML start tag's inside as names and unescaped values."""
    return {name.decode(): html.unescape(value.decode("utf-8")) for name, value in ATTRIBUTE.findall(text)}


def sheet_member(package: zipfile.ZipFile, workbook_xml: bytes, sheet: str) -> str | None:
    """Return the package path of a sheet's XML (such as ``xl/worksheets/sheet1.xml``), or None when not found."""
    relation_id = None
    for match in SHEET_ENTRY.finditer(workbook_xml):
        attributes = xml_attributes(match.group(1))
        if attributes.get("name") == sheet:
            relation_id = attributes.get("r:id") or next(
                (value for key, value in attributes.items() if key.endswith(":id")), None)
    if relation_id is None:
        return None
    rels = package.read("xl/_rels/workbook.xml.rels")
    for match in RELATIONSHIP.finditer(rels):
        attributes = xml_attributes(match.group(1))
        if attributes.get("Id") == relation_id:
            target = attributes.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None
