"""A database that is unreachable or too slow is SERVICE_UNAVAILABLE (retry shortly), not a
masked INTERNAL_SERVER_ERROR; refusals (a duplicate key) stay internal errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WTimeoutError,
)

from app.main import create_app
from app.observability.metrics import REGISTRY
from app.services.tenants import get_tenant
from tests.conftest import make_settings
from tests.factories import make_tenant, merchant_headers

TENANT_QUERY = "{ tenant { id } }"
POLICY_MUTATION = "mutation { updateReturnPolicy(input: {windowDays: 40}) { userErrors { code } } }"
# Host and topology details a PyMongo message carries; never for clients.
DATABASE_DETAIL = "127.0.0.1:27017: timed out"


def _failing(error: BaseException) -> Any:
    async def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    return fail


async def _tenant_query(client: httpx.AsyncClient) -> tuple[httpx.Response, dict[str, Any]]:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    response = await client.post("/graphql", json={"query": TENANT_QUERY}, headers=headers)
    body: dict[str, Any] = response.json()
    return response, body


def _only_code(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    assert isinstance(errors, list) and len(errors) == 1, body
    code: str = errors[0]["extensions"]["code"]
    return code


def _raised_from_timeout() -> RuntimeError:
    try:
        try:
            raise NetworkTimeout(DATABASE_DETAIL)
        except NetworkTimeout as cause:
            raise RuntimeError("could not load") from cause
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [
        ServerSelectionTimeoutError(DATABASE_DETAIL),
        AutoReconnect(DATABASE_DETAIL),
        NotPrimaryError("not primary"),
        NetworkTimeout(DATABASE_DETAIL),
        ExecutionTimeout("operation exceeded time limit", code=50),
        WaitQueueTimeoutError("timed out checking out a connection"),
        WTimeoutError("waiting for replication timed out", code=64),
        OperationFailure("operation exceeded time limit", code=50),
        _raised_from_timeout(),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_resolver_failing_on_an_unavailable_database_answers_service_unavailable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr("app.graphql.tenant.queries.get_tenant", _failing(error))
    _, body = await _tenant_query(client)
    assert _only_code(body) == "SERVICE_UNAVAILABLE"


async def test_service_unavailable_says_retry_and_carries_the_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "app.graphql.tenant.queries.get_tenant", _failing(NetworkTimeout(DATABASE_DETAIL))
    )
    response, body = await _tenant_query(client)
    error = body["errors"][0]
    request_id = response.headers["x-request-id"]
    assert error["message"] == (
        f"The database did not answer in time; retry shortly (request id {request_id})"
    )
    assert error["extensions"]["requestId"] == request_id
    assert DATABASE_DETAIL not in response.text


async def test_a_database_refusal_is_still_an_internal_error(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = DuplicateKeyError("E11000 duplicate key", code=11000)
    monkeypatch.setattr("app.graphql.tenant.queries.get_tenant", _failing(refusal))
    _, body = await _tenant_query(client)
    assert _only_code(body) == "INTERNAL_SERVER_ERROR"


async def test_service_unavailable_is_logged_as_a_warning_with_the_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        "app.graphql.tenant.queries.get_tenant", _failing(NetworkTimeout(DATABASE_DETAIL))
    )
    with caplog.at_level(logging.WARNING, logger="app.graphql"):
        response, _ = await _tenant_query(client)
    record = next(r for r in caplog.records if r.name == "app.graphql")
    assert record.levelno == logging.WARNING
    assert record.__dict__["request_id"] == response.headers["x-request-id"]
    assert "NetworkTimeout" in record.getMessage()


async def test_service_unavailable_is_counted_in_the_error_metrics(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def counted() -> float:
        labels = {"kind": "graphql_database_unavailable"}
        return REGISTRY.get_sample_value("rms_errors_total", labels) or 0.0

    monkeypatch.setattr(
        "app.graphql.tenant.queries.get_tenant", _failing(NetworkTimeout(DATABASE_DETAIL))
    )
    before = counted()
    await _tenant_query(client)
    assert counted() == before + 1


async def test_a_database_failure_during_authentication_answers_service_unavailable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "app.graphql.router.authenticate", _failing(ServerSelectionTimeoutError(DATABASE_DETAIL))
    )
    response = await client.post(
        "/graphql", json={"query": TENANT_QUERY}, headers={"Authorization": "Bearer rk_x"}
    )
    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    assert _only_code(body) == "SERVICE_UNAVAILABLE"
    assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_a_database_refusal_during_authentication_is_not_reported_as_unavailable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = OperationFailure("not authorized", code=13)
    monkeypatch.setattr("app.graphql.router.authenticate", _failing(refusal))
    with pytest.raises(OperationFailure):  # a 500, as any unexpected failure of the route
        await client.post(
            "/graphql", json={"query": TENANT_QUERY}, headers={"Authorization": "Bearer rk_x"}
        )


async def test_a_database_failure_after_execution_answers_service_unavailable(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    monkeypatch.setattr("app.graphql.core.audit.record", _failing(NetworkTimeout(DATABASE_DETAIL)))
    response = await client.post("/graphql", json={"query": POLICY_MUTATION}, headers=headers)
    assert _only_code(response.json()) == "SERVICE_UNAVAILABLE"
    assert DATABASE_DETAIL not in response.text


async def test_an_unexpected_failure_after_execution_is_masked(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    monkeypatch.setattr("app.graphql.core.audit.record", _failing(RuntimeError("secret detail")))
    response = await client.post("/graphql", json={"query": POLICY_MUTATION}, headers=headers)
    assert _only_code(response.json()) == "INTERNAL_SERVER_ERROR"
    assert "secret detail" not in response.text


SHORT_DEADLINE_MS = 100


@pytest.fixture
async def short_deadline_client(mongo_uri: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 100 ms database deadline per request."""
    settings = make_settings(mongo_uri, mongodb_request_timeout_ms=SHORT_DEADLINE_MS)
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
        await application.state.resources.database.client.drop_database(settings.mongodb_db)


async def test_database_work_past_the_request_deadline_answers_service_unavailable(
    short_deadline_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def get_tenant_late(tenant_id: str) -> Any:
        await asyncio.sleep(3 * SHORT_DEADLINE_MS / 1000)
        return await get_tenant(tenant_id)  # a real query, after the request's deadline

    monkeypatch.setattr("app.graphql.tenant.queries.get_tenant", get_tenant_late)
    _, body = await _tenant_query(short_deadline_client)
    assert _only_code(body) == "SERVICE_UNAVAILABLE"
