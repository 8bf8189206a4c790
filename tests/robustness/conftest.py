"""A small workspace built with ``spm`` as a user would: participants, deals, metrics and a plan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from robustness_support import DEALS, METRICS, PARTICIPANTS, PLAN, run_cli


@pytest.fixture
def workspace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "robust.spm"
    assert run_cli(capsys, "init", path)[0] == 0
    for record_set, content in (("participants", PARTICIPANTS), ("deals", DEALS)):
        source = tmp_path / f"{record_set}.csv"
        source.write_text(content, encoding="utf-8")
        code, _out, err = run_cli(capsys, "import", path, record_set, source)
        assert code == 0, err
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text(METRICS, encoding="utf-8")
    assert run_cli(capsys, "metrics", "load", path, metrics)[0] == 0
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    code, _out, err = run_cli(capsys, "plan", "load", path, plan, "--reason", "first version")
    assert code == 0, err
    return path


@pytest.fixture
def typo_deal_file(workspace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The workspace with one more won deal whose close date has the year 3017 instead of 2017.

    Today's importer rejects that date, so the deal is imported as 2017 and its date then
    changed in the file, as a workspace imported by an older version may contain it.
    """
    typo = tmp_path / "typo.csv"
    typo.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n"
                    "TYPO1,P1,500.00,USD,2017-03-01,2017-01-05,Won\n", encoding="utf-8")
    code, _out, err = run_cli(capsys, "import", workspace_file, "deals", typo)
    assert code == 0, err
    with sqlite3.connect(workspace_file) as connection:
        connection.execute("UPDATE records_deals SET close_date = '3017-03-01' WHERE deal_id = 'TYPO1'")
    return workspace_file
