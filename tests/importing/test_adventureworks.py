"""AdventureWorks tab-separated files without a header row, mapped by column position."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from import_paths import ADVENTUREWORKS

from spm_desktop.services import record_service

PEOPLE = "record_set: participants\nheader_row: none\ncolumns: {participant_id: 1, name: 1, territory: 2}\n"
QUOTAS = """
record_set: quotas
header_row: none
columns: {participant_id: 1, period: 2, amount: 3}
defaults: {quota_key: sales}
options: {period_from_date: quarter}
"""
TERRITORIES = "record_set: hierarchy\nheader_row: none\ncolumns: {participant_id: 1, territory: 2, start_date: 3, end_date: 4}\n"
RATES = """
record_set: fx_rates
header_row: none
columns: {date: 2, from_currency: 3, to_currency: 4}
melt: {field: rate, type_field: rate_type, columns: {average: 5, end_of_day: 6}}
"""


def _frame(workspace, record_set: str) -> pd.DataFrame:
    with workspace.read() as connection:
        return record_service.load_frame(connection, record_set)


@pytest.fixture
def people(import_file):
    return import_file("participants", ADVENTUREWORKS / "SalesPerson.csv", PEOPLE)


def test_quota_dates_placed_in_quarters(workspace, people, import_file):
    result = import_file("quotas", ADVENTUREWORKS / "SalesPersonQuotaHistory.csv", QUOTAS)
    quotas = _frame(workspace, "quotas")
    first = quotas[quotas["participant_id"] == "274"].head(4)
    assert result.counts.added == 163
    assert first["period"].tolist() == ["2011-Q2", "2011-Q3", "2011-Q4", "2012-Q1"]
    assert first["amount"].tolist() == [280_000_000, 70_000_000, 910_000_000, 1_400_000_000]
    assert set(quotas["quota_key"]) == {"sales"}


def test_quota_quarters_follow_fiscal_year(workspace, people, import_file):
    workspace.set_setting("fiscal_year.start_month", 7)
    import_file("quotas", ADVENTUREWORKS / "SalesPersonQuotaHistory.csv", QUOTAS)
    quotas = _frame(workspace, "quotas")
    assert quotas[quotas["participant_id"] == "274"]["period"].head(2).tolist() == ["FY2011-Q4", "FY2012-Q1"]


def test_territory_history_is_effective_dated(workspace, people, import_file):
    result = import_file("hierarchy", ADVENTUREWORKS / "SalesTerritoryHistory.csv", TERRITORIES)
    moves = _frame(workspace, "hierarchy").query("participant_id == '275'")
    assert result.counts.added == 17
    assert moves["territory"].tolist() == ["2", "3"]
    assert moves["start_date"].tolist() == [pd.Timestamp("2011-05-31"), pd.Timestamp("2012-11-30")]
    assert moves["end_date"].iloc[0] == pd.Timestamp("2012-11-29")
    assert pd.isna(moves["end_date"].iloc[1])


@pytest.mark.slow
def test_currency_rates_both_types(workspace, import_file):
    result = import_file("fx_rates", ADVENTUREWORKS / "CurrencyRate.csv", RATES)
    rates = _frame(workspace, "fx_rates")
    first_day = rates[(rates["date"] == pd.Timestamp(dt.date(2011, 5, 31))) & (rates["to_currency"] == "AUD")]
    assert result.counts.added == 13_532 * 2
    assert rates["rate_type"].value_counts().to_dict() == {"average": 13_532, "end_of_day": 13_532}
    assert dict(zip(first_day["rate_type"], first_day["rate"], strict=True)) == {
        "average": Decimal("1.5491"), "end_of_day": Decimal("1.55")}


def test_unmapped_positions_kept_as_attributes(workspace, people):
    participants = _frame(workspace, "participants")
    assert participants.loc[participants["participant_id"] == "275", "column_5"].tolist() == ["0.012"]
