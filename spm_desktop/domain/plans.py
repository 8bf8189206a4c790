"""Compensation plans: the frozen model of a ``plan.yaml`` document, read and written without loss.

``load_plan`` reads the YAML text with numbers as exact decimals taken from their text
and keys as plain strings. It rejects what cannot be a plan at all, such as a missing
name, a band with an unknown key or a rate that is not a number. ``validate_plan`` then checks
the rules a plan must follow before it is saved (band tables, metrics, quota keys,
expressions). Keys the model does not know are kept in ``extra`` and written back by
``dump_plan``.

Validation, assignment, descriptions, payout curves and version diffs live in the
``plan_*`` modules and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from spm_desktop.domain.problems import Problem

ComponentType = Literal["commission", "spif", "bonus", "formula"]
COMPONENT_TYPES: tuple[str, ...] = ("commission", "spif", "bonus", "formula")
TIER_METHODS: tuple[str, ...] = ("flat", "marginal", "retroactive")
TIER_BY: tuple[str, ...] = ("attainment", "amount")
CREDIT_KINDS: tuple[str, ...] = ("own", "team")
BASES: tuple[str, ...] = ("period", "ytd")
PRORATIONS: tuple[str, ...] = ("none", "days", "months")
FX_RATE_DATES: tuple[str, ...] = ("credit_date", "period_end")
FX_RATE_TYPES: tuple[str, ...] = ("average", "end_of_day")
YEAR_END_RULES: tuple[str, ...] = ("carry_forward", "forgive")
CLAWBACK_RATES: tuple[str, ...] = ("original", "current")
BAND_KEYS: tuple[str, ...] = ("from", "to", "rate")

# Component types that pay on a quota-based attainment by construction.
_QUOTA_TYPES = ("bonus",)


class PlanFormatError(ValueError):
    """A plan document that cannot be read; ``problems`` lists every finding."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class Band:
    """One row of a tier table: ``start`` is the inclusive ``from`` of the document."""

    start: Decimal
    rate: Decimal
    to: Decimal | None = None


@dataclass(frozen=True)
class Tiers:
    """The tier table of a commission: method, measure, grain and bands."""

    method: str
    bands: tuple[Band, ...]
    by: str = "attainment"
    grain: str = "period"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class CurvePoint:
    """A point of a bonus curve: payout as a multiple of target at an attainment."""

    attainment: Decimal
    payout: Decimal


@dataclass(frozen=True)
class Hold:
    """Share of each deal's line kept back until the period containing the deal's ``until`` date."""

    share: Decimal
    until: str
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Component:
    """One way a plan pays: a commission, a SPIF, a bonus on a curve or a formula."""

    name: str
    type: str
    metric: str
    credit: str = "own"
    quota: str | None = None
    basis: str = "period"
    tiers: Tiers | None = None
    cap: Decimal | None = None
    gate: str | None = None
    hold: Hold | None = None
    amount_per_unit: Decimal | None = None
    target: Decimal | None = None
    curve: tuple[CurvePoint, ...] = ()
    expression: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Eligibility:
    """The participants a plan covers: everyone with ``role``, or those listed in ``ids``."""

    role: str | None = None
    ids: tuple[str, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class FxSettings:
    """The exchange rate choice (date, type, maximum age) that converts credits into the plan currency."""

    rate_date: str = "credit_date"
    rate_type: str = "average"
    max_age_days: int = 5
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DrawTerms:
    """A draw paid per plan period when earnings fall below ``amount``."""

    amount: Decimal
    recoverable: bool = True
    year_end: str = "carry_forward"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ClawbackTerms:
    """Clawback terms: reversals priced at the original deal's line within the window, or at the current tiers."""

    window_days: int = 90
    rate: str = "original"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Plan:
    """A compensation plan version as written in ``plan.yaml``."""

    name: str
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    currency: str
    period: str
    participants: Eligibility
    components: tuple[Component, ...]
    period_start: dt.date | None = None
    fiscal_start_month: int = 1
    quota_proration: str = "none"
    fx: FxSettings = FxSettings()
    draw: DrawTerms | None = None
    clawback: ClawbackTerms | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # the YAML text the plan was read from, written back unchanged while the plan still equals it
    source: str | None = field(default=None, compare=False, hash=False, repr=False)
    # whether the plan sets its fiscal start month itself; one that does not follows the
    # workspace's fiscal year. Any month but January is always set.
    fiscal_start_stated: bool = False

    def __post_init__(self) -> None:
        if self.fiscal_start_month != 1 and not self.fiscal_start_stated:
            object.__setattr__(self, "fiscal_start_stated", True)

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"plan {self.name!r} has no component {name!r}")

    def is_effective(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


# ---------------------------------------------------------------- YAML reading


class _DecimalConstructor(RoundTripConstructor):
    """Round-trip constructor that reads YAML floats as Decimal from their text."""


def _construct_decimal(constructor: RoundTripConstructor, node: Any) -> Decimal | str:
    text = str(constructor.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    # Infinity and NaN stay text, so the field check reports them as "not a number".
    return value if value.is_finite() else text


_DecimalConstructor.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


class _DecimalRepresenter(RoundTripRepresenter):
    """Round-trip representer that writes Decimal as a plain number with all its digits."""


def _represent_decimal(representer: RoundTripRepresenter, value: Decimal) -> Any:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return representer.represent_scalar(tag, text)


_DecimalRepresenter.add_representer(Decimal, _represent_decimal)

# Text that the emitter would write plain but read back as something else: a leading
# indicator character (``?0`` in a flow mapping loads as a nested mapping) or a line
# break that YAML normalises (NEL, line and paragraph separators).
_RISKY_START = frozenset("?:-,[]{}#&*!|>'\"%@`")
_RISKY_CHARACTERS = frozenset("\x85\u2028\u2029")


def _represent_text(representer: RoundTripRepresenter, value: str) -> Any:
    if value[:1] in _RISKY_START or any(character in _RISKY_CHARACTERS for character in value):
        return representer.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return representer.represent_str(value)


_DecimalRepresenter.add_representer(str, _represent_text)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _DecimalConstructor
    yaml.Representer = _DecimalRepresenter
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _plain(value: Any) -> Any:
    """Turn ruamel containers into dicts and lists with string keys, recursively."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, bool | int | Decimal | str | dt.date) or value is None:
        return value
    return str(value)


class _Reader:
    """Reads one plan mapping into the model, collecting every problem before raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, code: str, message: str, component: str | None = None, value: object = None) -> None:
        shown = None if value is None else str(value)
        self.problems.append(Problem(code, message, component=component, value=shown))

    def text(self, data: Mapping[str, Any], key: str, where: str, required: bool = False,
             component: str | None = None) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail("plan.missing_key", f"{where} is missing {key!r}", component)
            return None
        if isinstance(value, bool | Mapping | list):
            self.fail("plan.invalid_value", f"{where}: {key!r} must be text", component, value)
            return None
        return str(value)

    def number(self, data: Mapping[str, Any], key: str, where: str, required: bool = False,
               component: str | None = None) -> Decimal | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail("plan.missing_key", f"{where} is missing {key!r}", component)
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail("plan.invalid_number", f"{where}: {key!r} must be a number", component, value)
            return None
        return Decimal(value)

    def integer(self, data: Mapping[str, Any], key: str, where: str, default: int,
                component: str | None = None) -> int:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("plan.invalid_number", f"{where}: {key!r} must be a whole number", component, value)
            return default
        return value

    def date(self, data: Mapping[str, Any], key: str, where: str, required: bool = False) -> dt.date | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail("plan.missing_key", f"{where} is missing {key!r}")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail("plan.invalid_date", f"{where}: {key!r} must be a date YYYY-MM-DD", value=value)
            return None

    def mapping(self, data: Mapping[str, Any], key: str, where: str, component: str | None = None) -> dict | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail("plan.invalid_value", f"{where}: {key!r} must be a mapping", component, value)
            return None
        return value  # type: ignore[return-value]

    def boolean(self, data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail("plan.invalid_value", f"{where}: {key!r} must be true or false", value=value)
            return default
        return value


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in known}


_BAND_WHERE = "component {name!r}, band {index}"


def _read_bands(reader: _Reader, raw: Any, component: str) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        reader.fail("plan.missing_bands", f"component {component!r}: tiers need a non-empty list of bands",
                    component)
        return ()
    bands = []
    for index, item in enumerate(raw, start=1):
        where = _BAND_WHERE.format(name=component, index=index)
        if not isinstance(item, Mapping):
            reader.fail("plan.invalid_band", f"{where} must be a mapping with from and rate", component, item)
            continue
        for key in item:
            if key not in BAND_KEYS:
                reader.fail("plan.unknown_band_key",
                            f"{where} has unknown key {key!r}; a band has only from, to and rate", component, key)
        start = reader.number(item, "from", where, required=True, component=component)
        rate = reader.number(item, "rate", where, required=True, component=component)
        to = reader.number(item, "to", where, component=component)
        if start is not None and rate is not None:
            bands.append(Band(start, rate, to))
    return tuple(bands)


_TIER_KEYS = ("method", "by", "grain", "bands")


def _read_tiers(reader: _Reader, data: Mapping[str, Any], component: str) -> Tiers | None:
    where = f"component {component!r}, tiers"
    method = reader.text(data, "method", where, required=True, component=component) or "flat"
    by = reader.text(data, "by", where, component=component) or "attainment"
    grain = reader.text(data, "grain", where, component=component) or "period"
    bands = _read_bands(reader, data.get("bands"), component)
    return Tiers(method, bands, by, grain, _extra(data, _TIER_KEYS))


def _read_curve(reader: _Reader, raw: Any, component: str) -> tuple[CurvePoint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        reader.fail("plan.invalid_curve", f"component {component!r}: curve must be a list of points", component)
        return ()
    points = []
    for index, item in enumerate(raw, start=1):
        where = f"component {component!r}, curve point {index}"
        if not isinstance(item, Mapping):
            reader.fail("plan.invalid_curve", f"{where} must be a mapping with attainment and payout", component)
            continue
        for key in item:
            if key not in ("attainment", "payout"):
                reader.fail("plan.unknown_curve_key", f"{where} has unknown key {key!r}", component, key)
        attainment = reader.number(item, "attainment", where, required=True, component=component)
        payout = reader.number(item, "payout", where, required=True, component=component)
        if attainment is not None and payout is not None:
            points.append(CurvePoint(attainment, payout))
    return tuple(points)


_COMPONENT_KEYS = ("name", "type", "metric", "credit", "quota", "basis", "tiers", "cap", "gate", "hold",
                   "amount_per_unit", "target", "curve", "expression")


def _read_component(reader: _Reader, data: Any, index: int) -> Component | None:
    if not isinstance(data, Mapping):
        reader.fail("plan.invalid_component", f"component {index} must be a mapping", value=data)
        return None
    name = reader.text(data, "name", f"component {index}", required=True) or f"component {index}"
    where = f"component {name!r}"
    kind = reader.text(data, "type", where, required=True, component=name) or "commission"
    metric = reader.text(data, "metric", where, required=True, component=name) or ""
    tiers_data = reader.mapping(data, "tiers", where, name)
    tiers = _read_tiers(reader, tiers_data, name) if tiers_data is not None else None
    hold_data = reader.mapping(data, "hold", where, name)
    hold = None
    if hold_data is not None:
        share = reader.number(hold_data, "share", f"{where}, hold", required=True, component=name)
        until = reader.text(hold_data, "until", f"{where}, hold", required=True, component=name)
        if share is not None and until is not None:
            hold = Hold(share, until, _extra(hold_data, ("share", "until")))
    return Component(
        name=name,
        type=kind,
        metric=metric,
        credit=reader.text(data, "credit", where, component=name) or "own",
        quota=reader.text(data, "quota", where, component=name),
        basis=reader.text(data, "basis", where, component=name) or "period",
        tiers=tiers,
        cap=reader.number(data, "cap", where, component=name),
        gate=reader.text(data, "gate", where, component=name),
        hold=hold,
        amount_per_unit=reader.number(data, "amount_per_unit", where, component=name),
        target=reader.number(data, "target", where, component=name),
        curve=_read_curve(reader, data.get("curve"), name),
        expression=reader.text(data, "expression", where, component=name),
        extra=_extra(data, _COMPONENT_KEYS),
    )


def _read_participants(reader: _Reader, data: Mapping[str, Any]) -> Eligibility:
    raw = reader.mapping(data, "participants", "plan")
    if raw is None:
        reader.fail("plan.missing_key", "plan is missing 'participants' ({role: ...} or {ids: [...]})")
        return Eligibility()
    ids = raw.get("ids")
    if ids is not None and not isinstance(ids, list):
        reader.fail("plan.invalid_value", "participants: 'ids' must be a list of participant ids", value=ids)
        ids = None
    role = reader.text(raw, "role", "participants")
    return Eligibility(role, tuple(str(item) for item in ids) if ids is not None else None,
                       _extra(raw, ("role", "ids")))


def _read_fx(reader: _Reader, data: Mapping[str, Any]) -> FxSettings:
    raw = reader.mapping(data, "fx", "plan")
    if raw is None:
        return FxSettings()
    return FxSettings(
        rate_date=reader.text(raw, "rate_date", "fx") or "credit_date",
        rate_type=reader.text(raw, "rate_type", "fx") or "average",
        max_age_days=reader.integer(raw, "max_age_days", "fx", 5),
        extra=_extra(raw, ("rate_date", "rate_type", "max_age_days")),
    )


def _read_draw(reader: _Reader, data: Mapping[str, Any]) -> DrawTerms | None:
    raw = reader.mapping(data, "draw", "plan")
    if raw is None:
        return None
    amount = reader.number(raw, "amount", "draw", required=True)
    return DrawTerms(
        amount=amount if amount is not None else Decimal(0),
        recoverable=reader.boolean(raw, "recoverable", "draw", True),
        year_end=reader.text(raw, "year_end", "draw") or "carry_forward",
        extra=_extra(raw, ("amount", "recoverable", "year_end")),
    )


def _read_clawback(reader: _Reader, data: Mapping[str, Any]) -> ClawbackTerms | None:
    raw = reader.mapping(data, "clawback", "plan")
    if raw is None:
        return None
    return ClawbackTerms(
        window_days=reader.integer(raw, "window_days", "clawback", 90),
        rate=reader.text(raw, "rate", "clawback") or "original",
        extra=_extra(raw, ("window_days", "rate")),
    )


_PLAN_KEYS = ("plan", "version", "effective_from", "effective_to", "currency", "period", "period_start",
              "fiscal_start_month", "participants", "quota_proration", "fx", "components", "draw", "clawback")


def plan_from_mapping(data: Mapping[str, Any]) -> Plan:
    """Build a plan from an already parsed mapping with string keys; raises PlanFormatError."""
    reader = _Reader()
    name = reader.text(data, "plan", "plan", required=True) or ""
    raw_components = data.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        reader.fail("plan.missing_components", "plan has no components; list at least one under 'components'")
        raw_components = []
    components = tuple(
        component
        for index, item in enumerate(raw_components, start=1)
        if (component := _read_component(reader, item, index)) is not None
    )
    plan = Plan(
        name=name,
        version=reader.integer(data, "version", "plan", 1),
        effective_from=reader.date(data, "effective_from", "plan", required=True) or dt.date.min,
        effective_to=reader.date(data, "effective_to", "plan"),
        currency=(reader.text(data, "currency", "plan", required=True) or "").upper(),
        period=reader.text(data, "period", "plan", required=True) or "",
        period_start=reader.date(data, "period_start", "plan"),
        fiscal_start_month=reader.integer(data, "fiscal_start_month", "plan", 1),
        fiscal_start_stated="fiscal_start_month" in data,
        participants=_read_participants(reader, data),
        quota_proration=reader.text(data, "quota_proration", "plan") or "none",
        fx=_read_fx(reader, data),
        components=components,
        draw=_read_draw(reader, data),
        clawback=_read_clawback(reader, data),
        extra=_extra(data, _PLAN_KEYS),
    )
    if reader.problems:
        label = f"plan {name!r}" if name else "plan"
        raise PlanFormatError(f"{label} cannot be read: {reader.problems[0].message}", reader.problems)
    return plan


def load_plan(text: str) -> Plan:
    """Read a plan from YAML text; raises PlanFormatError listing every problem found."""
    try:
        data = _yaml().load(text)
    except YAMLError as error:
        problem = Problem("plan.invalid_yaml", f"plan is not valid YAML: {error}")
        raise PlanFormatError(problem.message, [problem]) from None
    if not isinstance(data, Mapping):
        problem = Problem("plan.invalid_yaml", "plan document must be a mapping that starts with 'plan: NAME'")
        raise PlanFormatError(problem.message, [problem])
    return dataclasses.replace(plan_from_mapping(_plain(data)), source=text)


# ---------------------------------------------------------------- YAML writing


def _flow(mapping: dict[str, Any]) -> CommentedMap:
    result = CommentedMap(mapping)
    result.fa.set_flow_style()
    return result


def _number(value: Decimal) -> Decimal | int:
    return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else value


def _tiers_mapping(tiers: Tiers) -> CommentedMap:
    data = CommentedMap(method=tiers.method)
    if tiers.by != "attainment":
        data["by"] = tiers.by
    if tiers.grain != "period":
        data["grain"] = tiers.grain
    bands = CommentedSeq()
    for band in tiers.bands:
        row = {"from": _number(band.start)}
        if band.to is not None:
            row["to"] = _number(band.to)
        row["rate"] = band.rate
        bands.append(_flow(row))
    data["bands"] = bands
    data.update(tiers.extra)
    return data


def _component_mapping(component: Component) -> CommentedMap:
    data = CommentedMap(name=component.name, type=component.type, metric=component.metric)
    if component.credit != "own":
        data["credit"] = component.credit
    if component.quota is not None:
        data["quota"] = component.quota
    if component.basis != "period":
        data["basis"] = component.basis
    if component.tiers is not None:
        data["tiers"] = _tiers_mapping(component.tiers)
    optional = {"cap": component.cap, "gate": component.gate, "amount_per_unit": component.amount_per_unit,
                "target": component.target, "expression": component.expression}
    for key, value in optional.items():
        if value is not None:
            data[key] = _number(value) if isinstance(value, Decimal) else value
    if component.hold is not None:
        data["hold"] = _flow({"share": component.hold.share, "until": component.hold.until, **component.hold.extra})
    if component.curve:
        data["curve"] = CommentedSeq(
            _flow({"attainment": point.attainment, "payout": point.payout}) for point in component.curve
        )
    data.update(component.extra)
    return data


def plan_to_mapping(plan: Plan) -> CommentedMap:
    """Return the plan as an ordered mapping in document layout (keys of defaults left out)."""
    data = CommentedMap(plan=plan.name, version=plan.version, effective_from=plan.effective_from)

    if plan.effective_to is not None:
        data["effective_to"] = plan.effective_to
    data["currency"] = plan.currency
    data["period"] = plan.period
    if plan.period_start is not None:
        data["period_start"] = plan.period_start
    if plan.fiscal_start_stated:
        data["fiscal_start_month"] = plan.fiscal_start_month

    participants: dict[str, Any] = {}
    if plan.participants.role is not None:
        participants["role"] = plan.participants.role
    if plan.participants.ids is not None:
        participants["ids"] = list(plan.participants.ids)
    participants.update(plan.participants.extra)
    data["participants"] = _flow(participants)
    if plan.quota_proration != "none":
        data["quota_proration"] = plan.quota_proration
    if plan.fx != FxSettings():
        data["fx"] = _flow({"rate_date": plan.fx.rate_date, "rate_type": plan.fx.rate_type,
                            "max_age_days": plan.fx.max_age_days, **plan.fx.extra})
    data["components"] = CommentedSeq(_component_mapping(component) for component in plan.components)

    if plan.draw is not None:
        data["draw"] = _flow({"amount": _number(plan.draw.amount), "recoverable": plan.draw.recoverable,
                              "year_end": plan.draw.year_end, **plan.draw.extra})
    if plan.clawback is not None:
        data["clawback"] = _flow({"window_days": plan.clawback.window_days, "rate": plan.clawback.rate,
                                  **plan.clawback.extra})
    data.update(plan.extra)
    return data


def _source_still_matches(plan: Plan) -> bool:
    if plan.source is None:
        return False
    try:
        return load_plan(plan.source) == plan
    except PlanFormatError:
        return False


def dump_plan(plan: Plan) -> str:
    """Write a plan as YAML text that ``load_plan`` reads back to an equal plan, extra keys included.

    A plan that still equals the text it was read from is written as that text, comments
    and layout included. A changed plan is written in the standard layout.
    """
    # NOTE: comments of a plan that was changed after loading are not kept.
    if _source_still_matches(plan):
        return plan.source  # type: ignore[return-value]
    stream = io.StringIO()
    _yaml().dump(plan_to_mapping(plan), stream)
    return stream.getvalue()


# Re-exports: the rest of the plan API lives in the plan_* modules.
from spm_desktop.domain.plan_assignment import PlanAssignment, assign_plans  # noqa: E402
from spm_desktop.domain.plan_checks import validate_plan  # noqa: E402
from spm_desktop.domain.plan_text import describe_plan, diff_plans, payout_curve  # noqa: E402
from spm_desktop.domain.plan_tiers import band_index, bonus_multiple, marginal_earnings, tier_earnings  # noqa: E402

__all__ = [
    "Band", "ClawbackTerms", "Component", "CurvePoint", "DrawTerms", "Eligibility", "FxSettings", "Hold", "Plan",
    "PlanAssignment", "PlanFormatError", "Tiers", "assign_plans", "band_index", "bonus_multiple", "describe_plan",
    "diff_plans", "dump_plan", "load_plan", "marginal_earnings", "payout_curve", "plan_from_mapping",
    "plan_to_mapping", "tier_earnings", "validate_plan",
]
