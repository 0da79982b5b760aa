"""The returns workflow in bursts while the database is killed: customers competing for the
same units, merchants deciding, and the Shopify mirror pushing, all through the served app."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo.asynchronous.client_session import AsyncClientSession

from app.graphql.core.node import local_id
from app.models import Return
from app.models.return_ledger import ledger_id
from app.services.returns import shopify_mirror, transitions
from app.services.returns.shopify_mirror import ReturnMirrorWorker
from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import cross_tenant_reads, wrapped

LINES_PER_ORDER = 2
# Fulfilled units per line: three customers asking for 1 or 2 units each must collide.
UNITS_PER_LINE = 2
# The app's database budget per request (MONGODB_REQUEST_TIMEOUT_MS, 5 s by default): shorter
# here so that an outage can outlast it within a short run.
REQUEST_TIMEOUT_MS = 2000
# The customers of one order arrive together, the orders one after the other over at least
# ARRIVALS_SECONDS, at most ORDERS_PER_SECOND (more would measure how the app sheds load, not
# what it keeps). The orders come in two waves: the second is held until the crash after a
# commit is over, so the crash before an insert still meets creates however slowly the first
# wave went (a fixed wait for the first crash missed it once on a loaded machine).
ARRIVALS_SECONDS = 3.0
ORDERS_PER_SECOND = 2.0
MERCHANTS = 3
# The mirror has no settings (app/config.py): its lease (300 s), back-off base (5 s) and idle
# poll (5 s) are constants, shortened here as the sync scenarios shorten their options, so a
# push interrupted by the crash is retried within the run rather than minutes later.
MIRROR_LEASE_SECONDS = 2.0
MIRROR_RETRY_BASE_SECONDS = 0.1
MIRROR_IDLE_SECONDS = 0.05
# A return request recorded as sent but not on Shopify is sent again only after this (2 min in
# the app): longer than one send may take (the Admin client's retries, then a wait for a
# pooled connection, a connect, the write and the read: a worker whose 2 s lease ran out
# mid-send is never raced), shorter than the run's wait for the mirror to drain (a request
# recorded just before a crash, never sent, is sent within the run).
MIRROR_SEND_IN_FLIGHT = shopify_mirror.longest_send() + timedelta(seconds=5)
MIRROR_DRAIN_SECONDS = MIRROR_SEND_IN_FLIGHT.total_seconds() + 20
# Where the database is killed, in this order (see the `_crash_*` wrappers), for how long (plus
# ~0.6 s to start again), and how long to wait for the moment at most (the create points also
# stop waiting when their wave of customers is answered). Down longer than a request's budget,
# the request in progress fails midway: what is left of it must be consistent. Down shorter, the
# driver retries on the restarted server within the budget and the caller is answered: what it
# is told must be true.
CRASH_POINTS = (
    ("committed", 0.3, 10.0),
    ("reserved", 2.5, 10.0),
    ("decided", 0.3, 10.0),
    ("shopify-requested", 1.0, 10.0),
)

ACTIVE = frozenset({"requested", "approved", "received", "resolved"})
PROGRESS = {"requested": 0, "approved": 1, "received": 2, "resolved": 3}
ON_SHOPIFY = {
    "requested": "REQUESTED",
    "approved": "OPEN",
    "received": "OPEN",
    "resolved": "CLOSED",
}
NEXT_DECISION = {
    "REQUESTED": "approveReturn",
    "APPROVED": "markReturnReceived",
    "RECEIVED": "resolveReturn",
}
REACHES = {
    "approveReturn": "APPROVED",
    "markReturnReceived": "RECEIVED",
    "resolveReturn": "RESOLVED",
}
# What a client may retry: the database was unavailable, or an error was masked as internal.
RETRYABLE = frozenset({"SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR"})

CREATE_RETURN = """
mutation ($input: CreateReturnInput!) { createReturn(input: $input) {
  return { id status } userErrors { code } } }
"""
RETURN_BY_ID = "query ($id: ID!) { return(id: $id) { id } }"
LIST_RETURNS = "query { returns(first: 100) { nodes { id } } }"
WAITING_RETURNS = """
query ($status: ReturnStatus!) { returns(first: 10, filter: {status: $status}) {
  nodes { id status } } }
"""


def _decision(mutation: str) -> str:
    return f"""mutation ($id: ID!) {{ {mutation}(id: $id) {{
      return {{ id status }} userErrors {{ code }} }} }}"""


class Refused(Exception):
    """The app did not answer the call (no response, 5xx, a retryable GraphQL error)."""

    def __init__(self, reason: str, internal: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason  # what the caller saw, for a caller still refused at the end
        self.internal = internal


async def _post(
    stack: Stack, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> tuple[dict[str, Any] | None, set[str]]:
    """The answer's `data` and error codes; `Refused` when a client would retry."""
    try:
        response = await stack.http.post(
            f"{stack.app_url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=20.0,
        )
    except httpx.HTTPError as exc:
        raise Refused(f"no answer ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise Refused(f"HTTP {response.status_code}: {response.text[:120]}")
    body: dict[str, Any] = response.json()
    errors = body.get("errors") or []
    codes = {str((error.get("extensions") or {}).get("code")) for error in errors}
    if errors and codes <= RETRYABLE:
        message = str(errors[0].get("message") or "")[:120]
        raise Refused(
            f"{'/'.join(sorted(codes))}: {message}", internal="INTERNAL_SERVER_ERROR" in codes
        )
    return body.get("data"), codes


async def _call(
    stack: Stack, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """The operation's `data`; `Refused` when a client would retry. Any other error is a bug of
    the scenario or of the service, and raises."""
    data, codes = await _post(stack, query, variables, headers)
    if codes or data is None:
        raise RuntimeError(f"unexpected answer to {query.split()[0:3]}: {codes}")
    return data


@dataclass
class Burst:
    """What the callers were told."""

    creates: dict[str, dict[str, int]] = field(default_factory=dict)  # acked: id -> units/line
    # Acked: (return id, status reached, the deciding merchant's API key id).
    decisions: list[tuple[str, str, str]] = field(default_factory=list)
    refused: int = 0
    refused_internal: int = 0  # refusals masked as internal errors rather than "unavailable"
    turned_down: int = 0  # answered with userErrors: units already taken, a decision raced
    gave_up: int = 0  # callers still refused at the deadline
    # What those callers were last told (why they were still refused), with how many.
    gave_up_reasons: Counter[str] = field(default_factory=Counter)
    first_wave_done: asyncio.Event = field(default_factory=asyncio.Event)
    second_wave: asyncio.Event = field(default_factory=asyncio.Event)  # let the rest arrive
    customers_done: asyncio.Event = field(default_factory=asyncio.Event)

    def refusal(self, refused: Refused) -> None:
        self.refused += 1
        self.refused_internal += int(refused.internal)

    def give_up(self, last: Refused | None) -> None:
        self.gave_up += 1
        reason = last.reason if last is not None else "still answered, but not done in time"
        self.gave_up_reasons[reason] += 1


class Outages:
    """Kills the database from inside the app at an armed moment (the worst one for the write in
    progress); the scenario's loop restarts it. Strikes run in the app's thread."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.loop = asyncio.get_running_loop()
        self.killed = asyncio.Event()
        self.struck: list[str] = []
        self.return_sessions: weakref.WeakSet[AsyncClientSession] = weakref.WeakSet()
        self._armed: str | None = None
        self._lock = threading.Lock()

    def arm(self, moment: str) -> None:
        with self._lock:
            self._armed = moment

    def strike(self, moment: str) -> None:
        with self._lock:
            if self._armed != moment:
                return
            self._armed = None
        # `Stack.kill_database` without its thread hop: nothing else of the app runs between
        # the crash point and the crash.
        self.stack.database.kill()
        self.struck.append(moment)
        self.loop.call_soon_threadsafe(self.killed.set)

    async def outage(
        self, moment: str, seconds: float, timeout: float, until: asyncio.Event | None = None
    ) -> bool:
        """Arm `moment` and wait for the strike (at most `timeout`, or until `until` is set),
        keep the database down for `seconds`, restart it. False if it never struck."""
        self.killed.clear()
        self.arm(moment)
        waits = [asyncio.ensure_future(self.killed.wait())]
        if until is not None:
            waits.append(asyncio.ensure_future(until.wait()))
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
        self.arm("")
        if not self.killed.is_set():
            return False
        await asyncio.sleep(seconds)
        await self.stack.restart_database()
        return True


def _crash_before_insert(outages: Outages) -> Callable[..., Any]:
    """createReturn's worst moment for atomicity: units reserved, the return not yet inserted.
    Sessions that inserted a return are remembered for `_crash_after_commit`."""

    def wrapper(insert: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def crash_then_insert(self: Return, *args: Any, **kwargs: Any) -> Any:
            outages.strike("reserved")
            inserted = await insert(self, *args, **kwargs)
            if kwargs.get("session") is not None:
                outages.return_sessions.add(kwargs["session"])
            return inserted

        return crash_then_insert

    return wrapper


def _crash_after_commit(outages: Outages) -> Callable[..., Any]:
    """The worst moment for durability: a createReturn's transaction committed, the customer
    not yet answered."""

    def wrapper(commit: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def commit_then_crash(self: AsyncClientSession) -> None:
            await commit(self)
            if self in outages.return_sessions:
                outages.strike("committed")

        return commit_then_crash

    return wrapper


def _crash_after_decision(outages: Outages) -> Callable[..., Any]:
    """A decision's worst moment: written, the merchant not yet answered."""

    def wrapper(apply: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def apply_then_crash(*args: Any, **kwargs: Any) -> Any:
            result = await apply(*args, **kwargs)
            if result.record is not None:
                outages.strike("decided")
            return result

        return apply_then_crash

    return wrapper


def _crash_after_shopify_request(outages: Outages) -> Callable[..., Any]:
    """The mirror's worst moment: Shopify created its return and we have not recorded its id."""

    def wrapper(
        request: Callable[..., Awaitable[str | None]],
    ) -> Callable[..., Awaitable[str | None]]:
        async def request_then_crash(*args: Any, **kwargs: Any) -> str | None:
            shopify_id = await request(*args, **kwargs)
            if shopify_id is not None:
                outages.strike("shopify-requested")
            return shopify_id

        return request_then_crash

    return wrapper


@contextlib.contextmanager
def _crash_points(outages: Outages) -> Iterator[None]:
    """The crash points, and the mirror's timings shortened (it has no settings, see above)."""
    with (
        wrapped(Return, "insert", _crash_before_insert(outages)),
        wrapped(AsyncClientSession, "commit_transaction", _crash_after_commit(outages)),
        wrapped(transitions, "_apply", _crash_after_decision(outages)),
        wrapped(shopify_mirror, "_request", _crash_after_shopify_request(outages)),
        wrapped(shopify_mirror, "LEASE_SECONDS", lambda _: MIRROR_LEASE_SECONDS),
        wrapped(shopify_mirror, "RETRY_BASE_SECONDS", lambda _: MIRROR_RETRY_BASE_SECONDS),
        wrapped(ReturnMirrorWorker, "idle_seconds", lambda _: MIRROR_IDLE_SECONDS),
        wrapped(shopify_mirror, "SEND_IN_FLIGHT", lambda _: MIRROR_SEND_IN_FLIGHT),
    ):
        yield


# Setup -----------------------------------------------------------------------------------------
def _returnable_variants(stack: Stack, domain: str, count: int) -> list[str]:
    shop = stack.simulator.app.state.sim.shops[domain]
    found = [
        str(variant["id"])
        for product in shop.products
        if "final-sale" not in product["tags"]
        for variant in product["_variants"]
    ]
    return found[:count]


async def _fulfilled_orders(stack: Stack, domain: str, orders: int) -> None:
    """Orders in Shopify, each with LINES_PER_ORDER lines of UNITS_PER_LINE units, delivered."""
    variants = _returnable_variants(stack, domain, LINES_PER_ORDER)
    for index in range(orders):
        await stack.control.create_order(
            domain,
            email=f"buyer{index}@example.com",
            line_items=[{"variant_id": v, "quantity": UNITS_PER_LINE} for v in variants],
            fulfilled=True,
            financial_status="PAID",
            tags=[],
        )


async def _stored_orders(stack: Stack, tenant_id: str, orders: int) -> list[dict[str, Any]]:
    """Our copies of the orders once the install's sync stored them all."""

    async def synced() -> list[dict[str, Any]] | None:
        docs: list[dict[str, Any]] = (
            await stack.raw["orders"].find({"tenant_id": tenant_id}).to_list(None)
        )
        return docs if len(docs) >= orders else None

    found: list[dict[str, Any]] = await eventually(synced, 60, 0.1)
    return found


# The burst -------------------------------------------------------------------------------------
def _asks(order: dict[str, Any], customers: int, rng: random.Random) -> list[dict[str, int]]:
    """What each customer of `order` asks for: one or both lines, 1 or 2 units of each."""
    lines = [str(line["id"]) for line in order["line_items"]]
    asks = []
    for _ in range(customers):
        chosen = rng.sample(lines, rng.choice((1, len(lines))))
        asks.append({line: rng.choice((1, UNITS_PER_LINE)) for line in chosen})
    return asks


# How long callers go on being refused, at most, after the database's last restart.
RECOVERY_SECONDS = 30.0
MAX_RECOVERY_SECONDS = 6 * RECOVERY_SECONDS


class Deadline:
    """When callers give up: never while crashes are still to come (a crash that waits long for
    its moment on a busy machine once closed the callers' time before the last restart, and the
    second wave's customers then gave up without a single try); `RECOVERY_SECONDS` after the
    last crash is over, pushed back by every answered call after that. What is checked is that
    callers keep getting through once the database is back, not how fast a loaded machine
    serves them."""

    def __init__(self) -> None:
        self.at: float | None = None  # None until the last crash is over
        self.latest = 0.0  # answered calls push it back no further than this

    def recovered(self) -> None:
        now = time.monotonic()
        self.at = now + RECOVERY_SECONDS
        # A caller answered again and again without getting anywhere (a decision turned down
        # every time) must not keep the run going for ever.
        self.latest = now + MAX_RECOVERY_SECONDS

    def answered(self) -> None:
        """A call got through: after the last crash, callers get `RECOVERY_SECONDS` more."""
        if self.at is not None and self.open():
            self.at = min(max(self.at, time.monotonic() + RECOVERY_SECONDS), self.latest)

    def open(self) -> bool:
        return self.at is None or time.monotonic() < self.at


def _arrivals(orders: int) -> float:
    return max(ARRIVALS_SECONDS, orders / ORDERS_PER_SECOND)


def _backoff(attempt: int) -> float:
    """Seconds before a refused call is tried again, as a client with jittered backoff waits."""
    return float(random.uniform(0.5, 1.0) * min(0.1 * 2**attempt, 2.0))


async def _customer(
    stack: Stack,
    burst: Burst,
    tenant_id: str,
    order: dict[str, Any],
    units: dict[str, int],
    client_ip: str,
    deadline: Deadline,
) -> None:
    """One customer's createReturn, retried while refused, as a portal page would."""
    # Each customer has their own address: the portal serializes the attempts of one client.
    headers = {"X-Tenant-Id": tenant_id, "X-Forwarded-For": client_ip}
    request = {
        "orderId": order["shopify_id"],
        "customerEmail": order["email"],
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [
            {"lineItemId": line, "quantity": quantity, "reason": "DEFECTIVE"}
            for line, quantity in units.items()
        ],
    }
    attempt = 0
    last: Refused | None = None
    while deadline.open():
        try:
            data = await _call(stack, CREATE_RETURN, {"input": request}, headers)
        except Refused as refused:
            burst.refusal(refused)
            last = refused
            attempt += 1
            await asyncio.sleep(_backoff(attempt))
            continue
        deadline.answered()
        payload = data["createReturn"]
        if payload["userErrors"] or payload["return"] is None:
            burst.turned_down += 1
        else:
            burst.creates[_local(payload["return"]["id"])] = units
        return
    burst.give_up(last)


async def _waiting_return(
    stack: Stack, headers: dict[str, str], rng: random.Random
) -> dict[str, Any] | None:
    """A return waiting for the next step (one of the older on the first page of a status picked
    at random, as staff working different queues); None when no return waits."""
    for status in rng.sample(list(NEXT_DECISION), len(NEXT_DECISION)):
        page = await _call(stack, WAITING_RETURNS, {"status": status}, headers)
        nodes: list[dict[str, Any]] = page["returns"]["nodes"]
        if nodes:
            return rng.choice(nodes[-5:])
    return None


def _key_id(api_key: str) -> str:
    """The id of an API key (`rk_<hex>_<secret>`), the subject of the history's actor."""
    return "_".join(api_key.split("_", 2)[:2])


async def _merchant(
    stack: Stack, burst: Burst, api_key: str, rng: random.Random, deadline: Deadline
) -> None:
    """A member of staff taking the next step on returns from the list until none is left;
    several of them at once sometimes pick the same return (one wins, the other is told)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    key_id = _key_id(api_key)
    refusals = 0
    last: Refused | None = None
    while deadline.open():
        try:
            chosen = await _waiting_return(stack, headers, rng)
            if chosen is None:
                if burst.customers_done.is_set():
                    return
                await asyncio.sleep(0.05)
                continue
            mutation = NEXT_DECISION[chosen["status"]]
            data = await _call(stack, _decision(mutation), {"id": chosen["id"]}, headers)
        except Refused as refused:
            burst.refusal(refused)
            last = refused
            refusals += 1
            await asyncio.sleep(_backoff(refusals))
            continue
        deadline.answered()
        refusals, last = 0, None
        payload = data[mutation]
        reached = (payload.get("return") or {}).get("status")
        if payload["userErrors"] or reached != REACHES[mutation]:
            burst.turned_down += 1
        else:
            burst.decisions.append((_local(payload["return"]["id"]), reached.lower(), key_id))
    burst.give_up(last)


async def _customers(
    stack: Stack,
    burst: Burst,
    tenant_id: str,
    orders: list[dict[str, Any]],
    customers_per_order: int,
    rng: random.Random,
    deadline: Deadline,
) -> None:
    """The customers of each order, the orders arriving one after the other."""

    spacing = _arrivals(len(orders)) / len(orders)
    first_wave = (len(orders) + 1) // 2

    async def arrive(index: int, order: dict[str, Any]) -> None:
        place = index
        if index >= first_wave:
            await burst.second_wave.wait()
            place -= first_wave
        await asyncio.sleep(place * spacing)
        asks = _asks(order, customers_per_order, rng)
        await asyncio.gather(
            *(
                _customer(
                    stack,
                    burst,
                    tenant_id,
                    order,
                    units,
                    f"10.{index // 250}.{index % 250}.{number + 1}",
                    deadline,
                )
                for number, units in enumerate(asks)
            )
        )

    async def wave(indexes: range) -> None:
        await asyncio.gather(*(arrive(index, orders[index]) for index in indexes))

    try:
        await wave(range(first_wave))
        burst.first_wave_done.set()
        await wave(range(first_wave, len(orders)))
    finally:
        burst.first_wave_done.set()
        burst.customers_done.set()


def _local(return_id: object) -> str:
    """The stored `_id` of a return from its GraphQL (global) id."""
    return local_id(str(return_id), "Return") or ""


# Checks ----------------------------------------------------------------------------------------
async def _check_returns(
    stack: Stack, figures: Figures, burst: Burst, tenant_id: str, orders: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Acknowledged creates and decisions stored; ledgers equal to the active returns' units."""
    docs: list[dict[str, Any]] = (
        await stack.raw["returns"].find({"tenant_id": tenant_id}).to_list(None)
    )
    by_id = {str(doc["_id"]): doc for doc in docs}
    stored = 0
    for return_id, units in burst.creates.items():
        doc = by_id.get(return_id)
        if doc is None:
            figures.notes.append(f"acknowledged return {return_id} not found")
            continue
        held = {item["line_item_id"]: int(item["quantity"]) for item in doc["items"]}
        requested = any(entry["to_status"] == "requested" for entry in doc["history"])
        stored += held == units and requested
        figures.check(held == units, f"return {return_id}: acknowledged {units}, stored {held}")
        figures.check(requested, f"return {return_id}: no `requested` in its history")
    # Each acked decision is one entry of its return's history, by the merchant told so: a
    # decision lost in a crash and taken again (by the same merchant or another) shows here.
    acked = Counter(burst.decisions)
    for (return_id, status, key_id), count in acked.items():
        doc = by_id.get(return_id)
        if doc is None:
            figures.notes.append(f"return {return_id} acknowledged {status} not found")
            continue
        entries = sum(
            1
            for entry in doc["history"]
            if entry["to_status"] == status and str(entry.get("actor")).endswith(f":{key_id}")
        )
        stored += min(count, entries)
        figures.check(
            PROGRESS.get(doc["status"], -1) >= PROGRESS[status],
            f"return {return_id} acknowledged {status}, now {doc['status']}",
        )
        if entries < count:
            figures.notes.append(
                f"return {return_id}: {count} x {status} acknowledged to {key_id},"
                f" {entries} in its history"
            )
    for doc in docs:
        reached = Counter(entry["to_status"] for entry in doc["history"])
        # A conditional update lets each transition happen once.
        figures.duplicated += sum(count - 1 for count in reached.values())
    figures.acknowledged = len(burst.creates) + len(burst.decisions)
    figures.stored = stored
    figures.details["unacked_stored"] = len(set(by_id) - set(burst.creates))
    figures.details["resolved"] = sum(doc["status"] == "resolved" for doc in docs)

    for order in orders:
        number = str(order["order_number"])
        ledger = await stack.raw["return_ledgers"].find_one({"_id": ledger_id(tenant_id, number)})
        reserved = {str(k): int(v) for k, v in ((ledger or {}).get("reserved") or {}).items()}
        active: Counter[str] = Counter()
        for doc in docs:
            if doc["order_number"] == number and doc["status"] in ACTIVE:
                for item in doc["items"]:
                    active[item["line_item_id"]] += int(item["quantity"])
        for line in order["line_items"]:
            line_id, fulfilled = str(line["id"]), int(line["fulfilled_quantity"])
            in_ledger, returned = reserved.get(line_id, 0), active[line_id]
            # Units held with no return behind them, or more returned than was fulfilled.
            excess = max(0, in_ledger - returned) + max(0, returned - fulfilled)
            figures.duplicated += excess
            if excess:
                figures.notes.append(
                    f"order {number} line {line_id}: ledger {in_ledger}, active returns"
                    f" {returned}, fulfilled {fulfilled}"
                )
            figures.check(
                in_ledger >= returned,
                f"order {number} line {line_id}: ledger {in_ledger} < {returned} in active returns",
            )
    return docs


async def _check_shopify(
    stack: Stack, figures: Figures, domain: str, docs: list[dict[str, Any]]
) -> None:
    """One Shopify return per return of ours, in the status ours has, with one refund if it is
    resolved (all are refunds here)."""
    on_shopify = {
        found["id"]: found for found in (await stack.control.shop_state(domain))["returns"]
    }
    figures.details["shopify_returns"] = len(on_shopify)
    references = Counter(
        str(doc["shopify_return_id"]) for doc in docs if doc.get("shopify_return_id")
    )
    figures.duplicated += sum(count - 1 for count in references.values())
    orphans = set(on_shopify) - set(references)
    figures.duplicated += len(orphans)
    figures.check(not orphans, f"{len(orphans)} Shopify returns none of ours holds")
    refunds = 0
    for doc in docs:
        sync = doc.get("shopify_sync") or {}
        label = f"return {doc['_id']} ({doc['status']})"
        if sync.get("status") != "synced":
            figures.failures.append(f"{label}: mirror {sync.get('status')}: {sync.get('error')}")
            continue
        found = on_shopify.get(str(doc.get("shopify_return_id")))
        if found is None:
            figures.failures.append(f"{label}: synced, but Shopify has no return for it")
            continue
        figures.check(
            found["status"] == ON_SHOPIFY[doc["status"]],
            f"{label}: {found['status']} on Shopify",
        )
        units = sum(int(item["quantity"]) for item in doc["items"])
        shopify_units = sum(int(line["quantity"]) for line in found["line_items"])
        figures.check(
            units == shopify_units, f"{label}: {shopify_units} units on Shopify, ours {units}"
        )
        # Money moves exactly once: a resolved refund return has one refund on Shopify, the
        # one recorded on ours; any other return has none.
        paid = list(found.get("refund_ids") or [])
        refunds += len(paid)
        wanted = 1 if doc["status"] == "resolved" else 0
        figures.duplicated += max(0, len(paid) - 1)
        figures.check(len(paid) == wanted, f"{label}: {len(paid)} refunds on Shopify")
        recorded = (doc.get("refund") or {}).get("shopify_refund_id")
        figures.check(
            paid[:1] == ([recorded] if recorded else []),
            f"{label}: refund recorded {recorded}, on Shopify {paid}",
        )
    figures.details["refunds"] = refunds


async def _cross_tenant_return_reads(
    stack: Stack, reader_key: str, victim: str, docs: list[dict[str, Any]]
) -> int:
    """Returns of `victim` that `reader_key` can see: in its list, by id (also naming the
    victim in `X-Tenant-Id`), or told apart from a missing one by a decision's answer."""
    headers = {"Authorization": f"Bearer {reader_key}"}
    ids = {str(doc["_id"]) for doc in docs}
    leaked = 0
    for extra in ({}, {"X-Tenant-Id": victim}):
        listed, _ = await _post(stack, LIST_RETURNS, {}, {**headers, **extra})
        nodes = ((listed or {}).get("returns") or {}).get("nodes") or []
        leaked += sum(1 for node in nodes if _local(node["id"]) in ids)
    for return_id in sorted(ids)[:5]:
        for extra in ({}, {"X-Tenant-Id": victim}):
            found, _ = await _post(stack, RETURN_BY_ID, {"id": return_id}, {**headers, **extra})
            leaked += (found or {}).get("return") is not None
        decided, _ = await _post(stack, _decision("resolveReturn"), {"id": return_id}, headers)
        payload = (decided or {}).get("resolveReturn") or {}
        codes = {error["code"] for error in payload.get("userErrors") or []}
        # NOT_FOUND is all another tenant may learn; INVALID_TRANSITION tells it the return exists.
        leaked += payload.get("return") is not None or codes - {"NOT_FOUND"} != set()
    return leaked


# The scenario ----------------------------------------------------------------------------------
async def returns_with_database_restart(
    root: Path, orders: int = 10, customers_per_order: int = 3, merchants: int = MERCHANTS
) -> Figures:
    """Customers compete for the same units (`customers_per_order` on each of `orders` orders of
    two lines of two units) and `merchants` approve, receive and resolve, over HTTP, while the
    database is SIGKILLed four times, each at the worst moment of a write in progress, and
    restarted after an outage shorter or longer than a request's budget (`CRASH_POINTS`).
    Every acknowledged create and decision is stored, no unit is reserved twice or without a
    return, each return has exactly one Shopify return, in the status ours has, and another
    tenant's key reads none of it."""
    figures = Figures("returns: db killed during bursts")
    started = time.monotonic()
    stack = Stack(
        root,
        serve_app=True,
        socket_timeout_ms=None,  # no `timeoutMS` in the URI: as deployed
        mongodb_request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    outages = Outages(stack)
    # Patched before the app starts: its runner reads the mirror's idle time from the start.
    with _crash_points(outages):
        async with stack:
            domain = await stack.new_shop(orders=0)
            other_domain = await stack.new_shop(orders=0, prefix="other")
            await _fulfilled_orders(stack, domain, orders)
            tenant_id = await stack.install_through_the_app(domain)
            other = await stack.install_through_the_app(other_domain)
            stored_orders = await _stored_orders(stack, tenant_id, orders)
            staff = [await stack.api_key(tenant_id) for _ in range(merchants)]
            burst = Burst()
            await _burst_with_outages(
                stack,
                burst,
                outages,
                tenant_id,
                staff,
                stored_orders,
                customers_per_order,
            )

            async def drained() -> bool:
                pending: int = await stack.raw["returns"].count_documents(
                    {"tenant_id": tenant_id, "shopify_sync.status": "pending"}
                )
                return pending == 0

            with contextlib.suppress(TimeoutError):
                await eventually(drained, MIRROR_DRAIN_SECONDS, 0.1)
            for moment, _, _ in CRASH_POINTS:
                figures.check(moment in outages.struck, f"never crashed at {moment}")
            figures.check(
                burst.gave_up == 0,
                f"{burst.gave_up} callers still refused at the end"
                f" (last told: {dict(burst.gave_up_reasons)})",
            )
            docs = await _check_returns(stack, figures, burst, tenant_id, stored_orders)
            await _check_shopify(stack, figures, domain, docs)
            reader = await stack.api_key(other)
            figures.cross_tenant_reads = await cross_tenant_reads(
                stack, reader, tenant_id
            ) + await _cross_tenant_return_reads(stack, reader, tenant_id, docs)
            figures.details = {
                "creates_acked": len(burst.creates),
                "decisions_acked": len(burst.decisions),
                "refused": burst.refused,
                "refused_internal": burst.refused_internal,
                "turned_down": burst.turned_down,
                "outages": len(outages.struck),
                **figures.details,
            }
    figures.seconds = time.monotonic() - started
    return figures


async def _burst_with_outages(
    stack: Stack,
    burst: Burst,
    outages: Outages,
    tenant_id: str,
    staff: list[str],
    orders: list[dict[str, Any]],
    customers_per_order: int,
) -> None:
    """Customers and merchants until all are answered; the crashes meanwhile, in turn."""
    deadline = Deadline()
    customers = _customers(
        stack, burst, tenant_id, orders, customers_per_order, random.Random(7), deadline
    )
    callers = [
        asyncio.create_task(customers),
        *(
            asyncio.create_task(_merchant(stack, burst, key, random.Random(n), deadline))
            for n, key in enumerate(staff)
        ),
    ]
    try:
        # Armed from the start: the first create to commit is the first crash.
        waves = {"committed": burst.first_wave_done, "reserved": burst.customers_done}
        for moment, seconds, wait in CRASH_POINTS:
            # No create can crash once its wave is answered; merchants and mirror go on.
            await outages.outage(moment, seconds, wait, waves.get(moment))
            burst.second_wave.set()
        # Callers have RECOVERY_SECONDS after the last restart (and more while they get
        # through), however long the crashes waited for their moments.
        deadline.recovered()
        await asyncio.gather(*callers)
    finally:
        for caller in callers:
            caller.cancel()
