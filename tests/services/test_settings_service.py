"""The settings registry on real workspace files: every kind of value, audit entries, the fiscal lock, reset."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

from spm_desktop.services import (
    close_service,
    metric_service,
    period_service,
    plan_service,
    settings_service,
    tieout_service,
)
from spm_desktop.services.context import Workspace
from spm_desktop.services.errors import PeriodLockedError
from spm_desktop.services.settings_service import InvalidSettingError, UnknownSettingError
from spm_desktop.store.tables.core import audit_log

BOOKINGS_METRIC = """\
metrics:
  - key: bookings
    name: Bookings
    owner: Finance
    tier: primary
    source: deals
    filter: stage == "Won"
    value: sum(amount)
    date: close_date
    unit: currency
    status: approved
"""

PLAN_WITH_FISCAL_START = """\
plan: AE Q
version: 1
effective_from: 2017-01-01
currency: USD
period: quarter
fiscal_start_month: 4
participants: {role: AE}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    tiers:
      method: marginal
      by: amount
      bands:
        - {from: 0, rate: 0.05}
"""


def _png_bytes(width: int = 4, height: int = 2) -> bytes:
    """Build a small valid PNG (8-bit grey) without an image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def _audit_rows(workspace: Workspace, key: str) -> list[tuple[str, object, object]]:
    with workspace.read() as connection:
        rows = connection.execute(select(audit_log.c.action, audit_log.c.before, audit_log.c.after)
                                  .where(audit_log.c.entity_id == key).order_by(audit_log.c.seq)).all()
    return [(action, _decode(before), _decode(after)) for action, before, after in rows]


def _decode(text: str | None) -> object:
    return None if text is None else json.loads(text)


def _close_period(workspace: Workspace, label: str) -> None:
    # Run id 1 replaces a stored calculation run, while approval and close are the real services.
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, label, 1)
    close_service.approve(workspace.as_user("checker"), label)
    close_service.close(workspace.as_user("checker"), label)


def _load_plan_stating_april(workspace: Workspace) -> None:
    metric_service.load_yaml(workspace, BOOKINGS_METRIC)
    plan_service.load(workspace, PLAN_WITH_FISCAL_START)


# --- listing and reading ---------------------------------------------------------------------------


def test_list_covers_every_known_key(workspace: Workspace) -> None:
    keys = {setting.key for setting in settings_service.list_settings(workspace)}
    expected = {"company.name", "company.logo_path", "statements.page_size", "currency", "fiscal_year.start_month",
                "metrics.max_primary", "review.late_window_weeks", "tieout.tolerance", "signals.behind_pace",
                "signals.open_stages", "signals.quota_key"}
    assert expected <= keys


def test_list_shows_defaults_when_nothing_stored(workspace: Workspace) -> None:
    found = {setting.key: setting for setting in settings_service.list_settings(workspace)}
    assert found["statements.page_size"].value == "A4"
    assert found["fiscal_year.start_month"].value == 1
    assert found["metrics.max_primary"].value == 5
    assert found["review.late_window_weeks"].value == 2
    assert found["signals.behind_pace"].value == 0.9
    assert not any(setting.is_set for setting in found.values())


def test_defaults_match_what_services_read(workspace: Workspace) -> None:
    assert settings_service.get(workspace, "statements.page_size").value == "A4"
    with workspace.read() as connection:
        assert settings_service.get(workspace, "fiscal_year.start_month").value == \
            period_service.fiscal_start_month(connection)
    options = tieout_service.default_options(workspace)
    assert options.absolute_tolerance == 0
    assert options.relative_tolerance == 0


def test_get_stored_value_is_set(workspace: Workspace) -> None:
    workspace.set_setting("currency", "EUR")
    setting = settings_service.get(workspace, "currency")
    assert setting.value == "EUR"
    assert setting.is_set


def test_stored_invalid_value_reported(workspace: Workspace) -> None:
    workspace.set_setting("fiscal_year.start_month", 13)
    setting = settings_service.get(workspace, "fiscal_year.start_month")
    assert setting.problem is not None
    assert "from 1 to 12" in setting.problem


# --- unknown keys ------------------------------------------------------------------------------------


def test_unknown_key_names_close_match(workspace: Workspace) -> None:
    with pytest.raises(UnknownSettingError, match=r"did you mean statements\.page_size"):
        settings_service.set(workspace, "statments.page_size", "A4")


def test_unknown_key_by_last_part(workspace: Workspace) -> None:
    with pytest.raises(UnknownSettingError, match=r"fiscal_year\.start_month"):
        settings_service.get(workspace, "start_month")


def test_unknown_key_without_match(workspace: Workspace) -> None:
    with pytest.raises(UnknownSettingError, match="unknown setting 'colour'"):
        settings_service.set(workspace, "colour", "blue")


# --- each kind: valid and invalid --------------------------------------------------------------------


VALID = [
    ("company.name", "  Acme Sales Ltd ", "Acme Sales Ltd"),
    ("company.name", "Société\u00a0Générale", "Société\u00a0Générale"),
    ("statements.page_size", "letter", "Letter"),
    ("statements.page_size", "US Letter", "Letter"),
    ("statements.page_size", "a4", "A4"),
    ("currency", "eur", "EUR"),
    ("fiscal_year.start_month", "4", 4),
    ("fiscal_year.start_month", 12, 12),
    ("metrics.max_primary", "8", 8),
    ("review.late_window_weeks", "3", 3),
    ("tieout.tolerance", "0.01", {"absolute": "0.01", "relative": "0"}),
    ("tieout.tolerance", "0.5%", {"absolute": "0", "relative": "0.005"}),
    ("tieout.tolerance", "0.01, 1%", {"absolute": "0.01", "relative": "0.01"}),
    ("tieout.tolerance", {"absolute": "2", "relative": "0"}, {"absolute": "2", "relative": "0"}),
    ("signals.behind_pace", "0.85", 0.85),
    ("signals.min_sample", "10", 10),
    ("signals.open_stages", "Prospecting, Engaging, Proposal", ["Prospecting", "Engaging", "Proposal"]),
    ("signals.segment", "territory", "territory"),
    ("signals.quota_key", "bookings", "bookings"),
    ("signals.stall_quantile", "1", 1.0),
]


@pytest.mark.parametrize(("key", "given", "stored"), VALID)
def test_valid_value_stored(workspace: Workspace, key: str, given: object, stored: object) -> None:
    settings_service.set(workspace, key, given)
    assert workspace.get_setting(key) == stored


INVALID = [
    ("company.name", "x" * 201, "at most 200 characters"),
    ("company.name", "line one\nline two", "one line"),
    ("company.name", "line one\u2028line two", "one line"),
    ("statements.page_size", "B5", "A4, Letter"),
    ("currency", "US", "three-letter"),
    ("currency", "U1D", "three-letter"),
    ("fiscal_year.start_month", "0", "from 1 to 12"),
    ("fiscal_year.start_month", "13", "from 1 to 12"),
    ("fiscal_year.start_month", "April", "from 1 to 12"),
    ("fiscal_year.start_month", True, "from 1 to 12"),
    ("metrics.max_primary", "0", "from 1 to 999"),
    ("review.late_window_weeks", "2.5", "whole number"),
    ("tieout.tolerance", "-0.01", "cannot be negative"),
    ("tieout.tolerance", "a cent", "0.5%"),
    ("signals.behind_pace", "-1", "0 or more"),
    ("signals.behind_pace", "nan", "0 or more"),
    ("signals.behind_pace", "fast", "0 or more"),
    ("signals.variable_share", "1.5", "from 0 to 1"),
    ("signals.min_sample", "-2", "from 0 to 9999"),
    ("signals.open_stages", " , ", "at least one name"),
    ("signals.won_stages", "Won, Won", "Won repeats"),
]


@pytest.mark.parametrize(("key", "given", "expected"), INVALID)
def test_invalid_value_rejected(workspace: Workspace, key: str, given: object, expected: str) -> None:
    with pytest.raises(InvalidSettingError, match=key.replace(".", r"\.")) as raised:
        settings_service.set(workspace, key, given)
    assert expected in str(raised.value)
    assert workspace.get_setting(key) is None


def test_invalid_value_message_names_value(workspace: Workspace) -> None:
    with pytest.raises(InvalidSettingError, match="invalid value '13'"):
        settings_service.set(workspace, "fiscal_year.start_month", "13")


def test_save_writes_nothing_when_one_value_invalid(workspace: Workspace) -> None:
    with pytest.raises(InvalidSettingError):
        settings_service.save(workspace, {"company.name": "Acme", "currency": "dollars"})
    assert workspace.get_setting("company.name") is None


# --- the logo --------------------------------------------------------------------------------------


def test_logo_png_accepted(workspace: Workspace, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png_bytes())
    settings_service.set(workspace, "company.logo_path", str(logo))
    assert workspace.get_setting("company.logo_path") == str(logo)


def test_logo_relative_to_workspace_folder(workspace: Workspace, workspace_path: Path) -> None:
    (workspace_path.parent / "brand").mkdir()
    (workspace_path.parent / "brand" / "logo.png").write_bytes(_png_bytes())
    settings_service.set(workspace, "company.logo_path", "brand/logo.png")
    assert workspace.get_setting("company.logo_path") == "brand/logo.png"


def test_logo_jpeg_accepted(workspace: Workspace, tmp_path: Path, qapp) -> None:
    from PySide6.QtGui import QColor, QImage

    image = QImage(40, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("navy"))
    logo = tmp_path / "logo.jpg"
    assert image.save(str(logo), "JPEG")
    settings_service.set(workspace, "company.logo_path", str(logo))
    assert settings_service.image_size(logo.read_bytes()) == ("jpeg", 40, 20)


def test_accepted_png_draws_in_qt(qapp) -> None:
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage

    image = QImage.fromData(QByteArray(_png_bytes(4, 2)))
    assert not image.isNull()
    assert settings_service.image_size(_png_bytes(4, 2)) == ("png", 4, 2)


def test_logo_missing_file_rejected(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidSettingError, match="does not exist"):
        settings_service.set(workspace, "company.logo_path", str(tmp_path / "missing.png"))


def test_logo_folder_rejected(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidSettingError, match="is a folder"):
        settings_service.set(workspace, "company.logo_path", str(tmp_path))


@pytest.mark.parametrize("content", [b"GIF89a\x01\x00\x01\x00", b"%PDF-1.7", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0"])
def test_logo_other_content_rejected(workspace: Workspace, tmp_path: Path, content: bytes) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(content)
    with pytest.raises(InvalidSettingError, match="not a PNG or JPEG image"):
        settings_service.set(workspace, "company.logo_path", str(logo))


def test_logo_cleared_by_empty_text(workspace: Workspace, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png_bytes())
    settings_service.set(workspace, "company.logo_path", str(logo))
    setting = settings_service.set(workspace, "company.logo_path", "")
    assert not setting.is_set
    assert workspace.get_setting("company.logo_path") is None


def test_moved_logo_reported_as_problem(workspace: Workspace, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png_bytes())
    settings_service.set(workspace, "company.logo_path", str(logo))
    logo.unlink()
    assert "does not exist" in (settings_service.get(workspace, "company.logo_path").problem or "")


# --- audit -----------------------------------------------------------------------------------------


def test_set_audited_with_before_and_after(workspace: Workspace) -> None:
    settings_service.set(workspace, "company.name", "Acme")
    settings_service.set(workspace, "company.name", "Acme Sales")
    rows = _audit_rows(workspace, "company.name")
    assert rows == [("settings.set", None, "Acme"), ("settings.set", "Acme", "Acme Sales")]


def test_same_value_not_audited_twice(workspace: Workspace) -> None:
    settings_service.set(workspace, "currency", "EUR")
    settings_service.set(workspace, "currency", "eur")
    assert len(_audit_rows(workspace, "currency")) == 1


def test_audit_names_acting_user(workspace: Workspace) -> None:
    settings_service.set(workspace.as_user("dana"), "currency", "GBP")
    with workspace.read() as connection:
        user = connection.execute(select(audit_log.c.user).where(audit_log.c.entity_id == "currency")).scalar_one()
    assert user == "dana"


def test_audit_chain_verifies_after_changes(workspace: Workspace) -> None:
    from spm_desktop.services import audit_service

    settings_service.set(workspace, "currency", "GBP")
    settings_service.reset(workspace, "currency")
    report = audit_service.verify(workspace)
    assert report.ok


# --- reset -----------------------------------------------------------------------------------------


def test_reset_restores_default_and_audits(workspace: Workspace) -> None:
    settings_service.set(workspace, "statements.page_size", "Letter")
    setting = settings_service.reset(workspace, "statements.page_size")
    assert setting.value == "A4"
    assert not setting.is_set
    assert _audit_rows(workspace, "statements.page_size")[-1] == ("settings.reset", "Letter", None)


def test_reset_of_unset_key_writes_nothing(workspace: Workspace) -> None:
    settings_service.reset(workspace, "statements.page_size")
    assert _audit_rows(workspace, "statements.page_size") == []


def test_reset_unknown_key_rejected(workspace: Workspace) -> None:
    with pytest.raises(UnknownSettingError):
        settings_service.reset(workspace, "statements.paper")


# --- fiscal year start and closed periods ----------------------------------------------------------


def test_fiscal_change_allowed_without_closed_period(workspace: Workspace) -> None:
    with workspace.transaction() as unit:
        period_service.record_calculation(unit, "2017-Q1", 1)
    settings_service.set(workspace, "fiscal_year.start_month", 4)
    assert workspace.get_setting("fiscal_year.start_month") == 4


def test_fiscal_change_rejected_after_close(workspace: Workspace) -> None:
    _close_period(workspace, "2017-Q1")
    with pytest.raises(PeriodLockedError, match=r"closed period\(s\) \(2017-Q1\)"):
        settings_service.set(workspace, "fiscal_year.start_month", 4)
    assert workspace.get_setting("fiscal_year.start_month") is None


def test_fiscal_reset_rejected_after_close(workspace: Workspace) -> None:
    settings_service.set(workspace, "fiscal_year.start_month", 4)
    _close_period(workspace, "2017-Q3")
    with pytest.raises(PeriodLockedError, match="from 4 to 1"):
        settings_service.reset(workspace, "fiscal_year.start_month")
    assert workspace.get_setting("fiscal_year.start_month") == 4


def test_fiscal_same_value_allowed_after_close(workspace: Workspace) -> None:
    _close_period(workspace, "2017-Q1")
    settings_service.set(workspace, "fiscal_year.start_month", 1)
    assert workspace.get_setting("fiscal_year.start_month") == 1


def test_other_settings_allowed_after_close(workspace: Workspace) -> None:
    _close_period(workspace, "2017-Q1")
    settings_service.set(workspace, "company.name", "Acme")
    assert workspace.get_setting("company.name") == "Acme"


# --- the services read what was stored -------------------------------------------------------------


def test_signal_service_reads_stored_thresholds(workspace: Workspace) -> None:
    from spm_desktop.services import signal_service

    settings_service.set(workspace, "signals.behind_pace", "0.8")
    settings_service.set(workspace, "signals.won_stages", "Won, Closed Won")
    loaded = signal_service.load_settings(workspace)
    assert loaded.behind_pace == 0.8
    assert loaded.won_stages == ("Won", "Closed Won")


def test_tieout_reads_stored_tolerance(workspace: Workspace) -> None:
    settings_service.set(workspace, "tieout.tolerance", "0.05, 1%")
    options = tieout_service.default_options(workspace)
    assert str(options.absolute_tolerance) == "0.05"
    assert str(options.relative_tolerance) == "0.01"


def test_statement_page_size_reads_stored_value(workspace: Workspace) -> None:
    from spm_desktop.services import statement_service

    settings_service.set(workspace, "statements.page_size", "Letter")
    assert statement_service.page_size(workspace) == "LETTER"


def test_tolerance_shown_as_typed(workspace: Workspace) -> None:
    setting = settings_service.set(workspace, "tieout.tolerance", "0.01,0.5%")
    assert setting.text == "0.01, 0.5%"



def test_fiscal_warning_names_plan_stating_other_month(workspace: Workspace) -> None:
    _load_plan_stating_april(workspace)
    settings_service.set(workspace, "fiscal_year.start_month", 7)
    warnings = settings_service.fiscal_start_warnings(workspace)
    assert len(warnings) == 1
    assert "plan 'AE Q'" in warnings[0]


def test_fiscal_warning_none_when_months_equal(workspace: Workspace) -> None:
    _load_plan_stating_april(workspace)
    settings_service.set(workspace, "fiscal_year.start_month", 4)
    assert settings_service.fiscal_start_warnings(workspace) == []
