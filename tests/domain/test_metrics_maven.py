"""Two won-bookings definitions reconciled on the real Maven CRM pipeline, checked against plain pandas."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.reconcile import reconcile

PIPELINE = Path(__file__).resolve().parents[1] / "data" / "maven-crm" / "sales_pipeline.csv"
Q3 = ("2017-Q3", dt.date(2017, 7, 1), dt.date(2017, 9, 30))

WON = MetricDefinition(key="won", name="Won bookings", owner="Finance", value="sum(amount)", filter='stage == "Won"')
WON_GTX = MetricDefinition(key="won_gtx", name="Won GTX Pro bookings", owner="Sales", value="sum(amount)",
                           filter='stage == "Won" and product == "GTX Pro"')


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(PIPELINE, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def deals(raw):
    """The deals frame the import produces: canonical fields, money in 1/10,000, the GTXPro alias applied."""
    amount = [None if text == "" else int(Decimal(text) * 10_000) for text in raw["close_value"]]
    return pd.DataFrame({
        "deal_id": raw["opportunity_id"].astype(object),
        "owner": raw["sales_agent"].astype(object),
        "amount": pd.array(amount, dtype="Int64"),
        "close_date": pd.to_datetime(raw["close_date"].replace("", None)).astype("datetime64[ns]"),
        "created_date": pd.to_datetime(raw["engage_date"].replace("", None)).astype("datetime64[ns]"),
        "stage": raw["deal_stage"].astype(object),
        "product": raw["product"].replace({"GTXPro": "GTX Pro"}).astype(object),
        "customer": raw["account"].astype(object),
    })


@pytest.fixture(scope="module")
def expected(raw):
    """The same figures computed independently with pandas on the CSV text."""
    frame = raw.assign(value=pd.to_numeric(raw["close_value"].replace("", None)),
                       day=pd.to_datetime(raw["close_date"].replace("", None)),
                       product=raw["product"].replace({"GTXPro": "GTX Pro"}))
    q3 = frame[(frame["deal_stage"] == "Won") & (frame["day"] >= "2017-07-01") & (frame["day"] <= "2017-09-30")]
    gtx = q3[q3["product"] == "GTX Pro"]
    return {
        "won_total": int(q3["value"].sum()),
        "gtx_total": int(gtx["value"].sum()),
        "won_by_agent": q3.groupby("sales_agent")["value"].sum().astype(int).to_dict(),
        "gtx_by_agent": gtx.groupby("sales_agent")["value"].sum().astype(int).to_dict(),
        "differing": sorted(q3.loc[q3["product"] != "GTX Pro", "opportunity_id"]),
    }


@pytest.fixture(scope="module")
def result(deals):
    return reconcile(WON, WON_GTX, {"deals": deals}, *Q3)


def test_total_won_matches_published_figure(deals):
    assert compile_metric(WON).total(deals) == Decimal(10_005_534)


def test_darcel_schlecht_q3(result):
    row = result.participants.set_index("participant_id").loc["Darcel Schlecht"]
    assert row["value_a"] == Decimal(373_218)


def test_totals_match_pandas(result, expected):
    assert result.total_a == Decimal(expected["won_total"])
    assert result.total_b == Decimal(expected["gtx_total"])


def test_per_agent_difference_matches_pandas(result, expected):
    agents = result.participants.set_index("participant_id")
    for agent, won in expected["won_by_agent"].items():
        gtx = expected["gtx_by_agent"].get(agent, 0)
        assert agents.loc[agent, "difference"] == Decimal(gtx - won), agent


def test_differing_deals_match_pandas(result, expected):
    assert sorted(result.only_a["deal_id"]) == expected["differing"]


def test_every_differing_deal_is_excluded_by_product_clause(result):
    assert set(result.only_a["excluded_by"]) == {'product == "GTX Pro"'}


def test_nothing_counted_only_by_narrower_definition(result):
    assert result.only_b.empty
