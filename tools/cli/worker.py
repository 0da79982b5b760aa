"""`rms worker`: a background runner on its own (webhook events, sync jobs), until SIGTERM/SIGINT.

Run any number of these beside API processes started with RUN_BACKGROUND_JOBS=false; leases in
MongoDB keep them from running the same unit of work twice. `--metrics-port` serves this
process's counters (webhook processing, sync jobs, Shopify calls) for Prometheus at
`/metrics` on that port, without a key: bind it to the private network only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

import prometheus_client

from app.config import Settings
from app.db import connect
from app.graphql.returns.snapshot import make_return_renderer
from app.jobs.registry import build_workers
from app.jobs.runner import BackgroundRunner, make_worker_id
from app.observability import metrics, tracing
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
    runner = BackgroundRunner(
        build_workers(settings, shopify_http, worker_id, make_return_renderer(settings))
    )
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
    tracing.configure_tracing()  # background work continues its ingest's trace
    if args.metrics_port is not None:
        prometheus_client.start_http_server(
            args.metrics_port, addr=args.metrics_address, registry=metrics.REGISTRY
        )
    return asyncio.run(run_worker(settings))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker", help="run the background workers alone until SIGTERM/SIGINT"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve this process's metrics for Prometheus on this port (no key: private network)",
    )
    parser.add_argument(
        "--metrics-address", default="0.0.0.0", help="address for --metrics-port (default all)"
    )
    parser.set_defaults(func=run)
