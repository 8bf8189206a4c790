"""The one place that formats money, dates and ratios for people."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from spm_desktop.domain.money import minor_exponent, round_half_up


def format_money(value: Decimal | int | None, currency: str = "", *, with_currency: bool = True) -> str:
    """Format as 1,234.50 USD; minus sign for negatives; empty for None."""
    if value is None:
        return ""
    exponent = minor_exponent(currency) if currency else 2
    rounded = round_half_up(Decimal(value), exponent)
    text = f"{rounded:,.{exponent}f}"
    return f"{text} {currency}" if with_currency and currency else text


def format_date(value: dt.date | dt.datetime | str | None) -> str:
    """Format as ISO 8601 (2017-03-31), the one date format the whole field reads alike."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def format_ratio(value: Decimal | float | None, decimals: int = 1) -> str:
    """Format a fraction as a percentage: Decimal('0.8725') -> '87.3%'."""
    if value is None:
        return ""
    return f"{round_half_up(Decimal(str(value)) * 100, decimals)}%"


def format_count(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    decimal_value = Decimal(value)
    if decimal_value == decimal_value.to_integral_value():
        return f"{int(decimal_value):,}"
    return f"{round_half_up(decimal_value, 2):,}"
