"""Checks a plan must pass before it is saved; every problem names the component and band."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from spm_desktop.domain.expressions import ExpressionError, compile_expression
from spm_desktop.domain.periods import PERIOD_KINDS
from spm_desktop.domain.problems import Problem

if TYPE_CHECKING:
    from spm_desktop.domain.plans import Component, Plan, Tiers

_CURRENCY = re.compile(r"^[A-Z]{3}$")

# The engine adds result rows with these component names after a plan's own components.
RESERVED_COMPONENT_NAMES = ("TOTAL", "Adjustments", "Draw")

# Rates, amounts, targets and thresholds of a plan have at most 15 integer digits, because
# a larger number is a typing mistake in practice. The bound keeps a single rate from
# overflowing the 64-bit minor units of stored results, but large rates on large sums still can.
MAX_INTEGER_DIGITS = 15
_NUMBER_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS


def _problem(code: str, message: str, component: str | None = None, value: object = None) -> Problem:
    return Problem(code, message, component=component, value=None if value is None else str(value))


def _choice(value: str, choices: tuple[str, ...], what: str, component: str | None = None) -> list[Problem]:
    if value in choices:
        return []
    where = f"component {component!r}: " if component else ""
    return [_problem("plan.invalid_choice", f"{where}{what} {value!r} is invalid; expected one of: "
                     f"{', '.join(choices)}", component, value)]


def _band_label(index: int, tiers: Tiers) -> str:
    return f"band {index + 1} (from {tiers.bands[index].start})"


def check_bands(tiers: Tiers, component: str) -> list[Problem]:
    """Check that bands start at 0, rise strictly, leave no gap or overlap and pay no negative rate."""
    from spm_desktop.domain.plans import TIER_BY, TIER_METHODS

    problems = _choice(tiers.method, TIER_METHODS, "tier method", component)
    problems += _choice(tiers.by, TIER_BY, "tiers by", component)
    bands = tiers.bands
    if not bands:
        return [*problems, _problem("plan.missing_bands", f"component {component!r}: tiers have no bands", component)]
    if tiers.method == "flat" and len(bands) != 1:
        problems.append(_problem("plan.flat_bands", f"component {component!r}: flat tiers take exactly one band, "
                                 f"found {len(bands)}", component))
    if bands[0].start != 0:
        problems.append(_problem("plan.band_start", f"component {component!r}, band 1: the first band must start "
                                 f"at 0, not {bands[0].start}", component, bands[0].start))
    for index, band in enumerate(bands):
        label = _band_label(index, tiers)
        if band.rate < 0:
            problems.append(_problem("plan.negative_rate", f"component {component!r}, {label}: rate {band.rate} is "
                                     "negative; tiers never pay back", component, band.rate))
        following = bands[index + 1] if index + 1 < len(bands) else None
        if following is not None and following.start <= band.start:
            problems.append(_problem("plan.band_order", f"component {component!r}, {_band_label(index + 1, tiers)}: "
                                     f"from must be above {band.start}", component, following.start))
        if band.to is None:
            continue
        if following is None:
            problems.append(_problem("plan.band_open_end", f"component {component!r}, {label}: the last band has "
                                     f"to {band.to}, which leaves credit above it without a rate; remove 'to'",
                                     component, band.to))
        elif band.to != following.start:
            kind = "gap" if band.to < following.start else "overlap"
            problems.append(_problem(f"plan.band_{kind}", f"component {component!r}, {label}: to {band.to} must "
                                     f"equal the next band's from {following.start} (a {kind} between them)",
                                     component, band.to))
    return problems


def _check_expression(text: str | None, what: str, component: str) -> list[Problem]:
    if text is None:
        return []
    try:
        compile_expression(text)
    except ExpressionError as error:
        return [_problem("plan.invalid_expression", f"component {component!r}: {what} {text!r} is invalid: {error}",
                         component, text)]
    return []


def _check_component_kind(component: Component, known_quota_keys: Collection[str]) -> list[Problem]:
    name = component.name
    problems: list[Problem] = []
    needs_quota = component.type == "bonus" or (
        component.tiers is not None and component.tiers.by == "attainment" and component.type == "commission"
    )
    if needs_quota and component.quota is None:
        problems.append(_problem("plan.missing_quota", f"component {name!r}: attainment needs a quota key; add "
                                 "'quota: KEY'", name))
    if component.quota is not None and component.quota not in known_quota_keys:
        problems.append(_problem("plan.unknown_quota", f"component {name!r}: quota key {component.quota!r} is not "
                                 "in the imported quotas", name, component.quota))
    if component.type == "commission" and component.tiers is None:
        problems.append(_problem("plan.missing_tiers", f"component {name!r}: a commission needs tiers", name))
    if component.type == "spif" and component.amount_per_unit is None:
        problems.append(_problem("plan.missing_key", f"component {name!r}: a SPIF needs amount_per_unit", name))
    if component.type == "formula" and component.expression is None:
        problems.append(_problem("plan.missing_key", f"component {name!r}: a formula needs an expression", name))
    if component.type == "bonus":
        problems += _check_curve(component)
    return problems


def _check_curve(component: Component) -> list[Problem]:
    name = component.name
    problems = []
    if component.target is None:
        problems.append(_problem("plan.missing_key", f"component {name!r}: a bonus needs a target", name))
    if not component.curve:
        problems.append(_problem("plan.missing_curve", f"component {name!r}: a bonus needs a curve", name))
    for index in range(1, len(component.curve)):
        if component.curve[index].attainment <= component.curve[index - 1].attainment:
            problems.append(_problem("plan.curve_order", f"component {name!r}, curve point {index + 1}: attainment "
                                     "must rise", name, component.curve[index].attainment))
    return problems


def _check_component(component: Component, known_metrics: Collection[str],
                     known_quota_keys: Collection[str]) -> list[Problem]:
    from spm_desktop.domain.plans import BASES, COMPONENT_TYPES, CREDIT_KINDS

    name = component.name
    problems = _choice(component.type, COMPONENT_TYPES, "type", name)
    problems += _choice(component.credit, CREDIT_KINDS, "credit", name)
    problems += _choice(component.basis, BASES, "basis", name)
    if component.metric not in known_metrics:
        problems.append(_problem("plan.unknown_metric", f"component {name!r}: metric {component.metric!r} is not "
                                 "defined; load it into metric definitions first", name, component.metric))
    problems += _check_component_kind(component, known_quota_keys)
    if component.tiers is not None:
        problems += check_bands(component.tiers, name)
    if component.cap is not None and component.cap < 0:
        problems.append(_problem("plan.negative_cap", f"component {name!r}: cap {component.cap} is negative", name))
    if component.hold is not None and not 0 <= component.hold.share <= 1:
        problems.append(_problem("plan.invalid_hold", f"component {name!r}: hold share {component.hold.share} must "
                                 "be between 0 and 1", name, component.hold.share))
    problems += _check_expression(component.gate, "gate", name)
    problems += _check_expression(component.expression, "expression", name)
    return problems


def _check_header(plan: Plan) -> list[Problem]:
    from spm_desktop.domain.plans import FX_RATE_DATES, FX_RATE_TYPES, PRORATIONS

    problems = []
    if not plan.name.strip():
        problems.append(_problem("plan.missing_key", "plan has no name; write 'plan: NAME'"))
    if not _CURRENCY.match(plan.currency):
        problems.append(_problem("plan.invalid_currency", f"currency {plan.currency!r} is invalid; expected a "
                                 "three-letter code such as USD", value=plan.currency))
    problems += _choice(plan.period, PERIOD_KINDS, "period")
    if plan.period == "two_weeks" and plan.period_start is None:
        problems.append(_problem("plan.missing_key", "a plan paid every two weeks needs period_start: the first "
                                 "day of one cycle"))
    if plan.effective_to is not None and plan.effective_to < plan.effective_from:
        problems.append(_problem("plan.invalid_dates", f"effective_to {plan.effective_to} is before effective_from "
                                 f"{plan.effective_from}", value=plan.effective_to))
    if not 1 <= plan.fiscal_start_month <= 12:
        problems.append(_problem("plan.invalid_choice", f"fiscal_start_month {plan.fiscal_start_month} must be 1 "
                                 "to 12", value=plan.fiscal_start_month))
    if plan.participants.role is None and plan.participants.ids is None:
        problems.append(_problem("plan.missing_key", "participants needs a role or a list of ids"))
    problems += _choice(plan.quota_proration, PRORATIONS, "quota_proration")
    problems += _choice(plan.fx.rate_date, FX_RATE_DATES, "fx rate_date")
    problems += _choice(plan.fx.rate_type, FX_RATE_TYPES, "fx rate_type")
    if plan.fx.max_age_days < 0:
        problems.append(_problem("plan.invalid_value", f"fx max_age_days {plan.fx.max_age_days} is negative"))
    return problems


def _check_payout_terms(plan: Plan) -> list[Problem]:
    from spm_desktop.domain.plans import CLAWBACK_RATES, YEAR_END_RULES

    problems = []
    if plan.draw is not None:
        problems += _choice(plan.draw.year_end, YEAR_END_RULES, "draw year_end")
        if plan.draw.amount < 0:
            problems.append(_problem("plan.invalid_value", f"draw amount {plan.draw.amount} is negative"))
    if plan.clawback is not None:
        problems += _choice(plan.clawback.rate, CLAWBACK_RATES, "clawback rate")
        if plan.clawback.window_days < 0:
            problems.append(_problem("plan.invalid_value", f"clawback window_days {plan.clawback.window_days} is "
                                     "negative"))
    return problems


def _component_numbers(component: Component) -> Iterator[tuple[str, Decimal]]:
    if component.tiers is not None:
        for index, band in enumerate(component.tiers.bands):
            yield f"band {index + 1} from", band.start
            yield f"band {index + 1} rate", band.rate
            if band.to is not None:
                yield f"band {index + 1} to", band.to
    for index, point in enumerate(component.curve):
        yield f"curve point {index + 1} attainment", point.attainment
        yield f"curve point {index + 1} payout", point.payout
    for name in ("cap", "amount_per_unit", "target"):
        value = getattr(component, name)
        if value is not None:
            yield name, value
    if component.hold is not None:
        yield "hold share", component.hold.share


def _check_number(value: Decimal, what: str, component: str | None = None) -> list[Problem]:
    """Reject a number that is not finite or has more than MAX_INTEGER_DIGITS integer digits."""
    where = f"component {component!r}: " if component else ""
    if not value.is_finite():
        return [_problem("plan.invalid_number", f"{where}{what} {value} is not a number; write a finite "
                         "decimal such as 0.05", component, value)]
    if abs(value) >= _NUMBER_LIMIT:
        return [_problem("plan.number_too_large", f"{where}{what} {value} has more than {MAX_INTEGER_DIGITS} "
                         f"integer digits; the largest allowed is {_NUMBER_LIMIT - 1}, so check it for a typing "
                         "mistake", component, value)]
    return []


def _check_numbers(plan: Plan) -> list[Problem]:
    problems = []
    if plan.draw is not None:
        problems += _check_number(plan.draw.amount, "draw amount")
    for component in plan.components:
        for field_name, value in _component_numbers(component):
            problems += _check_number(value, field_name, component.name)
    return problems


def _check_component_names(plan: Plan) -> list[Problem]:
    problems = []
    reserved = {name.casefold(): name for name in RESERVED_COMPONENT_NAMES}
    seen: set[str] = set()
    for component in plan.components:
        if component.name.strip().casefold() in reserved:
            problems.append(_problem(
                "plan.reserved_component", f"component name {component.name!r} is reserved, because results "
                f"add rows named {', '.join(RESERVED_COMPONENT_NAMES)} (in any case); rename the component",
                component.name, component.name))
        if component.name in seen:
            problems.append(_problem("plan.duplicate_component", f"component name {component.name!r} is used twice",
                                     component.name))
        seen.add(component.name)
    return problems


def validate_plan(plan: Plan, known_metrics: Collection[str], known_quota_keys: Collection[str]) -> list[Problem]:
    """Return every problem that keeps a plan from being saved; an empty list means it is valid."""
    problems = _check_header(plan) + _check_payout_terms(plan) + _check_component_names(plan)
    for component in plan.components:
        problems += _check_component(component, known_metrics, known_quota_keys)
    return problems + _check_numbers(plan)
