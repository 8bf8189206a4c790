"""The plan editor's forms driven by clicks and keys: every field group saved, live checks, undo/redo, new plans."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QComboBox, QLineEdit

from spm_desktop.domain.plans import Plan, dump_plan
from spm_desktop.services import metric_service, plan_service
from spm_desktop.services.context import Workspace

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
  - key: gtx_deals
    name: GTX Pro deals
    owner: Sales Ops
    tier: supporting
    description: Won deals of GTX Pro, counted on the close date.
    source: deals
    filter: stage == "Won" and product == "GTX Pro"
    value: count()
    date: close_date
    unit: count
    status: approved
"""

PLAN = """\
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
effective_to: 2017-12-31
currency: USD
period: quarter
participants: {role: Sales Agent}
components:
  - name: Bookings commission
    type: commission
    metric: bookings
    quota: bookings
    tiers:
      method: marginal
      bands:
        - {from: 0, rate: 0.03}
        - {from: 0.5, rate: 0.06}
        - {from: 1.0, rate: 0.09}
  - name: Attainment bonus
    type: bonus
    metric: bookings
    quota: bookings
    target: 5000
    curve:
      - {attainment: 0.5, payout: 0}
      - {attainment: 1.0, payout: 1.0}
      - {attainment: 1.5, payout: 2.0}
"""
NAME = "Account Executive 2017"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def metrics_path(workspace_path: Path) -> Path:
    with Workspace.open(workspace_path, "tester") as workspace:
        metric_service.load_yaml(workspace, METRICS)
    return workspace_path


@pytest.fixture
def seeded_path(metrics_path: Path) -> Path:
    with Workspace.open(metrics_path, "tester") as workspace:
        plan_service.load(workspace, PLAN, source="plan.yaml")
    return metrics_path


@pytest.fixture
def plans_area(qtbot, seeded_path, main_window):
    main_window.show_area("plans")
    area = main_window.areas["plans"]
    qtbot.waitUntil(lambda: area.editor.plan is not None, timeout=10_000)
    return area


@pytest.fixture
def empty_plans_area(qtbot, metrics_path, main_window):
    main_window.show_area("plans")
    area = main_window.areas["plans"]
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    return area


# -- driving the widgets ------------------------------------------------------------------------


def _type(qtbot, widget: QLineEdit | QComboBox, text: str, commit: bool = True) -> None:
    """Click a text field, replace its text by typing, and press Enter when ``commit``."""
    edit = widget.lineEdit() if isinstance(widget, QComboBox) else widget
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)
    if commit:
        qtbot.keyClick(edit, Qt.Key.Key_Return)


def _choose(qtbot, combo: QComboBox, value: object) -> None:
    """Pick a drop-down entry by its value with the arrow keys, as a keyboard user does."""
    target = combo.findData(value)
    assert target >= 0, f"{value!r} is not offered by {combo.objectName()}"
    for _step in range(combo.count()):
        if combo.currentIndex() == target:
            return
        key = Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up
        qtbot.keyClick(combo, key)
    assert combo.currentIndex() == target


def _toggle(qtbot, check: QCheckBox) -> None:
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))


def _tab(qtbot, editor, index: int) -> None:
    bar = editor.editor_tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())


def _select_component(qtbot, editor, row: int) -> None:
    listing = editor.components_list
    rect = listing.visualItemRect(listing.item(row))
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.current_row() == row


def _edit_cell(qtbot, table, row: int, column: int, text: str) -> None:
    index = table.model().index(row, column)
    table.scrollTo(index)
    center = table.visualRect(index).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    editor = table.viewport().findChild(QLineEdit)
    assert editor is not None, "double-clicking the cell opened no editor"
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState, timeout=5_000)


def _plan_field(editor, key: str):
    return editor.plan_form.bindings[key].widget


def _component_field(editor, key: str):
    return editor.component_form.bindings[key].widget


def _save(qtbot, area, note: str = "edited in the form") -> Plan:
    """Type a version note, click Save and return the plan version the workspace stored."""
    editor = area.editor
    edited = editor.plan
    _type(qtbot, editor.reason_edit, note, commit=False)
    assert editor.save_button.isEnabled(), editor.save_hint.text()
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not area.context.busy, timeout=10_000)
    with area.context.workspace.read() as connection:
        stored = plan_service.get_plan(connection, edited.name)
    qtbot.waitUntil(lambda: editor.plan == stored, timeout=10_000)
    return stored


# -- building a plan from scratch ------------------------------------------------------------------


def test_new_plan_with_every_kind(qtbot, empty_plans_area):
    area = empty_plans_area
    editor = area.editor
    qtbot.mouseClick(area.empty_new_button, Qt.MouseButton.LeftButton)
    assert editor.title_label.text() == "New plan (not saved)"
    _type(qtbot, _plan_field(editor, "name"), "Inside Sales 2017")
    _type(qtbot, _plan_field(editor, "effective_from"), "2017-01-01")
    _type(qtbot, _plan_field(editor, "effective_to"), "2017-12-31")
    _type(qtbot, _plan_field(editor, "role"), "Inside Sales")
    assert "no components" in editor.components_problem.text()

    _tab(qtbot, editor, 1)
    for kind in ("commission", "spif", "bonus", "formula"):
        _choose(qtbot, editor.kind_combo, kind)
        qtbot.mouseClick(editor.add_component_button, Qt.MouseButton.LeftButton)
    assert editor.components_list.count() == 4

    _select_component(qtbot, editor, 0)
    _edit_cell(qtbot, editor.bands_table, 0, 2, "4%")
    _select_component(qtbot, editor, 1)
    _type(qtbot, _component_field(editor, "metric"), "gtx_deals")
    _type(qtbot, _component_field(editor, "amount_per_unit"), "100")
    _select_component(qtbot, editor, 2)
    _type(qtbot, _component_field(editor, "quota"), "bookings")
    _type(qtbot, _component_field(editor, "target"), "5000")
    _select_component(qtbot, editor, 3)
    _type(qtbot, _component_field(editor, "quota"), "bookings")
    _type(qtbot, _component_field(editor, "expression"), "if(attainment >= 1.2, 0.01 * credit, 0)")
    edited = editor.plan

    stored = _save(qtbot, area, "first version")

    assert [component.type for component in stored.components] == ["commission", "spif", "bonus", "formula"]
    assert stored.components[0].tiers.bands[0].rate == Decimal("0.04")
    assert stored.components[1].amount_per_unit == Decimal(100)
    assert stored.components[2].target == Decimal(5000)
    assert stored.components[3].expression == "if(attainment >= 1.2, 0.01 * credit, 0)"
    assert stored.participants.role == "Inside Sales"
    assert dump_plan(stored) == dump_plan(edited)
    assert editor.title_label.text() == "Inside Sales 2017, version 1 (active)"


def test_new_plan_beside_stored_plans(qtbot, plans_area):
    editor = plans_area.editor
    qtbot.mouseClick(plans_area.new_button, Qt.MouseButton.LeftButton)
    assert editor.title_label.text() == "New plan (not saved)"
    assert editor.plan.name == "New plan"
    assert plans_area.tree.currentItem() is None
    assert editor.changes_view.toPlainText() == "A new plan: nothing stored to compare with."
    plans_area.context.notify_changed({"metrics"})
    assert editor.is_new


def test_new_plan_needs_components_to_save(qtbot, empty_plans_area):
    editor = empty_plans_area.editor
    qtbot.mouseClick(empty_plans_area.empty_new_button, Qt.MouseButton.LeftButton)
    _type(qtbot, _plan_field(editor, "role"), "Inside Sales")
    _type(qtbot, editor.reason_edit, "first version", commit=False)
    assert not editor.save_button.isEnabled()
    assert editor.save_hint.text().startswith("Correct the problems")


def test_new_spif_names_missing_amount(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _choose(qtbot, editor.kind_combo, "spif")
    qtbot.mouseClick(editor.add_component_button, Qt.MouseButton.LeftButton)
    assert editor.current_component().name == "SPIF"
    assert "a SPIF needs amount_per_unit" in editor.component_form.problem_text("amount_per_unit")
    assert not editor.save_button.isEnabled()


# -- gates and formulas ---------------------------------------------------------------------------------


def test_gate_parse_error_then_fixed(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    gate = _component_field(editor, "gate")
    _type(qtbot, gate, "ytd_attainment >=", commit=False)
    assert "at position 18" in editor.component_form.problem_text("gate")
    assert editor.plan.components[0].gate is None

    qtbot.keyClick(gate, Qt.Key.Key_Return)
    assert editor.plan.components[0].gate == "ytd_attainment >="
    assert "gate 'ytd_attainment >=' is invalid" in editor.component_form.problem_text("gate")
    _type(qtbot, editor.reason_edit, "gate on half the year's quota", commit=False)
    assert not editor.save_button.isEnabled()

    _type(qtbot, gate, "ytd_attainment >= 0.5")
    assert editor.component_form.problem_text("gate") == ""
    assert editor.save_button.isEnabled()
    stored = _save(qtbot, plans_area, "gate on half the year's quota")
    assert stored.components[0].gate == "ytd_attainment >= 0.5"


def test_formula_live_check_names_position(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _choose(qtbot, editor.kind_combo, "formula")
    qtbot.mouseClick(editor.add_component_button, Qt.MouseButton.LeftButton)
    _type(qtbot, _component_field(editor, "expression"), "if(attainment >= 1.2, 0.01 * credit", commit=False)
    assert "at position 36" in editor.component_form.problem_text("expression")


# -- undo and redo ------------------------------------------------------------------------------------------


def test_undo_redo_restores_each_state(qtbot, plans_area):
    editor = plans_area.editor
    states = [editor.plan]
    _type(qtbot, _plan_field(editor, "currency"), "eur")
    states.append(editor.plan)
    _toggle(qtbot, _plan_field(editor, "draw"))
    states.append(editor.plan)
    _tab(qtbot, editor, 1)
    _choose(qtbot, editor.kind_combo, "spif")
    qtbot.mouseClick(editor.add_component_button, Qt.MouseButton.LeftButton)
    states.append(editor.plan)
    qtbot.mouseClick(editor.up_button, Qt.MouseButton.LeftButton)
    states.append(editor.plan)
    _type(qtbot, _component_field(editor, "gate"), "attainment >= 0.8")
    states.append(editor.plan)
    assert len(set(states)) == 6

    for expected in reversed(states[:-1]):
        qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
        assert editor.plan == expected
    assert not editor.undo_button.isEnabled()
    assert editor.title_label.text() == f"{NAME}, version 1 (active)"
    for expected in states[1:]:
        qtbot.mouseClick(editor.redo_button, Qt.MouseButton.LeftButton)
        assert editor.plan == expected
    assert editor.current_component().name == "SPIF"


def test_undo_shows_restored_value(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "effective_to"), "2017-06-30")
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _plan_field(editor, "effective_to").text() == "2017-12-31"


# -- one test per field group: the saved version carries the value ----------------------------------------


def test_plan_dates_period_currency_saved(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "effective_from"), "2017-07-01")
    _type(qtbot, _plan_field(editor, "effective_to"), "")
    _type(qtbot, _plan_field(editor, "currency"), "eur")
    _choose(qtbot, _plan_field(editor, "period"), "two_weeks")
    _type(qtbot, _plan_field(editor, "period_start"), "2017-07-03")
    _choose(qtbot, _plan_field(editor, "fiscal_start_month"), 7)
    _choose(qtbot, _plan_field(editor, "quota_proration"), "days")

    stored = _save(qtbot, plans_area)

    assert stored.effective_from == dt.date(2017, 7, 1)
    assert stored.effective_to is None
    assert stored.currency == "EUR"
    assert stored.period == "two_weeks"
    assert stored.period_start == dt.date(2017, 7, 3)
    assert stored.fiscal_start_month == 7
    assert stored.quota_proration == "days"
    assert stored.version == 2


def test_assignment_by_ids_saved(qtbot, plans_area):
    editor = plans_area.editor
    _choose(qtbot, _plan_field(editor, "assignment"), "ids")
    assert "at least one participant id" in editor.plan_form.problem_text("assignment")
    _type(qtbot, _plan_field(editor, "ids"), "P001, P002;P003")

    stored = _save(qtbot, plans_area)

    assert stored.participants.ids == ("P001", "P002", "P003")
    assert stored.participants.role is None


def test_assignment_by_role_saved(qtbot, plans_area):
    _type(qtbot, _plan_field(plans_area.editor, "role"), "Account Executive")
    stored = _save(qtbot, plans_area)
    assert stored.participants.role == "Account Executive"


def test_exchange_rate_terms_saved(qtbot, plans_area):
    editor = plans_area.editor
    _choose(qtbot, _plan_field(editor, "fx_rate_date"), "period_end")
    _choose(qtbot, _plan_field(editor, "fx_rate_type"), "end_of_day")
    _type(qtbot, _plan_field(editor, "fx_max_age_days"), "3")

    stored = _save(qtbot, plans_area)

    assert stored.fx.rate_date == "period_end"
    assert stored.fx.rate_type == "end_of_day"
    assert stored.fx.max_age_days == 3


def test_draw_terms_saved(qtbot, plans_area):
    editor = plans_area.editor
    _toggle(qtbot, _plan_field(editor, "draw"))
    assert _plan_field(editor, "draw_amount").isVisible()
    _type(qtbot, _plan_field(editor, "draw_amount"), "2000")
    _toggle(qtbot, _plan_field(editor, "draw_recoverable"))
    _choose(qtbot, _plan_field(editor, "draw_year_end"), "forgive")

    stored = _save(qtbot, plans_area)

    assert stored.draw.amount == Decimal(2000)
    assert stored.draw.recoverable is False
    assert stored.draw.year_end == "forgive"


def test_clawback_terms_saved(qtbot, plans_area):
    editor = plans_area.editor
    _toggle(qtbot, _plan_field(editor, "clawback"))
    _type(qtbot, _plan_field(editor, "clawback_window_days"), "60")
    _choose(qtbot, _plan_field(editor, "clawback_rate"), "current")

    stored = _save(qtbot, plans_area)

    assert stored.clawback.window_days == 60
    assert stored.clawback.rate == "current"


def test_component_crediting_and_basis_saved(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _type(qtbot, _component_field(editor, "name"), "Team bookings commission")
    _choose(qtbot, _component_field(editor, "credit"), "team")
    _choose(qtbot, _component_field(editor, "basis"), "ytd")
    _type(qtbot, _component_field(editor, "quota"), "team_bookings")

    stored = _save(qtbot, plans_area)

    component = stored.components[0]
    assert component.name == "Team bookings commission"
    assert component.credit == "team"
    assert component.basis == "ytd"
    assert component.quota == "team_bookings"


def test_component_metric_picked_from_catalog(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    metric = _component_field(editor, "metric")
    assert [metric.itemText(index) for index in range(metric.count())] == ["bookings", "gtx_deals"]
    _type(qtbot, metric, "won_bookings")
    assert "metric 'won_bookings' is not defined" in editor.component_form.problem_text("metric")
    _type(qtbot, metric, "gtx_deals")
    stored = _save(qtbot, plans_area)
    assert stored.components[0].metric == "gtx_deals"


def test_tier_method_by_grain_saved(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _choose(qtbot, _component_field(editor, "method"), "retroactive")
    _choose(qtbot, _component_field(editor, "by"), "amount")
    _type(qtbot, _component_field(editor, "grain"), "deal")

    stored = _save(qtbot, plans_area)

    tiers = stored.components[0].tiers
    assert tiers.method == "retroactive"
    assert tiers.by == "amount"
    assert tiers.grain == "deal"


def test_cap_gate_hold_saved(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _type(qtbot, _component_field(editor, "cap"), "60000")
    _type(qtbot, _component_field(editor, "gate"), "ytd_attainment >= 0.5")
    _toggle(qtbot, _component_field(editor, "hold"))
    assert "deal date field" in editor.component_form.problem_text("hold_until")
    _type(qtbot, _component_field(editor, "hold_share"), "25%")
    _type(qtbot, _component_field(editor, "hold_until"), "service_start_date")

    stored = _save(qtbot, plans_area)

    component = stored.components[0]
    assert component.cap == Decimal(60000)
    assert component.gate == "ytd_attainment >= 0.5"
    assert component.hold.share == Decimal("0.25")
    assert component.hold.until == "service_start_date"


def test_bonus_target_saved(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _select_component(qtbot, editor, 1)
    assert not _component_field(editor, "method").isVisible()
    _type(qtbot, _component_field(editor, "target"), "7500")
    stored = _save(qtbot, plans_area)
    assert stored.components[1].target == Decimal(7500)


def test_duplicate_move_remove_saved(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    qtbot.mouseClick(editor.duplicate_button, Qt.MouseButton.LeftButton)
    assert editor.current_component().name == "Bookings commission copy"
    qtbot.mouseClick(editor.down_button, Qt.MouseButton.LeftButton)
    _select_component(qtbot, editor, 0)
    qtbot.mouseClick(editor.remove_component_button, Qt.MouseButton.LeftButton)

    stored = _save(qtbot, plans_area)

    assert [component.name for component in stored.components] == ["Attainment bonus", "Bookings commission copy"]
    assert stored.components[1].tiers == editor.plan.components[1].tiers


def test_rename_saves_new_plan(qtbot, plans_area):
    _type(qtbot, _plan_field(plans_area.editor, "name"), "Account Executive 2018")
    stored = _save(qtbot, plans_area)
    assert stored.name == "Account Executive 2018"
    assert stored.version == 1


def test_unknown_keys_survive_edit(qtbot, plans_area):
    extended = PLAN.replace("version: 1", "version: 2").replace("period: quarter", "period: quarter\nregion: EMEA")
    plan_service.load(plans_area.context.workspace, extended, source="plan.yaml")
    plans_area.context.notify_changed({"plans"})
    tree = plans_area.tree
    second = tree.topLevelItem(0).child(1)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(second).center())
    assert plans_area.editor.plan.version == 2
    _type(qtbot, _plan_field(plans_area.editor, "currency"), "GBP")
    stored = _save(qtbot, plans_area)
    assert stored.extra == {"region": "EMEA"}


# -- problems next to the field ---------------------------------------------------------------------------


def test_invalid_currency_shown_under_field(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "currency"), "US")
    assert "three-letter code" in editor.plan_form.problem_text("currency")
    _type(qtbot, editor.reason_edit, "currency", commit=False)
    assert not editor.save_button.isEnabled()


def test_end_before_start_shown_under_field(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "effective_to"), "2016-12-31")
    assert "is before effective_from" in editor.plan_form.problem_text("effective_to")


def test_text_in_cap_stays_red(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    cap = _component_field(editor, "cap")
    _type(qtbot, cap, "lots")
    assert "'lots' is not a number" in editor.component_form.problem_text("cap")
    assert cap.text() == "lots"
    assert editor.plan.components[0].cap is None
    _type(qtbot, editor.reason_edit, "cap", commit=False)
    assert not editor.save_button.isEnabled()


def test_bad_date_keeps_plan(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "effective_from"), "2017-13-01")
    assert "is not a date" in editor.plan_form.problem_text("effective_from")
    assert editor.plan.effective_from == dt.date(2017, 1, 1)


def test_band_problem_shown_under_table(qtbot, plans_area):
    editor = plans_area.editor
    _tab(qtbot, editor, 1)
    _choose(qtbot, _component_field(editor, "method"), "flat")
    assert "flat tiers take exactly one band" in editor.bands_problem.text()


def test_saved_plan_equals_edited_plan(qtbot, plans_area):
    editor = plans_area.editor
    _type(qtbot, _plan_field(editor, "currency"), "EUR")
    _tab(qtbot, editor, 1)
    _type(qtbot, _component_field(editor, "cap"), "12500.50")
    edited = dataclasses.replace(editor.plan, version=2)
    stored = _save(qtbot, plans_area)
    assert stored == edited
    assert dump_plan(stored) == dump_plan(edited)


# -- the fiscal year ---------------------------------------------------------------------------


@pytest.fixture
def july_plans_area(qtbot, seeded_path, app_context):
    from spm_desktop.gui.main_window import MainWindow
    from spm_desktop.services import period_service, settings_service

    with Workspace.open(seeded_path, "tester") as workspace:
        settings_service.set(workspace, period_service.FISCAL_START_SETTING, 7)
    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    operation = window.open_workspace(seeded_path)
    qtbot.waitUntil(lambda: operation.done, timeout=30_000)
    window.show_area("plans")
    area = window.areas["plans"]
    qtbot.waitUntil(lambda: area.editor.plan is not None, timeout=10_000)
    return area


def test_plan_without_fiscal_start_shows_the_workspace_month(july_plans_area):
    combo = _plan_field(july_plans_area.editor, "fiscal_start_month")
    assert combo.currentData() == 0
    assert combo.currentText() == "As the workspace (July)"


def test_explicit_january_is_saved_and_warned(qtbot, july_plans_area):
    editor = july_plans_area.editor
    _choose(qtbot, _plan_field(editor, "fiscal_start_month"), 1)
    # January differs from the workspace's July, so the plan cannot be calculated as it is.
    assert any("fiscal year starts in month 7" in problem.message for problem in editor.problems)
    stored = _save(qtbot, july_plans_area, "January on purpose")
    assert stored.fiscal_start_month == 1
    assert stored.fiscal_start_stated
    assert "fiscal_start_month: 1" in dump_plan(stored)

    _choose(qtbot, _plan_field(editor, "fiscal_start_month"), 0)
    stored = _save(qtbot, july_plans_area, "follow the workspace again")
    assert not stored.fiscal_start_stated
    assert "fiscal_start_month" not in dump_plan(stored)
