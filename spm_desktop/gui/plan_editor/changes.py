"""Plan edits as pure functions, and the editor field that each validation problem belongs to.

Nothing here imports Qt. Every function takes a frozen ``Plan`` and returns a new one,
so the undo stack can keep both states.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from spm_desktop.domain.expressions import ExpressionError, compile_expression
from spm_desktop.domain.plans import Band, Component, CurvePoint, Eligibility, Plan, Tiers
from spm_desktop.domain.problems import Problem

KIND_LABELS = {"commission": "Commission", "spif": "SPIF", "bonus": "Bonus", "formula": "Formula"}


# -- plans and components -----------------------------------------------------------------


def blank_plan(today: dt.date) -> Plan:
    """Return a new quarterly plan without components, effective from January 1 of ``today``'s year."""
    return Plan(
        name="New plan",
        version=1,
        effective_from=dt.date(today.year, 1, 1),
        effective_to=None,
        currency="USD",
        period="quarter",
        participants=Eligibility(),
        components=(),
    )


def unique_component_name(plan: Plan, base: str) -> str:
    """Return ``base``, or ``base 2``, ``base 3`` ... when the plan already has a component of that name."""
    names = {component.name for component in plan.components}
    if base not in names:
        return base
    number = 2
    while f"{base} {number}" in names:
        number += 1
    return f"{base} {number}"


def new_component(plan: Plan, kind: str, metric: str) -> Component:
    """Return a component of ``kind`` to start from, named uniquely within the plan.

    The fields a kind requires and that have no sensible default (a SPIF amount, a bonus
    target and quota key, a formula expression) are left empty, so validation names them.
    """
    name = unique_component_name(plan, KIND_LABELS[kind])
    if kind == "commission":
        tiers = Tiers("flat", (Band(Decimal(0), Decimal(0)),), by="amount")
        return Component(name, kind, metric, tiers=tiers)
    if kind == "bonus":
        curve = (CurvePoint(Decimal(0), Decimal(0)), CurvePoint(Decimal(1), Decimal(1)))
        return Component(name, kind, metric, curve=curve)
    return Component(name, kind, metric)


def with_component(plan: Plan, row: int, component: Component) -> Plan:
    components = list(plan.components)
    components[row] = component
    return dataclasses.replace(plan, components=tuple(components))


def insert_component(plan: Plan, row: int, component: Component) -> Plan:
    components = list(plan.components)
    components.insert(row, component)
    return dataclasses.replace(plan, components=tuple(components))


def duplicate_component(plan: Plan, row: int) -> Plan:
    """Insert a copy of the component at ``row`` right after it, named "<name> copy"."""
    original = plan.components[row]
    copy = dataclasses.replace(original, name=unique_component_name(plan, f"{original.name} copy"))
    return insert_component(plan, row + 1, copy)


def remove_component(plan: Plan, row: int) -> Plan:
    components = list(plan.components)
    del components[row]
    return dataclasses.replace(plan, components=tuple(components))


def move_component(plan: Plan, row: int, offset: int) -> Plan:
    """Swap the component at ``row`` with its neighbour ``offset`` rows away (-1 up, +1 down)."""
    target = row + offset
    components = list(plan.components)
    components[row], components[target] = components[target], components[row]
    return dataclasses.replace(plan, components=tuple(components))


# -- checks the editor adds to validate_plan ------------------------------------------------


def expression_error(text: str) -> str | None:
    """Return why an expression does not parse, naming the 1-based position, or None when it parses."""
    try:
        compile_expression(text)
    except ExpressionError as error:
        return str(error)
    return None


def editor_problems(plan: Plan) -> list[Problem]:
    """Return the errors that ``validate_plan`` does not check but that would store a broken plan.

    A plan needs at least one component, because a document without one cannot be read.
    A list of participant ids needs at least one id, and a hold needs the deal date field
    that releases it.
    """
    problems = []
    if not plan.components:
        problems.append(Problem("plan.missing_components", "the plan has no components; add at least one"))
    if plan.participants.ids is not None and not plan.participants.ids:
        problems.append(Problem("plan.missing_key", "participants: list at least one participant id"))
    for component in plan.components:
        if component.hold is not None and not component.hold.until.strip():
            problems.append(Problem("plan.missing_key", f"component {component.name!r}: the hold needs the deal "
                                    "date field that releases it, such as service_start_date",
                                    component=component.name))
    return problems


# -- which field a problem belongs to -------------------------------------------------------

# (problem code, start of the message, field key). The message start is read after the
# "component 'NAME': " prefix of component problems; an empty start matches any message.
_PLAN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("plan.missing_key", "plan has no name", "name"),
    ("plan.missing_key", "a plan paid every two weeks", "period_start"),
    ("plan.missing_key", "participants", "assignment"),
    ("plan.invalid_currency", "", "currency"),
    ("plan.invalid_dates", "", "effective_to"),
    ("plan.invalid_choice", "period ", "period"),
    ("plan.invalid_choice", "fiscal_start_month", "fiscal_start_month"),
    ("plan.invalid_choice", "quota_proration", "quota_proration"),
    ("plan.invalid_choice", "fx rate_date", "fx_rate_date"),
    ("plan.invalid_choice", "fx rate_type", "fx_rate_type"),
    ("plan.invalid_choice", "draw year_end", "draw_year_end"),
    ("plan.invalid_choice", "clawback rate", "clawback_rate"),
    ("plan.invalid_value", "fx max_age_days", "fx_max_age_days"),
    ("plan.invalid_value", "draw amount", "draw_amount"),
    ("plan.invalid_value", "clawback window_days", "clawback_window_days"),
    ("plan.missing_components", "", "components"),
)
_COMPONENT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("plan.duplicate_component", "", "name"),
    ("plan.invalid_choice", "type ", "type"),
    ("plan.invalid_choice", "credit ", "credit"),
    ("plan.invalid_choice", "basis ", "basis"),
    ("plan.invalid_choice", "tier method", "method"),
    ("plan.invalid_choice", "tiers by", "by"),
    ("plan.unknown_metric", "", "metric"),
    ("plan.missing_quota", "", "quota"),
    ("plan.unknown_quota", "", "quota"),
    ("plan.missing_tiers", "", "method"),
    ("plan.missing_key", "a SPIF", "amount_per_unit"),
    ("plan.missing_key", "a formula", "expression"),
    ("plan.missing_key", "a bonus needs a target", "target"),
    ("plan.missing_key", "the hold", "hold_until"),
    ("plan.missing_curve", "", "bands"),
    ("plan.curve_order", "", "bands"),
    ("plan.negative_cap", "", "cap"),
    ("plan.invalid_hold", "", "hold_share"),
    ("plan.invalid_expression", "gate", "gate"),
    ("plan.invalid_expression", "expression", "expression"),
    ("plan.missing_bands", "", "bands"),
    ("plan.flat_bands", "", "bands"),
    ("plan.band_start", "", "bands"),
    ("plan.band_order", "", "bands"),
    ("plan.band_gap", "", "bands"),
    ("plan.band_overlap", "", "bands"),
    ("plan.band_open_end", "", "bands"),
    ("plan.negative_rate", "", "bands"),
)


def problem_field(problem: Problem) -> str | None:
    """Return the key of the editor field a problem is about, or None when it concerns no single field."""
    message = problem.message
    table = _PLAN_FIELDS
    if problem.component is not None:
        table = _COMPONENT_FIELDS
        message = message.removeprefix(f"component {problem.component!r}: ")
    for code, start, key in table:
        if problem.code == code and message.startswith(start):
            return key
    return None


def field_messages(problems: Sequence[Problem], component: str | None) -> dict[str, list[str]]:
    """Group the messages of the plan's problems (``component`` None) or of one component by field key."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        if problem.component != component:
            continue
        key = problem_field(problem)
        if key is not None:
            prefix = "" if problem.severity == "error" else f"{problem.severity}: "
            fields.setdefault(key, []).append(prefix + problem.message)
    return fields
