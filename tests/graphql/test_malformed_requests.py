"""Malformed requests get a GraphQL error with 4xx or 200, never a 500."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from app.observability.metrics import REGISTRY
from tests.factories import make_tenant, merchant_headers


async def test_malformed_json_is_a_client_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500


async def test_invalid_query_is_a_graphql_error(client: httpx.AsyncClient) -> None:
    for query in ("{ tenant { nope } }", "{ tenant ", "query { __typename", "mutation { x }"):
        response = await client.post("/graphql", json={"query": query})
        assert response.status_code in (200, 400), query
        assert response.json()["errors"], query


async def test_missing_query_and_wrong_types_are_client_errors(client: httpx.AsyncClient) -> None:
    payloads: list[object] = [{}, {"query": 5}, {"query": "{ __typename }", "variables": "x"}, []]
    for payload in payloads:
        response = await client.post("/graphql", json=payload)
        assert 200 <= response.status_code < 500, payload
        assert response.status_code != 500


async def test_too_deep_query_is_refused(client: httpx.AsyncClient) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    nested = "order { returns { " * 10 + "id" + " } }" * 10
    deep = "{ returns(first: 1) { nodes { " + nested + " } } }"
    response = await client.post("/graphql", json={"query": deep}, headers=headers)
    assert response.status_code in (200, 400)
    assert "depth" in response.json()["errors"][0]["message"].lower()


async def test_alias_flood_is_refused(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }"
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code in (200, 400)
    assert "alias" in response.json()["errors"][0]["message"].lower()


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.headers["x-request-id"]
    echoed = await client.get("/api/health", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_access_log_names_the_operation_and_tenant(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    with caplog.at_level(logging.INFO, logger="app.access"):
        await client.post(
            "/graphql",
            json={"query": "query ListReturns { returns(first: 1) { nodes { id } } }"},
            headers=headers,
        )
    record = next(r for r in caplog.records if r.name == "app.access")
    assert record.operation == "ListReturns"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert isinstance(record.response_time_ms, float)  # type: ignore[attr-defined]


async def test_a_client_gone_before_its_body_arrived_is_499_not_a_server_error(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The client hangs up after its headers: no 500 is counted or logged (it fed the 5xx
    alert), the access log says 499."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    before = _count_of_500s()
    with caplog.at_level(logging.INFO, logger="app.access"):
        await app(scope, receive, send)
    record = next(r for r in caplog.records if r.name == "app.access")
    assert record.status == 499  # type: ignore[attr-defined]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [499]
    assert _count_of_500s() == before


def _count_of_500s() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "rms_http_requests"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("status") == "500"
    )
