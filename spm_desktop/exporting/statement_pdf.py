"""Payout statements as PDF, drawn with QPainter on QPdfWriter.

Rendering has two steps. ``layout_statement`` turns a ``StatementData`` into pages of
drawing operations (text boxes, rules, fills, the logo), paginating long tables with
their header repeated on every page and "Page x of y" in each footer. ``paint_document``
draws those operations onto a QPdfWriter. The benchmark times the second step alone as
the floor of what any QPainter statement costs.

Output is reproducible: the fonts are the bundled DejaVu Sans files under a private
family name, the document id is derived from the statement's content hash, and the PDF
Info dictionary and XMP packet hold fixed values (creation date = approval time, or
calculation time for a draft). So re-exporting the same statement with the same Qt
version gives the same bytes, wherever SPM Desktop is installed and whatever fonts the
system has, in every process whose statement fonts hold the first application-font
slots (see ``fonts_in_first_slots``).

QPdfWriter needs a QGuiApplication; ``ensure_gui_application`` creates an offscreen one
when the process has none. This module is the one exporter that imports Qt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import struct
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QBuffer, QByteArray, QHashSeed, QIODevice, QMarginsF, QPointF, QRectF, Qt, QUuid
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)

from spm_desktop.domain import statements as st
from spm_desktop.domain.statements import StatementData, StatementLine

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parents[2] / "resources" / "fonts"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
# The bundled fonts are registered under this family name, which no installed font has,
# so Qt cannot pick a system copy of DejaVu Sans in their place.
FONT_FAMILY = "SPM Statement Sans"
BUNDLED_FAMILY = "DejaVu Sans"
# Name-table records that carry the family: family (1), unique id (3), full name (4) and
# typographic family (16). The PostScript name (6), which PDF readers list, stays DejaVuSans.
FAMILY_NAME_IDS = frozenset((1, 3, 4, 16))
PRODUCER = "SPM Desktop"
# Namespace of the document ids (uuid5 of the statement's content hash).
DOCUMENT_ID_NAMESPACE = uuid.UUID("6c1f3c57-3d35-4b5e-9a55-5b0b1f4d7e21")

# Page sizes accepted by the statements.page_size setting, in points (1/72 inch).
PAGE_SIZES = {"A4": (595.0, 842.0), "LETTER": (612.0, 792.0)}
PAGE_SIZE_IDS = {"A4": QPageSize.PageSizeId.A4, "LETTER": QPageSize.PageSizeId.Letter}
MARGIN = 36.0
RESOLUTION = 72  # device units are points

INK = QColor("#1d2733")
MUTED = QColor("#5b6675")
RULE = QColor("#b8c2cf")
HEADER_FILL = QColor("#e4eaf2")
GROUP_FILL = QColor("#f3f5f8")
PAYOUT_FILL = QColor("#1f4e79")
WATERMARK = QColor("#f1c9c9")


class StatementRenderError(RuntimeError):
    """The PDF could not be written (fonts missing, Qt could not open the device)."""


def page_size_key(value: object) -> str:
    """Normalise a page-size setting ('A4', 'Letter', 'US Letter') to a PAGE_SIZES key."""
    text = str(value or "A4").strip().upper().replace("US ", "").replace("-", "")
    if text not in PAGE_SIZES:
        raise ValueError(f"unknown statement page size {value!r}; use A4 or Letter")
    return text


# --- Qt set-up ------------------------------------------------------------------------

_fonts_lock = threading.Lock()
# Application-font ids of FONT_FILES in this process, once registered.
_font_ids: tuple[int, ...] = ()


def ensure_gui_application() -> QGuiApplication:
    """Return the running Qt application, creating an offscreen one when there is none.

    Must run on the main thread of a process without a Qt application (the CLI, a worker
    process of the export pool).
    """
    # The PDF engine keeps embedded fonts in a QHash. With Qt's random per-process seed,
    # their object order, and so the file's bytes, would change from run to run.
    QHashSeed.setDeterministicGlobalSeed()
    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # A QApplication (not only a QGuiApplication), so widgets created later in the same
        # process, as in the GUI or a test session, still work: Qt allows one application object.
        from PySide6.QtWidgets import QApplication

        app = QApplication(["spm-statements"])
    load_fonts()
    return app  # type: ignore[return-value]


def font_data(path: Path) -> bytes:
    """Return a bundled font file's bytes with its family renamed to FONT_FAMILY.

    Only the name table changes; glyphs and metrics stay as they are. Raises
    StatementRenderError when the file is missing or is not a TrueType font that
    ``rename_font_family`` can read.
    """
    try:
        return rename_font_family(path.read_bytes(), BUNDLED_FAMILY, FONT_FAMILY)
    except OSError as error:
        raise StatementRenderError(f"cannot read the statement font {path} ({error.strerror}); "
                                   "reinstall SPM Desktop") from error
    except (ValueError, struct.error) as error:
        raise StatementRenderError(f"the statement font {path} is damaged ({error}); reinstall SPM Desktop") from error


def rename_font_family(font: bytes, old: str, new: str) -> bytes:
    """Replace ``old`` with ``new`` in the family names of a TrueType font (a single font, not a collection).

    Rebuilds the table directory with the new name table and sets the checksums the
    OpenType specification defines. Raises ValueError for a file that is not a TrueType
    font or whose name table is not format 0.
    """
    if font[:4] not in (b"\x00\x01\x00\x00", b"true"):
        raise ValueError("not a TrueType font")
    (count,) = struct.unpack_from(">H", font, 4)
    tables = {}
    for index in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", font, 12 + 16 * index)
        tables[tag] = font[offset:offset + length]
    if b"name" not in tables or b"head" not in tables:
        raise ValueError("the font has no name or head table")
    tables[b"name"] = _renamed_name_table(tables[b"name"], old, new)
    # checkSumAdjustment (bytes 8-11 of head) is computed over the file with the field at zero.
    tables[b"head"] = tables[b"head"][:8] + b"\x00\x00\x00\x00" + tables[b"head"][12:]

    header = font[:12]
    directory = []
    body = []
    offset = 12 + 16 * len(tables)
    for tag in sorted(tables):
        data = tables[tag]
        directory.append(struct.pack(">4sIII", tag, _table_checksum(data), offset, len(data)))
        padded = data + b"\x00" * (-len(data) % 4)
        body.append(padded)
        offset += len(padded)
    rebuilt = bytearray(header + b"".join(directory) + b"".join(body))
    adjustment = (0xB1B0AFBA - _table_checksum(bytes(rebuilt))) & 0xFFFFFFFF
    head_offset = 12 + 16 * len(tables) + sum(len(part) for tag, part in zip(sorted(tables), body, strict=True)
                                                if tag < b"head")
    struct.pack_into(">I", rebuilt, head_offset + 8, adjustment)
    return bytes(rebuilt)


def _table_checksum(data: bytes) -> int:
    padded = data + b"\x00" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


def _renamed_name_table(table: bytes, old: str, new: str) -> bytes:
    """Return a format 0 name table with ``old`` replaced by ``new`` in the FAMILY_NAME_IDS records."""
    name_format, count, storage = struct.unpack_from(">HHH", table, 0)
    if name_format != 0:
        raise ValueError(f"name table format {name_format} is not supported")
    records = []
    strings = bytearray()
    for index in range(count):
        platform, encoding, language, name_id, length, offset = struct.unpack_from(">6H", table, 6 + 12 * index)
        text = table[storage + offset:storage + offset + length]
        if name_id in FAMILY_NAME_IDS:
            # Windows (3) and Unicode (0) names are UTF-16BE; Macintosh Roman (1, 0) matches Latin-1 in ASCII.
            codec = "latin-1" if platform == 1 else "utf-16-be"
            text = text.decode(codec).replace(old, new).encode(codec)
        records.append(struct.pack(">6H", platform, encoding, language, name_id, len(text), len(strings)))
        strings += text
    header = struct.pack(">HHH", 0, count, 6 + 12 * count)
    return header + b"".join(records) + bytes(strings)


def load_fonts() -> None:
    """Register the bundled fonts with Qt from memory, once per process.

    Loading from memory, not from the file, keeps the installation folder out of Qt's
    font key, and with it out of the PDF's bytes.
    """
    global _font_ids
    with _fonts_lock:
        if _font_ids:
            return
        ids = []
        for name in FONT_FILES:
            path = FONT_DIR / name
            font_id = QFontDatabase.addApplicationFontFromData(QByteArray(font_data(path)))
            if font_id < 0 or QFontDatabase.applicationFontFamilies(font_id) != [FONT_FAMILY]:
                raise StatementRenderError(f"Qt cannot load the statement font {path}; reinstall SPM Desktop")
            ids.append(font_id)
        _font_ids = tuple(ids)
        log.debug("statement fonts registered as application fonts %s", _font_ids)


def fonts_in_first_slots() -> bool:
    """Return True when this process registered the statement fonts as its first application fonts.

    Qt names a font loaded from memory after its slot (":qmemoryfonts/<id>") and orders
    a PDF's embedded font objects by a hash of that name. So only a process whose
    statement fonts hold slots 0 and 1, as in every fresh process, writes the same bytes
    as ``spm statements``. Loads the fonts first when needed (see ensure_gui_application).
    """
    ensure_gui_application()
    return _font_ids == tuple(range(len(FONT_FILES)))


# --- drawing operations ---------------------------------------------------------------


class TextOp(NamedTuple):
    rect: tuple[float, float, float, float]
    text: str
    style: str
    align: str = "left"
    color: str = "ink"


class FillOp(NamedTuple):
    rect: tuple[float, float, float, float]
    color: str


class RuleOp(NamedTuple):
    x1: float
    y1: float
    x2: float
    y2: float
    width: float = 0.5


class ImageOp(NamedTuple):
    rect: tuple[float, float, float, float]
    data: bytes


class WatermarkOp(NamedTuple):
    text: str


Op = TextOp | FillOp | RuleOp | ImageOp | WatermarkOp


@dataclass
class PdfDocument:
    """A statement laid out into pages, with the fixed metadata of its file."""

    page_size: str
    pages: list[list[Op]]
    title: str
    document_id: str
    created: dt.datetime


# Font styles: (point size, bold).
STYLES = {
    "company": (13.0, True),
    "title": (10.0, False),
    "section": (10.0, True),
    "label": (7.0, False),
    "value": (7.5, False),
    "value_small": (6.5, False),
    "value_tiny": (5.5, False),
    "name_small": (7.0, True),
    "name_tiny": (5.5, True),
    "value_bold": (8.5, True),
    "table_head": (6.5, True),
    "cell": (6.5, False),
    "cell_bold": (6.5, True),
    "payout_label": (9.0, False),
    "payout": (15.0, True),
    "footer": (6.0, False),
    "footer_bold": (6.0, True),
    "watermark": (120.0, True),
}
COLORS = {"ink": INK, "muted": MUTED, "rule": RULE, "head": HEADER_FILL, "group": GROUP_FILL,
          "payout": PAYOUT_FILL, "white": QColor("#ffffff"), "watermark": WATERMARK, "draft": QColor("#b03030")}


def _font(style: str) -> QFont:
    size, bold = STYLES[style]
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(size)
    font.setBold(bold)
    font.setKerning(True)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    # Without ligatures, text copied or extracted from the PDF reads "fi", not the one glyph "ﬁ".
    font.setFeature(QFont.Tag("liga"), 0)
    return font


# Characters whose advances are measured up front, so the width bound of most text needs no call into Qt.
_PRINTABLE_ASCII = "".join(chr(code) for code in range(32, 127))
# Point size at which the largest kerning of a pair is measured, large enough that Qt's
# rounding of advances to 1/64 point is negligible.
_KERNING_PROBE_SIZE = 1000.0


class _Metrics:
    """Font metrics per style, used to decide whether text fits its box and to shorten it when not.

    Most text fits, and the layout needs no exact width for it: an upper bound, the sum of
    the characters' advances plus the most that kerning can add between two characters,
    decides. Qt measures a text exactly only when the bound exceeds its box or the text
    has characters outside printable ASCII. Bounds and exact widths are cached per style
    and text, because statements repeat dates, kinds, rates and customer names.
    """

    _cache_limit = 200_000

    def __init__(self) -> None:
        # Measure on a 72 dpi device like the PDF's; the screen's resolution would overstate widths.
        device = QImage(1, 1, QImage.Format.Format_RGB32)
        dots_per_metre = round(RESOLUTION / 0.0254)
        device.setDotsPerMeterX(dots_per_metre)
        device.setDotsPerMeterY(dots_per_metre)
        self._device = device
        self._metrics = {style: QFontMetricsF(_font(style), device) for style in STYLES}
        # Per style: text -> a width at least as large as its exact width (often the exact width itself).
        self.bounds: dict[str, dict[str, float]] = {style: {} for style in STYLES}
        self._exact: dict[str, dict[str, float]] = {style: {} for style in STYLES}
        self._advances = {style: {character: metrics.horizontalAdvance(character) for character in _PRINTABLE_ASCII}
                          for style, metrics in self._metrics.items()}
        kerning = {bold: self._largest_pair_kerning(bold) for bold in (False, True)}
        # Per character: the most kerning can add at this size, plus 1/64 point because Qt
        # rounds each adjusted advance to that unit.
        self._slack = {style: size * kerning[bold] + 1 / 64 for style, (size, bold) in STYLES.items()}

    def _largest_pair_kerning(self, bold: bool) -> float:
        """Return the largest width kerning adds to a pair of printable ASCII characters, per point of size."""
        font = _font("cell_bold" if bold else "cell")
        font.setPointSizeF(_KERNING_PROBE_SIZE)
        metrics = QFontMetricsF(font, self._device)
        advances = {character: metrics.horizontalAdvance(character) for character in _PRINTABLE_ASCII}
        largest = 0.0
        for first in _PRINTABLE_ASCII:
            for second in _PRINTABLE_ASCII:
                added = metrics.horizontalAdvance(first + second) - advances[first] - advances[second]
                largest = max(largest, added)
        return largest / _KERNING_PROBE_SIZE

    def bound(self, text: str, style: str) -> float:
        """Return a width that ``text`` in ``style`` does not exceed, cached."""
        bounds = self.bounds[style]
        found = bounds.get(text)
        if found is None:
            if len(bounds) >= self._cache_limit:
                bounds.clear()
            try:
                found = sum(map(self._advances[style].__getitem__, text)) + len(text) * self._slack[style]
            except KeyError:  # a character outside printable ASCII
                found = self.width(text, style)
            bounds[text] = found
        return found

    def width(self, text: str, style: str) -> float:
        """Return the exact advance of ``text`` in ``style`` as Qt lays it out, cached.

        The exact width also replaces the text's bound, being the tightest bound there is.
        """
        exact = self._exact[style]
        found = exact.get(text)
        if found is None:
            if len(exact) >= self._cache_limit:
                exact.clear()
            found = exact[text] = self._metrics[style].horizontalAdvance(text)
            bounds = self.bounds[style]
            if len(bounds) >= self._cache_limit:
                bounds.clear()
            bounds[text] = found
        return found

    def fits(self, text: str, style: str, width: float) -> bool:
        return self.bound(text, style) <= width or self.width(text, style) <= width

    def fit(self, text: str, style: str, width: float) -> str:
        """Return the text, or the text shortened with an ellipsis to the width."""
        if self.fits(text, style, width):
            return text
        return self._metrics[style].elidedText(text, Qt.TextElideMode.ElideRight, width)


# One _Metrics per thread: Qt's font metrics objects are reentrant, not thread-safe, and
# the GUI lays out previews in worker threads.
_thread_metrics = threading.local()


def _metrics() -> _Metrics:
    """Return this thread's font metrics, created on first use (after the fonts are loaded)."""
    metrics = getattr(_thread_metrics, "metrics", None)
    if metrics is None:
        metrics = _thread_metrics.metrics = _Metrics()
    return metrics


# --- tables -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    weight: float
    align: str = "left"


# Column widths are points on A4 (523 pt between the margins); wider pages scale them.
SUMMARY_COLUMNS = (
    Column("Component", 122), Column("Metric (version)", 92), Column("Credit", 62, "right"),
    Column("Quota", 62, "right"), Column("Attainment", 52, "right"), Column("Band", 28, "right"),
    Column("Rate", 43, "right"), Column("Earnings", 62, "right"),
)
DETAIL_COLUMNS = (
    Column("Date", 46), Column("Deal", 56), Column("Type", 37), Column("Customer", 72), Column("Product", 56),
    Column("Credit", 50), Column("Credited", 50, "right"), Column("Bands", 30, "right"),
    Column("Rates", 48, "right"), Column("FX", 32, "right"), Column("Earnings", 46, "right"),
)
DRAW_COLUMNS = (Column("Period", 170), Column("Earnings", 110, "right"),
                Column("Draw paid (+) / recovered (-)", 140, "right"), Column("Balance owed after", 103, "right"))
ADJUSTMENT_COLUMNS = (Column("Kind", 70), Column("Reason", 80), Column("From period", 65), Column("Note", 228),
                      Column("Amount", 80, "right"))
CLAWBACK_COLUMNS = (Column("Date", 60), Column("Reversal", 85), Column("Original deal", 85), Column("Component", 153),
                    Column("Credited", 70, "right"), Column("Clawback", 70, "right"))
HOLD_COLUMNS = (Column("Component", 180), Column("Deal", 110), Column("Held until", 133),
                Column("Held amount", 100, "right"))

ROW_HEIGHT = 11.0
HEAD_HEIGHT = 12.5
SECTION_HEIGHT = 20.0
CELL_PADDING = 2.0


@dataclass
class _Geometry:
    width: float
    height: float

    @property
    def left(self) -> float:
        return MARGIN

    @property
    def right(self) -> float:
        return self.width - MARGIN

    @property
    def content_width(self) -> float:
        return self.width - 2 * MARGIN

    @property
    def body_top(self) -> float:
        return MARGIN + 52.0

    @property
    def body_bottom(self) -> float:
        return self.height - MARGIN - 34.0


@dataclass
class _Flow:
    """Places blocks top to bottom and starts a new page when the next block does not fit."""

    geometry: _Geometry
    metrics: _Metrics
    pages: list[list[Op]] = field(default_factory=list)
    y: float = 0.0

    def __post_init__(self) -> None:
        self.new_page()

    @property
    def ops(self) -> list[Op]:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append([])
        self.y = self.geometry.body_top

    def fits(self, height: float) -> bool:
        return self.y + height <= self.geometry.body_bottom

    def text(self, x: float, y: float, width: float, height: float, text: str, style: str,
             align: str = "left", color: str = "ink", smaller: tuple[str, ...] = ()) -> None:
        """Place text in a box, trying the smaller styles before shortening it with an ellipsis."""
        if not text:
            return
        if smaller:
            for candidate in (style, *smaller):
                if self.metrics.fits(text, candidate, width):
                    style = candidate
                    break
            else:
                style = smaller[-1]
        # The common case, a cached bound that fits, skips the calls of Metrics.fit.
        bound = self.metrics.bounds[style].get(text)
        if bound is None or bound > width:
            text = self.metrics.fit(text, style, max(width, 1.0))
            if not text:
                return
        self.pages[-1].append(TextOp((x, y, width, height), text, style, align, color))


def _column_edges(columns: tuple[Column, ...], left: float, width: float) -> list[tuple[float, float]]:
    total = sum(column.weight for column in columns)
    edges = []
    x = left
    for column in columns:
        column_width = width * column.weight / total
        edges.append((x, column_width))
        x += column_width
    return edges


class _Row(NamedTuple):
    cells: tuple[str, ...]
    style: str = "cell"
    fill: str | None = None
    # A group heading spans the whole row (component name in the line detail).
    span: bool = False
    # The group the row belongs to, named in the heading of a continuation page.
    group: str = ""


def _table_header(flow: _Flow, title: str, columns: tuple[Column, ...], continued: str | None) -> None:
    geometry = flow.geometry
    heading = title
    if continued is not None:
        heading = f"{title} (continued): {continued}" if continued else f"{title} (continued)"
    flow.text(geometry.left, flow.y + 4, geometry.content_width, 14, heading, "section")
    flow.y += SECTION_HEIGHT
    flow.ops.append(FillOp((geometry.left, flow.y, geometry.content_width, HEAD_HEIGHT), "head"))
    for column, (x, width) in zip(columns, _column_edges(columns, geometry.left, geometry.content_width), strict=True):
        flow.text(x + CELL_PADDING, flow.y, width - 2 * CELL_PADDING, HEAD_HEIGHT, column.title, "table_head",
                  column.align)
    flow.y += HEAD_HEIGHT


def _table(flow: _Flow, title: str, columns: tuple[Column, ...], rows: list[_Row]) -> None:
    """Emit a titled table; a page break repeats the title (continued) and the column header."""
    geometry = flow.geometry
    # Keep the title, the header and the first row together.
    if not flow.fits(SECTION_HEIGHT + HEAD_HEIGHT + ROW_HEIGHT):
        flow.new_page()
    _table_header(flow, title, columns, continued=None)
    # Text box (x, width, alignment) of each cell, inside the cell's padding.
    boxes = [(x + CELL_PADDING, width - 2 * CELL_PADDING, column.align)
             for column, (x, width) in zip(columns, _column_edges(columns, geometry.left, geometry.content_width),
                                           strict=True)]
    left, right, content_width, bottom = geometry.left, geometry.right, geometry.content_width, geometry.body_bottom
    for row in rows:
        if flow.y + ROW_HEIGHT > bottom:
            flow.new_page()
            _table_header(flow, title, columns, continued=row.group)
        ops, y = flow.pages[-1], flow.y
        if row.fill:
            ops.append(FillOp((left, y, content_width, ROW_HEIGHT), row.fill))
        if row.span:
            flow.text(left + CELL_PADDING, y, content_width - 2 * CELL_PADDING, ROW_HEIGHT, row.cells[0], row.style)
        else:
            _row_cells(flow, boxes, row, y)
        flow.y = y + ROW_HEIGHT
        ops.append(RuleOp(left, flow.y, right, flow.y, 0.25))
    flow.y += 8.0


def _row_cells(flow: _Flow, boxes: list[tuple[float, float, str]], row: _Row, y: float) -> None:
    """Place a row's cells; the inner loop of every table, so it inlines the common case of Flow.text."""
    ops = flow.pages[-1]
    style = row.style
    metrics = flow.metrics
    bounds = metrics.bounds[style]
    for (x, width, align), cell in zip(boxes, row.cells, strict=True):
        if not cell:
            continue
        bound = bounds.get(cell)
        if bound is None:
            bound = metrics.bound(cell, style)
        if bound > width:
            flow.text(x, y, width, ROW_HEIGHT, cell, style, align)  # measures exactly, shortens if needed
        else:
            ops.append(TextOp((x, y, width, ROW_HEIGHT), cell, style, align, "ink"))


# --- statement sections -------------------------------------------------------------------


def _info_block(flow: _Flow, data: StatementData) -> None:
    geometry = flow.geometry
    manager = data.manager_name or data.manager_id
    if data.manager_name and data.manager_id and data.manager_name != data.manager_id:
        manager = f"{data.manager_name} ({data.manager_id})"
    calculated = _timestamp(data.calculated_at) if data.calculated_at else ""
    left = [("Participant", data.participant_name), ("Participant ID", data.participant_id),
            ("Role", data.role), ("Manager", manager), ("Payroll ID", data.payroll_id)]
    right = [("Plan", data.plan), ("Plan version", str(data.plan_version)), ("Period", data.period),
             ("Dates", f"{data.period_start.isoformat()} to {data.period_end.isoformat()}"),
             ("Currency", data.currency), ("Calculated", calculated)]
    label_width = 58.0
    payout_width = 120.0
    column_width = (geometry.content_width - payout_width - 8) / 2
    for index, pairs in enumerate((left, right)):
        x = geometry.left + index * column_width
        for row, (label, value) in enumerate(pairs):
            y = flow.y + row * 12.0
            flow.text(x, y, label_width, 12, label, "label", color="muted")
            flow.text(x + label_width, y, column_width - label_width - 6, 12, value or "-", "value",
                      smaller=("value_small", "value_tiny"))
    _payout_box(flow, data, geometry.right - payout_width, flow.y, payout_width, 60)
    flow.y += max(len(left), len(right)) * 12.0 + 10


def _payout_box(flow: _Flow, data: StatementData, x: float, y: float, width: float, height: float) -> None:
    flow.ops.append(FillOp((x, y, width, height), "payout"))
    flow.text(x + 8, y + 6, width - 16, 14, f"Payout for {data.period}", "payout_label", color="white")
    flow.text(x + 8, y + 22, width - 16, 22, st.format_amount(data.payout, data.currency), "payout", "right", "white")
    status = "DRAFT: not approved" if data.is_draft else "Approved"
    flow.text(x + 8, y + 44, width - 16, 12, f"{data.currency} · {status}", "label", "right", "white")


def _summary_rows(data: StatementData) -> list[_Row]:
    rows = []
    for summary in data.components:
        metric = summary.metric_key or ""
        if summary.metric_key and summary.metric_version is not None:
            metric = f"{summary.metric_key} (v{summary.metric_version})"
        rows.append(_Row((
            summary.name, metric, st.format_metric(summary.metric_value, summary.metric_unit, data.currency),
            st.format_metric(summary.quota, summary.metric_unit, data.currency), st.format_percent(summary.attainment),
            summary.bands, summary.rates, st.format_amount(summary.earnings, data.currency),
        )))
    if data.draw is not None or data.draw_payment:
        rows.append(_Row(("Draw", "", "", "", "", "", "", st.format_amount(data.draw_payment, data.currency))))
    if data.adjustments:
        rows.append(_Row(("Adjustments", "", "", "", "", "", "",
                          st.format_amount(data.adjustments_total, data.currency))))
    rows.append(_Row(("Payout", "", "", "", "", "", "", st.format_amount(data.payout, data.currency)),
                     "cell_bold", "group"))
    return rows


def _line_cells(line: StatementLine, currency: str) -> tuple[str, ...]:
    deal = line.deal_id or ""
    if line.line_id:
        deal = f"{deal}/{line.line_id}"
    # The team member a roll-up came through is in the XLSX detail; the PDF column is too narrow.
    credit = " ".join(part for part in (st.format_share(line.share), line.credit_kind or "") if part)
    return (
        line.credit_date.isoformat() if line.credit_date else "", deal, line.kind, line.customer or "",
        line.product or "", credit, st.format_amount(line.credited, currency), line.bands, line.rates,
        st.format_fx(line.fx_rate), st.format_amount(line.earnings, currency),
    )


def _detail_rows(data: StatementData) -> list[_Row]:
    rows: list[_Row] = []
    for summary in data.components:
        lines = data.lines_of(summary.name)
        if not lines:
            continue
        count = f"{len(lines)} line" if len(lines) == 1 else f"{len(lines)} lines"
        rows.append(_Row((f"{summary.name}: {count}",), "cell_bold", "group", span=True))
        for line in lines:
            rows.append(_Row(_line_cells(line, data.currency), group=summary.name))
            if line.held:
                held = ("", "", "held", "paid later", "", "", "", "", "", "",
                        f"({st.format_amount(line.held, data.currency)})")
                rows.append(_Row(held, group=summary.name))
        total = ("", "", "", "", "", "", "", "", "", "Total", st.format_amount(summary.earnings, data.currency))
        rows.append(_Row(total, "cell_bold", group=summary.name))
    return rows


def _draw_rows(data: StatementData) -> list[_Row]:
    assert data.draw is not None
    draw = data.draw
    currency = data.currency
    kind = "recoverable" if draw.recoverable else "non-recoverable"
    terms = (f"Draw of {st.format_amount(draw.amount, currency)} per period, {kind}; "
             f"balance owed before this period {st.format_amount(draw.opening_balance, currency)}")
    rows = [_Row((terms,), "cell", None, span=True)]
    rows.extend(_Row((entry.period, st.format_amount(entry.earnings, currency), st.format_amount(entry.draw, currency),
                      st.format_amount(entry.balance, currency))) for entry in draw.history)
    rows.append(_Row(("Balance owed after this period", "", "", st.format_amount(draw.closing_balance, currency)),
                     "cell_bold", "group"))
    return rows


def _adjustment_rows(data: StatementData) -> list[_Row]:
    kinds = {"manual": "Manual", "prior_period": "Prior period"}
    rows = [_Row((kinds.get(entry.kind, entry.kind), entry.reason_code, entry.source_period or "", entry.note,
                  st.format_amount(entry.amount, data.currency))) for entry in data.adjustments]
    rows.append(_Row(("Total", "", "", "", st.format_amount(data.adjustments_total, data.currency)), "cell_bold"))
    return rows


def _clawback_rows(data: StatementData) -> list[_Row]:
    return [_Row((line.credit_date.isoformat() if line.credit_date else "", line.deal_id or "",
                  line.reference_deal_id or "", line.component, st.format_amount(line.credited, data.currency),
                  st.format_amount(line.earnings, data.currency))) for line in data.clawbacks]


def _hold_rows(data: StatementData) -> list[_Row]:
    return [_Row((entry.component, entry.deal_id, entry.until, st.format_amount(entry.amount, data.currency)))
            for entry in data.holds]


def _notes(flow: _Flow, data: StatementData) -> None:
    if not data.notes:
        return
    if not flow.fits(SECTION_HEIGHT + ROW_HEIGHT):
        flow.new_page()
    flow.text(flow.geometry.left, flow.y + 4, flow.geometry.content_width, 14, "Notes", "section")
    flow.y += SECTION_HEIGHT
    for note in data.notes:
        if not flow.fits(ROW_HEIGHT):
            flow.new_page()
        flow.text(flow.geometry.left, flow.y, flow.geometry.content_width, ROW_HEIGHT, note, "cell")
        flow.y += ROW_HEIGHT


# --- page furniture -------------------------------------------------------------------------


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _page_furniture(data: StatementData, geometry: _Geometry, metrics: _Metrics, content_hash: str,
                    number: int, count: int) -> list[Op]:
    flow = _Flow(geometry, metrics)
    left, width = geometry.left, geometry.content_width
    if data.is_draft:
        flow.ops.append(WatermarkOp("DRAFT"))

    # Header: logo, company, title, participant.
    text_left = left
    if data.logo:
        flow.ops.append(ImageOp((left, MARGIN, 80, 36), data.logo))
        text_left = left + 90
    title_width = width - (text_left - left) - 160
    if data.company_name:
        flow.text(text_left, MARGIN, title_width, 18, data.company_name, "company")
        flow.text(text_left, MARGIN + 19, title_width, 14, f"Payout statement · {data.period}", "title", color="muted")
    else:
        flow.text(text_left, MARGIN, title_width, 18, f"Payout statement · {data.period}", "company")
    flow.text(geometry.right - 150, MARGIN, 150, 14, data.participant_name, "value_bold", "right",
              smaller=("name_small", "name_tiny"))
    flow.text(geometry.right - 150, MARGIN + 14, 150, 12, f"ID {data.participant_id}", "label", "right", "muted")
    if data.is_draft:
        flow.text(geometry.right - 150, MARGIN + 26, 150, 12, "DRAFT: not approved", "value_bold", "right", "draft")
    flow.ops.append(RuleOp(left, MARGIN + 42, geometry.right, MARGIN + 42, 0.8))

    # Footer: audit facts and page number.
    top = geometry.body_bottom + 6
    flow.ops.append(RuleOp(left, top, geometry.right, top, 0.5))
    if data.approval is None:
        approval = "DRAFT: not approved; figures may change before the period is approved"
    else:
        approval = f"Approved by {data.approval.approved_by} on {_timestamp(data.approval.approved_at)}"
    flow.text(left, top + 3, width - 90, 8, f"Calculation run {data.run_id} · {approval}", "footer")
    flow.text(left, top + 11, width - 90, 8, f"Input fingerprint (SHA-256) {data.input_fingerprint}", "footer",
              color="muted")
    flow.text(left, top + 19, width - 90, 8, f"Statement content SHA-256 {content_hash}", "footer", color="muted")
    flow.text(geometry.right - 90, top + 3, 90, 8, f"Page {number} of {count}", "footer_bold", "right")
    return flow.ops


def layout_statement(data: StatementData, page_size: str = "A4", content_hash: str | None = None) -> PdfDocument:
    """Lay a statement out into pages of drawing operations.

    ``content_hash`` is the statement's ``content_sha256`` when the caller has it already.
    """
    key = page_size_key(page_size)
    geometry = _Geometry(*PAGE_SIZES[key])
    ensure_gui_application()
    metrics = _metrics()
    flow = _Flow(geometry, metrics)

    _info_block(flow, data)
    _table(flow, "Summary", SUMMARY_COLUMNS, _summary_rows(data))
    if data.draw is not None:
        _table(flow, "Draw and balance", DRAW_COLUMNS, _draw_rows(data))
    if data.adjustments:
        _table(flow, "Adjustments", ADJUSTMENT_COLUMNS, _adjustment_rows(data))
    if data.clawbacks:
        _table(flow, "Clawbacks", CLAWBACK_COLUMNS, _clawback_rows(data))
    if data.holds:
        _table(flow, "Held amounts", HOLD_COLUMNS, _hold_rows(data))
    detail = _detail_rows(data)
    if detail:
        _table(flow, "Line detail", DETAIL_COLUMNS, detail)
    _notes(flow, data)

    content_hash = content_hash or st.content_sha256(data)
    count = len(flow.pages)
    pages = []
    for number, body in enumerate(flow.pages, start=1):
        furniture = _page_furniture(data, geometry, metrics, content_hash, number, count)
        # The watermark goes first so the content is drawn over it.
        pages.append(furniture[:1] + body + furniture[1:] if data.is_draft else body + furniture)
    created = data.approval.approved_at if data.approval else (data.calculated_at or dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    title = f"Payout statement {data.period} {data.participant_id}"
    document_id = str(uuid.uuid5(DOCUMENT_ID_NAMESPACE, content_hash))
    return PdfDocument(key, pages, title, document_id, created)


# --- painting ---------------------------------------------------------------------------------

_ALIGN = {"left": Qt.AlignmentFlag.AlignLeft, "right": Qt.AlignmentFlag.AlignRight,
          "center": Qt.AlignmentFlag.AlignHCenter}


class _Painter:
    """Draws operations with one QFont and QPen per style, created once per document."""

    def __init__(self, painter: QPainter, page_width: float, page_height: float) -> None:
        self.painter = painter
        self.page_width = page_width
        self.page_height = page_height
        self.fonts = {style: _font(style) for style in STYLES}
        self.pens = {name: QPen(color) for name, color in COLORS.items()}
        self.images: dict[bytes, QImage] = {}
        self.flags = {name: align | Qt.AlignmentFlag.AlignVCenter for name, align in _ALIGN.items()}
        self.rule_pens: dict[float, QPen] = {}
        # Style and colour of the last text, so unchanged state is not set again.
        self.style: str | None = None
        self.color: str | None = None

    def draw(self, op: Op) -> None:
        painter = self.painter
        if type(op) is TextOp:
            if op.style != self.style:
                painter.setFont(self.fonts[op.style])
                self.style = op.style
            if op.color != self.color:
                painter.setPen(self.pens[op.color])
                self.color = op.color
            painter.drawText(QRectF(*op.rect), self.flags[op.align], op.text)
        elif isinstance(op, FillOp):
            painter.fillRect(QRectF(*op.rect), COLORS[op.color])
        elif isinstance(op, RuleOp):
            pen = self.rule_pens.get(op.width)
            if pen is None:
                pen = self.rule_pens[op.width] = QPen(RULE)
                pen.setWidthF(op.width)
            painter.setPen(pen)
            self.color = None
            painter.drawLine(QPointF(op.x1, op.y1), QPointF(op.x2, op.y2))
        elif isinstance(op, ImageOp):
            self._draw_image(op)
        elif isinstance(op, WatermarkOp):
            self._draw_watermark(op)

    def _draw_image(self, op: ImageOp) -> None:
        image = self.images.get(op.data)
        if image is None:
            image = QImage.fromData(QByteArray(op.data))
            self.images[op.data] = image
        if image.isNull():
            return
        x, y, width, height = op.rect
        scale = min(width / image.width(), height / image.height())
        target = QRectF(x, y, image.width() * scale, image.height() * scale)
        self.painter.drawImage(target, image)

    def _draw_watermark(self, op: WatermarkOp) -> None:
        painter = self.painter
        self.style = self.color = None
        painter.save()
        painter.translate(self.page_width / 2, self.page_height / 2)
        painter.rotate(-45)
        painter.setFont(self.fonts["watermark"])
        painter.setPen(self.pens["watermark"])
        painter.drawText(QRectF(-400, -90, 800, 180), Qt.AlignmentFlag.AlignCenter, op.text)
        painter.restore()


def paint_document(document: PdfDocument) -> bytes:
    """Draw a laid-out statement onto a QPdfWriter and return the PDF bytes with fixed metadata."""
    ensure_gui_application()
    data = QByteArray()
    buffer = QBuffer(data)
    if not buffer.open(QIODevice.OpenModeFlag.WriteOnly):
        raise StatementRenderError("cannot open an in-memory buffer for the PDF")
    writer = QPdfWriter(buffer)
    writer.setResolution(RESOLUTION)
    writer.setPageLayout(QPageLayout(QPageSize(PAGE_SIZE_IDS[document.page_size]), QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0)))
    writer.setTitle(document.title)
    writer.setCreator(PRODUCER)
    writer.setDocumentId(QUuid.fromString(document.document_id))
    writer.setDocumentXmpMetadata(QByteArray(_xmp_packet(document).encode("utf-8")))
    width, height = PAGE_SIZES[document.page_size]

    painter = QPainter()
    if not painter.begin(writer):
        raise StatementRenderError("Qt could not start drawing the PDF")
    try:
        drawer = _Painter(painter, width, height)
        for index, page in enumerate(document.pages):
            if index:
                writer.newPage()
            for op in page:
                drawer.draw(op)
    finally:
        painter.end()
    buffer.close()
    return fix_info_dictionary(bytes(data.data()), document)


def paint_page_image(document: PdfDocument, index: int, dpi: float = 96.0) -> QImage:
    """Draw one laid-out page onto an image (white background) for an on-screen preview."""
    ensure_gui_application()
    width, height = PAGE_SIZES[document.page_size]
    scale = dpi / RESOLUTION
    image = QImage(round(width * scale), round(height * scale), QImage.Format.Format_ARGB32_Premultiplied)
    # Fonts are sized for a 72 dpi device, as in the PDF; the painter scales up to ``dpi``.
    dots_per_metre = round(RESOLUTION / 0.0254)
    image.setDotsPerMeterX(dots_per_metre)
    image.setDotsPerMeterY(dots_per_metre)
    image.fill(QColor("#ffffff"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.scale(scale, scale)
        drawer = _Painter(painter, width, height)
        for op in document.pages[index]:
            drawer.draw(op)
    finally:
        painter.end()
    return image


def render_statement_pdf(data: StatementData, page_size: str = "A4", content_hash: str | None = None) -> bytes:
    """Lay out and draw one statement; return the PDF bytes."""
    ensure_gui_application()
    return paint_document(layout_statement(data, page_size, content_hash))


# Result of rendering one statement's files: its content hash and (format, temporary path, file sha256) per file.
RenderedFiles = tuple[str, list[tuple[str, str, str]]]


def render_statement_files(data: StatementData, formats: tuple[str, ...], page_size: str,
                           target_stem: str) -> RenderedFiles:
    """Write a statement's files as ``<target_stem>.<format>.part-<pid>`` for the caller to move into place."""
    from spm_desktop.exporting.statement_xlsx import render_statement_xlsx

    content_hash = st.content_sha256(data)
    written = []
    for file_format in formats:
        if file_format == "pdf":
            content = render_statement_pdf(data, page_size, content_hash)
        else:
            content = render_statement_xlsx(data)
        temporary = f"{target_stem}.{file_format}.part-{os.getpid()}"
        Path(temporary).write_bytes(content)
        written.append((file_format, temporary, hashlib.sha256(content).hexdigest()))
    return content_hash, written


def render_batch(batch: list[tuple[StatementData, tuple[str, ...], str, str]]) -> list[RenderedFiles]:
    """Render a batch of statements; the entry point of the export's worker processes.

    It lives here, not in the service, so a worker imports Qt and the domain only.
    """
    if any("pdf" in formats for _, formats, _, _ in batch):
        ensure_gui_application()
    return [render_statement_files(*job) for job in batch]


def start_worker() -> None:
    """Prepare a new worker process: offscreen Qt, quiet logging, fonts loaded."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.getLogger().setLevel(logging.WARNING)
    ensure_gui_application()
    _metrics()


def write_statement_pdf(data: StatementData, path: Path, page_size: str = "A4") -> bytes:
    content = render_statement_pdf(data, page_size)
    path.write_bytes(content)
    return content


# --- fixed metadata ------------------------------------------------------------------------------


def _pdf_date(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("D:%Y%m%d%H%M%SZ")


def _pdf_text(text: str) -> str:
    """Encode a PDF text string as UTF-16BE hex with a byte-order mark, safe for any character."""
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _xmp_packet(document: PdfDocument) -> str:
    created = document.created.astimezone(dt.UTC) if document.created.tzinfo else document.created
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    title = _xml_escape(document.title)
    return (
        "<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:pdf="http://ns.adobe.com/pdf/1.3/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
        f'pdf:Producer="{PRODUCER}" xmp:CreatorTool="{PRODUCER}" xmp:CreateDate="{stamp}" '
        f'xmp:ModifyDate="{stamp}" xmp:MetadataDate="{stamp}" xmpMM:DocumentID="uuid:{document.document_id}">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>'
        "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    )


_INFO_OBJECT = re.compile(rb"\n(\d+) 0 obj\n<<\n/Title .*?\nendobj\n", re.DOTALL)
_STARTXREF = re.compile(rb"startxref\n(\d+)")


def fix_info_dictionary(pdf: bytes, document: PdfDocument) -> bytes:
    """Replace the Info dictionary Qt writes (current time, Qt version) with fixed values.

    The objects after the Info dictionary move by the change in its length, so their
    cross-reference offsets are shifted to match. Raises StatementRenderError when the
    file does not have the layout Qt 6 writes (one classic xref table).
    """
    match = _INFO_OBJECT.search(pdf)
    xref_at = pdf.rfind(b"\nxref\n")
    startxref = _STARTXREF.search(pdf, xref_at if xref_at >= 0 else 0)
    if match is None or xref_at < 0 or startxref is None:
        raise StatementRenderError("the PDF written by Qt has an unexpected layout; its metadata cannot be fixed")
    number = match.group(1).decode()
    date = _pdf_date(document.created)
    info = (
        f"\n{number} 0 obj\n<<\n/Title {_pdf_text(document.title)}\n/Creator ({PRODUCER})\n/Producer ({PRODUCER})\n"
        f"/CreationDate ({date})\n/ModDate ({date})\n/Trapped /False\n>>\nendobj\n"
    ).encode("ascii")
    start, end = match.span()
    delta = len(info) - (end - start)
    body = pdf[:start] + info + pdf[end:xref_at]

    lines = pdf[xref_at + 1:startxref.start()].split(b"\n")
    fixed = []
    for line in lines:
        parts = line.split(b" ")
        if len(parts) >= 3 and len(parts[0]) == 10 and parts[2] == b"n":
            offset = int(parts[0])
            if offset >= end:
                offset += delta
            line = b"%010d %s" % (offset, b" ".join(parts[1:]))
        fixed.append(line)
    tail = pdf[startxref.end():]
    new_xref = xref_at + delta
    return body + b"\n" + b"\n".join(fixed) + b"startxref\n" + str(new_xref).encode() + tail

