"""Plans for people: a plain-language summary, payout curves and version differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from spm_desktop.domain.money import CONTEXT
from spm_desktop.domain.plan_tiers import bonus_multiple, tier_earnings

if TYPE_CHECKING:
    from spm_desktop.domain.plans import Component, Plan, Tiers

_PERIOD_WORDS = {"week": "week", "two_weeks": "two-week cycle", "month": "month", "quarter": "quarter",
                 "year": "year"}


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def _percent(value: Decimal) -> str:
    text = format((value * 100).normalize(), "f")
    return f"{text}%"


def _band_ranges(tiers: Tiers) -> list[str]:
    parts = []
    for index, band in enumerate(tiers.bands):
        upper = tiers.bands[index + 1].start if index + 1 < len(tiers.bands) else None
        if tiers.by == "attainment":
            low, high = _percent(band.start) + " of quota", _percent(upper) + " of quota" if upper is not None else ""
        else:
            low, high = _amount(band.start), _amount(upper) if upper is not None else ""
        span = f"from {low} up to {high}" if upper is not None else f"from {low} up"
        parts.append(f"{_percent(band.rate)} {span}")
    return parts


def _describe_tiers(component: Component, tiers: Tiers) -> str:
    measure = f"your {component.metric} credit"
    if tiers.method == "flat":
        return f"You earn {_percent(tiers.bands[0].rate)} of {measure}."
    ranges = "; ".join(_band_ranges(tiers))
    if tiers.method == "marginal":
        text = f"Each part of {measure} earns the rate of the band it falls in: {ranges}."
    else:
        text = f"The band your total reaches sets the rate for all of {measure}: {ranges}."
    if tiers.grain == "deal":
        text += " Each deal is looked up on its own amount."
    elif tiers.grain != "period":
        text += f" Deals with the same {tiers.grain} are added up and looked up together."
    return text


def _describe_component(plan: Plan, component: Component) -> list[str]:
    period = _PERIOD_WORDS.get(plan.period, plan.period)
    lines = [f"{component.name}:"]
    if component.credit == "team":
        lines.append(f"Counts the {component.metric} credit of everyone who reports to you, directly or not.")
    if component.type == "commission" and component.tiers is not None:
        lines.append(_describe_tiers(component, component.tiers))
    elif component.type == "spif" and component.amount_per_unit is not None:
        lines.append(f"You earn {_amount(component.amount_per_unit)} {plan.currency} for each unit of "
                     f"{component.metric}.")
    elif component.type == "bonus" and component.target is not None:
        points = ", ".join(f"{_percent(point.payout)} of target at {_percent(point.attainment)} attainment"
                           for point in component.curve)
        lines.append(f"Target {_amount(component.target)} {plan.currency} per {period}; the bonus pays {points}, "
                     "in a straight line between these points and no further beyond the ends.")
    elif component.type == "formula":
        lines.append(f"Pays the result of the formula {component.expression}.")
    if component.quota is not None:
        lines.append(f"Attainment is your credit divided by your {component.quota} quota.")
    if component.basis == "ytd":
        lines.append("Worked out on year-to-date figures; each period pays what is newly earned since the last one.")
    if component.cap is not None:
        lines.append(f"Pays at most {_amount(component.cap)} {plan.currency} per {period}.")
    if component.gate is not None:
        lines.append(f"Pays only when {component.gate}.")
    if component.hold is not None:
        lines.append(f"{_percent(component.hold.share)} of each deal's earnings is held until the period of its "
                     f"{component.hold.until}.")
    return lines


def describe_plan(plan: Plan) -> str:
    """Return a plain-language summary of a plan as a seller would read it."""
    period = _PERIOD_WORDS.get(plan.period, plan.period)
    until = f" to {plan.effective_to}" if plan.effective_to is not None else ""
    who = (f"everyone with the role {plan.participants.role}" if plan.participants.role is not None
           else f"participants {', '.join(plan.participants.ids or ())}")
    lines = [(f"{plan.name} (version {plan.version}) pays in {plan.currency} every {period} from "
             f"{plan.effective_from}{until}, for {who}."), ""]
    for component in plan.components:
        lines.extend(_describe_component(plan, component))
        lines.append("")
    if plan.draw is not None:
        kind = "recoverable" if plan.draw.recoverable else "not recoverable"
        lines.append(f"Draw: {_amount(plan.draw.amount)} {plan.currency} per {period}, {kind}. When earnings fall "
                     "short of it, the draw tops them up.")
        if plan.draw.recoverable:
            rule = "carries into the next year" if plan.draw.year_end == "carry_forward" else "is forgiven at year end"
            lines.append(f"What the draw advanced is recovered from later earnings above it; an open balance {rule}.")
    if plan.clawback is not None:
        if plan.clawback.rate == "original":
            lines.append(f"Clawback: a refund or credit note within {plan.clawback.window_days} days of the deal "
                         "takes back what the deal paid, in proportion to the amount reversed.")
        else:
            lines.append("Clawback: a refund or credit note lowers your credit and is priced at the current rates.")
    return "\n".join(lines).strip() + "\n"


def _default_points(component: Component, count: int) -> list[Decimal]:
    upper = Decimal("1.5")
    if component.tiers is not None and component.tiers.by == "attainment":
        upper = max(upper, component.tiers.bands[-1].start * Decimal("1.25"))
    if component.curve:
        upper = max(upper, component.curve[-1].attainment * Decimal("1.25"))
    step = CONTEXT.divide(upper, Decimal(max(count - 1, 1)))
    return [CONTEXT.multiply(step, Decimal(index)) for index in range(count)]


def payout_curve(component: Component, quota: Decimal, points: int | Sequence[Decimal] = 31) -> list[
        tuple[Decimal, Decimal]]:
    """Return (attainment, period earnings) pairs for a commission or bonus at a given quota.

    ``points`` is a count of evenly spaced attainments from 0, or the attainments to use.
    Caps apply; gates and holds do not, because they depend on more than attainment.
    Raises ValueError for a SPIF or formula, which have no curve over attainment.
    """
    if component.type not in ("commission", "bonus"):
        raise ValueError(f"component {component.name!r} is a {component.type}, which has no payout curve")
    if quota <= 0:
        raise ValueError(f"quota {quota} must be above 0 for a payout curve")
    attainments = _default_points(component, points) if isinstance(points, int) else list(points)
    curve = []
    for attainment in attainments:
        if component.type == "bonus":
            earnings = CONTEXT.multiply(component.target or Decimal(0), bonus_multiple(component.curve, attainment))
        else:
            assert component.tiers is not None
            earnings = tier_earnings(component.tiers, CONTEXT.multiply(attainment, quota), quota)
        if component.cap is not None:
            earnings = min(earnings, component.cap)
        curve.append((attainment, earnings))
    return curve


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{path}, {key}" if path else str(key), out)
    elif isinstance(value, list | tuple) and value and isinstance(value[0], Mapping) and "from" in value[0]:
        for index, item in enumerate(value, start=1):
            _flatten(item, f"{path}, band {index}", out)
    elif isinstance(value, list | tuple) and value and isinstance(value[0], Mapping) and "attainment" in value[0]:
        for index, item in enumerate(value, start=1):
            _flatten(item, f"{path}, point {index}", out)
    else:
        out[path] = list(value) if isinstance(value, list | tuple) else value


def _components(plan: Plan) -> dict[str, dict[str, Any]]:
    from spm_desktop.domain.plans import plan_to_mapping

    mapping = plan_to_mapping(plan)
    return {str(item["name"]): dict(item) for item in mapping["components"]}


def _header(plan: Plan) -> dict[str, Any]:
    from spm_desktop.domain.plans import plan_to_mapping

    mapping = dict(plan_to_mapping(plan))
    mapping.pop("components")
    return mapping


def _diff_values(before: dict[str, Any], after: dict[str, Any], prefix: str) -> list[str]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    _flatten(before, "", old)
    _flatten(after, "", new)
    lines = []
    for key in [*old, *(key for key in new if key not in old)]:
        if key not in new:
            lines.append(f"{prefix}{key}: {old[key]} removed")
        elif key not in old:
            lines.append(f"{prefix}{key}: {new[key]} added")
        elif old[key] != new[key]:
            lines.append(f"{prefix}{key}: {old[key]} -> {new[key]}")
    return lines


def diff_plans(a: Plan, b: Plan) -> list[str]:
    """Return one line per difference from plan ``a`` to plan ``b``; components are matched by name."""
    lines = _diff_values(_header(a), _header(b), "")
    old, new = _components(a), _components(b)
    for name, component in old.items():
        if name not in new:
            lines.append(f"component {name!r} removed")
        else:
            lines += _diff_values(component, new[name], f"component {name!r}, ")
    lines += [f"component {name!r} added" for name in new if name not in old]
    if [*old] != [*new] and set(old) == set(new):
        lines.append(f"component order: {', '.join(old)} -> {', '.join(new)}")
    return lines
