"""The Signals area on the Maven CRM pipeline with generated history, driven offscreen."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.gui.areas.signals import ALL_MANAGERS, SIGNAL_COLUMNS, SignalsArea, TeamModel
from spm_desktop.gui.sparkline import SPARKLINE_ROLE, Sparkline
from spm_desktop.services import signal_service
from spm_desktop.services.context import Workspace
from spm_desktop.store.tables.records import RECORD_TABLES, column_name

MAVEN = Path(__file__).resolve().parents[1] / "data" / "maven-crm"


def _teams() -> list[dict]:
    with (MAVEN / "sales_teams.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _insert(connection, record_set: str, rows: list[dict]) -> None:
    spec = RECORD_SETS[record_set]
    stored = []
    for index, row in enumerate(rows):
        values = {column_name(field): row.get(field.name) for field in spec.fields}
        for field in spec.fields:
            if field.kind == "money" and row.get(field.name) not in (None, ""):
                values[column_name(field)] = int(Decimal(row[field.name]) * 10_000)
        values["record_key"] = json.dumps([row.get(name) for name in spec.natural_key] or [index])
        stored.append(values)
    connection.execute(RECORD_TABLES[record_set].insert(), stored)


def _seed(workspace: Workspace) -> None:
    with (MAVEN / "sales_pipeline.csv").open(newline="", encoding="utf-8") as handle:
        pipeline = list(csv.DictReader(handle))
    participants = [{"participant_id": row["sales_agent"], "name": row["sales_agent"], "role": "Sales Agent",
                     "manager_id": row["manager"], "region": row["regional_office"], "target_incentive": "40000"}
                    for row in _teams()]
    deals = [{"deal_id": row["opportunity_id"], "owner": row["sales_agent"], "amount": row["close_value"] or None,
              "close_date": row["close_date"] or None, "created_date": row["engage_date"] or None,
              "stage": row["deal_stage"], "product": row["product"], "type": "sale"} for row in pipeline]
    quotas = [{"participant_id": row["sales_agent"], "quota_key": "bookings", "period": quarter, "amount": "90000"}
              for row in _teams() for quarter in ("2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4")]
    with workspace.transaction() as unit:
        _insert(unit.connection, "participants", participants)
        _insert(unit.connection, "deals", deals)
        _insert(unit.connection, "quotas", quotas)
    signal_service.generate_history(workspace, seed=7)


@pytest.fixture(scope="module")
def maven_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("signals-gui") / "maven.spm"
    with Workspace.create(path, "tester") as workspace:
        _seed(workspace)
    return path


@pytest.fixture
def area(qtbot, app_context, maven_file, tmp_path):
    copy = tmp_path / "maven.spm"
    shutil.copy(maven_file, copy)
    app_context.set_workspace(Workspace.open(copy, "tester"))
    widget = SignalsArea(app_context)
    qtbot.addWidget(widget)
    widget.resize(1500, 820)
    widget.show()
    return widget


@pytest.fixture(scope="module")
def computed(qapp, maven_file, tmp_path_factory):
    """One area computed for 2017-Q3 as of 2017-08-15, shared by the tests that only read it."""
    from PySide6.QtCore import QSettings
    from pytestqt.qtbot import QtBot

    from spm_desktop.gui.context import AppContext

    folder = tmp_path_factory.mktemp("signals-computed")
    copy = folder / "maven.spm"
    shutil.copy(maven_file, copy)
    context = AppContext(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    context.set_workspace(Workspace.open(copy, "tester"))
    widget = SignalsArea(context)
    widget.resize(1500, 820)
    widget.show()
    compute(QtBot(None), widget)
    yield widget
    widget.close()
    context.shutdown()
    context.workspace.close()


def compute(qtbot, area: SignalsArea, period: str = "2017-Q3", as_of: QDate | None = None) -> None:
    area.period_box.setCurrentText(period)
    area.as_of_edit.setDate(as_of or QDate(2017, 8, 15))
    qtbot.mouseClick(area.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=60_000)


def test_signals_area_without_workspace(qtbot, app_context):
    widget = SignalsArea(app_context)
    qtbot.addWidget(widget)
    assert "Open a workspace" in widget.empty.text()
    assert not widget.compute_button.isEnabled()


def test_signals_area_offers_quarters_newest_first(area):
    labels = [area.period_box.itemText(index) for index in range(area.period_box.count())]
    assert labels == ["2017-Q4", "2017-Q3", "2017-Q2", "2017-Q1", "2016-Q4"]


def test_signals_area_empty_until_computed(area):
    assert area.stack.currentWidget() is area.empty
    assert "press Compute signals" in area.empty.text()
    assert "once deals are imported" not in area.empty.text()


def test_compute_fills_the_team_view(qtbot, computed):
    area = computed
    area.manager_box.setCurrentText(ALL_MANAGERS)
    assert area.model.rowCount() == 35
    assert area.stack.currentWidget() is area.tabs


def test_generated_data_banner(qtbot, computed):
    area = computed
    assert area.banner.isVisible()
    assert area.banner.text().startswith("Generated data")


def test_team_view_for_each_manager_renders(qtbot, computed):
    area = computed
    managers = sorted({row["manager"] for row in _teams()})
    offered = [area.manager_box.itemText(index) for index in range(1, area.manager_box.count())]
    assert offered == managers
    for manager in managers:
        area.manager_box.setCurrentText(manager)
        expected = sorted(row["sales_agent"] for row in _teams() if row["manager"] == manager)
        shown = sorted(area.model.row_at(row).participant_id for row in range(area.model.rowCount()))
        assert shown == expected, manager
        assert not area.team_table.grab().isNull()


def test_every_signal_cell_has_a_sparkline(qtbot, computed):
    area = computed
    for column in range(TeamModel.FIRST_SIGNAL, TeamModel.FIRST_SIGNAL + len(SIGNAL_COLUMNS)):
        sparkline = area.model.index(0, column).data(SPARKLINE_ROLE)
        assert isinstance(sparkline, Sparkline)
        assert len(sparkline.values) == 5  # four earlier quarters and the current one


def test_behind_participants_come_first(qtbot, computed):
    area = computed
    diagnoses = [area.model.row_at(row).diagnosis for row in range(area.model.rowCount())]
    first_on_track = diagnoses.index("on_track")
    assert all(diagnosis == "on_track" for diagnosis in diagnoses[first_on_track:])


def test_selecting_a_row_shows_the_participant(qtbot, computed):
    area = computed
    area.manager_box.setCurrentText("Dustin Brinkmann")
    area.team_table.selectRow(1)
    chosen = area.model.row_at(1)
    assert area.participant.heading.text().startswith(chosen.name)
    assert area.participant.evidence.text().startswith("• attainment pace")
    assert area.participant.charts["chartFunnel"].figure.axes


def test_double_click_opens_the_participant_tab(qtbot, computed):
    area = computed
    rect = area.team_table.visualRect(area.model.index(0, 0))
    # A view reacts to a double click only after the press and release that come before it.
    qtbot.mouseClick(area.team_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(area.team_table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert area.tabs.currentWidget() is area.participant


def test_export_charts_writes_pngs(qtbot, computed, tmp_path):
    area = computed
    written = area.participant.export_charts(tmp_path / "charts")
    assert len(written) == 5
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_earnings_chart_explains_missing_results(qtbot, computed):
    area = computed
    texts = [text.get_text() for text in area.participant.charts["chartEarnings"].figure.axes[0].texts]
    assert any("No calculation results" in text for text in texts)


@pytest.mark.slow
def test_generate_button_replaces_history(qtbot, area):
    area.seed_box.setValue(11)
    qtbot.mouseClick(area.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: area.report is not None and not area.context.busy, timeout=60_000)
    counts = signal_service.generated_row_counts(area.workspace)
    assert area.report.generated_rows == counts["stage_history"] + counts["activities"]
    assert area.model.rowCount() == 35


def test_invalid_period_shows_an_error(qtbot, area):
    area.period_box.setCurrentText("2017-Q9")
    qtbot.mouseClick(area.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)
    assert "2017-Q9" in str(area.context.last_error)


def test_main_window_has_the_signals_area(main_window):
    assert isinstance(main_window.show_area("signals"), SignalsArea)


def test_sparkline_points_span_the_cell():
    from PySide6.QtCore import QRectF

    from spm_desktop.gui.sparkline import sparkline_points

    points = sparkline_points([1.0, None, 3.0], QRectF(0, 0, 100, 20))
    assert points[1] is None
    assert (points[0].x(), points[0].y()) == (0.0, 20.0)
    assert (points[2].x(), points[2].y()) == (100.0, 0.0)


def test_flat_sparkline_sits_in_the_middle():
    from PySide6.QtCore import QRectF

    from spm_desktop.gui.sparkline import sparkline_points

    points = sparkline_points([2.0, 2.0], QRectF(0, 0, 50, 10))
    assert [point.y() for point in points] == [5.0, 5.0]


def test_sparkline_widget_paints(qtbot):
    from spm_desktop.gui.sparkline import SparklineWidget

    widget = SparklineWidget(Sparkline((0.5, 0.8, None, 1.1), "1.10", "ok", reference=1.0))
    qtbot.addWidget(widget)
    widget.resize(160, 30)
    assert not widget.grab().isNull()


def test_thresholds_dialog_stores_changes(qtbot, area):
    from PySide6.QtWidgets import QDialogButtonBox

    qtbot.mouseClick(area.thresholds_button, Qt.MouseButton.LeftButton)
    dialog = area.thresholds_dialog
    dialog.editors["low_activity"].setValue(0.6)
    dialog.editors["segment"].setText("manager_id")
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)
    assert signal_service.current_stored(area.workspace) == {"low_activity": 0.6, "segment": "manager_id"}


def test_thresholds_dialog_without_changes_writes_nothing(qtbot, area):
    from PySide6.QtWidgets import QDialogButtonBox

    qtbot.mouseClick(area.thresholds_button, Qt.MouseButton.LeftButton)
    ok = area.thresholds_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=30_000)
    assert signal_service.current_stored(area.workspace) == {}


def test_export_table_writes_the_shown_team(qtbot, computed, tmp_path):
    computed.manager_box.setCurrentText("Dustin Brinkmann")
    path = tmp_path / "team.csv"
    assert computed.export_table(path) == 5
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("participant_id,name,manager_id")
    assert len(lines) == 6
