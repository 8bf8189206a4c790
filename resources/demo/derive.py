"""Derive the demo's participants and 2017 quotas from the maven-crm sales teams.

The public data set names 35 agents, their 6 managers and 3 offices, but carries no
ids, hire dates, on-target earnings or quotas. This script makes those, deterministic,
and writes ``participants.csv`` and ``quotas-2017.csv`` beside it. Everything it adds
(ids, payroll ids, OTE, quotas) is invented for the demo.

``python resources/demo/derive.py``
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGENT_OTE = 120_000
AGENT_TARGET_INCENTIVE = 40_000
MANAGER_OTE = 180_000
MANAGER_TARGET_INCENTIVE = 50_000
# Quarterly bookings quota per agent. Won deals start closing in March 2017, so the first
# quarter's quota is smaller.
AGENT_QUARTER_QUOTA = {"2017-Q1": 40_000, "2017-Q2": 90_000, "2017-Q3": 90_000, "2017-Q4": 90_000}


def main() -> None:
    with (HERE / "sales_teams.csv").open(newline="", encoding="utf-8") as handle:
        teams = list(csv.DictReader(handle))
    managers: dict[str, str] = {}
    for row in teams:
        managers.setdefault(row["manager"], row["regional_office"])

    participants = []
    for number, (manager, office) in enumerate(sorted(managers.items()), start=1):
        participants.append({"participant_id": manager, "name": manager, "role": "Sales Manager", "manager_id": "",
                             "region": office, "currency": "USD", "ote": MANAGER_OTE,
                             "target_incentive": MANAGER_TARGET_INCENTIVE, "payroll_id": f"PM-{number:03d}"})
    for number, row in enumerate(sorted(teams, key=lambda item: item["sales_agent"]), start=1):
        participants.append({"participant_id": row["sales_agent"], "name": row["sales_agent"], "role": "Sales Agent",
                             "manager_id": row["manager"], "region": row["regional_office"], "currency": "USD",
                             "ote": AGENT_OTE, "target_incentive": AGENT_TARGET_INCENTIVE,
                             "payroll_id": f"PA-{number:03d}"})
    with (HERE / "participants.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(participants[0]))
        writer.writeheader()
        writer.writerows(participants)

    quotas = []
    team_size = {manager: sum(1 for row in teams if row["manager"] == manager) for manager in managers}
    for row in sorted(teams, key=lambda item: item["sales_agent"]):
        for period, amount in AGENT_QUARTER_QUOTA.items():
            quotas.append({"participant_id": row["sales_agent"], "quota_key": "bookings", "period": period,
                           "amount": amount, "currency": "USD"})
    for manager in sorted(managers):
        for period, amount in AGENT_QUARTER_QUOTA.items():
            quotas.append({"participant_id": manager, "quota_key": "team_bookings", "period": period,
                           "amount": amount * team_size[manager], "currency": "USD"})
    with (HERE / "quotas-2017.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(quotas[0]))
        writer.writeheader()
        writer.writerows(quotas)


if __name__ == "__main__":
    main()
