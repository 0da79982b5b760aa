"""`systemStatus` (operators) and `auditLog` (a merchant's own tenant), and the audit service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.clock import utcnow
from app.db import Database
from app.main import create_app
from app.models import AuditLog, SyncJob
from app.models.sync_job import SyncStatus, SyncType
from app.services.operations.audit import REDACTED, record, scrub_summary
from tests.conftest import make_settings
from tests.factories import graphql, make_tenant, merchant_headers

STATUS_QUERY = """
query {
  systemStatus {
    healthy environment
    database { ok latencyMs }
    syncJobs { status count }
    staleSyncJobs { id tenantId reason }
    webhookTotals { received successRate }
    alerts { name value threshold unit windowMinutes state detail }
  }
}
"""

AUDIT_QUERY = """
query ($first: Int, $after: String) {
  auditLog(first: $first, after: $after) {
    nodes { actor operation targetId summary createdAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_system_status_reports_health_jobs_and_every_alert(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("statusshop")
    await SyncJob(
        tenant_id=tenant.tenant_id,
        type=SyncType.FULL,
        status=SyncStatus.RUNNING,
        started_at=utcnow() - timedelta(hours=2),
    ).insert()
    body = await graphql(client, STATUS_QUERY, headers=await merchant_headers(tenant.tenant_id))
    assert "errors" not in body, body
    status = body["data"]["systemStatus"]
    assert status["database"]["ok"] is True
    assert {"status": "running", "count": 1} in status["syncJobs"]
    assert status["staleSyncJobs"][0]["tenantId"] == tenant.tenant_id
    names = [alert["name"] for alert in status["alerts"]]
    assert names == [
        "error_rate",
        "response_time",
        "webhook_failures",
        "db_connections",
        "disk_space",
        "shop_redact_refused",
    ]
    for alert in status["alerts"]:
        assert alert["state"] in ("OK", "FIRING", "UNKNOWN")
        assert alert["threshold"] >= 0  # a count alert fires above 0


async def test_system_status_needs_a_credential(client: httpx.AsyncClient) -> None:
    body = await graphql(client, STATUS_QUERY)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
async def operator_app(mongo_uri: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(mongo_uri, mongodb_db=db.db.name, operator_api_key="op-key-0123456789")
    application: FastAPI = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_with_an_operator_key_only_that_key_opens_system_status(
    operator_app: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("opshop")
    merchant = await graphql(
        operator_app, STATUS_QUERY, headers=await merchant_headers(tenant.tenant_id)
    )
    assert merchant["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong = await graphql(operator_app, STATUS_QUERY, headers={"X-Operator-Key": "nope"})
    assert wrong["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    operator = await graphql(
        operator_app, STATUS_QUERY, headers={"X-Operator-Key": "op-key-0123456789"}
    )
    assert "errors" not in operator, operator
    assert operator["data"]["systemStatus"]["database"]["ok"] is True


async def test_audit_record_keeps_who_what_when_without_secrets_or_pii(db: Database) -> None:
    entry = await record(
        "tenant-a",
        "api_key:rk_0123456789ab",
        "createReturn",
        "ret-1",
        {
            "input": {
                "orderId": "5813364687033",
                "customerEmail": "ada@example.com",
                "items": [
                    {
                        "lineItemId": "1",
                        "quantity": 1,
                        "reason": "DEFECTIVE",
                        "note": "my address is 1 Main St",
                    }
                ],
                "resolutionType": "REFUND",
            },
            "accessToken": "shpat_abc123",
            "comment": "call me at ada@example.com",
        },
    )
    assert entry is not None
    stored = await AuditLog.find_one({"tenant_id": "tenant-a"})
    assert stored is not None
    assert stored.operation == "createReturn"
    assert stored.actor == "api_key:rk_0123456789ab"
    summary = stored.summary
    assert summary["input"]["orderId"] == "5813364687033"
    assert summary["input"]["customerEmail"] == REDACTED
    assert summary["input"]["items"][0]["note"] == REDACTED
    assert summary["input"]["items"][0]["quantity"] == 1
    assert summary["accessToken"] == REDACTED
    assert "ada@example.com" not in str(summary)
    assert "shpat_" not in str(summary)


def test_scrub_summary_bounds_size_and_hides_emails_in_values() -> None:
    cleaned = scrub_summary({"list": list(range(100)), "free": "from bob@example.com"})
    assert len(cleaned["list"]) == 21
    assert cleaned["free"] == f"from {REDACTED}"


async def test_audit_log_lists_only_the_callers_tenant_newest_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    mine = await make_tenant("auditmine")
    other = await make_tenant("auditother")
    await record(mine.tenant_id, "api_key:rk_1", "approveReturn", "r-1", {"id": "r-1"})
    await record(mine.tenant_id, "api_key:rk_1", "resolveReturn", "r-1", {"id": "r-1"})
    await record(other.tenant_id, "api_key:rk_2", "approveReturn", "r-9", {"id": "r-9"})
    headers = await merchant_headers(mine.tenant_id)

    body = await graphql(client, AUDIT_QUERY, {"first": 1}, headers=headers)
    assert "errors" not in body, body
    page = body["data"]["auditLog"]
    assert [n["operation"] for n in page["nodes"]] == ["resolveReturn"]
    assert page["pageInfo"]["hasNextPage"] is True

    body = await graphql(
        client, AUDIT_QUERY, {"first": 5, "after": page["pageInfo"]["endCursor"]}, headers=headers
    )
    nodes = body["data"]["auditLog"]["nodes"]
    assert [n["operation"] for n in nodes] == ["approveReturn"]
    assert nodes[0]["targetId"] == "r-1"
    assert nodes[0]["summary"] == {"id": "r-1"}
