"""Admin GraphQL client for one shop, with Shopify's cost-based throttling handled.

Why httpx directly and not gql: gql's HTTPX transport creates and owns its own
`httpx.AsyncClient` in `connect()`, so the shared, lifespan-managed client cannot be injected;
and a throttled answer (HTTP 200 with `errors[].extensions.code == "THROTTLED"`) surfaces as a
`TransportQueryError` while 401/429/5xx surface as other exception types, which makes reading
`extensions.cost` on every answer and one retry loop awkward. A GraphQL POST is small enough to
do by hand; queries are plain strings (see `queries.py`).

Behaviour:
- reads `extensions.cost.throttleStatus` from every answer (never assumes a restore rate) and
  estimates the bucket locally (`currentlyAvailable + elapsed * restoreRate - in flight`);
  before sending a query whose requested cost is known and cannot be paid yet, it waits;
- retries THROTTLED (HTTP 200), 429, 5xx, timeouts and connection errors with capped
  exponential backoff and jitter, all bounded by `RetryPolicy.max_retry_time`;
- on 401 asks the token source for a new token once (`refresh(rejected_token)`) and retries;
  a second 401, or any 403, is a `ShopifyAuthError`.
- `may_repeat=False` (a mutation Shopify may apply twice, e.g. `returnRequest`): a request that
  may have reached Shopify (a timeout, a reset, a 5xx, an unreadable answer) is not sent again
  here: `ShopifyUnavailableError` at once, so the caller's outbox looks at Shopify before it
  tries again. Refused connections, 429 and THROTTLED were not applied and are still retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.observability import metrics

from .errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyThrottledError,
    ShopifyUnavailableError,
)
from .tokens import TokenSource

logger = logging.getLogger(__name__)
JSON = dict[str, Any]

# The `api` label of this client's calls in the Shopify metrics, and the outcome of the HTTP
# statuses that end an attempt before its body is read (any other 5xx: "server_error").
ADMIN_GRAPHQL = "admin_graphql"
_HTTP_OUTCOMES = {401: "unauthorized", 403: "forbidden", 429: "throttled"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `max_retry_time` bounds one `execute()` including waits."""

    max_attempts: int = 5  # for 5xx, timeouts, connection errors
    max_throttle_attempts: int = 30  # for THROTTLED and 429
    base_backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_time: float = 60.0
    connect_timeout: float = 5.0
    read_timeout: float = 20.0


@dataclass(frozen=True)
class QueryCost:
    requested: int | None
    actual: int | None
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Any) -> QueryCost | None:
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(cost, dict) or not isinstance(status, dict):
            return None
        return cls(
            requested=cost.get("requestedQueryCost"),
            actual=cost.get("actualQueryCost"),
            maximum_available=float(status["maximumAvailable"]),
            currently_available=float(status["currentlyAvailable"]),
            restore_rate=float(status["restoreRate"]),
        )


@dataclass
class BucketEstimate:
    """Local view of the shop's leaky bucket between answers."""

    maximum: float | None = None
    available: float = 0.0
    restore_rate: float = 0.0
    observed_at: float = 0.0
    in_flight: float = 0.0

    def observe(self, cost: QueryCost) -> None:
        self.maximum = cost.maximum_available
        self.available = cost.currently_available
        self.restore_rate = cost.restore_rate
        self.observed_at = time.monotonic()

    def current(self) -> float | None:
        if self.maximum is None:
            return None
        restored = self.available + (time.monotonic() - self.observed_at) * self.restore_rate
        return min(self.maximum, restored) - self.in_flight

    def delay_for(self, cost: float) -> float:
        available = self.current()
        if available is None or available >= cost or self.restore_rate <= 0:
            return 0.0
        return (cost - available) / self.restore_rate


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    refreshes: int = 0
    waited_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


class ShopifyAdminClient:
    """Async Admin GraphQL client for one shop; share one instance per shop and process."""

    def __init__(
        self,
        *,
        shop_domain: str,
        api_version: str,
        admin_base_template: str,
        token_source: TokenSource,
        http: httpx.AsyncClient,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.shop_domain = shop_domain
        self.api_version = api_version
        base = admin_base_template.format(shop=shop_domain).rstrip("/")
        self.endpoint = f"{base}/admin/api/{api_version}/graphql.json"
        self._tokens = token_source
        self._http = http
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._bucket = BucketEstimate()
        self._budget_lock = asyncio.Lock()
        # Requested cost by query and its integer variables (connection sizes), from answers.
        self._known_costs: dict[tuple[str, tuple[tuple[str, int], ...]], int] = {}
        self.last_cost: QueryCost | None = None
        self.last_extensions: JSON | None = None
        self.stats = ClientStats()

    # Public API ------------------------------------------------------------------------
    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        estimated_cost: int | None = None,
        may_repeat: bool = True,
    ) -> JSON:
        """Run one operation and return its `data`; raises a `ShopifyError` subclass.
        `may_repeat`: whether sending it twice is harmless (see the module docstring)."""
        body = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        content = orjson.dumps(body)
        deadline = time.monotonic() + self.retry.max_retry_time
        failures = throttles = 0
        refreshed = False
        token = await self._tokens.access_token()
        while True:
            cost = self._known_costs.get(_cost_key(query, variables), estimated_cost or 0)
            reserved = await self._wait_for_budget(cost, deadline)
            sent = time.monotonic()
            try:
                response = await self._send(content, token)
            except httpx.TransportError as error:  # timeouts, refused connections, resets
                metrics.shopify_api_call(ADMIN_GRAPHQL, "unreachable")
                if not may_repeat and not isinstance(error, httpx.ConnectError):
                    raise ShopifyUnavailableError(
                        f"{type(error).__name__} after sending: {error}", shop=self.shop_domain
                    ) from error
                failures += 1
                await self._backoff_or_raise(
                    failures,
                    deadline,
                    ShopifyUnavailableError(
                        f"{type(error).__name__}: {error}", shop=self.shop_domain
                    ),
                    error,
                )
                continue
            finally:
                self._bucket.in_flight = max(0.0, self._bucket.in_flight - reserved)
            status = response.status_code
            seconds = time.monotonic() - sent
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            if status in _HTTP_OUTCOMES or status >= 500:
                metrics.shopify_api_call(
                    ADMIN_GRAPHQL,
                    _HTTP_OUTCOMES.get(status, "server_error"),
                    seconds=seconds,
                    throttled=status == 429,
                )
            if status == 401:
                if refreshed:
                    raise ShopifyAuthError(
                        "access token rejected after refresh",
                        shop=self.shop_domain,
                        status_code=401,
                    )
                refreshed = True
                self.stats.refreshes += 1
                token = await self._tokens.refresh(token)
                continue
            if status == 403:
                raise ShopifyAuthError(
                    f"forbidden: {response.text[:200]}", shop=self.shop_domain, status_code=403
                )
            if status == 429:
                throttles += 1
                delay = _retry_after(response) or self._backoff(throttles)
                await self._throttle_or_raise(throttles, deadline, delay)
                continue
            if status >= 500:
                if not may_repeat:
                    raise ShopifyUnavailableError(
                        f"HTTP {status} after sending", shop=self.shop_domain, status_code=status
                    )
                failures += 1
                await self._backoff_or_raise(
                    failures,
                    deadline,
                    ShopifyUnavailableError(
                        f"HTTP {status}", shop=self.shop_domain, status_code=status
                    ),
                )
                continue
            payload = self._decode(response)
            if payload is None:
                metrics.shopify_api_call(ADMIN_GRAPHQL, "unreadable", seconds=seconds)
                if not may_repeat:
                    raise ShopifyUnavailableError(
                        f"unreadable answer (HTTP {status}) after sending", shop=self.shop_domain
                    )
                failures += 1
                await self._backoff_or_raise(
                    failures,
                    deadline,
                    ShopifyUnavailableError(
                        f"unreadable answer (HTTP {status})", shop=self.shop_domain
                    ),
                )
                continue
            answered_cost = self._observe(query, variables, payload)
            errors = payload.get("errors")
            if status != 200 and not errors:
                errors = [{"message": f"HTTP {status}: {response.text[:200]}"}]
            throttled = bool(errors) and _is_throttled(errors)
            metrics.shopify_api_call(
                ADMIN_GRAPHQL,
                "throttled" if throttled else "graphql_error" if errors else "ok",
                seconds=seconds,
                cost=answered_cost.actual if answered_cost else None,
                throttled=throttled,
            )
            if errors:
                if throttled:
                    throttles += 1
                    requested = self.last_cost.requested if self.last_cost else None
                    if (
                        requested is not None
                        and self.last_cost
                        and requested > self.last_cost.maximum_available
                    ):
                        raise ShopifyThrottledError(
                            f"query cost {requested} exceeds the bucket size {self.last_cost.maximum_available}",
                            shop=self.shop_domain,
                        )
                    delay = self._bucket.delay_for(float(requested or 0)) + self._rng.uniform(
                        0.0, 0.05
                    )
                    await self._throttle_or_raise(throttles, deadline, max(delay, 0.01))
                    continue
                if not isinstance(errors, list):
                    errors = [{"message": str(errors)}]
                raise ShopifyGraphQLError(errors, shop=self.shop_domain, data=payload.get("data"))
            data = payload.get("data")
            return data if isinstance(data, dict) else {}

    # Internals ---------------------------------------------------------------------------
    async def _send(self, content: bytes, token: str) -> httpx.Response:
        self.stats.requests += 1
        timeout = httpx.Timeout(self.retry.read_timeout, connect=self.retry.connect_timeout)
        return await self._http.post(
            self.endpoint,
            content=content,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Shopify-Access-Token": token,
            },
            timeout=timeout,
        )

    async def _wait_for_budget(self, cost: int, deadline: float) -> float:
        """Wait until the estimated bucket can pay `cost`, then reserve it. Returns the reservation."""
        if cost <= 0:
            return 0.0
        async with self._budget_lock:
            delay = self._bucket.delay_for(cost)
            if delay > 0:
                if time.monotonic() + delay > deadline:
                    raise ShopifyThrottledError(
                        f"waiting {delay:.1f}s for query cost {cost} exceeds the retry budget",
                        shop=self.shop_domain,
                    )
                self.stats.waited_seconds += delay
                await asyncio.sleep(delay)
            self._bucket.in_flight += cost
        return float(cost)

    def _observe(
        self, query: str, variables: dict[str, Any] | None, payload: JSON
    ) -> QueryCost | None:
        """Learn from the answer's cost extension (bucket state, the query's cost); its cost."""
        extensions = payload.get("extensions")
        cost = QueryCost.from_extensions(extensions)
        if cost is None:
            return None
        self.last_extensions = extensions if isinstance(extensions, dict) else None
        self.last_cost = cost
        self._bucket.observe(cost)
        if cost.requested is not None:
            self._known_costs[_cost_key(query, variables)] = int(cost.requested)
        return cost

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_backoff, self.retry.base_backoff * (2 ** (attempt - 1)))
        return self._rng.uniform(
            ceiling / 2, ceiling
        )  # "equal jitter": never zero, never above the cap

    async def _backoff_or_raise(
        self,
        failures: int,
        deadline: float,
        error: ShopifyError,
        cause: BaseException | None = None,
    ) -> None:
        delay = self._backoff(failures)
        if failures >= self.retry.max_attempts or time.monotonic() + delay > deadline:
            raise error from cause
        self.stats.retries += 1
        logger.info(
            "shopify retry %s for %s in %.2fs: %s", failures, self.shop_domain, delay, error
        )
        await asyncio.sleep(delay)

    async def _throttle_or_raise(self, throttles: int, deadline: float, delay: float) -> None:
        self.stats.throttled += 1
        if throttles >= self.retry.max_throttle_attempts or time.monotonic() + delay > deadline:
            raise ShopifyThrottledError(
                f"still throttled after {throttles} attempts", shop=self.shop_domain
            )
        self.stats.waited_seconds += delay
        await asyncio.sleep(delay)

    @staticmethod
    def _decode(response: httpx.Response) -> JSON | None:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return None
        return payload if isinstance(payload, dict) else None


def _cost_key(
    query: str, variables: dict[str, Any] | None
) -> tuple[str, tuple[tuple[str, int], ...]]:
    """What a query's requested cost depends on: its text and the integers among its variables
    (connection sizes such as `first: $lines`)."""
    sizes = tuple(
        sorted(
            (name, value)
            for name, value in (variables or {}).items()
            if isinstance(value, int) and not isinstance(value, bool)
        )
    )
    return query, sizes


def _is_throttled(errors: Any) -> bool:
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in errors
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
