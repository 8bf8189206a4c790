"""The quarter close on the demo data, end to end through the ``spm`` command.

import -> reconcile the conflicting bookings definitions -> adopt one -> calculate
2017-Q1..Q4 -> approval refused for the maker, given by a second user -> close ->
statements for everyone -> payroll -> audit verify. The payouts of two agents and one
manager are then recomputed from the raw CSV with hand-written arithmetic (no project
code) and compared with the issued XLSX statements to the cent.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest

from spm_desktop.cli import main

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
QUARTERS = ("2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4")
CHECKED_AGENTS = ("Darcel Schlecht", "Anna Snelling")
CHECKED_MANAGER = "Melvin Marxen"
CENT = Decimal("0.01")

pytestmark = pytest.mark.slow


def spm(*args: str, user: str = "admin") -> int:
    return main(["--user", user, *args])


@pytest.fixture(scope="module")
def closed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo workspace after a full close of 2017, and the folder of its statements."""
    root = tmp_path_factory.mktemp("close")
    workspace = root / "demo.spm"
    statements = root / "statements"
    assert spm("demo", str(workspace)) == 0
    assert spm("metrics", "compare", str(workspace), "bookings", "bookings_finance", "--period", "2017-Q3",
               "--format", "csv") == 0
    assert spm("metrics", "adopt", str(workspace), "bookings", "--over", "bookings_finance",
               "--reason", "Sales Ops definition is the one the plan documents name") == 0
    assert spm("calc", str(workspace), "--period", "2017") == 0
    for quarter in QUARTERS:
        assert spm("approve", str(workspace), "--period", quarter) == 1  # the maker may not approve
        assert spm("approve", str(workspace), "--period", quarter, user="finance") == 0
        assert spm("close", str(workspace), "--period", quarter, user="finance") == 0
        assert spm("statements", str(workspace), "--period", quarter, "--out", str(statements),
                   "--format", "xlsx", user="finance") == 0
        assert spm("payroll", str(workspace), "--period", quarter, "-o", str(root / f"payroll-{quarter}.csv"),
                   user="finance") == 0
    return workspace, statements


def test_audit_verifies_after_close(closed_demo: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    workspace, _ = closed_demo
    assert spm("audit", "verify", str(workspace)) == 0
    assert capsys.readouterr().out.startswith("OK:")


def test_closed_period_refuses_recalculation(closed_demo: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    workspace, _ = closed_demo
    assert spm("calc", str(workspace), "--period", "2017-Q2") == 1
    assert "closed" in capsys.readouterr().err


def test_statement_for_everyone(closed_demo: tuple[Path, Path]) -> None:
    _, statements = closed_demo
    for quarter in QUARTERS:
        assert len(list(statements.glob(f"*{quarter}*.xlsx"))) == 41


def test_payroll_totals_match_statements(closed_demo: tuple[Path, Path]) -> None:
    workspace, statements = closed_demo
    for quarter in QUARTERS:
        with (workspace.parent / f"payroll-{quarter}.csv").open(encoding="utf-8-sig") as handle:
            payroll = {row["participant_id"]: Decimal(row["amount"]) for row in csv.DictReader(handle)}
        assert len(payroll) == 41
        for participant in (*CHECKED_AGENTS, CHECKED_MANAGER):
            assert payroll[participant] == statement_payout(statements, quarter, participant)


# --- the independent check ---------------------------------------------------------------

def quarter_of(date_text: str) -> str:
    month = int(date_text[5:7])
    return f"{date_text[:4]}-Q{(month - 1) // 3 + 1}"


def won_deals() -> list[dict[str, str]]:
    with (DEMO / "sales_pipeline.csv").open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["deal_stage"] == "Won"]


def team_of(manager: str) -> set[str]:
    with (DEMO / "sales_teams.csv").open(newline="", encoding="utf-8") as handle:
        return {row["sales_agent"] for row in csv.DictReader(handle) if row["manager"] == manager}


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def agent_payout(agent: str, quarter: str) -> Decimal:
    quota = Decimal(40_000) if quarter == "2017-Q1" else Decimal(90_000)
    deals = [row for row in won_deals() if row["sales_agent"] == agent and quarter_of(row["close_date"]) == quarter]
    bookings = sum((Decimal(row["close_value"]) for row in deals), Decimal(0))
    # Marginal bands on attainment: 4% to 50%, 6% to 100%, 9% to 150%, 12% above.
    edges = [(Decimal(0), Decimal("0.04")), (quota / 2, Decimal("0.06")), (quota, Decimal("0.09")),
             (quota * Decimal("1.5"), Decimal("0.12"))]
    commission = Decimal(0)
    for index, (start, rate) in enumerate(edges):
        end = edges[index + 1][0] if index + 1 < len(edges) else None
        if bookings > start:
            top = bookings if end is None else min(bookings, end)
            commission += (top - start) * rate
    commission = min(half_up(commission), Decimal(25_000))
    # The pipeline spells GTX Pro as "GTXPro"; both are the same product.
    spif = 100 * sum(1 for row in deals if row["product"] in ("GTX Pro", "GTXPro"))
    return commission + spif


def manager_payout(manager: str, quarter: str) -> Decimal:
    team = team_of(manager)
    bookings = sum((Decimal(row["close_value"]) for row in won_deals()
                    if row["sales_agent"] in team and quarter_of(row["close_date"]) == quarter), Decimal(0))
    override = half_up(bookings * Decimal("0.015"))
    quota = (Decimal(40_000) if quarter == "2017-Q1" else Decimal(90_000)) * len(team)
    attainment = bookings / quota
    # Bonus curve: 0 at 80%, 1.0 at 100%, 1.5 at 120%, linear between, flat outside.
    if attainment <= Decimal("0.8"):
        factor = Decimal(0)
    elif attainment <= 1:
        factor = (attainment - Decimal("0.8")) / Decimal("0.2")
    elif attainment <= Decimal("1.2"):
        factor = 1 + (attainment - 1) / Decimal("0.2") * Decimal("0.5")
    else:
        factor = Decimal("1.5")
    bonus = half_up(Decimal(3000) * factor)
    return override + bonus


def statement_payout(statements: Path, quarter: str, participant: str) -> Decimal:
    path = statements / f"statement_{quarter}_{participant.replace(' ', '_')}.xlsx"
    sheet = openpyxl.load_workbook(path, read_only=True)["Summary"]
    for row in sheet.iter_rows(values_only=True):
        if row and row[0] == "Payout":
            return half_up(Decimal(str(row[-1])))
    raise AssertionError(f"no Payout row in {path.name}")


@pytest.mark.parametrize("quarter", QUARTERS)
@pytest.mark.parametrize("agent", CHECKED_AGENTS)
def test_agent_payout_by_hand(closed_demo: tuple[Path, Path], agent: str, quarter: str) -> None:
    _, statements = closed_demo
    assert statement_payout(statements, quarter, agent) == agent_payout(agent, quarter)


@pytest.mark.parametrize("quarter", QUARTERS)
def test_manager_payout_by_hand(closed_demo: tuple[Path, Path], quarter: str) -> None:
    _, statements = closed_demo
    assert statement_payout(statements, quarter, CHECKED_MANAGER) == manager_payout(CHECKED_MANAGER, quarter)
