"""Reconciliation of two metric definitions on a small hand-computed data set."""

import datetime as dt
from decimal import Decimal

import pandas as pd

from spm_desktop.domain.metrics import MetricDefinition
from spm_desktop.domain.reconcile import reconcile

Q3 = ("2017-Q3", dt.date(2017, 7, 1), dt.date(2017, 9, 30))


def deals(rows):
    frame = pd.DataFrame(rows, columns=["deal_id", "owner", "amount", "close_date", "stage", "type",
                                        "reference_deal_id"])
    frame["amount"] = pd.array([int(Decimal(row[2]) * 10_000) for row in rows], dtype="Int64")
    frame["close_date"] = pd.to_datetime(frame["close_date"])
    return frame


DEALS = deals([
    ("D1", "ann", "1000.00", "2017-07-03", "Won", "sale", None),
    ("D2", "ann", "200.50", "2017-08-10", "Won", "sale", None),
    ("D3", "bob", "5000.00", "2017-09-30", "Won", "sale", None),
    ("D4", "bob", "999.99", "2017-09-15", "Won", "sale", None),
    ("D5", "cat", "3000.00", "2017-10-01", "Won", "sale", None),
    ("D6", "cat", "1500.00", "2017-08-01", "Lost", "sale", None),
    ("R1", "ann", "-200.00", "2017-09-01", None, "refund", "D1"),
    ("R2", "ann", "-50.00", "2017-09-05", None, "refund", "D2"),
])

WON = MetricDefinition(key="won", name="Won bookings", owner="Finance", value="sum(amount)",
                       filter='stage == "Won"')
WON_BIG = MetricDefinition(key="won_big", name="Won bookings", owner="RevOps", value="sum(amount)",
                           filter='stage == "Won" and amount >= 1000')


def run(a, b):
    return reconcile(a, b, {"deals": DEALS}, *Q3)


def test_totals_and_difference():
    result = run(WON, WON_BIG)
    assert result.total_a == Decimal("6950.49")
    assert result.total_b == Decimal("5800.00")
    assert result.difference == Decimal("-1150.49")


def test_per_participant_difference():
    rows = run(WON, WON_BIG).participants.set_index("participant_id")
    assert rows.loc["ann", "difference"] == Decimal("-150.50")
    assert rows.loc["bob", "difference"] == Decimal("-999.99")
    assert "cat" not in rows.index


def test_records_only_in_a_with_excluding_clause():
    only_a = run(WON, WON_BIG).only_a
    assert only_a["deal_id"].tolist() == ["D2", "D4", "R2"]
    assert only_a["excluded_by"].tolist() == ["amount >= 1000", "amount >= 1000", "reversed deal D2"]
    assert only_a["reason"].iloc[0] == "amount >= 1000 is false"
    assert only_a["reason"].iloc[2] == "reverses deal D2, for which amount >= 1000 is false"
    assert only_a["value"].tolist() == [Decimal("200.5"), Decimal("999.99"), Decimal("-50")]


def test_nothing_only_in_b_when_b_is_narrower():
    assert run(WON, WON_BIG).only_b.empty


def test_records_only_in_b():
    closed = WON.with_changes(key="closed", filter='stage in ("Won", "Lost")')
    only_b = run(WON, closed).only_b
    assert only_b["deal_id"].tolist() == ["D6"]
    assert only_b["excluded_by"].tolist() == ['stage == "Won"']


def test_date_outside_period_is_the_reason():
    created = WON.with_changes(key="won_created", date="created_date")
    frame = DEALS.assign(created_date=pd.to_datetime(["2017-06-20"] + ["2017-08-01"] * 7))
    result = reconcile(WON, created, {"deals": frame}, *Q3)
    assert result.only_a["deal_id"].tolist() == ["D1"]
    assert result.only_a["reason"].tolist() == ["created_date is 2017-06-20, outside 2017-Q3"]


def test_same_records_with_different_values():
    net = WON.with_changes(key="won_net", value="sum(amount * 0.9)")
    changed = run(WON, net).changed
    assert changed["deal_id"].tolist() == ["D1", "D2", "D3", "D4", "R1", "R2"]
    assert changed["difference"].iloc[0] == Decimal("-100")


def test_versions_of_one_metric_compare():
    result = run(WON_BIG.with_changes(key="won", version=1), WON_BIG.with_changes(key="won", version=2,
                                                                                  filter='stage == "Won"'))
    assert (result.label_a, result.label_b) == ("won@1", "won@2")
    assert result.difference == Decimal("1150.49")


def test_opportunities_and_deals_compare_record_by_record():
    pipeline = WON_BIG.with_changes(source="opportunities")
    result = reconcile(WON, pipeline, {"deals": DEALS, "opportunities": DEALS}, *Q3)
    assert result.comparable_records
    assert result.only_a["deal_id"].tolist() == ["D2", "D4", "R2"]


def test_different_record_sets_compare_totals_only():
    activities = pd.DataFrame({"participant_id": ["ann"], "date": pd.to_datetime(["2017-08-01"]),
                               "type": ["call"], "count": pd.array([3], dtype="Int64")})
    calls = MetricDefinition(key="calls", name="Calls", value="sum(count)", source="activities", date="date",
                             unit="count")
    result = reconcile(WON, calls, {"deals": DEALS, "activities": activities}, *Q3)
    assert not result.comparable_records
    assert result.total_b == 3
    assert result.only_a.empty
    assert result.participants.set_index("participant_id").loc["ann", "value_b"] == 3
