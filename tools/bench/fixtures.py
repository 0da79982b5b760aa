"""Bulk-load benchmark data straight into MongoDB, shaped exactly like our Beanie models.

One template per model is built through the model itself and encoded with `to_bson` (so every
field, default and Decimal128 is what the service would write); the bulk of the data is cheap
shallow copies of that template with the varying fields replaced, inserted with `insert_many`.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from app.clock import utcnow
from app.models import ApiKey, Order, Return, ShopifyIntegration, Tenant
from app.models.bson import to_bson
from app.models.order import Address, LineItem, OrderCustomer
from app.models.return_ledger import LEDGER_COLLECTION, ledger_id
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import ReturnItem, ReturnReason, ReturnStatus, ReturnTransition
from app.services.integration.token_cipher import TokenCipher

BATCH_SIZE = 5_000
FIRST_ORDER_NUMBER = 1001
FIRST_SHOPIFY_ID = 5_813_364_000_000
API_KEY_PREFIX = "rk_"  # app.services.auth.API_KEY_PREFIX
# Statuses cycled over the fixture returns; most are still active, as in a real shop.
STATUS_CYCLE = (
    ReturnStatus.REQUESTED,
    ReturnStatus.APPROVED,
    ReturnStatus.REQUESTED,
    ReturnStatus.RECEIVED,
    ReturnStatus.RESOLVED,
    ReturnStatus.DECLINED,
)
ACTIVE = {"requested", "approved", "received", "resolved"}


@dataclass(frozen=True, slots=True)
class TenantFixture:
    tenant_id: str
    shop_domain: str
    api_key: str  # the clear key, for `Authorization: Bearer`
    orders: int
    returns: int
    # (order_number, email) pairs of orders that exist, for lookups
    lookups: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class FixtureSummary:
    tenants: list[TenantFixture] = field(default_factory=list)
    orders: int = 0
    returns: int = 0
    seconds: float = 0.0


def shop_domain_for(index: int) -> str:
    return f"bench{index + 1}.myshopify.com"


def tenant_id_for(shop_domain: str) -> str:
    return "tenant-" + shop_domain.split(".", 1)[0]


def email_for(tenant_index: int, number: int) -> str:
    return f"customer{number % 5000}.t{tenant_index}@example.com"


def _order_template(tenant_id: str, now: datetime) -> dict[str, Any]:
    order = Order(
        tenant_id=tenant_id,
        shopify_id="0",
        admin_graphql_api_id="gid://shopify/Order/0",
        order_number="0",
        name="#0",
        email="x@example.com",
        customer=OrderCustomer(
            id="0", email="x@example.com", first_name="Ada", last_name="Lovelace"
        ),
        line_items=[
            LineItem(
                id="0",
                title=title,
                variant_id="0",
                variant_title="M / Blue",
                product_id="0",
                product_type="Shirts",
                product_tags=["summer"],
                sku=f"SKU-{index}",
                quantity=2,
                fulfilled_quantity=2,
                price=Decimal("24.50"),
                total_discount=Decimal("0.00"),
            )
            for index, title in enumerate(("Linen shirt", "Canvas tote"))
        ],
        financial_status="paid",
        fulfillment_status="fulfilled",
        tags=["bench"],
        subtotal_price=Decimal("98.00"),
        total_price=Decimal("98.00"),
        total_discounts=Decimal("0.00"),
        shipping_address=Address(
            name="Ada Lovelace", address1="1 Main St", city="Ottawa", country="Canada"
        ),
        fulfilled_at=now,
        delivered_at=now,
        created_at=now,
        updated_at=now,
        source="sync",
    )
    document: dict[str, Any] = to_bson(order)
    document.pop("_id", None)
    document.pop("id", None)
    return document


def _return_template(tenant_id: str, now: datetime) -> dict[str, Any]:
    record = Return.model_construct(
        tenant_id=tenant_id,
        order_id="0",
        order_number="0",
        customer_email="x@example.com",
        status=ReturnStatus.REQUESTED,
        items=[
            ReturnItem(
                line_item_id="0",
                title="Linen shirt",
                sku="SKU-0",
                variant_id="0",
                product_id="0",
                product_type="Shirts",
                quantity=1,
                reason=ReturnReason.SIZE_TOO_SMALL,
                note="too tight",
                unit_price=Decimal("24.50"),
            )
        ],
        return_method=ReturnMethod.CUSTOMER_SHIPS,
        resolution_type=ResolutionType.REFUND,
        exchange_variant_id=None,
        currency="USD",
        order_created_at=now,
        decline_reason=None,
        outcome=None,
        shopify_return_id=None,
        shopify_sync=None,
        shopify_applied=[],
        history=[ReturnTransition(at=now, actor="customer", to_status=ReturnStatus.REQUESTED)],
        created_at=now,
        updated_at=now,
        resolved_at=None,
    )
    document: dict[str, Any] = to_bson(record)
    document.pop("_id", None)
    document.pop("id", None)
    return document


def _orders(tenant_index: int, tenant_id: str, count: int, now: datetime) -> list[dict[str, Any]]:
    template = _order_template(tenant_id, now)
    line_template = template["line_items"]
    base_id = FIRST_SHOPIFY_ID + tenant_index * 10_000_000
    documents = []
    for i in range(count):
        number = FIRST_ORDER_NUMBER + i
        shopify_id = str(base_id + i * 10)
        email = email_for(tenant_index, number)
        created = now - timedelta(minutes=count - i)  # newest order last
        document = template.copy()
        document["shopify_id"] = shopify_id
        document["admin_graphql_api_id"] = f"gid://shopify/Order/{shopify_id}"
        document["order_number"] = str(number)
        document["name"] = f"#{number}"
        document["email"] = email
        document["customer"] = {**template["customer"], "id": str(base_id + i * 10 + 9)}
        document["customer"]["email"] = email
        document["line_items"] = [
            {**line, "id": str(base_id + i * 10 + 1 + j), "variant_id": str(900 + j)}
            for j, line in enumerate(line_template)
        ]
        document["created_at"] = created
        document["updated_at"] = created
        document["fulfilled_at"] = created
        document["delivered_at"] = created + timedelta(days=2)
        documents.append(document)
    return documents


def _returns(
    tenant_id: str, orders: list[dict[str, Any]], count: int, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns on the newest `count` orders (one each), and the ledger documents they hold."""
    template = _return_template(tenant_id, now)
    returns: list[dict[str, Any]] = []
    ledgers: list[dict[str, Any]] = []
    for i, order in enumerate(orders[-count:] if count else []):
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)].value
        line = order["line_items"][0]
        created = now - timedelta(seconds=count - i)
        document = template.copy()
        document["order_id"] = order["shopify_id"]
        document["order_number"] = order["order_number"]
        document["customer_email"] = order["email"]
        document["status"] = status
        document["items"] = [{**template["items"][0], "line_item_id": line["id"]}]
        document["order_created_at"] = order["created_at"]
        document["history"] = [copy.copy(template["history"][0]) | {"at": created}]
        document["created_at"] = created
        document["updated_at"] = created
        returns.append(document)
        if status in ACTIVE:
            ledgers.append(
                {
                    "_id": ledger_id(tenant_id, order["order_number"]),
                    "tenant_id": tenant_id,
                    "order_id": order["shopify_id"],
                    "order_number": order["order_number"],
                    "reserved": {line["id"]: 1},
                    "updated_at": created,
                }
            )
    return returns, ledgers


async def _insert(db: AsyncDatabase[dict[str, Any]], name: str, docs: list[dict[str, Any]]) -> None:
    collection = db[name]
    for start in range(0, len(docs), BATCH_SIZE):
        await collection.insert_many(docs[start : start + BATCH_SIZE], ordered=False)


def new_api_key() -> tuple[str, str, str]:
    """(key_id, clear key, sha256) in the format `app.services.auth.issue_api_key` issues."""
    key_id = API_KEY_PREFIX + secrets.token_hex(6)
    key = f"{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hashlib.sha256(key.encode()).hexdigest()


async def load_fixtures(
    db: AsyncDatabase[dict[str, Any]],
    *,
    orders: int,
    returns: int,
    tenants: int = 2,
    encryption_keys: list[str],
) -> FixtureSummary:
    """Tenants (with an API key and a connected integration), orders, returns and ledgers.

    Beanie must be initialised on `db` (the models build the templates; indexes exist already).
    """
    import time

    started = time.perf_counter()
    summary = FixtureSummary()
    now = utcnow()
    cipher = TokenCipher(encryption_keys)
    for index in range(tenants):
        shop = shop_domain_for(index)
        tenant_id = tenant_id_for(shop)
        share_orders = orders // tenants + (1 if index < orders % tenants else 0)
        share_returns = min(
            share_orders, returns // tenants + (1 if index < returns % tenants else 0)
        )
        tenant = Tenant.new(tenant_id, shop, f"Bench shop {index + 1}")
        await db[Tenant.Settings.name].insert_one(to_bson(tenant))
        key_id, key, key_hash = new_api_key()
        api_key = ApiKey.model_construct(
            tenant_id=tenant_id,
            key_id=key_id,
            key_hash=key_hash,
            name="bench",
            created_at=now,
            revoked_at=None,
            last_used_at=None,
        )
        key_doc = to_bson(api_key)
        key_doc.pop("_id", None)
        key_doc.pop("id", None)
        await db[ApiKey.Settings.name].insert_one(key_doc)
        integration = ShopifyIntegration.model_construct(
            tenant_id=tenant_id,
            shop_domain=shop,
            access_token=cipher.encrypt("shpat_bench_not_used"),
            scopes=["read_orders", "read_customers", "read_returns", "write_returns"],
            installed_at=now,
            created_at=now,
            updated_at=now,
        )
        integration_doc = to_bson(integration)
        integration_doc.pop("_id", None)
        integration_doc.pop("id", None)
        await db[ShopifyIntegration.Settings.name].insert_one(integration_doc)

        order_docs = _orders(index, tenant_id, share_orders, now)
        return_docs, ledger_docs = _returns(tenant_id, order_docs, share_returns, now)
        lookups = tuple(
            (doc["order_number"], doc["email"])
            for doc in order_docs[:: max(1, len(order_docs) // 500)]
        )
        await _insert(db, Order.Settings.name, order_docs)
        await _insert(db, Return.Settings.name, return_docs)
        if ledger_docs:
            await _insert(db, LEDGER_COLLECTION, ledger_docs)
        summary.orders += len(order_docs)
        summary.returns += len(return_docs)
        summary.tenants.append(
            TenantFixture(tenant_id, shop, key, len(order_docs), len(return_docs), lookups)
        )
    summary.seconds = time.perf_counter() - started
    return summary
