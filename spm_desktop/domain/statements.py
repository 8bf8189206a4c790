"""Payout statement content: what a participant's statement shows and the hash that proves it.

A ``StatementData`` contains everything a statement prints, already resolved to plain values:
the header (company, participant, manager, plan and version, period, currency), one
summary row per component, the per-deal lines of each component, the draw with its
running balance, clawbacks, manual and prior-period adjustments, held amounts, the
payout, and the audit facts (calculation run, approval, input fingerprint).

The PDF and XLSX writers render a ``StatementData`` and nothing else, so both formats
show the same figures. ``content_sha256`` hashes the canonical content (not a file,
because a file cannot contain its own hash); the statement prints that hash in its
audit footer.

Money here is ``Decimal`` with the currency's minor-unit exponent. This module reads no
files: the service passes the company logo as bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from spm_desktop.domain.canonical import fingerprint, sha256_hex
from spm_desktop.domain.money import minor_exponent, round_half_up
from spm_desktop.domain.problems import Problem

# Result rows with these component names are not plan components (see the results layout).
DRAW_ROW = "Draw"
ADJUSTMENTS_ROW = "Adjustments"
TOTAL_ROW = "TOTAL"
SPECIAL_ROWS = (DRAW_ROW, ADJUSTMENTS_ROW, TOTAL_ROW)

# Line kinds a calculation stores; clawback lines also get their own statement section.
LINE_KINDS = ("sale", "reversal", "clawback", "hold", "release", "draw", "adjustment")
CONTENT_VERSION = 1


@dataclass(frozen=True)
class ComponentSummary:
    """One component's figures for the period, as the summary table shows them."""

    name: str
    earnings: Decimal
    metric_key: str | None = None
    metric_version: int | None = None
    metric_value: Decimal | None = None
    # "currency" (credit in plan currency) or "count" (units, possibly fractional after splits).
    metric_unit: str = "currency"
    quota: Decimal | None = None
    attainment: Decimal | None = None
    bands: str = ""
    rates: str = ""


@dataclass(frozen=True)
class StatementLine:
    """One line of a component's detail: a credited deal, a reversal, a clawback or a release.

    ``earnings`` is what the line pays in this period, so a component's lines add up to its
    earnings; ``held`` is the part of the line kept back until a later period.
    """

    component: str
    kind: str
    earnings: Decimal
    credit_date: dt.date | None = None
    deal_id: str | None = None
    line_id: str | None = None
    customer: str | None = None
    product: str | None = None
    share: Decimal | None = None
    # How the participant was credited: owner, split, overlay or team.
    credit_kind: str | None = None
    credited: Decimal | None = None
    bands: str = ""
    rates: str = ""
    fx_rate: Decimal | None = None
    exact_earnings: Decimal | None = None
    reference_deal_id: str | None = None
    held: Decimal | None = None
    # The team member whose credit rolled up to this participant (credit kind team).
    via_participant_id: str | None = None


@dataclass(frozen=True)
class DrawEntry:
    """A period of the plan year on the draw: what was earned, paid on the draw and owed after it."""

    period: str
    earnings: Decimal
    # Top-up paid (positive) or balance recovered (negative) in that period.
    draw: Decimal
    balance: Decimal


@dataclass(frozen=True)
class DrawSummary:
    amount: Decimal
    recoverable: bool
    opening_balance: Decimal
    closing_balance: Decimal
    history: tuple[DrawEntry, ...] = ()


@dataclass(frozen=True)
class AdjustmentEntry:
    """A manual adjustment, or a correction carried over from an earlier period."""

    kind: str  # manual | prior_period
    reason_code: str
    amount: Decimal
    note: str = ""
    source_period: str | None = None


@dataclass(frozen=True)
class HoldEntry:
    """An amount of a deal's earnings that is still held back."""

    component: str
    deal_id: str
    amount: Decimal
    until: str = ""


@dataclass(frozen=True)
class Approval:
    approved_by: str
    approved_at: dt.datetime


@dataclass(frozen=True)
class StatementData:
    company_name: str
    participant_id: str
    participant_name: str
    plan: str
    plan_version: int
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    components: tuple[ComponentSummary, ...]
    lines: tuple[StatementLine, ...]
    payout: Decimal
    run_id: str
    input_fingerprint: str
    calculated_at: dt.datetime | None = None
    role: str = ""
    manager_id: str = ""
    manager_name: str = ""
    payroll_id: str = ""
    draw: DrawSummary | None = None
    draw_payment: Decimal = Decimal(0)
    adjustments: tuple[AdjustmentEntry, ...] = ()
    holds: tuple[HoldEntry, ...] = ()
    approval: Approval | None = None
    notes: tuple[str, ...] = ()
    # PNG or JPEG bytes of the company logo; only its hash is part of the content.
    logo: bytes | None = field(default=None, repr=False)

    @property
    def is_draft(self) -> bool:
        """A statement is a draft until its period's calculation is approved."""
        return self.approval is None

    @property
    def clawbacks(self) -> tuple[StatementLine, ...]:
        return tuple(line for line in self.lines if line.kind == "clawback")

    @property
    def adjustments_total(self) -> Decimal:
        return sum((entry.amount for entry in self.adjustments), Decimal(0))

    def lines_of(self, component: str) -> tuple[StatementLine, ...]:
        return tuple(line for line in self.lines if line.component == component)


# --- assembling -------------------------------------------------------------------


def order_lines(lines: Iterable[StatementLine], components: Sequence[ComponentSummary]) -> tuple[StatementLine, ...]:
    """Sort lines by component (in summary order), then credit date, deal id, line id and kind.

    Lines of a component missing from the summary come last, by component name.
    """
    position = {summary.name: index for index, summary in enumerate(components)}
    kind_order = {kind: index for index, kind in enumerate(LINE_KINDS)}

    def key(line: StatementLine) -> tuple:
        return (
            position.get(line.component, len(position)), line.component,
            line.credit_date or dt.date.max, line.deal_id or "", line.line_id or "",
            kind_order.get(line.kind, len(kind_order)), line.kind,
        )

    return tuple(sorted(lines, key=key))


def split_special_rows(rows: Sequence[ComponentSummary]) -> tuple[tuple[ComponentSummary, ...], Decimal, Decimal, Decimal | None]:
    """Separate plan components from the Draw, Adjustments and TOTAL result rows.

    Returns (components, draw payment, adjustments total, TOTAL earnings or None).
    """
    components = tuple(row for row in rows if row.name not in SPECIAL_ROWS)
    by_name = {row.name: row.earnings for row in rows if row.name in SPECIAL_ROWS}
    return components, by_name.get(DRAW_ROW, Decimal(0)), by_name.get(ADJUSTMENTS_ROW, Decimal(0)), by_name.get(TOTAL_ROW)


# --- checks -------------------------------------------------------------------------


def check_statement(data: StatementData) -> list[Problem]:
    """Check that the lines add up to their components and the rows add up to the payout.

    A component without any line (a bonus on a payout curve, for example) is paid on the
    period total and has nothing to add up.
    """
    problems: list[Problem] = []
    for summary in data.components:
        lines = data.lines_of(summary.name)
        if not lines:
            continue
        total = sum((line.earnings for line in lines), Decimal(0))
        if total != summary.earnings:
            problems.append(Problem(
                "statement.lines_total",
                f"the lines of {summary.name!r} add up to {total} but the component earns {summary.earnings}; "
                "recalculate the period",
                participant_id=data.participant_id, component=summary.name, value=str(total),
            ))
    expected = sum((summary.earnings for summary in data.components), Decimal(0))
    expected += data.draw_payment + data.adjustments_total
    if expected != data.payout:
        problems.append(Problem(
            "statement.payout_total",
            f"components, draw and adjustments add up to {expected} but the payout is {data.payout}; "
            "recalculate the period",
            participant_id=data.participant_id, value=str(expected),
        ))
    return problems


# --- canonical content and hash -------------------------------------------------------


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _record(instance: object) -> dict[str, object]:
    return {name: _plain(getattr(instance, name)) for name in instance.__dataclass_fields__}  # type: ignore[attr-defined]


def statement_content(data: StatementData) -> dict[str, object]:
    """Return the canonical content of a statement: plain JSON values, the logo by its hash."""
    content: dict[str, object] = {
        "content_version": CONTENT_VERSION,
        "company_name": data.company_name,
        "logo_sha256": sha256_hex(data.logo) if data.logo else None,
        "participant": {
            "id": data.participant_id, "name": data.participant_name, "role": data.role,
            "manager_id": data.manager_id, "manager_name": data.manager_name, "payroll_id": data.payroll_id,
        },
        "plan": data.plan,
        "plan_version": data.plan_version,
        "period": {"label": data.period, "start": data.period_start.isoformat(), "end": data.period_end.isoformat()},
        "currency": data.currency,
        "components": [_record(summary) for summary in data.components],
        "lines": [_record(line) for line in data.lines],
        "draw": None if data.draw is None else {
            "amount": _plain(data.draw.amount), "recoverable": data.draw.recoverable,
            "opening_balance": _plain(data.draw.opening_balance),
            "closing_balance": _plain(data.draw.closing_balance),
            "history": [_record(entry) for entry in data.draw.history],
        },
        "draw_payment": _plain(data.draw_payment),
        "adjustments": [_record(entry) for entry in data.adjustments],
        "holds": [_record(entry) for entry in data.holds],
        "payout": _plain(data.payout),
        "run_id": data.run_id,
        "input_fingerprint": data.input_fingerprint,
        "calculated_at": _plain(data.calculated_at),
        "approval": None if data.approval is None else _record(data.approval),
        "notes": list(data.notes),
    }
    return content


def content_sha256(data: StatementData) -> str:
    """Return the SHA-256 of the statement's canonical content (printed in its footer)."""
    return fingerprint(statement_content(data))


# --- text for people ----------------------------------------------------------------


def format_amount(value: Decimal | None, currency: str) -> str:
    """Format money with thousands separators and the currency's minor unit: 1,234.50."""
    if value is None:
        return ""
    exponent = minor_exponent(currency)
    return f"{round_half_up(value, exponent):,.{exponent}f}"


def format_metric(value: Decimal | None, unit: str, currency: str) -> str:
    """Format a metric value: money as money, counts as integers or with two decimals when fractional."""
    if value is None:
        return ""
    if unit == "currency":
        return format_amount(value, currency)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{round_half_up(value, 2):,.2f}"


def format_percent(value: Decimal | None, decimals: int = 2) -> str:
    """Format a fraction as a percentage: Decimal('0.87254') -> '87.25%'."""
    if value is None:
        return ""
    return f"{round_half_up(value * 100, decimals):,.{decimals}f}%"


def format_rate(value: Decimal | None) -> str:
    """Format a rate fraction as a percentage without trailing zeros: 0.025 -> '2.5%'."""
    if value is None:
        return ""
    percent = (value * 100).normalize()
    text = f"{percent:f}"
    return f"{text}%"


def format_share(value: Decimal | None) -> str:
    if value is None:
        return ""
    return format_rate(value)


def format_fx(value: Decimal | None) -> str:
    """Format an FX rate with at least four decimals and no trailing zeros beyond them."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(4, '0')}"


_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


def safe_file_part(text: str) -> str:
    """Replace every character that is unsafe in a file name on some system with '_'."""
    cleaned = _UNSAFE_FILE_CHARACTERS.sub("_", text)
    return cleaned.strip(".") or "_"


# Longer participant ids are cut in file names, which most file systems limit to 255 bytes.
FILE_ID_LENGTH = 80


def statement_file_stem(period: str, participant_id: str) -> str:
    """Return the base file name of a statement: statement_<period>_<participant id>.

    An id longer than ``FILE_ID_LENGTH`` characters is cut and gets the start of its
    SHA-256, so the name stays unique and fits the file system.
    """
    part = safe_file_part(participant_id)
    if len(part) > FILE_ID_LENGTH:
        digest = hashlib.sha256(participant_id.encode("utf-8")).hexdigest()[:12]
        part = f"{part[:FILE_ID_LENGTH - 13]}_{digest}"
    return f"statement_{safe_file_part(period)[:FILE_ID_LENGTH]}_{part}"
