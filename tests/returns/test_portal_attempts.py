"""The portal's failure limit: failures per (tenant, client) in the database, a sliding
window, and one attempt at a time per client in a process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.db import Database
from app.models.portal_attempts import PORTAL_ATTEMPTS_COLLECTION
from app.services.returns.portal_attempts import (
    PORTAL_FAILURE_LIMIT,
    PORTAL_FAILURE_WINDOW,
    ClientLocks,
    is_limited,
    recent_failures,
    record_failure,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLIENT = "203.0.113.7"


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


async def _fail_up_to_the_limit(tenant_id: str, client: str) -> None:
    for second in range(PORTAL_FAILURE_LIMIT):
        await record_failure(tenant_id, client, now=_at(second))


async def test_the_limit_is_reached_after_as_many_failures(db: Database) -> None:
    for second in range(PORTAL_FAILURE_LIMIT - 1):
        await record_failure("tenant-a", CLIENT, now=_at(second))
    assert not is_limited(await recent_failures("tenant-a", CLIENT, now=_at(20)))
    await record_failure("tenant-a", CLIENT, now=_at(PORTAL_FAILURE_LIMIT))
    assert is_limited(await recent_failures("tenant-a", CLIENT, now=_at(20)))


async def test_the_window_slides(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    window = PORTAL_FAILURE_WINDOW.total_seconds()
    assert is_limited(await recent_failures("tenant-a", CLIENT, now=_at(window - 1)))
    # At window + 0.5 s the first failure (at 0 s) has left the window.
    assert not is_limited(await recent_failures("tenant-a", CLIENT, now=_at(window + 0.5)))


async def test_each_tenant_and_client_has_its_own_count(db: Database) -> None:
    await _fail_up_to_the_limit("tenant-a", CLIENT)
    assert await recent_failures("tenant-a", "203.0.113.8", now=_at(20)) == 0
    assert await recent_failures("tenant-b", CLIENT, now=_at(20)) == 0


async def test_only_the_latest_failures_are_kept_and_the_document_expires_after_them(
    db: Database,
) -> None:
    for second in range(3 * PORTAL_FAILURE_LIMIT):
        await record_failure("tenant-a", CLIENT, now=_at(second))
    document = await db.db[PORTAL_ATTEMPTS_COLLECTION].find_one({})
    assert document is not None and len(document["failures"]) == PORTAL_FAILURE_LIMIT
    assert document["tenant_id"] == "tenant-a" and document["client"] == CLIENT
    last = _at(3 * PORTAL_FAILURE_LIMIT - 1)
    assert document["expires_at"].replace(tzinfo=UTC) == last + PORTAL_FAILURE_WINDOW


async def test_a_process_runs_one_attempt_per_client_at_a_time() -> None:
    locks = ClientLocks()
    running: list[str] = []
    overlapped = False

    async def attempt(client: str) -> None:
        nonlocal overlapped
        async with locks.one_at_a_time("tenant-a", client):
            overlapped = overlapped or client in running
            running.append(client)
            await asyncio.sleep(0.01)
            running.remove(client)

    await asyncio.gather(*(attempt(CLIENT) for _ in range(5)), attempt("203.0.113.8"))
    assert not overlapped
    assert len(locks) == 0  # nothing kept once the attempts ended
