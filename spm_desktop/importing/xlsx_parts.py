"""Large .xlsx worksheets read by calamine in parts, on both cores, so that memory stays bounded."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path

import python_calamine

from spm_desktop.importing import workbooks
from spm_desktop.importing.workbooks import ImportFileError

log = logging.getLogger(__name__)

# An .xlsx worksheet whose XML is larger than this is read in parts of about this size.
# calamine loads a whole sheet before its first row can be read, so a part bounds its memory.
PART_BYTES = 32 << 20
# A sheet is read in parts only when it makes at least this many.
MIN_PARTS = 3
# The part read for the first rows of a large worksheet (header detection and previews).
SAMPLE_PART_BYTES = 1 << 20


class SheetParts:
    """A large .xlsx worksheet that calamine reads in parts, each a small package of whole rows.

    Each part is the sheet's XML up to its sheetData element, a run of complete rows and
    the closing tags, packed with the workbook, styles and shared strings of the original
    package. Rows keep their ``r`` attributes, so calamine places every cell where the whole
    sheet has it. Cell values, dates and shared strings read as they do from the whole sheet.
    """

    def __init__(self, path: Path, sheet: str, member: str, package_parts: dict[str, bytes],
                 part_bytes: int = PART_BYTES) -> None:
        self.path = path
        self.sheet = sheet
        self.member = member
        self.package_parts = package_parts
        self.part_bytes = part_bytes
        self._readings: set[_PartReading] = set()

    @classmethod
    def open(cls, path: Path, sheet: str) -> SheetParts | None:
        """Return the parts reader of a sheet of at least MIN_PARTS parts, or None to read it whole."""
        try:
            with zipfile.ZipFile(path) as package:
                workbook_xml = package.read("xl/workbook.xml")
                member = workbooks.sheet_member(package, workbook_xml, sheet)
                if member is None or package.getinfo(member).file_size < MIN_PARTS * PART_BYTES:
                    return None
                size = package.getinfo(member).file_size
                with package.open(member) as stream:
                    first_row = _ROW_START.search(stream.read(SAMPLE_PART_BYTES))
                # Rows without numbers are placed by their order, which a part would restart.
                if first_row is None or not _ROW_NUMBER.search(first_row.group(0)):
                    log.info("reading sheet %r of %s whole: its rows are not numbered", sheet, path.name)
                    return None
                names = ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"]
                for match in workbooks.RELATIONSHIP.finditer(package.read("xl/_rels/workbook.xml.rels")):
                    attributes = workbooks.xml_attributes(match.group(1))
                    if attributes.get("Type", "").endswith(("/styles", "/sharedStrings")):
                        target = attributes.get("Target", "")
                        names.append(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
                parts = {name: package.read(name) for name in names if name in package.NameToInfo}
        except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError) as error:
            log.info("reading sheet %r of %s whole: %s", sheet, path.name, error)
            return None
        # Shared strings are read again with every part, so parts grow with them. A sheet of a
        # few such parts is read faster, and in less memory, whole.
        part_bytes = max(PART_BYTES, 4 * sum(len(data) for data in parts.values()))
        if size < MIN_PARTS * part_bytes:
            return None
        log.debug("reading sheet %r of %s in parts of %d bytes", sheet, path.name, part_bytes)
        return cls(path, sheet, member, parts, part_bytes)

    def rows(self, part_bytes: int | None = None) -> Iterator[list[object]]:
        """Yield every row from row 1, as ``Source.rows`` does; rows before a part's first cell are empty."""
        next_row = 0
        reading = _PartReading(self, part_bytes or self.part_bytes)
        self._readings.add(reading)
        try:
            while (part := reading.next_part()) is not None:
                rows, (first_row, first_column) = part
                if first_row < next_row:
                    where = (f"row {next_row} is stored twice" if first_row + 1 == next_row
                             else f"row {first_row + 1} is stored after row {next_row}")
                    raise ImportFileError(f"{self.path.name}: the rows of sheet {self.sheet!r} are not in order "
                                          f"({where}); open the file in a spreadsheet program, save it again "
                                          "and import that copy")
                for _ in range(first_row - next_row):
                    yield []
                padding = [None] * first_column
                for row in rows:
                    yield padding + row if first_column else row
                next_row = first_row + len(rows)
        except _WholeSheetNeeded as reason:
            # The rows yielded so far came from parts before the reason, so the whole sheet goes on from there.
            log.info("reading the rest of sheet %r of %s whole: %s", self.sheet, self.path.name, reason)
            reading.stop()
            workbook = workbooks.open_workbook(self.path)
            try:
                yield from islice(workbooks.workbook_rows(workbook.get_sheet_by_name(self.sheet)), next_row, None)
            finally:
                workbook.close()
        finally:
            reading.stop()
            self._readings.discard(reading)

    def close(self) -> None:
        """Stop the threads of every pass still reading and delete their temporary files.

        A pass stops by itself when its rows are read or its generator is closed. This is for
        a generator that is still referenced, for example from the traceback of a cancel.
        """
        for reading in list(self._readings):
            reading.stop()
        self._readings.clear()

    def _sheet_parts(self, part_bytes: int) -> Iterator[tuple[bytes, memoryview, bytes]]:
        """Yield the sheet's XML cut into parts of whole rows: the head, the rows and the closing tags.

        The rows are a view of the read buffer, valid until the next part is requested.
        """
        with zipfile.ZipFile(self.path) as package, package.open(self.member) as stream:
            buffer = bytearray()
            head = end_row = end_data = closing = b""
            while True:
                block = stream.read(_READ_BYTES)
                # A comment, a CDATA section or a processing instruction may contain "</row>",
                # which must not end a part. Sheets from spreadsheet programs have none.
                if head and any(marker in buffer[-_MARKUP_LENGTH:] + block for marker in _MARKUP):
                    raise _WholeSheetNeeded("it has comments, CDATA or processing instructions")
                buffer += block
                if not head:
                    match = _SHEET_DATA.search(buffer)
                    if match is None:
                        if not block:
                            return
                        continue
                    if match.group(2):
                        return  # <sheetData/>: a sheet without rows
                    prefix = match.group(1) or b""
                    root = _WORKSHEET.search(buffer, 0, match.start())
                    root_prefix = (root.group(1) or b"") if root else prefix
                    # The dimension names the whole sheet's range, which a part does not have.
                    head = _DIMENSION.sub(b"", bytes(buffer[:match.end()]))
                    if any(marker in buffer[match.end():] for marker in _MARKUP):
                        raise _WholeSheetNeeded("it has comments, CDATA or processing instructions")
                    end_row, end_data = b"</" + prefix + b"row>", b"</" + prefix + b"sheetData>"
                    closing = end_data + b"</" + root_prefix + b"worksheet>"
                    del buffer[:match.end()]
                if not block:
                    stop = buffer.find(end_data)
                    if stop >= 0:
                        del buffer[stop:]
                    if buffer.strip():
                        _check_numbered(buffer, len(buffer))
                        with memoryview(buffer) as rows:
                            yield head, rows, closing
                    return
                while len(buffer) >= part_bytes:
                    # A part ends after the last whole row within part_bytes, or after one longer row.
                    cut = buffer.rfind(end_row, 0, part_bytes)
                    if cut < 0:
                        cut = buffer.find(end_row, part_bytes)
                        if cut < 0:
                            break
                    cut += len(end_row)
                    _check_numbered(buffer, cut)
                    with memoryview(buffer) as view, view[:cut] as rows:
                        yield head, rows, closing
                    del buffer[:cut]

    def _write_part(self, pieces: tuple[bytes, memoryview, bytes]) -> str:
        """Pack one part as a workbook in a temporary file and return the file's name."""
        handle, name = tempfile.mkstemp(suffix=".xlsx", prefix="spm-part-")
        try:
            with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as package:
                for member, data in self.package_parts.items():
                    package.writestr(member, data)
                with package.open(self.member, "w", force_zip64=True) as entry:
                    for piece in pieces:
                        entry.write(piece)
        except BaseException:
            os.unlink(name)
            raise
        return name

    def _load(self, name: str) -> python_calamine.CalamineSheet:
        """Load the worksheet of a part's file with calamine and delete the file."""
        try:
            workbook = python_calamine.CalamineWorkbook.from_path(name)
            try:
                return workbook.get_sheet_by_name(self.sheet)
            finally:
                workbook.close()
        except (python_calamine.CalamineError, ValueError) as error:
            raise ImportFileError(f"{self.path.name} cannot be read as a workbook ({error}); check that it opens "
                                  "in a spreadsheet program and save it again as .xlsx") from None
        finally:
            os.unlink(name)


class _PartReading:
    """One pass over a sheet's parts: a splitter thread, two loader threads and the parts in between.

    The splitter cuts the sheet and writes each part to a temporary file, and the loaders
    have calamine load them, which it does without holding the GIL. So both cores load
    parts while the reading thread makes the Python values of the part in hand. At most
    _PARTS_AHEAD parts wait, which bounds the memory.
    """

    def __init__(self, parts: SheetParts, part_bytes: int) -> None:
        self.parts = parts
        self.waiting: queue.Queue[tuple[Future, str] | BaseException | None] = queue.Queue(maxsize=_PARTS_AHEAD)
        self.stopping = threading.Event()
        self.stopped = False
        self.loaders = ThreadPoolExecutor(max_workers=_LOADERS, thread_name_prefix=f"load {parts.path.name}")
        self.splitter = threading.Thread(target=self._split, args=(part_bytes,), name=f"split {parts.path.name}",
                                         daemon=True)
        self.splitter.start()

    def next_part(self) -> tuple[list[list[object]], tuple[int, int]] | None:
        """Return the next part's rows and first cell (0-based row and column), or None after the last."""
        while True:
            item = self.waiting.get()
            if item is None:
                return None
            if isinstance(item, BaseException):
                raise item
            future, _name = item
            worksheet = future.result()
            # Python values are made here: that needs the GIL, which the loaders leave to calamine.
            rows, start = worksheet.to_python(skip_empty_area=True), worksheet.start
            del worksheet, future, item
            if rows and start is not None:
                return rows, (int(start[0]), int(start[1]))

    def stop(self) -> None:
        """Stop the threads, drop the parts not read and delete their files; safe to call again."""
        if self.stopped:
            return
        self.stopped = True
        self.stopping.set()
        self.splitter.join()
        while True:
            try:
                item = self.waiting.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                _discard(*item)
        self.loaders.shutdown(wait=True, cancel_futures=True)

    def _hand_over(self, item: tuple[Future, str] | BaseException | None) -> bool:
        while not self.stopping.is_set():
            try:
                self.waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _split(self, part_bytes: int) -> None:
        try:
            for pieces in self.parts._sheet_parts(part_bytes):
                if self.stopping.is_set():
                    return
                try:
                    name = self.parts._write_part(pieces)
                except OSError as error:
                    self._hand_over(_WholeSheetNeeded(f"a part cannot be written to the temporary folder ({error})"))
                    return
                future = self.loaders.submit(self.parts._load, name)
                if not self._hand_over((future, name)):
                    _discard(future, name)
                    return
            self._hand_over(None)
        except Exception as error:  # handed to the reading thread, which raises it
            self._hand_over(error)


def _discard(future: Future, name: str) -> None:
    """Cancel a part's load and delete its file; a load that already runs deletes the file itself."""
    if future.cancel():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


_READ_BYTES = 8 << 20
# Parts loaded at once, and parts loaded or loading ahead of the one being read.
_LOADERS = 2
_PARTS_AHEAD = 2
_SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b[^>]*?(/)?>")
_WORKSHEET = re.compile(rb"<(\w+:)?worksheet\b")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*/>")
_MARKUP = (b"<!--", b"<![CDATA[", b"<?")
_MARKUP_LENGTH = max(map(len, _MARKUP))


class _WholeSheetNeeded(Exception):
    """The rest of the sheet cannot be read in parts; its message gives the reason."""


def _check_numbered(buffer: bytearray, end: int) -> None:
    """Raise _WholeSheetNeeded when the part ending at ``end`` starts with a row without a number.

    calamine places such a row after the row before it, which is in the previous part.
    """
    first_row = _ROW_START.search(buffer, 0, end)
    if first_row is not None and not _ROW_NUMBER.search(first_row.group(0)):
        raise _WholeSheetNeeded("a part starts with a row without a number")


_ROW_START = re.compile(rb"<(?:\w+:)?row\b[^>]*>")
_ROW_NUMBER = re.compile(rb"\sr\s*=\s*[\"']\d")


