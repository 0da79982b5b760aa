"""Health for people and orchestrators.

- `GET /api/health`: 200 when the database answers a ping within 2 s, else 503.
- `GET /api/health/live`: the process answers (no I/O); for a liveness probe, which restarts
  the process when it fails, so it must not fail because the database does.
- `GET /api/health/ready`: the database answers, its schema is at this code's migration version,
  and the background runners (when this process runs them) are running; for a readiness probe,
  which takes the process out of the load balancer until it passes.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pymongo
from fastapi import APIRouter, Request
from pymongo.errors import PyMongoError
from starlette.responses import Response

from app.http.responses import json_response
from app.migrations import Migration, MigrationRunner, discover

HEALTH_TIMEOUT_SECONDS = 2.0

router = APIRouter(tags=["operations"])


@router.api_route("/api/health", methods=["GET", "HEAD"])
async def health(request: Request) -> Response:
    resources: Any = request.app.state.resources
    ok = await _database_answers(resources.database)
    return json_response(
        {
            "status": "ok" if ok else "error",
            "database": "ok" if ok else "error",
            "version": request.app.version,
            "environment": resources.settings.environment,
            "background_jobs": resources.runner is not None,
        },
        status_code=200 if ok else 503,
    )


@router.api_route("/api/health/live", methods=["GET", "HEAD"])
async def live() -> Response:
    return json_response({"status": "alive"})


@router.api_route("/api/health/ready", methods=["GET", "HEAD"])
async def ready(request: Request) -> Response:
    resources: Any = request.app.state.resources
    checks: dict[str, Any] = {"database": "ok", "migrations": "ok", "background_jobs": "off"}
    if not await _database_answers(resources.database):
        checks["database"] = checks["migrations"] = "error"
    else:
        pending = await _pending_migrations(resources.database)
        if pending is None:
            checks["migrations"] = "error"
        elif pending:
            checks["migrations"] = f"pending {', '.join(map(str, pending))} (run rms db migrate)"
    if resources.runner is not None:
        stopped = resources.runner.workers_not_running()
        checks["background_jobs"] = f"not running: {', '.join(stopped)}" if stopped else "ok"
    is_ready = all(value in ("ok", "off") for value in checks.values())
    return json_response(
        {"status": "ready" if is_ready else "not ready", **checks},
        status_code=200 if is_ready else 503,
    )


@functools.cache
def code_migrations() -> tuple[Migration, ...]:
    """This code's migrations, found once (a probe every few seconds need not scan modules)."""
    return tuple(discover())


async def _pending_migrations(database: Any) -> list[int] | None:
    """The migrations the database lacks; None when it did not say within the time limit."""
    try:
        with pymongo.timeout(HEALTH_TIMEOUT_SECONDS):
            return await MigrationRunner(database.db, code_migrations()).pending_versions()
    except PyMongoError:
        return None


async def _database_answers(database: Any) -> bool:
    """A ping within HEALTH_TIMEOUT_SECONDS. The answer never waits longer: `asyncio.wait_for`
    would wait for the cancelled ping to unwind, which a connection being opened to a stalled
    server can hold up for the whole stall; the ping is left to end on its own deadline."""

    async def ping() -> None:
        with pymongo.timeout(HEALTH_TIMEOUT_SECONDS):
            await database.ping()

    task = asyncio.ensure_future(ping())
    done, _ = await asyncio.wait({task}, timeout=HEALTH_TIMEOUT_SECONDS)
    if task not in done:
        task.add_done_callback(_discard_outcome)
        task.cancel()
        return False
    return task.exception() is None


def _discard_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure of an abandoned ping is not news
