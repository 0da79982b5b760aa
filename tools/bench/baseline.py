"""The raw baseline: the same operations as the service, written as directly as possible.

A minimal Starlette app on PyMongo's `AsyncMongoClient` and orjson, no ODM, no GraphQL, no
middleware. It defines the floor each operation of the service is compared with:

- `POST /api/webhooks/{topic}`: verify the base64 HMAC of the raw body, `insert_one` a document
  shaped like `WebhookEvent` (into `baseline_webhook_events`, same indexes), answer 200;
- `GET /returns?first=50`: static bearer check, one find of the page of returns, one find of
  their orders; the same JSON the GraphQL query returns;
- `GET /lookup?orderNumber=&customerEmail=` (`X-Tenant-Id`): `find_one` on
  (tenant_id, order_number), email check, one find of the order's active returns;
- `POST /sync`: a full paged sync of a simulator shop with httpx, mapped to our order and
  customer documents, written with unordered bulk upserts while the next page downloads.

Configured from the environment (see `config_from_env`), served by `tools.bench.serve`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from bson import Decimal128
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

JSON = dict[str, Any]
WEBHOOK_COLLECTION = "baseline_webhook_events"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DUPLICATE_KEY = 11000
ACTIVE_RETURN_STATUSES = ["requested", "approved", "received", "resolved"]
SYNC_PAGE_SIZE = 20  # 20 orders x 49 points + 2 = 982 requested: under the 1,000 single-query cap
MONEY = "shopMoney { amount }"
# The same selection as the service's sync page, so both pay the same query cost per order.
SYNC_QUERY = f"""
query BaselineOrders($first: Int!, $after: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name email createdAt updatedAt cancelledAt tags currencyCode
      displayFinancialStatus displayFulfillmentStatus
      subtotalPriceSet {{ {MONEY} }} totalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
      customer {{ id email firstName lastName phone createdAt updatedAt numberOfOrders }}
      shippingAddress {{ name firstName lastName address1 address2 city province zip country phone }}
      fulfillments(first: 3) {{ status createdAt deliveredAt }}
      lineItems(first: 5) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{
          id title sku quantity unfulfilledQuantity variantTitle
          variant {{ id title }} product {{ id productType tags }}
          originalUnitPriceSet {{ {MONEY} }} totalDiscountSet {{ {MONEY} }}
        }}
      }}
    }}
  }}
}}
"""


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    mongodb_uri: str
    mongodb_db: str
    api_secret: str
    api_keys: dict[str, str]  # clear key -> tenant id


def config_from_env() -> BaselineConfig:
    return BaselineConfig(
        mongodb_uri=os.environ["MONGODB_URI"],
        mongodb_db=os.environ["MONGODB_DB"],
        api_secret=os.environ["SHOPIFY_API_SECRET"],
        api_keys=orjson.loads(os.environ.get("BENCH_API_KEYS", "{}")),
    )


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tail(gid: Any) -> str | None:
    return str(gid).rsplit("/", 1)[-1] if gid else None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _money(bag: Any) -> Decimal128:
    amount = (bag or {}).get("shopMoney", {}).get("amount") if isinstance(bag, dict) else bag
    return Decimal128(str(amount or "0"))


def _decimal(value: Any) -> str:
    return str(value.to_decimal()) if isinstance(value, Decimal128) else str(value)


# Webhooks -------------------------------------------------------------------------------------
async def webhook(request: Request) -> Response:
    state: BaselineState = request.app.state.baseline
    body = await request.body()
    expected = base64.b64encode(hmac.new(state.secret, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, request.headers.get("x-shopify-hmac-sha256", "")):
        return _json({"error": "invalid hmac"}, 401)
    headers = request.headers
    shop = headers.get("x-shopify-shop-domain", "").lower()
    event_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id") or ""
    payload = orjson.loads(body)
    now = datetime.now(UTC)
    customer = payload.get("customer") if isinstance(payload, dict) else None
    document = {
        "tenant_id": "tenant-" + shop.split(".", 1)[0],
        "shop_domain": shop,
        "topic": request.path_params["topic"],
        "event_id": event_id,
        "webhook_id": headers.get("x-shopify-webhook-id"),
        "api_version": headers.get("x-shopify-api-version"),
        "headers": {k: v for k, v in headers.items() if k.startswith("x-shopify-")},
        "payload": payload,
        "customer_id": str(customer["id"]) if isinstance(customer, dict) else None,
        "processed": False,
        "dead": False,
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
        "triggered_at": _time(headers.get("x-shopify-triggered-at")),
    }
    with contextlib.suppress(DuplicateKeyError):  # a redelivery: stored once, still 200
        await state.db[WEBHOOK_COLLECTION].insert_one(document)
    return _json({"ok": True})


# Returns page and lookup ----------------------------------------------------------------------
def _line_item(line: JSON) -> JSON:
    return {
        "id": line["id"],
        "title": line.get("title"),
        "sku": line.get("sku"),
        "quantity": line.get("quantity"),
        "price": {"amount": _decimal(line.get("price"))},
    }


def _order(order: JSON) -> JSON:
    return {
        "id": order["shopify_id"],
        "name": order["name"],
        "email": order.get("email"),
        "totalPrice": {"amount": _decimal(order.get("total_price"))},
        "lineItems": [_line_item(line) for line in order.get("line_items", [])],
    }


def _return(record: JSON, order: JSON | None) -> JSON:
    return {
        "id": str(record["_id"]),
        "status": str(record["status"]).upper(),
        "orderNumber": record["order_number"],
        "customerEmail": record["customer_email"],
        "createdAt": _iso(record["created_at"]),
        "items": [
            {
                "lineItemId": item["line_item_id"],
                "quantity": item["quantity"],
                "reason": str(item["reason"]).upper(),
            }
            for item in record.get("items", [])
        ],
        "order": _order(order) if order else None,
    }


async def returns_page(request: Request) -> Response:
    state: BaselineState = request.app.state.baseline
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    tenant_id = state.api_keys.get(token)
    if tenant_id is None:
        return _json({"errors": [{"message": "unauthenticated"}]}, 401)
    first = min(int(request.query_params.get("first", "50")), 100)
    records = await (
        state.db["returns"]
        .find({"tenant_id": tenant_id})
        .sort([("created_at", -1), ("_id", -1)])
        .limit(first + 1)
        .to_list()
    )
    page = records[:first]
    ids = list({record["order_id"] for record in page})
    orders = {
        order["shopify_id"]: order
        async for order in state.db["orders"].find(
            {"tenant_id": tenant_id, "shopify_id": {"$in": ids}}
        )
    }
    nodes = [_return(record, orders.get(record["order_id"])) for record in page]
    return _json(
        {"data": {"returns": {"nodes": nodes, "pageInfo": {"hasNextPage": len(records) > first}}}}
    )


async def lookup(request: Request) -> Response:
    state: BaselineState = request.app.state.baseline
    tenant_id = request.headers.get("x-tenant-id", "")
    number = request.query_params.get("orderNumber", "").strip().lstrip("#")
    email = request.query_params.get("customerEmail", "").strip().lower()
    order = await state.db["orders"].find_one({"tenant_id": tenant_id, "order_number": number})
    known = (
        [
            str(value).lower()
            for value in (order.get("email"), (order.get("customer") or {}).get("email"))
            if value
        ]
        if order
        else []
    )
    matched = [hmac.compare_digest(email.encode(), k.encode()) for k in known]
    if order is None or not any(matched):
        return _json({"data": {"lookupOrder": None}})
    active = await (
        state.db["returns"]
        .find(
            {
                "tenant_id": tenant_id,
                "order_id": order["shopify_id"],
            }
        )
        .to_list()
    )
    # Status is filtered here: with it in the filter SecantusDB would scan the collection.
    active = [record for record in active if record.get("status") in ACTIVE_RETURN_STATUSES]
    reserved: dict[str, int] = {}
    for record in active:
        for item in record.get("items", []):
            reserved[item["line_item_id"]] = (
                reserved.get(item["line_item_id"], 0) + item["quantity"]
            )
    lines = [
        _line_item(line)
        | {
            "returnableQuantity": max(
                0, line.get("fulfilled_quantity", 0) - reserved.get(line["id"], 0)
            )
        }
        for line in order.get("line_items", [])
    ]
    return _json(
        {
            "data": {
                "lookupOrder": {
                    "id": order["shopify_id"],
                    "name": order["name"],
                    "createdAt": _iso(order["created_at"]),
                    "lineItems": lines,
                }
            }
        }
    )


# Sync ------------------------------------------------------------------------------------------
def order_document(tenant_id: str, node: JSON, now: datetime) -> JSON:
    """An Admin GraphQL order node as an `orders` document (the service's mapping rules)."""
    customer = node.get("customer")
    address = node.get("shippingAddress")
    fulfillments = node.get("fulfillments") or []
    lines = []
    for line in (node.get("lineItems") or {}).get("nodes", []):
        variant = line.get("variant") or {}
        product = line.get("product") or {}
        lines.append(
            {
                "id": _tail(line["id"]),
                "title": line.get("title") or "",
                "variant_id": _tail(variant.get("id")),
                "variant_title": line.get("variantTitle"),
                "product_id": _tail(product.get("id")),
                "product_type": product.get("productType"),
                "product_tags": product.get("tags") or [],
                "sku": line.get("sku"),
                "quantity": line.get("quantity", 0),
                "fulfilled_quantity": line.get("quantity", 0) - line.get("unfulfilledQuantity", 0),
                "price": _money(line.get("originalUnitPriceSet")),
                "total_discount": _money(line.get("totalDiscountSet")),
            }
        )
    created = [_time(f.get("createdAt")) for f in fulfillments if f.get("status") == "SUCCESS"]
    delivered = [_time(f.get("deliveredAt")) for f in fulfillments if f.get("deliveredAt")]
    email = (node.get("email") or "").lower() or None
    return {
        "tenant_id": tenant_id,
        "shopify_id": str(node["legacyResourceId"]),
        "admin_graphql_api_id": node["id"],
        "order_number": node["name"].lstrip("#"),
        "name": node["name"],
        "email": email,
        "customer": None
        if customer is None
        else {
            "id": _tail(customer.get("id")),
            "email": (customer.get("email") or "").lower() or None,
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
            "phone": customer.get("phone"),
        },
        "line_items": lines,
        "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": (node.get("displayFulfillmentStatus") or "").lower(),
        "tags": node.get("tags") or [],
        "currency": node.get("currencyCode") or "USD",
        "subtotal_price": _money(node.get("subtotalPriceSet")),
        "total_price": _money(node.get("totalPriceSet")),
        "total_discounts": _money(node.get("totalDiscountsSet")),
        "shipping_address": None
        if address is None
        else {
            key: address.get(key)
            for key in (
                "name",
                "address1",
                "address2",
                "city",
                "province",
                "zip",
                "country",
                "phone",
            )
        },
        "fulfilled_at": max((m for m in created if m), default=None),
        "delivered_at": max((m for m in delivered if m), default=None),
        "cancelled_at": _time(node.get("cancelledAt")),
        "created_at": _time(node["createdAt"]),
        "updated_at": _time(node["updatedAt"]),
        "synced_at": now,
        "source": "sync",
    }


def customer_document(tenant_id: str, customer: JSON, now: datetime) -> JSON:
    return {
        "tenant_id": tenant_id,
        "shopify_id": _tail(customer["id"]),
        "admin_graphql_api_id": customer["id"],
        "email": (customer.get("email") or "").lower() or None,
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        "phone": customer.get("phone"),
        "orders_count": customer.get("numberOfOrders"),
        "created_at": _time(customer.get("createdAt")) or now,
        "updated_at": _time(customer.get("updatedAt")) or now,
        "synced_at": now,
        "redacted_at": None,
    }


@dataclass(slots=True)
class SyncStats:
    orders: int = 0
    unchanged: int = 0
    customers: int = 0
    requests: int = 0
    throttled: int = 0
    points: float = 0.0
    waited_seconds: float = 0.0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _newer_wins(document: JSON) -> UpdateOne:
    """Replace only with newer data, atomically, as one pipeline update.

    The filter names only the fields of the unique index: SecantusDB plans any filter with a
    field outside the chosen index (say `updated_at: {$lt: ...}`) as a collection scan, and
    ignores hints (see BENCHMARKS.md), so the age check lives in the update instead.
    """
    newer = {"$gt": [document["updated_at"], {"$ifNull": ["$updated_at", EPOCH]}]}
    return UpdateOne(
        {"tenant_id": document["tenant_id"], "shopify_id": document["shopify_id"]},
        [
            {
                "$replaceWith": {
                    "$cond": [
                        newer,
                        {"$mergeObjects": ["$$ROOT", {"$literal": document}]},
                        "$$ROOT",
                    ]
                }
            }
        ],
        upsert=True,
    )


async def _bulk_upsert(collection: Any, documents: list[JSON], stats: SyncStats) -> None:
    if not documents:
        return
    try:
        await collection.bulk_write([_newer_wins(d) for d in documents], ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        stats.unchanged += sum(1 for e in errors if e.get("code") == DUPLICATE_KEY)
        stats.errors.extend(
            str(e.get("errmsg"))[:200] for e in errors if e.get("code") != DUPLICATE_KEY
        )


async def raw_sync(
    db: Any, http: httpx.AsyncClient, tenant_id: str, url: str, token: str
) -> SyncStats:
    """Page through every order; write page N while page N+1 downloads."""
    stats = SyncStats()
    started = time.perf_counter()
    after: str | None = None
    pending: asyncio.Task[None] | None = None
    available: float | None = None
    restore = 0.0
    requested = 0.0

    async def write(nodes: list[JSON]) -> None:
        now = datetime.now(UTC)
        orders = [order_document(tenant_id, node, now) for node in nodes]
        customers = {
            c["id"]: customer_document(tenant_id, c, now)
            for c in (node.get("customer") for node in nodes)
            if c
        }
        await _bulk_upsert(db["orders"], orders, stats)
        await _bulk_upsert(db["customers"], list(customers.values()), stats)
        stats.orders += len(orders)
        stats.customers += len(customers)

    while True:
        if available is not None and restore and available < requested:
            delay = (requested - available) / restore
            stats.waited_seconds += delay
            await asyncio.sleep(delay)
        response = await http.post(
            url,
            content=orjson.dumps(
                {"query": SYNC_QUERY, "variables": {"first": SYNC_PAGE_SIZE, "after": after}}
            ),
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
        )
        stats.requests += 1
        payload = orjson.loads(response.content)
        cost = (payload.get("extensions") or {}).get("cost") or {}
        throttle = cost.get("throttleStatus") or {}
        available = float(throttle.get("currentlyAvailable", 0))
        restore = float(throttle.get("restoreRate", 0))
        requested = float(cost.get("requestedQueryCost") or 0)
        errors = payload.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
            stats.throttled += 1
            continue
        if errors or response.status_code != 200:
            stats.errors.append(str(errors or response.status_code)[:200])
            break
        stats.points += float(cost.get("actualQueryCost") or 0)
        orders = payload["data"]["orders"]
        if pending is not None:
            await pending
        pending = asyncio.create_task(write(orders["nodes"]))
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    if pending is not None:
        await pending
    stats.seconds = time.perf_counter() - started
    return stats


async def sync(request: Request) -> Response:
    state: BaselineState = request.app.state.baseline
    body = orjson.loads(await request.body())
    stats = await raw_sync(state.db, state.http, body["tenant_id"], body["url"], body["token"])
    return _json(
        {
            "orders": stats.orders,
            "customers": stats.customers,
            "requests": stats.requests,
            "throttled": stats.throttled,
            "points": stats.points,
            "waited_seconds": stats.waited_seconds,
            "seconds": stats.seconds,
            "errors": stats.errors[:5],
        }
    )


async def health(request: Request) -> Response:
    state: BaselineState = request.app.state.baseline
    await state.db.command("ping")
    return _json({"status": "ok"})


@dataclass(slots=True)
class BaselineState:
    client: AsyncMongoClient[JSON]
    db: Any
    http: httpx.AsyncClient
    secret: bytes
    api_keys: dict[str, str]


def create_baseline_app(config: BaselineConfig) -> Starlette:
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client: AsyncMongoClient[JSON] = AsyncMongoClient(
            config.mongodb_uri, tz_aware=True, tzinfo=UTC, maxPoolSize=100
        )
        http = httpx.AsyncClient(trust_env=False, timeout=30.0)
        app.state.baseline = BaselineState(
            client, client[config.mongodb_db], http, config.api_secret.encode(), config.api_keys
        )
        try:
            yield
        finally:
            await http.aclose()
            await client.close()

    return Starlette(
        routes=[
            Route("/api/health", health),
            Route("/api/webhooks/{topic:path}", webhook, methods=["POST"]),
            Route("/returns", returns_page),
            Route("/lookup", lookup),
            Route("/sync", sync, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
