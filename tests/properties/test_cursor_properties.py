"""Pagination cursors: arbitrary strings only ever raise InvalidCursor; real cursors round-trip."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import orjson
from bson import ObjectId
from hypothesis import example, given
from hypothesis import strategies as st

from app.services.pagination import InvalidCursor, PageRequest, decode_cursor, encode_cursor
from tests.properties import FAST

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What MongoDB stores: UTC instants at millisecond precision.
stored_times = st.integers(0, 7_258_118_400_000).map(lambda ms: EPOCH + timedelta(milliseconds=ms))
ids = st.one_of(
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.text(min_size=1, max_size=40),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=10,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decodes_or_invalid(cursor: str) -> None:
    with contextlib.suppress(InvalidCursor):
        decode_cursor(cursor)


@FAST
@given(cursor=st.text(max_size=200))
def test_arbitrary_text_is_a_position_or_invalid_cursor(cursor: str) -> None:
    _decodes_or_invalid(cursor)


@FAST
@given(raw=st.binary(max_size=200))
def test_arbitrary_base64_is_a_position_or_invalid_cursor(raw: bytes) -> None:
    _decodes_or_invalid(_b64(raw))


@FAST
@given(
    value=st.one_of(
        json_values,
        st.fixed_dictionaries({"t": json_values}, optional={"o": json_values, "s": json_values}),
        st.fixed_dictionaries(
            {"t": st.integers(-(2**70), 2**70)},
            optional={"o": st.text(max_size=30), "s": json_values},
        ),
    )
)
def test_arbitrary_json_in_a_cursor_is_a_position_or_invalid_cursor(value: object) -> None:
    try:
        raw = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return
    _decodes_or_invalid(_b64(raw))
    for backward in (False, True):
        with contextlib.suppress(InvalidCursor):
            PageRequest(size=1, cursor=_b64(raw), backward=backward).filter()


@FAST
@given(created_at=stored_times, doc_id=ids)
def test_cursor_round_trips_the_id(created_at: datetime, doc_id: object) -> None:
    position = decode_cursor(encode_cursor(created_at, doc_id))
    assert position.id == doc_id if isinstance(doc_id, ObjectId) else position.id == str(doc_id)
    assert abs(position.created_at - created_at) <= timedelta(milliseconds=1)


@FAST
@given(created_at=stored_times, doc_id=ids)
def test_a_cursor_is_url_safe_text(created_at: datetime, doc_id: object) -> None:
    cursor = encode_cursor(created_at, doc_id)
    assert cursor.isascii()
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@example(created_at=datetime(2004, 6, 5, 9, 26, 44, 370000, tzinfo=UTC), doc_id=ObjectId())
@FAST
@given(created_at=stored_times, doc_id=ids)
def test_cursor_round_trips_the_exact_stored_instant(created_at: datetime, doc_id: object) -> None:
    assert decode_cursor(encode_cursor(created_at, doc_id)).created_at == created_at
