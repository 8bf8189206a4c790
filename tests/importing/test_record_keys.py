"""Stored record keys built column-wise match the key of each record built alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spm_desktop.domain.records import RECORD_SETS
from spm_desktop.importing.records import RecordBlock, record_key

DEALS = RECORD_SETS["deals"]

# Characters a key can contain in files: plain ASCII, quotes, backslashes, control (NUL too) and
# accented characters.
key_texts = st.one_of(st.text(alphabet="AZaz09-_ ./", max_size=8),
                      st.text(alphabet='A"\\\t\x00\x7fé€ ', max_size=4))


def _block(deal_ids: list[object], line_ids: list[object], types: list[object]) -> RecordBlock:
    count = len(deal_ids)
    values = {name: [None] * count for name in DEALS.field_names}
    values.update(deal_id=deal_ids, line_id=line_ids, type=types)
    return RecordBlock(DEALS, values, list(range(2, count + 2)), [None] * count)


def _one_by_one(block: RecordBlock) -> list[str]:
    return [record_key(DEALS, block.stored_tuple(index)) for index in range(len(block))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(key_texts, st.one_of(st.none(), key_texts), key_texts), min_size=1, max_size=12))
def test_block_keys_match_record_key(rows):
    block = _block(*(list(column) for column in zip(*rows, strict=True)))
    assert block.keys() == _one_by_one(block)


def test_plain_keys_are_json_lists():
    block = _block(["D-1", "D-2"], ["1", "2"], ["sale", "refund"])
    assert block.keys() == ['["D-1", "1", "sale"]', '["D-2", "2", "refund"]']


def test_keys_that_need_escapes_match():
    block = _block(['D"1', "Dé", "D\\3"], ["1", None, "3"], ["sale", "sale", "sale"])
    assert block.keys() == _one_by_one(block)
    assert block.keys()[1] == '["D\\u00e9", null, "sale"]'
