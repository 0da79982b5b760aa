"""Fixtures around the in-process Shopify simulator.

A test module takes the fixtures with `from tests.simulator_fixtures import *  # noqa: F403`
(only the fixtures are exported; import helpers such as SIM_API_KEY by name); the root conftest
may do the same. The simulator starts once per session; each test makes
its own shop (unique domain), so tests never share Shopify state.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.shopify.oauth_client import refresh_access_token
from tools.shopify_sim import (
    InstalledShop,
    SimulatorConfig,
    SimulatorControl,
    SimulatorServer,
    ThreadedASGIServer,
)

__all__ = [  # fixtures first: `from tests.simulator_fixtures import *` makes pytest see them
    "sim_control",
    "sim_http",
    "sim_shop",
    "simulator",
    "webhook_receiver",
]

SIM_API_KEY = "test-api-key"
SIM_API_SECRET = "test-api-secret-0123456789"
SIM_WEBHOOK_TIME_SCALE = 0.005  # webhook retry n waits 2**n * 5 ms


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    """One simulator for the whole session (background thread, free port)."""
    config = SimulatorConfig(
        api_key=SIM_API_KEY,
        api_secret=SIM_API_SECRET,
        seed=7,
        default_orders=25,
        webhook_time_scale=SIM_WEBHOOK_TIME_SCALE,
    )
    server = SimulatorServer(config).start()
    yield server
    server.stop()


@pytest.fixture
async def sim_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as http:
        yield http


@pytest.fixture
def sim_control(simulator: SimulatorServer, sim_http: httpx.AsyncClient) -> SimulatorControl:
    return SimulatorControl(sim_http, simulator.base_url, SIM_API_KEY, SIM_API_SECRET)


@pytest.fixture
async def sim_shop(sim_control: SimulatorControl) -> InstalledShop:
    """A fresh shop with 25 seeded orders and the app installed through OAuth."""
    shop = await sim_control.create_shop(orders=25)
    assert isinstance(shop, InstalledShop)
    return shop


class InMemoryTokenSource:
    """Single-flight token source for tests: refreshes through the simulator's token endpoint."""

    def __init__(self, http: httpx.AsyncClient, shop: InstalledShop) -> None:
        self._http = http
        self._shop = shop
        self.token = shop.access_token
        self.refresh_token = shop.refresh_token
        self.refresh_calls = 0
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        return self.token

    async def refresh(self, rejected_token: str) -> str:
        async with self._lock:
            if self.token != rejected_token:  # someone else already refreshed
                return self.token
            grant = await refresh_access_token(
                self._http,
                self._shop.admin_base_template,
                self._shop.domain,
                SIM_API_KEY,
                SIM_API_SECRET,
                self.refresh_token,
            )
            self.refresh_calls += 1
            self.token = grant.access_token
            assert grant.refresh_token is not None
            self.refresh_token = grant.refresh_token
            return self.token


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookReceiver:
    """A tiny HTTP endpoint recording every POST; answers follow a per-path script of statuses."""

    server: ThreadedASGIServer
    received: list[ReceivedWebhook] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"

    def new_path(self, *statuses: int) -> str:
        path = f"/hooks/{uuid.uuid4().hex[:10]}"
        with self.lock:
            self.scripts[path] = list(statuses)
        return path

    def at(self, path: str) -> list[ReceivedWebhook]:
        with self.lock:
            return [item for item in self.received if item.path == path]

    async def wait_for(self, path: str, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.at(path)) < count:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        return self.at(path)


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    holder: dict[str, WebhookReceiver] = {}

    async def receive(request: Request) -> Response:
        receiver = holder["receiver"]
        body = await request.body()
        path = request.url.path
        with receiver.lock:
            script = receiver.scripts.get(path, [])
            status = script.pop(0) if len(script) > 1 else (script[0] if script else 200)
            receiver.received.append(ReceivedWebhook(path, dict(request.headers), body, status))
        return Response(status_code=status)

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    server = ThreadedASGIServer(app).start()
    holder["receiver"] = WebhookReceiver(server)
    yield holder["receiver"]
    server.stop()


def graphql_errors(payload: dict[str, Any]) -> list[str]:
    return [str(error.get("extensions", {}).get("code")) for error in payload.get("errors") or []]
