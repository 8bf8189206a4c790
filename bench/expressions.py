"""Time a three-clause metric filter over 1,000,000 deal records.

Run: python bench/expressions.py [ROWS]. Prints the median of five runs of
``evaluate_mask`` (the whole-frame evaluator) and one run of the row-by-row evaluator on
a 20,000-row slice for comparison. It also times one whole metric (filter, refunds that
follow their deal, exact sum per owner) and one reconciliation of two definitions.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

import numpy as np
import pandas as pd

from spm_desktop.domain.expressions import compile_expression

FILTER = 'stage == "Won" and amount >= 1000 and product in ("GTX Pro", "GTX Plus Pro", "MG Advanced")'
KINDS = {"stage": "text", "amount": "money", "product": "text", "deal_id": "id"}


def make_deals(rows: int) -> pd.DataFrame:
    generator = np.random.default_rng(7)
    stages = np.array(["Won", "Lost", "Engaging", "Prospecting"], dtype=object)
    products = np.array(["GTX Pro", "GTX Plus Pro", "GTX Basic", "MG Advanced", "MG Special", "GTK 500"], dtype=object)
    return pd.DataFrame({
        "deal_id": [f"D{index:07d}" for index in range(rows)],
        "stage": pd.Series(stages[generator.integers(0, 4, rows)], dtype=object),
        "amount": pd.array(generator.integers(0, 50_000_000, rows), dtype="Int64"),
        "product": pd.Series(products[generator.integers(0, 6, rows)], dtype=object),
    })


def _time_metric(deals: pd.DataFrame) -> float:
    """Time a whole metric: filter, reversal lookup and the exact sum per owner."""
    from spm_desktop.domain.metrics import MetricDefinition, compile_metric

    rows = len(deals)
    generator = np.random.default_rng(11)
    owners = np.array([f"agent {index:02d}" for index in range(35)], dtype=object)
    refunds = generator.random(rows) < 0.02
    frame = deals.assign(
        owner=pd.Series(owners[generator.integers(0, 35, rows)], dtype=object),
        type=pd.Series(np.where(refunds, "refund", "sale"), dtype=object),
        reference_deal_id=pd.Series(np.where(refunds, deals["deal_id"].to_numpy()[::-1], None), dtype=object),
    )
    metric = compile_metric(MetricDefinition(key="won", name="Won", value="sum(amount)", filter=FILTER))
    started = time.perf_counter()
    metric.aggregate(frame, by="owner")
    return time.perf_counter() - started


def _time_reconcile(deals: pd.DataFrame) -> tuple[float, int]:
    """Time a reconciliation of "all won deals" with the three-clause filter over one quarter."""
    import datetime as dt

    from spm_desktop.domain.metrics import MetricDefinition
    from spm_desktop.domain.reconcile import reconcile

    generator = np.random.default_rng(3)
    owners = np.array([f"agent {index:02d}" for index in range(35)], dtype=object)
    frame = deals.assign(
        owner=pd.Series(owners[generator.integers(0, 35, len(deals))], dtype=object),
        close_date=pd.Timestamp("2017-07-01") + pd.to_timedelta(generator.integers(0, 92, len(deals)), unit="D"),
    )
    won = MetricDefinition(key="won", name="Won", value="sum(amount)", filter='stage == "Won"')
    narrow = MetricDefinition(key="won_narrow", name="Won, narrow", value="sum(amount)", filter=FILTER)
    started = time.perf_counter()
    result = reconcile(won, narrow, {"deals": frame}, "2017-Q3", dt.date(2017, 7, 1), dt.date(2017, 9, 30))
    return time.perf_counter() - started, len(result.only_a)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    deals = make_deals(rows)
    compiled = compile_expression(FILTER)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        mask = compiled.evaluate_mask(deals, KINDS)
        timings.append(time.perf_counter() - started)
    sample = deals.head(20_000)
    records = sample.to_dict("records")
    started = time.perf_counter()
    row_mask = [compiled.evaluate_row(record, field_kinds=KINDS) is True for record in records]
    row_seconds = time.perf_counter() - started
    assert row_mask == mask[:20_000].tolist()
    metric_seconds = _time_metric(deals)
    reconcile_seconds, differing = _time_reconcile(deals)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"filter: {FILTER}")
    print(f"rows: {rows:,}; selected: {int(mask.sum()):,}")
    print(f"whole frame, median of 5: {statistics.median(timings):.3f} s (min {min(timings):.3f} s)")
    print(f"row by row, 20,000 rows: {row_seconds:.3f} s (about {row_seconds * rows / 20_000:.0f} s for {rows:,})")
    print(f"metric select + sum by owner (2% of rows are refunds): {metric_seconds:.3f} s")
    print(f"reconcile two definitions, {differing:,} differing records attributed: {reconcile_seconds:.3f} s")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
