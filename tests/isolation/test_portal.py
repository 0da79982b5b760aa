"""The public portal: scoped by X-Tenant-Id, proven by number + email, no enumeration."""

from __future__ import annotations

from typing import Any

import httpx

from app.db import Database
from tests.factories import forget_portal_attempts
from tests.isolation.world import World, tenant_snapshot

LOOKUP = (
    "query($n: String!, $e: String!) { lookupOrder(orderNumber: $n, customerEmail: $e) {"
    " id orderNumber lineItems { id } } }"
)
CREATE = (
    "mutation($input: CreateReturnInput!) { createReturn(input: $input) {"
    " return { id } userErrors { field code message } } }"
)


async def _post(
    client: httpx.AsyncClient, query: str, tenant_id: str, variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"X-Tenant-Id": tenant_id},
    )
    body: dict[str, Any] = response.json()
    body.pop("extensions", None)  # the query cost: the same for the same document
    return response.status_code, body


def _input(order_id: str, email: str, line_item_id: str) -> dict[str, Any]:
    return {
        "orderId": order_id,
        "customerEmail": email,
        "returnMethod": "CUSTOMER_SHIPS",
        "resolutionType": "REFUND",
        "items": [{"lineItemId": line_item_id, "quantity": 1, "reason": "DEFECTIVE"}],
    }


async def test_the_victims_order_is_invisible_from_another_tenants_portal(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    victim, attacker = world.victim, world.attacker
    await forget_portal_attempts(db.db)
    before = await tenant_snapshot(db.db, victim.tenant_id)
    for number in victim.order_numbers:
        _, body = await _post(
            client, LOOKUP, attacker.tenant_id, {"n": number, "e": victim.emails[0]}
        )
        assert body == {"data": {"lookupOrder": None}}
    _, body = await _post(
        client,
        CREATE,
        attacker.tenant_id,
        {"input": _input(victim.ids["order"][0], victim.emails[0], victim.ids["line_item"][0])},
    )
    assert body["data"]["createReturn"]["return"] is None
    assert [e["code"] for e in body["data"]["createReturn"]["userErrors"]] == ["ORDER_NOT_FOUND"]
    assert await tenant_snapshot(db.db, victim.tenant_id) == before


async def test_wrong_number_and_wrong_email_get_identical_answers(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    victim = world.victim
    number, email = victim.order_numbers[0], victim.emails[0]
    attempts = {
        "wrong email": {"n": number, "e": "someone.else@example.com"},
        "wrong number": {"n": "999999", "e": email},
        "both wrong": {"n": "999998", "e": "nobody@example.com"},
        "other order's number": {"n": world.attacker.order_numbers[0], "e": email},
    }
    answers = {}
    for name, variables in attempts.items():
        await forget_portal_attempts(db.db)
        answers[name] = await _post(client, LOOKUP, victim.tenant_id, variables)
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    assert answers["wrong email"] == (200, {"data": {"lookupOrder": None}})
    await forget_portal_attempts(db.db)
    status, found = await _post(client, LOOKUP, victim.tenant_id, {"n": number, "e": email.upper()})
    assert status == 200 and found["data"]["lookupOrder"]["orderNumber"] == number


async def test_create_return_refusals_do_not_tell_which_part_was_wrong(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    victim = world.victim
    order_id, email, line = victim.ids["order"][0], victim.emails[0], victim.ids["line_item"][0]
    before = await tenant_snapshot(db.db, victim.tenant_id)
    attempts = {
        "wrong email": _input(order_id, "someone.else@example.com", line),
        "wrong order": _input("123456789", email, line),
        "other tenant's order": _input(world.attacker.ids["order"][0], email, line),
        "gid of a wrong order": _input("gid://shopify/Order/123456789", email, line),
    }
    answers = {}
    for name, data in attempts.items():
        await forget_portal_attempts(db.db)
        answers[name] = await _post(client, CREATE, victim.tenant_id, {"input": data})
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    assert await tenant_snapshot(db.db, victim.tenant_id) == before


async def test_the_portal_needs_a_tenant_header(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/graphql", json={"query": LOOKUP, "variables": {"n": "1", "e": "a@b.c"}}
    )
    codes = [e["extensions"]["code"] for e in response.json()["errors"]]
    assert codes == ["BAD_USER_INPUT"]
