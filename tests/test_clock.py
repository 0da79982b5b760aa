""" "Now" is the database server's clock carried by the monotonic clock: a jump of this
process's wall clock moves nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import app.clock
from app.clock import set_server_time, utcnow
from app.config import Settings
from app.db import connect


@pytest.fixture
def restored_clock() -> Iterator[None]:
    reading = app.clock._SERVER_TIME.reading
    try:
        yield
    finally:
        app.clock._SERVER_TIME.reading = reading


def test_now_follows_the_server_time_not_the_wall_clock(
    restored_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_time = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    set_server_time(server_time, time.monotonic())
    monkeypatch.setattr(app.clock, "wall_clock", lambda: datetime(1999, 1, 1, tzinfo=UTC))
    now = utcnow()
    assert server_time <= now < server_time + timedelta(seconds=5)
    assert now.microsecond % 1000 == 0  # what MongoDB stores


def test_before_any_reading_now_is_the_wall_clock(
    restored_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.clock._SERVER_TIME.reading = None
    wall = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    monkeypatch.setattr(app.clock, "wall_clock", lambda: wall)
    assert utcnow() == wall.replace(microsecond=123000)


async def test_connecting_reads_the_database_servers_clock(
    restored_clock: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.clock._SERVER_TIME.reading = None
    database = await connect(settings, create_indexes=False)
    try:
        assert app.clock._SERVER_TIME.reading is not None
        # The wall clock jumps two hours ahead: "now" does not.
        real = datetime.now(UTC)
        monkeypatch.setattr(app.clock, "wall_clock", lambda: real + timedelta(hours=2))
        assert abs(utcnow() - real) < timedelta(minutes=1)
    finally:
        await database.close()
