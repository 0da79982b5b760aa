"""Test data and GraphQL documents for the returns tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from app.clock import utcnow
from app.config import Settings
from app.jobs.sync import SyncWorker
from app.models import Order, SyncJob
from app.models.order import LineItem, OrderCustomer
from app.models.sync_job import SyncStatus, SyncType
from app.services.integration.integrations import connect_integration
from app.services.sync.engine import SyncOptions
from app.services.sync.jobs import queue_sync
from app.services.tenants import ensure_tenant
from app.shopify.oauth_client import TokenGrant
from tests.conftest import make_settings
from tests.factories import graphql
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET
from tools.shopify_sim import InstalledShop, SimulatorControl, SimulatorServer

_ids = itertools.count(7_100_000_000_001)

RETURN_FIELDS = """
  id orderId orderNumber status returnMethod resolutionType exchangeVariantId
  items { lineItemId quantity reason note unitPrice { amount currencyCode } condition restock }
"""

CREATE_RETURN = f"""
mutation Create($input: CreateReturnInput!) {{
  createReturn(input: $input) {{
    return {{ {RETURN_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

LOOKUP = """
query Lookup($n: String!, $e: String!) {
  lookupOrder(orderNumber: $n, customerEmail: $e) {
    id orderNumber name eligible ineligibleReason returnWindowEndsAt
    lineItems { id quantity fulfilledQuantity returnableQuantity eligible ineligibleReason }
  }
}
"""


def line(
    quantity: int = 2,
    *,
    fulfilled: int | None = None,
    price: str = "25.00",
    discount: str = "0",
    tags: list[str] | None = None,
    product_type: str | None = None,
    title: str = "T-shirt",
) -> LineItem:
    return LineItem(
        id=str(next(_ids)),
        title=title,
        sku="SKU-" + title,
        variant_id=str(next(_ids)),
        product_id=str(next(_ids)),
        product_type=product_type,
        product_tags=tags or [],
        quantity=quantity,
        fulfilled_quantity=quantity if fulfilled is None else fulfilled,
        price=Decimal(price),
        total_discount=Decimal(discount),
    )


async def shop_order(
    tenant_id: str,
    number: int,
    lines: list[LineItem] | None = None,
    *,
    email: str = "customer@example.com",
    created_at: datetime | None = None,
    delivered_at: datetime | None = None,
    tags: list[str] | None = None,
    currency: str = "USD",
) -> Order:
    shopify_id = str(next(_ids))
    created = created_at or utcnow() - timedelta(days=5)
    items = lines if lines is not None else [line()]
    total = sum((item.price * item.quantity for item in items), Decimal(0))
    order = Order(
        tenant_id=tenant_id,
        shopify_id=shopify_id,
        admin_graphql_api_id=f"gid://shopify/Order/{shopify_id}",
        order_number=str(number),
        name=f"#{number}",
        email=email,
        customer=OrderCustomer(id=str(next(_ids)), email=email, first_name="Ada"),
        line_items=items,
        financial_status="paid",
        fulfillment_status="fulfilled",
        tags=tags or [],
        currency=currency,
        subtotal_price=total,
        total_price=total,
        created_at=created,
        updated_at=created,
        delivered_at=delivered_at if delivered_at is not None else created + timedelta(days=1),
    )
    await order.insert()
    return order


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], return_id: str, *mutations: str
) -> None:
    """Runs each merchant mutation that takes only the return's id, in order; each must pass."""
    for name in mutations:
        body = await graphql(
            client,
            f"mutation($id: ID!) {{ {name}(id: $id) {{ userErrors {{ code }} }} }}",
            {"id": return_id},
            headers,
        )
        assert body["data"][name]["userErrors"] == [], body


def portal(tenant_id: str) -> dict[str, str]:
    return {"X-Tenant-Id": tenant_id}


def return_input(
    order: Order,
    items: list[tuple[str, int]] | None = None,
    *,
    email: str | None = None,
    reason: str = "DEFECTIVE",
    method: str = "CUSTOMER_SHIPS",
    resolution: str = "REFUND",
    exchange_variant_id: str | None = None,
) -> dict[str, Any]:
    chosen = items if items is not None else [(order.line_items[0].id, 1)]
    data: dict[str, Any] = {
        "orderId": order.shopify_id,
        "customerEmail": email if email is not None else (order.email or ""),
        "returnMethod": method,
        "resolutionType": resolution,
        "items": [{"lineItemId": lid, "quantity": q, "reason": reason} for lid, q in chosen],
    }
    if exchange_variant_id is not None:
        data["exchangeVariantId"] = exchange_variant_id
    return data


async def create(client: httpx.AsyncClient, tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    body = await graphql(client, CREATE_RETURN, {"input": data}, portal(tenant_id))
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createReturn"]
    return payload


# Against the Shopify simulator ---------------------------------------------------------------
def sim_settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """The app's settings pointed at the simulator, with the simulator's app credentials."""
    return make_settings(
        mongo_uri,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
        shopify_admin_base_url=simulator.admin_base_template,
    )


@dataclass(frozen=True)
class SimTenant:
    tenant_id: str
    shop: InstalledShop

    @property
    def domain(self) -> str:
        return self.shop.domain


async def connect_sim_tenant(
    control: SimulatorControl, settings: Settings, *, currency: str = "USD"
) -> SimTenant:
    """A simulator shop (no seeded orders, prices in `currency`) with the app installed through
    OAuth and the grant stored as the OAuth callback stores it."""
    shop = await control.create_shop(orders=0, currency=currency)
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
    return SimTenant(tenant.tenant_id, shop)


def returnable_variants(
    simulator: SimulatorServer, domain: str, count: int | None = 1
) -> list[str]:
    """Variant GIDs of the simulator shop's products the default policy lets customers return
    (no `final-sale` tag), read in-process: the first `count`, or all of them (None)."""
    shop = simulator.app.state.sim.shops[domain]
    found = [
        str(variant["id"])
        for product in shop.products
        if "final-sale" not in product["tags"]
        for variant in product["_variants"]
    ]
    if count is None:
        return found
    assert len(found) >= count
    return found[:count]


async def sim_synced_order(
    control: SimulatorControl,
    settings: Settings,
    http: httpx.AsyncClient,
    tenant: SimTenant,
    lines: list[dict[str, Any]],
    *,
    fulfilled: bool = True,
    email: str = "buyer@example.com",
    **order_options: Any,
) -> Order:
    """An order created in the simulator (fulfilled and delivered now), then synced into our
    database by a real sync job, so its line item ids are the simulator's. `order_options`: more
    of the simulator's order fields (`payments`, ...); paid unless they say otherwise."""
    order_options.setdefault("financial_status", "PAID")
    created = await control.create_order(
        tenant.domain, email=email, line_items=lines, fulfilled=fulfilled, **order_options
    )
    await resync(settings, http, tenant)
    shopify_id = str(created["order"]["id"]).rsplit("/", 1)[-1]
    order = await Order.find_one({"tenant_id": tenant.tenant_id, "shopify_id": shopify_id})
    assert order is not None, created
    return order


async def resync(settings: Settings, http: httpx.AsyncClient, tenant: SimTenant) -> SyncJob:
    """A full resync of the tenant's last 30 days, run to completion by a sync worker."""
    queued = await queue_sync(tenant.tenant_id, SyncType.FULL, 30)
    assert queued.job is not None
    fast = SyncOptions(lease_seconds=5.0, retry_backoff=0.05, bulk_poll_interval=0.05)
    worker = SyncWorker(settings, http, "returns-test-sync", options=fast)
    while await worker.run_once():
        pass
    job = await SyncJob.get(queued.job.id)
    assert job is not None and job.status == SyncStatus.COMPLETED, job and job.error
    return job


async def sim_returns(control: SimulatorControl, domain: str) -> list[dict[str, Any]]:
    """The simulator's returns of a shop, as its control API shows them."""
    state = await control.shop_state(domain)
    found: list[dict[str, Any]] = state["returns"]
    return found
