"""Two tenants: the victim A with data of every kind and live Shopify tokens, the attacker B.

Every value of A that must never reach B is unique enough to be searched for in responses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from app.clock import utcnow
from app.config import Settings
from app.graphql.core.node import global_id
from app.models import (
    AuditLog,
    Customer,
    CustomerDataExport,
    Order,
    Return,
    SyncJob,
    WebhookEvent,
)
from app.models.order import LineItem, OrderCustomer
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnItem, ReturnReason
from app.models.sync_job import SyncStatus, SyncType
from app.services.auth import issue_api_key
from app.services.integration.integrations import connect_integration
from app.services.pagination import encode_cursor
from app.services.tenants import ensure_tenant
from app.shopify.oauth_client import TokenGrant

VICTIM_SHOP = "isovictim.myshopify.com"
ATTACKER_SHOP = "isoattacker.myshopify.com"
VICTIM_EMAIL = "victim.customer@victim-a.test"
VICTIM_TOKEN = "shpat_victimaccesstoken0123456789abcdef"
VICTIM_REFRESH = "shprt_victimrefreshtoken0123456789abcdef"
ATTACKER_TOKEN = "shpat_attackeraccesstoken0123456789abcd"
_ids = itertools.count(8_800_000_000_001)

# Collections whose documents carry `tenant_id` (A's must be unchanged by anything B does).
TENANT_COLLECTIONS = (
    "tenants",
    "integrations_shopify",
    "orders",
    "customers",
    "returns",
    "return_ledgers",
    "sync_jobs",
    "webhook_events",
    "customer_data_exports",
    "api_keys",
)


@dataclass
class Tenantry:
    tenant_id: str
    shop: str
    api_key: str
    order_numbers: list[str] = field(default_factory=list)
    ids: dict[str, list[str]] = field(default_factory=dict)  # kind -> ids of that kind
    cursors: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def markers(self) -> set[str]:
        """Strings of this tenant that must not appear in another tenant's responses."""
        found = {self.tenant_id, self.shop, *self.emails, *self.order_numbers}
        for values in self.ids.values():
            found.update(values)
        return found

    def all_ids(self) -> list[str]:
        return [value for values in self.ids.values() for value in values]


async def _populate(tenant_id: str, shop: str, number_base: int, email: str) -> Tenantry:
    issued = await issue_api_key(tenant_id, name="isolation")
    who = Tenantry(tenant_id, shop, issued.key, emails=[email])
    now = utcnow()
    orders, returns = [], []
    for offset in range(3):
        shopify_id = str(next(_ids))
        line = LineItem(
            id=str(next(_ids)),
            title="Secret item",
            quantity=2,
            fulfilled_quantity=2,
            price=Decimal("19.00"),
            variant_id=str(next(_ids)),
        )
        order = Order(
            tenant_id=tenant_id,
            shopify_id=shopify_id,
            admin_graphql_api_id=f"gid://shopify/Order/{shopify_id}",
            order_number=str(number_base + offset),
            name=f"#{number_base + offset}",
            email=email,
            customer=OrderCustomer(id=str(next(_ids)), email=email, first_name="Vic"),
            line_items=[line],
            financial_status="paid",
            fulfillment_status="fulfilled",
            total_price=Decimal("38.00"),
            created_at=now - timedelta(days=3, minutes=offset),
            updated_at=now - timedelta(days=3),
            delivered_at=now - timedelta(days=2),
        )
        await order.insert()
        orders.append(order)
        record = Return(
            tenant_id=tenant_id,
            order_id=shopify_id,
            order_number=order.order_number,
            customer_email=email,
            items=[
                ReturnItem(
                    line_item_id=line.id,
                    quantity=1,
                    reason=ReturnReason.DEFECTIVE,
                    unit_price=line.price,
                )
            ],
            return_method=ReturnMethod.CUSTOMER_SHIPS,
            resolution_type=ResolutionType.REFUND,
            created_at=now - timedelta(hours=offset),
        )
        await record.insert()
        returns.append(record)
    customer = Customer(
        tenant_id=tenant_id,
        shopify_id=str(next(_ids)),
        email=email,
        first_name="Vic",
        updated_at=now,
    )
    await customer.insert()
    job = SyncJob(
        tenant_id=tenant_id, type=SyncType.FULL, days=30, status=SyncStatus.COMPLETED, active=None
    )
    await job.insert()
    event = WebhookEvent(
        tenant_id=tenant_id,
        shop_domain=shop,
        topic="orders/create",
        event_id=f"evt-{next(_ids)}",
        payload={"id": int(orders[0].shopify_id), "email": email},
        processed=False,
        error="boom",
        dead=True,
    )
    await event.insert()
    export = CustomerDataExport(
        tenant_id=tenant_id,
        shop_domain=shop,
        request_key=f"dr-{next(_ids)}",
        customer_id=customer.shopify_id,
        customer_email=email,
    )
    await export.insert()
    await AuditLog(tenant_id=tenant_id, actor="cli:test", operation="seed").insert()
    who.order_numbers = [order.order_number for order in orders]
    who.ids = {
        "order": [order.shopify_id for order in orders],
        "order_gid": [order.admin_graphql_api_id or "" for order in orders],
        "line_item": [order.line_items[0].id for order in orders],
        "return": [str(record.id) for record in returns],
        "customer": [customer.shopify_id],
        "sync_job": [str(job.id)],
        "webhook_event": [str(event.id)],
        "customer_data_export": [str(export.id)],
        # The same objects by their GraphQL global ids (`node`, and every id argument).
        "global": [
            global_id("Tenant", tenant_id),
            *(global_id("Order", order.shopify_id) for order in orders),
            *(global_id("Return", record.id) for record in returns),
            global_id("Customer", customer.shopify_id),
            global_id("SyncJob", job.id),
            global_id("WebhookEvent", event.id),
            global_id("CustomerDataExport", export.id),
        ],
    }
    who.cursors = [encode_cursor(o.created_at, o.id) for o in orders] + [
        encode_cursor(r.created_at, r.id) for r in returns
    ]
    return who


@dataclass
class World:
    victim: Tenantry
    attacker: Tenantry


async def build_world(settings: Settings) -> World:
    victim_tenant = await ensure_tenant(VICTIM_SHOP)
    attacker_tenant = await ensure_tenant(ATTACKER_SHOP)
    victim = await _populate(victim_tenant.id, VICTIM_SHOP, 770_001, VICTIM_EMAIL)
    attacker = await _populate(attacker_tenant.id, ATTACKER_SHOP, 880_001, "buyer@attacker-b.test")
    expires = utcnow() + timedelta(hours=1)
    await connect_integration(
        victim.tenant_id,
        VICTIM_SHOP,
        TokenGrant(VICTIM_TOKEN, "read_orders,read_customers", expires, VICTIM_REFRESH, None),
        settings,
    )
    await connect_integration(
        attacker.tenant_id,
        ATTACKER_SHOP,
        TokenGrant(ATTACKER_TOKEN, "read_orders,read_customers", expires, None, None),
        settings,
    )
    return World(victim, attacker)


async def tenant_snapshot(db: Any, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the tenant, to compare before and after an attack."""
    result = {}
    for name in TENANT_COLLECTIONS:
        key = "id" if name == "tenants" else "tenant_id"
        result[name] = await db[name].find({key: tenant_id}).sort("_id", 1).to_list(None)
    return result
