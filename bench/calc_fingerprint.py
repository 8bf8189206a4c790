"""Print SHA-256 fingerprints of a calculation result, to show that an engine change keeps every figure.

    python bench/calc_fingerprint.py [--deals 50000 300000] [--workload bench varied]

For each deal count and workload it runs ``calculate`` once and prints four digests. They
cover the result rows, the statement lines and the problems, then all three together. The
lines digest covers every value by ``repr``, so the exponent of a Decimal counts, plus the
dtype of each column and the index. Two runs of the same code print the same digests.
The engine keeps each exact line as an integer coefficient and exponent. The digest first
turns them back into the one Decimal column ``exact`` in the place it had before, so the
digests of this layout and of the earlier one (a Decimal object per line) compare directly.

``bench`` is the workload of ``bench/calc.py engine`` (one participant per 200 deals).
``varied`` adds what that workload lacks. It has returns and cancellations of earlier
deals, deals in EUR and GBP with dated exchange rates, an overlay, and a clawback at the
original rate. It also has a hold until a service start date, a year-to-date basis, a
cap, a gate, and two quarters of one plan year.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calc import PLAN, build_frames, metrics

from spm_desktop.domain.engine import CalculationInputs, CalculationResult, calculate, exact_decimals
from spm_desktop.domain.engine.exact import EXACT_COLUMNS
from spm_desktop.domain.plans import load_plan

VARIED_PLAN = """
plan: Varied
version: 2
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {role: Rep}
clawback: {window_days: 120, rate: original}
fx: {rate_date: credit_date, rate_type: average, max_age_days: 10}
components:
  - name: Bookings marginal ytd
    type: commission
    metric: bookings
    quota: bookings
    basis: ytd
    tiers:
      method: marginal
      by: attainment
      bands: [{from: 0, rate: 0.03}, {from: 0.5, rate: 0.06}, {from: 1.0, rate: 0.09}]
  - name: Hardware held
    type: commission
    metric: hardware
    hold: {share: 0.25, until: service_start_date}
    tiers:
      method: retroactive
      by: amount
      bands: [{from: 0, rate: 0.02}, {from: 30000, rate: 0.035}]
  - name: Large deals
    type: commission
    metric: bookings
    cap: 900
    gate: attainment >= 0.2
    tiers:
      method: marginal
      by: amount
      grain: deal
      bands: [{from: 0, rate: 0}, {from: 2000, rate: 0.005}, {from: 5000, rate: 0.0125}]
"""


def varied_frames(participants: int, deal_count: int, seed: int = 11) -> dict[str, pd.DataFrame]:
    """Return the bench frames over two quarters with reversals, foreign currencies, overlays and holds."""
    frames = build_frames(participants, deal_count, seed=seed)
    rng = np.random.default_rng(seed)
    deals = frames["deals"]
    days = rng.integers(0, 182, len(deals))
    deals["close_date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")
    deals["currency"] = np.where(rng.random(len(deals)) < 0.1, "EUR",
                                 np.where(rng.random(len(deals)) < 0.05, "GBP", "USD"))
    service = deals["close_date"] + pd.to_timedelta(rng.integers(10, 150, len(deals)), unit="D")
    deals["service_start_date"] = service.where(rng.random(len(deals)) < 0.7)

    originals = deals.sample(frac=0.02, random_state=seed)
    reversals = originals.assign(
        deal_id=[f"R{index:07d}" for index in range(len(originals))],
        type=np.where(rng.random(len(originals)) < 0.5, "return", "cancellation"),
        reference_deal_id=originals["deal_id"].to_numpy(),
        amount=pd.array(-(originals["amount"].astype("int64") // rng.integers(1, 4, len(originals))),
                        dtype="Int64"),
        close_date=originals["close_date"] + pd.to_timedelta(rng.integers(1, 60, len(originals)), unit="D"),
    )
    frames["deals"] = pd.concat([deals, reversals], ignore_index=True)

    overlay_deals = deals["deal_id"].sample(frac=0.01, random_state=seed + 1).to_numpy()
    overlays = pd.DataFrame({"deal_id": overlay_deals, "participant_id": "P00000",
                             "share": [Decimal("0.25")] * len(overlay_deals), "kind": "overlay"})
    frames["credit_splits"] = pd.concat([frames["credit_splits"], overlays], ignore_index=True)

    quotas = frames["quotas"]
    frames["quotas"] = pd.concat([quotas, quotas.assign(period="2024-Q2")], ignore_index=True)
    days = pd.date_range("2023-12-20", "2024-07-10", freq="D")
    frames["fx_rates"] = pd.DataFrame({
        "date": np.concatenate([days, days]),
        "from_currency": ["EUR"] * len(days) + ["USD"] * len(days),
        "to_currency": ["USD"] * len(days) + ["GBP"] * len(days),
        "rate": [Decimal("1.0") + Decimal(index % 97) / 1000 for index in range(len(days))]
        + [Decimal("0.79") + Decimal(index % 13) / 10000 for index in range(len(days))],
        "rate_type": "average",
    })
    return frames


def digest_rows(result: CalculationResult) -> str:
    digest = hashlib.sha256()
    for row in result.rows:
        digest.update(repr(row).encode())
    return digest.hexdigest()


def with_decimal_exact(lines: pd.DataFrame) -> pd.DataFrame:
    """Return the lines with the exact columns replaced by one object column of Decimal named ``exact``."""
    position = list(lines.columns).index(EXACT_COLUMNS[0])
    exact = pd.Series(exact_decimals(lines), index=lines.index, dtype=object)
    rebuilt = lines.drop(columns=list(EXACT_COLUMNS))
    rebuilt.insert(position, "exact", exact)
    return rebuilt


def digest_lines(lines: pd.DataFrame) -> str:
    if EXACT_COLUMNS[0] in lines.columns:
        lines = with_decimal_exact(lines)
    digest = hashlib.sha256()
    digest.update(repr(list(lines.columns)).encode())
    digest.update(repr(lines.index).encode())
    for column in lines.columns:
        values = lines[column]
        digest.update(f"{column}:{values.dtype!r}".encode())
        for value in values.tolist():
            digest.update(repr(value).encode())
            digest.update(b"\x00")
    return digest.hexdigest()


def digest_problems(result: CalculationResult) -> str:
    digest = hashlib.sha256()
    for problem in result.problems:
        digest.update(repr(problem).encode())
    digest.update(repr(result.draw_balances).encode())
    digest.update(repr(result.held).encode())
    digest.update(repr(result.periods).encode())
    return digest.hexdigest()


def fingerprint(workload: str, deal_count: int) -> None:
    participants = max(deal_count // 200, 10)
    if workload == "bench":
        frames, plan, period = build_frames(participants, deal_count), PLAN, "2024-Q1"
    else:
        frames, plan, period = varied_frames(participants, deal_count), VARIED_PLAN, "2024"
    inputs = CalculationInputs(period=period, plans=[load_plan(plan)], metrics=metrics(), **frames)
    started = time.process_time()
    result = calculate(inputs)
    cpu = time.process_time() - started
    parts = {"rows": digest_rows(result), "lines": digest_lines(result.lines), "problems": digest_problems(result)}
    whole = hashlib.sha256("".join(parts.values()).encode()).hexdigest()
    print(f"{workload} {deal_count} deals: {len(result.rows)} rows, {len(result.lines)} lines, "
          f"{len(result.problems)} problems, engine CPU seconds {cpu:.2f}")
    for name, value in parts.items():
        print(f"  {name:9} {value}")
    print(f"  {'all':9} {whole}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, nargs="+", default=[50_000, 300_000])
    parser.add_argument("--workload", nargs="+", choices=["bench", "varied"], default=["bench", "varied"])
    arguments = parser.parse_args()
    for deal_count in arguments.deals:
        for workload in arguments.workload:
            fingerprint(workload, deal_count)


if __name__ == "__main__":
    main()
