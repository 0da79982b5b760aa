"""`rms bench`: measure each operation of the service against the raw baseline, in one run.

Everything is started here and stopped again: an embedded SecantusDB (in memory), the Shopify
simulator (a thread of this process, wrapped in a cost meter), our service and the baseline
(each `python -m tools.bench.serve` in its own process on a free loopback port), and the load
generator (its own process per measurement). All traffic stays on 127.0.0.1 and every loop is
bounded in count and time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from pymongo import monitoring

from app.config import DEVELOPMENT_ENCRYPTION_KEY, Settings
from app.db import connect
from app.models import ApiKey, ShopifyIntegration, SyncJob, Tenant, WebhookEvent
from app.models.bson import to_bson
from app.services.integration.token_cipher import TokenCipher
from app.shopify.hmac import sign_webhook
from tools.bench import graphql_exec, refunds, scale
from tools.bench.baseline import WEBHOOK_COLLECTION
from tools.bench.fixtures import FixtureSummary, TenantFixture, load_fixtures, new_api_key
from tools.bench.load import LoadResult, LoadSpec, PreparedRequest, run_load
from tools.bench.notifications import measure_notifications
from tools.bench.options import DEFAULT_RESTORE_RATE, DEFAULT_SHOPIFY_ROUND_TRIP_MS, OPERATIONS
from tools.bench.portal import measure_portal
from tools.bench.process import ServerProcess
from tools.bench.refunds import BoundRun, budget_row, refund_rows
from tools.bench.report import ERROR, FAIL, PASS, PENDING, REPORTED, Report, Row
from tools.bench.shipping import measure_shipping
from tools.bench.sim_meter import CostMeter
from tools.devdb import EmbeddedDatabase
from tools.shopify_sim import InstalledShop, SimulatorConfig, SimulatorControl, ThreadedASGIServer
from tools.shopify_sim import payloads as sim_payloads
from tools.shopify_sim.app import create_simulator_app

API_KEY = "bench-api-key"
API_SECRET = "bench-api-secret-0123456789abcdef"
API_VERSION = "2026-10"
SYNC_SHOP = "benchsync.myshopify.com"
HOOK_SHOP = "benchhooks.myshopify.com"
BASELINE_SYNC_TENANT = "baseline-sync"
RSS_LIMIT_MIB = 250.0

RETURNS_QUERY = """
query BenchReturns($first: Int!) {
  returns(first: $first) {
    nodes {
      id status orderNumber customerEmail createdAt
      items { lineItemId quantity reason }
      order { id name email totalPrice { amount } lineItems { id title sku quantity price { amount } } }
    }
    pageInfo { hasNextPage }
  }
}
"""


@dataclass(frozen=True, slots=True)
class BenchConfig:
    mode: str
    orders: int
    returns: int
    webhook_requests: int
    webhook_seconds: float
    webhook_concurrency: int
    latency_requests: int
    latency_seconds: float
    sync_orders: int
    restore_rate: float
    bucket_size: float
    sync_timeout: float
    graphql_orders: int
    graphql_iterations: int
    # The durability measurement (on disk): a sync bounded by Shopify's bucket, as in production.
    durability_sync_orders: int
    durability_restore_rate: float
    refund_returns: int = 200  # refund returns resolved through the simulator
    shopify_round_trip_ms: int = DEFAULT_SHOPIFY_ROUND_TRIP_MS  # per Admin call, refunds timed
    # The refunds budget row's bucket: a production plan's restore rate (Shopify's plans: 100 to
    # 2,000 points/s), which our mirror binds.
    refund_bound_restore_rate: float = 200.0
    notify_deliveries: int = 2_000  # merchant webhook deliveries drained to a loopback receiver
    notify_approvals: int = 600  # approvals per block, blocks off, on, on, off (notifications)
    portal_requests: int = 2_000  # GETs of the portal page, and of the same bytes as a file
    shipping_approvals: int = 300  # approvals of each kind: prepaid label, customer ships
    only: tuple[str, ...] = OPERATIONS
    results_dir: Path | None = None  # None: bench/results

    def runs(self, name: str) -> bool:
        return name in self.only


FULL = BenchConfig(
    mode="full",
    orders=100_000,
    returns=20_000,
    webhook_requests=30_000,
    webhook_seconds=20.0,
    webhook_concurrency=32,
    latency_requests=1_000,
    latency_seconds=20.0,
    sync_orders=10_000,
    restore_rate=DEFAULT_RESTORE_RATE,
    bucket_size=1_000.0,
    sync_timeout=240.0,
    graphql_orders=1_000,
    graphql_iterations=30,
    durability_sync_orders=3_000,
    durability_restore_rate=1_000.0,
)
QUICK = replace(
    FULL,
    mode="quick",
    orders=10_000,
    returns=2_000,
    webhook_requests=5_000,
    webhook_seconds=6.0,
    latency_requests=200,
    latency_seconds=4.0,
    sync_orders=2_000,
    sync_timeout=35.0,
    graphql_iterations=10,
    durability_sync_orders=1_000,
    refund_returns=100,
    notify_deliveries=500,
    notify_approvals=300,
    portal_requests=500,
    shipping_approvals=100,
)
# For the smoke test: seconds, a few hundred documents.
TINY = replace(
    FULL,
    mode="tiny",
    orders=400,
    returns=80,
    webhook_requests=150,
    webhook_seconds=3.0,
    latency_requests=20,
    latency_seconds=3.0,
    sync_orders=60,
    sync_timeout=15.0,
    graphql_orders=50,
    graphql_iterations=2,
    durability_sync_orders=60,
    refund_returns=8,
    notify_deliveries=40,
    notify_approvals=10,
    portal_requests=40,
    shipping_approvals=10,
)


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# Environment of the two servers -----------------------------------------------------------
def service_env(
    db: EmbeddedDatabase, db_name: str, sim_base: str, background: bool
) -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "MONGODB_URI": db.uri,
        "MONGODB_DB": db_name,
        "APP_URL": "http://127.0.0.1:8000",
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SHOPIFY_API_VERSION": API_VERSION,
        "SHOPIFY_ADMIN_BASE_URL": f"{sim_base}/{{shop}}",
        "ENCRYPTION_KEYS": DEVELOPMENT_ENCRYPTION_KEY,
        "RUN_BACKGROUND_JOBS": "true" if background else "false",
        "LOG_JSON": "true",
    }


def baseline_env(
    db: EmbeddedDatabase, db_name: str, tenants: list[TenantFixture]
) -> dict[str, str]:
    keys = {tenant.api_key: tenant.tenant_id for tenant in tenants}
    return {
        "MONGODB_URI": db.uri,
        "MONGODB_DB": db_name,
        "SHOPIFY_API_SECRET": API_SECRET,
        "BENCH_API_KEYS": orjson.dumps(keys).decode(),
    }


# Requests ---------------------------------------------------------------------------------
def webhook_requests(
    count: int, shop_domain: str, bodies: list[bytes], prefix: str
) -> list[PreparedRequest]:
    """`count` distinct orders/create deliveries (unique event ids), signed like Shopify."""
    requests = []
    for i in range(count):
        body = bodies[i % len(bodies)]
        requests.append(
            PreparedRequest.with_bytes(
                "POST",
                "/api/webhooks/orders/create",
                {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Shop-Domain": shop_domain,
                    "X-Shopify-API-Version": API_VERSION,
                    "X-Shopify-Webhook-Id": f"{prefix}-wh-{i}",
                    "X-Shopify-Event-Id": f"{prefix}-ev-{i}",
                    "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
                    "X-Shopify-Hmac-Sha256": sign_webhook(body, API_SECRET),
                },
                body,
            )
        )
    return requests


def graphql_request(
    query: str, variables: dict[str, Any], headers: dict[str, str]
) -> PreparedRequest:
    body = orjson.dumps({"query": query, "variables": variables})
    return PreparedRequest.with_bytes(
        "POST", "/graphql", {"Content-Type": "application/json", **headers}, body
    )


# Schema introspection (operations that may not have landed yet) ----------------------------
INTROSPECTION = """
query BenchIntrospection {
  __schema {
    queryType { name } mutationType { name }
    types {
      name kind
      fields { name args { name type { kind name ofType { kind name ofType { kind name } } } }
               type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
      inputFields { name type { kind name ofType { kind name } } }
    }
  }
}
"""


class SchemaView:
    """Just enough of the live schema to build queries for operations owned by others."""

    def __init__(self, data: dict[str, Any]) -> None:
        schema = data["__schema"]
        self.types = {t["name"]: t for t in schema["types"]}
        self.query = schema["queryType"]["name"]
        self.mutation = (schema.get("mutationType") or {}).get("name")

    @staticmethod
    def named(type_ref: dict[str, Any]) -> dict[str, Any]:
        while type_ref.get("ofType") is not None and type_ref["kind"] in ("NON_NULL", "LIST"):
            type_ref = type_ref["ofType"]
        return type_ref

    def field(self, type_name: str | None, name: str) -> dict[str, Any] | None:
        if type_name is None:
            return None
        for item in self.types.get(type_name, {}).get("fields") or []:
            if item["name"] == name:
                return dict(item)
        return None

    def selection(self, type_name: str, depth: int = 3) -> str:
        """Every argument-free leaf field, and object fields' leaves down to `depth`."""
        parts = []
        for item in self.types[type_name].get("fields") or []:
            if any(self.named(a["type"])["kind"] == "NON_NULL" for a in item["args"]) or any(
                a["type"]["kind"] == "NON_NULL" for a in item["args"]
            ):
                continue
            named = self.named(item["type"])
            if named["kind"] in ("SCALAR", "ENUM"):
                parts.append(item["name"])
            elif named["kind"] == "OBJECT" and depth > 1:
                inner = self.selection(named["name"], depth - 1)
                if inner:
                    parts.append(f"{item['name']} {{ {inner} }}")
        return " ".join(parts)


async def introspect(http: httpx.AsyncClient, url: str) -> SchemaView:
    response = await http.post(f"{url}/graphql", json={"query": INTROSPECTION})
    response.raise_for_status()
    return SchemaView(response.json()["data"])


# What the baseline's lookup answers; the GraphQL query asks for the same where the type has it.
LOOKUP_FIELDS = ("id", "name", "createdAt")
LOOKUP_LINE_FIELDS = ("id", "title", "sku", "quantity", "price { amount }", "returnableQuantity")


def comparable_selection(schema: SchemaView, type_name: str) -> str:
    parts = [name for name in LOOKUP_FIELDS if schema.field(type_name, name)]
    lines = schema.field(type_name, "lineItems")
    if lines is not None:
        line_type = schema.named(lines["type"])["name"]
        inner = [
            selection
            for selection in LOOKUP_LINE_FIELDS
            if schema.field(line_type, selection.split()[0])
        ]
        if inner:
            parts.append("lineItems { " + " ".join(inner) + " }")
    return " ".join(parts) if len(parts) > len(LOOKUP_FIELDS) else ""


def lookup_query(schema: SchemaView) -> tuple[str, Callable[[str, str], dict[str, Any]]] | None:
    """The `lookupOrder` query for whatever shape it landed with; None when it is not there."""
    field = schema.field(schema.query, "lookupOrder")
    if field is None:
        return None
    named = schema.named(field["type"])["name"]
    selection = comparable_selection(schema, named) or schema.selection(named) or "__typename"
    arg_names = {a["name"] for a in field["args"]}
    if {"orderNumber", "customerEmail"} <= arg_names:
        query = (
            "query BenchLookup($n: String!, $e: String!) "
            f"{{ lookupOrder(orderNumber: $n, customerEmail: $e) {{ {selection} }} }}"
        )
        return query, lambda number, email: {"n": number, "e": email}
    if arg_names == {"input"}:
        input_type = schema.named(field["args"][0]["type"])["name"]
        query = (
            f"query BenchLookup($input: {input_type}!) "
            f"{{ lookupOrder(input: $input) {{ {selection} }} }}"
        )
        return query, lambda number, email: {
            "input": {"orderNumber": number, "customerEmail": email}
        }
    return None


# The whole run ----------------------------------------------------------------------------
@dataclass(slots=True)
class Stack:
    config: BenchConfig
    workdir: Path
    db: EmbeddedDatabase
    db_name: str
    simulator: ThreadedASGIServer
    meter: CostMeter
    fixtures: FixtureSummary

    @property
    def sim_base(self) -> str:
        return self.simulator.base_url

    def settings(self, background: bool = False) -> Settings:
        env = service_env(self.db, self.db_name, self.sim_base, background)
        values = {key.lower(): value for key, value in env.items()}
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _status(ok: bool) -> str:
    return PASS if ok else FAIL


def _load_note(result: LoadResult) -> str:
    if not result.errors:
        return ""
    return f"{result.errors} errors ({result.statuses}); first: {result.first_error}"


def measure_webhooks(
    stack: Stack, ours: ServerProcess, base: ServerProcess, report: Report
) -> None:
    config = stack.config
    tenant = stack.fixtures.tenants[0]
    bodies = webhook_bodies(stack)
    warmup = config.webhook_concurrency * 2
    total = config.webhook_requests + warmup
    results: dict[str, LoadResult] = {}
    for name, server in (("baseline", base), ("ours", ours)):
        prefix = f"{name}-{uuid.uuid4().hex[:8]}"
        spec = LoadSpec(
            url=server.url,
            requests=webhook_requests(total, tenant.shop_domain, bodies, prefix),
            concurrency=config.webhook_concurrency,
            max_requests=config.webhook_requests,
            max_seconds=config.webhook_seconds,
            warmup=warmup,
        )
        log(f"webhook ingest: {name}, {config.webhook_concurrency} senders")
        results[name] = run_load(spec, stack.workdir, f"webhook-{name}")
    ours_r, base_r = results["ours"], results["baseline"]
    details = {"ours": ours_r.as_dict(), "baseline": base_r.as_dict()}
    ratio = ours_r.rps / base_r.rps if base_r.rps else None
    report.add(
        Row(
            "webhook ingest",
            f"requests/s ({config.webhook_concurrency} senders)",
            "req/s",
            ours_r.rps,
            base_r.rps,
            ">= 40% of baseline",
            _status(ratio is not None and ratio >= 0.40 and not ours_r.errors),
            note=_load_note(ours_r),
            details=details,
        )
    )
    report.add(
        Row(
            "webhook ingest",
            f"p99 ({config.webhook_concurrency} senders)",
            "ms",
            ours_r.p99_ms,
            base_r.p99_ms,
            "< 50 ms",
            _status(ours_r.p99_ms < 50.0 and not ours_r.errors),
            details={"ours_p50_ms": ours_r.p50_ms, "baseline_p50_ms": base_r.p50_ms},
        )
    )


def webhook_bodies(stack: Stack) -> list[bytes]:
    """Real orders/create payloads, rendered by the simulator from its seeded orders."""
    state = stack.meter.app.state.sim  # type: ignore[attr-defined]
    shop = state.shops[HOOK_SHOP]
    return [orjson.dumps(sim_payloads.order(order, shop)) for order in shop.orders[:50]]


def _latency(
    stack: Stack, name: str, server: ServerProcess, requests: list[PreparedRequest]
) -> LoadResult:
    config = stack.config
    spec = LoadSpec(
        url=server.url,
        requests=requests,
        concurrency=1,
        max_requests=config.latency_requests,
        max_seconds=config.latency_seconds,
        warmup=min(20, config.latency_requests),
    )
    return run_load(spec, stack.workdir, name)


def measure_returns(stack: Stack, ours: ServerProcess, base: ServerProcess, report: Report) -> None:
    tenant = stack.fixtures.tenants[0]
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    log("returns(first: 50): baseline, ours (1 sender)")
    base_r = _latency(
        stack,
        "returns-baseline",
        base,
        [PreparedRequest("GET", "/returns?first=50", auth)],
    )
    ours_r = _latency(
        stack, "returns-ours", ours, [graphql_request(RETURNS_QUERY, {"first": 50}, auth)]
    )
    details = {"ours": ours_r.as_dict(), "baseline": base_r.as_dict()}
    ratio = ours_r.p50_ms / base_r.p50_ms if base_r.p50_ms else None
    report.add(
        Row(
            "returns(first: 50) + orders + line items",
            "p50 (1 sender)",
            "ms",
            ours_r.p50_ms,
            base_r.p50_ms,
            "<= 3x baseline",
            _status(ratio is not None and ratio <= 3.0 and not ours_r.errors),
            note=_load_note(ours_r),
            details=details,
        )
    )
    report.add(
        Row(
            "returns(first: 50) + orders + line items",
            "p99 (1 sender)",
            "ms",
            ours_r.p99_ms,
            base_r.p99_ms,
            "reported",
            REPORTED,
        )
    )


def measure_lookup(
    stack: Stack,
    ours: ServerProcess,
    base: ServerProcess,
    schema: SchemaView,
    report: Report,
) -> None:
    tenant = stack.fixtures.tenants[-1]
    pairs = tenant.lookups
    built = lookup_query(schema)
    log("lookupOrder: baseline" + (", ours" if built else " (ours: not in the schema yet)"))
    base_requests = [
        PreparedRequest(
            "GET",
            "/lookup?"
            + httpx.QueryParams({"orderNumber": number, "customerEmail": email}).__str__(),
            {"X-Tenant-Id": tenant.tenant_id},
        )
        for number, email in pairs
    ]
    base_r = _latency(stack, "lookup-baseline", base, base_requests)
    if built is None:
        report.pending.append("lookupOrder (app/graphql/portal)")
        report.add(
            Row(
                f"lookupOrder on {stack.fixtures.orders:,} orders",
                "p50 (1 sender)",
                "ms",
                None,
                base_r.p50_ms,
                "<= 2x baseline + 0.5 ms",
                PENDING,
                note="`lookupOrder` is not in the schema yet",
                details={"baseline": base_r.as_dict()},
            )
        )
        return
    query, variables = built
    headers = {"X-Tenant-Id": tenant.tenant_id}
    ours_requests = [
        graphql_request(query, variables(number, email), headers) for number, email in pairs
    ]
    ours_r = _latency(stack, "lookup-ours", ours, ours_requests)
    limit = 2 * base_r.p50_ms + 0.5
    report.add(
        Row(
            f"lookupOrder on {stack.fixtures.orders:,} orders",
            "p50 (1 sender)",
            "ms",
            ours_r.p50_ms,
            base_r.p50_ms,
            "<= 2x baseline + 0.5 ms",
            _status(ours_r.p50_ms <= limit and not ours_r.errors),
            note=_load_note(ours_r),
            details={"ours": ours_r.as_dict(), "baseline": base_r.as_dict(), "query": query},
        )
    )
    report.add(
        Row(
            f"lookupOrder on {stack.fixtures.orders:,} orders",
            "p99 (1 sender)",
            "ms",
            ours_r.p99_ms,
            base_r.p99_ms,
            "reported",
            REPORTED,
        )
    )


def measure_scale_out(
    stack: Stack, ours: ServerProcess, schema: SchemaView, report: Report
) -> None:
    """Two API processes against one (webhook ingest, lookupOrder), and what the state they
    share through MongoDB adds to a lookup (`tools/bench/scale.py`)."""
    built = lookup_query(schema)
    if built is None:
        return
    query, variables = built
    tenant = stack.fixtures.tenants[-1]
    headers = {"X-Tenant-Id": tenant.tenant_id}
    lookups = [graphql_request(query, variables(n, e), headers) for n, e in tenant.lookups]
    total = stack.config.webhook_requests + stack.config.webhook_concurrency * 2
    hooks = webhook_requests(
        total, stack.fixtures.tenants[0].shop_domain, webhook_bodies(stack), "scale"
    )
    env = service_env(stack.db, stack.db_name, stack.sim_base, background=False)
    log("scale: webhook ingest and lookupOrder through 1 and 2 API processes")
    scale.measure_scale(stack, ours, env, hooks, lookups, report)

    log("scale: lookupOrder by query text, by persisted-query hash; the limiter's writes")
    register, by_hash = scale.persisted_lookup_requests(
        query, [variables(n, e) for n, e in tenant.lookups], headers
    )
    registered = httpx.post(
        f"{ours.url}{register.path}",
        content=base64.b64decode(register.body or ""),
        headers=register.headers,
        trust_env=False,
    )
    registered.raise_for_status()
    by_text_r = _latency(stack, "lookup-by-text", ours, lookups)
    by_hash_r = _latency(stack, "lookup-by-hash", ours, by_hash)
    limiter_ms = scale.limiter_cost_ms(stack, tenant.tenant_id)
    scale.shared_state_row(report, limiter_ms, by_text_r, by_hash_r)


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def count_commands(
    stack: Stack, sizes: tuple[int, ...] = (10, 50)
) -> dict[int, Counter[str]]:
    """MongoDB commands one `returns(first: N)` request costs, in-process with a listener."""
    from app.main import create_app

    counter = CommandCounter()
    app = create_app(stack.settings(), mongo_listeners=[counter], configure_logs=False)
    tenant = stack.fixtures.tenants[0]
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    counts: dict[int, Counter[str]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for size in sizes:
                counter.commands = Counter()
                counter.recording = True
                response = await http.post(
                    "/graphql",
                    json={"query": RETURNS_QUERY, "variables": {"first": size}},
                    headers=headers,
                )
                counter.recording = False
                body = response.json()
                nodes = ((body.get("data") or {}).get("returns") or {}).get("nodes")
                if nodes is None:
                    raise RuntimeError(f"returns query failed: {body}")
                counts[size] = counter.commands
    return counts


def measure_commands(stack: Stack, report: Report) -> None:
    log("command count of returns(first: 10) and returns(first: 50), in-process")
    counts = asyncio.run(count_commands(stack))
    small, large = counts[10], counts[50]
    total_small, total_large = sum(small.values()), sum(large.values())
    report.add(
        Row(
            "returns(first: 50) + orders + line items",
            "MongoDB commands (first: 10 / first: 50)",
            "commands",
            float(total_large),
            2.0,
            "constant in page size",
            _status(small == large),
            details={
                "ours_text": f"{total_small} / {total_large}",
                "first_10": dict(small),
                "first_50": dict(large),
            },
        )
    )


def measure_graphql(stack: Stack, report: Report) -> None:
    config = stack.config
    log(f"GraphQL execution: {config.graphql_orders} orders x 19 fields, in-process")
    timing = asyncio.run(graphql_exec.measure(config.graphql_orders, config.graphql_iterations))
    ratio = timing.ours_ms / timing.plain_ms
    report.add(
        Row(
            f"GraphQL execution, {timing.orders:,} orders x {timing.fields} fields (no I/O)",
            f"median of {timing.iterations}",
            "ms",
            timing.ours_ms,
            timing.plain_ms,
            "<= 1.1x graphql-core",
            _status(ratio <= 1.1 and timing.same_result),
            note="" if timing.same_result else "results differ between the two schemas",
            details={"baseline_is": "graphql-core, default resolvers over dicts"},
        )
    )


# Sync -------------------------------------------------------------------------------------
async def _prepare_sync(stack: Stack, http: httpx.AsyncClient) -> tuple[InstalledShop, str, str]:
    """The simulator shop (installed through OAuth) and our tenant connected to it."""
    config = stack.config
    control = SimulatorControl(http, stack.sim_base, API_KEY, API_SECRET)
    shop = await control.create_shop(
        SYNC_SHOP,
        orders=config.sync_orders,
        restore_rate=config.restore_rate,
        bucket_size=config.bucket_size,
    )
    assert isinstance(shop, InstalledShop)
    tenant_id, key = await _connect_tenant(stack, shop, SYNC_SHOP, "Bench sync shop")
    return shop, tenant_id, key


async def _connect_tenant(
    stack: Stack, shop: InstalledShop, domain: str, name: str
) -> tuple[str, str]:
    """Our tenant of `shop`, its integration connected with the shop's tokens, and an API key;
    webhook events of earlier measurements are dropped (no worker spends this one on them)."""
    database = await connect(stack.settings(), create_indexes=False)
    try:
        db = database.db
        tenant_id = "tenant-" + domain.split(".", 1)[0]
        now = datetime.now(UTC)
        await db[Tenant.Settings.name].insert_one(to_bson(Tenant.new(tenant_id, domain, name)))
        cipher = TokenCipher([DEVELOPMENT_ENCRYPTION_KEY])
        integration = to_bson(
            ShopifyIntegration.model_construct(
                tenant_id=tenant_id,
                shop_domain=domain,
                access_token=cipher.encrypt(shop.access_token),
                refresh_token=cipher.encrypt(shop.refresh_token),
                expires_at=datetime.fromtimestamp(now.timestamp() + shop.expires_in, UTC),
                scopes=sorted(shop.scope.split(",")),
                api_version=API_VERSION,
                installed_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        integration.pop("_id", None)
        integration.pop("id", None)
        await db[ShopifyIntegration.Settings.name].insert_one(integration)
        key_id, key, key_hash = new_api_key()
        api_key = to_bson(
            ApiKey.model_construct(
                tenant_id=tenant_id,
                key_id=key_id,
                key_hash=key_hash,
                name=f"bench-{tenant_id}",
                created_at=now,
                revoked_at=None,
                last_used_at=None,
            )
        )
        api_key.pop("_id", None)
        api_key.pop("id", None)
        await db[ApiKey.Settings.name].insert_one(api_key)
        # The ingestion measurement left thousands of unprocessed events: a worker must not
        # spend the sync measurement on them.
        await db[WebhookEvent.Settings.name].delete_many({})
        await db[WEBHOOK_COLLECTION].delete_many({})
    finally:
        await database.close()
    return tenant_id, key


async def _wait_for_bucket(stack: Stack) -> None:
    # A full bucket for each run, so neither starts with the other's debt.
    await asyncio.sleep(stack.config.bucket_size / stack.config.restore_rate + 0.3)


async def _run_baseline_sync(
    stack: Stack, base: ServerProcess, http: httpx.AsyncClient, shop: InstalledShop
) -> dict[str, Any]:
    before = stack.meter.snapshot(SYNC_SHOP)
    started = time.perf_counter()
    response = await http.post(
        f"{base.url}/sync",
        json={
            "tenant_id": BASELINE_SYNC_TENANT,
            "url": shop.graphql_url(API_VERSION),
            "token": shop.access_token,
        },
        timeout=stack.config.sync_timeout + 30,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    after = stack.meter.snapshot(SYNC_SHOP)
    result: dict[str, Any] = response.json()
    result |= {
        "wall_seconds": seconds,
        "points_charged": after.points - before.points,
        "throttled_responses": after.throttled - before.throttled,
    }
    return result


async def _run_our_sync(
    stack: Stack, ours: ServerProcess, http: httpx.AsyncClient, tenant_id: str, key: str
) -> dict[str, Any]:
    mutation = (
        "mutation BenchResync { resyncShopify(input: {type: FULL, days: 365}) "
        "{ __typename userErrors { message } } }"
    )
    database = await connect(stack.settings(), create_indexes=False)
    try:
        jobs = database.db[SyncJob.Settings.name]
        orders = database.db["orders"]
        before = stack.meter.snapshot(SYNC_SHOP)
        started = time.perf_counter()
        response = await http.post(
            f"{ours.url}/graphql",
            json={"query": mutation},
            headers={"Authorization": f"Bearer {key}"},
        )
        body = response.json()
        if body.get("errors") or (body.get("data") or {}).get("resyncShopify") is None:
            raise RuntimeError(f"resyncShopify failed: {body}")
        deadline = started + stack.config.sync_timeout
        job: dict[str, Any] | None = None
        while time.perf_counter() < deadline:
            job = await jobs.find_one({"tenant_id": tenant_id}, sort=[("created_at", -1)])
            if job is not None and job.get("status") in ("completed", "failed", "canceled"):
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        stored = await orders.count_documents({"tenant_id": tenant_id})
        after = stack.meter.snapshot(SYNC_SHOP)
        status = (job or {}).get("status", "no job")
        job_seconds = None
        if job and job.get("started_at") and job.get("finished_at"):
            job_seconds = (job["finished_at"] - job["started_at"]).total_seconds()
        return {
            "status": status,
            "timed_out": status not in ("completed", "failed", "canceled"),
            "orders": stored,
            "seconds": seconds,
            "job_seconds": job_seconds,
            "progress": (job or {}).get("progress"),
            "mode": (job or {}).get("mode"),
            "error": (job or {}).get("error"),
            "points_charged": after.points - before.points,
            "throttled_responses": after.throttled - before.throttled,
        }
    finally:
        await database.close()


async def _sync_runs(
    stack: Stack, base: ServerProcess, variants: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str | None]:
    """The baseline's sync, then each of our `variants` (served with background jobs on), each
    from an empty copy of the shop and a full bucket; a problem stops the runs."""
    config = stack.config
    note = f"bucket {config.bucket_size:.0f} points, restore {config.restore_rate:.0f} points/s"
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        shop, tenant_id, key = await _prepare_sync(stack, http)
        log(f"sync: baseline ({note})")
        base_result = await _run_baseline_sync(stack, base, http, shop)
        results: dict[str, dict[str, Any]] = {}
        for which in variants:
            env = service_env(stack.db, stack.db_name, stack.sim_base, background=True)
            with ServerProcess(which, env, stack.workdir) as server:
                schema = await introspect(http, server.url)
                if schema.field(schema.mutation, "resyncShopify") is None:
                    return base_result, results, "`resyncShopify` is not in the schema yet"
                await _wait_for_bucket(stack)
                log(f"sync: {which} (background jobs on)")
                try:
                    results[which] = await _run_our_sync(stack, server, http, tenant_id, key)
                except RuntimeError as exc:
                    return base_result, results, str(exc)[:300]
            await _forget_synced_orders(stack, tenant_id)
        return base_result, results, None


async def _forget_synced_orders(stack: Stack, tenant_id: str) -> None:
    """The next sync run starts from an empty copy of the shop, as the first did."""
    database = await connect(stack.settings(), create_indexes=False)
    try:
        for name in ("orders", "customers", SyncJob.Settings.name):
            await database.db[name].delete_many({"tenant_id": tenant_id})
    finally:
        await database.close()


def measure_sync(stack: Stack, base: ServerProcess, report: Report) -> None:
    config = stack.config
    rate = config.restore_rate
    target_note = f"bucket {config.bucket_size:.0f} points, restore {rate:.0f} points/s"
    operation = f"full sync of {config.sync_orders:,} orders"

    base_result, results, problem = asyncio.run(_sync_runs(stack, base, ("ours",)))
    ours_result = results.get("ours")
    base_rate = base_result["orders"] / base_result["wall_seconds"]
    base_budget = budget_used(base_result["points_charged"], base_result["wall_seconds"], config)
    if ours_result is None:
        if problem and "not in the schema" in problem:
            report.pending.append("resyncShopify / sync engine (app/services/sync)")
        status = PENDING if problem and "not in the schema" in problem else ERROR
        for metric, unit, value, target in (
            ("orders/s", "orders/s", base_rate, ">= 75% of baseline"),
            ("throttle budget used", "%", base_budget, ">= 90%"),
        ):
            report.add(
                Row(
                    operation,
                    metric,
                    unit,
                    None,
                    value,
                    target,
                    status,
                    note=problem or "",
                    details={"baseline": base_result, "bucket": target_note},
                )
            )
        return
    ours_rate = ours_result["orders"] / ours_result["seconds"] if ours_result["seconds"] else 0.0
    ours_budget = budget_used(ours_result["points_charged"], ours_result["seconds"], config)
    mode = ours_result.get("mode")
    finished = ours_result["status"] == "completed" and ours_result["orders"] >= config.sync_orders
    note = (
        ""
        if finished
        else (
            f"job {ours_result['status']} with {ours_result['orders']} of {config.sync_orders} orders "
            f"after {ours_result['seconds']:.0f} s"
            + (f": {ours_result['error']}" if ours_result["error"] else "")
        )
    )
    report.add(
        Row(
            operation,
            "orders/s (mutation to completed)",
            "orders/s",
            ours_rate,
            base_rate,
            ">= 75% of baseline",
            _status(finished and ours_rate >= 0.75 * base_rate),
            note=note,
            details={"ours": ours_result, "baseline": base_result, "bucket": target_note},
        )
    )
    report.add(
        Row(
            operation,
            "throttle budget used",
            "%",
            ours_budget,
            base_budget,
            ">= 90%",
            _status(finished and ours_budget >= 90.0),
            note=f"{target_note}; our job ran in {mode} mode"
            + (" (a bulk export is not paid from the bucket)" if mode == "bulk" else ""),
        )
    )


def measure_refunds(stack: Stack, report: Report) -> None:
    """Resolving refund returns through the simulator (`tools/bench/refunds.py`)."""
    count = stack.config.refund_returns
    runs = asyncio.run(_refund_runs(stack, count))
    refund_rows(
        report,
        count,
        runs.ours,
        runs.raw,
        runs.note,
        runs.problem,
        runs.details,
        runs.raw_in_flight,
    )
    if runs.ours is None:
        return
    seconds, paid, _ = runs.ours
    rate = stack.config.refund_bound_restore_rate
    bound = runs.bound
    budget_row(
        report,
        count,
        bound,
        free_rate=paid / seconds if seconds else 0.0,
        used=None
        if bound is None
        else budget_used(bound.points, bound.seconds, stack.config, rate),
        setting=f"the bucket restoring {rate:.0f} points/s (a production plan's), Shopify round"
        f" trip {stack.config.shopify_round_trip_ms} ms",
        problem=runs.bound_problem,
    )


@dataclass(frozen=True, slots=True)
class RefundRuns:
    raw: tuple[float, float]  # seconds, points
    raw_in_flight: float | None = None  # seconds, as many calls in flight as our mirror workers
    ours: tuple[float, int, float] | None = None  # seconds, refunds recorded, points
    bound: BoundRun | None = None
    note: str = ""
    problem: str | None = None  # why ours did not run
    bound_problem: str | None = None  # why the bound run did not
    details: dict[str, Any] = field(default_factory=dict)


async def _refund_runs(stack: Stack, count: int) -> RefundRuns:
    """The raw loop (one call at a time, then as many in flight as our mirror has workers), then
    ours twice, each on returns of its own: with the bucket as for the sync (the rate row), then
    with a production plan's restore rate, which ours binds (the budget row). Each timed part's
    Admin calls take Shopify's round trip."""
    config = stack.config
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        control = SimulatorControl(http, stack.sim_base, API_KEY, API_SECRET)
        raw_shop, ours_shop = [
            await control.create_shop(
                domain,
                orders=0,
                restore_rate=config.restore_rate,
                bucket_size=config.bucket_size,
            )
            for domain in (refunds.RAW_SHOP, refunds.OURS_SHOP)
        ]
        assert isinstance(raw_shop, InstalledShop) and isinstance(ours_shop, InstalledShop)
        log(f"refunds: {2 * count} paid orders on each of two shops, returns opened on the raw one")
        shops = stack.meter.state.sim.shops
        raw_orders = await refunds.paid_orders(
            control, raw_shop.domain, refunds.returnable_variant(shops[raw_shop.domain]), 2 * count
        )
        await refunds.paid_orders(
            control,
            ours_shop.domain,
            refunds.returnable_variant(shops[ours_shop.domain]),
            2 * count,
        )
        prepared = await refunds.raw_returns(http, raw_shop, API_VERSION, raw_orders)
        await _wait_for_bucket(stack)
        # Shopify's round trip on each side's timed calls only (the set-up runs at loopback speed).
        await control.set_faults(raw_shop.domain, latency_ms=config.shopify_round_trip_ms)
        before = stack.meter.snapshot(refunds.RAW_SHOP)
        raw_seconds = await refunds.raw_loop(http, raw_shop, API_VERSION, prepared[:count])
        raw = (raw_seconds, stack.meter.snapshot(refunds.RAW_SHOP).points - before.points)
        raw_in_flight = await refunds.raw_loop(
            http, raw_shop, API_VERSION, prepared[count:], in_flight=refunds.MIRROR_WORKERS
        )
        tenant_id, key = await _connect_tenant(stack, ours_shop, refunds.OURS_SHOP, "Refunds")
        env = service_env(stack.db, stack.db_name, stack.sim_base, background=True)
        with ServerProcess("ours", env, stack.workdir) as server:
            synced = await _run_our_sync(stack, server, http, tenant_id, key)
            if synced["status"] != "completed":
                return RefundRuns(raw, raw_in_flight, problem=f"the orders did not sync: {synced}")
            log("refunds: our returns created, approved, received and mirrored")
            try:
                ids = await refunds.our_returns(stack, http, server.url, tenant_id, key)
            except RuntimeError as exc:
                return RefundRuns(raw, raw_in_flight, problem=str(exc)[:300])
            await _wait_for_bucket(stack)
            await control.set_faults(ours_shop.domain, latency_ms=config.shopify_round_trip_ms)
            log(f"refunds: ours resolves {count} returns")
            before = stack.meter.snapshot(refunds.OURS_SHOP)
            resolved = await refunds.our_resolves(
                stack, http, server.url, tenant_id, key, ids[:count]
            )
            after = stack.meter.snapshot(refunds.OURS_SHOP)
            bound: BoundRun | None = None
            bound_problem = None
            if resolved.paid < count:
                # Its mirror work would still be running into the next run's bucket.
                bound_problem = "not run: the first run did not record every refund"
            else:
                try:
                    bound = await _bound_refunds(
                        stack, control, http, server, tenant_id, key, ids[count:]
                    )
                except Exception as exc:  # the rate rows measured above still count
                    bound_problem = f"failed: {type(exc).__name__}: {exc}"[:300]
        note = (
            f"Shopify round trip {config.shopify_round_trip_ms} ms per Admin call (both sides);"
            f" bucket {config.bucket_size:.0f} points, restore {config.restore_rate:.0f} points/s;"
            + (
                " bound by the bucket"
                if after.throttled > before.throttled
                else " the bucket never bound"
            )
            + f" ({after.throttled - before.throttled} throttled answers)"
        )
        details = {
            "resolves_seconds": resolved.resolves_seconds,
            "resolve_p50_ms": resolved.resolve_p50_ms,
            "recorded_after_last_resolve_seconds": resolved.seconds - resolved.resolves_seconds,
        }
        ours = (resolved.seconds, resolved.paid, after.points - before.points)
        return RefundRuns(
            raw,
            raw_in_flight,
            ours,
            bound,
            note=note,
            bound_problem=bound_problem,
            details=details,
        )


async def _bound_refunds(
    stack: Stack,
    control: SimulatorControl,
    http: httpx.AsyncClient,
    server: ServerProcess,
    tenant_id: str,
    key: str,
    ids: list[str],
) -> BoundRun:
    """Ours again on returns of its own, from a full bucket restoring at a production plan's
    rate (which our mirror binds)."""
    rate = stack.config.refund_bound_restore_rate
    await control.set_faults(
        refunds.OURS_SHOP, restore_rate=rate, bucket_available=stack.config.bucket_size
    )
    log(f"refunds: ours resolves {len(ids)} more on a bucket restoring {rate:.0f} points/s")
    before = stack.meter.snapshot(refunds.OURS_SHOP)
    resolved = await refunds.our_resolves(stack, http, server.url, tenant_id, key, ids)
    after = stack.meter.snapshot(refunds.OURS_SHOP)
    return BoundRun(
        resolved.seconds,
        resolved.paid,
        after.points - before.points,
        after.throttled - before.throttled,
    )


def measure_durability(config: BenchConfig, workdir: Path, report: Report) -> None:
    """What durable writes cost, on a database on disk (in memory, journaling costs nothing):
    webhook ingest and a full sync served as deployed (`w: majority, j: true`) and with every
    write acknowledged before it is journaled (`ours-unjournaled`), against the baseline (which
    writes unjournaled). The sync runs with a production-like restore rate, so Shopify's bucket,
    not this machine's disk, bounds it, as in production."""
    disk_config = replace(
        config,
        orders=min(config.orders, 2_000),
        returns=min(config.returns, 200),
        sync_orders=config.durability_sync_orders,
        restore_rate=config.durability_restore_rate,
        sync_timeout=max(config.sync_timeout, 60.0),
    )
    with running_stack(disk_config, workdir / "on-disk", on_disk=True) as stack:
        base_env = baseline_env(stack.db, stack.db_name, stack.fixtures.tenants)
        with ServerProcess("baseline", base_env, stack.workdir) as base:
            _durability_of_webhooks(stack, base, report)
            _durability_of_sync(stack, base, report)


def _durability_of_webhooks(stack: Stack, base: ServerProcess, report: Report) -> None:
    config = stack.config
    tenant = stack.fixtures.tenants[0]
    bodies = webhook_bodies(stack)
    warmup = config.webhook_concurrency * 2
    env = service_env(stack.db, stack.db_name, stack.sim_base, background=False)
    results: dict[str, LoadResult] = {}
    with (
        ServerProcess("ours", env, stack.workdir) as ours,
        ServerProcess("ours-unjournaled", env, stack.workdir) as unjournaled,
    ):
        for name, server in (("baseline", base), ("ours", ours), ("ours-unjournaled", unjournaled)):
            prefix = f"disk-{name}-{uuid.uuid4().hex[:8]}"
            spec = LoadSpec(
                url=server.url,
                requests=webhook_requests(
                    config.webhook_requests + warmup, tenant.shop_domain, bodies, prefix
                ),
                concurrency=config.webhook_concurrency,
                max_requests=config.webhook_requests,
                max_seconds=config.webhook_seconds,
                warmup=warmup,
            )
            log(f"durability, webhook ingest on disk: {name}")
            results[name] = run_load(spec, stack.workdir, f"disk-webhook-{name}")
    ours_r, base_r, before_r = results["ours"], results["baseline"], results["ours-unjournaled"]
    operation = "webhook ingest, database on disk"
    metric = f"requests/s ({config.webhook_concurrency} senders)"
    report.add(
        Row(
            operation,
            f"{metric}: journaled vs baseline (unjournaled)",
            "req/s",
            ours_r.rps,
            base_r.rps,
            "reported",
            REPORTED,
            note=_load_note(ours_r),
            details={"ours": ours_r.as_dict(), "baseline": base_r.as_dict()},
        )
    )
    report.add(
        Row(
            operation,
            f"{metric}: journaled vs ours unjournaled",
            "req/s",
            ours_r.rps,
            before_r.rps,
            "reported: what durability costs",
            REPORTED,
            note=_load_note(before_r),
            details={"ours_unjournaled": before_r.as_dict()},
        )
    )


def _durability_of_sync(stack: Stack, base: ServerProcess, report: Report) -> None:
    config = stack.config
    operation = f"full sync of {config.sync_orders:,} orders, database on disk"
    note = f"bucket {config.bucket_size:.0f} points, restore {config.restore_rate:.0f} points/s"
    base_result, results, problem = asyncio.run(
        _sync_runs(stack, base, ("ours", "ours-unjournaled"))
    )
    ours_result, before_result = results.get("ours"), results.get("ours-unjournaled")
    base_rate = base_result["orders"] / base_result["wall_seconds"]
    if ours_result is None or before_result is None:
        report.add(
            Row(operation, "orders/s", "orders/s", None, base_rate, "", ERROR, note=problem or "")
        )
        return
    rate = _orders_per_second(ours_result)
    before_rate = _orders_per_second(before_result)
    budget = budget_used(ours_result["points_charged"], ours_result["seconds"], config)
    finished = ours_result["status"] == "completed" and ours_result["orders"] >= config.sync_orders
    report.add(
        Row(
            operation,
            "orders/s, journaled vs baseline (unjournaled)",
            "orders/s",
            rate,
            base_rate,
            ">= 75% of baseline",
            _status(finished and rate >= 0.75 * base_rate),
            note=note,
            details={"ours": ours_result, "baseline": base_result},
        )
    )
    report.add(
        Row(
            operation,
            "throttle budget used, journaled",
            "%",
            budget,
            budget_used(base_result["points_charged"], base_result["wall_seconds"], config),
            ">= 90%",
            _status(finished and budget >= 90.0),
        )
    )
    report.add(
        Row(
            operation,
            "orders/s, journaled vs ours unjournaled",
            "orders/s",
            rate,
            before_rate,
            "reported: what durability costs",
            REPORTED,
            details={"ours_unjournaled": before_result},
        )
    )


def _orders_per_second(result: dict[str, Any]) -> float:
    return float(result["orders"] / result["seconds"]) if result["seconds"] else 0.0


def budget_used(
    points: float, seconds: float, config: BenchConfig, restore_rate: float | None = None
) -> float:
    """Points charged / points the bucket could give in that time (its start level included);
    `restore_rate`: when not the config's."""
    rate = config.restore_rate if restore_rate is None else restore_rate
    available = rate * seconds + config.bucket_size
    return 100.0 * points / available if available else 0.0


# Orchestration ----------------------------------------------------------------------------
@contextlib.contextmanager
def running_stack(config: BenchConfig, workdir: Path, *, on_disk: bool = False) -> Iterator[Stack]:
    where = "on disk" if on_disk else "in memory"
    log(f"starting SecantusDB ({where}) and the simulator; workdir {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "db" if on_disk else None
    with EmbeddedDatabase(storage_path=storage, log_path=workdir / "secantusdb.log") as db:
        meter = CostMeter(
            create_simulator_app(
                SimulatorConfig(api_key=API_KEY, api_secret=API_SECRET, seed=7, default_orders=0)
            )
        )
        simulator = ThreadedASGIServer(meter).start()
        try:
            stack = Stack(config, workdir, db, "bench", simulator, meter, FixtureSummary())
            asyncio.run(_load(stack))
            yield stack
        finally:
            simulator.stop()


async def _load(stack: Stack) -> None:
    config = stack.config
    database = await connect(stack.settings())  # creates every model's indexes
    try:
        await database.db[WEBHOOK_COLLECTION].create_indexes(WebhookEvent.Settings.indexes)
        log(f"loading {config.orders:,} orders and {config.returns:,} returns over 2 tenants")
        stack.fixtures = await load_fixtures(
            database.db,
            orders=config.orders,
            returns=config.returns,
            encryption_keys=[DEVELOPMENT_ENCRYPTION_KEY],
        )
        log(f"fixtures loaded in {stack.fixtures.seconds:.1f} s")
    finally:
        await database.close()
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        control = SimulatorControl(http, stack.sim_base, API_KEY, API_SECRET)
        await control.create_bare_shop(HOOK_SHOP, orders=50)


def run(config: BenchConfig) -> Report:
    started = time.perf_counter()
    # Importing app.main configures the service's JSON logs for this process: keep the
    # in-process measurements quiet (the servers keep their own logging).
    import app.main  # noqa: F401

    logging.getLogger("app").setLevel(logging.WARNING)
    report = Report(
        mode=config.mode,
        started_at=datetime.now(UTC).isoformat(),
        parameters={k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
    )
    with (
        tempfile.TemporaryDirectory(prefix="rms-bench-") as tmp,
        running_stack(config, Path(tmp)) as stack,
    ):
        report.parameters["fixtures"] = {
            "orders": stack.fixtures.orders,
            "returns": stack.fixtures.returns,
            "tenants": len(stack.fixtures.tenants),
            "load_seconds": round(stack.fixtures.seconds, 1),
        }
        http_ops = [
            name
            for name in ("webhook", "returns", "lookup", "scale", "memory")
            if config.runs(name)
        ]
        base_env = baseline_env(stack.db, stack.db_name, stack.fixtures.tenants)
        base = ServerProcess("baseline", base_env, stack.workdir).start()
        try:
            if http_ops:
                env = service_env(stack.db, stack.db_name, stack.sim_base, background=False)
                with ServerProcess("ours", env, stack.workdir) as ours:
                    schema = asyncio.run(_introspect(ours.url))
                    steps: list[tuple[str, Callable[[], None]]] = [
                        ("webhook", lambda: measure_webhooks(stack, ours, base, report)),
                        ("returns", lambda: measure_returns(stack, ours, base, report)),
                        ("lookup", lambda: measure_lookup(stack, ours, base, schema, report)),
                        ("scale", lambda: measure_scale_out(stack, ours, schema, report)),
                    ]
                    for name, step in steps:
                        if config.runs(name):
                            _guarded(report, name, step)
                    if config.runs("memory"):
                        measure_memory(ours, base, report, http_ops)
            if config.runs("commands"):
                _guarded(report, "commands", lambda: measure_commands(stack, report))
            if config.runs("graphql"):
                _guarded(report, "graphql", lambda: measure_graphql(stack, report))
            if config.runs("sync"):
                _guarded(report, "sync", lambda: measure_sync(stack, base, report))
            if config.runs("refunds"):
                _guarded(report, "refunds", lambda: measure_refunds(stack, report))
            if config.runs("notifications"):
                _guarded(report, "notifications", lambda: measure_notifications(stack, report))
            if config.runs("portal"):
                env = service_env(stack.db, stack.db_name, stack.sim_base, background=False)
                _guarded(report, "portal", lambda: measure_portal(stack, env, report))
            if config.runs("shipping"):
                _guarded(report, "shipping", lambda: measure_shipping(stack, base, report))
        finally:
            base.stop()
        if config.runs("durability"):
            _guarded(
                report,
                "durability",
                lambda: measure_durability(config, Path(tmp), report),
            )
    report.seconds = time.perf_counter() - started
    return report


async def _introspect(url: str) -> SchemaView:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        return await introspect(http, url)


def measure_memory(
    ours: ServerProcess, base: ServerProcess, report: Report, after: list[str]
) -> None:
    ours_peak, base_peak = ours.peak_rss_mib(), base.peak_rss_mib()
    report.add(
        Row(
            "API worker memory",
            "peak RSS (VmHWM) after " + ", ".join(op for op in after if op != "memory"),
            "MiB",
            ours_peak,
            base_peak,
            f"< {RSS_LIMIT_MIB:.0f} MiB",
            _status(ours_peak is not None and ours_peak < RSS_LIMIT_MIB),
        )
    )


def _guarded(report: Report, name: str, step: Callable[[], None]) -> None:
    """One measurement failing is reported as such; the others still run."""
    try:
        step()
    except Exception as exc:
        log(f"{name} failed: {exc!r}")
        report.add(Row(name, "-", "", None, None, "-", ERROR, note=repr(exc)[:300]))
