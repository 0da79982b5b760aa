"""`rms bench` shipping: return labels and carrier tracking, against the carrier simulator
(`python -m tools.carrier_sim` in a process of its own, as EasyPost is to the service).

- Approvals: `approveReturn` p50 (GraphQL, 1 sender) over returns asked for with a prepaid label
  against returns the customer ships, alternated (the order of each pair swapped every other
  pair, so the machine's noise and the background work fall on both kinds alike), on one
  served process with its background jobs on, as deployed: the label workers
  (`LABEL_WORKERS`) buy each approved label from the simulator beside the approvals. The shop
  has a return address (`updateReturnPolicy(input: {shipping: ...})`) and orders with full
  addresses; it is not connected to Shopify (no mirror work on either side). Approving a label
  return writes nothing about the label (the approval itself makes the purchase claimable), so
  both kinds should cost the same.
- Tracking webhook ingest, in the style of the Shopify ingest row: distinct signed EasyPost
  `tracker.updated` Events (real payloads rendered by the simulator, each with its own id and a
  fresh `created_at`) POSTed by as many senders to `/api/webhooks/easypost` (background jobs
  off), against the raw baseline's webhook route (`tools/bench/baseline.py`), which does the
  same work for the same bodies: check an HMAC-SHA256 of the raw body, parse it, insert one
  document, answer 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from app.carriers.easypost import Address as CarrierAddress
from app.carriers.easypost import EasyPostClient, cheapest_rate
from app.db import connect
from app.models import Order, Return, Tenant, WebhookEvent
from app.models.order import Address, LineItem, OrderCustomer
from app.services.auth import issue_api_key
from app.services.shipping.tracking import CARRIER_SOURCE
from app.shopify.hmac import sign_webhook
from tools.bench.baseline import WEBHOOK_COLLECTION
from tools.bench.load import LoadResult, LoadSpec, PreparedRequest, run_load
from tools.bench.process import ServerProcess, serving_process
from tools.bench.refunds import _graphql
from tools.bench.report import FAIL, PASS, REPORTED, Report, Row
from tools.carrier_sim import CarrierSimControl, sign_easypost_webhook
from tools.devdb import free_port

if TYPE_CHECKING:
    from tools.bench.harness import Stack

CARRIER_KEY = "bench-easypost-key"
WEBHOOK_SECRET = "bench-easypost-webhook-secret"
SHOP = "benchship.myshopify.com"
TENANT = "tenant-benchship"
FIRST_ORDER = 7_000_000_000_000
WARMUP_PAIRS = 5  # approvals of each kind before the recorded ones
CREATE_AT_ONCE = 4  # returns created concurrently before the timed part
RATIO_LIMIT = 1.10
INGEST_SHARE = 0.40
EVENT_TEMPLATES = 50  # distinct tracker payloads the ingest bodies cycle through
SHOP_ADDRESS = {
    "name": "Bench Returns",
    "street1": "388 Townsend St",
    "city": "San Francisco",
    "province": "CA",
    "zip": "94107",
    "countryCode": "US",
}
CUSTOMER = Address(
    name="Ada Lovelace",
    address1="1 Main St",
    city="Austin",
    province="Texas",
    province_code="TX",
    zip="73301",
    country="United States",
    country_code="US",
)
POLICY = """mutation BenchShipping($input: UpdateReturnPolicyInput!) {
  updateReturnPolicy(input: $input) { userErrors { code message } } }"""
CREATE = """mutation BenchCreate($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id } userErrors { code message } } }"""
APPROVE = """mutation BenchApprove($id: ID!) { approveReturn(id: $id) {
  return { id status } userErrors { code message } } }"""


# The carrier simulator --------------------------------------------------------------------
@contextlib.contextmanager
def carrier_simulator(workdir: Path) -> Iterator[str]:
    """The base URL of `python -m tools.carrier_sim` (one account, `CARRIER_KEY`; Events are
    recorded, not sent), in a process of its own so that it shares no interpreter with the
    timing client."""
    port = free_port()
    argv = ["tools.carrier_sim", "--port", str(port), "--api-key", CARRIER_KEY]
    log_path = workdir / f"carrier-sim-{port}.log"
    with serving_process(argv, port, log_path, "the carrier simulator"):
        yield f"http://127.0.0.1:{port}"


# The shop and its returns -----------------------------------------------------------------
def _order(index: int, now: datetime) -> Order:
    shopify_id = str(FIRST_ORDER + index * 10)
    number = str(70_001 + index)
    email = f"shipper{index}@example.com"
    return Order(
        tenant_id=TENANT,
        shopify_id=shopify_id,
        admin_graphql_api_id=f"gid://shopify/Order/{shopify_id}",
        order_number=number,
        name=f"#{number}",
        email=email,
        customer=OrderCustomer(id=str(FIRST_ORDER + index * 10 + 9), email=email),
        line_items=[
            LineItem(
                id=str(FIRST_ORDER + index * 10 + 1),
                title="Linen shirt",
                variant_id="900",
                product_id="800",
                sku="SKU-0",
                quantity=1,
                fulfilled_quantity=1,
                price=Decimal("24.50"),
            )
        ],
        financial_status="paid",
        fulfillment_status="fulfilled",
        subtotal_price=Decimal("24.50"),
        total_price=Decimal("24.50"),
        shipping_address=CUSTOMER,
        fulfilled_at=now - timedelta(days=3),
        delivered_at=now - timedelta(days=1),
        created_at=now - timedelta(days=4),
        updated_at=now - timedelta(days=3),
    )


async def _shop(stack: Stack, orders: int) -> tuple[str, list[Order]]:
    """Our shop (an API key, no Shopify connection) and its orders; webhook events left by
    earlier measurements are dropped, as before the sync: no worker spends this one on them."""
    database = await connect(stack.settings(), create_indexes=False)
    try:
        await Tenant.new(TENANT, SHOP, "Bench shipping shop").insert()
        issued = await issue_api_key(TENANT, "bench-shipping")
        now = datetime.now(UTC)
        made = [_order(index, now) for index in range(orders)]
        await Order.insert_many(made)
        await WebhookEvent.get_pymongo_collection().delete_many({"processed": False})
    finally:
        await database.close()
    return issued.key, made


async def _requested(
    http: httpx.AsyncClient, url: str, orders: list[Order]
) -> list[tuple[str, str]]:
    """A requested return per order through the portal, alternately with a prepaid label and
    shipped by the customer: (return id, method) in the orders' order."""
    portal = {"X-Tenant-Id": TENANT}
    limit = asyncio.Semaphore(CREATE_AT_ONCE)

    async def create(index: int, order: Order) -> tuple[str, str]:
        method = "PREPAID_LABEL" if index % 2 == 0 else "CUSTOMER_SHIPS"
        async with limit:
            created = await _graphql(
                http,
                url,
                CREATE,
                {
                    "input": {
                        "orderId": order.shopify_id,
                        "customerEmail": order.email,
                        "returnMethod": method,
                        "resolutionType": "REFUND",
                        "items": [
                            {
                                "lineItemId": order.line_items[0].id,
                                "quantity": 1,
                                "reason": "DEFECTIVE",
                            }
                        ],
                    }
                },
                portal,
            )
        return str(created["return"]["id"]), method

    return list(await asyncio.gather(*(create(i, order) for i, order in enumerate(orders))))


async def _approvals(
    http: httpx.AsyncClient, url: str, key: str, returns: list[tuple[str, str]]
) -> dict[str, list[float]]:
    """Seconds of each `approveReturn`, by method; pairs (one of each kind) in turn, the kind
    that goes first swapped every other pair; the first `WARMUP_PAIRS` pairs not recorded."""
    staff = {"Authorization": f"Bearer {key}"}
    labels = [rid for rid, method in returns if method == "PREPAID_LABEL"]
    ships = [rid for rid, method in returns if method == "CUSTOMER_SHIPS"]
    each: dict[str, list[float]] = {"PREPAID_LABEL": [], "CUSTOMER_SHIPS": []}
    for index, pair in enumerate(zip(labels, ships, strict=True)):
        kinds = list(zip(("PREPAID_LABEL", "CUSTOMER_SHIPS"), pair, strict=True))
        for method, return_id in kinds if index % 2 == 0 else kinds[::-1]:
            started = time.perf_counter()
            payload = await _graphql(http, url, APPROVE, {"id": return_id}, staff)
            seconds = time.perf_counter() - started
            if payload["return"]["status"] != "APPROVED":
                raise RuntimeError(f"approveReturn answered {payload}")
            if index >= WARMUP_PAIRS:
                each[method].append(seconds)
            await asyncio.sleep(0.005)  # a staff member's pace, not a tight loop
    return each


async def _labels(stack: Stack, wait: float) -> dict[str, int]:
    """How many of the shop's label returns are in each shipment status, once every purchase
    has ended (bought or failed) or after `wait` seconds."""
    database = await connect(stack.settings(), create_indexes=False)
    try:
        returns = database.db[Return.Settings.name]
        deadline = time.perf_counter() + wait
        while True:
            counts: dict[str, int] = {}
            async for found in returns.find(
                {"tenant_id": TENANT, "return_method": "prepaid_label"}, {"shipment.status": 1}
            ):
                status = str((found.get("shipment") or {}).get("status"))
                counts[status] = counts.get(status, 0) + 1
            if not counts.get("label_pending") or time.perf_counter() > deadline:
                return counts
            await asyncio.sleep(0.5)
    finally:
        await database.close()


async def _approval_run(stack: Stack, url: str, key: str, orders: list[Order]) -> Any:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        await _graphql(
            http,
            url,
            POLICY,
            {"input": {"shipping": {"returnAddress": SHOP_ADDRESS}}},
            {"Authorization": f"Bearer {key}"},
        )
        returns = await _requested(http, url, orders)
        started = time.perf_counter()
        each = await _approvals(http, url, key, returns)
        seconds = time.perf_counter() - started
    during = await _labels(stack, 0.0)
    after = await _labels(stack, max(30.0, seconds))
    return each, seconds, during, after


def measure_approvals(stack: Stack, sim_url: str, report: Report) -> None:
    from tools.bench.harness import log, service_env

    count = stack.config.shipping_approvals
    pairs = count + WARMUP_PAIRS
    key, orders = asyncio.run(_shop(stack, 2 * pairs))
    env = service_env(stack.db, stack.db_name, stack.sim_base, background=True) | {
        "EASYPOST_API_KEY": CARRIER_KEY,
        "EASYPOST_API_BASE_URL": f"{sim_url}/v2",
    }
    with ServerProcess("ours", env, stack.workdir) as server:
        log(f"shipping: {2 * pairs} returns requested; approvals alternated, label workers on")
        each, seconds, during, after = asyncio.run(_approval_run(stack, server.url, key, orders))
    workers = stack.settings(background=True).label_workers  # what the server read too
    label_ms = statistics.median(each["PREPAID_LABEL"]) * 1000
    ships_ms = statistics.median(each["CUSTOMER_SHIPS"]) * 1000
    bought = after.get("label_created", 0)
    report.add(
        Row(
            f"approveReturn, {count} PREPAID_LABEL vs {count} CUSTOMER_SHIPS, alternated",
            "p50 (1 sender, label workers on)",
            "ms",
            label_ms,
            ships_ms,
            f"within {RATIO_LIMIT - 1:.0%} of CUSTOMER_SHIPS",
            PASS if label_ms <= RATIO_LIMIT * ships_ms and bought == pairs else FAIL,
            note=(
                f"{workers} label workers buying from the carrier simulator meanwhile; "
                f"labels bought by the last approval {during.get('label_created', 0)} of "
                f"{pairs}, in the end {bought}"
                + ("" if bought == pairs else f" (shipments: {after})")
            ),
            details={
                "approvals_seconds": seconds,
                "label_p90_ms": _p90(each["PREPAID_LABEL"]),
                "customer_ships_p90_ms": _p90(each["CUSTOMER_SHIPS"]),
                "shipments_after_last_approval": during,
                "shipments_in_the_end": after,
            },
        )
    )


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] * 1000 if len(values) > 1 else 0.0


# Tracking webhook ingest ------------------------------------------------------------------
async def tracker_events(sim_url: str) -> list[dict[str, Any]]:
    """`tracker.updated` Events as the simulator renders them: a few labels bought on its
    account, then its clock moved to their first tracking step."""
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        carrier = EasyPostClient(http, f"{sim_url}/v2", CARRIER_KEY)
        shop = CarrierAddress(
            name=SHOP_ADDRESS["name"],
            street1=SHOP_ADDRESS["street1"],
            city=SHOP_ADDRESS["city"],
            state=SHOP_ADDRESS["province"],
            zip=SHOP_ADDRESS["zip"],
            country=SHOP_ADDRESS["countryCode"],
        )
        for index in range(3):
            customer = CarrierAddress(
                name=f"Customer {index}",
                street1=f"{index + 1} Main St",
                city="Austin",
                state="TX",
                zip="73301",
                country="US",
            )
            shipment = await carrier.create_return_shipment(
                customer=customer, shop=shop, weight_oz=Decimal(16), reference="bench"
            )
            rate = cheapest_rate(shipment.rates, [], drop_off=False)
            assert rate is not None, shipment.rates
            await carrier.buy(shipment.id, rate.id)
        control = CarrierSimControl(http, sim_url)
        await control.advance(12)  # the default script's first step: in_transit
        events = await control.events(description="tracker.updated")
    payloads = [dict(event["payload"]) for event in events][:EVENT_TEMPLATES]
    if not payloads:
        raise RuntimeError("the carrier simulator rendered no tracker.updated Event")
    return payloads


def event_bodies(templates: list[dict[str, Any]], count: int, prefix: str) -> list[bytes]:
    """`count` distinct Events (own ids, made now), cycling through the simulator's."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        orjson.dumps(
            templates[index % len(templates)]
            | {"id": f"evt_{prefix}{index:07d}", "created_at": now, "updated_at": now}
        )
        for index in range(count)
    ]


def our_requests(bodies: list[bytes]) -> list[PreparedRequest]:
    """Signed as EasyPost signs them (`X-Hmac-Signature: hmac-sha256-hex=...`)."""
    return [
        PreparedRequest.with_bytes(
            "POST",
            "/api/webhooks/easypost",
            {
                "Content-Type": "application/json",
                "User-Agent": "EasyPost WebHook Agent 1.0",
                "X-Hmac-Signature": sign_easypost_webhook(body, WEBHOOK_SECRET),
            },
            body,
        )
        for body in bodies
    ]


def baseline_requests(bodies: list[bytes], secret: str) -> list[PreparedRequest]:
    """The same bodies to the raw baseline's webhook route, signed as it checks (base64
    HMAC-SHA256 of the body), the Event's id as the stored event id."""
    return [
        PreparedRequest.with_bytes(
            "POST",
            "/api/webhooks/easypost",
            {
                "Content-Type": "application/json",
                "X-Shopify-Event-Id": str(orjson.loads(body)["id"]),
                "X-Shopify-Hmac-Sha256": sign_webhook(body, secret),
            },
            body,
        )
        for body in bodies
    ]


async def _stored_and_cleared(stack: Stack) -> int:
    """Carrier events our run stored; then both runs' events are dropped (no later worker
    spends its measurement on them)."""
    database = await connect(stack.settings(), create_indexes=False)
    try:
        events = database.db[WebhookEvent.Settings.name]
        stored = int(await events.count_documents({"shop_domain": CARRIER_SOURCE}))
        await events.delete_many({"shop_domain": CARRIER_SOURCE})
        await database.db[WEBHOOK_COLLECTION].delete_many({"topic": "easypost"})
        return stored
    finally:
        await database.close()


def measure_ingest(stack: Stack, base: ServerProcess, sim_url: str, report: Report) -> None:
    from tools.bench.harness import API_SECRET, _load_note, log, service_env

    config = stack.config
    templates = asyncio.run(tracker_events(sim_url))
    warmup = config.webhook_concurrency * 2
    total = config.webhook_requests + warmup
    env = service_env(stack.db, stack.db_name, stack.sim_base, background=False) | {
        "EASYPOST_WEBHOOK_SECRET": WEBHOOK_SECRET
    }
    results: dict[str, LoadResult] = {}
    with ServerProcess("ours", env, stack.workdir) as ours:
        for name, server in (("baseline", base), ("ours", ours)):
            bodies = event_bodies(templates, total, f"{name}{uuid.uuid4().hex[:8]}")
            requests = (
                our_requests(bodies) if name == "ours" else baseline_requests(bodies, API_SECRET)
            )
            spec = LoadSpec(
                url=server.url,
                requests=requests,
                concurrency=config.webhook_concurrency,
                max_requests=config.webhook_requests,
                max_seconds=config.webhook_seconds,
                warmup=warmup,
            )
            log(f"tracking webhook ingest: {name}, {config.webhook_concurrency} senders")
            results[name] = run_load(spec, stack.workdir, f"carrier-webhook-{name}")
    stored = asyncio.run(_stored_and_cleared(stack))
    ours_r, base_r = results["ours"], results["baseline"]
    sent = ours_r.requests + warmup
    ratio = ours_r.rps / base_r.rps if base_r.rps else None
    operation = "tracking webhook ingest (EasyPost tracker.updated)"
    metric = f"({config.webhook_concurrency} senders)"
    report.add(
        Row(
            operation,
            f"requests/s {metric}",
            "req/s",
            ours_r.rps,
            base_r.rps,
            f">= {INGEST_SHARE:.0%} of baseline",
            PASS
            if ratio is not None and ratio >= INGEST_SHARE and not ours_r.errors and stored >= sent
            else FAIL,
            note=_load_note(ours_r)
            or (f"{stored} of {sent} events stored" if stored < sent else ""),
            details={
                "ours": ours_r.as_dict(),
                "baseline": base_r.as_dict(),
                "stored": stored,
                "baseline_is": "the raw baseline's webhook route, same bodies",
            },
        )
    )
    report.add(
        Row(
            operation,
            f"p99 {metric}",
            "ms",
            ours_r.p99_ms,
            base_r.p99_ms,
            "reported",
            REPORTED,
            details={"ours_p50_ms": ours_r.p50_ms, "baseline_p50_ms": base_r.p50_ms},
        )
    )


def measure_shipping(stack: Stack, base: ServerProcess, report: Report) -> None:
    with carrier_simulator(stack.workdir) as sim_url:
        measure_approvals(stack, sim_url, report)
        measure_ingest(stack, base, sim_url, report)
