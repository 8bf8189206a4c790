"""The bookings metric and the one-band AE plan that the close and integrity tests share."""

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
"""

PLAN = """\
plan: AE
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      by: attainment
      bands:
        - {from: 0, rate: 0.05}
"""

DEALS_HEADER = "deal_id,owner,amount,currency,close_date,stage\n"


def quarter_plan(components: str, name: str = "Plan") -> str:
    """Return a quarterly USD plan for the Rep role from 2024 with these components (YAML list items)."""
    return f"""\
plan: {name}
version: 1
effective_from: 2024-01-01
currency: USD
period: quarter
participants: {{role: Rep}}
components:
{components}"""
