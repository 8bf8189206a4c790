"""Inputs of the robustness tests' workspace, and ``spm`` run in this process."""

from __future__ import annotations

import pytest

from spm_desktop.cli import main

PARTICIPANTS = """\
participant_id,name,role,hire_date,currency
P1,Ana Diaz,Sales Agent,2016-01-01,USD
P2,Ben Ode,Sales Agent,2016-01-01,USD
"""

DEALS = """\
deal_id,owner,amount,currency,close_date,created_date,stage
D1,P1,1000.00,USD,2017-01-15,2016-12-01,Won
D2,P1,200.00,USD,2017-02-10,2017-01-05,Won
D3,P2,100.00,USD,2017-03-10,2017-01-20,Won
"""

METRICS = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    description: Won deal value, credited on the close date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
  - key: bookings_created
    name: Bookings by creation
    owner: Sales Ops
    tier: supporting
    description: Won deal value, credited on the created date.
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: created_date
    unit: currency
    status: approved
"""

PLAN = """\
plan: Flat 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Commission
    type: commission
    metric: bookings
    tiers:
      method: flat
      by: amount
      bands:
        - {from: 0, rate: 0.04}
"""


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``spm --user maker ARGS`` in this process; return the exit code, output and error output."""
    code = main(["--user", "maker", *[str(arg) for arg in args]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
