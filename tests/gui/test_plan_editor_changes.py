"""Plan edits behind the editor's buttons, and the field each validation problem is shown under."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.plans import (
    Band,
    ClawbackTerms,
    Component,
    DrawTerms,
    Eligibility,
    FxSettings,
    Hold,
    Tiers,
    dump_plan,
    load_plan,
    validate_plan,
)
from spm_desktop.domain.problems import Problem
from spm_desktop.gui.plan_editor import changes
from spm_desktop.gui.plan_editor.fields import FieldError, read_text
from spm_desktop.gui.plan_editor.plan_form import parse_ids

PLAN = """\
plan: Account Executive 2017
version: 1
effective_from: 2017-01-01
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
"""


@pytest.fixture
def plan():
    return load_plan(PLAN)


def _fields(plan, component=None):
    problems = validate_plan(plan, {"bookings"}, {"bookings"}) + changes.editor_problems(plan)
    return changes.field_messages(problems, component)


def test_blank_plan_starts_in_january():
    blank = changes.blank_plan(dt.date(2026, 12, 4))
    assert blank.effective_from == dt.date(2026, 1, 1)
    assert blank.components == ()


def test_new_component_names_unique(plan):
    first = changes.new_component(plan, "spif", "bookings")
    with_first = changes.insert_component(plan, 1, first)
    second = changes.new_component(with_first, "spif", "bookings")
    assert first.name == "SPIF"
    assert second.name == "SPIF 2"


def test_new_commission_is_valid(plan):
    component = changes.new_component(plan, "commission", "bookings")
    edited = changes.insert_component(plan, 1, component)
    assert _fields(edited, component.name) == {}


@pytest.mark.parametrize(("kind", "field"), [("spif", "amount_per_unit"), ("bonus", "target"),
                                             ("formula", "expression")])
def test_new_component_names_missing_field(plan, kind, field):
    component = changes.new_component(plan, kind, "bookings")
    edited = changes.insert_component(plan, 1, component)
    assert field in _fields(edited, component.name)


def test_duplicate_inserts_copy_after(plan):
    edited = changes.duplicate_component(plan, 0)
    assert [component.name for component in edited.components] == ["Bookings commission",
                                                                    "Bookings commission copy"]
    assert edited.components[1].tiers == plan.components[0].tiers


def test_move_then_move_back(plan):
    edited = changes.duplicate_component(plan, 0)
    moved = changes.move_component(edited, 1, -1)
    assert moved.components[0].name == "Bookings commission copy"
    assert changes.move_component(moved, 0, 1) == edited


def test_remove_component(plan):
    edited = changes.remove_component(changes.duplicate_component(plan, 0), 0)
    assert [component.name for component in edited.components] == ["Bookings commission copy"]


def test_expression_error_names_position():
    message = changes.expression_error("attainment >= (1")
    assert message is not None
    assert "at position 17" in message


def test_expression_without_error():
    assert changes.expression_error("ytd_attainment >= 0.5 and region == \"EMEA\"") is None


def test_parse_ids_splits_and_trims():
    assert parse_ids(" P001, P002;\nP003 ,, ") == ("P001", "P002", "P003")


# -- problem to field ----------------------------------------------------------------------------


def test_plan_problems_map_to_fields(plan):
    broken = dataclasses.replace(
        plan, name=" ", currency="US", period="fortnight", effective_to=dt.date(2016, 1, 1),
        fiscal_start_month=13, participants=Eligibility(ids=()), quota_proration="weeks",
        fx=FxSettings("close_date", "spot", -1), draw=DrawTerms(Decimal(-1), year_end="keep"),
        clawback=ClawbackTerms(-5, "newest"), components=(),
    )
    fields = _fields(broken)
    expected = {"name", "currency", "period", "effective_to", "fiscal_start_month", "assignment", "quota_proration",
                "fx_rate_date", "fx_rate_type", "fx_max_age_days", "draw_amount", "draw_year_end",
                "clawback_rate", "clawback_window_days", "components"}
    assert set(fields) == expected


def test_two_week_plan_needs_period_start(plan):
    fields = _fields(dataclasses.replace(plan, period="two_weeks"))
    assert "period_start" in fields


def test_component_problems_map_to_fields(plan):
    component = Component(
        "Broken", "commission", "pipeline", credit="manager", basis="quarter", quota=None,
        tiers=Tiers("stepped", (Band(Decimal(0), Decimal(-1)),), by="attainment"), cap=Decimal(-5),
        gate="attainment >=", hold=Hold(Decimal(2), " "),
    )
    fields = _fields(dataclasses.replace(plan, components=(component,)), "Broken")
    expected = {"credit", "basis", "metric", "quota", "method", "cap", "gate", "hold_share", "hold_until", "bands"}
    assert set(fields) == expected


def test_kind_problems_map_to_fields(plan):
    spif = Component("Units", "spif", "bookings")
    formula = Component("Kicker", "formula", "bookings", expression="if(credit")
    bonus = Component("Bonus", "bonus", "bookings", quota="bookings")
    edited = dataclasses.replace(plan, components=(spif, formula, bonus, spif))
    assert set(_fields(edited, "Units")) == {"amount_per_unit", "name"}
    assert set(_fields(edited, "Kicker")) == {"expression"}
    assert set(_fields(edited, "Bonus")) == {"target", "bands"}


def test_warning_is_marked(plan):
    problems = [Problem("plan.unknown_quota", "component 'Bookings commission': quota key 'x' is not in "
                                "the imported quotas", component="Bookings commission", severity="warning")]
    fields = changes.field_messages(problems, "Bookings commission")
    assert fields["quota"][0].startswith("warning: ")


# -- typed text survives the YAML round trip --------------------------------------------------------

# Text the editor's fields accept: one line of any printable characters, YAML indicators included.
_TYPED_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(name=_TYPED_TEXT, role=_TYPED_TEXT, ids=st.lists(_TYPED_TEXT, min_size=1, max_size=3), grain=_TYPED_TEXT,
       until=_TYPED_TEXT)
def test_typed_text_round_trips(name, role, ids, grain, until):
    base = load_plan(PLAN)
    component = base.components[0]
    tiers = dataclasses.replace(component.tiers, grain=grain.strip())
    edited_component = dataclasses.replace(component, name=name.strip(), tiers=tiers,
                                           hold=Hold(Decimal("0.25"), until.strip()))
    edited = dataclasses.replace(
        changes.with_component(base, 0, edited_component),
        name=name.strip(), participants=Eligibility(role.strip(), parse_ids(", ".join(ids)) or None),
    )
    assert load_plan(dump_plan(edited)) == edited


@pytest.mark.parametrize("text", ["?0", "? Sales Agent", "-1", "#7", "a\u2028b"])
def test_indicator_text_round_trips(text):
    edited = dataclasses.replace(load_plan(PLAN), participants=Eligibility(text, (text,)))
    assert load_plan(dump_plan(edited)) == edited


def test_line_break_rejected():
    with pytest.raises(FieldError, match="must be one line"):
        read_text("Sales\x85Agent", "the role")
