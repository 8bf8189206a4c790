"""Open spreadsheet and text files and hand their rows over as plain Python values.

Workbooks (.xlsx, .xlsm, .xls, .xlsb, .ods) are read with python-calamine. Text files
(.csv, .tsv, .txt) are decoded with a detected encoding and split with a sniffed
delimiter, row by row with the csv module or column by column with pandas' C parser
(``text_columns``), which splits the same way. Either way a row is a list of cells: ``str``,
``float``, ``int``, ``bool``, ``datetime.date`` or ``datetime.datetime``, with ``None`` or
``""`` for an empty cell (the readers' own forms, left as they are for speed). Row numbers
are 1-based as a spreadsheet program shows them.

Two things calamine does not report are read from the xlsx package itself. One is
whether the workbook uses the 1904 date system, which matters for serial numbers in
columns that are not formatted as dates (for .xls files it is read from the DATEMODE
record). The other is which formula cells carry no
stored result, because calamine returns them as empty, which would read as a blank or 0.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine

from spm_desktop.importing import xlsx_parts
from spm_desktop.importing.workbooks import (
    ImportFileError,
    open_workbook,
    sheet_member,
    workbook_rows,
    xml_attributes,
)

log = logging.getLogger(__name__)

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
SNIFF_LINES = 60
# Characters from the start of a text file that are split for its first rows.
SAMPLE_CHARACTERS = 1 << 20
# Formula cells without a stored value are listed up to this count, and the problem counts the rest.
MAX_FORMULA_CELLS = 200


@dataclass
class SourceInfo:
    """Facts about a file found while opening it: sheets, encoding, delimiter, date system, formulas."""

    path: Path
    kind: str  # "workbook" or "text"
    sheet_names: list[str]
    sheet: str | None
    encoding: str | None = None
    delimiter: str | None = None
    date1904: bool = False
    # Cell references ("D7") of formulas without a stored value, in reading order.
    formula_cells_without_value: list[str] = field(default_factory=list)
    formula_cells_total: int = 0
    # Lines of a text file decoded with a second encoding, because the rest is UTF-8.
    mixed_encoding: MixedEncoding | None = None
    # Line of a text file where a quoted cell opens that no quote closes (see unclosed_quote_line).
    unclosed_quote: int | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unclosed_quote_line(text: str, delimiter: str) -> int | None:
    """Return the 1-based line where a quoted cell opens that no quote closes, or None.

    Readers take such a cell to run to the end of the file, so the delimiters and rows after
    it vanish into one cell. With an odd number of quotes, the last one is the opener when it
    starts a cell and a delimiter or line follows it. A quote inside a cell (5" screen) is
    text, so an odd count alone proves nothing.
    """
    if text.count('"') % 2 == 0:
        return None
    position = text.rfind('"')
    if position > 0 and text[position - 1] not in (delimiter, "\n", "\r"):
        return None
    rest = text[position + 1:].rstrip("\r\n")
    if delimiter not in rest and "\n" not in rest:
        return None
    return text.count("\n", 0, position) + 1


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return "workbook"
    if suffix in TEXT_SUFFIXES:
        return "text"
    allowed = ", ".join(WORKBOOK_SUFFIXES + TEXT_SUFFIXES)
    raise ImportFileError(f"{path.name}: cannot import {suffix or 'a file without extension'} files; use one of {allowed}")


class Source:
    """An opened file: its sheets and a way to iterate the rows of one of them."""

    def __init__(self, path: Path, sheet: str | None = None, *, encoding: str = "auto",
                 delimiter: str = "auto") -> None:
        self.path = Path(path)
        self._worksheet: python_calamine.CalamineSheet | None = None
        self._parts: xlsx_parts.SheetParts | None = None
        if not self.path.is_file():
            raise ImportFileError(f"{self.path} does not exist or is not a file; check the path")
        kind = file_kind(self.path)
        if kind == "workbook":
            self._workbook = open_workbook(self.path)
            names = list(self._workbook.sheet_names)
            chosen = _choose_sheet(self.path, names, sheet)
            self.info = SourceInfo(self.path, kind, names, chosen)
            suffix = self.path.suffix.lower()
            if suffix in (".xlsx", ".xlsm"):
                _inspect_xlsx(self.path, chosen, self.info)
                self._parts = xlsx_parts.SheetParts.open(self.path, chosen)
            elif suffix == ".xls":
                self.info.date1904 = xls_date1904(self.path)
            # NOTE: the date system of .xlsb files is not read, so a plain serial number in a
            # date column of a 1904-system .xlsb file reads as a 1900-system date. Cells
            # formatted as dates are converted by calamine and are right in both systems.
        else:
            if sheet not in (None, "", self.path.stem):
                raise ImportFileError(f"{self.path.name} is a text file and has no sheet {sheet!r}; leave the sheet empty")
            text, used_encoding, mixed = decode_text_lines(self.path, encoding)
            chosen_delimiter = sniff_delimiter(text, self.path) if delimiter in ("auto", "", None) else delimiter
            self._text = text
            self.info = SourceInfo(self.path, kind, [self.path.stem], None, used_encoding, chosen_delimiter,
                                   mixed_encoding=mixed,
                                   unclosed_quote=unclosed_quote_line(text, chosen_delimiter or ","))

    def rows(self) -> Iterator[list[object]]:
        """Yield every row of the chosen sheet from row 1; an empty cell is None or ""."""
        if self._parts is not None:
            yield from self._parts.rows()
        elif self.info.kind == "workbook":
            # calamine reads a whole sheet when it is opened, so it is opened once.
            # NOTE: except for large .xlsx sheets (see xlsx_parts), calamine keeps the whole
            # sheet in memory while its rows are read: about 600 MB for 1,000,000 rows of 12
            # columns of .xlsx, measured by RSS.
            if self._worksheet is None:
                self._worksheet = self._workbook.get_sheet_by_name(self.info.sheet)
            yield from workbook_rows(self._worksheet)
        else:
            yield from _text_rows(self._text, self.info.delimiter or ",")

    def text_columns(self, width: int) -> list[np.ndarray] | None:
        """Split a text file into one array of cells per column with pandas' C parser.

        Row i of every array is the text file's row i + 1, as ``rows`` numbers them. An
        empty cell, a missing trailing field and a blank line all read as "". Returns None
        when a row has more than ``width`` fields or the parser rejects the text, so the
        caller falls back to ``rows``.
        """
        if self.info.kind != "text" or width < 1:
            return None
        try:
            frame = pd.read_csv(io.BytesIO(self._text.encode("utf-8")), encoding="utf-8",
                                sep=self.info.delimiter or ",", header=None, names=list(range(width)), dtype=object,
                                na_filter=False, skip_blank_lines=False, index_col=False, engine="c", quotechar='"',
                                doublequote=True)
        except (pd.errors.ParserError, ValueError) as error:
            log.info("reading %s row by row because the fast reader failed: %s", self.path.name, error)
            return None
        columns = [frame[index].to_numpy(dtype=object) for index in range(width)]
        del frame
        return columns

    def sample(self, count: int) -> list[list[object]]:
        """Return the first ``count`` rows (for header detection and previews)."""
        if self.info.kind == "text" and len(self._text) > SAMPLE_CHARACTERS:
            # The first rows of a large text file are split from its start only. The
            # last row of that part may be cut, so it counts only when the file ends there.
            head = list(islice(_text_rows(self._text[:SAMPLE_CHARACTERS], self.info.delimiter or ","), count + 1))
            if len(head) > count:
                return head[:count]
        result = []
        for row in (self._parts.rows(xlsx_parts.SAMPLE_PART_BYTES) if self._parts is not None else self.rows()):
            result.append(row)
            if len(result) >= count:
                break
        return result

    def close(self) -> None:
        if self._parts is not None:
            self._parts.close()
        self._worksheet = None
        self._text = ""
        workbook = getattr(self, "_workbook", None)
        if workbook is not None:
            workbook.close()
            self._workbook = None


def _choose_sheet(path: Path, names: list[str], sheet: str | None) -> str:
    if not names:
        raise ImportFileError(f"{path.name} has no sheets")
    if sheet in (None, ""):
        return names[0]
    if sheet in names:
        return sheet
    folded = {name.casefold().strip(): name for name in names}
    if sheet.casefold().strip() in folded:
        return folded[sheet.casefold().strip()]
    raise ImportFileError(f"{path.name} has no sheet {sheet!r}; its sheets are: {', '.join(names)}")


def _text_rows(text: str, delimiter: str) -> Iterator[list[object]]:
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(path: Path, encoding: str = "auto") -> tuple[str, str]:
    """Decode a text file strictly and return the text and the encoding used (see ``decode_text_lines``)."""
    text, used, _mixed = decode_text_lines(path, encoding)
    return text, used


def decode_text_lines(path: Path, encoding: str = "auto") -> tuple[str, str, MixedEncoding | None]:
    """Decode a text file strictly; return the text, the encoding used and the lines of a second encoding.

    A byte-order mark decides first, then strict UTF-8, then charset-normalizer's best
    guess (cp1252 for most Western exports). Bytes that the chosen encoding cannot
    decode raise ImportFileError: no replacement character is ever inserted.
    """
    data = path.read_bytes()
    if encoding not in ("auto", "", None):
        return _decode_strict(path, data, encoding), encoding, None
    for bom, name in BOMS:
        if data.startswith(bom):
            return _decode_strict(path, data, name), name, None
    utf16 = _check_not_binary(path, data)
    if utf16 is not None:
        return _decode_strict(path, data, utf16), utf16, None
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError:
        pass
    mixed = _decode_mixed_lines(data)
    if mixed is not None:
        text, lines = mixed
        return text, lines.label(), lines
    guess = _guess_encoding(data)
    return _decode_strict(path, data, guess), guess, None


# The first bytes of files that people rename by mistake, and what they are.
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a ZIP archive (an .xlsx, .ods or .docx file is one)"),
          (b"\xd0\xcf\x11\xe0", "an old Office file (.xls or .doc)"), (b"SQLite format 3", "an SQLite database"))


def _check_not_binary(path: Path, data: bytes) -> str | None:
    """Raise ImportFileError for a file that is not text, naming what it looks like.

    Text contains no NUL byte, except UTF-16, where every other byte of ASCII text is NUL.
    For such a file without a byte-order mark, return "utf-16-le" or "utf-16-be".
    """
    head = data[:4096]
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if kind is None:
        if b"\x00" not in head:
            return None
        even, odd, half = head[0::2].count(0), head[1::2].count(0), max(len(head) // 2, 1)
        if odd > 0.3 * half and even < 0.02 * half:
            return "utf-16-le"
        if even > 0.3 * half and odd < 0.02 * half:
            return "utf-16-be"
    description = kind or "binary data"
    raise ImportFileError(f"{path.name} is not a text file: it contains {description}. Choose the .csv or .txt file "
                          "itself, or a spreadsheet with its own extension (.xlsx, .xls, .ods)")


@dataclass
class MixedEncoding:
    """Lines of a text file decoded with another encoding than UTF-8."""

    encoding: str
    lines: list[int]  # 1-based line numbers

    def label(self) -> str:
        return f"utf-8 with {self.encoding} lines"


def _decode_mixed_lines(data: bytes) -> tuple[str, MixedEncoding] | None:
    """Decode a file whose lines mix UTF-8 with a single-byte encoding, each line with its own.

    This happens when rows from two exports are pasted into one file. Returns None
    unless some non-ASCII lines are valid UTF-8 and others are not.
    NOTE: a line of the other encoding whose bytes also happen to be valid UTF-8 (such
    as cp1252 "Ã©") is read as UTF-8.
    """
    lines = data.split(b"\n")
    utf8_lines = 0
    other: list[int] = []
    for number, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_lines += 1
        except UnicodeDecodeError:
            other.append(number)
    if not utf8_lines or not other:
        return None
    encoding = _guess_encoding(b"\n".join(lines[number] for number in other))
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        return None
    decoded = []
    other_set = set(other)
    for number, line in enumerate(lines):
        try:
            decoded.append(line.decode(encoding if number in other_set else "utf-8"))
        except UnicodeDecodeError:
            return None
    return "\n".join(decoded), MixedEncoding(encoding, [number + 1 for number in other])


def _guess_encoding(data: bytes) -> str:
    import charset_normalizer

    sample = data[: 1 << 20]
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp1252", "iso8859_15", "utf_16", "cp850", "mac_roman"]).best()
    if best is None:
        return "cp1252"
    return best.encoding


def _decode_strict(path: Path, data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ImportFileError(f"{path.name}: unknown encoding {encoding!r}; use utf-8, cp1252 or utf-16") from None
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"{path.name}: byte {error.start} ({data[error.start:error.start + 1].hex()}) is not valid {encoding}; "
            "set the file's encoding in the mapping (options: encoding: cp1252, utf-8 or utf-16)"
        ) from None
    if "\ufffd" in text and encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        raise ImportFileError(f"{path.name}: decoding as {encoding} produced replacement characters; "
                              "set the file's encoding in the mapping")
    return text


def sniff_delimiter(text: str, path: Path) -> str:
    """Pick the delimiter that splits the later sample lines into the most consistent field count.

    The last lines of the sample weigh most, because report preambles sit at the top.
    """
    if path.suffix.lower() == ".tsv":
        return "\t"
    lines = [line for line in text[: 1 << 16].splitlines()[:SNIFF_LINES] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for candidate in DELIMITER_CANDIDATES:
        counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        tail = counts[len(counts) // 2:] or counts
        mode = max(set(tail), key=lambda value, tail=tail: (tail.count(value), value))
        if mode < 2:
            continue
        score = (tail.count(mode), mode)
        if score > best_score:
            best, best_score = candidate, score
    return best


_DATE1904 = re.compile(rb"<workbookPr\b[^>]*\bdate1904\s*=\s*\"(1|true)\"")


def _inspect_xlsx(path: Path, sheet: str, info: SourceInfo) -> None:
    """Read the date system and the formula cells without stored values from the package."""
    try:
        with zipfile.ZipFile(path) as package:
            workbook_xml = package.read("xl/workbook.xml")
            info.date1904 = bool(_DATE1904.search(workbook_xml))
            member = sheet_member(package, workbook_xml, sheet)
            if member is not None:
                _find_formulas_without_values(package, member, info)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
        # NOTE: calamine opened the file, so only these checks are skipped; the rows still import.
        log.warning("could not inspect %s for the date system and formula values: %s", path.name, error)


# The sheet is searched with regular expressions, as the package parts are (see workbooks).
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
_HAS_FORMULA = re.compile(rb"<f\b")
_HAS_VALUE = re.compile(rb"<v>[^<]+</v>|<is>")


def _find_formulas_without_values(package: zipfile.ZipFile, member: str, info: SourceInfo) -> None:
    # A quick byte scan first: most exports hold no formulas, and matching every cell of
    # a large sheet costs far more than searching it.
    if not _contains_formula(package, member):
        return
    data = package.read(member)
    for match in _CELL.finditer(data):
        body = match.group(2) or b""
        if _HAS_FORMULA.search(body) and not _HAS_VALUE.search(body):
            info.formula_cells_total += 1
            if len(info.formula_cells_without_value) < MAX_FORMULA_CELLS:
                info.formula_cells_without_value.append(xml_attributes(match.group(1)).get("r", "?"))


def _contains_formula(package: zipfile.ZipFile, member: str) -> bool:
    tail = b""
    with package.open(member) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            chunk = tail + block
            if _HAS_FORMULA.search(chunk):
                return True
            tail = chunk[-4:]
    return False


def column_letter(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def split_reference(reference: str) -> tuple[int, int]:
    """Return the 1-based (row, column) of a cell reference such as "D7"."""
    match = re.fullmatch(r"([A-Z]+)(\d+)", reference)
    if not match:
        raise ValueError(f"{reference!r} is not a cell reference")
    column = 0
    for letter in match.group(1):
        column = column * 26 + (ord(letter) - 64)
    return int(match.group(2)), column


# --- the date system of legacy .xls workbooks ------------------------------------------
# An .xls file is an OLE2 compound file whose "Workbook" (BIFF8) or "Book" (BIFF5) stream
# is a sequence of records: a 2-byte id, a 2-byte length and the data, all little-endian.
# The DATEMODE record (id 0x0022) of the workbook globals is 1 for the 1904 system.
# Only the parts of the file needed to find that record are read.

_OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
_END_OF_CHAIN = 0xFFFFFFFE
_BIFF_DATEMODE = 0x0022
_BIFF_EOF = 0x000A
_MAX_CHAIN = 1 << 20


class _CompoundFile:
    """Reader of streams in an OLE2 compound file held in memory."""

    def __init__(self, data: bytes) -> None:
        if data[:8] != _OLE_SIGNATURE:
            raise ValueError("not an OLE2 compound file")
        self.data = data
        self.sector_size = 1 << struct.unpack_from("<H", data, 0x1E)[0]
        self.mini_sector_size = 1 << struct.unpack_from("<H", data, 0x20)[0]
        self.mini_cutoff, first_mini_fat = struct.unpack_from("<II", data, 0x38)
        first_directory = struct.unpack_from("<I", data, 0x30)[0]
        self.fat = self._read_fat()
        self.mini_fat = _uint32s(self._chain_bytes(first_mini_fat, self.fat, self._sector))
        self.entries = _directory_entries(self._chain_bytes(first_directory, self.fat, self._sector))
        root_start, _root_size = self.entries["Root Entry"]
        self.mini_stream = self._chain_bytes(root_start, self.fat, self._sector)

    def _sector(self, number: int) -> bytes:
        offset = (number + 1) * self.sector_size
        return self.data[offset:offset + self.sector_size]

    def _read_fat(self) -> list[int]:
        fat_sectors = [number for number in _uint32s(self.data[0x4C:0x200]) if number < _END_OF_CHAIN]
        next_difat, difat_count = struct.unpack_from("<II", self.data, 0x44)
        for _ in range(difat_count):
            if next_difat >= _END_OF_CHAIN:
                break
            entries = _uint32s(self._sector(next_difat))
            fat_sectors += [number for number in entries[:-1] if number < _END_OF_CHAIN]
            next_difat = entries[-1]
        return _uint32s(b"".join(self._sector(number) for number in fat_sectors))

    def _chain_bytes(self, start: int, table: list[int], read) -> bytes:
        parts = []
        number = start
        while number < _END_OF_CHAIN and number < len(table) and len(parts) < _MAX_CHAIN:
            parts.append(read(number))
            number = table[number]
        return b"".join(parts)

    def _mini_sector(self, number: int) -> bytes:
        offset = number * self.mini_sector_size
        return self.mini_stream[offset:offset + self.mini_sector_size]

    def stream(self, name: str) -> bytes | None:
        if name not in self.entries:
            return None
        start, size = self.entries[name]
        if size < self.mini_cutoff:
            return self._chain_bytes(start, self.mini_fat, self._mini_sector)[:size]
        return self._chain_bytes(start, self.fat, self._sector)[:size]


def _uint32s(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4]))


def _directory_entries(data: bytes) -> dict[str, tuple[int, int]]:
    """Return name -> (start sector, size) of the directory's streams and root entry."""
    entries = {}
    for offset in range(0, len(data) - 127, 128):
        name_length, kind = struct.unpack_from("<HB", data, offset + 0x40)
        if kind not in (2, 5) or not 2 <= name_length <= 64:
            continue
        name = data[offset:offset + name_length - 2].decode("utf-16-le", errors="replace")
        start, size = struct.unpack_from("<IQ", data, offset + 0x74)
        entries.setdefault(name, (start, size & 0xFFFFFFFF))
    return entries


def xls_date1904(path: Path) -> bool:
    """Return whether a legacy .xls workbook uses the 1904 date system (False when it cannot tell)."""
    try:
        compound = _CompoundFile(path.read_bytes())
        stream = compound.stream("Workbook") or compound.stream("Book")
    except (ValueError, struct.error, OSError) as error:
        log.warning("could not read the date system of %s: %s", path.name, error)
        return False
    offset = 0
    while stream is not None and offset + 4 <= len(stream):
        record, length = struct.unpack_from("<HH", stream, offset)
        if record == _BIFF_DATEMODE and length >= 2:
            return struct.unpack_from("<H", stream, offset + 4)[0] == 1
        if record == _BIFF_EOF:
            break
        offset += 4 + length
    return False
