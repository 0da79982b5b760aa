"""A page of returns with their orders and line items costs a constant number of finds."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo import monitoring

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers

PAGE = (
    "query($first: Int!) { returns(first: $first) { nodes { id order { id lineItems { id } } } } }"
)


class FindCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: Counter[str] = Counter()
        self.recording = False
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.command_name == "find":
            with self._lock:
                self.finds[str(event.command["find"])] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, FindCounter]]:
    listener = FindCounter()
    application = create_app(settings, mongo_listeners=[listener], configure_logs=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, listener


async def finds_for_page(
    http: httpx.AsyncClient, listener: FindCounter, headers: dict[str, str], first: int
) -> Counter[str]:
    listener.finds.clear()
    listener.recording = True
    body = await graphql(http, PAGE, {"first": first}, headers)
    listener.recording = False
    nodes = body["data"]["returns"]["nodes"]
    assert len(nodes) == first
    assert all(node["order"]["lineItems"] for node in nodes)
    return Counter(listener.finds)


async def test_page_of_returns_costs_constant_finds(
    counted: tuple[httpx.AsyncClient, FindCounter],
) -> None:
    http, listener = counted
    tenant = await make_tenant("shop")
    headers = await merchant_headers(tenant.id)
    for number in range(1, 51):
        order = await make_order(tenant.id, 1000 + number)
        await make_return(order)
    fifty = await finds_for_page(http, listener, headers, 50)
    ten = await finds_for_page(http, listener, headers, 10)
    assert fifty == ten
    assert fifty["returns"] == 1
    assert fifty["orders"] == 1
    assert sum(fifty.values()) <= 4  # plus the API key and its shop's installation status
