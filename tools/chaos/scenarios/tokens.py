"""The database dies right after Shopify issued a refreshed token pair."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.services.integration import session as shopify_session
from app.services.integration.session import admin_client_for
from app.services.integration.token_cipher import TokenCipher
from tools.chaos.environment import Stack
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import beanie, wrapped

OUTAGE_SECONDS = 1.5
CALLERS = 5
SHOP_NAME = "query { shop { name } }"


async def token_refresh_with_database_restart(root: Path, rounds: int = 3) -> Figures:
    """Each round, Shopify expires the token while several callers need it; the refresh goes
    through and the database is killed the instant Shopify answers (the old pair is revoked by
    then), then restarted. Every pair Shopify issued must end up stored, each expiry must cost
    exactly one refresh, and the stored pair must be one Shopify honours."""
    figures = Figures("tokens: db killed after a refresh")
    started = time.monotonic()
    # As deployed: no operation timeout in the URI, so the driver gives up during the outage.
    async with Stack(root, socket_timeout_ms=None) as stack:
        database = await beanie(stack)
        try:
            domain = await stack.new_shop(orders=1)
            tenant_id = await stack.install_in_process(domain)
            cipher = TokenCipher(stack.settings.encryption_keys)
            issued: list[str] = []
            outages: list[asyncio.Task[None]] = []

            def crash_after_issue(
                refresh: Callable[..., Awaitable[Any]],
            ) -> Callable[..., Awaitable[Any]]:
                async def issued_then_crash(*args: Any, **kwargs: Any) -> Any:
                    grant = await refresh(*args, **kwargs)
                    issued.append(grant.access_token)
                    await stack.kill_database()

                    async def come_back() -> None:
                        await asyncio.sleep(OUTAGE_SECONDS)
                        await stack.restart_database()

                    outages.append(asyncio.create_task(come_back()))
                    return grant

                return issued_then_crash

            answered = 0
            figures.acknowledged = figures.stored = 0
            for _ in range(rounds):
                before = len(issued)
                await stack.control.expire_tokens(domain)
                with wrapped(shopify_session, "refresh_access_token", crash_after_issue):
                    results = await asyncio.gather(
                        *(_shop_name(stack, tenant_id) for _ in range(CALLERS)),
                        return_exceptions=True,
                    )
                await asyncio.gather(*outages)
                answered += sum(1 for result in results if isinstance(result, str))
                if len(issued) == before:
                    figures.failures.append("no caller got the token refreshed")
                    continue
                figures.acknowledged += 1  # Shopify issued a pair and revoked the old one
                stored = await stack.raw["integrations_shopify"].find_one({"tenant_id": tenant_id})
                token = cipher.decrypt(stored["access_token"]) if stored else None
                if token == issued[-1] and await _honoured(stack, domain, token):
                    figures.stored += 1
            counters = (await stack.control.shop_state(domain)).get("counters") or {}
            refreshes = int(counters.get("token_refreshes") or 0)
            figures.duplicated = max(0, refreshes - rounds)
            figures.check(refreshes >= rounds, f"{refreshes} refreshes for {rounds} expiries")
            figures.details = {"rounds": rounds, "refreshes": refreshes, "calls_ok": answered}
        finally:
            await database.close()
    figures.seconds = time.monotonic() - started
    return figures


async def _shop_name(stack: Stack, tenant_id: str) -> str:
    client = await admin_client_for(tenant_id, stack.settings, stack.http)
    data = await client.execute(SHOP_NAME)
    return str(data["shop"]["name"])


async def _honoured(stack: Stack, domain: str, token: str) -> bool:
    answer = await stack.http.post(
        stack.simulator.graphql_url(domain, stack.settings.shopify_api_version),
        json={"query": SHOP_NAME},
        headers={"X-Shopify-Access-Token": token},
    )
    return answer.status_code == 200 and "errors" not in answer.json()
