"""Two API processes on one database behave as one service: the portal's failure limit, the
persisted queries and the return policy hold across them (nothing that matters is kept in one
process). Real `uvicorn` processes, so no module state can be shared by accident."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.services.returns.portal_attempts import PORTAL_FAILURE_LIMIT
from tests.factories import make_order, make_tenant, merchant_headers
from tools.devdb import free_port

ROOT = Path(__file__).resolve().parents[2]
LOOKUP = """query($n: String!, $e: String!) {
  lookupOrder(orderNumber: $n, customerEmail: $e) { id allowedResolutions }
}"""
CREATE = """mutation($input: CreateReturnInput!) {
  createReturn(input: $input) { return { id } userErrors { field code } }
}"""
TENANT = "query Tenant { tenant { tenantId } }"
UPDATE_POLICY = """mutation($input: UpdateReturnPolicyInput!) {
  updateReturnPolicy(input: $input) { userErrors { code } }
}"""


@contextmanager
def api_process(settings: Settings, workdir: Path) -> Iterator[str]:
    """`uvicorn app.main:app` on a free port, configured by environment only; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ENVIRONMENT": "test",
        "MONGODB_URI": settings.mongodb_uri,
        "MONGODB_DB": settings.mongodb_db,
        "SHOPIFY_API_KEY": settings.shopify_api_key,
        "SHOPIFY_API_SECRET": settings.shopify_api_secret,
        "APP_URL": f"http://127.0.0.1:{port}",
        "RUN_BACKGROUND_JOBS": "false",
        "LOG_LEVEL": "WARNING",
    }
    command = ["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", *command, "--log-level", "warning"],
        cwd=workdir,  # no .env of a developer's checkout
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the API process exited: {process.communicate()[1]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the API process did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def two_processes(
    settings: Settings, db: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    with api_process(settings, tmp_path) as first, api_process(settings, tmp_path) as second:
        async with (
            httpx.AsyncClient(base_url=first, timeout=30) as a,
            httpx.AsyncClient(base_url=second, timeout=30) as b,
        ):
            yield a, b


async def _graphql(
    http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await http.post("/graphql", json=body, headers=headers)
    assert response.status_code in (200, 400), response.text
    result: dict[str, Any] = response.json()
    return result


async def test_two_processes_share_the_limit_the_queries_and_the_policy(
    two_processes: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database
) -> None:
    a, b = two_processes
    tenant = await make_tenant("twoprocs")
    order = await make_order(tenant.id, 1001, email="ada@example.com")
    portal = {"X-Tenant-Id": tenant.id}
    merchant = await merchant_headers(tenant.id)
    right = {"n": "1001", "e": "ada@example.com"}

    # A query a merchant registered through one process runs by its hash alone on the other.
    sha = hashlib.sha256(TENANT.encode()).hexdigest()
    by_hash = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}
    unknown = await _graphql(b, by_hash, merchant)
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await _graphql(a, {"query": TENANT, **by_hash}, merchant)
    assert registered["data"]["tenant"]["tenantId"] == tenant.id
    assert await _graphql(b, by_hash, merchant) == registered

    # A policy changed through one process applies at once in the other.
    change = {"input": {"allowedResolutions": ["STORE_CREDIT"]}}
    changed = await _graphql(a, {"query": UPDATE_POLICY, "variables": change}, merchant)
    assert changed["data"]["updateReturnPolicy"]["userErrors"] == []
    seen = await _graphql(b, {"query": LOOKUP, "variables": right}, portal)
    assert seen["data"]["lookupOrder"]["allowedResolutions"] == ["STORE_CREDIT"]
    refund = {
        "orderId": order.shopify_id,
        "customerEmail": "ada@example.com",
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [{"lineItemId": order.line_items[0].id, "quantity": 1, "reason": "DEFECTIVE"}],
    }
    refused = await _graphql(b, {"query": CREATE, "variables": {"input": refund}}, portal)
    assert refused["data"]["createReturn"]["userErrors"] == [
        {"field": ["resolutionType"], "code": "RESOLUTION_NOT_ALLOWED"}
    ]

    # Failed lookups sent alternately to both count against one limit.
    wrong = {"n": "1001", "e": "someone.else@example.com"}
    for attempt in range(PORTAL_FAILURE_LIMIT):
        http = (a, b)[attempt % 2]
        missed = await _graphql(http, {"query": LOOKUP, "variables": wrong}, portal)
        assert missed["data"] == {"lookupOrder": None} and "errors" not in missed, missed
    for http in (a, b):
        limited = await _graphql(http, {"query": LOOKUP, "variables": right}, portal)
        assert limited["errors"][0]["extensions"]["code"] == "RATE_LIMITED", limited
