"""The demo generator: seeded, labelled, and consistent with the real facts of each deal."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from spm_desktop.domain.generate import generate_history
from spm_desktop.domain.records import RECORD_SETS

DEALS = """deal_id,owner,product,amount,created_date,close_date,stage
W1,Ann,GTX Pro,48210000,2017-03-01,2017-05-20,Won
W2,Ann,GTX Pro,50000000,2017-04-01,2017-04-03,Won
L1,Ann,GTX Pro,0,2017-03-10,2017-06-01,Lost
E1,Ben,MG Special,,2017-06-01,,Engaging
P1,Ben,MG Special,,,,Prospecting
X1,Ben,MG Special,,2017-06-01,,Negotiation
"""
AS_OF = dt.date(2017, 6, 30)


def deals() -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(DEALS), dtype=str, keep_default_na=False, na_values=[""])
    frame["amount"] = pd.array([None if pd.isna(v) else int(v) for v in frame["amount"]], dtype="Int64")
    for column in ("created_date", "close_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


@pytest.fixture(scope="module")
def generated():
    return generate_history(deals(), seed=3, as_of=AS_OF)


def path(generated, deal_id: str) -> pd.DataFrame:
    history = generated.stage_history
    return history[history["deal_id"] == deal_id].reset_index(drop=True)


def test_same_seed_same_rows(generated):
    again = generate_history(deals(), seed=3, as_of=AS_OF)
    pd.testing.assert_frame_equal(generated.stage_history, again.stage_history)
    pd.testing.assert_frame_equal(generated.activities, again.activities)


def test_row_order_of_input_does_not_matter(generated):
    shuffled = generate_history(deals().iloc[::-1], seed=3, as_of=AS_OF)
    pd.testing.assert_frame_equal(generated.stage_history, shuffled.stage_history)


def test_other_seed_other_rows(generated):
    other = generate_history(deals(), seed=4, as_of=AS_OF)
    assert not generated.stage_history["changed_at"].equals(other.stage_history["changed_at"])


def test_every_row_is_labelled_generated(generated):
    assert generated.stage_history["generated"].all()
    assert generated.activities["generated"].all()


def test_frames_follow_the_record_layout(generated):
    assert list(generated.stage_history.columns) == [*RECORD_SETS["stage_history"].field_names, "generated"]
    assert list(generated.activities.columns) == [*RECORD_SETS["activities"].field_names, "generated"]


def test_won_deal_path(generated):
    won = path(generated, "W1")
    assert won["stage"].iloc[0] == "Prospecting"
    assert won["changed_at"].iloc[0].date() == dt.date(2017, 3, 1)
    assert won["stage"].iloc[-1] == "Won"
    assert won["changed_at"].iloc[-1].date() == dt.date(2017, 5, 20)
    assert won["forecast_category"].iloc[-1] == "closed"
    assert "Engaging" in set(won["stage"])


def test_won_amount_is_the_real_value(generated):
    assert set(path(generated, "W1")["amount"]) == {48_210_000}


def test_lost_deal_gets_a_product_estimate(generated):
    # The median won GTX Pro amount is 49,105,000; estimates vary it by up to 15% and round to units.
    amounts = set(path(generated, "L1")["amount"])
    assert len(amounts) == 1
    assert 0.85 * 49_105_000 - 10_000 <= amounts.pop() <= 1.15 * 49_105_000 + 10_000


def test_change_times_rise_within_each_deal(generated):
    history = generated.stage_history
    assert history.groupby("deal_id")["changed_at"].apply(lambda times: times.is_monotonic_increasing).all()
    assert not history.duplicated(["deal_id", "changed_at"]).any()


def test_rows_stay_between_created_and_close(generated):
    won = path(generated, "W2")
    assert won["changed_at"].min() >= pd.Timestamp("2017-04-01")
    assert won["changed_at"].max() <= pd.Timestamp("2017-04-03 23:59")


def test_open_deal_stays_open(generated):
    engaging = path(generated, "E1")
    assert set(engaging["stage"]) <= {"Prospecting", "Engaging"}
    assert engaging["changed_at"].max() <= pd.Timestamp("2017-06-30 23:59")


def test_close_dates_only_move_later(generated):
    for _, rows in generated.stage_history.groupby("deal_id"):
        open_rows = rows[~rows["stage"].isin(["Won", "Lost"])]
        assert open_rows["close_date"].is_monotonic_increasing


def test_prospect_without_created_date_gets_one(generated):
    prospect = path(generated, "P1")
    assert list(prospect["stage"].unique()) == ["Prospecting"]
    assert dt.date(2017, 5, 16) <= prospect["changed_at"].iloc[0].date() <= AS_OF


def test_unknown_stage_is_skipped(generated):
    assert path(generated, "X1").empty


def test_daily_activities_on_working_days_only(generated):
    daily = generated.activities[generated.activities["deal_id"].isna()]
    assert (daily["date"].dt.day_of_week < 5).all()


def test_activities_have_positive_counts(generated):
    assert (generated.activities["count"] > 0).all()


def test_meeting_when_a_deal_starts_engaging(generated):
    linked = generated.activities[generated.activities["deal_id"].notna()]
    # Won and engaging deals always pass through Engaging; a lost deal may be lost from Prospecting.
    assert {"W1", "W2", "E1"} <= set(linked["deal_id"]) <= {"W1", "W2", "L1", "E1"}
    assert set(linked["type"]) == {"meeting"}
