"""ShopifyAdminClient against the simulator over real HTTP: paging, throttling, retries, tokens."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from app.shopify.client import RetryPolicy, ShopifyAdminClient
from app.shopify.errors import ShopifyAuthError, ShopifyGraphQLError, ShopifyUnavailableError
from app.shopify.oauth_client import exchange_code, refresh_access_token
from app.shopify.pagination import paginate, paginate_pages
from tests.factories import CounterDeltas
from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET, InMemoryTokenSource
from tools.shopify_sim import SimulatorControl
from tools.shopify_sim.control_client import InstalledShop

ORDER_IDS = """
query Ids($first: Int!, $after: String) {
  orders(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id name } } }
}
"""
FAST = RetryPolicy(
    max_attempts=4,
    base_backoff=0.02,
    max_backoff=0.1,
    max_retry_time=5.0,
    read_timeout=1.0,
    connect_timeout=1.0,
)


def make_client(
    http: httpx.AsyncClient,
    shop: InstalledShop,
    tokens: InMemoryTokenSource | None = None,
    retry: RetryPolicy = FAST,
) -> ShopifyAdminClient:
    return ShopifyAdminClient(
        shop_domain=shop.domain,
        api_version="2026-10",
        admin_base_template=shop.admin_base_template,
        token_source=tokens or InMemoryTokenSource(http, shop),
        http=http,
        retry=retry,
    )


async def test_paging_1000_orders_returns_each_once(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=1000)
    assert isinstance(shop, InstalledShop)
    client = make_client(sim_http, shop)
    names = [node["name"] async for node in paginate(client, ORDER_IDS, {"first": 250}, "orders")]
    assert len(names) == 1000 == len(set(names))
    assert client.last_cost is not None and client.last_cost.restore_rate == 50.0


async def test_pages_expose_cursors_to_resume(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=30)
    client = make_client(sim_http, shop)
    pages = [page async for page in paginate_pages(client, ORDER_IDS, {"first": 10}, "orders")]
    assert [len(p.nodes) for p in pages] == [10, 10, 10] and not pages[-1].has_next_page
    resumed = [
        page
        async for page in paginate_pages(
            client, ORDER_IDS, {"first": 10}, "orders", after=pages[0].end_cursor
        )
    ]
    assert [n["id"] for p in resumed for n in p.nodes] == [
        n["id"] for p in pages[1:] for n in p.nodes
    ]


async def test_tiny_bucket_slows_down_instead_of_failing(sim_control: SimulatorControl, sim_http):
    # bucket 100, restore 400/s; each request asks 42 points: 200 requests need ~8400 points => ~20 s
    # at 400/s... keep it fast: cost 12 (first: 10), 200 requests = 2400 points, ~5.75 s at 400/s.
    shop = await sim_control.create_shop(orders=20, bucket_size=100, restore_rate=400)
    client = make_client(sim_http, shop, retry=RetryPolicy(max_retry_time=30.0, base_backoff=0.02))
    query = "{ orders(first: 10) { nodes { id } } }"

    async def worker(count: int) -> None:
        for _ in range(count):
            data = await client.execute(query)
            assert len(data["orders"]["nodes"]) == 10

    await asyncio.gather(*(worker(50) for _ in range(4)))
    assert client.stats.waited_seconds > 0
    counters = (await sim_control.shop_state(shop.domain))["counters"]
    assert counters["graphql_requests"] >= 200
    # the local bucket estimate keeps THROTTLED answers rare (and every one was retried)
    assert counters.get("throttled", 0) <= 20


async def test_5xx_is_retried(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=3)
    await sim_control.set_faults(shop.domain, fail_next=2, error_status=502)
    client = make_client(sim_http, shop)
    data = await client.execute("{ shop { name } }")
    assert data["shop"]["name"]
    assert client.stats.by_status == {502: 2, 200: 1}


async def test_a_mutation_that_may_not_repeat_is_sent_once_when_its_answer_is_lost(
    sim_control: SimulatorControl, sim_http
):
    """Applied by Shopify, then a 502: sending it again could apply it twice (a second return),
    so the caller is told at once and decides from what Shopify shows."""
    shop = await sim_control.create_shop(orders=3)
    await sim_control.drop_next_responses(shop.domain, 1)
    client = make_client(sim_http, shop)
    with pytest.raises(ShopifyUnavailableError, match="after sending"):
        await client.execute("{ shop { name } }", may_repeat=False)
    assert client.stats.by_status == {502: 1}
    assert (await sim_control.shop_state(shop.domain))["counters"]["faults_dropped"] == 1


async def test_a_mutation_that_may_not_repeat_still_waits_out_a_refused_connection(
    sim_control: SimulatorControl, sim_http
):
    shop = await sim_control.create_shop(orders=3)
    await sim_control.set_faults(shop.domain, fail_next=1, error_status=429)
    client = make_client(sim_http, shop)
    data = await client.execute("{ shop { name } }", may_repeat=False)
    assert data["shop"]["name"]
    assert client.stats.by_status == {429: 1, 200: 1}


async def test_error_rate_is_survived(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=3)
    await sim_control.set_faults(shop.domain, error_rate=0.3, seed=11)
    client = make_client(
        sim_http, shop, retry=RetryPolicy(max_attempts=8, base_backoff=0.01, max_backoff=0.05)
    )
    for _ in range(20):
        await client.execute("{ shop { name } }")
    assert client.stats.retries > 0


async def test_timeouts_are_retried(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=3)
    await sim_control.set_faults(shop.domain, timeout_next=1, hang_seconds=3)
    client = make_client(
        sim_http,
        shop,
        retry=RetryPolicy(max_attempts=3, base_backoff=0.01, read_timeout=0.3, max_retry_time=5),
    )
    data = await client.execute("{ shop { myshopifyDomain } }")
    assert data["shop"]["myshopifyDomain"] == shop.domain
    assert client.stats.retries == 1


async def test_persistent_failure_ends_in_typed_error_in_bounded_time(
    sim_control: SimulatorControl, sim_http
):
    shop = await sim_control.create_shop(orders=1)
    await sim_control.set_faults(shop.domain, error_rate=1.0, error_status=503)
    client = make_client(sim_http, shop)
    started = time.monotonic()
    with pytest.raises(ShopifyUnavailableError) as caught:
        await client.execute("{ shop { name } }")
    assert caught.value.status_code == 503
    # bounded: gives up after its attempts, never waits on forever (a liveness bound, generous)
    assert time.monotonic() - started < 15.0
    assert client.stats.by_status == {503: FAST.max_attempts}


async def test_persistent_timeouts_end_in_typed_error(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=1)
    await sim_control.set_faults(shop.domain, timeout_rate=1.0, hang_seconds=2)
    client = make_client(
        sim_http,
        shop,
        retry=RetryPolicy(max_attempts=2, base_backoff=0.01, read_timeout=0.2, max_retry_time=3),
    )
    with pytest.raises(ShopifyUnavailableError):
        await client.execute("{ shop { name } }")


async def test_graphql_errors_are_typed(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=1)
    client = make_client(sim_http, shop)
    with pytest.raises(ShopifyGraphQLError) as caught:
        await client.execute("{ shop { nope } }")
    assert "nope" in caught.value.messages[0]
    with pytest.raises(ShopifyGraphQLError) as too_big:
        await client.execute(
            "{ orders(first: 250) { nodes { lineItems(first: 50) { nodes { id } } } } }"
        )
    assert too_big.value.codes == ["MAX_COST_EXCEEDED"]


async def test_expired_token_is_refreshed_once_for_20_concurrent_callers(
    sim_control: SimulatorControl, sim_http
):
    shop = await sim_control.create_shop(orders=5)
    tokens = InMemoryTokenSource(sim_http, shop)
    client = make_client(sim_http, shop, tokens)
    await sim_control.expire_tokens(shop.domain)
    results = await asyncio.gather(*(client.execute("{ shop { name } }") for _ in range(20)))
    assert all(result["shop"]["name"] for result in results)
    assert tokens.refresh_calls == 1
    counters = (await sim_control.shop_state(shop.domain))["counters"]
    assert counters["token_refreshes"] == 1
    assert counters.get("token_refresh_rejected", 0) == 0


async def test_uninstalled_shop_gives_auth_error(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=1)
    client = make_client(sim_http, shop)
    await sim_control.uninstall(shop.domain)
    with pytest.raises(ShopifyAuthError):  # the refresh is refused: the app must be re-installed
        await client.execute("{ shop { name } }")


async def test_throttled_answer_is_waited_out_and_retried(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=5, bucket_size=100, restore_rate=20)
    client = make_client(sim_http, shop)
    await client.execute("{ orders(first: 5) { nodes { id } } }")
    await sim_control.set_faults(
        shop.domain, bucket_available=0
    )  # the client's estimate is now stale
    data = await client.execute("{ orders(first: 5) { nodes { id } } }")
    assert len(data["orders"]["nodes"]) == 5
    assert client.stats.throttled == 1


async def test_the_budget_a_query_waits_for_follows_its_connection_sizes(
    sim_control: SimulatorControl, sim_http
):
    """The cost the client reserves before sending is the one Shopify asked of the same query
    with the same sizes: a small read of a query last sent large does not wait for the large
    one's points."""
    shop = await sim_control.create_shop(orders=5, bucket_size=100, restore_rate=1)
    client = make_client(sim_http, shop)
    sized = "query ($first: Int!) { orders(first: $first) { nodes { id } } }"
    await client.execute(sized, {"first": 90})  # asks 92 points
    assert client.last_cost is not None and client.last_cost.requested == 92
    await sim_control.set_faults(shop.domain, bucket_available=30)
    await client.execute("{ shop { name } }")  # the client now knows about 30 are left
    data = await client.execute(sized, {"first": 1})  # asks 3: sent at once
    assert len(data["orders"]["nodes"]) == 1
    assert client.last_cost is not None and client.last_cost.requested == 3
    assert client.stats.waited_seconds == 0


async def test_oauth_helpers_exchange_and_refresh(sim_control: SimulatorControl, sim_http):
    created = await sim_control.create_bare_shop(orders=0)
    domain = created["domain"]
    params = await sim_control.authorize(domain)
    grant = await exchange_code(
        sim_http,
        sim_control.base_url + "/{shop}",
        domain,
        SIM_API_KEY,
        SIM_API_SECRET,
        params["code"],
    )
    assert grant.expires_at is not None and grant.expires_at.tzinfo is not None
    assert grant.refresh_token and grant.refresh_token_expires_at
    rotated = await refresh_access_token(
        sim_http,
        sim_control.base_url + "/{shop}",
        domain,
        SIM_API_KEY,
        SIM_API_SECRET,
        grant.refresh_token,
    )
    assert rotated.access_token != grant.access_token
    with pytest.raises(ShopifyAuthError):
        await refresh_access_token(
            sim_http,
            sim_control.base_url + "/{shop}",
            domain,
            SIM_API_KEY,
            SIM_API_SECRET,
            grant.refresh_token,
        )


async def test_timeouts_count_as_unreachable_calls(sim_control: SimulatorControl, sim_http):
    shop = await sim_control.create_shop(orders=1)
    await sim_control.set_faults(shop.domain, timeout_next=1, hang_seconds=2)
    counters = CounterDeltas(
        ("rms_shopify_api_calls_total", {"api": "admin_graphql", "outcome": "unreachable"}),
        ("rms_shopify_api_calls_total", {"api": "admin_graphql", "outcome": "ok"}),
    )
    client = make_client(
        sim_http,
        shop,
        retry=RetryPolicy(max_attempts=3, base_backoff=0.01, read_timeout=0.2, max_retry_time=5),
    )
    await client.execute("{ shop { myshopifyDomain } }")
    assert counters.deltas() == [1, 1]
