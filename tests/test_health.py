"""`GET /api/health`: 200 with the database up, 503 quickly with it gone."""

from __future__ import annotations

import time

import httpx

from app.main import create_app
from tests.conftest import make_settings
from tools.devdb import EmbeddedDatabase


async def test_health_reports_ok_with_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"


async def test_health_answers_503_quickly_when_database_stops() -> None:
    server = EmbeddedDatabase().start()
    try:
        app = create_app(make_settings(server.uri, mongodb_timeout_ms=1000), configure_logs=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.get("/api/health")).status_code == 200
                server.kill()
                started = time.monotonic()
                response = await http.get("/api/health")
                elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["database"] == "error"
        assert elapsed < 5, "health must not hang when the database is gone"
    finally:
        server.stop()
