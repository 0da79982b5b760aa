"""Sync jobs: queue, cancel, list, get; leases for the runner; stale-lock recovery.

One tenant has at most one active (queued or running) job: the unique partial index on
`active` decides between concurrent requests, and a finished job drops its flag (`active: None`).
The runbook's manual fix (`updateMany({status: 'running', ...}, {$set: {status: 'failed'}})`)
leaves `active: true` behind; queuing notices a terminal job holding the flag and releases it.

Every lease-holding write filters on `lease_owner` and `status: running`, so a worker whose job
was taken over, failed by the sweeper or by an operator stops instead of overwriting it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models import ShopifyIntegration, SyncJob
from app.models.integration import IntegrationStatus
from app.models.sync_job import TERMINAL_SYNC_STATUSES, SyncStatus, SyncType
from app.models.write_concerns import RELAXED_WRITES
from app.observability import metrics
from app.services.pagination import Page, PageRequest
from app.services.user_errors import UserFacingError

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 30
MIN_DAYS = 1
MAX_DAYS = 3650
# Shopify's `read_orders` scope reaches back 60 days; older orders need `read_all_orders`.
READ_ORDERS_WINDOW_DAYS = 60
DEFAULT_LEASE_SECONDS = 60.0
# A running job without a heartbeat for this long is failed with "Timeout" (the runbook's hour).
STALE_AFTER_SECONDS = 3600.0
# A job taken over this many times (its workers keep dying) is failed instead of retried again.
MAX_ATTEMPTS = 5
TIMEOUT_ERROR = "Timeout"
# Expired jobs read per takeover attempt (the sweeper fails exhausted ones, so few are skipped).
TAKEOVER_CANDIDATES = 20
_TERMINAL = [status.value for status in TERMINAL_SYNC_STATUSES]


class SyncErrorCode(StrEnum):
    SYNC_ALREADY_RUNNING = "SYNC_ALREADY_RUNNING"
    INVALID_DAYS = "INVALID_DAYS"
    SHOPIFY_NOT_CONNECTED = "SHOPIFY_NOT_CONNECTED"
    READ_ALL_ORDERS_SCOPE_MISSING = "READ_ALL_ORDERS_SCOPE_MISSING"
    WEBHOOKS_NOT_REPAIRED = "WEBHOOKS_NOT_REPAIRED"
    SYNC_JOB_NOT_FOUND = "SYNC_JOB_NOT_FOUND"
    SYNC_JOB_FINISHED = "SYNC_JOB_FINISHED"
    TOO_LONG = "TOO_LONG"  # refused at the edge (see app/services/user_errors.py)
    INVALID = "INVALID"


class SyncIssue(UserFacingError[SyncErrorCode]):
    __slots__ = ()


@dataclass(slots=True)
class QueueResult:
    job: SyncJob | None
    created: bool = False
    issues: list[SyncIssue] = field(default_factory=list)


@dataclass(slots=True)
class CancelResult:
    job: SyncJob | None
    issues: list[SyncIssue] = field(default_factory=list)


def _collection() -> Any:
    return SyncJob.get_pymongo_collection()


def _job(doc: dict[str, Any]) -> SyncJob:
    job: SyncJob = SyncJob.model_validate(doc)
    return job


def parse_job_id(job_id: str) -> ObjectId | None:
    try:
        return ObjectId(str(job_id).strip())
    except (InvalidId, TypeError):
        return None


# Queue ---------------------------------------------------------------------------------------
async def queue_sync(
    tenant_id: str,
    sync_type: SyncType,
    days: int | None = None,
    *,
    requested_by: str | None = None,
) -> QueueResult:
    """Queue a sync job, or return the tenant's active one with SYNC_ALREADY_RUNNING.

    `days` (default 30, 1..3650) bounds a FULL sync by order creation; an INCREMENTAL sync
    pulls what changed since the last completed job and uses `days` only when there is none.
    """
    resolved_days = DEFAULT_DAYS if days is None else days
    if not MIN_DAYS <= resolved_days <= MAX_DAYS:
        return QueueResult(
            None,
            issues=[
                SyncIssue(
                    ["input", "days"],
                    SyncErrorCode.INVALID_DAYS,
                    f"days must be between {MIN_DAYS} and {MAX_DAYS}",
                )
            ],
        )
    integration = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id}, {"status": 1, "scopes": 1}
    )
    if integration is None or integration.get("status") != IntegrationStatus.CONNECTED.value:
        status = "missing" if integration is None else integration.get("status")
        return QueueResult(
            None,
            issues=[
                SyncIssue(
                    None,
                    SyncErrorCode.SHOPIFY_NOT_CONNECTED,
                    f"Shopify is not connected (integration {status}): install the app first",
                )
            ],
        )
    issues: list[SyncIssue] = []
    warnings: list[str] = []
    scopes = set(integration.get("scopes") or [])
    if resolved_days > READ_ORDERS_WINDOW_DAYS and "read_all_orders" not in scopes:
        message = (
            f"Shopify's read_orders scope covers only the last {READ_ORDERS_WINDOW_DAYS} days; "
            "orders older than that need the read_all_orders scope, which this install lacks"
        )
        issues.append(
            SyncIssue(["input", "days"], SyncErrorCode.READ_ALL_ORDERS_SCOPE_MISSING, message)
        )
        warnings.append(message)
    for _ in range(5):
        job = SyncJob(
            tenant_id=tenant_id,
            type=sync_type,
            days=resolved_days,
            requested_by=requested_by,
            warnings=warnings,
        )
        try:
            await job.insert()
            return QueueResult(job, created=True, issues=issues)
        except DuplicateKeyError:
            active = await _collection().find_one({"tenant_id": tenant_id, "active": True})
            if active is None:
                continue  # it finished in between: try again
            if active.get("status") in _TERMINAL:
                await release_finished_active_flags(tenant_id)
                continue
            issues.insert(
                0,
                SyncIssue(
                    None,
                    SyncErrorCode.SYNC_ALREADY_RUNNING,
                    f"A sync job is already {active.get('status')} for this shop",
                ),
            )
            return QueueResult(_job(active), created=False, issues=issues)
    raise RuntimeError(f"could not queue a sync job for {tenant_id}")


async def release_finished_active_flags(tenant_id: str | None = None) -> int:
    """Clear `active` on finished jobs that still hold it (left by a manual runbook update)."""
    query: dict[str, Any] = {"active": True, "status": {"$in": _TERMINAL}}
    if tenant_id is not None:
        query = {"tenant_id": tenant_id, **query}
    result = await _collection().update_many(query, {"$set": {"active": None}})
    return int(result.modified_count)


# Cancel, read ----------------------------------------------------------------------------------
async def cancel_sync_job(
    tenant_id: str, job_id: str, reason: str = "Canceled by the merchant"
) -> CancelResult:
    """A queued job is canceled at once; a running one stops at its next page."""
    oid = parse_job_id(job_id)
    if oid is None:
        return CancelResult(None, [_not_found()])
    now = utcnow()
    doc = await _collection().find_one_and_update(
        {"_id": oid, "tenant_id": tenant_id, "status": SyncStatus.QUEUED.value},
        {
            "$set": {
                "status": SyncStatus.CANCELED.value,
                "active": None,
                "cancel_requested": True,
                "finished_at": now,
                "error": reason,
                "updated_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if doc is not None:
        metrics.sync_jobs_finished(str(doc.get("type")), SyncStatus.CANCELED.value)
    else:
        doc = await _collection().find_one_and_update(
            {"_id": oid, "tenant_id": tenant_id, "status": SyncStatus.RUNNING.value},
            {"$set": {"cancel_requested": True, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
    if doc is not None:
        return CancelResult(_job(doc))
    doc = await _collection().find_one({"_id": oid, "tenant_id": tenant_id})
    if doc is None:
        return CancelResult(None, [_not_found()])
    return CancelResult(
        _job(doc),
        [
            SyncIssue(
                ["id"],
                SyncErrorCode.SYNC_JOB_FINISHED,
                f"The sync job is already {doc.get('status')}",
            )
        ],
    )


def _not_found() -> SyncIssue:
    return SyncIssue(["id"], SyncErrorCode.SYNC_JOB_NOT_FOUND, "No such sync job")


async def get_sync_job(tenant_id: str, job_id: str) -> SyncJob | None:
    oid = parse_job_id(job_id)
    if oid is None:
        return None
    doc = await _collection().find_one({"_id": oid, "tenant_id": tenant_id})
    return None if doc is None else _job(doc)


async def list_sync_jobs(
    tenant_id: str, page: PageRequest, status: SyncStatus | None = None
) -> Page[SyncJob]:
    """A page of the tenant's jobs, newest first."""
    query: dict[str, Any] = {"tenant_id": tenant_id}
    if status is not None:
        query["status"] = status.value
    query.update(page.filter())
    jobs = await SyncJob.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(jobs, lambda job: (job.created_at, job.id))


async def list_recent_jobs(tenant_id: str | None = None, limit: int = 50) -> list[SyncJob]:
    """Newest jobs of one tenant or of all (for operators)."""
    query: dict[str, Any] = {} if tenant_id is None else {"tenant_id": tenant_id}
    cursor = _collection().find(query).sort([("created_at", DESCENDING)]).limit(limit)
    return [_job(doc) async for doc in cursor]


async def last_completed_sync(tenant_id: str) -> SyncJob | None:
    cursor = (
        _collection()
        .find({"tenant_id": tenant_id, "status": SyncStatus.COMPLETED.value})
        .sort([("started_at", DESCENDING)])
        .limit(1)
    )
    async for doc in cursor:
        return _job(doc)
    return None


def estimated_seconds_left(job: SyncJob, now: datetime | None = None) -> float | None:
    """ETA of a running job: what is left of the estimate at the rate so far."""
    total = job.progress.total_estimate
    done = job.progress.orders
    if job.status != SyncStatus.RUNNING or not total or not done or job.started_at is None:
        return None
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    if elapsed <= 0:
        return None
    rate = done / elapsed
    return max(0.0, (total - done) / rate)


# Leases (the runner) -----------------------------------------------------------------------------
async def claim_next_job(
    worker_id: str, lease_seconds: float = DEFAULT_LEASE_SECONDS, max_attempts: int = MAX_ATTEMPTS
) -> SyncJob | None:
    """Atomically claim the oldest queued job, else a running job whose lease expired (it
    resumes from its cursor). Jobs claimed `max_attempts` times are left to `fail_exhausted_jobs`."""
    now = utcnow()
    lease = {
        "status": SyncStatus.RUNNING.value,
        "lease_owner": worker_id,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "heartbeat_at": now,
        "updated_at": now,
    }
    doc = await _collection().find_one_and_update(
        {"status": SyncStatus.QUEUED.value},
        {"$set": {**lease, "started_at": now}, "$inc": {"attempts": 1}},
        sort=[("created_at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        doc = await _take_over_expired(lease, now, max_attempts)
        if doc is not None:
            logger.info(
                "sync job %s taken over by %s (attempt %s)",
                doc["_id"],
                worker_id,
                doc.get("attempts"),
            )
    return None if doc is None else _job(doc)


async def _expired_leases(now: datetime, limit: int = 0) -> list[dict[str, Any]]:
    """Running jobs whose lease expired, oldest first. The filter has ONE range field, so the
    `status_lease` index serves it (SecantusDB plans a compound index with at most one range
    field; adding `attempts: {$lt}` made every idle poll a collection scan)."""
    cursor = (
        _collection()
        .find(
            {"status": SyncStatus.RUNNING.value, "lease_expires_at": {"$lt": now}},
            {"lease_owner": 1, "lease_expires_at": 1, "attempts": 1},
        )
        .sort([("lease_expires_at", ASCENDING)])
        .limit(limit)
    )
    return [doc async for doc in cursor]


async def _take_over_expired(
    lease: dict[str, Any], now: datetime, max_attempts: int
) -> dict[str, Any] | None:
    """Claim the oldest expired job claimed fewer than `max_attempts` times. The claim only
    succeeds over the state just read (owner, lease, attempts unchanged): a heartbeat or another
    worker in between makes it miss, and the next candidate is tried."""
    for candidate in await _expired_leases(now, TAKEOVER_CANDIDATES):
        if (candidate.get("attempts") or 0) >= max_attempts:
            continue  # left to `fail_exhausted_jobs`
        doc: dict[str, Any] | None = await _collection().find_one_and_update(
            {
                "_id": candidate["_id"],
                "status": SyncStatus.RUNNING.value,
                "lease_owner": candidate.get("lease_owner"),
                "lease_expires_at": candidate["lease_expires_at"],
                "attempts": candidate.get("attempts"),
            },
            {"$set": lease, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return doc
    return None


def lease_filter(tenant_id: str, job_id: Any, worker_id: str) -> dict[str, Any]:
    """A job this worker holds. With tenant_id: on a sharded cluster it goes to one shard."""
    return {
        "_id": job_id,
        "tenant_id": tenant_id,
        "lease_owner": worker_id,
        "status": SyncStatus.RUNNING.value,
    }


async def extend_lease(
    tenant_id: str, job_id: Any, worker_id: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> bool:
    """The heartbeat: `False` when this worker no longer holds the job."""
    now = utcnow()
    # Relaxed: a heartbeat lost in a crash only shortens the lease (see RELAXED_WRITES).
    heartbeats = _collection().with_options(write_concern=RELAXED_WRITES)
    result = await heartbeats.update_one(
        lease_filter(tenant_id, job_id, worker_id),
        {"$set": {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=lease_seconds)}},
    )
    return bool(result.matched_count)


async def update_job(
    tenant_id: str, job_id: Any, worker_id: str, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """`$set` on a job this worker holds; the updated document or None (lease lost)."""
    doc: dict[str, Any] | None = await _collection().find_one_and_update(
        lease_filter(tenant_id, job_id, worker_id),
        {"$set": {**fields, "updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
    )
    return doc


async def record_progress(
    tenant_id: str,
    job_id: Any,
    worker_id: str,
    *,
    cursor: str | None,
    increments: dict[str, int],
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> dict[str, Any] | None:
    """One page done: cursor, counters and lease in ONE update, so a page is never counted
    twice however the worker dies. Returns `{cancel_requested}` or None when the lease is lost."""
    now = utcnow()
    doc: dict[str, Any] | None = await _collection().find_one_and_update(
        lease_filter(tenant_id, job_id, worker_id),
        {
            "$set": {
                "cursor": cursor,
                "heartbeat_at": now,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "updated_at": now,
            },
            "$inc": {f"progress.{name}": value for name, value in increments.items() if value},
        },
        projection={"cancel_requested": 1},
        return_document=ReturnDocument.AFTER,
    )
    return doc


async def finish_job(
    tenant_id: str,
    job_id: Any,
    worker_id: str,
    status: SyncStatus,
    error: str | None = None,
    *,
    warning: str | None = None,
) -> bool:
    """Terminal state; releases the tenant's active flag and appends `warning` (if any) to the
    job's warnings. `False` if no longer ours."""
    now = utcnow()
    update: dict[str, Any] = {
        "$set": {
            "status": status.value,
            "error": error,
            "finished_at": now,
            "active": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
    }
    if warning is not None:
        update["$push"] = {"warnings": warning}
    result = await _collection().update_one(lease_filter(tenant_id, job_id, worker_id), update)
    return bool(result.matched_count)


# Stale locks ---------------------------------------------------------------------------------
async def clear_stale_locks(
    older_than_seconds: float = STALE_AFTER_SECONDS, *, now: datetime | None = None
) -> int:
    """Fail running jobs without a heartbeat for `older_than_seconds` (error "Timeout").

    The runbook's manual fix, done safely: a job that heartbeats is never touched however long it
    runs, and the failed job releases the tenant's active flag.
    """
    moment = now or utcnow()
    cutoff = moment - timedelta(seconds=older_than_seconds)
    result = await _collection().update_many(
        {
            "status": SyncStatus.RUNNING.value,
            "$or": [
                {"heartbeat_at": {"$lt": cutoff}},
                {"heartbeat_at": None, "started_at": {"$lt": cutoff}},
                {"heartbeat_at": None, "started_at": None, "created_at": {"$lt": cutoff}},
            ],
        },
        {
            "$set": {
                "status": SyncStatus.FAILED.value,
                "error": TIMEOUT_ERROR,
                "finished_at": moment,
                "active": None,
                "lease_owner": None,
                "lease_expires_at": None,
                "updated_at": moment,
            }
        },
    )
    count = int(result.modified_count)
    if count:
        logger.warning("failed %s stale sync job(s) with error %r", count, TIMEOUT_ERROR)
        metrics.sync_jobs_finished(metrics.SWEPT, SyncStatus.FAILED.value, count)
    await release_finished_active_flags()
    return count


async def fail_exhausted_jobs(max_attempts: int = MAX_ATTEMPTS) -> int:
    """Fail running jobs whose lease expired after `max_attempts` claims (a crash loop)."""
    now = utcnow()
    exhausted = [
        doc["_id"]
        for doc in await _expired_leases(now)
        if (doc.get("attempts") or 0) >= max_attempts
    ]
    if not exhausted:
        return 0
    result = await _collection().update_many(
        {
            "_id": {"$in": exhausted},
            "status": SyncStatus.RUNNING.value,
            "lease_expires_at": {"$lt": now},
            "attempts": {"$gte": max_attempts},
        },
        {
            "$set": {
                "status": SyncStatus.FAILED.value,
                "error": f"Gave up after {max_attempts} attempts: the workers running it stopped",
                "finished_at": now,
                "active": None,
                "lease_owner": None,
                "lease_expires_at": None,
                "updated_at": now,
            }
        },
    )
    if result.modified_count:
        metrics.sync_jobs_finished(metrics.SWEPT, SyncStatus.FAILED.value, result.modified_count)
    return int(result.modified_count)
