"""What the per-request database deadline (`MONGODB_REQUEST_TIMEOUT_MS`) must not reach.

The deadline is PyMongo's contextvar-based operation timeout, so every task a request starts
inherits it. Work that must outlive the request has to run without it; here, the store of a
Shopify token pair refreshed for a request: Shopify revokes the old pair when it issues the new
one, so a store cut short by the request's deadline would leave the shop with no valid token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tools.chaos.environment import Stack

REQUEST_TIMEOUT_MS = 1000
REFRESH_DELAY_SECONDS = 1.5  # the new pair arrives after the request's deadline has passed
REGISTER_WEBHOOKS = """
mutation { registerShopifyWebhooks { webhooks { topic } userErrors { code message } } }
"""


@contextmanager
def slow_token_refresh(http: httpx.AsyncClient, seconds: float) -> Iterator[None]:
    """Shopify takes `seconds` to answer a token refresh (the app's shared HTTP client)."""

    async def delay(request: httpx.Request) -> None:
        if request.url.path.endswith("/oauth/access_token"):
            await asyncio.sleep(seconds)

    http.event_hooks = {"request": [delay], "response": []}
    try:
        yield
    finally:
        http.event_hooks = {"request": [], "response": []}


async def test_a_token_refreshed_after_the_request_deadline_is_still_stored(
    tmp_path: Path,
) -> None:
    async with Stack(
        tmp_path,
        serve_app=True,
        socket_timeout_ms=None,
        mongodb_request_timeout_ms=REQUEST_TIMEOUT_MS,
    ) as stack:
        domain = await stack.new_shop(orders=0)
        tenant_id = await stack.install_through_the_app(domain)
        headers = {"Authorization": f"Bearer {await stack.api_key(tenant_id)}"}
        assert stack.app_server is not None
        shopify_http = stack.app_server.app.state.resources.shopify_http
        url = f"{stack.app_url}/graphql"

        await stack.control.expire_tokens(domain)
        with slow_token_refresh(shopify_http, REFRESH_DELAY_SECONDS):
            # Shopify's slowness does not spend the request's database time: it succeeds.
            slow = await stack.http.post(url, json={"query": REGISTER_WEBHOOKS}, headers=headers)
        assert slow.json().get("errors") is None, slow.text

        body = (
            await stack.http.post(url, json={"query": REGISTER_WEBHOOKS}, headers=headers)
        ).json()
        assert body.get("errors") is None, body
        assert body["data"]["registerShopifyWebhooks"]["userErrors"] == []
        counters = (await stack.control.shop_state(domain))["counters"]
        assert counters.get("token_refreshes") == 1
        assert not counters.get("token_refresh_rejected"), "the refreshed pair was lost"
