"""Building and signing webhook deliveries the way Shopify sends them."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from app.clock import utcnow
from app.config import Settings
from app.services.integration.integrations import connect_integration
from app.services.tenants import ensure_tenant
from app.shopify.hmac import sign_webhook
from app.shopify.oauth_client import exchange_code
from tests.simulator_fixtures import SIM_API_SECRET
from tools.shopify_sim import SimulatorControl

_ids = itertools.count(7_100_000_000_001)


def next_id() -> int:
    return next(_ids)


def rest_time(moment: datetime) -> str:
    return moment.isoformat()


def shop_payload(shop: str = "rms34.myshopify.com", *, shop_id: int = 1) -> dict[str, Any]:
    """An app/uninstalled payload: the shop object."""
    return {"id": shop_id, "name": "Shop", "domain": shop, "myshopify_domain": shop}


def order_payload(
    *,
    order_id: int | None = None,
    number: int = 1001,
    updated_at: datetime | None = None,
    created_at: datetime | None = None,
    email: str = "Ada.Lovelace@Example.com",
    customer_id: int | None = None,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    phone: str | None = "+15550001111",
    tags: str = "vip, gift ,",
    total: str = "50.00",
    fulfilled_quantity: int = 2,
    quantity: int = 2,
    line_id: int | None = None,
    street: str = "12 Analytical Engine Row",
    zip_code: str = "NW1 6XE",
) -> dict[str, Any]:
    """An orders/create or orders/updated REST payload (snake_case, numeric ids)."""
    order_id = order_id or next_id()
    created = created_at or utcnow() - timedelta(days=3)
    updated = updated_at or created
    line = line_id or next_id()
    customer = customer_id or next_id()
    address = {
        "first_name": first_name,
        "last_name": last_name,
        "name": f"{first_name} {last_name}",
        "address1": street,
        "address2": None,
        "city": "Marylebone",
        "province": None,
        "country": "GB",
        "zip": zip_code,
        "phone": phone,
    }
    fulfillments = []
    if fulfilled_quantity:
        fulfillments.append(
            {
                "id": next_id(),
                "status": "success",
                "shipment_status": "delivered",
                "created_at": rest_time(created + timedelta(days=1)),
                "updated_at": rest_time(created + timedelta(days=2)),
                "line_items": [{"id": line, "quantity": fulfilled_quantity}],
            }
        )
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "email": email,
        "contact_email": email,
        "phone": phone,
        "created_at": rest_time(created),
        "updated_at": rest_time(updated),
        "currency": "USD",
        "financial_status": "paid",
        "fulfillment_status": "fulfilled" if fulfilled_quantity == quantity else None,
        "tags": tags,
        "subtotal_price": total,
        "total_price": total,
        "total_discounts": "0.00",
        "customer": {
            "id": customer,
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "phone": phone,
            "created_at": rest_time(created - timedelta(days=30)),
            "updated_at": rest_time(updated),
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "line_items": [
            {
                "id": line,
                "variant_id": next_id(),
                "product_id": next_id(),
                "title": "T-shirt",
                "name": "T-shirt - M",
                "variant_title": "M",
                "sku": "TS-M",
                "price": "25.00",
                "quantity": quantity,
                "fulfillable_quantity": quantity - fulfilled_quantity,
                "total_discount": "0.00",
            }
        ],
        "fulfillments": fulfillments,
    }


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    shop: str = "rms34.myshopify.com",
    event_id: str | None = None,
    webhook_id: str | None = None,
    secret: str = SIM_API_SECRET,
    hmac_value: str | None = None,
    triggered_at: datetime | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": (triggered_at or utcnow()).isoformat(),
        "X-Shopify-Hmac-Sha256": hmac_value
        if hmac_value is not None
        else sign_webhook(body, secret),
    }


async def deliver(
    client: httpx.AsyncClient,
    topic: str,
    payload: dict[str, Any] | bytes,
    **header_options: Any,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    headers = webhook_headers(topic, body, **header_options)
    return await client.post(f"/api/webhooks/{topic}", content=body, headers=headers)


async def store_event(
    topic: str,
    payload: dict[str, Any],
    *,
    shop: str = "rms34.myshopify.com",
    event_id: str | None = None,
    triggered_at: datetime | None = None,
) -> dict[str, Any]:
    """Persist an event exactly as the route does (after its HMAC check)."""
    from app.services.webhooks.ingest import (
        PAYLOAD_SHOP_FIELD,
        build_event_document,
        persist_event,
        shopify_headers,
    )

    field = PAYLOAD_SHOP_FIELD.get(topic)
    if field is not None and field not in payload:  # Shopify's payloads always name the shop
        payload = {**payload, field: shop.strip().lower()}
    body = orjson.dumps(payload)
    headers = webhook_headers(topic, body, shop=shop, event_id=event_id, triggered_at=triggered_at)
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    document = build_event_document(topic, shopify_headers(raw), body)
    await persist_event(document)
    return document


@dataclass
class ConnectedShop:
    """A simulator shop with the app connected to its tenant (real tokens, stored encrypted)."""

    domain: str
    tenant_id: str
    order_ids: list[int] = field(default_factory=list)  # orders Shopify holds, not yet used

    def order(self, **fields: Any) -> dict[str, Any]:
        """An order payload for one of the shop's real orders (Shopify knows its id)."""
        fields.setdefault("order_id", self.order_ids.pop(0))
        return order_payload(**fields)


async def install_app(control: SimulatorControl, settings: Settings, domain: str) -> str:
    """Install the app in an existing simulator shop and connect its tenant, as the OAuth
    callback does (a reinstall too: new tokens, status connected). Returns the tenant id."""
    params = await control.authorize(domain, scope=",".join(settings.shopify_scopes))
    grant = await exchange_code(
        control.http,
        settings.shopify_admin_base_url,
        domain,
        settings.shopify_api_key,
        settings.shopify_api_secret,
        params["code"],
    )
    tenant = await ensure_tenant(domain)
    await connect_integration(tenant.id, domain, grant, settings)
    return tenant.id


async def connect_shop(
    control: SimulatorControl,
    settings: Settings,
    domain: str = "rms34.myshopify.com",
    *,
    orders: int = 30,
) -> ConnectedShop:
    """(Re)create the shop in the simulator, install the app there and connect the tenant; the
    shop's order ids come back for payloads Shopify can confirm."""
    await control.create_bare_shop(domain, orders=orders)
    tenant_id = await install_app(control, settings, domain)
    listing = await control.orders(domain, limit=orders)
    ids = [int(str(order["id"]).rsplit("/", 1)[-1]) for order in listing["orders"]]
    return ConnectedShop(domain, tenant_id, ids)
