"""A database that stalls (connections open, nothing answered) and then resumes.

The app reaches the database through a `StallingProxy`; the test's own `raw` client does not.
While stalled, every request must answer promptly with a clear "retry shortly" error; once the
database answers again the same requests succeed with no restart, and nothing written before
the stall has changed.

Timing: machines running these tests are noisy, so nothing here asserts how fast a request is,
only that it answers at all within a generous liveness bound (three times its deadline). Before
the request deadline existed, these requests hung for 10 to 30 s (until the driver's monitor gave
up on the server, or the socket timed out) and then answered INTERNAL_SERVER_ERROR or a 500.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from pymongo.monitoring import (
    ConnectionCheckedInEvent,
    ConnectionCheckedOutEvent,
    ConnectionCheckOutFailedEvent,
    ConnectionCheckOutStartedEvent,
    ConnectionClosedEvent,
    ConnectionCreatedEvent,
    ConnectionPoolListener,
    ConnectionReadyEvent,
    PoolClearedEvent,
    PoolClosedEvent,
    PoolCreatedEvent,
    PoolReadyEvent,
)

from app.http.health import HEALTH_TIMEOUT_SECONDS
from app.services.webhooks.ingest import INGEST_TIMEOUT_SECONDS
from tests.webhooks.helpers import order_payload
from tools.chaos.environment import API_SECRET, Stack, eventually
from tools.shopify_sim.webhooks import sign

REQUEST_TIMEOUT_MS = 1000
REQUEST_BOUND_SECONDS = 3 * REQUEST_TIMEOUT_MS / 1000
HEALTH_BOUND_SECONDS = 3 * HEALTH_TIMEOUT_SECONDS
INGEST_BOUND_SECONDS = 3 * INGEST_TIMEOUT_SECONDS
Send = Callable[[], Awaitable[httpx.Response]]

STALL_SECONDS = 4.0  # a few deadlines long: requests give up while it lasts
RECOVERY_BOUND_SECONDS = 20.0
ORDERS = 3

TENANT_QUERY = "{ tenant { id shopDomain returnPolicy { windowDays } } }"
ORDERS_QUERY = "{ orders(first: 10) { nodes { id name email totalPrice { amount } } } }"
RETURNS_QUERY = "{ returns(first: 10) { nodes { id status } } }"
POLICY_MUTATION = """
mutation Policy($days: Int!) {
  updateReturnPolicy(input: {windowDays: $days}) {
    tenant { returnPolicy { windowDays } }
    userErrors { code message }
  }
}
"""
LOOKUP_QUERY = """
query Lookup($number: String!, $email: String!) {
  lookupOrder(orderNumber: $number, customerEmail: $email) { id name totalPrice { amount } }
}
"""


def _stack(tmp_path: Path) -> Stack:
    return Stack(
        tmp_path,
        serve_app=True,
        via_proxy=True,
        socket_timeout_ms=None,  # as deployed: no client-wide timeoutMS, only the request's
        mongodb_request_timeout_ms=REQUEST_TIMEOUT_MS,
        mongodb_max_pool_size=4,  # small: stalled workers and requests compete for it
        webhook_idle_seconds=0.05,
    )


async def _installed_shop(stack: Stack) -> tuple[str, str, str]:
    """(shop domain, tenant id, merchant API key) of a shop whose orders the first sync stored."""
    domain = await stack.new_shop(orders=0)
    for _ in range(ORDERS):  # created now, so inside the first sync's window
        await stack.control.create_order(domain)
    tenant_id = await stack.install_through_the_app(domain)

    async def synced() -> bool:
        stored: int = await stack.raw["orders"].count_documents({"tenant_id": tenant_id})
        return stored == ORDERS

    await eventually(synced, RECOVERY_BOUND_SECONDS)
    return domain, tenant_id, await stack.api_key(tenant_id)


class Timed:
    """An HTTP answer and how long it took (for liveness bounds only)."""

    def __init__(self, response: httpx.Response, seconds: float) -> None:
        self.response = response
        self.seconds = seconds

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = self.response.json()
        return parsed


async def _timed(request: Awaitable[httpx.Response]) -> Timed:
    started = time.monotonic()
    response = await request
    return Timed(response, time.monotonic() - started)


def _graphql_requests(
    stack: Stack, key: str, tenant_id: str, order: dict[str, Any]
) -> dict[str, Send]:
    """Named request factories: merchant queries and a mutation, and a portal lookup."""
    url = f"{stack.app_url}/graphql"
    merchant = {"Authorization": f"Bearer {key}"}
    portal = {"X-Tenant-Id": tenant_id}

    def post(query: str, headers: dict[str, str], variables: dict[str, Any] | None = None) -> Send:
        return lambda: stack.http.post(
            url, json={"query": query, "variables": variables or {}}, headers=headers
        )

    return {
        "policy": post(POLICY_MUTATION, merchant, {"days": 45}),  # first: the others see it
        "tenant": post(TENANT_QUERY, merchant),
        "orders": post(ORDERS_QUERY, merchant),
        "returns": post(RETURNS_QUERY, merchant),
        "lookup": post(
            LOOKUP_QUERY, portal, {"number": order["order_number"], "email": order["email"]}
        ),
    }


async def _snapshot(stack: Stack, tenant_id: str) -> dict[str, Any]:
    orders = await stack.raw["orders"].find({"tenant_id": tenant_id}).sort("_id").to_list(None)
    tenant = await stack.raw["tenants"].find_one({"_id": tenant_id})
    keys = await stack.raw["api_keys"].find({"tenant_id": tenant_id}).sort("_id").to_list(None)
    for key in keys:
        key.pop("last_used_at", None)  # touched by use, by design
    return {"orders": orders, "policy": tenant["return_policy"], "api_keys": keys}


class PoolWatch(ConnectionPoolListener):
    """The app's pool as the driver reports it: connections ready (handshake done, not closed)
    and checked out. Counted from the driver's own events, because a connection the proxy has
    accepted may still be in its handshake when the stall begins, and a request that needs it
    then waits for a connection instead of holding one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: set[int] = set()
        self._checked_out = 0

    @property
    def ready(self) -> int:
        with self._lock:
            return len(self._ready)

    @property
    def checked_out(self) -> int:
        with self._lock:
            return self._checked_out

    def connection_ready(self, event: ConnectionReadyEvent) -> None:
        with self._lock:
            self._ready.add(event.connection_id)

    def connection_closed(self, event: ConnectionClosedEvent) -> None:
        with self._lock:
            self._ready.discard(event.connection_id)

    def connection_checked_out(self, event: ConnectionCheckedOutEvent) -> None:
        with self._lock:
            self._checked_out += 1

    def connection_checked_in(self, event: ConnectionCheckedInEvent) -> None:
        with self._lock:
            self._checked_out -= 1

    # The events this watch does not need.
    def pool_created(self, event: PoolCreatedEvent) -> None: ...
    def pool_ready(self, event: PoolReadyEvent) -> None: ...
    def pool_cleared(self, event: PoolClearedEvent) -> None: ...
    def pool_closed(self, event: PoolClosedEvent) -> None: ...
    def connection_created(self, event: ConnectionCreatedEvent) -> None: ...
    def connection_check_out_started(self, event: ConnectionCheckOutStartedEvent) -> None: ...
    def connection_check_out_failed(self, event: ConnectionCheckOutFailedEvent) -> None: ...


def _codes(body: dict[str, Any]) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors") or []}


async def test_graphql_and_health_answer_unavailable_during_a_stall_and_recover_after(
    tmp_path: Path,
) -> None:
    async with _stack(tmp_path) as stack:
        domain, tenant_id, key = await _installed_shop(stack)
        order = await stack.raw["orders"].find_one({"tenant_id": tenant_id})
        requests = _graphql_requests(stack, key, tenant_id, order)
        before = {name: (await send()).json() for name, send in requests.items()}
        assert all(not body.get("errors") for body in before.values()), before
        assert before["lookup"]["data"]["lookupOrder"] is not None
        written = await _snapshot(stack, tenant_id)
        health = f"{stack.app_url}/api/health"

        assert stack.proxy is not None
        async with stack.proxy.stalled(STALL_SECONDS):
            first_wave = [_timed(send()) for send in requests.values()]
            first_wave += [_timed(stack.http.get(health)) for _ in range(2)]
            answered = await asyncio.gather(*first_wave)
            # Whether these meet a full pool or a server the driver already gave up on depends
            # on when its monitor looks; both must answer (the full pool: the test below).
            second_wave = [_timed(send()) for send in requests.values()]
            second_wave.append(_timed(stack.http.get(health)))
            answered += await asyncio.gather(*second_wave)

        graphql = [a for a in answered if a.response.url.path == "/graphql"]
        checks = [a for a in answered if a.response.url.path == "/api/health"]
        for answer in graphql:
            assert answer.seconds < REQUEST_BOUND_SECONDS, f"hung {answer.seconds:.1f}s"
            assert _codes(answer.body) == {"SERVICE_UNAVAILABLE"}, answer.body
            assert "retry shortly" in answer.body["errors"][0]["message"]
            assert answer.body["errors"][0]["extensions"]["requestId"]
        for answer in checks:
            assert answer.seconds < HEALTH_BOUND_SECONDS, f"health hung {answer.seconds:.1f}s"
            assert answer.response.status_code == 503
            assert answer.body["database"] == "error"

        async def recovered() -> bool:
            body = (await requests["tenant"]()).json()
            return not body.get("errors")

        await eventually(recovered, RECOVERY_BOUND_SECONDS)
        after = {name: (await send()).json() for name, send in requests.items()}
        assert after == before
        assert (await stack.http.get(health)).status_code == 200
        assert await _snapshot(stack, tenant_id) == written

        # The background workers came back too: a new order's webhook is ingested and applied.
        await stack.control.create_order(domain)

        async def applied() -> bool:
            stored: int = await stack.raw["orders"].count_documents({"tenant_id": tenant_id})
            return stored == len(written["orders"]) + 1

        await eventually(applied, RECOVERY_BOUND_SECONDS)


async def test_health_answers_503_while_the_pool_is_full_of_stalled_requests(
    tmp_path: Path,
) -> None:
    pool_size = 4
    pool = PoolWatch()
    async with Stack(
        tmp_path,
        serve_app=True,
        via_proxy=True,
        socket_timeout_ms=None,
        # Requests hold their connections through the health check, and the driver's monitor
        # does not look during the stall (else requests fail in server selection, not the pool).
        mongodb_request_timeout_ms=4000,
        uri_options={"heartbeatFrequencyMS": 60_000, "minPoolSize": pool_size},
        mongodb_max_pool_size=pool_size,
        run_background_jobs=False,
        mongo_listeners=[pool],
    ) as stack:
        health = f"{stack.app_url}/api/health"
        assert (await stack.http.get(health)).status_code == 200
        unknown_key = {"Authorization": "Bearer rk_000000000000_unknown"}  # one lookup each
        assert stack.proxy is not None
        proxy = stack.proxy

        async def pool_warm() -> bool:
            return pool.ready >= pool_size  # `minPoolSize`: every connection already open

        await eventually(pool_warm, RECOVERY_BOUND_SECONDS)

        def authenticated_request() -> Awaitable[httpx.Response]:
            return stack.http.post(
                f"{stack.app_url}/graphql", json={"query": TENANT_QUERY}, headers=unknown_key
            )

        async with proxy.stalled(STALL_SECONDS):
            holding = [asyncio.ensure_future(authenticated_request()) for _ in range(pool_size)]

            async def pool_full() -> bool:
                return pool.checked_out >= pool_size

            await eventually(pool_full, REQUEST_BOUND_SECONDS)
            check = await _timed(stack.http.get(health))
            held = await asyncio.gather(*holding)
        assert check.seconds < HEALTH_BOUND_SECONDS, f"health hung {check.seconds:.1f}s"
        assert check.response.status_code == 503
        assert all(_codes(r.json()) == {"SERVICE_UNAVAILABLE"} for r in held)

        async def healthy() -> bool:
            return (await stack.http.get(health)).status_code == 200

        await eventually(healthy, RECOVERY_BOUND_SECONDS)


async def test_oauth_install_answers_503_during_a_stall_and_redirects_after(
    tmp_path: Path,
) -> None:
    async with _stack(tmp_path) as stack:
        domain = await stack.new_shop(orders=0)
        url = f"{stack.app_url}/api/auth/shopify/install"
        assert stack.proxy is not None
        async with stack.proxy.stalled(STALL_SECONDS):
            answer = await _timed(stack.http.get(url, params={"shop": domain}))
        assert answer.seconds < REQUEST_BOUND_SECONDS, f"hung {answer.seconds:.1f}s"
        assert answer.response.status_code == 503
        assert answer.body["error"] == "database_unavailable"
        assert "retry shortly" in answer.body["message"]

        async def redirects() -> bool:
            response = await stack.http.get(url, params={"shop": domain})
            return response.status_code == 302

        await eventually(redirects, RECOVERY_BOUND_SECONDS)


async def test_webhook_answers_503_during_a_stall_and_is_stored_once_after(
    tmp_path: Path,
) -> None:
    async with _stack(tmp_path) as stack:
        body = orjson.dumps(order_payload(order_id=7_100_000, email="stall@example.com"))
        event_id = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "stalled.myshopify.com",
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Hmac-Sha256": sign(body, API_SECRET),
        }

        def deliver() -> Awaitable[httpx.Response]:
            return stack.http.post(
                f"{stack.app_url}/api/webhooks/orders/create", content=body, headers=headers
            )

        assert stack.proxy is not None
        async with stack.proxy.stalled(STALL_SECONDS):
            answer = await _timed(deliver())
        assert answer.seconds < INGEST_BOUND_SECONDS, f"hung {answer.seconds:.1f}s"
        assert answer.response.status_code == 503

        async def accepted() -> bool:
            return (await deliver()).status_code == 200

        # The refused insert may still land once the held bytes arrive: Shopify's retry is then
        # a duplicate, never a second event.
        await eventually(accepted, RECOVERY_BOUND_SECONDS)
        stored = await stack.raw["webhook_events"].count_documents({"event_id": event_id})
        assert stored == 1
