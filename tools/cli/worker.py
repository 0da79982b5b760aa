"""`rms worker`: a background runner on its own (webhook events, sync jobs), until SIGTERM/SIGINT.

Run any number of these beside API processes started with RUN_BACKGROUND_JOBS=false; leases in
MongoDB keep them from running the same unit of work twice.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from app.config import Settings
from app.db import connect
from app.jobs.registry import build_workers
from app.jobs.runner import BackgroundRunner, make_worker_id
from app.observability.logging import configure_logging
from app.shopify.http import make_shopify_http

logger = logging.getLogger("app.worker")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = await connect(settings, create_indexes=False)
    shopify_http = make_shopify_http()
    worker_id = make_worker_id()
    runner = BackgroundRunner(build_workers(settings, shopify_http, worker_id))
    try:
        runner.start()
        logger.info(
            "worker %s started with %d workers: %s",
            worker_id,
            len(runner.workers),
            ", ".join(w.name for w in runner.workers) or "none",
        )
        print(
            f"worker {worker_id} running ({len(runner.workers)} workers); stop with SIGTERM",
            flush=True,
        )
        await stop.wait()
        logger.info("worker %s stopping", worker_id)
    finally:
        await runner.stop()
        await shopify_http.aclose()
        await database.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    print(f"worker {worker_id} stopped", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return asyncio.run(run_worker(settings))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker", help="run the background workers alone until SIGTERM/SIGINT"
    )
    parser.set_defaults(func=run)
