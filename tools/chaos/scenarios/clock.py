"""Workers whose wall clocks jumped: one two hours ahead, one two hours behind, beside a worker
with a true clock, all on one queue of sync jobs and webhook events."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from app.models.sync_job import SyncStatus
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import (
    CountingProcessor,
    add_event_figures,
    add_sync_figures,
    beanie,
    ingest_orders,
    job,
    keep_working,
    queue_full_sync,
    stop_workers,
    sync_worker,
)

JUMP_SECONDS = 2 * 3600.0
LEASE_SECONDS = 2.0


def _start_skewed_worker(stack: Stack, name: str, offset: float) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.chaos.skewed_worker",
            f"--offset={offset}",
            f"--name={name}",
            f"--lease-seconds={LEASE_SECONDS}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(stack.settings.model_dump_json().encode())
    process.stdin.close()
    return process


async def _ready(process: subprocess.Popen[bytes]) -> None:
    """Wait for the worker's `ready` line (connected to the database)."""
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
    if line.strip() != b"ready":
        raise RuntimeError(f"skewed worker did not start: {line!r}")


# A worker asked to stop finishes the step it is in (a sync page, one event) within this.
STOP_SECONDS = 60.0


async def _stop_skewed_worker(process: subprocess.Popen[bytes], figures: Figures) -> list[str]:
    """SIGTERM, then the events it completed (its last output line). A worker that does not
    stop in time is killed and counted as a failure (one did: its heartbeat outlived its
    cancel and held an event's lease for good)."""
    process.terminate()
    try:
        # Its output (a line per run) fits the pipe: waiting before reading cannot deadlock.
        await asyncio.wait_for(asyncio.to_thread(process.wait), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await asyncio.to_thread(process.wait)
        figures.failures.append(f"a skewed worker did not stop within {STOP_SECONDS:.0f}s")
    assert process.stdout is not None
    lines = (await asyncio.to_thread(process.stdout.read)).decode().strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        return []
    return list(orjson.loads(lines[-1])["completed_events"])


async def workers_with_jumped_clocks(
    root: Path, shops: int = 3, orders: int = 40, events: int = 30
) -> Figures:
    """Leases are measured on the database's clock, not each worker's: a worker whose clock runs
    two hours ahead takes no live lease and fails no running job as stale, one whose clock runs
    behind writes no lease that others already see as lapsed, and when the worker that is
    ahead dies holding a job, the job is taken over after its lease, not two hours later."""
    figures = Figures("workers with clocks 2 h ahead/behind")
    started = time.monotonic()
    async with Stack(root) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=events)
            tenant_id = await stack.install_in_process(domain)
            tenants = []
            for _ in range(shops):
                shop = await stack.new_shop(orders=orders)
                await stack.control.set_faults(shop, latency_ms=200)  # jobs overlap in time
                tenants.append((await stack.install_in_process(shop), shop))

            # 1. Three workers share the queue: true clock (here), ahead and behind.
            skewed = [
                _start_skewed_worker(stack, "ahead", JUMP_SECONDS),
                _start_skewed_worker(stack, "behind", -JUMP_SECONDS),
            ]
            for process in skewed:
                await _ready(process)
            counts: Counter[str] = Counter()
            stop = asyncio.Event()
            processor = CountingProcessor(stack.settings, "true-clock", LEASE_SECONDS, counts)
            runners = [
                asyncio.create_task(
                    keep_working(sync_worker(stack, "true", lease_seconds=LEASE_SECONDS), stop)
                ),
                asyncio.create_task(_process_until(processor, stop)),
            ]
            job_ids = [await queue_full_sync(tenant) for tenant, _ in tenants]
            sent = await ingest_orders(stack, domain, stack.simulator_orders(domain))

            async def all_done() -> bool:
                jobs_left = await stack.raw["sync_jobs"].count_documents(
                    {"status": {"$in": [SyncStatus.QUEUED.value, SyncStatus.RUNNING.value]}}
                )
                events_left = await stack.raw["webhook_events"].count_documents(
                    {"processed": False}
                )
                return bool(jobs_left == 0 and events_left == 0)

            with contextlib.suppress(TimeoutError):
                await eventually(all_done, 90, 0.2)
            await stop_workers(runners, stop, figures)
            for process in skewed:
                for event_id in await _stop_skewed_worker(process, figures):
                    counts[event_id] += 1
            await add_event_figures(stack, figures, tenant_id, sent, counts)
            for (tenant, shop), job_id in zip(tenants, job_ids, strict=True):
                await add_sync_figures(stack, figures, tenant, shop, [job_id])
                claimed = int((await job(stack, job_id)).get("attempts") or 0)
                figures.duplicated += max(0, claimed - 1)  # a live lease taken over

            # 2. The worker that is ahead dies holding a job: taken over after its lease.
            figures.details["takeover_s"] = await _takeover_after_ahead_worker_dies(stack, figures)
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


async def _process_until(processor: CountingProcessor, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            if not await processor.inner.process_one():
                await asyncio.sleep(0.05)


async def _takeover_after_ahead_worker_dies(stack: Stack, figures: Figures) -> str:
    shop = await stack.new_shop(orders=60, prefix="dies")
    await stack.control.set_faults(shop, latency_ms=300)
    tenant = await stack.install_in_process(shop)
    job_id = await queue_full_sync(tenant)
    ahead = _start_skewed_worker(stack, "ahead-dies", JUMP_SECONDS)
    await _ready(ahead)

    async def held_by_ahead() -> bool:
        owner = str((await job(stack, job_id)).get("lease_owner") or "")
        return owner.startswith("skewed-ahead-dies")

    try:
        await eventually(held_by_ahead, 30, 0.05)
    finally:
        ahead.kill()
        await asyncio.to_thread(ahead.wait)
    died = time.monotonic()
    stop = asyncio.Event()
    runner = asyncio.create_task(
        keep_working(sync_worker(stack, "survivor", lease_seconds=LEASE_SECONDS), stop)
    )

    async def finished() -> Any:
        return (await job(stack, job_id)).get("status") == SyncStatus.COMPLETED.value

    bound = 10 * LEASE_SECONDS + 30
    try:
        await eventually(finished, bound, 0.1)
    except TimeoutError:
        figures.failures.append(f"the dead worker's job was not taken over within {bound:.0f}s")
    took = time.monotonic() - died
    await stop_workers([runner], stop, figures)
    await add_sync_figures(stack, figures, tenant, shop, [job_id])
    return f"{took:.1f}"
