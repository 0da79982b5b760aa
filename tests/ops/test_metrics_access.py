"""`/metrics` carries cross-tenant figures: the operator key guards it when one is set."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.db import Database
from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture
async def keyed(mongo_uri: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(mongo_uri, mongodb_db=db.db.name, operator_api_key="op-key-0123456789")
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def test_metrics_need_the_operator_key_when_one_is_set(keyed: httpx.AsyncClient) -> None:
    assert (await keyed.get("/metrics")).status_code == 401
    assert (await keyed.get("/metrics", headers={"X-Operator-Key": "wrong"})).status_code == 401
    ok = await keyed.get("/metrics", headers={"X-Operator-Key": "op-key-0123456789"})
    assert ok.status_code == 200
    bearer = await keyed.get("/metrics", headers={"Authorization": "Bearer op-key-0123456789"})
    assert bearer.status_code == 200


async def test_health_answers_head_for_load_balancers(client: httpx.AsyncClient) -> None:
    assert (await client.head("/api/health")).status_code == 200
