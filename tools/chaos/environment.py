"""A disposable stack for fault scenarios: an embedded database on disk (killable, restartable
on the same port with its data), the Shopify simulator, and optionally our app served by uvicorn
in a thread so the simulator delivers webhooks to it over real HTTP. With `via_proxy` the app
reaches the database through a `StallingProxy` (the test's own `raw` client does not)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from app.clock import utcnow
from app.config import Settings
from app.db import MongoListener
from app.main import create_app
from app.models.tenant import tenant_id_for_shop
from app.shopify.oauth_client import TokenGrant
from tools.chaos.proxy import StallingProxy
from tools.devdb import EmbeddedDatabase, free_port
from tools.shopify_sim import (
    InstalledShop,
    SimulatorConfig,
    SimulatorControl,
    SimulatorServer,
    ThreadedASGIServer,
)

API_KEY = "chaos-api-key"
API_SECRET = "chaos-api-secret-0123456789abcdef"
# The app's client sets no operation timeout (app/db.py). After a crash it was seen blocked
# forever (every sync worker waiting on the pool); the scenarios add `timeoutMS` to the URI, as
# an operator can in MONGODB_URI, so they test recovery rather than that hang (see README).
SOCKET_TIMEOUT_MS = 5000
SCOPES = ["read_orders", "read_all_orders", "read_customers", "read_returns", "write_returns"]


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float, interval: float = 0.05
) -> Any:
    """Poll `check()` until truthy (database errors count as not yet); raise TimeoutError."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        try:
            value = await check()
        except PyMongoError:
            value = None
        if value:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s (last value: {value!r})")


class Stack:
    """`async with Stack(root) as stack:` database + simulator (+ app when `serve_app`)."""

    def __init__(
        self,
        root: Path,
        *,
        serve_app: bool = False,
        webhook_time_scale: float = 0.02,
        socket_timeout_ms: int | None = SOCKET_TIMEOUT_MS,
        via_proxy: bool = False,
        uri_options: Mapping[str, str | int] | None = None,
        mongo_listeners: list[MongoListener] | None = None,
        **overrides: Any,
    ) -> None:
        self.root = root
        self.mongo_listeners = mongo_listeners
        self.socket_timeout_ms = socket_timeout_ms
        self.uri_options = dict(uri_options or {})
        self.serve_app = serve_app
        self.database = EmbeddedDatabase(
            storage_path=root / f"db-{uuid.uuid4().hex[:6]}", port=free_port()
        )
        self.simulator = SimulatorServer(
            SimulatorConfig(
                api_key=API_KEY,
                api_secret=API_SECRET,
                seed=11,
                default_orders=0,
                webhook_time_scale=webhook_time_scale,
            )
        )
        self.proxy = StallingProxy("127.0.0.1", self.database.port) if via_proxy else None
        self.app_port = free_port()
        self.overrides = overrides
        self.app_server: ThreadedASGIServer | None = None
        self.settings: Settings
        self.http: httpx.AsyncClient
        self.control: SimulatorControl
        self.raw_client: AsyncMongoClient[dict[str, Any]]

    @property
    def raw(self) -> Any:
        """The database through a raw client of this loop (never through Beanie)."""
        return self.raw_client.get_database(self.settings.mongodb_db)

    @property
    def mongodb_uri(self) -> str:
        """The app's URI (through the proxy when there is one), with an operation timeout
        (`timeoutMS`) unless disabled, and any `uri_options`."""
        uri = self.database.uri
        if self.proxy is not None:
            uri = f"mongodb://{self.proxy.host}:{self.proxy.port}/?directConnection=true"
        options: dict[str, str | int] = dict(self.uri_options)
        if self.socket_timeout_ms is not None:
            options["timeoutMS"] = self.socket_timeout_ms
        return uri + "".join(f"&{name}={value}" for name, value in options.items())

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.database.start)
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.start)
        await self.simulator.astart()
        values: dict[str, Any] = {
            "environment": "test",
            "mongodb_uri": self.mongodb_uri,
            "mongodb_db": "chaos",
            "mongodb_timeout_ms": 500,
            "app_url": self.app_url,
            "shopify_api_key": API_KEY,
            "shopify_api_secret": API_SECRET,
            "shopify_admin_base_url": self.simulator.admin_base_template,
            "shopify_scopes": SCOPES,
            "run_background_jobs": self.serve_app,
            "log_json": True,
            "log_level": "CRITICAL",
            **self.overrides,
        }
        self.settings = Settings(_env_file=None, **values)
        self.http = httpx.AsyncClient(trust_env=False, timeout=30.0)
        self.control = SimulatorControl(self.http, self.simulator.base_url, API_KEY, API_SECRET)
        self.raw_client = AsyncMongoClient(
            self.database.uri, tz_aware=True, serverSelectionTimeoutMS=1000
        )
        if self.serve_app:
            app = create_app(
                self.settings, mongo_listeners=self.mongo_listeners, configure_logs=False
            )
            self.app_server = ThreadedASGIServer(app, port=self.app_port)
            await self.app_server.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.app_server is not None:
            await self.app_server.astop()
        await self.http.aclose()
        await self.raw_client.close()
        await self.simulator.astop()
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop)
        await asyncio.to_thread(self.database.stop)

    # Faults ------------------------------------------------------------------------------------
    async def kill_database(self) -> None:
        """SIGKILL, as a crash would; the data stays on disk."""
        await asyncio.to_thread(self.database.kill)

    async def restart_database(self) -> None:
        """Start again on the same port with the same data."""
        await asyncio.to_thread(self.database.start)

    # Shops -------------------------------------------------------------------------------------
    async def new_shop(self, orders: int, prefix: str = "chaos") -> str:
        domain = f"{prefix}{uuid.uuid4().hex[:10]}.myshopify.com"
        await self.control.create_bare_shop(
            domain, orders=orders, bucket_size=1000, restore_rate=50_000
        )
        return domain

    async def install_through_the_app(self, domain: str) -> str:
        """The real OAuth install over HTTP: our app -> simulator authorize -> our callback."""
        started = await self.http.get(
            f"{self.app_url}/api/auth/shopify/install", params={"shop": domain}
        )
        if started.status_code != 302:
            raise RuntimeError(f"install refused: {started.status_code} {started.text}")
        approved = await self.http.get(started.headers["location"], follow_redirects=False)
        callback = approved.headers["location"]
        if urlsplit(callback).netloc != urlsplit(self.app_url).netloc:
            raise RuntimeError(f"unexpected callback {callback}")
        finished = await self.http.get(callback, follow_redirects=False)
        if finished.status_code != 302:
            raise RuntimeError(f"callback refused: {finished.status_code} {finished.text}")
        return tenant_id_for_shop(domain)

    async def install_in_process(self, domain: str) -> str:
        """Install without the app (Beanie must be initialised in this loop)."""
        from app.services.integration.integrations import connect_integration
        from app.services.tenants import ensure_tenant

        shop = await self.control.install(domain)
        assert isinstance(shop, InstalledShop)
        tenant = await ensure_tenant(domain)
        grant = TokenGrant(
            access_token=shop.access_token,
            scope=shop.scope,
            expires_at=utcnow() + timedelta(seconds=shop.expires_in),
            refresh_token=shop.refresh_token,
            refresh_token_expires_at=None,
        )
        await connect_integration(tenant.id, domain, grant, self.settings)
        return tenant.id

    async def api_key(self, tenant_id: str) -> str:
        """A tenant API key written raw (the shape `issue_api_key` stores)."""
        key_id = "rk_" + secrets.token_hex(6)
        key = f"{key_id}_{secrets.token_urlsafe(32)}"
        await self.raw["api_keys"].insert_one(
            {
                "tenant_id": tenant_id,
                "key_id": key_id,
                "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                "name": "chaos",
                "created_at": utcnow(),
                "revoked_at": None,
                "last_used_at": None,
            }
        )
        return key

    def simulator_orders(self, domain: str) -> list[dict[str, Any]]:
        """The simulator's own order records (read in-process once the shop is quiet)."""
        state = self.simulator.app.state.sim.shops[domain]
        return list(state.orders)

    def rest_order_payload(self, domain: str, record: dict[str, Any]) -> dict[str, Any]:
        """What Shopify's orders/create webhook carries for this simulator order."""
        from tools.shopify_sim import payloads

        state = self.simulator.app.state.sim.shops[domain]
        payload: dict[str, Any] = payloads.order(record, state)
        return payload
