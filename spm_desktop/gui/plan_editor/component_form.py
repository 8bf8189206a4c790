"""The form of one plan component: the fields of its kind, each with its problems under it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import Decimal

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from spm_desktop.domain.plans import Component, Hold
from spm_desktop.gui.plan_editor.changes import KIND_LABELS, expression_error
from spm_desktop.gui.plan_editor.fields import BoundForm, FieldError, read_decimal, read_text

CREDIT_CHOICES = (("Own credit", "own"), ("Team roll-up", "team"))
BASIS_CHOICES = (("This period", "period"), ("Year to date (true-up)", "ytd"))
METHOD_CHOICES = (("Flat", "flat"), ("Marginal", "marginal"), ("Retroactive", "retroactive"))
BY_CHOICES = (("Attainment (credit / quota)", "attainment"), ("Amount (credit)", "amount"))
GRAIN_SUGGESTIONS = ("period", "deal")
DEFAULT_HOLD_SHARE = Decimal("0.5")


def _decimal_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def _optional_text(text: str, expected: str) -> str | None:
    return read_text(text, expected) or None


def _set_tiers(component: Component, **changes: str) -> Component:
    if component.tiers is None:
        raise FieldError("this component has no tier table")
    return dataclasses.replace(component, tiers=dataclasses.replace(component.tiers, **changes))


def _set_name(component: Component, text: str) -> Component:
    name = read_text(text, "the component name")
    if not name:
        raise FieldError("a component needs a name; type one, such as Bookings commission")
    return dataclasses.replace(component, name=name)


def _set_hold(component: Component, checked: bool) -> Component:
    if not checked:
        return dataclasses.replace(component, hold=None)
    if component.hold is not None:
        return component
    return dataclasses.replace(component, hold=Hold(DEFAULT_HOLD_SHARE, ""))


def _set_hold_share(component: Component, text: str) -> Component:
    share = read_decimal(text, "a share of the line", "0.5 or 50%")
    if share is None or component.hold is None:
        raise FieldError("type the share held back, such as 0.5 or 50%")
    return dataclasses.replace(component, hold=dataclasses.replace(component.hold, share=share))


def _set_hold_until(component: Component, text: str) -> Component:
    if component.hold is None:
        return component
    until = read_text(text, "the date field")
    return dataclasses.replace(component, hold=dataclasses.replace(component.hold, until=until))


class ComponentForm(BoundForm):
    """Fields of one component: what it measures, how it pays, and its gate, cap and hold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("component", parent)
        self.setObjectName("componentForm")
        self.kind_label = QLabel("")
        self.kind_label.setObjectName("componentKind")

        measure = QGroupBox("Component")
        measure_layout = QFormLayout(measure)
        self.add_line(measure_layout, "name", "Name", lambda c: c.name, _set_name)
        measure_layout.addRow("Kind", self.kind_label)
        self.metric_combo = self.add_editable_combo(
            measure_layout, "metric", "Metric", lambda c: c.metric,
            lambda c, text: dataclasses.replace(c, metric=read_text(text, "the metric key")), placeholder="metric key",
            tooltip="The metric whose credit this component pays on, from the workspace's metric definitions")
        self.add_combo(measure_layout, "credit", "Crediting", CREDIT_CHOICES, lambda c: c.credit,
                       lambda c, value: dataclasses.replace(c, credit=value),
                       tooltip="Team roll-up counts the credit of everyone below the participant on the credit "
                               "date, not the participant's own deals")
        self.quota_combo = self.add_editable_combo(
            measure_layout, "quota", "Quota key", lambda c: c.quota or "",
            lambda c, text: dataclasses.replace(c, quota=_optional_text(text, "the quota key")), placeholder="no quota",
            tooltip="Quota key of the imported quotas; needed for attainment")
        self.add_combo(measure_layout, "basis", "Basis", BASIS_CHOICES, lambda c: c.basis,
                       lambda c, value: dataclasses.replace(c, basis=value),
                       tooltip="Year to date tiers the credit and quota of the plan year so far and pays the "
                               "difference to what earlier periods earned")

        pay = QGroupBox("How it pays")
        pay_layout = QFormLayout(pay)
        self.add_combo(pay_layout, "method", "Tier method", METHOD_CHOICES,
                       lambda c: c.tiers.method if c.tiers else None,
                       lambda c, value: _set_tiers(c, method=value),
                       tooltip="Flat: one band, one rate. Marginal: each band's rate on the credit inside the "
                               "band. Retroactive: the rate of the band reached on all credit of the period")
        self.add_combo(pay_layout, "by", "Tiers by", BY_CHOICES, lambda c: c.tiers.by if c.tiers else None,
                       lambda c, value: _set_tiers(c, by=value))
        grain = self.add_editable_combo(
            pay_layout, "grain", "Grain", lambda c: c.tiers.grain if c.tiers else "",
            lambda c, text: _set_tiers(c, grain=read_text(text, "the grain") or "period"),
            tooltip="period tiers the period's total credit; deal looks each deal up on its own amount; "
                    "a deal field (such as order_no) looks up the sum of the deals sharing its value")
        grain.addItems(GRAIN_SUGGESTIONS)
        self.add_line(pay_layout, "amount_per_unit", "Amount per unit", lambda c: _decimal_text(c.amount_per_unit),
                      lambda c, text: dataclasses.replace(
                          c, amount_per_unit=read_decimal(text, "an amount", "100")),
                      placeholder="paid per credited unit")
        self.add_line(pay_layout, "target", "Target", lambda c: _decimal_text(c.target),
                      lambda c, text: dataclasses.replace(c, target=read_decimal(text, "an amount", "5000")),
                      placeholder="payout at 100% attainment, per period")
        self.expression_edit = self.add_line(
            pay_layout, "expression", "Formula", lambda c: c.expression or "",
            lambda c, text: dataclasses.replace(c, expression=_optional_text(text, "the formula")),
            placeholder='if(attainment >= 1.2, 0.01 * credit, 0)',
            tooltip="Earnings of the period; sees credit, quota, attainment, ytd_credit, ytd_quota, "
                    'ytd_attainment, metric("key") and the participant\'s fields')

        limits = QGroupBox("Gate, cap and hold")
        limits_layout = QFormLayout(limits)
        self.add_line(limits_layout, "cap", "Cap per period", lambda c: _decimal_text(c.cap),
                      lambda c, text: dataclasses.replace(c, cap=read_decimal(text, "an amount", "60000")),
                      placeholder="no cap")
        self.gate_edit = self.add_line(
            limits_layout, "gate", "Gate", lambda c: c.gate or "",
            lambda c, text: dataclasses.replace(c, gate=_optional_text(text, "the gate")), placeholder="no gate",
            tooltip="The component pays 0 in a period where this expression is false, "
                    "for example ytd_attainment >= 0.5")
        self.add_check(limits_layout, "hold", "Hold", "Hold back part of each deal's line", lambda c: c.hold is not None,
                       _set_hold)
        self.add_line(limits_layout, "hold_share", "Share held", lambda c: _decimal_text(c.hold.share if c.hold else None),
                      _set_hold_share, placeholder="0.5 or 50%")
        self.add_line(limits_layout, "hold_until", "Released with", lambda c: c.hold.until if c.hold else "",
                      _set_hold_until, placeholder="deal date field, such as service_start_date",
                      tooltip="The held part is paid in the period that contains this date of the deal")

        for edit, key in ((self.gate_edit, "gate"), (self.expression_edit, "expression")):
            self.monospace(edit)
            self.monospace(self.bindings[key].problem_label)
            edit.textChanged.connect(lambda text, key=key: self._check_expression(key, text))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(measure)
        layout.addWidget(pay)
        layout.addWidget(limits)
        self.pay_group = pay

    def set_choices(self, metrics: Iterable[str], quotas: Iterable[str]) -> None:
        """Offer the workspace's metric keys and imported quota keys in the drop-downs."""
        for combo, keys in ((self.metric_combo, metrics), (self.quota_combo, quotas)):
            text = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(sorted(keys))
            combo.setCurrentText(text)
            combo.blockSignals(False)

    def show_component(self, component: Component | None, problems: dict[str, list[str]]) -> None:
        self.setEnabled(component is not None)
        if component is None:
            self.kind_label.setText("")
            self.subject = None
            return
        self.kind_label.setText(KIND_LABELS.get(component.type, component.type))
        self._show_kind_fields(component)
        self.show_subject(component, problems)

    def _show_kind_fields(self, component: Component) -> None:
        kind = component.type
        tiered = component.tiers is not None
        for key in ("method", "by", "grain"):
            self.set_field_visible(key, tiered)
        self.set_field_visible("amount_per_unit", kind == "spif" or component.amount_per_unit is not None)
        self.set_field_visible("target", kind == "bonus" or component.target is not None)
        self.set_field_visible("expression", kind == "formula" or component.expression is not None)
        self.set_field_visible("hold", kind in ("commission", "spif") or component.hold is not None)
        self.set_field_visible("hold_share", component.hold is not None)
        self.set_field_visible("hold_until", component.hold is not None)

    def _check_expression(self, key: str, text: str) -> None:
        # NOTE: Only the syntax is checked, here and when saving. A misspelt variable name
        # is reported when a period is calculated.
        self.set_live_problem(key, expression_error(text) if text.strip() else None)

    def field(self, key: str) -> QWidget:
        return self.bindings[key].widget

    def line(self, key: str) -> QLineEdit:
        widget = self.bindings[key].widget
        assert isinstance(widget, QLineEdit)
        return widget

    def combo(self, key: str) -> QComboBox:
        widget = self.bindings[key].widget
        assert isinstance(widget, QComboBox)
        return widget
