"""bulkApproveReturns / bulkDeclineReturns: up to 100 returns, each decided on its own, a
problem reported at its index without stopping the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from app.db import Database
from app.graphql.core.node import global_id
from app.models import Return
from app.models.return_request import ReturnStatus
from app.services.returns.transitions import MAX_BULK_IDS
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers

BULK = """mutation ($ids: [ID!]!, $text: String) {{ {name}(ids: $ids, {argument}: $text) {{
  returns {{ id status declineReason history {{ toStatus actor }} }}
  userErrors {{ field code message }} }} }}"""


async def _bulk(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    ids: Sequence[str],
    text: str | None = None,
) -> dict[str, Any]:
    argument = "reason" if name == "bulkDeclineReturns" else "note"
    body = await graphql(
        client,
        BULK.format(name=name, argument=argument),
        {"ids": list(ids), "text": text},
        headers,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    return payload


async def test_bulk_approve_moves_each_waiting_return_and_reports_the_others_by_index(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("bulkshop")
    other = await make_tenant("othershop")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001, quantity=5)
    waiting = [await make_return(order) for _ in range(3)]
    resolved = await make_return(order, status=ReturnStatus.RESOLVED)
    foreign = await make_return(await make_order(other.id, 1001))
    ids = [global_id("Return", r.id) for r in (*waiting, resolved, foreign)]
    ids.insert(1, ids[0])  # the same return twice counts once

    payload = await _bulk(client, headers, "bulkApproveReturns", ids, "checked photos")

    assert [r["status"] for r in payload["returns"]] == ["APPROVED"] * 3
    assert {r["id"] for r in payload["returns"]} == {global_id("Return", r.id) for r in waiting}
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["ids", "4"], "INVALID_TRANSITION"),
        (["ids", "5"], "NOT_FOUND"),  # another tenant's return names nothing here
    ]
    stored = await Return.get(foreign.id)
    assert stored is not None and stored.status is ReturnStatus.REQUESTED
    for record in waiting:
        again = await Return.get(record.id)
        assert again is not None and again.status is ReturnStatus.APPROVED
        assert [h.to_status for h in again.history][-1] is ReturnStatus.APPROVED
        assert again.history[-1].note == "checked photos"


async def test_bulk_decline_records_the_one_reason_on_each(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("bulkshop")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001, quantity=4)
    waiting = [await make_return(order) for _ in range(2)]
    ids = [global_id("Return", r.id) for r in waiting]

    payload = await _bulk(client, headers, "bulkDeclineReturns", [*ids, "not-an-id"], "Worn")

    assert [(r["status"], r["declineReason"]) for r in payload["returns"]] == [
        ("DECLINED", "Worn"),
        ("DECLINED", "Worn"),
    ]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["ids", "2"], "NOT_FOUND")]


async def test_more_than_a_hundred_ids_are_refused_and_nothing_moves(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("bulkshop")
    headers = await merchant_headers(tenant.id)
    record = await make_return(await make_order(tenant.id, 1001))
    ids = [global_id("Return", record.id)] * (MAX_BULK_IDS + 1)

    payload = await _bulk(client, headers, "bulkApproveReturns", ids)

    assert payload["returns"] == []
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["ids"], "OUT_OF_RANGE")]
    stored = await Return.get(record.id)
    assert stored is not None and stored.status is ReturnStatus.REQUESTED


async def test_bulk_decisions_need_a_merchant(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_tenant("bulkshop")
    record = await make_return(await make_order(tenant.id, 1001))
    body = await graphql(
        client,
        BULK.format(name="bulkApproveReturns", argument="note"),
        {"ids": [global_id("Return", record.id)]},
        {"X-Tenant-Id": tenant.id},
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    stored = await Return.get(record.id)
    assert stored is not None and stored.status is ReturnStatus.REQUESTED
