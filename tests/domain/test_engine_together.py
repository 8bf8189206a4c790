"""Pricing and rounding all participants of a component at once must give the one-by-one figures."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from ae_plan import quarter_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.engine import CalculationInputs, calculate, exact_decimals
from spm_desktop.domain.engine import components as engine_components
from spm_desktop.domain.engine.earning import (
    FINE_DIGITS,
    BandLabels,
    LabelTable,
    edge_units,
    integer_units,
    largest_remainder,
    price_segments,
    price_tiers,
    round_segments,
)
from spm_desktop.domain.metrics import MetricDefinition, compile_metric
from spm_desktop.domain.plan_tiers import band_edges
from spm_desktop.domain.plans import load_plan

SCALE = 6

# Credits with 0 to 4 decimals, so that one segment mixes exponents as real credit rows do.
credits = st.builds(lambda units, places: Decimal(units).scaleb(-places),
                    st.integers(min_value=-2_000_000, max_value=90_000_000), st.integers(min_value=0, max_value=4))
segments = st.lists(st.lists(credits, min_size=1, max_size=25), min_size=1, max_size=6)


def tiers_of(method: str, grain: str = "period") -> object:
    text = quarter_plan(f"""\
  - name: C
    type: commission
    metric: sales
    quota: sales
    tiers:
      method: {method}
      by: attainment
      grain: {grain}
      bands: [{{from: 0, rate: 0.02}}, {{from: 0.5, rate: 0.045}}, {{from: 1, rate: 0.07}}, {{from: 1.25, rate: 0.1}}]
""", "P")
    return load_plan(text).components[0].tiers


def described(codes: np.ndarray, table: LabelTable) -> list[tuple]:
    return [(table.bands[code], table.rates[code]) for code in codes.tolist()]


@pytest.mark.parametrize(("method", "per_row"), [("marginal", False), ("retroactive", False), ("retroactive", True),
                                                 ("flat", False)])
@given(data=segments, quotas=st.lists(st.integers(min_value=1, max_value=40_000), min_size=6, max_size=6),
       with_exponents=st.booleans())
@settings(max_examples=60, deadline=None)
def test_segments_price_like_one_by_one(method, per_row, data, quotas, with_exponents):
    tiers = tiers_of(method, "deal" if per_row else "period")
    table = LabelTable()
    labels = BandLabels(tiers, table)
    values = np.array([value for segment in data for value in segment], dtype=object)
    units = integer_units(values, SCALE)
    edges = [band_edges(tiers, Decimal(quota)) for quota in quotas[:len(data)]]
    exponents = np.array([value.as_tuple().exponent for value in values], dtype=np.int16) if with_exponents else None
    lengths = np.array([len(segment) for segment in data], dtype=np.int64)
    prices = price_segments(values, units, lengths, edges, np.stack([edge_units(tuple(item), SCALE) for item in edges]),
                            tiers.method, per_row, labels, SCALE, exponents)
    exact = values * np.array(labels.rates, dtype=object)[prices.bands]
    exact[prices.crossings] = prices.crossing_exact
    first = 0
    for segment, segment_edges in zip(data, edges, strict=True):
        part = slice(first, first + len(segment))
        groups = np.array([f"deal {index}" for index in range(len(segment))], dtype=object) if per_row else None
        expected, codes, plain = price_tiers(np.array(segment, dtype=object), groups, tiers, segment_edges, labels)
        assert [repr(value) for value in exact[part]] == [repr(value) for value in expected]
        assert described(prices.codes[part], table) == described(codes, table)
        assert prices.plain[part].tolist() == plain.tolist()
        first += len(segment)


fine_lines = st.integers(min_value=-(10**14), max_value=10**14)


@given(st.lists(st.lists(fine_lines, min_size=1, max_size=30), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_segments_round_like_largest_remainder(data):
    fine = np.array([value for segment in data for value in segment], dtype=np.int64)
    units, totals = round_segments(fine, np.array([len(segment) for segment in data], dtype=np.int64))
    first = 0
    for number, segment in enumerate(data):
        exact = np.array([Decimal(value).scaleb(-(2 + FINE_DIGITS)) for value in segment], dtype=object)
        total, expected = largest_remainder(exact, "USD")
        assert int(total.scaleb(2)) == totals[number]
        assert units[first:first + len(segment)].tolist() == expected.tolist()
        first += len(segment)


# ---------------------------------------------------------------- whole calculations

PLAN = quarter_plan("""\
  - name: Marginal
    type: commission
    metric: sales
    quota: sales
    tiers:
      method: marginal
      by: attainment
      bands: [{from: 0, rate: 0.03}, {from: 0.5, rate: 0.06}, {from: 1.0, rate: 0.0915}]
  - name: Retroactive
    type: commission
    metric: sales
    tiers:
      method: retroactive
      by: amount
      bands: [{from: 0, rate: 0.01}, {from: 20000, rate: 0.015}]
  - name: Per deal
    type: commission
    metric: sales
    tiers:
      method: retroactive
      by: amount
      grain: deal
      bands: [{from: 0, rate: 0}, {from: 2000, rate: 0.005}, {from: 5000, rate: 0.0101}]
  - name: Capped
    type: commission
    metric: sales
    cap: 900
    tiers:
      method: flat
      bands: [{from: 0, rate: 0.02}]
""")


def workload(seed: int) -> dict[str, pd.DataFrame]:
    """Twelve sellers, one of them without a quota, deals with up to four decimals, splits and a refund."""
    rng = np.random.default_rng(seed)
    ids = [f"S{index:02d}" for index in range(12)]
    count = 600
    # Money columns hold counts of 1/10,000: these are -5.0000 to 3,000.0000 with 0 to 4 decimals.
    amounts = rng.integers(-5, 300_000, count) * 10 ** rng.integers(0, 5, count) // 10
    deals = pd.DataFrame({
        "deal_id": [f"D{index:04d}" for index in range(count)],
        "owner": np.array(ids, dtype=object)[rng.integers(0, len(ids), count)],
        "amount": pd.array(amounts, dtype="Int64"),
        "close_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 91, count), unit="D"),
        "stage": "Won", "type": "sale", "reference_deal_id": None,
    })
    # A deal line repeated under one id, and a refund of an earlier deal.
    deals.loc[5, ["deal_id", "owner"]] = deals.loc[4, ["deal_id", "owner"]].tolist()
    deals.loc[count - 1, ["type", "reference_deal_id", "amount"]] = ["refund", "D0010", -1_000_000]
    split_deals = deals["deal_id"].iloc[20:60].tolist()
    splits = pd.DataFrame({"deal_id": split_deals * 2,
                           "participant_id": [ids[0]] * 40 + [ids[1]] * 40,
                           "share": [Decimal("0.25")] * 40 + [Decimal("0.75")] * 40, "kind": "split"})
    quotas = pd.DataFrame({"participant_id": ids[:-1], "quota_key": "sales", "period": "2024-Q1",
                           "amount": [Decimal(int(value)) for value in rng.integers(20_000, 120_000, len(ids) - 1)]})
    people = pd.DataFrame({"participant_id": ids, "name": ids, "role": "Rep"})
    return {"participants": people, "deals": deals, "credit_splits": splits, "quotas": quotas}


def figures(result: object) -> tuple[list, list]:
    rows = [(row.participant_id, row.component, repr(row.earnings), repr(row.metric_value))
            for row in result.rows]  # type: ignore[attr-defined]
    lines = result.lines  # type: ignore[attr-defined]
    table = list(zip(lines["participant_id"], lines["component"], lines["deal_id"],
                     [repr(value) for value in exact_decimals(lines)], lines["rounded_minor"].tolist(),
                     lines["bands"], lines["rates"], lines["kind"], lines["note"], strict=True))
    return rows, table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_together_matches_one_by_one(seed, monkeypatch):
    sales = compile_metric(MetricDefinition(key="sales", name="Sales", value="sum(amount)"))

    def run() -> object:
        return calculate(CalculationInputs(period="2024-Q1", plans=[load_plan(PLAN)], metrics={"sales": sales},
                                           **workload(seed)))

    calls = []
    original = engine_components._price_together

    def counted(context, component):
        found = original(context, component)
        calls.append(len(found.segments))
        return found

    monkeypatch.setattr(engine_components, "_price_together", counted)
    together = figures(run())
    # Most sellers were priced together; the one with the refunded deal and the one without a quota were not.
    assert max(calls) >= 9
    monkeypatch.setattr(engine_components, "_price_together", lambda context, component: engine_components.
                        PricedTogether(-1, None, np.empty(0, dtype=object), None, None, {}))
    one_by_one = figures(run())
    assert together == one_by_one
