"""The form of a plan's own fields: dates, period, currency, assignment, exchange rates, draw and clawback."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from spm_desktop.domain.periods import PERIOD_KINDS
from spm_desktop.domain.plans import ClawbackTerms, DrawTerms, Plan
from spm_desktop.gui.formatting import format_date
from spm_desktop.gui.plan_editor.fields import (
    BoundForm,
    FieldError,
    read_date,
    read_decimal,
    read_text,
    read_whole_number,
)

PERIOD_LABELS = {"week": "Week", "two_weeks": "Two weeks", "month": "Month", "quarter": "Quarter", "year": "Year"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
FOLLOWS_WORKSPACE = "As the workspace"
PRORATION_CHOICES = (("None", "none"), ("Days on the plan", "days"), ("Whole months on the plan", "months"))
ASSIGNMENT_CHOICES = (("Everyone with a role", "role"), ("Listed participants", "ids"))
RATE_DATE_CHOICES = (("Credit date", "credit_date"), ("Last day of the period", "period_end"))
RATE_TYPE_CHOICES = (("Average", "average"), ("End of day", "end_of_day"))
YEAR_END_CHOICES = (("Carry the balance forward", "carry_forward"), ("Forgive the balance", "forgive"))
CLAWBACK_CHOICES = (("The deal's original line", "original"), ("The current tiers", "current"))
_ID_SEPARATORS = re.compile(r"[,;\n]")


def _set_name(plan: Plan, text: str) -> Plan:
    name = read_text(text, "the plan name")
    if not name:
        raise FieldError("a plan needs a name; type one, such as Account Executive 2017")
    return dataclasses.replace(plan, name=name)


def _set_effective_from(plan: Plan, text: str) -> Plan:
    day = read_date(text, "the first day of the plan")
    if day is None:
        raise FieldError("a plan needs the first day it is in force; type it as YYYY-MM-DD")
    return dataclasses.replace(plan, effective_from=day)


def _set_assignment(plan: Plan, mode: str) -> Plan:
    eligibility = plan.participants
    if mode == "ids":
        ids = eligibility.ids if eligibility.ids is not None else ()
        return dataclasses.replace(plan, participants=dataclasses.replace(eligibility, role=None, ids=ids))
    return dataclasses.replace(plan, participants=dataclasses.replace(eligibility, ids=None))


def parse_ids(text: str) -> tuple[str, ...]:
    """Split participant ids typed with commas, semicolons or line breaks, dropping empty entries."""
    return tuple(part.strip() for part in _ID_SEPARATORS.split(text) if part.strip())


def _set_ids(plan: Plan, text: str) -> Plan:
    ids = tuple(read_text(item, "a participant id") for item in parse_ids(text))
    participants = dataclasses.replace(plan.participants, ids=ids)
    return dataclasses.replace(plan, participants=participants)


def _set_role(plan: Plan, text: str) -> Plan:
    participants = dataclasses.replace(plan.participants, role=read_text(text, "the role") or None)
    return dataclasses.replace(plan, participants=participants)


def _set_fx(plan: Plan, **changes: object) -> Plan:
    return dataclasses.replace(plan, fx=dataclasses.replace(plan.fx, **changes))


def _set_draw(plan: Plan, **changes: object) -> Plan:
    if plan.draw is None:
        raise FieldError("the plan pays no draw; tick Pay a draw first")
    return dataclasses.replace(plan, draw=dataclasses.replace(plan.draw, **changes))


def _set_draw_amount(plan: Plan, text: str) -> Plan:
    amount = read_decimal(text, "an amount per period", "2000")
    if amount is None:
        raise FieldError("type the draw amount per period, such as 2000")
    return _set_draw(plan, amount=amount)


def _set_clawback(plan: Plan, **changes: object) -> Plan:
    if plan.clawback is None:
        raise FieldError("the plan has no clawback terms; tick Claw back reversals first")
    return dataclasses.replace(plan, clawback=dataclasses.replace(plan.clawback, **changes))


class PlanForm(BoundForm):
    """Fields of the plan itself. The components have their own form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("plan", parent)
        self.setObjectName("planForm")
        self.version_label = QLabel("")
        self.version_label.setObjectName("planVersion")
        self.version_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_plan_group())
        layout.addWidget(self._build_assignment_group())
        layout.addWidget(self._build_fx_group())
        layout.addWidget(self._build_draw_group())
        layout.addWidget(self._build_clawback_group())
        layout.addStretch(1)

    def _build_plan_group(self) -> QGroupBox:
        group = QGroupBox("Plan")
        form = QFormLayout(group)
        self.add_line(form, "name", "Name", lambda p: p.name, _set_name,
                      tooltip="A new name saves version 1 of a new plan")
        form.addRow("Version", self.version_label)
        self.add_line(form, "effective_from", "Effective from", lambda p: format_date(p.effective_from),
                      _set_effective_from, placeholder="YYYY-MM-DD")
        self.add_line(form, "effective_to", "Effective to", lambda p: format_date(p.effective_to),
                      lambda p, text: dataclasses.replace(p, effective_to=read_date(text, "the last day")),
                      placeholder="open end (YYYY-MM-DD, inclusive)")
        self.add_line(form, "currency", "Currency", lambda p: p.currency,
                      lambda p, text: dataclasses.replace(p, currency=read_text(text, "the currency").upper()), placeholder="USD",
                      tooltip="Credits in other currencies are converted into this one")
        period_choices = [(PERIOD_LABELS.get(kind, kind), kind) for kind in PERIOD_KINDS]
        self.add_combo(form, "period", "Paid every", period_choices, lambda p: p.period,
                       lambda p, value: dataclasses.replace(p, period=value))
        self.add_line(form, "period_start", "First period starts", lambda p: format_date(p.period_start),
                      lambda p, text: dataclasses.replace(p, period_start=read_date(text, "the first day")),
                      placeholder="YYYY-MM-DD; needed for two-week periods",
                      tooltip="Weeks start on this weekday; two-week cycles repeat every 14 days from it")
        # 0 stands for "not set in the plan": the plan follows the workspace's fiscal year.
        month_choices = [(FOLLOWS_WORKSPACE, 0), *((month, number) for number, month in enumerate(MONTHS, start=1))]
        self.fiscal_combo = self.add_combo(
            form, "fiscal_start_month", "Fiscal year starts", month_choices,
            lambda p: p.fiscal_start_month if p.fiscal_start_stated else 0,
            lambda p, value: dataclasses.replace(p, fiscal_start_month=value or 1, fiscal_start_stated=bool(value)),
            tooltip="A plan that sets its own month must match the workspace's fiscal year to be calculated")
        self.add_combo(form, "quota_proration", "Quota proration", PRORATION_CHOICES, lambda p: p.quota_proration,
                       lambda p, value: dataclasses.replace(p, quota_proration=value),
                       tooltip="How the quota of a period shrinks for a participant who joins or leaves in it")
        return group

    def set_workspace_fiscal_start(self, month: int) -> None:
        """Name the workspace's fiscal start month on the choice that follows it."""
        self.fiscal_combo.setItemText(0, f"{FOLLOWS_WORKSPACE} ({MONTHS[month - 1]})")

    def _build_assignment_group(self) -> QGroupBox:
        group = QGroupBox("Assignment")
        form = QFormLayout(group)
        self.add_combo(form, "assignment", "Covers", ASSIGNMENT_CHOICES,
                       lambda p: "ids" if p.participants.ids is not None else "role", _set_assignment,
                       tooltip="A participant is on one plan per date, between hire and termination date")
        self.add_line(form, "role", "Role", lambda p: p.participants.role or "", _set_role,
                      placeholder="role of the participants, such as Sales Agent")
        self.add_line(form, "ids", "Participant ids", lambda p: ", ".join(p.participants.ids or ()), _set_ids,
                      placeholder="ids separated by commas")
        return group

    def _build_fx_group(self) -> QGroupBox:
        group = QGroupBox("Exchange rates")
        form = QFormLayout(group)
        self.add_combo(form, "fx_rate_date", "Rate taken on", RATE_DATE_CHOICES, lambda p: p.fx.rate_date,
                       lambda p, value: _set_fx(p, rate_date=value))
        self.add_combo(form, "fx_rate_type", "Rate type", RATE_TYPE_CHOICES, lambda p: p.fx.rate_type,
                       lambda p, value: _set_fx(p, rate_type=value))
        self.add_line(form, "fx_max_age_days", "Maximum rate age (days)", lambda p: str(p.fx.max_age_days),
                      lambda p, text: _set_fx(p, max_age_days=read_whole_number(text, "the maximum age")),
                      tooltip="A rate older than this many days is reported as missing, never replaced by 1")
        return group

    def _build_draw_group(self) -> QGroupBox:
        group = QGroupBox("Draw")
        form = QFormLayout(group)
        self.add_check(form, "draw", "Draw", "Pay a draw when earnings fall short", lambda p: p.draw is not None,
                       lambda p, checked: dataclasses.replace(
                           p, draw=(p.draw or DrawTerms(Decimal(0))) if checked else None))
        self.add_line(form, "draw_amount", "Amount per period", lambda p: f"{p.draw.amount:f}" if p.draw else "",
                      _set_draw_amount, placeholder="2000")
        self.add_check(form, "draw_recoverable", "Recoverable", "Recover the draw from later earnings above it",
                       lambda p: p.draw is not None and p.draw.recoverable,
                       lambda p, checked: _set_draw(p, recoverable=checked))
        self.add_combo(form, "draw_year_end", "At year end", YEAR_END_CHOICES,
                       lambda p: p.draw.year_end if p.draw else None, lambda p, value: _set_draw(p, year_end=value))
        return group

    def _build_clawback_group(self) -> QGroupBox:
        group = QGroupBox("Clawback")
        form = QFormLayout(group)
        self.add_check(form, "clawback", "Clawback", "Claw back refunds and credit notes",
                       lambda p: p.clawback is not None,
                       lambda p, checked: dataclasses.replace(
                           p, clawback=(p.clawback or ClawbackTerms()) if checked else None),
                       tooltip="Without clawback terms, a reversal is priced at the current tiers with no window")
        self.add_line(form, "clawback_window_days", "Window (days)",
                      lambda p: str(p.clawback.window_days) if p.clawback else "",
                      lambda p, text: _set_clawback(p, window_days=read_whole_number(text, "the window")),
                      tooltip="A reversal dated within this many days of the deal takes back the deal's line")
        self.add_combo(form, "clawback_rate", "Reversal priced by", CLAWBACK_CHOICES,
                       lambda p: p.clawback.rate if p.clawback else None,
                       lambda p, value: _set_clawback(p, rate=value))
        return group

    def show_plan(self, plan: Plan | None, problems: dict[str, list[str]]) -> None:
        self.setEnabled(plan is not None)
        if plan is None:
            self.subject = None
            return
        self.version_label.setText(f"{plan.version}; saving stores the next version of this name")
        by_ids = plan.participants.ids is not None
        self.set_field_visible("role", not by_ids or plan.participants.role is not None)
        self.set_field_visible("ids", by_ids)
        for key in ("draw_amount", "draw_recoverable", "draw_year_end"):
            self.set_field_visible(key, plan.draw is not None)
        for key in ("clawback_window_days", "clawback_rate"):
            self.set_field_visible(key, plan.clawback is not None)
        self.show_subject(plan, problems)

