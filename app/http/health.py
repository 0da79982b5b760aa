"""`GET /api/health`: 200 when the database answers a ping within 2 s, else 503."""

from __future__ import annotations

import asyncio
from typing import Any

import pymongo
from fastapi import APIRouter, Request
from starlette.responses import Response

from app.http.responses import json_response

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
