"""Control API under `/_sim/...`: shops, orders, customers, uninstall, compliance, faults,
deliveries, the app proxy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import exchanges, inventory, payloads, reverse_deliveries
from . import returns as returns_api
from . import store_credit as credits
from .config import BucketConfig
from .http import json_response
from .models import JSON, ShopState, WebhookFaults, utcnow
from .payments import Payment, PaymentError, public_refund, public_transaction, requested_payments
from .seed import add_order, fulfill
from .state import SimState, normalize_shop
from .storefront import public_customer, validate_app_proxy
from .webhooks import COMPLIANCE_TOPICS, TOPICS, WebhookDispatcher


def _sim(request: Request) -> tuple[SimState, WebhookDispatcher]:
    return request.app.state.sim, request.app.state.dispatcher


async def _body(request: Request) -> JSON:
    raw = await request.body()
    if not raw:
        return {}
    loaded = orjson.loads(raw)
    return loaded if isinstance(loaded, dict) else {}


def _not_found(what: str) -> Response:
    return json_response({"error": f"{what} not found"}, status_code=404)


def _shop(request: Request) -> ShopState | None:
    state, _ = _sim(request)
    return state.shops.get(normalize_shop(request.path_params["shop"]) or "")


def public_order(order: JSON) -> JSON:
    """An order in GraphQL shape without the simulator's internal keys."""
    shown = {key: value for key, value in order.items() if not key.startswith("_")}
    shown["customer"] = (
        None
        if order.get("customer") is None
        else {key: value for key, value in order["customer"].items() if not key.startswith("_")}
    )
    shown["lineItems"] = order["_lineItems"]
    shown["fulfillments"] = [
        {key: value for key, value in f.items() if not key.startswith("_")}
        | {
            "fulfillmentLineItems": [
                {"id": i["id"], "quantity": i["quantity"], "lineItemId": i["lineItem"]["id"]}
                for i in f["_fulfillmentLineItems"]
            ]
        }
        for f in order["_fulfillments"]
    ]
    shown["transactions"] = [public_transaction(t) for t in order["_transactions"]]
    shown["refunds"] = [public_refund(r) for r in order["_refunds"]]
    shown["fulfillment_orders"] = [
        exchanges.public_fulfillment_order(f) for f in order.get("_fulfillment_orders", [])
    ]
    return shown


def shop_summary(state: SimState, shop: ShopState) -> JSON:
    return {
        "domain": shop.domain,
        "shop_id": shop.shop_id,
        "name": shop.name,
        "seed": shop.seed,
        "installed": shop.installed,
        "uninstalled_at": shop.uninstalled_at,
        "granted_scope": shop.granted_scope,
        "orders": len(shop.orders),
        "customers": len(shop.customers),
        "compliance_url": shop.compliance_url,
        "bucket": shop.bucket.status(),
        "faults": shop.faults.public(),
        "webhook_faults": shop.webhook_faults.public(),
        "counters": dict(shop.counters),
        "subscriptions": [
            sub.node() | {"failures": sub.failures} for sub in shop.subscriptions.values()
        ],
        "returns": [returns_api.public(record) for record in shop.returns.values()],
        "bulk_operations": [{k: v for k, v in op.node().items()} for op in shop.bulk_operations],
        "pending_deliveries": shop.pending_deliveries,
        "held_events": len(shop.held_events),
    }


async def create_shop(request: Request) -> Response:
    state, _ = _sim(request)
    body = await _body(request)
    domain = normalize_shop(str(body.get("domain") or body.get("shop") or ""))
    if domain is None:
        return json_response({"error": "domain must look like name.myshopify.com"}, status_code=400)
    currency = str(body.get("currency") or "USD")
    if currency not in request.app.state.schema.get_type("CurrencyCode").values:
        return json_response({"error": f"currency {currency!r} is not supported"}, status_code=400)
    bucket = BucketConfig(
        maximum=float(body.get("bucket_size", state.config.bucket.maximum)),
        restore_rate=float(body.get("restore_rate", state.config.bucket.restore_rate)),
    )
    shop = state.create_shop(
        domain,
        seed=body.get("seed"),
        orders=body.get("orders"),
        bucket=bucket,
        compliance_url=body.get("compliance_url"),
        currency=currency,
    )
    answer = shop_summary(state, shop)
    if body.get("install"):
        code = state.issue_code(
            shop.domain,
            str(
                body.get("scope")
                or "read_orders,read_all_orders,read_customers,read_returns,write_returns"
            ),
        )
        answer["token"] = state.exchange_code(
            shop, state.config.api_key, state.config.api_secret, code
        )
    return json_response(answer, status_code=201)


async def list_shops(request: Request) -> Response:
    state, _ = _sim(request)
    return json_response({"shops": sorted(state.shops)})


async def get_shop(request: Request) -> Response:
    state, _ = _sim(request)
    shop = _shop(request)
    return _not_found("shop") if shop is None else json_response(shop_summary(state, shop))


def _options(shop: ShopState, body: JSON) -> WebhookFaults | None:
    deliver = body.get("deliver")
    if not isinstance(deliver, dict):
        return None
    options = WebhookFaults(
        duplicates=int(deliver.get("duplicates", 1)),
        concurrent=bool(deliver.get("concurrent", False)),
        hold_next=0,
    )
    if deliver.get("hold"):
        shop.webhook_faults.hold_next += 1
        return None
    return options


async def list_orders(request: Request) -> Response:
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    offset = int(request.query_params.get("offset", 0))
    limit = int(request.query_params.get("limit", 50))
    return json_response(
        {
            "total": len(shop.orders),
            "orders": [public_order(o) for o in shop.orders[offset : offset + limit]],
        }
    )


def _find_order(shop: ShopState, reference: str) -> JSON | None:
    if reference.startswith("#") or reference.startswith("%23"):
        name = "#" + reference.lstrip("#").removeprefix("%23")
        return next((o for o in shop.orders if o["name"] == name), None)
    wanted = reference if reference.startswith("gid://") else f"gid://shopify/Order/{reference}"
    return shop.orders_by_id.get(wanted)


async def get_order(request: Request) -> Response:
    shop = _shop(request)
    order = None if shop is None else _find_order(shop, request.path_params["order"])
    return _not_found("order") if order is None else json_response(public_order(order))


async def create_order(request: Request) -> Response:
    _, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    customer = None
    if body.get("customer_id"):
        customer = shop.customers_by_id.get(str(body["customer_id"])) or shop.customers_by_id.get(
            f"gid://shopify/Customer/{body['customer_id']}"
        )
    elif body.get("email"):
        customer = next((c for c in shop.customers if c["email"] == body["email"]), None)
        if customer is None:
            from .seed import add_customer

            customer = add_customer(shop, created=utcnow(), email=str(body["email"]))
    now = utcnow()
    financial_status = body.get("financial_status")
    payments: Callable[[Decimal, str], list[Payment]] | None = None
    if body.get("payments") is not None:
        payments = partial(_requested_payments, specs=body["payments"], currency=shop.currency)
    try:
        order = add_order(
            shop,
            created=now,
            customer=customer,
            fulfilled=bool(body.get("fulfilled", False)),
            allow_partial=False,
            lines=body.get("line_items"),
            financial_status=financial_status,
            tags=body.get("tags"),
            payments=payments,
        )
    except PaymentError as error:
        return json_response({"error": str(error)}, status_code=400)
    if body.get("fulfilled"):
        for fulfillment in order["_fulfillments"]:
            fulfillment["deliveredAt"] = fulfillment["createdAt"]
            fulfillment["displayStatus"] = "DELIVERED"
    event = dispatcher.emit(
        shop, "orders/create", payloads.order(order, shop), options=_options(shop, body)
    )
    return json_response({"order": public_order(order), "event": event}, status_code=201)


def _requested_payments(
    total: Decimal, financial_status: str, *, specs: Any, currency: str
) -> list[Payment]:
    return requested_payments(specs, total, currency, financial_status)


async def update_order(request: Request) -> Response:
    _, dispatcher = _sim(request)
    shop = _shop(request)
    order = None if shop is None else _find_order(shop, request.path_params["order"])
    if shop is None or order is None:
        return _not_found("order")
    body = await _body(request)
    for key, field in (
        ("tags", "tags"),
        ("note", "note"),
        ("email", "email"),
        ("financial_status", "displayFinancialStatus"),
    ):
        if key in body:
            order[field] = sorted(body[key]) if key == "tags" else body[key]
    now = utcnow()
    if body.get("fulfill"):
        fulfill(shop, order, at=now)
    if body.get("cancel"):
        order["cancelledAt"] = order["closedAt"] = order["updatedAt"]
        order["cancelReason"] = "CUSTOMER"
        order["closed"] = True
    moment = (
        max(now, order["_updated"] + timedelta(seconds=1))
        if body.get("strictly_newer", True)
        else now
    )
    order["_updated"] = moment
    order["updatedAt"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if body.get("cancel"):
        order["cancelledAt"] = order["closedAt"] = order["updatedAt"]
    event = dispatcher.emit(
        shop, "orders/updated", payloads.order(order, shop), options=_options(shop, body)
    )
    return json_response({"order": public_order(order), "event": event})


async def uninstall(request: Request) -> Response:
    state, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    targets = dispatcher.targets_for(shop, "app/uninstalled")
    state.uninstall(shop)
    event = dispatcher.emit(shop, "app/uninstalled", payloads.shop_payload(shop), targets=targets)
    return json_response({"uninstalled": True, "event": event})


async def scopes(request: Request) -> Response:
    """The merchant changed what the app may do: `{"scope": "read_orders,..."}`. Live tokens
    get the new scopes, and `app/scopes_update` goes to the app-configuration subscription."""
    state, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    if not isinstance(body.get("scope"), str):
        return json_response({"error": "scope must be a comma-separated string"}, status_code=400)
    previous, current = state.change_scopes(shop, body["scope"])
    event = dispatcher.emit(
        shop, "app/scopes_update", payloads.scopes_update(shop, previous, current)
    )
    return json_response({"previous": previous, "current": current, "event": event})


async def compliance(request: Request) -> Response:
    _, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    topic = str(body.get("topic") or "")
    if topic not in COMPLIANCE_TOPICS:
        return json_response(
            {"error": f"topic must be one of {list(COMPLIANCE_TOPICS)}"}, status_code=400
        )
    if body.get("compliance_url"):
        shop.compliance_url = str(body["compliance_url"])
    if topic == "shop/redact":
        payload = payloads.shop_redact(shop)
    else:
        customer = shop.customers_by_id.get(str(body.get("customer_id") or "")) or (
            next((c for c in shop.customers if c["email"] == body.get("email")), None)
            if body.get("email")
            else shop.customers[0]
        )
        if customer is None:
            return _not_found("customer")
        who = {
            "id": int(customer["legacyResourceId"]),
            "email": customer["email"],
            "phone": customer["phone"],
        }
        orders = [o["_number"] for o in customer["_orders"]]
        if topic == "customers/redact":
            payload = payloads.customers_redact(shop, who, orders)
        else:
            shop.count("data_requests")
            payload = payloads.customers_data_request(
                shop, who, orders, 9_000 + shop.counters["data_requests"]
            )
    event = dispatcher.emit(shop, topic, payload, options=_options(shop, body))
    return json_response({"event": event, "payload": payload})


def _optional_text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


FAULT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "latency_ms": int,
    "error_rate": float,
    "error_status": int,
    "fail_next": int,
    "timeout_rate": float,
    "timeout_next": int,
    "hang_seconds": float,
    "drop_response_next": int,
    "drop_response_operation": _optional_text,
}


async def set_faults(request: Request) -> Response:
    state, _ = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    if request.method == "DELETE" or body.get("reset"):
        shop.faults.latency_ms = shop.faults.fail_next = shop.faults.timeout_next = 0
        shop.faults.error_rate = shop.faults.timeout_rate = 0.0
        shop.faults.drop_response_next = 0
        shop.faults.drop_response_operation = None
    for key, cast in FAULT_FIELDS.items():
        if key in body:
            setattr(shop.faults, key, cast(body[key]))
    if "seed" in body:
        import random

        shop.faults.rng = random.Random(body["seed"])
    bucket = shop.bucket
    bucket.level()
    if "bucket_size" in body:
        bucket.maximum = float(body["bucket_size"])
        bucket.available = min(bucket.available, bucket.maximum)
    if "restore_rate" in body:
        bucket.restore_rate = float(body["restore_rate"])
    if "bucket_available" in body:
        bucket.available = float(body["bucket_available"])
    if "expire_tokens_in" in body:
        state.expire_tokens(shop, float(body["expire_tokens_in"]))
    if body.get("expire_tokens_now"):
        state.expire_tokens(shop, 0.0)
    return json_response(shop_summary(state, shop))


async def set_webhook_faults(request: Request) -> Response:
    state, _ = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    faults = shop.webhook_faults
    faults.duplicates = int(body.get("duplicates", faults.duplicates))
    faults.concurrent = bool(body.get("concurrent", faults.concurrent))
    faults.hold_next = int(body.get("hold_next", faults.hold_next))
    if "compliance_url" in body:
        shop.compliance_url = body["compliance_url"]
    return json_response(shop_summary(state, shop))


async def deliveries(request: Request) -> Response:
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    return json_response(
        {
            "deliveries": shop.deliveries,
            "events": shop.events,
            "pending": shop.pending_deliveries,
            "held": len(shop.held_events),
        }
    )


async def settle(request: Request) -> Response:
    _, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    if request.query_params.get("release") in {"1", "true"}:
        dispatcher.release_held(shop)
    settled = await dispatcher.settle(shop, float(request.query_params.get("timeout", 10)))
    return json_response(
        {"settled": settled, "pending": shop.pending_deliveries, "held": len(shop.held_events)}
    )


async def release(request: Request) -> Response:
    _, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    return json_response({"released": dispatcher.release_held(shop)})


async def expire_tokens(request: Request) -> Response:
    state, _ = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    changed = state.expire_tokens(shop, float(body.get("in_seconds", 0)))
    return json_response({"expired": changed})


async def customer_store_credit(request: Request) -> Response:
    """`GET /_sim/shops/{shop}/customers/{customer}/store_credit` (numeric id or GID)."""
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    customer_id = inventory.normalize_gid("Customer", request.path_params["customer"])
    customer = shop.customers_by_id.get(customer_id)
    if customer is None:
        return _not_found("customer")
    return json_response(
        {
            "customer_id": customer["id"],
            "accounts": [credits.public_account(a) for a in credits.accounts_of(shop, customer)],
        }
    )


async def list_locations(request: Request) -> Response:
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    return json_response({"locations": [inventory.public_location(loc) for loc in shop.locations]})


async def variant_inventory(request: Request) -> Response:
    """`GET` a variant's stock per location; `POST {location_id, available}` sets `available`
    there (`on_hand` moves by the same difference)."""
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    item = inventory.inventory_item(shop, request.path_params["variant"])
    if item is None:
        return _not_found("variant")
    if request.method == "POST":
        body = await _body(request)
        location = inventory.find_location(shop, body.get("location_id"))
        if location is None:
            return json_response({"error": "location_id is not a location of the shop"}, 400)
        value = body.get("available")
        if isinstance(value, bool) or not isinstance(value, int):
            return json_response({"error": "available must be an integer"}, 400)
        level = inventory.level_at(item, location)
        assert level is not None  # every item has a level at every location
        inventory.set_available(level, value)
    return json_response(inventory.public_inventory(item))


# Staff in Shopify admin: each action's webhook topic and what it does to the shop's returns.
StaffAction = Callable[[ShopState, JSON], JSON]


def _staff_cancel(shop: ShopState, body: JSON) -> JSON:
    return returns_api.cancel(shop, body.get("id"))


def _staff_close(shop: ShopState, body: JSON) -> JSON:
    return returns_api.close(shop, body.get("id"))


def _staff_reopen(shop: ShopState, body: JSON) -> JSON:
    return returns_api.reopen(shop, body.get("id"))


STAFF_ACTIONS: dict[str, tuple[str, StaffAction]] = {
    "request": ("returns/request", returns_api.request_return),
    # staff create a return in admin (as `returnCreate`, exchange lines too): OPEN at once
    # (with its reverse fulfillment order)
    "create": ("returns/approve", returns_api.create_open),
    "approve": ("returns/approve", returns_api.approve),
    "decline": ("returns/decline", returns_api.decline),
    "cancel": ("returns/cancel", _staff_cancel),
    "process": ("returns/process", returns_api.process),
    "close": ("returns/close", _staff_close),
    "reopen": ("returns/reopen", _staff_reopen),
}


async def staff_return_action(request: Request) -> Response:
    """`POST /_sim/shops/{shop}/staff/returns`: act on a return as staff in Shopify admin would
    (`action`: request, create, approve, decline, cancel, process, close, reopen; the rest of the body is the Admin
    mutation's input), and deliver the `returns/*` webhook Shopify sends for it (and
    `refunds/create` for the refund a `process` paid)."""
    _, dispatcher = _sim(request)
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    body = await _body(request)
    action = STAFF_ACTIONS.get(str(body.pop("action", "")))
    if action is None:
        return json_response(
            {"error": f"action must be one of {sorted(STAFF_ACTIONS)}"}, status_code=400
        )
    topic, apply = action
    result = apply(shop, body)
    if result["userErrors"] or result["return"] is None:
        return json_response({"userErrors": result["userErrors"]}, status_code=422)
    record = result["return"]
    event = dispatcher.emit(shop, topic, returns_api.webhook_payload(record))
    refund = result.get("_refund")
    if refund is not None:
        dispatcher.emit(shop, "refunds/create", payloads.refund(refund))
    return json_response({"return": returns_api.public(record), "event": event})


async def get_return(request: Request) -> Response:
    """`GET /_sim/shops/{shop}/returns/{id or GID}`: one return as the shop state lists it, each
    reverse fulfillment order with its `reverse_deliveries` (tracking, label, notification);
    the shop state itself leaves them out and keeps the shape it always had."""
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    record = shop.returns.get(inventory.normalize_gid("Return", request.path_params["return"]))
    if record is None:
        return _not_found("return")
    shown = returns_api.public(record)
    for entry, reverse in zip(
        shown["reverse_fulfillment_orders"], record["_reverse_fulfillment_orders"], strict=True
    ):
        entry["reverse_deliveries"] = [
            reverse_deliveries.public(delivery) for delivery in reverse.get("_deliveries", [])
        ]
    return json_response(shown)


async def list_customers(request: Request) -> Response:
    """`GET /_sim/shops/{shop}/customers`: every customer with the orders they placed."""
    shop = _shop(request)
    if shop is None:
        return _not_found("shop")
    return json_response({"customers": [public_customer(c) for c in shop.customers]})


async def order_customer(request: Request) -> Response:
    """`GET /_sim/shops/{shop}/orders/{order}/customer`: who placed the order (the id that can
    sign in on the storefront)."""
    shop = _shop(request)
    order = None if shop is None else _find_order(shop, request.path_params["order"])
    if order is None:
        return _not_found("order")
    if order.get("customer") is None:
        return _not_found("customer")
    return json_response(public_customer(order["customer"]))


async def app_proxy(request: Request) -> Response:
    """`GET`, `PUT {url, prefix, subpath, timeout}` or `DELETE /_sim/app-proxy`: the app's app
    proxy (every shop's storefront `/{prefix}/{subpath}/...` forwards to `url`)."""
    state, _ = _sim(request)
    if request.method == "DELETE":
        state.app_proxy.url = None
    elif request.method in ("PUT", "POST"):
        wanted = validate_app_proxy(await _body(request), state.config.app_proxy_timeout_seconds)
        if isinstance(wanted, str):
            return json_response({"error": wanted}, status_code=400)
        state.app_proxy = wanted
    return json_response(state.app_proxy.public())


async def health(_request: Request) -> Response:
    return json_response({"status": "ok", "topics": sorted(TOPICS.values())})


def control_routes() -> list[Route]:
    prefix = "/_sim/shops/{shop}"
    return [
        Route("/_sim/health", health),
        Route("/_sim/shops", create_shop, methods=["POST"]),
        Route("/_sim/shops", list_shops, methods=["GET"]),
        Route("/_sim/app-proxy", app_proxy, methods=["GET", "PUT", "POST", "DELETE"]),
        Route(prefix, get_shop, methods=["GET"]),
        Route(f"{prefix}/orders", list_orders, methods=["GET"]),
        Route(f"{prefix}/orders", create_order, methods=["POST"]),
        Route(f"{prefix}/orders/{{order}}", get_order, methods=["GET"]),
        Route(f"{prefix}/orders/{{order}}", update_order, methods=["POST", "PATCH", "PUT"]),
        Route(f"{prefix}/orders/{{order}}/customer", order_customer, methods=["GET"]),
        Route(f"{prefix}/customers", list_customers, methods=["GET"]),
        Route(f"{prefix}/uninstall", uninstall, methods=["POST"]),
        Route(f"{prefix}/scopes", scopes, methods=["POST"]),
        Route(f"{prefix}/compliance", compliance, methods=["POST"]),
        Route(f"{prefix}/staff/returns", staff_return_action, methods=["POST"]),
        Route(f"{prefix}/returns/{{return}}", get_return, methods=["GET"]),
        Route(
            f"{prefix}/customers/{{customer}}/store_credit", customer_store_credit, methods=["GET"]
        ),
        Route(f"{prefix}/locations", list_locations, methods=["GET"]),
        Route(f"{prefix}/inventory/{{variant}}", variant_inventory, methods=["GET", "POST"]),
        Route(f"{prefix}/faults", set_faults, methods=["PUT", "POST", "DELETE"]),
        Route(f"{prefix}/webhook-faults", set_webhook_faults, methods=["PUT", "POST"]),
        Route(f"{prefix}/tokens/expire", expire_tokens, methods=["POST"]),
        Route(f"{prefix}/deliveries", deliveries, methods=["GET"]),
        Route(f"{prefix}/deliveries/settle", settle, methods=["POST"]),
        Route(f"{prefix}/deliveries/release", release, methods=["POST"]),
    ]
