"""Merchant mutations are written to the audit log: who, what, when."""

from __future__ import annotations

import httpx

from app.graphql.core.node import global_id
from app.models.audit_log import AuditLog
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers

APPROVE = """
mutation Approve($id: ID!) {
  approveReturn(id: $id) { return { id status } userErrors { code } }
}
"""


async def test_approving_a_return_is_audited_with_actor_and_target(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    ret = await make_return(await make_order(tenant.id, 1001))
    body = await graphql(client, APPROVE, {"id": str(ret.id)}, headers=headers)
    assert body["data"]["approveReturn"]["userErrors"] == []
    entries = await AuditLog.find({"tenant_id": tenant.id}).to_list()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.operation == "approveReturn"
    assert entry.target_id == str(ret.id)
    assert entry.actor.startswith("api_key:rk_")
    assert entry.summary["outcome"] == "ok"


async def test_the_audit_target_is_the_same_for_a_global_or_a_bare_id(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    ret = await make_return(await make_order(tenant.id, 1001))
    await graphql(client, APPROVE, {"id": global_id("Return", ret.id)}, headers=headers)
    await graphql(client, APPROVE, {"id": str(ret.id)}, headers=headers)  # refused: approved
    entries = await AuditLog.find({"tenant_id": tenant.id}).to_list()
    assert [entry.target_id for entry in entries] == [str(ret.id), str(ret.id)]


async def test_queries_and_portal_mutations_are_not_merchant_audit_entries(
    client: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("alpha")
    headers = await merchant_headers(tenant.id)
    await graphql(client, "{ returns(first: 1) { nodes { id } } }", headers=headers)
    await graphql(
        client,
        'mutation { createReturn(input: {orderId: "1", customerEmail: "x@y.z", returnMethod: '
        "CUSTOMER_SHIPS, resolutionType: REFUND, items: []}) { userErrors { code } } }",
        headers={"X-Tenant-Id": tenant.id},
    )
    assert await AuditLog.find({"tenant_id": tenant.id}).count() == 0
