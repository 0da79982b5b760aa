"""Shared fixtures: a real database (SecantusDB, or TEST_MONGODB_URI), the real app over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.db import Database, connect
from app.main import create_app
from app.services.portal.shops import forget_all
from tools.devdb import EmbeddedDatabase

TEST_API_KEY = "test-api-key"
TEST_API_SECRET = "test-api-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """One database server for the whole run; each test gets its own database in it."""
    external = os.environ.get("TEST_MONGODB_URI")
    if external:
        yield external
        return
    with EmbeddedDatabase() as server:
        yield server.uri


def make_settings(mongo_uri: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "mongodb_uri": mongo_uri,
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "shopify_api_key": TEST_API_KEY,
        "shopify_api_secret": TEST_API_SECRET,
        "app_url": "http://testserver",
        "run_background_jobs": False,
        "log_json": True,
        # Generous server selection: the suite shares one database server on a small, busy
        # machine, where a new client's first handshake can wait a few seconds (a 2 s limit
        # failed one test in 790 on CI). Tests that kill the database set their own short one.
        "mongodb_timeout_ms": 10_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(mongo_uri: str) -> Settings:
    return make_settings(mongo_uri)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """Beanie initialised on a fresh database, dropped afterwards."""
    database = await connect(settings)
    forget_all()  # shops cached by a test before, in its own database
    try:
        yield database
    finally:
        await database.client.drop_database(settings.mongodb_db)
        await database.close()


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# The Shopify simulator (one per session) and its helpers, for every test module.
from tests.simulator_fixtures import *  # noqa: E402, F403
