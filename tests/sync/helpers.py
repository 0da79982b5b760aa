"""Shared steps of the sync tests: a connected shop, a worker, waiting for a job."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.clock import utcnow
from app.config import Settings
from app.jobs.sync import SyncWorker
from app.models import Order, SyncJob
from app.models.sync_job import SyncStatus
from app.services.integration.integrations import connect_integration
from app.services.sync.engine import SyncOptions
from app.services.tenants import ensure_tenant
from app.shopify.oauth_client import TokenGrant
from tools.shopify_sim import InstalledShop, SimulatorControl, SimulatorServer

ROOT = Path(__file__).resolve().parents[2]
FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": None}
FAST = SyncOptions(lease_seconds=5.0, retry_backoff=0.05, bulk_poll_interval=0.05)
_workers = itertools.count(1)


@dataclass(frozen=True)
class ConnectedShop:
    tenant_id: str
    shop: InstalledShop

    @property
    def domain(self) -> str:
        return self.shop.domain


async def connect_shop(
    control: SimulatorControl,
    settings: Settings,
    *,
    orders: int = 25,
    bucket_size: float = 1000,
    restore_rate: float = 50_000,
    scope: str | None = None,
) -> ConnectedShop:
    """A simulator shop with the app installed and the grant stored like the OAuth callback."""
    kwargs: dict[str, Any] = {
        "orders": orders,
        "bucket_size": bucket_size,
        "restore_rate": restore_rate,
    }
    if scope is not None:
        kwargs["scope"] = scope
    shop = await control.create_shop(**kwargs)
    assert isinstance(shop, InstalledShop)
    tenant = await ensure_tenant(shop.domain)
    grant = TokenGrant(
        access_token=shop.access_token,
        scope=shop.scope,
        expires_at=utcnow() + timedelta(seconds=shop.expires_in),
        refresh_token=shop.refresh_token,
        refresh_token_expires_at=None,
    )
    await connect_integration(tenant.tenant_id, shop.domain, grant, settings)
    return ConnectedShop(tenant.tenant_id, shop)


def make_worker(
    settings: Settings, http: httpx.AsyncClient, options: SyncOptions = FAST
) -> SyncWorker:
    return SyncWorker(settings, http, f"test-worker-{next(_workers)}", options=options)


async def run_queued(worker: SyncWorker) -> None:
    """Process jobs until none is claimable (`rms sync run-once` in the foreground)."""
    while await worker.run_once():
        pass


async def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.02) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def reload(job: SyncJob) -> SyncJob:
    found = await SyncJob.get(job.id)
    assert found is not None
    return found


def sim_orders(simulator: SimulatorServer, domain: str) -> list[dict[str, Any]]:
    """The simulator's own order records (read in-process, after the shop is quiet)."""
    shop = simulator.app.state.sim.shops[domain]
    return list(shop.orders)


def assert_matches_simulator(stored: list[Order], expected: list[dict[str, Any]]) -> None:
    """Every simulator order stored once and correct, checked field by field against the
    simulator's records (independently of the mapping code)."""
    by_id = {order.shopify_id: order for order in stored}
    assert len(by_id) == len(stored) == len(expected)
    for record in expected:
        order = by_id[record["legacyResourceId"]]
        assert order.name == record["name"]
        assert order.order_number == record["name"].lstrip("#")
        assert order.email == (record["email"] or "").lower()
        assert order.financial_status == record["displayFinancialStatus"].lower()
        assert order.fulfillment_status == FULFILLMENT[record["displayFulfillmentStatus"]]
        assert order.total_price == Decimal(record["totalPriceSet"]["shopMoney"]["amount"])
        assert order.subtotal_price == Decimal(record["subtotalPriceSet"]["shopMoney"]["amount"])
        assert order.tags == record["tags"]
        assert order.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") == record["updatedAt"]
        assert order.customer is not None
        assert order.customer.id == record["customer"]["legacyResourceId"]
        lines = record["_lineItems"]
        assert [line.id for line in order.line_items] == [
            line["id"].rsplit("/", 1)[-1] for line in lines
        ]
        for line, source in zip(order.line_items, lines, strict=True):
            assert line.quantity == source["quantity"]
            assert line.fulfilled_quantity == source["quantity"] - source["unfulfilledQuantity"]
            assert line.price == Decimal(source["originalUnitPriceSet"]["shopMoney"]["amount"])
            assert line.total_discount == Decimal(source["totalDiscountSet"]["shopMoney"]["amount"])
            assert line.sku == source["sku"]
            assert line.variant_id == source["variant"]["legacyResourceId"]


def terminal(job: SyncJob) -> bool:
    return job.status not in (SyncStatus.QUEUED, SyncStatus.RUNNING)


# `rms` with only the `sync` command group registered, so this test does not depend on the other
# command modules (other teams' work in progress); the parsing and handlers are the real ones.
RMS_SYNC_ONLY = """
import argparse, sys
from tools.cli import sync
parser = argparse.ArgumentParser(prog="rms")
sync.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


async def rms(settings: Settings, *argv: str) -> str:
    """The real CLI in its own process (as an operator runs it) against the test database
    and the simulator."""
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "MONGODB_URI": settings.mongodb_uri,
        "MONGODB_DB": settings.mongodb_db,
        "SHOPIFY_API_KEY": settings.shopify_api_key,
        "SHOPIFY_API_SECRET": settings.shopify_api_secret,
        "SHOPIFY_ADMIN_BASE_URL": settings.shopify_admin_base_url,
        "APP_URL": settings.app_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RMS_SYNC_ONLY,
        *argv,
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()
