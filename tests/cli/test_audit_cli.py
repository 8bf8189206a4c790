"""``spm audit head`` and ``spm audit verify --anchor``."""

import sqlite3

import pytest

from spm_desktop.cli import main
from spm_desktop.services.context import Workspace


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "cli.spm"
    Workspace.create(path, user="maker").close()
    assert main(["--user", "maker", "settings", str(path), "company.name", "Acme Ltd"]) == 0
    return path


def _head(path, capsys):
    capsys.readouterr()
    assert main(["audit", "head", str(path)]) == 0
    return capsys.readouterr().out.strip()


def test_head_prints_newest_entry(path, capsys):
    with sqlite3.connect(path) as connection:
        seq, digest = connection.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert _head(path, capsys) == f"{seq}:{digest}"


def test_head_advises_keeping_anchor_elsewhere(path, capsys):
    main(["audit", "head", str(path)])
    assert "outside the workspace" in capsys.readouterr().err


def test_verify_with_matching_anchors(path, capsys):
    first = _head(path, capsys)
    assert main(["--user", "maker", "settings", str(path), "company.name", "Acme Group"]) == 0
    second = _head(path, capsys)
    assert main(["audit", "verify", str(path), "--anchor", first, "--anchor", second]) == 0
    assert "2 anchors match" in capsys.readouterr().out


def test_verify_fails_on_rehashed_entry(path, capsys):
    anchor = _head(path, capsys)
    seq = int(anchor.split(":")[0])
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE audit_log SET hash = ? WHERE seq = ?", ("f" * 64, seq))
        connection.execute("UPDATE workspace_info SET value = ? WHERE key = 'audit_head'", (f"{seq}:{'f' * 64}",))
    connection.close()
    assert main(["audit", "verify", str(path), "--anchor", anchor]) == 1
    assert f"audit entry {seq} no longer has the anchored hash" in capsys.readouterr().err


def test_verify_rejects_invalid_anchor(path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["audit", "verify", str(path), "--anchor", "7:abc"])
    assert stopped.value.code == 2
    assert "ENTRY:HASH" in capsys.readouterr().err


def test_verify_content_problem_has_no_chain_count(path, capsys):
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE settings SET value = '\"Hand Ltd\"' WHERE key = 'company.name'")
    connection.close()
    assert main(["audit", "verify", str(path)]) == 1
    assert "intact before the first break" not in capsys.readouterr().err


def test_close_prints_anchor_that_verifies(tmp_path, capsys):
    from spm_desktop.services import close_service, period_service

    path = tmp_path / "close.spm"
    with Workspace.create(path, user="maker") as created:
        with created.transaction() as unit:
            period_service.record_calculation(unit, "2017-Q1", 1)
        close_service.approve(created.as_user("checker"), "2017-Q1")
    capsys.readouterr()
    assert main(["--user", "checker", "close", str(path), "--period", "2017-Q1"]) == 0
    printed = capsys.readouterr().out.splitlines()[-1]
    assert printed.startswith("audit anchor ")
    anchor = printed.removeprefix("audit anchor ").split(":")[0:2]
    assert main(["audit", "verify", str(path), "--anchor", ":".join(anchor)]) == 0
