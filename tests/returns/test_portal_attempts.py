"""The portal's failure limit: places per (tenant, client), kept in the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.db import Database
from app.models.portal_attempts import PORTAL_ATTEMPTS_COLLECTION
from app.services.returns.errors import PortalRateLimited
from app.services.returns.portal_attempts import (
    PORTAL_FAILURE_LIMIT,
    PORTAL_FAILURE_WINDOW,
    RUNNING_HOLD,
    attempt_failed,
    attempt_succeeded,
    begin_attempt,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLIENT = "203.0.113.7"


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


class Waited(Exception):
    """Raised by a test's `wait`: the attempt would have waited for running ones."""


async def _wait_never(seconds: float) -> None:
    raise Waited()


async def _fail(tenant_id: str, client: str, moment: datetime) -> None:
    await attempt_failed(await begin_attempt(tenant_id, client, now=moment), now=moment)


async def _fail_up_to_the_limit(tenant_id: str, client: str) -> None:
    for second in range(PORTAL_FAILURE_LIMIT):
        await _fail(tenant_id, client, _at(second))


async def test_the_attempt_after_the_limit_is_refused_and_recorded_nowhere(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    before = await db.db[PORTAL_ATTEMPTS_COLLECTION].find_one({})
    with pytest.raises(PortalRateLimited):
        await begin_attempt("tenant-a", CLIENT, now=_at(PORTAL_FAILURE_LIMIT), wait=_wait_never)
    assert await db.db[PORTAL_ATTEMPTS_COLLECTION].find_one({}) == before


async def test_the_window_slides(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    window = PORTAL_FAILURE_WINDOW.total_seconds()
    with pytest.raises(PortalRateLimited):
        await begin_attempt("tenant-a", CLIENT, now=_at(window - 1))
    # At window + 0.5 s the first failure (at 0 s) has left the window: one attempt fits again.
    await _fail("tenant-a", CLIENT, _at(window + 0.5))
    with pytest.raises(PortalRateLimited):
        await begin_attempt("tenant-a", CLIENT, now=_at(window + 0.6))


async def test_each_tenant_and_client_has_its_own_places(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    await begin_attempt("tenant-a", "203.0.113.8", now=_at(20))
    await begin_attempt("tenant-b", CLIENT, now=_at(20))
    keys = await db.db[PORTAL_ATTEMPTS_COLLECTION].distinct("_id")
    assert sorted(keys) == ["tenant-a|203.0.113.7", "tenant-a|203.0.113.8", "tenant-b|203.0.113.7"]


async def test_attempts_that_succeed_never_count(db: Database) -> None:
    for second in range(3 * PORTAL_FAILURE_LIMIT):
        attempt = await begin_attempt("tenant-a", CLIENT, now=_at(second))
        await attempt_succeeded(attempt)
    await _fail_up_to_the_limit("tenant-a", CLIENT)  # the failures still all fit
    document = await db.db[PORTAL_ATTEMPTS_COLLECTION].find_one({})
    assert document is not None and len(document["attempts"]) == PORTAL_FAILURE_LIMIT
    assert all(entry["failed"] for entry in document["attempts"])
    assert document["tenant_id"] == "tenant-a"
    last_failure = _at(PORTAL_FAILURE_LIMIT - 1) + PORTAL_FAILURE_WINDOW
    assert document["expires_at"].replace(tzinfo=UTC) == last_failure


async def test_running_attempts_make_others_wait_not_fail(db: Database) -> None:
    running = [await begin_attempt("tenant-a", CLIENT) for _ in range(PORTAL_FAILURE_LIMIT)]
    waiting = asyncio.ensure_future(begin_attempt("tenant-a", CLIENT))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # every place is held by an attempt still running
    await attempt_succeeded(running[0])
    assert (await asyncio.wait_for(waiting, 10)).id not in {a.id for a in running}
    for attempt in running[1:]:
        await attempt_failed(attempt)
    with pytest.raises(Waited):  # nine failures and one running: it would wait
        await begin_attempt("tenant-a", CLIENT, wait=_wait_never)


async def test_a_full_window_of_failures_is_refused_without_waiting(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    with pytest.raises(PortalRateLimited):
        await begin_attempt("tenant-a", CLIENT, now=_at(60), wait=_wait_never)


async def test_an_attempt_cut_short_frees_its_place_after_the_running_hold(db: Database) -> None:
    # Ten attempts whose requests died (a database outage, a crashed process): no outcome.
    for second in range(PORTAL_FAILURE_LIMIT):
        await begin_attempt("tenant-a", CLIENT, now=_at(second))
    with pytest.raises(Waited):
        await begin_attempt("tenant-a", CLIENT, now=_at(PORTAL_FAILURE_LIMIT), wait=_wait_never)
    freed = _at(RUNNING_HOLD.total_seconds() + 0.5)  # the first one's hold is over
    await begin_attempt("tenant-a", CLIENT, now=freed, wait=_wait_never)
