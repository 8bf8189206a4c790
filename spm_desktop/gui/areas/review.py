"""The Review area: the incentive alignment review of a period, one figure at a time with its chart."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from spm_desktop.domain import review as review_domain
from spm_desktop.gui.areas.base import Area, empty_state_label
from spm_desktop.gui.charts import ChartWidget
from spm_desktop.gui.context import AppContext
from spm_desktop.gui.formatting import format_count, format_money, format_ratio
from spm_desktop.gui.models import ListTableModel
from spm_desktop.services import review_service
from spm_desktop.services.context import Workspace

log = logging.getLogger(__name__)

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
ACTUAL_COLOUR = "#4C72B0"
SCENARIO_COLOUR = "#DD8452"
ACCENT_COLOUR = "#C44E52"


# --- values for people ------------------------------------------------------------------


def headline_text(headline: review_domain.Headline) -> str:
    """Format a figure's headline number: a correlation with two decimals, a share as a percentage."""
    if headline.value is None:
        return "n/a"
    if headline.unit == "percent":
        return format_ratio(headline.value)
    if headline.unit == "count":
        return format_count(headline.value)
    return review_domain.format_ratio(headline.value)


def detail_rows(result: review_domain.AlignmentReview, key: str) -> tuple[list[str], list[list[object]]]:
    """Return the header and rows of the detail table of one figure."""
    currency = result.currency
    if key == "pay_for_performance":
        rows = [[p.participant_id, p.name, p.plan, format_ratio(p.attainment), format_money(p.earnings, currency)]
                for p in sorted(result.pay_for_performance.points, key=lambda p: -p.earnings)]
        return ["Participant", "Name", "Plan", "Attainment", "Earnings"], rows
    if key == "top_overlap":
        return _overlap_rows(result)
    if key == "distributions":
        rows = [[b.label, b.participants, format_ratio(b.mean_attainment), format_money(b.mean_earnings, currency),
                 review_domain.format_ratio(b.pay_ratio) if b.pay_ratio is not None else ""]
                for b in result.distributions.bands]
        return ["Attainment band", "Participants", "Mean attainment", "Mean earnings", "Pay / target"], rows
    if key == "cost_of_sales":
        cost = result.cost_of_sales
        rows = [[kind, row.group, row.participants, format_money(row.earnings, currency),
                 format_money(row.credited, currency), format_ratio(row.cost_of_sales)]
                for kind, group in (("Plan", cost.by_plan), ("Region", cost.by_region)) for row in group]
        return ["By", "Group", "Participants", "Earnings", "Credited revenue", "Cost of sales"], rows
    if key == "behaviour_gaps":
        gaps = result.behaviour_gaps
        rows = [["Not paid for", "", "", m.key, "approved primary metric used by no component"]
                for m in gaps.unpaid_primary]
        rows += [["Paid on a weak metric", w.plan, w.component, w.metric, w.reason] for w in gaps.weak_payments]
        return ["Finding", "Plan", "Component", "Metric", "Why"], rows
    if key == "plan_complexity":
        rows = [[r.plan, r.version, r.components, r.conditional_terms, r.exceptions, r.overrides, r.participants,
                 "yes" if r.one_off else ""] for r in result.plan_complexity.rows]
        return ["Plan", "Version", "Components", "Conditional terms", "Exceptions", "Overrides", "Participants",
                "One-off"], rows
    if key == "forecast_distortion" and result.forecast_distortion is not None:
        rows = [[r.plan, r.period, r.deals, r.late_deals, format_ratio(r.late_deal_share),
                 format_ratio(r.late_value_share), format_ratio(r.expected_share), "jump" if r.jump else ""]
                for r in result.forecast_distortion.rows]
        return ["Plan", "Period", "Deals", "Late deals", "Late deal share", "Late value share", "Share of days",
                ""], rows
    return [], []


def _overlap_rows(result: review_domain.AlignmentReview) -> tuple[list[str], list[list[object]]]:
    overlap = result.top_overlap
    names = {p.participant_id: p for p in result.pay_for_performance.points}
    groups = (("Top earner and top performer", overlap.both), ("Top earner only", overlap.earners_only),
              ("Top performer only", overlap.performers_only))
    rows = []
    for label, ids in groups:
        for pid in ids:
            point = names.get(pid)
            rows.append([label, pid, point.name if point else pid,
                         format_ratio(point.attainment) if point else "",
                         format_money(point.earnings, result.currency) if point else ""])
    return ["Group", "Participant", "Name", "Attainment", "Earnings"], rows


# --- charts -----------------------------------------------------------------------------


def _f(value: Decimal | None) -> float:
    # Charts draw in floats; the figures themselves stay exact.
    return float(value) if value is not None else float("nan")


def draw_figure(figure: Figure, result: review_domain.AlignmentReview, key: str) -> None:
    """Draw the chart of one review figure on a matplotlib figure (cleared first)."""
    figure.clear()
    axes = figure.add_subplot(111)
    drawers = {
        "pay_for_performance": _draw_scatter, "top_overlap": _draw_overlap, "distributions": _draw_distribution,
        "cost_of_sales": _draw_cost, "behaviour_gaps": _draw_gaps, "plan_complexity": _draw_complexity,
        "forecast_distortion": _draw_distortion,
    }
    drawers[key](axes, result)
    title = next((h.title for h in result.headlines() if h.key == key), key)
    axes.set_title(f"{title}, {result.period}", fontsize=10)


def _draw_scatter(axes, result: review_domain.AlignmentReview) -> None:
    points = result.pay_for_performance.points
    plans = sorted({p.plan for p in points})
    for plan in plans:
        members = [p for p in points if p.plan == plan]
        axes.scatter([_f(p.attainment) * 100 for p in members], [_f(p.earnings) for p in members], s=18,
                     alpha=0.8, label=plan or None)
    if len(plans) > 1:
        axes.legend(fontsize=8, loc="lower right")
    axes.axvline(100, color="#999", linewidth=0.8, linestyle="--")
    axes.set_xlabel("Attainment (%)")
    axes.set_ylabel(f"Earnings ({result.currency})")
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    rho = result.pay_for_performance.earnings_attainment
    axes.text(0.02, 0.95, f"Spearman {review_domain.format_ratio(rho)}", transform=axes.transAxes, va="top")


def _draw_overlap(axes, result: review_domain.AlignmentReview) -> None:
    overlap = result.top_overlap
    labels = ["Top earners only", "Both", "Top performers only"]
    counts = [len(overlap.earners_only), len(overlap.both), len(overlap.performers_only)]
    axes.bar(labels, counts, color=[SCENARIO_COLOUR, ACTUAL_COLOUR, ACCENT_COLOUR])
    axes.set_ylabel("Participants")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def _draw_distribution(axes, result: review_domain.AlignmentReview) -> None:
    bands = result.distributions.bands
    labels = [band.label for band in bands]
    axes.bar(labels, [band.participants for band in bands], color=ACTUAL_COLOUR)
    axes.set_ylabel("Participants")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelsize=8)
    curve = axes.twinx()
    curve.plot(labels, [_f(band.mean_earnings) for band in bands], color=ACCENT_COLOUR, marker="o")
    curve.set_ylabel(f"Mean earnings ({result.currency})", color=ACCENT_COLOUR)


def _draw_cost(axes, result: review_domain.AlignmentReview) -> None:
    cost = result.cost_of_sales
    rows = [(f"plan {r.group}", r) for r in cost.by_plan] + [(f"region {r.group}", r) for r in cost.by_region]
    rows = [(label, r) for label, r in rows if r.cost_of_sales is not None]
    axes.barh([label for label, _ in rows], [_f(r.cost_of_sales) * 100 for _, r in rows], color=ACTUAL_COLOUR)
    if cost.cost_of_sales is not None:
        axes.axvline(_f(cost.cost_of_sales) * 100, color=ACCENT_COLOUR, linestyle="--", label="overall")
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlabel("Payouts as % of credited revenue")
    axes.invert_yaxis()


def _draw_gaps(axes, result: review_domain.AlignmentReview) -> None:
    gaps = result.behaviour_gaps
    reasons: dict[str, int] = {}
    for weak in gaps.weak_payments:
        reasons[f"paid on {weak.reason}"] = reasons.get(f"paid on {weak.reason}", 0) + 1
    if not gaps.count:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "No findings", ha="center", va="center", fontsize=12, transform=axes.transAxes)
        return
    labels = ["primary metric not paid for", *reasons]
    axes.barh(labels, [len(gaps.unpaid_primary), *reasons.values()], color=ACCENT_COLOUR)
    axes.set_xlabel("Findings")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.invert_yaxis()


def _draw_complexity(axes, result: review_domain.AlignmentReview) -> None:
    rows = result.plan_complexity.rows
    names = [row.plan for row in rows]
    components = [row.components for row in rows]
    terms = [row.conditional_terms for row in rows]
    exceptions = [row.exceptions for row in rows]
    overrides = [row.overrides for row in rows]
    left = [0] * len(rows)
    for values, colour, label in ((components, ACTUAL_COLOUR, "components"),
                                  (terms, SCENARIO_COLOUR, "conditional terms"),
                                  (exceptions, "#8172B3", "exceptions"), (overrides, ACCENT_COLOUR, "overrides")):
        axes.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="lower right", fontsize=8)
    axes.invert_yaxis()


def _draw_distortion(axes, result: review_domain.AlignmentReview) -> None:
    late = result.forecast_distortion
    if late is None:
        return
    plans = sorted({row.plan for row in late.rows})
    for plan in plans:
        rows = [row for row in late.rows if row.plan == plan]
        if all(row.late_value_share is None for row in rows):
            continue  # a plan whose participants own no closed deals, such as managers paid on team credit
        axes.plot([row.period for row in rows], [_f(row.late_value_share) * 100 for row in rows], marker="o",
                  label=plan)
        for row in rows:
            if row.jump:
                axes.annotate("jump", (row.period, _f(row.late_value_share) * 100), color=ACCENT_COLOUR,
                              fontsize=8, textcoords="offset points", xytext=(0, 6), ha="center")
    periods = list(dict.fromkeys(row.period for row in late.rows))
    expected = {row.period: _f(row.expected_share) * 100 for row in late.rows}
    axes.plot(periods, [expected[p] for p in periods], color="#999", linestyle="--", label="share of days")
    axes.set_ylabel(f"Value closed in the last {late.window_weeks} weeks (%)")
    axes.legend(fontsize=8)


# --- the area ---------------------------------------------------------------------------


class ReviewArea(Area):
    title = "Review"

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.review: review_domain.AlignmentReview | None = None
        self.keys: list[str] = []
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_toolbar())
        self.stack = QStackedWidget()
        self.empty = empty_state_label("")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_body())
        layout.addWidget(self.stack, 1)
        self.status = QLabel()
        self.status.setObjectName("reviewStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.on_workspace_changed(context.workspace)

    def _build_toolbar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Period"))
        self.period = QComboBox()
        self.period.setObjectName("reviewPeriod")
        self.period.setEditable(True)
        self.period.setMinimumWidth(140)
        row.addWidget(self.period)
        row.addWidget(QLabel("Late closing: last"))
        self.late_weeks = QSpinBox()
        self.late_weeks.setObjectName("lateWeeks")
        self.late_weeks.setRange(1, 8)
        self.late_weeks.setSuffix(" weeks")
        self.late_weeks.setToolTip("Weeks at the end of each period whose closed deals count as late")
        row.addWidget(self.late_weeks)
        self.run_button = QPushButton("Review")
        self.run_button.setObjectName("runReview")
        self.run_button.clicked.connect(self.run_review)
        row.addWidget(self.run_button)
        self.export_button = QPushButton("Export charts…")
        self.export_button.setObjectName("exportCharts")
        self.export_button.clicked.connect(self._choose_export_folder)
        row.addWidget(self.export_button)
        row.addStretch(1)
        return row

    def _build_body(self) -> QWidget:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.headlines = ListTableModel(["Figure", "Value"], alignments={1: RIGHT})
        self.figure_list = QTableView()
        self.figure_list.setObjectName("figureList")
        self.figure_list.setModel(self.headlines)
        self.figure_list.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.figure_list.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.figure_list.verticalHeader().hide()
        self.figure_list.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.figure_list.selectionModel().currentRowChanged.connect(lambda current, _old: self.show_figure(
            current.row()))
        splitter.addWidget(self.figure_list)

        detail = QWidget()
        column = QVBoxLayout(detail)
        column.setContentsMargins(0, 0, 0, 0)
        self.explanation = QLabel()
        self.explanation.setObjectName("figureExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explanation.setStyleSheet("font-size: 13px; padding: 4px;")
        column.addWidget(self.explanation)
        self.chart = ChartWidget(width=6.5, height=3.6)
        self.chart.setObjectName("figureChart")
        self.chart.setMinimumHeight(300)
        column.addWidget(self.chart, 3)
        self.details = ListTableModel([])
        self.detail_table = QTableView()
        self.detail_table.setObjectName("figureTable")
        self.detail_table.setModel(self.details)
        self.detail_table.verticalHeader().hide()
        self.detail_table.setAlternatingRowColors(True)
        column.addWidget(self.detail_table, 2)
        splitter.addWidget(detail)
        splitter.setSizes([300, 800])
        return splitter

    # -- refresh ---------------------------------------------------------------------------

    def on_workspace_changed(self, workspace: Workspace | None) -> None:
        self.review = None
        self._show_empty("Open a workspace to review how its plans pay for performance." if workspace is None
                         else "Nothing here yet: choose a calculated period and press Review to see pay for "
                              "performance, cost of sales and forecast distortion.")
        self.run_button.setEnabled(workspace is not None)
        self.export_button.setEnabled(False)
        if workspace is not None:
            self.late_weeks.setValue(review_service.window_weeks(workspace))
        self._fill_periods()

    def on_data_changed(self, changes: frozenset[str]) -> None:
        if changes & {"results", "periods", "plans", "metrics", "records"}:
            self._fill_periods()

    def _fill_periods(self) -> None:
        current = self.period.currentText()
        self.period.clear()
        if self.workspace is None:
            return
        self.period.addItems(review_service.reviewable_labels(self.workspace))
        if current:
            self.period.setCurrentText(current)

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.stack.setCurrentIndex(0)

    # -- actions ---------------------------------------------------------------------------

    def run_review(self) -> None:
        label = self.period.currentText().strip()
        if self.workspace is None or not label:
            self.status.setText("Choose or type a period, for example 2017-Q3.")
            return
        self.status.setText(f"Reviewing {label}…")
        self.context.run(f"Reviewing {label}", review_service.review, self.workspace, label,
                         self.late_weeks.value(), on_success=self.show_review, parent=self)

    def show_review(self, result: review_domain.AlignmentReview) -> None:
        self.review = result
        headlines = result.headlines()
        self.keys = [h.key for h in headlines]
        self.headlines.set_rows([[h.title, headline_text(h)] for h in headlines])
        self.stack.setCurrentIndex(1)
        self.export_button.setEnabled(True)
        notes = " ".join(result.notes)
        self.status.setText(f"Review of {result.period} in {result.currency}. {notes}".strip())
        self.figure_list.selectRow(0)
        self.show_figure(0)

    def show_figure(self, row: int) -> None:
        if self.review is None or not 0 <= row < len(self.keys):
            return
        key = self.keys[row]
        headline = self.review.headlines()[row]
        self.explanation.setText(headline.explanation)
        draw_figure(self.chart.figure, self.review, key)
        self.chart.draw()
        header, rows = detail_rows(self.review, key)
        self.details = ListTableModel(header, rows)
        self.detail_table.setModel(self.details)
        self.detail_table.resizeColumnsToContents()

    def _choose_export_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export review charts to")
        if folder:
            self.export_charts(Path(folder))

    def export_charts(self, folder: Path) -> list[Path]:
        """Write one PNG per figure, named review-<period>-<figure>.png, into a folder."""
        if self.review is None:
            return []
        written = []
        for key in self.keys:
            figure = Figure(figsize=(7, 4), layout="constrained")
            draw_figure(figure, self.review, key)
            target = folder / f"review-{self.review.period}-{key}.png"
            figure.savefig(str(target), dpi=120)
            written.append(target)
        self.status.setText(f"Wrote {len(written)} charts to {folder}.")
        return written
