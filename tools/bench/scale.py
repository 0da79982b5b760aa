"""Scale-out: one API process against two on the same database, and what the state the
processes share through MongoDB (the portal's failed-lookup limit, persisted queries) adds
to a portal lookup.

Throughput is compared at the same total number of senders, split over the processes. On a
2-core machine the database server, the load generators and the API processes share the two
cores, so the second process can only add what the first one left idle; the report says so
rather than promising 2x.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

from app.db import connect
from app.services.returns.portal_attempts import recent_failures
from tools.bench.load import LoadResult, LoadSpec, PreparedRequest, run_load
from tools.bench.process import ServerProcess
from tools.bench.report import FAIL, PASS, REPORTED, Report, Row

if TYPE_CHECKING:
    from tools.bench.harness import Stack

LOOKUP_SENDERS = 8
LIMITER_SAMPLES = 300
SHARED_STATE_BUDGET_MS = 1.0


def _split(
    stack: Stack,
    servers: list[ServerProcess],
    requests: list[PreparedRequest],
    senders: int,
    name: str,
) -> list[LoadResult]:
    """The same load, its senders split evenly over `servers`, run at the same time."""
    config = stack.config
    per_server = max(1, senders // len(servers))
    specs = [
        LoadSpec(
            url=server.url,
            requests=requests,
            concurrency=per_server,
            max_requests=config.webhook_requests // len(servers),
            max_seconds=config.webhook_seconds,
            warmup=per_server * 2,
        )
        for server in servers
    ]
    with ThreadPoolExecutor(len(specs)) as pool:
        futures = [
            pool.submit(run_load, spec, stack.workdir, f"{name}-{index}")
            for index, spec in enumerate(specs)
        ]
        return [future.result() for future in futures]


def _throughput_row(
    report: Report, operation: str, senders: int, one: list[LoadResult], two: list[LoadResult]
) -> None:
    one_rps = sum(r.rps for r in one)
    two_rps = sum(r.rps for r in two)
    errors = sum(r.errors for r in [*one, *two])
    ratio = two_rps / one_rps if one_rps else 0.0
    report.add(
        Row(
            f"{operation}, 2 API processes vs 1",
            f"requests/s ({senders} senders in all)",
            "req/s",
            two_rps,
            one_rps,
            "reported (2 cores shared with the database)",
            REPORTED if not errors else FAIL,
            note=f"{ratio:.2f}x one process; errors {errors}",
            details={
                "one": [r.as_dict() for r in one],
                "two": [r.as_dict() for r in two],
            },
        )
    )


def measure_scale(
    stack: Stack,
    ours: ServerProcess,
    env: dict[str, str],
    webhook_requests: list[PreparedRequest],
    lookup_requests: list[PreparedRequest],
    report: Report,
) -> None:
    """Webhook ingest and lookupOrder throughput through one process, then through two."""
    with ServerProcess("ours", env, stack.workdir) as second:
        senders = stack.config.webhook_concurrency
        one = _split(stack, [ours], webhook_requests, senders, "scale-webhook-1")
        two = _split(stack, [ours, second], webhook_requests, senders, "scale-webhook-2")
        _throughput_row(report, "webhook ingest", senders, one, two)
        one = _split(stack, [ours], lookup_requests, LOOKUP_SENDERS, "scale-lookup-1")
        two = _split(stack, [ours, second], lookup_requests, LOOKUP_SENDERS, "scale-lookup-2")
        _throughput_row(report, "lookupOrder", LOOKUP_SENDERS, one, two)


def persisted_lookup_requests(
    query: str, variables: list[dict[str, Any]], headers: dict[str, str]
) -> tuple[PreparedRequest, list[PreparedRequest]]:
    """The registration of `query` (text and hash), then the same lookups by hash alone."""
    extensions = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    all_headers = {"Content-Type": "application/json", **headers}
    register = PreparedRequest.with_bytes(
        "POST",
        "/graphql",
        all_headers,
        orjson.dumps({"query": query, "variables": variables[0], "extensions": extensions}),
    )
    by_hash = [
        PreparedRequest.with_bytes(
            "POST",
            "/graphql",
            all_headers,
            orjson.dumps({"variables": v, "extensions": extensions}),
        )
        for v in variables
    ]
    return register, by_hash


def limiter_cost_ms(stack: Stack, tenant_id: str) -> float:
    """p50 of what the failed-lookup limit adds to a successful lookup: reading the client's
    failures (sent with the lookup's other reads), measured in this process against the bench
    database. A success writes nothing."""

    async def measure() -> float:
        database = await connect(stack.settings(), create_indexes=False)
        try:
            samples = []
            for index in range(LIMITER_SAMPLES):
                client = f"198.51.100.{index % 250}-{uuid.uuid4().hex[:6]}"
                started = time.perf_counter()
                await recent_failures(tenant_id, client)
                samples.append((time.perf_counter() - started) * 1000)
            return statistics.median(samples)
        finally:
            await database.close()

    return asyncio.run(measure())


def shared_state_row(
    report: Report, limiter_ms: float, by_text: LoadResult, by_hash: LoadResult
) -> None:
    apq_ms = by_hash.p50_ms - by_text.p50_ms  # negative: the hash is cheaper than the text
    added = limiter_ms + max(apq_ms, 0.0)
    report.add(
        Row(
            "lookupOrder: shared limiter + persisted query",
            "p50 added (1 sender)",
            "ms",
            added,
            None,
            f"<= {SHARED_STATE_BUDGET_MS:g} ms",
            PASS if added <= SHARED_STATE_BUDGET_MS and not by_hash.errors else FAIL,
            note=f"limiter {limiter_ms:.2f} ms; by hash vs by text {apq_ms:+.2f} ms",
            details={"by_text": by_text.as_dict(), "by_hash": by_hash.as_dict()},
        )
    )
