"""Tenant B, with a valid credential of its own, attacks every operation with tenant A's ids,
cursors, order numbers and emails: it gets nothing of A and changes nothing of A."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from app.db import Database
from tests.fuzz.graphql_documents import introspect
from tests.isolation.operations import (
    PUBLIC_OPERATIONS,
    calls_for,
    documents,
    operations,
)
from tests.isolation.world import World, tenant_snapshot


def _codes(body: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]


async def _post(
    client: httpx.AsyncClient, document: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": document}, headers=headers)
    assert response.status_code in (200, 400), response.text[:500]
    body: dict[str, Any] = response.json()
    return body


def _echo(marker: str, sent: set[str]) -> bool:
    return any(marker in value for value in sent)


async def test_every_operation_is_public_by_list_or_refuses_anonymous_callers(
    client: httpx.AsyncClient, world: World
) -> None:
    schema = await introspect(client)
    names = {name for _, name, _ in operations(schema)}
    assert names >= PUBLIC_OPERATIONS, "a listed public operation disappeared: update the list"
    for kind, name, field in operations(schema):
        if name in PUBLIC_OPERATIONS:
            continue
        for document, _ in documents(calls_for(schema, world.victim, kind, name, field)[:1]):
            body = await _post(client, document, {})
            assert _codes(body) and set(_codes(body)) == {"UNAUTHENTICATED"}, (name, body)


async def test_a_credential_never_reaches_the_tenant_named_in_x_tenant_id(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    schema = await introspect(client)
    before = await tenant_snapshot(db.db, world.victim.tenant_id)
    headers = {**world.attacker.headers, "X-Tenant-Id": world.victim.tenant_id}
    for kind, name, field in operations(schema):
        if name in PUBLIC_OPERATIONS:
            continue
        for document, _ in documents(calls_for(schema, world.victim, kind, name, field)[:1]):
            body = await _post(client, document, headers)
            assert set(_codes(body)) == {"FORBIDDEN"}, (name, body)
    assert await tenant_snapshot(db.db, world.victim.tenant_id) == before


async def test_the_attacker_gets_nothing_of_the_victim_from_any_operation(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    schema = await introspect(client)
    victim_markers = world.victim.markers()
    before = await tenant_snapshot(db.db, world.victim.tenant_id)
    exercised: set[str] = set()
    for kind, name, field in operations(schema):  # queries first, so they see no stored echoes
        if name in PUBLIC_OPERATIONS:
            continue
        # What the attacker sent to this operation so far: a mutation may store it in the
        # attacker's own tenant (a policy's tag list) and show it again; that is no leak.
        sent: set[str] = set()
        for document, aliased in documents(calls_for(schema, world.victim, kind, name, field)):
            body = await _post(client, document, world.attacker.headers)
            assert "INTERNAL_SERVER_ERROR" not in _codes(body), (name, body)
            assert not {"UNAUTHENTICATED", "FORBIDDEN"} & set(_codes(body)), (name, body)
            data = body.get("data") or {}
            for alias, call in aliased:
                sent |= call.inputs
                answer = orjson.dumps(data.get(alias)).decode()
                leaked = {m for m in victim_markers if m in answer and not _echo(m, sent)}
                assert not leaked, (name, call.arguments, leaked, answer[:500])
            errors = orjson.dumps(body.get("errors") or []).decode()
            leaked = {m for m in victim_markers if m in errors and not _echo(m, sent)}
            assert not leaked, (name, leaked, errors[:500])
            exercised.add(name)
    expected = {name for _, name, _ in operations(schema)} - PUBLIC_OPERATIONS
    assert exercised == expected, f"operations not attacked: {sorted(expected - exercised)}"
    assert await tenant_snapshot(db.db, world.victim.tenant_id) == before


async def test_the_victims_own_credential_does_see_its_data(
    client: httpx.AsyncClient, world: World
) -> None:
    """Guards the suite: the markers are findable, so their absence above means something."""
    body = await _post(
        client,
        "{ orders(first: 10) { nodes { id orderNumber customer { email } } }"
        " returns(first: 10) { nodes { id } } }",
        world.victim.headers,
    )
    text = orjson.dumps(body["data"]).decode()
    assert world.victim.order_numbers[0] in text
    assert world.victim.emails[0] in text
    assert world.victim.ids["return"][0] in text
