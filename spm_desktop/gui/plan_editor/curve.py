"""The payout curve of the selected commission or bonus, drawn at a sample quota the user can change."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from spm_desktop.domain.plans import Component
from spm_desktop.gui.charts import ChartWidget
from spm_desktop.gui.formatting import format_money
from spm_desktop.gui.plan_editor.bands import parse_decimal
from spm_desktop.services import plan_service

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_QUOTA = Decimal(100000)


class PayoutCurveView(QWidget):
    """Chart of earnings per period against attainment for one component, empty while its bands have errors."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.component: Component | None = None
        self.currency = ""
        self.blocked = False
        self.sample_quota = QLineEdit(f"{DEFAULT_SAMPLE_QUOTA:f}")
        self.sample_quota.setObjectName("sampleQuota")
        self.sample_quota.setToolTip("Quota used to draw the payout curve")
        self.sample_quota.editingFinished.connect(self.draw)
        self.chart = ChartWidget(self, width=5.0, height=3.0)
        self.chart.setObjectName("payoutChart")
        self.chart.setMinimumHeight(240)
        quota_row = QHBoxLayout()
        quota_row.addWidget(QLabel("Curve at quota"))
        quota_row.addWidget(self.sample_quota)
        quota_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(quota_row)
        layout.addWidget(self.chart)

    def show_component(self, component: Component | None, currency: str, blocked: bool) -> None:
        """Draw the curve of ``component``, or a hint instead when ``blocked`` is set because its band table has errors."""
        self.component = component
        self.currency = currency
        self.blocked = blocked
        self.draw()

    def _sample_quota(self) -> Decimal:
        try:
            value = parse_decimal(self.sample_quota.text())
        except (InvalidOperation, ValueError):
            return DEFAULT_SAMPLE_QUOTA
        return value if value > 0 else DEFAULT_SAMPLE_QUOTA

    def points(self) -> list[tuple[Decimal, Decimal]]:
        """Return the points the chart shows for the current component (empty when it has no curve)."""
        component = self.component
        if component is None or component.type not in ("commission", "bonus"):
            return []
        if self.blocked:
            return []
        try:
            return plan_service.curve_of(component, self._sample_quota())
        except (ValueError, IndexError, ArithmeticError) as error:
            log.debug("no payout curve for %s: %s", component.name, error)
            return []

    def draw(self) -> None:
        figure = self.chart.figure
        figure.clear()
        axes = figure.add_subplot(1, 1, 1)
        component = self.component
        points = self.points()
        if not points:
            reason = "Select a commission or bonus to see its payout curve."
            if component is not None and component.type in ("commission", "bonus"):
                reason = "Correct the red cells to see the payout curve."
            axes.text(0.5, 0.5, reason, ha="center", va="center", transform=axes.transAxes, color="#666")
            axes.set_axis_off()
            self.chart.draw()
            return
        currency = self.currency
        # Matplotlib plots floats; the exact values stay in the plan and the tables.
        attainment = [float(point[0]) * 100 for point in points]
        earnings = [float(point[1]) for point in points]
        axes.plot(attainment, earnings, color="#2F5D8A", linewidth=2)
        axes.fill_between(attainment, earnings, color="#2F5D8A", alpha=0.08)
        self._mark_bands(axes, component)
        axes.set_xlabel("Attainment (% of quota)")
        axes.set_ylabel(f"Earnings per period ({currency})")
        quota_text = format_money(self._sample_quota(), currency)
        axes.set_title(f"{component.name} at quota {quota_text}", fontsize=10)  # type: ignore[union-attr]
        axes.grid(True, alpha=0.3)
        axes.yaxis.set_major_formatter(lambda value, _position: f"{value:,.0f}")
        self.chart.draw()

    @staticmethod
    def _mark_bands(axes: Any, component: Component | None) -> None:
        if component is None or component.tiers is None or component.tiers.by != "attainment":
            return
        for band in component.tiers.bands[1:]:
            axes.axvline(float(band.start) * 100, color="#999", linestyle=":", linewidth=1)
