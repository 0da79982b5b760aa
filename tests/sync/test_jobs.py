"""Sync job bookkeeping: one active job per tenant, cancel, leases, stale locks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import ShopifyIntegration, SyncJob
from app.models.sync_job import SyncStatus, SyncType
from app.services.sync import jobs
from app.services.sync.jobs import SyncErrorCode
from tests.factories import index_keys, lapse_lease
from tests.sync.helpers import rms


async def _connected(tenant_id: str, scopes: list[str] | None = None) -> None:
    await ShopifyIntegration(
        tenant_id=tenant_id,
        shop_domain=f"{tenant_id.removeprefix('tenant-')}.myshopify.com",
        access_token="ciphertext",
        scopes=scopes if scopes is not None else ["read_orders", "read_all_orders"],
    ).insert()


def _codes(result: jobs.QueueResult | jobs.CancelResult) -> list[str]:
    return [issue.code.value for issue in result.issues]


async def test_a_second_request_returns_the_active_job(db: Database) -> None:
    await _connected("tenant-one")
    first = await jobs.queue_sync("tenant-one", SyncType.FULL, 30)
    second = await jobs.queue_sync("tenant-one", SyncType.INCREMENTAL)

    assert first.created and first.job is not None and first.issues == []
    assert not second.created and second.job is not None
    assert second.job.id == first.job.id
    assert _codes(second) == ["SYNC_ALREADY_RUNNING"]
    assert await SyncJob.find({"tenant_id": "tenant-one"}).count() == 1


async def test_concurrent_requests_create_one_job(db: Database) -> None:
    await _connected("tenant-many")
    results = await asyncio.gather(
        *(jobs.queue_sync("tenant-many", SyncType.FULL, 30) for _ in range(10))
    )
    assert sum(result.created for result in results) == 1
    assert len({str(result.job.id) for result in results if result.job}) == 1
    assert await SyncJob.find({"tenant_id": "tenant-many"}).count() == 1


@pytest.mark.parametrize("days", [0, 3651, -5])
async def test_days_out_of_range_is_a_user_error(db: Database, days: int) -> None:
    await _connected("tenant-days")
    result = await jobs.queue_sync("tenant-days", SyncType.FULL, days)
    assert result.job is None and _codes(result) == ["INVALID_DAYS"]


async def test_more_than_60_days_without_read_all_orders_warns(db: Database) -> None:
    await _connected("tenant-scope", scopes=["read_orders"])
    result = await jobs.queue_sync("tenant-scope", SyncType.FULL, 90)
    assert result.created and result.job is not None
    assert _codes(result) == [SyncErrorCode.READ_ALL_ORDERS_SCOPE_MISSING.value]
    assert "read_all_orders" in result.job.warnings[0]


async def test_no_job_without_a_connected_shop(db: Database) -> None:
    result = await jobs.queue_sync("tenant-nobody", SyncType.FULL)
    assert result.job is None and _codes(result) == ["SHOPIFY_NOT_CONNECTED"]


async def test_the_runbooks_manual_timeout_does_not_block_new_jobs(db: Database) -> None:
    await _connected("tenant-rms34")
    queued = await jobs.queue_sync("tenant-rms34", SyncType.FULL)
    assert queued.job is not None
    claimed = await jobs.claim_next_job("dead-worker")
    assert claimed is not None and claimed.id == queued.job.id
    await SyncJob.get_pymongo_collection().update_one(
        {"_id": claimed.id}, {"$set": {"started_at": utcnow() - timedelta(hours=2)}}
    )
    # Exactly the runbook's "Clear sync locks" update (it leaves `active: true` behind).
    collection = SyncJob.get_pymongo_collection()
    await collection.update_many(
        {"status": "running", "started_at": {"$lt": utcnow() - timedelta(milliseconds=3600000)}},
        {"$set": {"status": "failed", "error": "Timeout"}},
    )
    left = await collection.find_one({"_id": claimed.id})
    assert left is not None and left["status"] == "failed" and left["active"] is True

    again = await jobs.queue_sync("tenant-rms34", SyncType.FULL)

    assert again.created and again.job is not None and again.job.id != claimed.id
    old = await SyncJob.get(claimed.id)
    assert old is not None and old.status == SyncStatus.FAILED and old.active is None


async def test_cancel_of_a_queued_job_is_immediate(db: Database) -> None:
    await _connected("tenant-cancel")
    queued = await jobs.queue_sync("tenant-cancel", SyncType.FULL)
    assert queued.job is not None

    result = await jobs.cancel_sync_job("tenant-cancel", str(queued.job.id))

    assert result.issues == [] and result.job is not None
    assert result.job.status == SyncStatus.CANCELED and result.job.active is None
    assert await jobs.claim_next_job("w") is None
    assert (await jobs.queue_sync("tenant-cancel", SyncType.FULL)).created
    finished = await jobs.cancel_sync_job("tenant-cancel", str(queued.job.id))
    assert _codes(finished) == ["SYNC_JOB_FINISHED"]
    assert _codes(await jobs.cancel_sync_job("tenant-cancel", "nope")) == ["SYNC_JOB_NOT_FOUND"]
    other = await jobs.cancel_sync_job("tenant-other", str(queued.job.id))
    assert _codes(other) == ["SYNC_JOB_NOT_FOUND"]


async def test_cancel_of_a_running_job_is_requested(db: Database) -> None:
    await _connected("tenant-run")
    queued = await jobs.queue_sync("tenant-run", SyncType.FULL)
    assert queued.job is not None
    await jobs.claim_next_job("w1")
    result = await jobs.cancel_sync_job("tenant-run", str(queued.job.id))
    assert result.job is not None and result.job.status == SyncStatus.RUNNING
    assert result.job.cancel_requested


async def test_claims_are_exclusive_and_expired_leases_are_taken_over(db: Database) -> None:
    await _connected("tenant-lease")
    queued = await jobs.queue_sync("tenant-lease", SyncType.FULL)
    assert queued.job is not None
    # Long leases, ended on purpose: with 0.2 s one slow round trip let a second claimer in.
    claims = await asyncio.gather(*(jobs.claim_next_job(f"w{i}", 30) for i in range(5)))
    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1 and winners[0].attempts == 1
    owner = winners[0].lease_owner
    assert owner is not None
    assert await jobs.extend_lease(queued.job.tenant_id, queued.job.id, owner, 30)
    assert await jobs.claim_next_job("other", 30) is None

    await lapse_lease(SyncJob, queued.job.id, "lease_expires_at", held_for=30)
    taken = await jobs.claim_next_job("other", 5)

    assert taken is not None and taken.id == queued.job.id and taken.attempts == 2
    assert not await jobs.extend_lease(
        queued.job.tenant_id, queued.job.id, owner
    )  # the old worker lost it
    assert not await jobs.finish_job(
        queued.job.tenant_id, queued.job.id, owner, SyncStatus.COMPLETED
    )


async def _stale_and_fresh_jobs() -> tuple[SyncJob, SyncJob]:
    await _connected("tenant-stale")
    await _connected("tenant-fresh")
    stale_q = await jobs.queue_sync("tenant-stale", SyncType.FULL)
    fresh_q = await jobs.queue_sync("tenant-fresh", SyncType.FULL)
    assert stale_q.job is not None and fresh_q.job is not None
    await jobs.claim_next_job("w-stale")
    await jobs.claim_next_job("w-fresh")
    await SyncJob.get_pymongo_collection().update_one(
        {"_id": stale_q.job.id},
        {"$set": {"heartbeat_at": utcnow() - timedelta(hours=2)}},
    )
    # A long job that still heartbeats is not stale however old it is.
    await SyncJob.get_pymongo_collection().update_one(
        {"_id": fresh_q.job.id},
        {"$set": {"started_at": utcnow() - timedelta(hours=5)}},
    )
    return stale_q.job, fresh_q.job


async def _assert_only_stale_failed(stale: SyncJob, fresh: SyncJob) -> None:
    failed = await SyncJob.get(stale.id)
    running = await SyncJob.get(fresh.id)
    assert failed is not None and running is not None
    assert failed.status == SyncStatus.FAILED and failed.error == "Timeout"
    assert failed.active is None and failed.finished_at is not None
    assert running.status == SyncStatus.RUNNING and running.active is True
    assert (await jobs.queue_sync("tenant-stale", SyncType.FULL)).created


async def test_the_sweeper_fails_stale_jobs_with_timeout(db: Database) -> None:
    from app.jobs.sync import StaleSyncLockSweeper

    stale, fresh = await _stale_and_fresh_jobs()
    assert await StaleSyncLockSweeper(stale_after_seconds=3600).run_once() is False
    await _assert_only_stale_failed(stale, fresh)


async def test_cli_clear_stale_locks_fails_stale_jobs_with_timeout(
    db: Database, settings: Settings
) -> None:
    stale, fresh = await _stale_and_fresh_jobs()
    output = await rms(settings, "sync", "clear-stale-locks", "--older-than", "3600")
    assert "failed 1 stale sync job(s)" in output
    await _assert_only_stale_failed(stale, fresh)
    assert "Timeout" in await rms(settings, "sync", "list", "--tenant", "tenant-stale")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"status": "queued"}, id="queued-claim"),
        pytest.param({"status": "running", "lease_expires_at": {"$lt": "NOW"}}, id="takeover"),
        pytest.param({"tenant_id": "tenant-x", "status": "completed"}, id="last-completed"),
    ],
)
async def test_the_claim_and_last_completed_filters_use_an_index(
    db: Database, query: dict[str, Any]
) -> None:
    """SecantusDB scans the collection unless one index holds every field of the filter with at
    most one range field, after the equality ones: an idle worker polls these all the time."""
    query = {k: ({"$lt": utcnow()} if v == {"$lt": "NOW"} else v) for k, v in query.items()}
    plan = await SyncJob.get_pymongo_collection().database.command(
        {"explain": {"find": "sync_jobs", "filter": query}, "verbosity": "queryPlanner"}
    )
    assert index_keys(plan), plan


async def test_takeover_skips_exhausted_jobs_which_the_sweeper_fails(db: Database) -> None:
    expired = utcnow() - timedelta(seconds=5)
    ids = []
    for tenant_id, attempts, lease in (
        ("tenant-exhausted", jobs.MAX_ATTEMPTS, expired - timedelta(seconds=1)),
        ("tenant-retry", 1, expired),
    ):
        await _connected(tenant_id)
        queued = await jobs.queue_sync(tenant_id, SyncType.FULL)
        assert queued.job is not None
        ids.append(queued.job.id)
        await SyncJob.get_pymongo_collection().update_one(
            {"_id": queued.job.id},
            {
                "$set": {
                    "status": SyncStatus.RUNNING.value,
                    "lease_owner": "dead",
                    "lease_expires_at": lease,
                    "attempts": attempts,
                }
            },
        )

    claims = await asyncio.gather(*(jobs.claim_next_job(f"w{i}", 5) for i in range(5)))

    winners = [claim for claim in claims if claim is not None]
    assert [(job.id, job.attempts) for job in winners] == [(ids[1], 2)]
    assert await jobs.fail_exhausted_jobs() == 1
    exhausted = await SyncJob.get(ids[0])
    assert exhausted is not None and exhausted.status == SyncStatus.FAILED
    assert exhausted.attempts == jobs.MAX_ATTEMPTS and exhausted.active is None
