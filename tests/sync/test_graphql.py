"""The sync operations over GraphQL: resyncShopify, syncJobs, syncJob, cancelSyncJob."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from app.config import Settings
from app.models import ShopifyIntegration, SyncJob
from app.services.integration.webhook_subscriptions import WEBHOOK_TOPICS
from tests.factories import graphql, merchant_headers
from tests.sync.helpers import connect_shop, make_worker, run_queued
from tools.shopify_sim import SimulatorControl

JOB_FIELDS = """
  id type days status mode error cancelRequested warnings createdAt startedAt finishedAt
  etaSeconds estimatedCompletionAt
  progress { pages orders customers upserted unchanged failed totalEstimate percent }
"""
RESYNC = f"""
mutation Resync($input: ResyncShopifyInput) {{
  resyncShopify(input: $input) {{
    job {{ {JOB_FIELDS} }}
    webhooksRepaired
    userErrors {{ field code message }}
  }}
}}
"""
JOBS = f"""
query Jobs($first: Int, $after: String, $status: SyncJobStatus) {{
  syncJobs(first: $first, after: $after, status: $status) {{
    nodes {{ {JOB_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
JOB = f"query Job($id: ID!) {{ syncJob(id: $id) {{ {JOB_FIELDS} }} }}"
CANCEL = f"""
mutation Cancel($id: ID!) {{
  cancelSyncJob(id: $id) {{ job {{ {JOB_FIELDS} }} userErrors {{ field code message }} }}
}}
"""


async def test_concurrent_resyncs_from_ten_clients_create_one_job(
    client: httpx.AsyncClient, settings: Settings, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings)
    headers = await merchant_headers(shop.tenant_id)
    variables = {"input": {"type": "FULL", "days": 30}}

    answers = await asyncio.gather(
        *(graphql(client, RESYNC, variables, headers) for _ in range(10))
    )

    payloads = [answer["data"]["resyncShopify"] for answer in answers]
    assert await SyncJob.find({"tenant_id": shop.tenant_id}).count() == 1
    assert len({payload["job"]["id"] for payload in payloads}) == 1
    fresh = [p for p in payloads if not p["userErrors"]]
    repeats = [p for p in payloads if p["userErrors"]]
    assert len(fresh) == 1 and len(repeats) == 9
    assert all(p["userErrors"][0]["code"] == "SYNC_ALREADY_RUNNING" for p in repeats)
    assert fresh[0]["job"]["status"] == "QUEUED" and fresh[0]["job"]["type"] == "FULL"
    # The runbook's "re-register webhooks" step: every topic the app registers per shop.
    assert fresh[0]["webhooksRepaired"] == len(WEBHOOK_TOPICS)
    integration = await ShopifyIntegration.find_one({"tenant_id": shop.tenant_id})
    assert integration is not None and len(integration.webhooks) == len(WEBHOOK_TOPICS)


async def test_a_failing_webhook_repair_does_not_fail_the_resync(
    client: httpx.AsyncClient, settings: Settings, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings)
    headers = await merchant_headers(shop.tenant_id)
    await sim_control.set_faults(shop.domain, error_rate=1.0, error_status=500)

    answer = await graphql(client, RESYNC, {"input": {"type": "INCREMENTAL"}}, headers)

    payload = answer["data"]["resyncShopify"]
    assert payload["job"]["status"] == "QUEUED" and payload["job"]["type"] == "INCREMENTAL"
    assert [error["code"] for error in payload["userErrors"]] == ["WEBHOOKS_NOT_REPAIRED"]


async def test_bad_days_and_missing_scope_are_user_errors(
    client: httpx.AsyncClient, settings: Settings, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings, scope="read_orders,read_customers")
    headers = await merchant_headers(shop.tenant_id)

    bad = await graphql(client, RESYNC, {"input": {"days": 0}}, headers)
    wide = await graphql(client, RESYNC, {"input": {"days": 365}}, headers)

    assert bad["data"]["resyncShopify"]["job"] is None
    assert bad["data"]["resyncShopify"]["userErrors"][0]["code"] == "INVALID_DAYS"
    warned = wide["data"]["resyncShopify"]
    assert warned["job"]["status"] == "QUEUED" and warned["job"]["days"] == 365
    assert warned["userErrors"][0]["code"] == "READ_ALL_ORDERS_SCOPE_MISSING"
    assert warned["userErrors"][0]["field"] == ["input", "days"]


async def test_jobs_are_listed_newest_first_with_progress_and_can_be_canceled(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> None:
    shop = await connect_shop(sim_control, settings, orders=12)
    headers = await merchant_headers(shop.tenant_id)
    first = (await graphql(client, RESYNC, {"input": {"days": 365}}, headers))["data"]
    await run_queued(make_worker(settings, sim_http))
    second = (await graphql(client, RESYNC, {"input": {"type": "INCREMENTAL"}}, headers))["data"]
    second_id = second["resyncShopify"]["job"]["id"]

    canceled = (await graphql(client, CANCEL, {"id": second_id}, headers))["data"]
    again = (await graphql(client, CANCEL, {"id": second_id}, headers))["data"]
    listed = (await graphql(client, JOBS, {"first": 10}, headers))["data"]["syncJobs"]
    done = (await graphql(client, JOBS, {"status": "COMPLETED"}, headers))["data"]["syncJobs"]
    one = await graphql(client, JOB, {"id": first["resyncShopify"]["job"]["id"]}, headers)

    assert canceled["cancelSyncJob"]["job"]["status"] == "CANCELED"
    assert canceled["cancelSyncJob"]["userErrors"] == []
    assert again["cancelSyncJob"]["userErrors"][0]["code"] == "SYNC_JOB_FINISHED"
    assert [job["status"] for job in listed["nodes"]] == ["CANCELED", "COMPLETED"]
    assert [job["status"] for job in done["nodes"]] == ["COMPLETED"]
    job: dict[str, Any] = one["data"]["syncJob"]
    assert job["mode"] == "PAGED".lower() and job["progress"]["orders"] == 12
    assert job["progress"]["totalEstimate"] == 12 and job["progress"]["percent"] == 100.0
    assert job["etaSeconds"] is None and job["finishedAt"] is not None


async def test_sync_operations_need_a_merchant_and_stay_in_the_tenant(
    client: httpx.AsyncClient, settings: Settings, sim_control: SimulatorControl
) -> None:
    shop = await connect_shop(sim_control, settings)
    other = await connect_shop(sim_control, settings)
    headers = await merchant_headers(shop.tenant_id)
    job_id = (await graphql(client, RESYNC, {}, headers))["data"]["resyncShopify"]["job"]["id"]
    other_headers = await merchant_headers(other.tenant_id)

    anonymous = await graphql(client, JOBS, {})
    foreign = await graphql(client, JOB, {"id": job_id}, other_headers)
    foreign_cancel = await graphql(client, CANCEL, {"id": job_id}, other_headers)

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert foreign["data"]["syncJob"] is None
    assert foreign_cancel["data"]["cancelSyncJob"]["userErrors"][0]["code"] == "SYNC_JOB_NOT_FOUND"
