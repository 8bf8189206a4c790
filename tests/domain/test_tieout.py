"""Tie-out matching on small hand-computed figures."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.tieout import (
    AMBIGUOUS,
    CURRENCY_DIFFERS,
    MATCHED,
    ONLY_OURS,
    ONLY_THEIRS,
    OUTSIDE_TOLERANCE,
    RANK_DATE_WINDOW,
    RANK_EXACT,
    WITHIN_TOLERANCE,
    Figure,
    FxRates,
    MatchOptions,
    TieoutError,
    combine,
    match,
)


def ours(record_id, amount, *, customer=None, day=None, participant="ann", currency="USD"):
    return Figure(record_id, Decimal(amount), currency, participant, "2017-Q1",
                  dt.date.fromisoformat(day) if day else None, customer)


def theirs(record_id, amount, *, customer=None, day=None, currency="USD", our_id=None):
    return Figure(record_id, Decimal(amount), currency, None, None,
                  dt.date.fromisoformat(day) if day else None, customer, our_id)


def status_of(result, record_id):
    for line in result.lines:
        for figure in (line.ours, line.theirs):
            if figure is not None and figure.record_id == record_id:
                return line.status
    raise AssertionError(f"{record_id} is in no line")


def test_shared_ids_match_and_split_by_side():
    result = match([ours("D1", "100.00"), ours("D2", "250.00"), ours("D3", "75.50")],
                   [theirs("D1", "100.00"), theirs("D2", "250.00"), theirs("X9", "10.00")],
                   MatchOptions(), currency="USD")
    assert status_of(result, "D1") == MATCHED
    assert status_of(result, "D2") == MATCHED
    assert status_of(result, "D3") == ONLY_OURS
    assert status_of(result, "X9") == ONLY_THEIRS
    assert result.ours_total == Decimal("425.50")
    assert result.theirs_total == Decimal("360.00")


def test_our_id_column_beats_their_id():
    result = match([ours("D1", "100.00")], [theirs("INV-7", "100.00", our_id="D1")], MatchOptions(), currency="USD")
    assert result.lines[0].status == MATCHED
    assert result.lines[0].method == "id"


def test_composite_key_matches_without_shared_ids():
    options = MatchOptions(key_fields=("customer", "date", "amount"), date_window_days=3)
    result = match(
        [ours("D1", "1200.00", customer="Acme", day="2017-03-01"),
         ours("D2", "800.00", customer="Bolt", day="2017-03-05")],
        [theirs("INV-1", "1200.00", customer="ACME ", day="2017-03-02"),
         theirs("INV-2", "800.00", customer="Bolt", day="2017-03-05")],
        options, currency="USD")
    assert status_of(result, "INV-1") == MATCHED
    assert status_of(result, "INV-2") == MATCHED
    assert result.key_matches() == [("D1", "INV-1"), ("D2", "INV-2")]


def test_two_candidates_are_ambiguous_not_matched():
    options = MatchOptions(key_fields=("customer", "date"), date_window_days=5)
    result = match(
        [ours("D1", "500.00", customer="Acme", day="2017-03-01"),
         ours("D2", "700.00", customer="Acme", day="2017-03-03")],
        [theirs("INV-1", "500.00", customer="Acme", day="2017-03-01")],
        options, currency="USD")
    line = result.lines[0]
    assert line.status == AMBIGUOUS
    assert [candidate.ours.record_id for candidate in line.candidates] == ["D1", "D2"]
    assert [candidate.rank for candidate in line.candidates] == [RANK_EXACT, RANK_DATE_WINDOW]
    assert result.by_status(MATCHED) == []
    assert result.by_status(ONLY_OURS) == []
    assert result.ours_total == Decimal("1200.00")


def test_one_candidate_claimed_twice_is_ambiguous():
    options = MatchOptions(key_fields=("customer",))
    result = match([ours("D1", "500.00", customer="Acme")],
                   [theirs("INV-1", "500.00", customer="Acme"), theirs("INV-2", "500.00", customer="Acme")],
                   options, currency="USD")
    assert [line.status for line in result.lines] == [AMBIGUOUS, AMBIGUOUS]


def test_date_outside_window_is_no_candidate():
    options = MatchOptions(key_fields=("customer", "date"), date_window_days=2)
    result = match([ours("D1", "500.00", customer="Acme", day="2017-03-01")],
                   [theirs("INV-1", "500.00", customer="Acme", day="2017-03-04")], options, currency="USD")
    assert status_of(result, "D1") == ONLY_OURS
    assert status_of(result, "INV-1") == ONLY_THEIRS


def test_difference_within_absolute_tolerance():
    result = match([ours("D1", "1000.00")], [theirs("D1", "1000.40")],
                   MatchOptions(absolute_tolerance=Decimal("0.50")), currency="USD")
    assert result.lines[0].status == WITHIN_TOLERANCE
    assert result.lines[0].difference == Decimal("0.40")


def test_difference_outside_tolerance():
    result = match([ours("D1", "1000.00")], [theirs("D1", "1012.00")],
                   MatchOptions(absolute_tolerance=Decimal("0.50"), relative_tolerance=Decimal("0.01")),
                   currency="USD")
    assert result.lines[0].status == OUTSIDE_TOLERANCE
    assert result.lines[0].difference == Decimal("12.00")


def test_relative_tolerance_allows_one_percent():
    result = match([ours("D1", "1000.00")], [theirs("D1", "990.00")],
                   MatchOptions(relative_tolerance=Decimal("0.01")), currency="USD")
    assert result.lines[0].status == WITHIN_TOLERANCE
    assert result.lines[0].difference == Decimal("-10.00")


def test_other_currency_converted_with_rate():
    rates = FxRates([(dt.date(2017, 1, 1), "EUR", "USD", Decimal("1.2"))])
    result = match([ours("D1", "120.00", day="2017-02-01")], [theirs("D1", "100.00", currency="EUR", day="2017-02-01")],
                   MatchOptions(), currency="USD", rates=rates)
    assert result.lines[0].status == MATCHED
    assert result.lines[0].comparison.converted == Decimal("120.000")


def test_inverse_rate_converts_the_other_way():
    rates = FxRates([(dt.date(2017, 1, 1), "USD", "EUR", Decimal("0.8"))])
    result = match([ours("D1", "125.00")], [theirs("D1", "100.00", currency="EUR")], MatchOptions(),
                   currency="USD", rates=rates)
    assert result.lines[0].status == MATCHED


def test_rate_dated_after_the_figure_is_not_used():
    rates = FxRates([(dt.date(2017, 3, 1), "EUR", "USD", Decimal("1.2"))])
    result = match([ours("D1", "120.00")], [theirs("D1", "100.00", currency="EUR", day="2017-02-01")],
                   MatchOptions(), currency="USD", rates=rates)
    assert result.lines[0].status == CURRENCY_DIFFERS


def test_currency_differs_without_rate():
    result = match([ours("D1", "100.00")], [theirs("D1", "100.00", currency="EUR")], MatchOptions(), currency="USD")
    assert result.lines[0].status == CURRENCY_DIFFERS
    assert result.lines[0].difference is None
    assert result.theirs_total is None


def test_id_map_matches_saved_pair():
    result = match([ours("D1", "100.00")], [theirs("INV-1", "100.00")], MatchOptions(), currency="USD",
                   id_map={"INV-1": "D1"})
    assert result.lines[0].status == MATCHED
    assert result.lines[0].method == "id_map"


def test_summary_counts_each_status():
    result = match([ours("D1", "100.00"), ours("D2", "50.00")], [theirs("D1", "101.00"), theirs("X", "5.00")],
                   MatchOptions(), currency="USD")
    summary = result.summary()
    assert summary[OUTSIDE_TOLERANCE].count == 1
    assert summary[ONLY_OURS].ours == Decimal("50.00")
    assert summary[ONLY_THEIRS].theirs == Decimal("5.00")


def test_grouped_per_participant():
    result = match([ours("D1", "100.00", participant="ann"), ours("D2", "50.00", participant="bob")],
                   [theirs("D1", "100.00")], MatchOptions(), currency="USD")
    groups = result.grouped("participant")
    assert groups["ann"].counts[MATCHED] == 1
    assert groups["bob"].counts[ONLY_OURS] == 1
    assert groups["bob"].ours == Decimal("50.00")
    assert groups["ann"].theirs == Decimal("100.00")


def test_combine_sums_per_participant():
    combined = combine([Figure("p1", Decimal("10.00"), "USD", "ann"), Figure("p2", Decimal("5.25"), "USD", "ann")],
                       "participant")
    assert combined[0].record_id == "ann"
    assert combined[0].amount == Decimal("15.25")
    assert combined[0].records == ("p1", "p2")


def test_unknown_key_field_rejected():
    with pytest.raises(TieoutError, match="colour"):
        match([], [], MatchOptions(key_fields=("colour",)), currency="USD")


def test_duplicate_our_id_rejected():
    with pytest.raises(TieoutError, match="D1"):
        match([ours("D1", "1"), ours("D1", "2")], [], MatchOptions(), currency="USD")


# -- properties -------------------------------------------------------------------------------

CUSTOMERS = ("Acme", "Bolt", "Cargo")


def figures(prefix):
    row = st.tuples(st.sampled_from(CUSTOMERS), st.integers(1, 28), st.integers(1, 500))
    return st.lists(row, max_size=12).map(lambda rows: [
        Figure(f"{prefix}{index}", Decimal(amount), "USD", None, None, dt.date(2017, 2, day), customer)
        for index, (customer, day, amount) in enumerate(rows)])


@settings(max_examples=150, deadline=None)
@given(figures("D"), figures("I"), st.integers(0, 3))
def test_every_figure_listed_once(our_figures, their_figures, window):
    options = MatchOptions(key_fields=("customer", "date"), date_window_days=window)
    result = match(our_figures, their_figures, options, currency="USD")
    listed_ours = [line.ours.record_id for line in result.lines if line.ours is not None]
    candidates = {candidate.ours.record_id for line in result.lines for candidate in line.candidates}
    listed_theirs = [line.theirs.record_id for line in result.lines if line.theirs is not None]
    assert sorted(listed_theirs) == sorted(figure.record_id for figure in their_figures)
    assert len(listed_ours) == len(set(listed_ours))
    assert set(listed_ours) | candidates == {figure.record_id for figure in our_figures}
    assert not set(listed_ours) & candidates


@settings(max_examples=150, deadline=None)
@given(figures("D"), figures("I"))
def test_ambiguous_never_paired(our_figures, their_figures):
    options = MatchOptions(key_fields=("customer",))
    result = match(our_figures, their_figures, options, currency="USD")
    for line in result.by_status(AMBIGUOUS):
        assert line.ours is None
        assert len(line.candidates) >= 1
