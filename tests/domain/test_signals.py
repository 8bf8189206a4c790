"""Signals measured from stage history, with values worked out by hand from the rows below."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.periods import parse_period
from spm_desktop.domain.signals import (
    SignalError,
    SignalInputs,
    SignalSettings,
    compute_signals,
    peer_median,
    signal_windows,
)

Q3 = parse_period("2017-Q3")
AS_OF = dt.date(2017, 8, 31)
E4 = 10_000

DEALS = """deal_id,owner,amount,created_date,close_date,stage
D1,A,10000,2017-07-01,2017-07-20,Won
D2,A,,2017-07-01,2017-07-03,Lost
D3,A,,2017-07-01,,Engaging
D4,A,,2017-07-01,2017-08-10,Lost
D5,B,8000,2017-07-01,2017-07-04,Won
D6,A,,2017-08-01,,Prospecting
"""

# D1 goes all the way; D2 is lost from Prospecting; D3 reaches commit, drops to best case
# and its close date slips twice; D4 is lost from Engaging; D5 (peer B) wins in three days;
# D6 sits in Prospecting.
HISTORY = """deal_id,changed_at,stage,forecast_category,amount,close_date
D1,2017-07-01 09:00:00,Prospecting,pipeline,10000,2017-07-31
D1,2017-07-05 09:00:00,Engaging,best_case,,
D1,2017-07-10 09:00:00,,commit,,
D1,2017-07-20 09:00:00,Won,closed,,2017-07-20
D2,2017-07-01 09:00:00,Prospecting,pipeline,5000,2017-07-31
D2,2017-07-03 09:00:00,Lost,omitted,,
D3,2017-07-01 09:00:00,Prospecting,pipeline,20000,2017-07-31
D3,2017-07-11 00:00:00,Engaging,commit,,
D3,2017-07-21 09:00:00,,best_case,,
D3,2017-07-25 09:00:00,,,,2017-08-31
D3,2017-08-20 09:00:00,,,,2017-09-30
D4,2017-07-01 09:00:00,Prospecting,pipeline,15000,2017-07-31
D4,2017-07-21 09:00:00,Engaging,best_case,,
D4,2017-08-10 09:00:00,Lost,omitted,,2017-08-10
D5,2017-07-01 09:00:00,Prospecting,pipeline,8000,2017-07-31
D5,2017-07-02 09:00:00,Engaging,best_case,,
D5,2017-07-04 09:00:00,Won,closed,,2017-07-04
D6,2017-08-01 00:00:00,Prospecting,pipeline,30000,2017-09-15
"""


def read(text: str, dates: tuple[str, ...], money: tuple[str, ...] = ("amount",)) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    for column in money:
        frame[column] = pd.array([None if pd.isna(v) else int(v) * E4 for v in frame[column]], dtype="Int64")
    return frame


def inputs(history: str = HISTORY) -> SignalInputs:
    people = pd.DataFrame({"participant_id": ["A", "B"], "name": ["Ann", "Ben"], "role": ["AE", "AE"],
                           "region": ["North", "North"]})
    deals = read(DEALS, ("created_date", "close_date"))
    stage_history = read(history, ("changed_at", "close_date"))
    stage_history["_generated"] = True
    return SignalInputs(people, deals, stage_history=stage_history)


@pytest.fixture(scope="module")
def report():
    return compute_signals(inputs(), Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1))


@pytest.fixture(scope="module")
def ann(report):
    return report.participant("A")


def test_created_count_and_value(ann):
    assert ann["created_count"] == 5
    # First known amounts: 10,000 + 5,000 + 20,000 + 15,000 + 30,000.
    assert ann["created_value"] == 80_000 * E4


def test_stage_rates_from_history(report):
    funnel = report.funnel[report.funnel["participant_id"] == "A"].set_index("stage")
    assert funnel.loc["Prospecting", "exits"] == 4
    assert funnel.loc["Prospecting", "rate"] == pytest.approx(0.75)
    assert funnel.loc["Engaging", "rate"] == pytest.approx(0.5)


def test_end_to_end_conversion_against_peer(ann):
    assert ann["conversion_rate"] == pytest.approx(0.375)
    assert ann["conversion_rate_peers"] == pytest.approx(1.0)
    assert ann["conversion_index"] == pytest.approx(0.375)


def test_segment_rate_includes_everyone(report):
    funnel = report.funnel[report.funnel["participant_id"] == "A"].set_index("stage")
    # Prospecting: A advanced 3 of 4, B 1 of 1.
    assert funnel.loc["Prospecting", "segment_rate"] == pytest.approx(4 / 5)


def test_days_to_close_of_won_deals(ann, report):
    assert ann["days_to_close"] == pytest.approx(19.0)
    assert report.won_days.set_index("deal_id").loc["D1", "days_to_close"] == pytest.approx(19.0)


def test_stalled_open_deals(ann):
    # Finished Engaging stays: 15, 20 and 2 days, 80% quantile 18; D3 has been Engaging 51 days.
    # Finished Prospecting stays: 4, 2, 10, 20, 1 days, 80% quantile 12; D6 waits 31 days.
    assert ann["open_count"] == 2
    assert ann["stalled_count"] == 2
    assert ann["stalled_share"] == pytest.approx(1.0)


def test_days_in_stage_of_open_deals(ann):
    # At the end of 2017-08-31: D3 has been Engaging since 2017-07-11 00:00, D6 Prospecting since 2017-08-01 00:00.
    end_of_day = 1 - 1 / 86_400
    assert ann["days_in_stage"] == pytest.approx(((51 + end_of_day) + (30 + end_of_day)) / 2)


def test_coverage_built_against_quota():
    base = inputs()
    base.quotas = pd.DataFrame({"participant_id": ["A"], "quota_key": ["bookings"], "period": ["2017-Q3"],
                                "amount": pd.array([92_000 * E4], dtype="Int64")})
    row = compute_signals(base, Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1)).participant("A")
    # 80,000 created against 92,000 x 62/92 due by 2017-08-31.
    assert row["coverage_built"] == pytest.approx(80_000 / 62_000)


def test_recent_deal_is_not_stalled():
    history = HISTORY.replace("D6,2017-08-01 00:00:00", "D6,2017-08-25 00:00:00")
    row = compute_signals(inputs(history), Q3, as_of=AS_OF,
                          settings=SignalSettings(history_periods=1)).participant("A")
    assert row["stalled_count"] == 1


def test_commit_drop_while_open(ann):
    assert ann["commit_drops"] == 1
    assert ann["commit_drop_value"] == 20_000 * E4


def test_close_date_slips(ann):
    assert ann["slips"] == 2
    assert ann["repeat_slippers"] == 1


def test_forecast_risk_share_of_open_pipeline(ann):
    # D3 (20,000) is flagged; open pipeline is D3 and D6 (50,000).
    assert ann["forecast_risk"] == pytest.approx(0.4)


def test_forecast_moves_of_the_period(report):
    moves = report.forecast_moves[report.forecast_moves["participant_id"] == "A"]
    drops = moves[(moves["from_category"] == "commit") & (moves["to_category"] == "best_case")]
    assert drops["count"].tolist() == [1]


def test_generated_rows_are_counted(report):
    assert report.generated_rows == 18


def test_series_has_every_signal_and_window(report):
    series = report.series[report.series["participant_id"] == "A"]
    assert sorted(series["signal"].unique()) == ["activity", "conversion", "earnings", "forecast", "pipeline",
                                                 "velocity"]
    assert sorted(series["period"].unique()) == ["2017-Q2", "2017-Q3"]


def test_unknown_deal_in_history_is_reported():
    history = HISTORY + "ZZ,2017-07-01 09:00:00,Prospecting,pipeline,1,\n"
    report = compute_signals(inputs(history), Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1))
    assert [problem.code for problem in report.problems] == ["signals.unknown_deal", "signals.no_quotas"]


def test_data_after_as_of_is_ignored():
    row = compute_signals(inputs(), Q3, as_of=dt.date(2017, 7, 15),
                          settings=SignalSettings(history_periods=1)).participant("A")
    # By 2017-07-15: D6 is not created yet; D1 and D3 left Prospecting forward, D2 was lost.
    assert row["created_count"] == 4
    assert row["exits"] == 3


def test_windows_run_oldest_first():
    windows = signal_windows(Q3, dt.date(2017, 8, 15), 2)
    assert [window.label for window in windows] == ["2017-Q1", "2017-Q2", "2017-Q3"]
    assert windows[-1].last_day == dt.date(2017, 8, 15)


def test_as_of_before_period_is_rejected():
    with pytest.raises(SignalError, match="before period 2017-Q3"):
        signal_windows(Q3, dt.date(2017, 6, 1), 1)


def test_peer_median_leaves_self_out():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    groups = np.array([0, 0, 0, 0])
    assert peer_median(values, groups).tolist() == [3.0, 3.0, 2.0, 2.0]


def test_peer_median_skips_missing_values():
    values = np.array([1.0, np.nan, 5.0, 7.0])
    groups = np.array([0, 0, 0, 1])
    result = peer_median(values, groups)
    assert result[0] == 5.0
    assert result[1] == 3.0
    assert np.isnan(result[3])


def test_settings_from_mapping():
    settings = SignalSettings.from_mapping({"segment": "manager_id", "low_activity": "0.6", "history_periods": 2})
    assert settings.segment == "manager_id"
    assert settings.low_activity == 0.6
    assert settings.history_periods == 2


@pytest.mark.parametrize(("values", "message"), [
    ({"colour": 1}, "unknown signal setting 'colour'"),
    ({"low_activity": "often"}, "must be a number"),
    ({"history_periods": -1}, "whole number"),
    ({"open_stages": "Prospecting"}, "list of names"),
])
def test_settings_reject_bad_values(values, message):
    with pytest.raises(SignalError, match=message):
        SignalSettings.from_mapping(values)


def test_missing_owner_column_is_rejected():
    bad = inputs()
    bad.deals = bad.deals.drop(columns="owner")
    with pytest.raises(SignalError, match="no column owner"):
        compute_signals(bad, Q3, as_of=AS_OF)


def test_credits_replace_won_amounts():
    base = inputs()
    base.credits = pd.DataFrame({"participant_id": ["A", "A"], "credit_date": pd.to_datetime(["2017-07-10",
                                                                                           "2017-10-01"]),
                                 "amount": pd.array([4_000 * E4, 9_000 * E4], dtype="Int64")})
    row = compute_signals(base, Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1)).participant("A")
    # Only the credit dated inside the period counts; D1's won amount of 10,000 is not used.
    assert row["credit"] == 4_000 * E4


def test_yearly_quota_spreads_over_days():
    base = inputs()
    base.quotas = pd.DataFrame({"participant_id": ["A"], "quota_key": ["bookings"], "period": ["2017"],
                                "amount": pd.array([365_000 * E4], dtype="Int64")})
    row = compute_signals(base, Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1)).participant("A")
    # 92 of the year's 365 days fall in Q3.
    assert row["quota"] == 92_000 * E4


def test_several_quota_keys_prefer_bookings():
    base = inputs()
    base.quotas = pd.DataFrame({"participant_id": ["A", "A"], "quota_key": ["team_bookings", "bookings"],
                                "period": ["2017-Q3", "2017-Q3"],
                                "amount": pd.array([500_000 * E4, 100_000 * E4], dtype="Int64")})
    report = compute_signals(base, Q3, as_of=AS_OF, settings=SignalSettings(history_periods=1))
    assert report.participant("A")["quota"] == 100_000 * E4
    assert report.problems[0].code == "signals.quota_key"


def test_unknown_segment_field_is_reported():
    report = compute_signals(inputs(), Q3, as_of=AS_OF,
                             settings=SignalSettings(history_periods=1, segment="department"))
    assert report.problems[0].code == "signals.segment"
    assert report.participant("A")["peer_count"] == 1


def test_cancelled_computation_stops():
    from spm_desktop.domain.progress import Cancelled, CancelToken

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_signals(inputs(), Q3, as_of=AS_OF, cancel=token)


def test_progress_reaches_the_end():
    reports = []
    compute_signals(inputs(), Q3, as_of=AS_OF, progress=lambda done, total, message: reports.append((done, total)))
    assert reports[-1] == (7, 7)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(-50, 50))), min_size=1, max_size=25))
def test_peer_median_matches_a_plain_loop(members):
    groups = np.array([group for group, _ in members])
    values = np.array([np.nan if value is None else float(value) for _, value in members])
    result = peer_median(values, groups)
    for index, (group, value) in enumerate(members):
        others = [float(v) for j, (g, v) in enumerate(members) if g == group and v is not None
                  and (j != index or value is None)]
        expected = float(np.median(others)) if others else np.nan
        assert result[index] == pytest.approx(expected, nan_ok=True), (index, members)
