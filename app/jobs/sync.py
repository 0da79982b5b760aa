"""Background processing of `sync_jobs`: lease-based workers and the stale-lock sweeper.

A `SyncWorker` claims one job at a time (`find_one_and_update`: the oldest queued job, else a
running job whose lease expired, which resumes from its stored cursor), runs it and keeps its
lease alive with a heartbeat task. When the heartbeat finds the job gone from this worker
(taken over, failed by the sweeper or by an operator), it stops the run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx

from app.config import Settings
from app.jobs.runner import Worker
from app.models import SyncJob
from app.periodic import Periodic
from app.services.integration.session import admin_client_for
from app.services.sync import jobs
from app.services.sync.engine import ClientFactory, SyncOptions, run_sync_job
from app.shopify.client import ShopifyAdminClient
from app.shopify.http import ShopifyHttp

logger = logging.getLogger(__name__)

# How often the stale-lock sweeper looks for running jobs without a heartbeat.
SWEEP_INTERVAL_SECONDS = 60.0


def sync_options(settings: Settings) -> SyncOptions:
    return SyncOptions(
        bulk_threshold=settings.sync_bulk_threshold,
        lease_seconds=settings.sync_lease_seconds,
        incremental_overlap=timedelta(seconds=settings.sync_incremental_overlap_seconds),
        redaction_secret=settings.shopify_api_secret,
    )


class SyncWorker:
    """Claims and runs sync jobs, one at a time."""

    name = "sync-jobs"

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        worker_id: str,
        *,
        options: SyncOptions | None = None,
        client_factory: ClientFactory | None = None,
        idle_seconds: float = 1.0,
    ) -> None:
        self.settings = settings
        self.http = http
        self.worker_id = worker_id
        self.options = options or sync_options(settings)
        self.idle_seconds = idle_seconds
        self._client_factory = client_factory or self._admin_client

    async def _admin_client(self, tenant_id: str) -> ShopifyAdminClient:
        return await admin_client_for(tenant_id, self.settings, self.http)

    async def run_once(self) -> bool:
        job = await jobs.claim_next_job(self.worker_id, self.options.lease_seconds)
        if job is None:
            return False
        await self.run_claimed(job)
        return True

    async def run_claimed(self, job: SyncJob) -> None:
        """Run a job this worker holds, with the heartbeat extending its lease."""
        run = asyncio.create_task(
            run_sync_job(
                job,
                worker_id=self.worker_id,
                client_factory=self._client_factory,
                http=self.http,
                options=self.options,
            ),
            name=f"sync-job:{job.id}",
        )
        lost = asyncio.Event()
        beat = self._heartbeat(job, run, lost)
        beat.start()
        try:
            await run
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lost.is_set() and (current is None or not current.cancelling()):
                logger.warning("sync job %s lost its lease; %s stopped it", job.id, self.worker_id)
                return
            raise
        finally:
            await beat.stop()

    def _heartbeat(self, job: SyncJob, run: asyncio.Task[object], lost: asyncio.Event) -> Periodic:
        """Extends the job's lease every third of it (a failed beat is retried at the next: the
        lease has slack); when the lease is lost, stops the run."""

        async def beat() -> bool:
            if run.done():
                return False
            held = await jobs.extend_lease(
                job.tenant_id, job.id, self.worker_id, self.options.lease_seconds
            )
            if not held and not run.done():
                lost.set()
                run.cancel()
                return False
            return True

        interval = max(0.05, self.options.lease_seconds / 3)
        return Periodic(beat, interval, name=f"sync-heartbeat:{job.id}")


class StaleSyncLockSweeper:
    """Fails running jobs without a heartbeat for too long (error "Timeout"), jobs whose
    workers keep dying, and releases `active` flags left on finished jobs."""

    name = "sync-stale-locks"

    def __init__(
        self,
        stale_after_seconds: float = jobs.STALE_AFTER_SECONDS,
        idle_seconds: float = SWEEP_INTERVAL_SECONDS,
        max_attempts: int = jobs.MAX_ATTEMPTS,
    ) -> None:
        self.stale_after_seconds = stale_after_seconds
        self.idle_seconds = idle_seconds
        self.max_attempts = max_attempts

    async def run_once(self) -> bool:
        await jobs.clear_stale_locks(self.stale_after_seconds)
        await jobs.fail_exhausted_jobs(self.max_attempts)
        return False


def workers(settings: Settings, shopify_http: ShopifyHttp, worker_id: str) -> list[Worker]:
    count = settings.sync_workers
    stale_after = settings.sync_stale_after_seconds
    sync_workers: list[Worker] = [
        SyncWorker(settings, shopify_http, f"{worker_id}:sync{index}") for index in range(count)
    ]
    return [*sync_workers, StaleSyncLockSweeper(stale_after)]
