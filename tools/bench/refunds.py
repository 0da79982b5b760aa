"""`rms bench` refunds: resolving refund returns through the simulator, against a raw loop.

Two simulator shops get the same paid, fulfilled one-line orders. On the baseline's shop each
order has a return requested and approved on Shopify; the raw loop then sends one
`returnProcess` per return (lines and `financialTransfer` prepared beforehand), one after the
other over httpx: what a script that knows every id would do. On ours, the orders are synced,
returns created through the portal, approved and received through GraphQL, and mirrored to
Shopify (untimed); the timed part is every `resolveReturn` until the last refund Shopify paid is
recorded on its return. Our mirror reads Shopify's return (with its order's payments) and its
suggested outcome before paying (the exactly-once and agree-before-paying rules), so it pays
more query cost per return than the raw loop: when the bucket binds, the rate follows.

Every Admin call of a timed part takes Shopify's round trip (the simulator's latency, the same on
both shops; the harness sets it): on loopback the raw loop would measure this machine's CPU
rather than what a merchant waits on.

The rows: returns/s (ours vs the raw loop), and the share of the bucket ours used (points
charged / what the bucket could give) on returns of its own with a bucket it binds, all measured
in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from bson import ObjectId

from app.config import Settings
from app.db import connect
from app.models import Return
from app.shopify.documents.returns import RETURN_APPROVE, RETURN_PROCESS
from tools.bench.report import ERROR, FAIL, PASS, REPORTED, Report, Row
from tools.shopify_sim import InstalledShop, SimulatorControl

if TYPE_CHECKING:
    from tools.bench.harness import Stack

# Our mirror's workers in the served process (the service's default): the raw loop's second run
# has as many calls in flight.
MIRROR_WORKERS: int = Settings.model_fields["returns_mirror_workers"].default
OURS_SHOP = "benchrefunds.myshopify.com"
RAW_SHOP = "benchrefundsraw.myshopify.com"
ONE_CARD = [{"gateway": "shopify_payments"}]
CREATE = """mutation BenchCreate($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id } userErrors { code message } } }"""
DECIDE = """mutation BenchDecide($id: ID!) { %s(id: $id) { userErrors { code message } } }"""
REQUEST_LINES = """
mutation ($input: ReturnRequestInput!) { returnRequest(input: $input) {
  return { id returnLineItems(first: 5) { nodes { id } } } userErrors { field message } } }
"""


@dataclass(frozen=True, slots=True)
class RawReturn:
    return_id: str
    line_id: str
    transaction_id: str
    amount: str
    currency: str


def returnable_variant(shop: Any) -> str:
    """A variant of the simulator's shop (in-process state) the default policy lets customers
    return (not tagged final sale)."""
    return next(
        str(variant["id"])
        for product in shop.products
        if "final-sale" not in product["tags"]
        for variant in product["_variants"]
    )


async def paid_orders(
    control: SimulatorControl, domain: str, variant: str, count: int
) -> list[dict[str, Any]]:
    """`count` fulfilled orders of one unit of `variant`, no discount, paid by one card."""
    orders = []
    for _ in range(count):
        created = await control.create_order(
            domain,
            fulfilled=True,
            financial_status="PAID",
            payments=ONE_CARD,
            line_items=[{"variant_id": variant, "quantity": 1, "discount": "0"}],
        )
        orders.append(created["order"])
    return orders


async def _admin(
    http: httpx.AsyncClient, shop: InstalledShop, api_version: str, query: str, variables: Any
) -> dict[str, Any]:
    response = await http.post(
        shop.graphql_url(api_version),
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": shop.access_token},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"Admin API error: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


async def raw_returns(
    http: httpx.AsyncClient,
    shop: InstalledShop,
    api_version: str,
    orders: list[dict[str, Any]],
) -> list[RawReturn]:
    """The baseline's open returns, one per order, with what `returnProcess` needs."""
    prepared = []
    for order in orders:
        line = order["lineItems"][0]
        requested = await _admin(
            http,
            shop,
            api_version,
            REQUEST_LINES,
            {
                "input": {
                    "orderId": order["id"],
                    "returnLineItems": [
                        {"lineItemId": line["id"], "quantity": 1, "returnReason": "DEFECTIVE"}
                    ],
                }
            },
        )
        found = requested["returnRequest"]["return"]
        await _admin(http, shop, api_version, RETURN_APPROVE, {"input": {"id": found["id"]}})
        [sale] = [t for t in order["transactions"] if t["kind"] == "SALE"]
        money = line["discountedTotalSet"]["presentmentMoney"]
        prepared.append(
            RawReturn(
                found["id"],
                found["returnLineItems"]["nodes"][0]["id"],
                sale["id"],
                str(money["amount"]),
                str(money["currencyCode"]),
            )
        )
    return prepared


async def _raw_process(
    http: httpx.AsyncClient, shop: InstalledShop, api_version: str, item: RawReturn
) -> None:
    """One `returnProcess` refunding `item` to its card, as a script that knows every id sends it."""
    data = await _admin(
        http,
        shop,
        api_version,
        RETURN_PROCESS,
        {
            "input": {
                "returnId": item.return_id,
                "returnLineItems": [{"id": item.line_id, "quantity": 1}],
                "financialTransfer": {
                    "issueRefund": {
                        "orderTransactions": [
                            {
                                "transactionId": item.transaction_id,
                                "transactionAmount": {
                                    "amount": item.amount,
                                    "currencyCode": item.currency,
                                },
                            }
                        ]
                    }
                },
            }
        },
    )
    if data["returnProcess"]["userErrors"]:
        raise RuntimeError(f"raw returnProcess refused: {data['returnProcess']['userErrors']}")


async def raw_loop(
    http: httpx.AsyncClient,
    shop: InstalledShop,
    api_version: str,
    returns: list[RawReturn],
    in_flight: int = 1,
) -> float:
    """Seconds to process (and refund) every return, `in_flight` `returnProcess` calls at a
    time (1: one after another)."""
    waiting = iter(returns)

    async def sender() -> None:
        for item in waiting:
            await _raw_process(http, shop, api_version, item)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(in_flight)))
    return time.perf_counter() - started


async def _graphql(
    http: httpx.AsyncClient, url: str, query: str, variables: Any, headers: dict[str, str]
) -> dict[str, Any]:
    response = await http.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL error: {body['errors']}")
    payload: dict[str, Any] = next(iter(body["data"].values()))
    if payload.get("userErrors"):
        raise RuntimeError(f"refused: {payload['userErrors']}")
    return payload


async def our_returns(
    stack: Stack, http: httpx.AsyncClient, url: str, tenant_id: str, key: str
) -> list[str]:
    """A received refund return per synced order (through the portal and staff's GraphQL),
    each mirrored to Shopify (requested and approved there) before the timed part."""
    staff = {"Authorization": f"Bearer {key}"}
    portal = {"X-Tenant-Id": tenant_id}
    database = await connect(stack.settings(), create_indexes=False)
    try:
        orders = await (
            database.db["orders"]
            .find({"tenant_id": tenant_id}, {"shopify_id": 1, "email": 1, "line_items.id": 1})
            .to_list(None)
        )
        ids = []
        for order in orders:
            created = await _graphql(
                http,
                url,
                CREATE,
                {
                    "input": {
                        "orderId": order["shopify_id"],
                        "customerEmail": order["email"],
                        "returnMethod": "CUSTOMER_SHIPS",
                        "resolutionType": "REFUND",
                        "items": [
                            {
                                "lineItemId": order["line_items"][0]["id"],
                                "quantity": 1,
                                "reason": "DEFECTIVE",
                            }
                        ],
                    }
                },
                portal,
            )
            return_id = str(created["return"]["id"])
            for action in ("approveReturn", "markReturnReceived"):
                await _graphql(http, url, DECIDE % action, {"id": return_id}, staff)
            ids.append(return_id)
        mirrored = await _until(
            database.db["returns"],
            {"tenant_id": tenant_id, "shopify_sync.status": "synced"},
            len(ids),
            stack.config.sync_timeout,
        )
        if mirrored < len(ids):
            raise RuntimeError(f"{mirrored} of {len(ids)} returns mirrored to Shopify in time")
        return ids
    finally:
        await database.close()


async def _until(collection: Any, query: dict[str, Any], wanted: int, timeout: float) -> int:
    """Poll until `wanted` documents match (or the time is up); how many did."""
    deadline = time.perf_counter() + timeout
    found = 0
    while time.perf_counter() < deadline:
        found = await collection.count_documents(query)
        if found >= wanted:
            return int(found)
        await asyncio.sleep(0.05)
    return found


@dataclass(frozen=True, slots=True)
class Resolved:
    """Our timed part: seconds from the first `resolveReturn` until every refund is recorded,
    how many were, and where the time went."""

    seconds: float
    paid: int
    resolves_seconds: float  # until the last resolveReturn answered
    resolve_p50_ms: float  # one resolveReturn (the mutation alone)


async def our_resolves(
    stack: Stack, http: httpx.AsyncClient, url: str, tenant_id: str, key: str, ids: list[str]
) -> Resolved:
    """`resolveReturn` for each return, one after another, then wait for every refund to be
    recorded (`_until_recorded`)."""
    staff = {"Authorization": f"Bearer {key}"}
    database = await connect(stack.settings(), create_indexes=False)
    try:
        each: list[float] = []
        started = time.perf_counter()
        for return_id in ids:
            sent = time.perf_counter()
            await _graphql(http, url, DECIDE % "resolveReturn", {"id": return_id}, staff)
            each.append(time.perf_counter() - sent)
        resolves_seconds = time.perf_counter() - started
        paid = await _until_recorded(
            database.db[Return.Settings.name], ids, stack.config.sync_timeout
        )
        return Resolved(
            time.perf_counter() - started,
            paid,
            resolves_seconds,
            statistics.median(each) * 1000 if each else 0.0,
        )
    finally:
        await database.close()


async def _until_recorded(collection: Any, ids: list[str], timeout: float) -> int:
    """Poll until every return of `ids` has its refund recorded and its sync settled (or the
    time is up); how many have. Each poll reads only the returns still waiting, by `_id`: the
    measurement must not load the database it measures (a count over the tenant's returns
    every 50 ms read them all each time)."""
    deadline = time.perf_counter() + timeout
    waiting = {ObjectId(return_id.rsplit("/", 1)[-1]) for return_id in ids}  # bare or global id
    while waiting and time.perf_counter() < deadline:
        done = collection.find(
            {
                "_id": {"$in": list(waiting)},
                "refund": {"$ne": None},
                "shopify_sync.status": "synced",
            },
            {"_id": 1},
        )
        waiting -= {doc["_id"] async for doc in done}
        if waiting:
            await asyncio.sleep(0.05)
    return len(ids) - len(waiting)


def refund_rows(
    report: Report,
    count: int,
    ours: tuple[float, int, float] | None,
    raw: tuple[float, float],
    note: str,
    problem: str | None = None,
    details: dict[str, Any] | None = None,
    raw_in_flight: float | None = None,
) -> None:
    """Rows for `count` returns: ours (seconds, refunds recorded, points) vs raw (seconds,
    points), and vs raw with as many calls in flight as our mirror has workers
    (`raw_in_flight`: its seconds); `details`: more of ours for the JSON (where the time
    went)."""
    operation = f"resolve {count} refund returns through the simulator"
    raw_rate = count / raw[0] if raw[0] else 0.0
    if ours is None:
        report.add(
            Row(
                operation,
                "returns/s",
                "returns/s",
                None,
                raw_rate,
                ">= 70% of baseline",
                ERROR,
                note=problem or "",
            )
        )
        return
    seconds, paid, points = ours
    rate = paid / seconds if seconds else 0.0
    finished = paid == count
    report.add(
        Row(
            operation,
            "returns/s (resolve to refund recorded)",
            "returns/s",
            rate,
            raw_rate,
            ">= 70% of baseline",
            PASS if finished and rate >= 0.7 * raw_rate else FAIL,
            note=note if finished else f"{paid} of {count} refunds recorded; {note}",
            details={"ours_seconds": seconds, "raw_seconds": raw[0], **(details or {})},
        )
    )
    if raw_in_flight:
        report.add(
            Row(
                operation,
                f"returns/s vs raw with {MIRROR_WORKERS} calls in flight",
                "returns/s",
                rate,
                count / raw_in_flight,
                "reported",
                REPORTED,
                note=f"the raw loop with as many `returnProcess` calls in flight as our mirror"
                f" has workers ({MIRROR_WORKERS}); ours makes three Admin calls per return",
            )
        )
    report.add(
        Row(
            operation,
            "query cost per return",
            "points",
            points / count,
            raw[1] / count,
            "reported",
            REPORTED,
            note="reads before paying: the return with its order's payments, and the suggested outcome",
        )
    )


@dataclass(frozen=True, slots=True)
class BoundRun:
    """Ours on a bucket that binds: seconds until every refund was recorded, how many were,
    points charged, throttled answers."""

    seconds: float
    paid: int
    points: float
    throttled: int


def budget_row(
    report: Report,
    count: int,
    bound: BoundRun | None,
    *,
    free_rate: float,
    used: float | None,
    setting: str,
    problem: str | None = None,
) -> None:
    """The share of the bucket ours used on `setting`'s bucket (`used`; `bound` None: the run
    failed or did not run, `problem` says why), judged when it bound: when the same work ran
    below 90% of its rate on the unbinding bucket (`free_rate`), or Shopify refused a call for
    want of points (a client that waits for the points before sending is never refused, so
    throttled answers alone would miss it). A run that did not record every refund fails."""
    status = ERROR
    note = problem or "not run"
    if bound is not None and used is not None:
        rate = bound.paid / bound.seconds if bound.seconds else 0.0
        binding = bound.throttled > 0 or rate < 0.9 * free_rate
        finished = bound.paid == count
        note = (
            f"{count} more returns resolved with {setting}: {rate:.1f} returns/s against"
            f" {free_rate:.1f} on the bucket above, {bound.throttled} throttled answers;"
            + (" bound by the bucket" if binding else " the bucket did not bind")
            + ("" if finished else f"; only {bound.paid} of {count} refunds recorded")
        )
        if not finished:
            status = FAIL
        elif binding:
            status = PASS if used >= 90.0 else FAIL
        else:
            status = REPORTED
    report.add(
        Row(
            f"resolve {count} refund returns through the simulator",
            "throttle budget used",
            "%",
            used,
            None,
            ">= 90% when the bucket binds",
            status,
            note=note,
        )
    )
