"""load_frame and the other record readers, on records written by real imports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from spm_desktop.services import record_service

DEALS_CSV = """deal_id,owner,amount,close_date,stage,region,quantity
D-001,0042,"1,234.50",2024-03-05,Won,East,2
D-002,0043,99.9999,2024-03-31,Lost,,1.5
D-003,0042,,,Open,West,
"""


@pytest.fixture
def deals_loaded(write_file, import_file):
    return import_file("deals", write_file("deals.csv", DEALS_CSV))


def test_frame_columns_follow_spec_then_attributes(workspace, deals_loaded):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    expected = ["deal_id", "line_id", "owner", "amount", "currency", "close_date", "created_date", "stage",
                "product", "customer", "type", "reference_deal_id", "quantity", "cost", "region",
                "_row_id", "_batch_id", "_source_row"]
    assert list(frame.columns) == expected


def test_frame_kinds_match_contract(workspace, deals_loaded):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame["owner"].tolist() == ["0042", "0043", "0042"]
    assert str(frame["amount"].dtype) == "Int64"
    assert frame["amount"].tolist()[:2] == [12_345_000, 999_999]
    assert pd.isna(frame["amount"].iloc[2])
    assert str(frame["close_date"].dtype) == "datetime64[ns]"
    assert frame["close_date"].iloc[0] == pd.Timestamp("2024-03-05")
    assert frame["quantity"].tolist()[:2] == [Decimal("2"), Decimal("1.5")]
    assert frame["quantity"].iloc[2] is None
    assert frame["type"].tolist() == ["sale", "sale", "sale"]


def test_frame_lineage_columns(workspace, deals_loaded):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame["_source_row"].tolist() == [2, 3, 4]
    assert set(frame["_batch_id"].tolist()) == {deals_loaded.batch_id}
    assert frame["_row_id"].is_unique


def test_attributes_become_columns(workspace, deals_loaded):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals")
    assert frame["region"].tolist() == ["East", None, "West"]


def test_date_range_is_inclusive(workspace, deals_loaded):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "deals", date_from="2024-03-05", date_to=dt.date(2024, 3, 31))
    assert frame["deal_id"].tolist() == ["D-001", "D-002"]


def test_date_range_on_datetime_field_covers_whole_day(workspace, write_file, import_file):
    csv = "deal_id,changed_at,stage\nD-1,2024-03-31 23:59:59,Won\nD-1,2024-04-01 00:00:00,Closed\n"
    import_file("stage_history", write_file("history.csv", csv))
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "stage_history", date_to="2024-03-31")
    assert frame["stage"].tolist() == ["Won"]
    assert frame["changed_at"].iloc[0] == pd.Timestamp("2024-03-31 23:59:59")
    assert frame["_generated"].tolist() == [False]


def test_date_range_needs_date_field_for_quotas(workspace):
    with workspace.read() as connection, pytest.raises(ValueError, match="date_field"):
        record_service.load_frame(connection, "quotas", date_from="2024-01-01")


def test_unknown_record_set_names_choices(workspace):
    with workspace.read() as connection, pytest.raises(ValueError, match="expected one of"):
        record_service.load_frame(connection, "orders")


def test_empty_set_has_typed_columns(workspace):
    with workspace.read() as connection:
        frame = record_service.load_frame(connection, "opportunities")
    assert len(frame) == 0
    assert str(frame["amount"].dtype) == "Int64"
    assert str(frame["close_date"].dtype) == "datetime64[ns]"


def test_participants_listed_by_id(workspace, write_file, import_file):
    csv = "participant_id,name,hire_date,role\nP2,Bea,2020-02-01,AE\nP1,Al,,SDR\n"
    import_file("participants", write_file("people.csv", csv))
    with workspace.read() as connection:
        people = record_service.list_participants(connection)
    assert [person.participant_id for person in people] == ["P1", "P2"]
    assert people[1].hire_date == dt.date(2020, 2, 1)


def test_counts_and_batches(workspace, deals_loaded):
    with workspace.read() as connection:
        counts = record_service.record_counts(connection)
        batches = record_service.list_batches(connection, "deals")
    assert counts["deals"] == 3
    assert [batch.added for batch in batches] == [3]


def test_shared_values_give_same_frame(workspace, deals_loaded):
    with workspace.read() as connection:
        plain = record_service.load_frame(connection, "deals")
        shared = record_service.load_frame(connection, "deals", share_values=True)
    pd.testing.assert_frame_equal(plain, shared)
    assert shared["owner"].iloc[0] is shared["owner"].iloc[2]
