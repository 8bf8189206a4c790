"""The Signals area: a manager's team with a sparkline per signal and a diagnosis, and one participant's charts.

The team view shows one row per participant: the primary reason they are behind (or on
track) with its confidence, and for each of the five signals a sparkline over the
earlier periods and the current one. Selecting a row fills the participant view: pipeline
created against what the quota needs, the conversion funnel against peers, days to
close against peers, earnings pace, and forecast category moves. Computing runs in the
background through ``AppContext.run``. Whenever generated rows feed the views, a banner
above both views names them as generated.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain.signals import DIAGNOSIS_TITLES, SignalReport, SignalSettings
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.charts import ChartWidget
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_money, format_ratio
from spm_desktop.gui.sparkline import SPARKLINE_ROLE, Sparkline, SparklineDelegate
from spm_desktop.services import signal_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import ValidationError

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
ALL_MANAGERS = "All managers"
OWN_COLOUR = "#4C72B0"
PEER_COLOUR = "#BBBBBB"
SEGMENT_COLOUR = "#8C8C8C"
NEEDED_COLOUR = "#C44E52"
RELEVANT_CHANGES = frozenset({"records", "results", "settings", "metrics"})
SIGNAL_COLUMNS = ("pipeline", "conversion", "velocity", "earnings", "forecast")
SIGNAL_TITLES = {"pipeline": "Pipeline pace", "conversion": "Conversion", "velocity": "Days to close",
                 "earnings": "Earnings pace", "forecast": "Forecast risk"}
DIAGNOSIS_COLOURS = {"on_track": "#2E7D32", "low_activity": "#C62828", "weak_conversion": "#C62828",
                     "slow_velocity": "#C62828", "territory_capacity": "#C62828", "not_assessed": "#757575"}


# --- rows of the team view ---------------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    """One participant in the team view, already formatted for people."""

    participant_id: str
    name: str
    manager: str
    diagnosis: str
    confidence: float
    evidence: str
    sparklines: dict[str, Sparkline]


def _number(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _pace_status(pace: float | None, settings: SignalSettings) -> str:
    if pace is None:
        return "none"
    if pace < settings.behind_pace:
        return "behind"
    return "watch" if pace < 1.0 else "ok"


def _index_status(index: float | None, threshold: float, *, higher_is_worse: bool = False) -> str:
    if index is None:
        return "none"
    if higher_is_worse:
        if index > threshold:
            return "behind"
        return "watch" if index > 1.1 else "ok"
    if index < threshold:
        return "behind"
    return "watch" if index < 0.9 else "ok"


def _risk_status(risk: float | None, peers: float | None) -> str:
    if risk is None:
        return "none"
    benchmark = peers if peers is not None else 0.2
    if risk > max(1.5 * benchmark, 0.2):
        return "behind"
    return "watch" if risk > benchmark else "ok"


def _series_lookup(report: SignalReport) -> dict[tuple[str, str], tuple[float | None, ...]]:
    """Return each (participant, signal)'s values oldest first, None where a period has no value.

    The report's series lists, per signal, every participant's windows in order, so each
    signal's rows reshape into a participants x windows grid.
    """
    windows = len(report.windows)
    lookup: dict[tuple[str, str], tuple[float | None, ...]] = {}
    for signal, group in report.series.groupby("signal", sort=False):
        ids = group["participant_id"].to_numpy(dtype=object).reshape(-1, windows)[:, 0]
        grid = group["value"].to_numpy(dtype=float).reshape(-1, windows)
        for participant, values in zip(ids, grid, strict=True):
            lookup[(str(participant), str(signal))] = tuple(None if np.isnan(value) else float(value)
                                                            for value in values)
    return lookup


def team_rows(report: SignalReport, manager: str | None = None) -> list[TeamRow]:
    """Return the rows of the team view, behind-pace participants first, then by name."""
    settings = report.settings
    lookup = _series_lookup(report)
    table = report.table if manager is None else report.table[report.table["manager_id"] == manager]
    rows = []
    for record in table.to_dict("records"):
        pid = str(record["participant_id"])
        empty: tuple[float | None, ...] = (None,) * len(report.windows)

        def values(signal: str, participant: str = pid, blank: tuple = empty) -> tuple[float | None, ...]:
            return lookup.get((participant, signal), blank)

        pipeline = _number(record["pipeline_pace"])
        conversion = _number(record["conversion_rate"])
        days = _number(record["days_to_close"])
        earnings = _number(record["earnings_pace"])
        risk = _number(record["forecast_risk"])
        sparklines = {
            "pipeline": Sparkline(values("pipeline"), "n/a" if pipeline is None else f"{pipeline:.2f}",
                                  _pace_status(pipeline, settings), reference=1.0),
            "conversion": Sparkline(values("conversion"), "n/a" if conversion is None else format_ratio(conversion, 0),
                                    _index_status(_number(record["conversion_index"]), settings.weak_conversion)),
            "velocity": Sparkline(values("velocity"), "n/a" if days is None else f"{days:.0f} d",
                                  _index_status(_number(record["velocity_index"]), settings.slow_velocity,
                                                higher_is_worse=True)),
            "earnings": Sparkline(values("earnings"), "no results" if earnings is None else f"{earnings:.2f}",
                                  _pace_status(earnings, settings), reference=1.0),
            "forecast": Sparkline(values("forecast"), "n/a" if risk is None else format_ratio(risk, 0),
                                  _risk_status(risk, _number(record["forecast_risk_peers"]))),
        }
        rows.append(TeamRow(pid, str(record["name"] or pid), str(record["manager_id"] or ""),
                            str(record["diagnosis"]), float(record["confidence"]), str(record["evidence"]),
                            sparklines))
    rows.sort(key=lambda row: (row.diagnosis == "on_track", row.name))
    return rows


class TeamModel(QAbstractTableModel):
    """The team view's rows; sparkline columns carry a ``Sparkline`` under ``SPARKLINE_ROLE``."""

    HEADER = ("Participant", "Manager", "Diagnosis", "Confidence",
              *(SIGNAL_TITLES[name] for name in SIGNAL_COLUMNS), "Evidence")
    FIRST_SIGNAL = 4

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[TeamRow] = []

    def set_rows(self, rows: list[TeamRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> TeamRow:
        return self._rows[row]

    def rows(self) -> list[TeamRow]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADER)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADER[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        signal = self._signal_of(column)
        if role == SPARKLINE_ROLE and signal is not None:
            return row.sparklines[signal]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, signal)
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.evidence.replace("; ", "\n")
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            from PySide6.QtGui import QColor

            return QColor(DIAGNOSIS_COLOURS.get(row.diagnosis, "#000000"))
        if role == Qt.ItemDataRole.UserRole:
            return row.participant_id
        return None

    def _signal_of(self, column: int) -> str | None:
        offset = column - self.FIRST_SIGNAL
        return SIGNAL_COLUMNS[offset] if 0 <= offset < len(SIGNAL_COLUMNS) else None

    @staticmethod
    def _display(row: TeamRow, column: int, signal: str | None) -> str:
        if signal is not None:
            return row.sparklines[signal].text
        values = {0: row.name, 1: row.manager, 2: DIAGNOSIS_TITLES.get(row.diagnosis, row.diagnosis),
                  3: f"{row.confidence:.2f}", len(TeamModel.HEADER) - 1: row.evidence}
        return values.get(column, "")


# --- charts of the participant view ------------------------------------------------------


def _no_data(axes: object, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="#666666", wrap=True)
    axes.set_xticks([])
    axes.set_yticks([])


def draw_pipeline(figure: object, report: SignalReport, participant_id: str) -> None:
    """Bars of pipeline created per period against the line of what the quota needed."""
    axes = figure.add_subplot(111)
    rows = report.pipeline[report.pipeline["participant_id"] == participant_id]
    axes.set_title("Pipeline created vs needed", fontsize=10)
    if rows.empty:
        _no_data(axes, "No opportunities")
        return
    labels = list(rows["period"])
    created = rows["created_value"].to_numpy(dtype=float) / 10_000
    needed = rows["needed_value"].to_numpy(dtype=float) / 10_000
    positions = np.arange(len(labels))
    axes.bar(positions, created, color=OWN_COLOUR, label="created")
    axes.plot(positions, needed, color=NEEDED_COLOUR, marker="o", label="needed by the quota")
    if report.as_of < report.period.end:
        labels[-1] = f"{labels[-1]}\nto {report.as_of:%m-%d}"
    axes.set_xticks(positions, labels, fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.yaxis.set_major_formatter(lambda value, _position: f"{value / 1000:,.0f}k")
    axes.legend(fontsize=7, loc="upper left")


def draw_funnel(figure: object, report: SignalReport, participant_id: str) -> None:
    """Share of exits that moved forward, per stage: the participant, peers and the whole segment."""
    axes = figure.add_subplot(111)
    rows = report.funnel[report.funnel["participant_id"] == participant_id]
    axes.set_title("Stage conversion vs peers", fontsize=10)
    if rows.empty or rows["exits"].sum() == 0:
        _no_data(axes, "No opportunity left a stage this period")
        return
    positions = np.arange(len(rows))
    width = 0.27
    for offset, column, colour, label in ((-width, "rate", OWN_COLOUR, "own"),
                                          (0.0, "peer_rate", PEER_COLOUR, "peers"),
                                          (width, "segment_rate", SEGMENT_COLOUR, "segment")):
        values = rows[column].to_numpy(dtype=float)
        axes.bar(positions + offset, np.nan_to_num(values), width, color=colour, label=label)
    stage_labels = [f"{stage}\n({exits} exits)" for stage, exits in zip(rows["stage"], rows["exits"], strict=True)]
    axes.set_xticks(positions, stage_labels, fontsize=8)
    axes.set_ylim(0, 1.25)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axes.yaxis.set_major_formatter(lambda value, _position: f"{value:.0%}")
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(fontsize=7, loc="upper center", ncol=3)


def draw_velocity(figure: object, report: SignalReport, participant_id: str) -> None:
    """Histogram of days to close of the deals won this period, the participant's against the peers'."""
    axes = figure.add_subplot(111)
    axes.set_title("Days to close (won this period)", fontsize=10)
    table = report.table.set_index("participant_id")
    own = report.won_days[report.won_days["participant_id"] == participant_id]["days_to_close"]
    if participant_id not in table.index:
        _no_data(axes, "Not in this report")
        return
    row = table.loc[participant_id]
    peer_ids = table[(table["segment"] == row["segment"]) & (table["role"] == row["role"])].index
    peers = report.won_days[report.won_days["participant_id"].isin(peer_ids.drop(participant_id))]["days_to_close"]
    if own.empty and peers.empty:
        _no_data(axes, "No deal won this period")
        return
    upper = max(float(own.max()) if len(own) else 0.0, float(peers.max()) if len(peers) else 0.0, 1.0)
    bins = np.linspace(0, upper, 13)
    if len(peers):
        axes.hist(peers, bins=bins, color=PEER_COLOUR, label=f"peers ({len(peers)})", density=True)
    if len(own):
        axes.hist(own, bins=bins, color=OWN_COLOUR, alpha=0.75, label=f"own ({len(own)})", density=True)
        axes.axvline(float(own.median()), color=NEEDED_COLOUR, linestyle="--", linewidth=1, label="own median")
    axes.set_yticks([])
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel("days", fontsize=8)
    axes.legend(fontsize=7)


def draw_earnings(figure: object, report: SignalReport, participant_id: str) -> None:
    """Earnings pace per period (earnings against the target due by the period's last counted day)."""
    axes = figure.add_subplot(111)
    axes.set_title("Earnings pace", fontsize=10)
    series = report.series[(report.series["participant_id"] == participant_id) & (report.series["signal"] == "earnings")]
    values = series["value"].to_numpy(dtype=float)
    if series.empty or np.isnan(values).all():
        _no_data(axes, "No calculation results for these periods:\ncalculate a period to see earnings pace")
        return
    positions = np.arange(len(series))
    axes.plot(positions, values, color=OWN_COLOUR, marker="o")
    axes.axhline(1.0, color=PEER_COLOUR, linestyle="--", linewidth=1, label="on target")
    axes.set_xticks(positions, list(series["period"]), fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=7)


def draw_forecast(figure: object, report: SignalReport, participant_id: str) -> None:
    """Forecast category moves this period: drops while open in red, losses in grey, the rest in blue."""
    axes = figure.add_subplot(111)
    axes.set_title("Forecast category moves this period", fontsize=10)
    moves = report.forecast_moves[report.forecast_moves["participant_id"] == participant_id]
    if moves.empty:
        _no_data(axes, "No forecast category changed")
        return
    from spm_desktop.domain.signals import FORECAST_RANKS

    moves = moves.sort_values("count")
    labels = [f"{a} → {b}" for a, b in zip(moves["from_category"], moves["to_category"], strict=True)]
    colours = [_move_colour(a, b, FORECAST_RANKS) for a, b in
               zip(moves["from_category"], moves["to_category"], strict=True)]
    positions = np.arange(len(labels))
    axes.barh(positions, moves["count"], color=colours)
    axes.set_yticks(positions, labels, fontsize=7)
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel("deals", fontsize=8)


def _move_colour(source: str, target: str, ranks: dict[str, int]) -> str:
    if target == "omitted":
        return SEGMENT_COLOUR
    if ranks[target] < ranks[source]:
        return NEEDED_COLOUR
    return OWN_COLOUR


CHARTS = (("chartPipeline", draw_pipeline), ("chartFunnel", draw_funnel), ("chartVelocity", draw_velocity),
          ("chartEarnings", draw_earnings), ("chartForecast", draw_forecast))


class ParticipantPanel(QWidget):
    """One participant: the diagnosis with its evidence, and five charts that export to PNG."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: SignalReport | None = None
        self._all_rows: list[TeamRow] = []
        self.participant_id: str | None = None

        self.heading = QLabel("Select a participant in the team view")
        self.heading.setObjectName("signalsParticipantHeading")
        self.heading.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.evidence = QLabel()
        self.evidence.setObjectName("signalsEvidence")
        self.evidence.setWordWrap(True)
        self.evidence.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.export_button = QPushButton("Export charts…")
        self.export_button.setObjectName("signalsExportCharts")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._ask_export)

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.export_button)
        grid = QGridLayout()
        self.charts: dict[str, ChartWidget] = {}
        for position, (name, _draw) in enumerate(CHARTS):
            chart = ChartWidget(self, width=4.2, height=2.8)
            chart.setObjectName(name)
            chart.setMinimumSize(300, 210)
            self.charts[name] = chart
            grid.addWidget(chart, position // 3, position % 3)
        grid.addWidget(self.evidence, 1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(grid, 1)

    def show_participant(self, report: SignalReport, participant_id: str) -> None:
        self.report = report
        self.participant_id = participant_id
        row = report.participant(participant_id)
        title = DIAGNOSIS_TITLES.get(row["diagnosis"], row["diagnosis"])
        self.heading.setText(f"{row['name']} — {title} (confidence {row['confidence']:.2f})")
        lines = [line for line in str(row["evidence"]).split("; ") if line]
        detail = (f"Quota {format_money(_quota_money(row['quota']))}, credit so far "
                  f"{format_money(_quota_money(row['credit']))}, {row['peer_count']} peers in "
                  f"{row['segment'] or 'the same role'}")
        details = [detail]
        days = _number(row["days_in_stage"])
        if days is not None:
            peers = _number(row["days_in_stage_peers"])
            against = f" (peers {peers:.0f})" if peers is not None else ""
            details.append(f"Open opportunities: {row['open_count']}, median {days:.0f} days in their current "
                           f"stage{against}, {row['stalled_count']} stalled")
        self.evidence.setText("\n".join(f"• {line}" for line in [*lines, *details]))
        for name, draw in CHARTS:
            chart = self.charts[name]
            chart.clear()
            draw(chart.figure, report, participant_id)
            chart.draw()
        self.export_button.setEnabled(True)

    def export_charts(self, folder: Path) -> list[Path]:
        """Write each chart as PNG into ``folder``, named after the participant, the period and the chart."""
        if self.report is None or self.participant_id is None:
            return []
        folder.mkdir(parents=True, exist_ok=True)
        safe_id = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.participant_id)
        written = []
        for name, chart in self.charts.items():
            path = folder / f"signals-{self.report.period.label}-{safe_id}-{name.removeprefix('chart').lower()}.png"
            chart.export_png(path)
            written.append(path)
        return written

    def _ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export charts to folder")
        if folder:
            self.export_charts(Path(folder))


def _compute_with_rows(workspace: Workspace, period: str, *, as_of: dt.date, progress: object,
                       cancel: object) -> tuple[SignalReport, list[TeamRow]]:
    """Compute the report and format every team row in the worker thread, off the GUI thread."""
    report = signal_service.compute(workspace, period, as_of=as_of, progress=progress, cancel=cancel)
    return report, team_rows(report)


def _update_settings(changes: dict[str, object], workspace: Workspace, *, progress: object,
                     cancel: object) -> SignalSettings:
    return signal_service.update_settings(workspace, changes)


def _quota_money(units: object) -> object:
    from decimal import Decimal

    if units is None or units is pd.NA:
        return None
    return (Decimal(int(units)) / 10_000).quantize(Decimal("0.01"))


# --- thresholds ----------------------------------------------------------------------------

SETTING_LABELS = {
    "segment": "Peer segment (participant field)",
    "history_periods": "Earlier periods compared",
    "quota_key": "Quota key (empty: automatic)",
    "open_stages": "Open stages, in order",
    "won_stages": "Won stages",
    "lost_stages": "Lost stages",
    "watched_categories": "Watched forecast categories",
    "behind_pace": "Behind when pace is under",
    "low_activity": "Low activity when index is under",
    "weak_conversion": "Weak conversion when index is under",
    "slow_velocity": "Slow when velocity index is over",
    "stalled_share": "Slow when stalled share is over",
    "low_capacity": "Territory capacity when pipeline pace is under",
    "stall_quantile": "Stalled beyond this quantile of stays",
    "min_sample": "Fewer exits than this lower confidence",
    "repeat_slips": "Slips before a deal keeps slipping",
    "default_coverage": "Coverage needed without history",
    "variable_share": "Incentive share of OTE without a target",
}


class ThresholdsDialog(QDialog):
    """Edit the ``signals.*`` settings; ``changed_values`` returns what differs from the values shown first."""

    def __init__(self, values: dict[str, object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signalsThresholdsDialog")
        self.setWindowTitle("Signal thresholds")
        self._initial = dict(values)
        self.editors: dict[str, QWidget] = {}
        form = QFormLayout()
        for name, value in values.items():
            editor = self._editor(value, name)
            editor.setObjectName(f"setting-{name}")
            self.editors[name] = editor
            form.addRow(SETTING_LABELS.get(name, name), editor)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        note = QLabel("Defaults and the rules they feed are described in docs/signals.md.")
        note.setStyleSheet("color: #666;")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    @staticmethod
    def _editor(value: object, name: str) -> QWidget:
        if isinstance(value, bool):
            raise TypeError(f"setting {name} is a flag, which this dialog does not edit")
        if isinstance(value, int):
            spin = QSpinBox()
            spin.setRange(0, 1000)
            spin.setValue(value)
            return spin
        if isinstance(value, float):
            double = QDoubleSpinBox()
            double.setRange(0.0, 100.0)
            double.setDecimals(2)
            double.setSingleStep(0.05)
            double.setValue(value)
            return double
        if isinstance(value, list):
            return QLineEdit(", ".join(str(item) for item in value))
        return QLineEdit("" if value is None else str(value))

    def current_values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name, editor in self.editors.items():
            initial = self._initial[name]
            if isinstance(editor, QSpinBox | QDoubleSpinBox):
                values[name] = editor.value()
            elif isinstance(initial, list):
                values[name] = [part.strip() for part in editor.text().split(",") if part.strip()]
            else:
                text = editor.text().strip()
                values[name] = text or None
        return values

    def changed_values(self) -> dict[str, object]:
        return {name: value for name, value in self.current_values().items() if value != self._initial[name]}


# --- the area ------------------------------------------------------------------------------


class SignalsArea(Area):
    """Team and participant views of the early performance signals of one period."""

    title = "Signals"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.report: SignalReport | None = None
        self._all_rows: list[TeamRow] = []

        self.period_box = QComboBox()
        self.period_box.setObjectName("signalsPeriod")
        self.period_box.setEditable(True)
        self.period_box.setMinimumWidth(110)
        self.period_box.currentTextChanged.connect(self._period_changed)
        self.as_of_edit = QDateEdit()
        self.as_of_edit.setObjectName("signalsAsOf")
        self.as_of_edit.setCalendarPopup(True)
        self.as_of_edit.setDisplayFormat("yyyy-MM-dd")
        self.manager_box = QComboBox()
        self.manager_box.setObjectName("signalsManager")
        self.manager_box.setMinimumWidth(170)
        self.manager_box.currentTextChanged.connect(self._fill_team)
        self.compute_button = QPushButton("Compute signals")
        self.compute_button.setObjectName("signalsCompute")
        self.compute_button.clicked.connect(self.compute)
        self.seed_box = QSpinBox()
        self.seed_box.setObjectName("signalsSeed")
        self.seed_box.setRange(0, 1_000_000)
        self.seed_box.setPrefix("seed ")
        self.generate_button = QPushButton("Generate demo history")
        self.generate_button.setObjectName("signalsGenerate")
        self.generate_button.setToolTip("Replace the generated stage history and activities (marked as generated) "
                                        "of deals and participants that have none imported")
        self.generate_button.clicked.connect(self.generate)
        self.thresholds_button = QPushButton("Thresholds…")
        self.thresholds_button.setObjectName("signalsThresholds")
        self.thresholds_button.clicked.connect(self.edit_thresholds)
        self.thresholds_dialog: ThresholdsDialog | None = None
        self.export_table_button = QPushButton("Export table…")
        self.export_table_button.setObjectName("signalsExportTable")
        self.export_table_button.setEnabled(False)
        self.export_table_button.clicked.connect(self._ask_export_table)

        bar = QHBoxLayout()
        for label, widget in (("Period", self.period_box), ("As of", self.as_of_edit),
                              ("Team", self.manager_box)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.compute_button)
        bar.addWidget(self.thresholds_button)
        bar.addWidget(self.export_table_button)
        bar.addStretch(1)
        bar.addWidget(self.seed_box)
        bar.addWidget(self.generate_button)

        self.banner = QLabel()
        self.banner.setObjectName("signalsGeneratedBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #FFF3CD; color: #664D03; padding: 6px; border: 1px solid #FFE69C;")
        self.banner.hide()
        self.status = QLabel()
        self.status.setObjectName("signalsStatus")

        self.model = TeamModel()
        self.team_table = QTableView()
        self.team_table.setObjectName("signalsTeamTable")
        self.team_table.setModel(self.model)
        self.team_table.setItemDelegate(SparklineDelegate(self.team_table))
        self.team_table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.team_table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.team_table.verticalHeader().setVisible(False)
        self.team_table.verticalHeader().setDefaultSectionSize(32)
        self.team_table.setWordWrap(False)
        header = self.team_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.team_table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.team_table.doubleClicked.connect(lambda _index: self.tabs.setCurrentWidget(self.participant))

        self.participant = ParticipantPanel()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("signalsTabs")
        self.tabs.addTab(self.team_table, "Team")
        self.tabs.addTab(self.participant, "Participant")

        self.empty = empty_state_label("Open a workspace to see early performance signals.")
        self.stack = QStackedWidget()
        self.stack.setObjectName("signalsStack")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.status)
        self.on_workspace_changed(context.workspace)

    # --- reacting to the workspace ---

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.report = None
        self._all_rows = []
        self.model.set_rows([])
        self.export_table_button.setEnabled(False)
        self.banner.hide()
        self.status.clear()
        enabled = workspace is not None
        for widget in (self.compute_button, self.generate_button, self.thresholds_button, self.period_box,
                       self.as_of_edit):
            widget.setEnabled(enabled)
        if workspace is None:
            self.empty.setText("Open a workspace to see early performance signals.")
            self.stack.setCurrentWidget(self.empty)
            return
        periods = signal_service.period_choices(workspace)
        self.period_box.blockSignals(True)
        self.period_box.clear()
        self.period_box.addItems(periods)
        self.period_box.blockSignals(False)
        if periods:
            self._period_changed(periods[0])
            self.empty.setText("Choose a period and a team, then press Compute signals: each participant's "
                               "pipeline, conversion, velocity, earnings pace and forecast movement appear here, "
                               "with the reason anyone is behind.")
        else:
            self.empty.setText("Nothing here yet: signals per participant (pipeline, conversion, velocity, earnings "
                               "pace, forecast movement) and the reason anyone is behind appear here once deals "
                               "are imported.")
        self.stack.setCurrentWidget(self.empty)

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if self.report is not None and changes & RELEVANT_CHANGES and not self.context.busy:
            self.compute()

    def _period_changed(self, label: str) -> None:
        if self.workspace is None or not label.strip():
            return
        try:
            period = signal_service.resolve_period(self.workspace, label.strip())
        except ValidationError:  # an unfinished label while typing; compute reports it
            return
        as_of = min(period.end, dt.datetime.now(dt.UTC).date())
        self.as_of_edit.setDate(QDate(as_of.year, as_of.month, as_of.day))

    # --- operations ---

    def compute(self) -> None:
        """Compute the signals of the chosen period in the background, then fill both views."""
        if self.workspace is None:
            return
        period = self.period_box.currentText().strip()
        if not period:
            self.status.setText("Choose or type a period first, for example 2017-Q3.")
            return
        chosen = self.as_of_edit.date()
        as_of = dt.date(chosen.year(), chosen.month(), chosen.day())
        task = functools.partial(_compute_with_rows, as_of=as_of)
        self.context.run(f"Computing signals for {period}", task, self.workspace, period,
                         on_success=self._show_report, parent=self)

    def generate(self) -> None:
        """Replace the generated demo history with the chosen seed, in the background."""
        if self.workspace is None:
            return
        seed = self.seed_box.value()
        self.context.run("Generating demo history", signal_service.generate_history, self.workspace, seed,
                         on_success=self._generated, changes=("records",), parent=self)

    def edit_thresholds(self) -> None:
        """Open the thresholds dialog; accepting it stores the changed settings in the background."""
        if self.workspace is None:
            return
        dialog = ThresholdsDialog(signal_service.current_settings(self.workspace), self)
        dialog.accepted.connect(lambda: self._save_thresholds(dialog))
        self.thresholds_dialog = dialog
        dialog.open()

    def _save_thresholds(self, dialog: ThresholdsDialog) -> None:
        changes = dialog.changed_values()
        if not changes or self.workspace is None:
            return
        task = functools.partial(_update_settings, changes)
        self.context.run("Saving signal thresholds", task, self.workspace, changes=("settings",), parent=self)

    def _generated(self, summary: signal_service.GenerateSummary) -> None:
        self.status.setText(f"Generated {summary.stage_rows:,} stage changes and {summary.activity_rows:,} "
                            f"activity rows (seed {summary.seed}).")
        if self.report is None:
            self.compute()

    def _show_report(self, result: tuple[SignalReport, list[TeamRow]]) -> None:
        report, self._all_rows = result
        self.report = report
        banner = signal_service.describe_generated(report)
        self.banner.setText(banner)
        self.banner.setVisible(bool(banner))
        current = self.manager_box.currentText()
        self.manager_box.blockSignals(True)
        self.manager_box.clear()
        self.manager_box.addItem(ALL_MANAGERS)
        self.manager_box.addItems(signal_service.manager_choices(report))
        if current and self.manager_box.findText(current) >= 0:
            self.manager_box.setCurrentText(current)
        self.manager_box.blockSignals(False)
        self.stack.setCurrentWidget(self.tabs)
        self.export_table_button.setEnabled(True)
        self._fill_team()

    def _fill_team(self, *_args: object) -> None:
        if self.report is None:
            return
        manager = self.manager_box.currentText()
        if manager in ("", ALL_MANAGERS):
            rows = list(self._all_rows)
        else:
            rows = [row for row in self._all_rows if row.manager == manager]
        self.model.set_rows(rows)
        self.team_table.resizeColumnsToContents()
        for column in range(TeamModel.FIRST_SIGNAL, TeamModel.FIRST_SIGNAL + len(SIGNAL_COLUMNS)):
            self.team_table.setColumnWidth(column, 150)
        behind = sum(1 for row in rows if row.diagnosis != "on_track")
        count = len(self.report.problems)
        warnings = f"; {count} warning{'s' if count != 1 else ''} (hover for details)" if count else ""
        self.status.setText(f"{len(rows)} participants, {self.report.period.label} as of {self.report.as_of}: "
                            f"{behind} behind pace or not assessed{warnings}")
        if self.report.problems:
            self.status.setToolTip("\n".join(str(problem) for problem in self.report.problems))
        if rows:
            self.team_table.selectRow(0)

    def export_table(self, path: Path) -> int:
        """Write the shown team's signals to a CSV file (text cells safe from formula injection); return the rows."""
        if self.report is None:
            return 0
        manager = self.manager_box.currentText()
        return signal_service.export_csv(self.report, path, None if manager in ("", ALL_MANAGERS) else manager)

    def _ask_export_table(self) -> None:
        name = f"signals-{self.report.period.label}.csv" if self.report is not None else "signals.csv"
        path, _filter = QFileDialog.getSaveFileName(self, "Export signals", name, "CSV files (*.csv)")
        if path:
            count = self.export_table(Path(path))
            self.status.setText(f"Wrote {count} participants to {path}")

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.report is None or not current.isValid():
            return
        self.participant.show_participant(self.report, self.model.row_at(current.row()).participant_id)
