"""`GET /api/health`: 200 with the database up, 503 quickly with it gone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.migrations import MigrationRunner
from tests.conftest import make_settings
from tools.devdb import EmbeddedDatabase


async def test_health_reports_ok_with_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"


@asynccontextmanager
async def _app_on_its_own_database() -> AsyncIterator[tuple[EmbeddedDatabase, httpx.AsyncClient]]:
    """The app on a database server of its own, which the test may kill."""
    server = EmbeddedDatabase().start()
    try:
        app = create_app(make_settings(server.uri, mongodb_timeout_ms=1000), configure_logs=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                yield server, http
    finally:
        server.stop()


async def test_health_answers_503_quickly_when_database_stops() -> None:
    async with _app_on_its_own_database() as (server, http):
        assert (await http.get("/api/health")).status_code == 200
        server.kill()
        started = time.monotonic()
        response = await http.get("/api/health")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert elapsed < 5, "health must not hang when the database is gone"


async def test_live_answers_without_touching_the_database() -> None:
    async with _app_on_its_own_database() as (server, http):
        server.kill()
        response = await http.get("/api/health/live")
        assert response.status_code == 200 and response.json() == {"status": "alive"}
        not_ready = await http.get("/api/health/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["database"] == "error"


async def test_ready_waits_for_the_migrations_of_this_code(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await client.get("/api/health/ready")
    assert before.status_code == 503
    assert before.json()["migrations"].startswith("pending 1, 2, 3")
    await MigrationRunner(db.db).migrate()
    after = await client.get("/api/health/ready")
    assert after.status_code == 200, after.json()
    assert after.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": "ok",
        "background_jobs": "off",
    }


async def test_ready_needs_the_background_runners_running(settings: Settings, db: Database) -> None:
    await MigrationRunner(db.db).migrate()
    app = create_app(
        settings.model_copy(update={"run_background_jobs": True}), configure_logs=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            running = await http.get("/api/health/ready")
            assert running.status_code == 200 and running.json()["background_jobs"] == "ok"
            await app.state.resources.runner.stop()
            stopped = await http.get("/api/health/ready")
            assert stopped.status_code == 503
            assert stopped.json()["background_jobs"].startswith("not running: ")
