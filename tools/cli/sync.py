"""`rms sync list|clear-stale-locks|run-once`: operate sync jobs (docs/RUNBOOK.md, "Data Sync Issues").

- `rms sync list [--tenant T] [--limit N]`: newest jobs with status, progress and error.
- `rms sync clear-stale-locks [--older-than 3600]`: the runbook's "clear sync locks" step:
  running jobs without a heartbeat for that many seconds become `failed` with error "Timeout"
  (and release the tenant's active flag, so a new sync can be queued).
- `rms sync run-once [--tenant T]`: process the queued jobs in the foreground, then exit.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.config import Settings
from app.db import Database
from app.jobs.runner import make_worker_id
from app.jobs.sync import SyncWorker
from app.models import SyncJob
from app.services.sync import jobs
from app.shopify.http import make_shopify_http
from tools.cli.runtime import run_with_database


def _line(job: SyncJob) -> str:
    p = job.progress
    total = f"/{p.total_estimate}" if p.total_estimate is not None else ""
    started = job.started_at.isoformat(timespec="seconds") if job.started_at else "-"
    text = (
        f"{job.id}  {job.tenant_id}  {job.type.value:<11} {job.status.value:<9} "
        f"mode={job.mode or '-'} orders={p.orders}{total} pages={p.pages} "
        f"upserted={p.upserted} unchanged={p.unchanged} failed={p.failed} started={started}"
    )
    if job.error:
        text += f"  error={job.error!r}"
    return text


def list_jobs(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> int:
        found = await jobs.list_recent_jobs(args.tenant, limit=args.limit)
        if not found:
            print("no sync jobs")
        for job in found:
            print(_line(job))
        return 0

    return run_with_database(body)


def clear_stale_locks(args: argparse.Namespace) -> int:
    async def body(_db: Database) -> int:
        count = await jobs.clear_stale_locks(float(args.older_than))
        print(f"failed {count} stale sync job(s) with error {jobs.TIMEOUT_ERROR!r}")
        return 0

    return run_with_database(body)


def run_once(args: argparse.Namespace) -> int:
    settings = Settings()

    async def body(_db: Database) -> int:
        http = make_shopify_http()
        worker = SyncWorker(settings, http, f"cli:{make_worker_id()}")
        processed = 0
        try:
            while await worker.run_once():
                processed += 1
        finally:
            await http.aclose()
        print(f"processed {processed} sync job(s)")
        for job in await jobs.list_recent_jobs(args.tenant, limit=max(processed, 1)):
            print(_line(job))
        return 0

    return run_with_database(body, settings)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync", help="list sync jobs, clear stale locks, run queued jobs"
    )
    commands = parser.add_subparsers(title="sync commands", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="newest sync jobs")
    listing.add_argument("--tenant", default=None, help="only this tenant (e.g. tenant-rms34)")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=list_jobs)

    stale = commands.add_parser(
        "clear-stale-locks", help="fail running jobs without a heartbeat (error 'Timeout')"
    )
    stale.add_argument(
        "--older-than",
        type=float,
        default=jobs.STALE_AFTER_SECONDS,
        help="seconds without a heartbeat (default 3600)",
    )
    stale.set_defaults(func=clear_stale_locks)

    once = commands.add_parser("run-once", help="process queued sync jobs in the foreground")
    once.add_argument("--tenant", default=None, help="tenant whose jobs to print afterwards")
    once.set_defaults(func=run_once)
