"""Read commands that stay read-only, and output that states when it is cut."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from robustness_support import run_cli

OLD_WORKSPACE = Path(__file__).resolve().parents[1] / "data" / "workspaces" / "schema-0001.spm"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_info_leaves_old_workspace_unchanged(tmp_path, capsys):
    path = tmp_path / "old.spm"
    shutil.copyfile(OLD_WORKSPACE, path)
    before = _digest(path)
    code, _out, _err = run_cli(capsys, "info", path)
    assert code == 0
    assert _digest(path) == before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["old.spm"]


def test_info_reports_old_schema(tmp_path, capsys):
    path = tmp_path / "old.spm"
    shutil.copyfile(OLD_WORKSPACE, path)
    _code, out, err = run_cli(capsys, "info", path)
    assert "schema: 0001" in out
    assert "upgrades it after writing a backup copy" in err


def test_info_current_schema_quiet(workspace_file, capsys):
    code, out, err = run_cli(capsys, "info", workspace_file)
    assert code == 0
    assert "created_by: maker" in out
    assert err == ""


def test_compare_says_list_is_cut(workspace_file, tmp_path, capsys):
    # 25 won deals created in 2016 and closed in 2017-Q1: counted by close date only.
    rows = [f"E{index},P1,10.00,USD,2017-02-{index:02d},2016-12-{index:02d},Won" for index in range(1, 26)]
    extra = tmp_path / "extra.csv"
    extra.write_text("deal_id,owner,amount,currency,close_date,created_date,stage\n" + "\n".join(rows) + "\n",
                     encoding="utf-8")
    assert run_cli(capsys, "import", workspace_file, "deals", extra)[0] == 0
    code, out, _err = run_cli(capsys, "metrics", "compare", workspace_file, "bookings", "bookings_created",
                              "--period", "2017-Q1")
    assert code == 0
    assert "showing the first 20 of 26" in out
