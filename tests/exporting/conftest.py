"""Statements built by hand for the exporter tests, with figures worked out in the comments.

The main sample is a quarter of Darcel Schlecht's: marginal tiers on attainment against
a quota of 30,000 (3% to 50%, 6% to 100%, 9% above), so band edges fall at 15,000 and
30,000 of credit. It has an owned deal, a 60% split, a 50% overlay, a deal in EUR, a
full clawback of an earlier deal, deals that straddle a band edge, a hold, a SPIF, a
bonus without lines, a recovered draw balance and a prior-period adjustment.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from spm_desktop.domain.statements import (
    AdjustmentEntry,
    Approval,
    ComponentSummary,
    DrawEntry,
    DrawSummary,
    HoldEntry,
    StatementData,
    StatementLine,
)

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "snapshots"
UPDATE_ENV = "SPM_UPDATE_SNAPSHOTS"
FINGERPRINT = "5f0c7c2d9a4b1e3f6a8d0b2c4e6f8a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f"
APPROVED = Approval("maria.lopez", dt.datetime(2017, 10, 6, 14, 5, tzinfo=dt.UTC))
CALCULATED = dt.datetime(2017, 10, 4, 9, 30, tzinfo=dt.UTC)
# A made-up company logo (drawn with QPainter for these tests).
LOGO_PNG = (Path(__file__).resolve().parent / "logo.png").read_bytes()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="rewrite the statement snapshot files instead of comparing with them")


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-snapshots") or os.environ.get(UPDATE_ENV))


def _line(deal: str, day: str, kind: str, credited: str | None, earnings: str, **extra: object) -> StatementLine:
    return StatementLine(
        component=str(extra.pop("component", "Bookings commission")), kind=kind, earnings=Decimal(earnings),
        credit_date=dt.date.fromisoformat(day), deal_id=deal,
        credited=None if credited is None else Decimal(credited), **extra,  # type: ignore[arg-type]
    )


def quarter_lines() -> tuple[StatementLine, ...]:
    owner = {"share": Decimal(1), "credit_kind": "owner"}
    return (
        # 4,514 in band 1 (cumulative 4,514): 4,514 x 3% = 135.42
        _line("Z063OYW0", "2017-07-05", "sale", "4514.00", "135.42", customer="Isdom", product="GTX Pro",
              bands="1", rates="3%", exact_earnings=Decimal("135.42"), **owner),
        # 60% of 12,000 = 7,200 in band 1 (cumulative 11,714): 216.00
        _line("8RN5S3A6", "2017-07-12", "sale", "7200.00", "216.00", customer="Kan-code", product="GTX Plus Pro",
              share=Decimal("0.6"), credit_kind="split", bands="1", rates="3%", exact_earnings=Decimal("216.00")),
        # 6,000 straddles 15,000: 3,286 x 3% + 2,714 x 6% = 98.58 + 162.84 = 261.42 (cumulative 17,714)
        _line("N9ZRY2MS", "2017-08-02", "sale", "6000.00", "261.42", customer="Cancity", product="MG Advanced",
              bands="1-2", rates="3%, 6%", exact_earnings=Decimal("261.42"), **owner),
        # 50% overlay of 8,000 = 4,000 in band 2 (cumulative 21,714): 240.00
        _line("QXTN4MBX", "2017-08-20", "sale", "4000.00", "240.00", customer="Rangreen", product="GTX Pro",
              share=Decimal("0.5"), credit_kind="overlay", bands="2", rates="6%", exact_earnings=Decimal("240.00")),
        # Full credit note on Z063OYW0 within the window, original rate: -135.42 (cumulative 17,200)
        _line("Z063OYW0-CN", "2017-09-01", "clawback", "-4514.00", "-135.42", customer="Isdom", product="GTX Pro",
              reference_deal_id="Z063OYW0", bands="1", rates="3%", exact_earnings=Decimal("-135.42"), **owner),
        # 10,000 EUR at 1.1850 = 11,850 in band 2 (cumulative 29,050): 711.00
        _line("E4VKQ0A7", "2017-09-15", "sale", "11850.00", "711.00", customer="Konex", product="GTX Pro",
              fx_rate=Decimal("1.1850"), bands="2", rates="6%", exact_earnings=Decimal("711.00"), **owner),
        # 3,000 straddles 30,000: 950 x 6% + 2,050 x 9% = 57.00 + 184.50 = 241.50 (cumulative 32,050);
        # half waits for service start, so 120.75 is paid now and 120.75 held back
        _line("B1T9FJQW", "2017-09-28", "sale", "3000.00", "120.75", customer="Plexzap", product="GTX Pro",
              bands="2-3", rates="6%, 9%", exact_earnings=Decimal("241.50"), held=Decimal("120.75"), **owner),
        # GTX Pro SPIF: 100.00 per unit
        _line("N9ZRY2MS", "2017-08-02", "sale", None, "100.00", component="GTX Pro SPIF", customer="Cancity",
              product="MG Advanced", rates="100.00/unit", share=Decimal(1), credit_kind="owner"),
        _line("B1T9FJQW", "2017-09-28", "sale", None, "100.00", component="GTX Pro SPIF", customer="Plexzap",
              product="GTX Pro", rates="100.00/unit", share=Decimal(1), credit_kind="owner"),
    )


def quarter_components() -> tuple[ComponentSummary, ...]:
    return (
        # 135.42 + 216.00 + 261.42 + 240.00 - 135.42 + 711.00 + 120.75 (paid now) = 1,549.17
        ComponentSummary("Bookings commission", Decimal("1549.17"), "bookings", 3, Decimal("32050.00"), "currency",
                         Decimal("30000.00"), Decimal("1.0683"), "3", "9%"),
        ComponentSummary("GTX Pro SPIF", Decimal("200.00"), "gtx_pro_deals", 1, Decimal("2"), "count", None, None, "", "100.00"),
        # 1.0 + 0.0683 x 2 = 1.1367 of a 5,000.00 target: 5,683.33
        ComponentSummary("Attainment bonus", Decimal("5683.33"), "bookings", 3, Decimal("32050.00"), "currency",
                         Decimal("30000.00"), Decimal("1.0683"), "", "113.67%"),
    )


def quarter_statement(approval: Approval | None = APPROVED, **changes: object) -> StatementData:
    """Return the worked Q3 statement: 7,432.50 earned, 500.00 draw recovered, 125.00 adjusted: 7,057.50."""
    values: dict[str, object] = {
        "company_name": "Maven Analytics Sales Co.",
        "participant_id": "P-1007",
        "participant_name": "Darcel Schlecht",
        "role": "Sales Agent",
        "manager_id": "P-0002",
        "manager_name": "Summer Sewald",
        "payroll_id": "PR-004512",
        "plan": "Account Executive 2017",
        "plan_version": 2,
        "period": "2017-Q3",
        "period_start": dt.date(2017, 7, 1),
        "period_end": dt.date(2017, 9, 30),
        "currency": "USD",
        "components": quarter_components(),
        "lines": quarter_lines(),
        "payout": Decimal("7057.50"),
        "run_id": "42",
        "input_fingerprint": FINGERPRINT,
        "calculated_at": CALCULATED,
        "draw": DrawSummary(
            amount=Decimal("2000.00"), recoverable=True, opening_balance=Decimal("500.00"), closing_balance=Decimal("0.00"),
            history=(
                DrawEntry("2017-Q1", Decimal("2400.00"), Decimal("0.00"), Decimal("0.00")),
                DrawEntry("2017-Q2", Decimal("1500.00"), Decimal("500.00"), Decimal("500.00")),
                DrawEntry("2017-Q3", Decimal("7432.50"), Decimal("-500.00"), Decimal("0.00")),
            ),
        ),
        "draw_payment": Decimal("-500.00"),
        "adjustments": (
            AdjustmentEntry("prior_period", "PPA", Decimal("150.00"), "Missed split on deal 8RN5S3A6", "2017-Q2"),
            AdjustmentEntry("manual", "SPIF-CORR", Decimal("-25.00"), "Duplicate SPIF for the GTX Pro promotion"),
        ),
        "holds": (HoldEntry("Bookings commission", "B1T9FJQW", Decimal("120.75"), "service start 2017-10-15"),),
        "approval": approval,
        "logo": LOGO_PNG,
    }
    values.update(changes)
    return StatementData(**values)  # type: ignore[arg-type]


def long_statement(line_count: int = 160, approval: Approval | None = APPROVED) -> StatementData:
    """Return a statement with many flat-rate lines (5% of 1,000 + 7 x i), long enough for several pages."""
    customers = ("Acme Corporation", "Betasoloin", "Betatech", "Bioholding", "Cancity", "Codehow", "Condax")
    products = ("GTX Basic", "GTX Pro", "MG Special", "MG Advanced", "GTX Plus Basic")
    lines = []
    for index in range(line_count):
        amount = Decimal(1000 + 7 * index).quantize(Decimal("0.01"))
        earnings = (amount * Decimal("0.05")).quantize(Decimal("0.01"))
        day = dt.date(2017, 7, 1) + dt.timedelta(days=index % 92)
        lines.append(StatementLine("Bookings commission", "sale", earnings, day, f"D-{index:05d}", None,
                                   customers[index % len(customers)], products[index % len(products)], Decimal(1), "owner",
                                   amount, "1", "5%", None, earnings))
    lines.sort(key=lambda line: (line.credit_date, line.deal_id))
    total = sum((line.earnings for line in lines), Decimal(0))
    credit = sum((line.credited or Decimal(0) for line in lines), Decimal(0))
    component = ComponentSummary("Bookings commission", total, "bookings", 3, credit, "currency", None, None, "1", "5%")
    return quarter_statement(approval, components=(component,), lines=tuple(lines), payout=total, draw=None,
                             draw_payment=Decimal(0), adjustments=(), holds=())


def hostile_statement() -> StatementData:
    """Return a statement whose texts would run as formulas if a writer left them unneutralised."""
    lines = tuple(
        StatementLine(line.component, line.kind, line.earnings, line.credit_date, line.deal_id, line.line_id,
                      "=cmd|' /C calc'!A0" if index == 0 else line.customer,
                      "@SUM(A1:A9)" if index == 1 else line.product, line.share, line.credit_kind, line.credited,
                      line.bands, line.rates, line.fx_rate, line.exact_earnings, line.reference_deal_id)
        for index, line in enumerate(quarter_lines())
    )
    return quarter_statement(participant_name='=HYPERLINK("http://example.invalid","x")',
                             participant_id="+P/1007", manager_name="-Summer", lines=lines)


@pytest.fixture
def quarter() -> StatementData:
    return quarter_statement()


@pytest.fixture
def draft_quarter() -> StatementData:
    return quarter_statement(approval=None)
