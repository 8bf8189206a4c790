"""Property tests of metric selection and reconciliation against plain Python reference calculations."""

import datetime as dt
from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.reconcile import reconcile

STAGES = ["Won", "Lost", "Open"]
PRODUCTS = ["GTX Pro", "MG Special"]
Q3 = ("2017-Q3", dt.date(2017, 7, 1), dt.date(2017, 9, 30))

SALE = st.fixed_dictionaries({
    "owner": st.sampled_from(["ann", "bob", "cat"]),
    "amount": st.integers(0, 5_000_000_0),
    "day": st.dates(dt.date(2017, 6, 20), dt.date(2017, 10, 10)),
    "stage": st.sampled_from(STAGES),
    "product": st.sampled_from(PRODUCTS),
})
REVERSAL = st.fixed_dictionaries({
    "target": st.integers(0, 30),
    "amount": st.integers(1, 1_000_000_0),
    "day": st.dates(dt.date(2017, 6, 20), dt.date(2017, 10, 10)),
    "type": st.sampled_from(["refund", "credit_note", "cancellation"]),
})


def build(sales, reversals):
    rows = []
    for index, sale in enumerate(sales):
        rows.append({"deal_id": f"D{index}", "owner": sale["owner"], "amount": sale["amount"], "day": sale["day"],
                     "stage": sale["stage"], "product": sale["product"], "type": "sale", "reference_deal_id": None})
    for index, reversal in enumerate(reversals):
        target = reversal["target"]
        owner = sales[target]["owner"] if target < len(sales) else "ann"
        rows.append({"deal_id": f"R{index}", "owner": owner, "amount": -reversal["amount"], "day": reversal["day"],
                     "stage": None, "product": None, "type": reversal["type"], "reference_deal_id": f"D{target}"})
    frame = pd.DataFrame(rows, columns=["deal_id", "owner", "amount", "day", "stage", "product", "type",
                                        "reference_deal_id"])
    frame["amount"] = pd.array([row["amount"] for row in rows], dtype="Int64")
    frame["close_date"] = pd.to_datetime(pd.Series([row["day"] for row in rows], dtype=object))
    frame["stage"] = pd.Series([row["stage"] for row in rows], dtype=object)
    frame["product"] = pd.Series([row["product"] for row in rows], dtype=object)
    frame["reference_deal_id"] = pd.Series([row["reference_deal_id"] for row in rows], dtype=object)
    return frame.drop(columns=["day"]), rows


def reference_select(rows, passes):
    passing = {row["deal_id"] for row in rows if row["type"] == "sale" and passes(row)}
    return [passes(row) if row["type"] == "sale" else row["reference_deal_id"] in passing for row in rows]


WON = MetricDefinition(key="won", name="Won", value="sum(amount)", filter='stage == "Won"')
WON_GTX = MetricDefinition(key="gtx", name="Won GTX", value="sum(amount)",
                           filter='stage == "Won" and product == "GTX Pro" and amount >= 1000')


@settings(max_examples=150, deadline=None)
@given(sales=st.lists(SALE, min_size=1, max_size=25), reversals=st.lists(REVERSAL, max_size=10))
def test_select_matches_reference(sales, reversals):
    frame, rows = build(sales, reversals)

    def passes(row):
        return row["stage"] == "Won" and row["product"] == "GTX Pro" and row["amount"] >= 1000 * 10_000

    assert compile_metric(WON_GTX).select(frame).tolist() == reference_select(rows, passes)


@settings(max_examples=150, deadline=None)
@given(sales=st.lists(SALE, min_size=1, max_size=25), reversals=st.lists(REVERSAL, max_size=10))
def test_reconciliation_differences_add_up(sales, reversals):
    frame, _rows = build(sales, reversals)
    result = reconcile(WON, WON_GTX, {"deals": frame}, *Q3)
    explained = (sum(result.only_b["value"], Decimal(0)) - sum(result.only_a["value"], Decimal(0))
                 + sum(result.changed["difference"], Decimal(0)))
    assert result.difference == explained
    assert sum(result.participants["difference"], Decimal(0)) == result.difference


@settings(max_examples=150, deadline=None)
@given(sales=st.lists(SALE, min_size=1, max_size=25), reversals=st.lists(REVERSAL, max_size=10))
def test_total_matches_reference_sum(sales, reversals):
    frame, rows = build(sales, reversals)
    metric = compile_metric(WON)
    selected = metric.select(frame) & metric.in_period(frame, Q3[1], Q3[2])
    expected = sum((Decimal(row["amount"]).scaleb(-4) for row, chosen in zip(rows, selected, strict=True)
                    if chosen), Decimal(0))
    assert metric.total(frame, selected) == expected
