"""Traces (the `otel` extra) with an in-memory exporter: the span tree of one GraphQL request,
and of one webhook from its delivery to its handler (processed later, in the same trace)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.observability import tracing
from app.observability.logging import JsonFormatter
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.conftest import TEST_API_SECRET
from tests.factories import make_order, make_tenant, merchant_headers
from tests.webhooks.helpers import order_payload, webhook_headers


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure_tracing(provider)
    try:
        yield exporter
    finally:
        tracing.reset_tracing()


@pytest.fixture
async def traced_client(
    spans: InMemorySpanExporter, settings: Settings, db: Database
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings, configure_logs=False)  # built while tracing is on
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield app, http


def _by_id(finished: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in finished if s.context is not None}


def _ancestors(span: ReadableSpan, index: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in index:
        span = index[parent.span_id]
        names.append(span.name)
        parent = span.parent
    return names


async def test_a_graphql_request_is_one_trace_of_request_operation_and_commands(
    traced_client: tuple[FastAPI, httpx.AsyncClient], spans: InMemorySpanExporter
) -> None:
    _, http = traced_client
    tenant = await make_tenant("traced")
    await make_order(tenant.id, 1001)
    headers = await merchant_headers(tenant.id)
    spans.clear()
    query = "query Orders { orders(first: 5) { nodes { orderNumber } } }"
    response = await http.post("/graphql", json={"query": query}, headers=headers)
    assert response.json()["data"]["orders"]["nodes"] == [{"orderNumber": "1001"}]

    finished = spans.get_finished_spans()
    index = _by_id(finished)
    [server] = [s for s in finished if s.name == "POST /graphql"]
    [operation] = [s for s in finished if s.name == "graphql query Orders"]
    assert operation.parent is not None and operation.parent.span_id == server.context.span_id
    assert {s.context.trace_id for s in finished} == {server.context.trace_id}
    finds = [
        s
        for s in finished
        if s.name == "mongodb find"
        and (s.attributes or {}).get("db.mongodb.collection") == "orders"
    ]
    assert finds and all("graphql query Orders" in _ancestors(s, index) for s in finds)
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Orders"


async def test_a_webhook_is_processed_in_the_trace_it_was_received_in(
    traced_client: tuple[FastAPI, httpx.AsyncClient],
    spans: InMemorySpanExporter,
    settings: Settings,
) -> None:
    _, http = traced_client
    await make_tenant("rms34")
    body = orjson.dumps(order_payload(number=1001))
    spans.clear()
    headers = webhook_headers("orders/create", body, secret=TEST_API_SECRET)
    response = await http.post("/api/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 200, response.text
    [ingest] = [
        s for s in spans.get_finished_spans() if s.name == "POST /api/webhooks/orders/create"
    ]

    processor = WebhookProcessor(settings, "traced", policy=ProcessingPolicy(max_attempts=1))
    assert await processor.run_until_idle() == 1
    [handler] = [s for s in spans.get_finished_spans() if s.name == "webhook orders/create"]
    assert handler.context.trace_id == ingest.context.trace_id  # one trace, ingest to handler
    assert handler.parent is not None and handler.parent.span_id == ingest.context.span_id
    index = _by_id(spans.get_finished_spans())
    handled: list[Any] = [  # the handler's own reads and writes, inside its span
        s
        for s in spans.get_finished_spans()
        if s.name.startswith("mongodb ") and "webhook orders/create" in _ancestors(s, index)
    ]
    assert handled


def test_tracing_is_off_without_the_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    tracing.reset_tracing()
    assert not tracing.configure_tracing()
    assert tracing.current_trace_context() == {} and tracing.mongo_listeners() == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.configure_tracing()
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    assert tracing.configure_tracing()  # asked for, and the extra is installed here
    tracing.reset_tracing()


def test_log_lines_carry_the_current_trace_id(spans: InMemorySpanExporter) -> None:
    record = logging.makeLogRecord({"msg": "inside", "levelno": 20, "levelname": "INFO"})
    outside = orjson.loads(JsonFormatter().format(record))
    assert "trace_id" not in outside
    with tracing.span("work") as current:
        assert current is not None
        inside = orjson.loads(JsonFormatter().format(record))
    assert inside["trace_id"] == f"{current.get_span_context().trace_id:032x}"
    assert inside["span_id"] == f"{current.get_span_context().span_id:016x}"


def test_the_service_name_comes_from_otel_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    tracing.reset_tracing()
    try:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "returns-worker")
        assert tracing.configure_tracing()
        assert tracing._provider is not None
        assert tracing._provider.resource.attributes["service.name"] == "returns-worker"
        tracing.reset_tracing()
        monkeypatch.delenv("OTEL_SERVICE_NAME")
        assert tracing.configure_tracing()
        assert tracing._provider is not None
        assert tracing._provider.resource.attributes["service.name"] == "returns-management"
    finally:
        tracing.reset_tracing()
