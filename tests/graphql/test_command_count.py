"""A page of returns with their orders costs a constant number of MongoDB commands."""

from __future__ import annotations

from collections import Counter

import httpx
from pymongo import monitoring

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.factories import make_order, make_return, make_tenant, merchant_headers

QUERY = "{ returns(first: 50) { nodes { id status order { id name lineItems { id sku } } } } }"


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


async def _count_for(settings: Settings, returns: int) -> Counter[str]:
    counter = CommandCounter()
    app = create_app(settings, mongo_listeners=[counter], configure_logs=False)
    async with app.router.lifespan_context(app):
        tenant = await make_tenant(f"shop{returns}")
        headers = await merchant_headers(tenant.id)
        for i in range(returns):
            await make_return(await make_order(tenant.id, 5000 + i))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            counter.recording = True
            response = await http.post("/graphql", json={"query": QUERY}, headers=headers)
            counter.recording = False
        assert len(response.json()["data"]["returns"]["nodes"]) == returns
    return counter.commands


async def test_page_of_50_returns_with_orders_costs_constant_commands(
    settings: Settings, db: Database
) -> None:
    small = await _count_for(settings, 5)
    large = await _count_for(settings, 50)
    assert small == large
    # the API key, its shop's installation status, the page of returns, one batched load of
    # their orders
    assert large["find"] == 4, large
