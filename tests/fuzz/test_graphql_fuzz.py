"""GraphQL under random documents from the live schema: never a 500 or a masked internal error,
never a hang, and a refused document changes nothing in the database."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLSchema
from hypothesis import given
from hypothesis import strategies as st

from app.config import Settings
from app.db import Database
from app.models.portal_attempts import PORTAL_ATTEMPTS_COLLECTION
from tests.factories import (
    forget_portal_attempts,
    make_order,
    make_return,
    make_tenant,
    merchant_headers,
)
from tests.fuzz.graphql_documents import DocumentBuilder, introspect
from tests.fuzz.helpers import FUZZ, bounded, collection_counts

INTERNAL = "INTERNAL_SERVER_ERROR"


class World:
    """One tenant with data and a credential, made once per test and shared by its examples."""

    schema: GraphQLSchema
    headers: dict[str, dict[str, str]]
    tenant_id: str


@pytest.fixture
async def world(client: httpx.AsyncClient, db: Database) -> World:
    tenant = await make_tenant("fuzzalpha")
    order = await make_order(tenant.id, 1001, email="fuzz@alpha.test")
    await make_return(order)
    merchant = await merchant_headers(tenant.id)
    found = World()
    found.schema = await introspect(client)
    found.tenant_id = tenant.id
    found.headers = {
        "anonymous": {},
        "merchant": merchant,
        "merchant-other-tenant": {**merchant, "X-Tenant-Id": "tenant-someone-else"},
        "garbage-bearer": {"Authorization": "Bearer not-a-token"},
        "portal": {"X-Tenant-Id": tenant.id},
    }
    return found


def _codes(body: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]


async def _send(
    client: httpx.AsyncClient, db: Database, document: str, headers: dict[str, str]
) -> tuple[dict[str, Any], bool]:
    response, _ = await bounded(
        client, "POST", "/graphql", json={"query": document}, headers=headers
    )
    if response.status_code == 413:
        # Long lists of long strings can make a document over the body limit (MAX_BODY_BYTES):
        # refused before it is read, which is right, and nothing is written.
        assert len(orjson.dumps({"query": document})) > Settings().max_body_bytes, document[:500]
        return {}, True
    assert response.status_code in (200, 400), (response.status_code, response.text[:500])
    body: dict[str, Any] = response.json()
    assert INTERNAL not in _codes(body), (document, body["errors"])
    refused = bool(body.get("errors")) and not body.get("data")
    return body, refused


@FUZZ
@given(
    data=st.data(),
    who=st.sampled_from(
        ["anonymous", "merchant", "merchant-other-tenant", "garbage-bearer", "portal"]
    ),
    wrong_types=st.booleans(),
    max_depth=st.integers(2, 16),
)
async def test_random_queries_never_fail_internally_nor_write(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    data: st.DataObject,
    who: str,
    wrong_types: bool,
    max_depth: int,
) -> None:
    _, document = DocumentBuilder(world.schema, data, wrong_types=wrong_types).document(
        "query", max_depth
    )
    await forget_portal_attempts(db.db)  # before counting: the fuzzer is not testing the limiter
    before = await collection_counts(db)
    await _send(client, db, document, world.headers[who])
    after = await collection_counts(db)
    # A query never writes, but for the one record it makes by design: a failed portal lookup
    # counted by the failed-lookup limiter (shared by every process, so in the database).
    for counts in (before, after):
        counts.pop(PORTAL_ATTEMPTS_COLLECTION, None)
    assert after == before, document


@FUZZ
@given(
    data=st.data(),
    who=st.sampled_from(
        ["anonymous", "merchant", "merchant-other-tenant", "garbage-bearer", "portal"]
    ),
    wrong_types=st.booleans(),
)
async def test_random_mutations_never_fail_internally_and_refusals_write_nothing(
    client: httpx.AsyncClient,
    db: Database,
    world: World,
    data: st.DataObject,
    who: str,
    wrong_types: bool,
) -> None:
    if world.schema.mutation_type is None:
        pytest.skip("no mutations in the schema")
    _, document = DocumentBuilder(world.schema, data, wrong_types=wrong_types).document(
        "mutation", 4
    )
    await forget_portal_attempts(db.db)  # before counting: the fuzzer is not testing the limiter
    before = await collection_counts(db)
    audit_before = await db.db["audit_log"].count_documents({"tenant_id": world.tenant_id})
    body, refused = await _send(client, db, document, world.headers[who])
    after = await collection_counts(db)
    # Merchant mutations are audited even when refused, in the caller's own tenant only.
    audited = after.get("audit_log", 0) - before.get("audit_log", 0)
    if who in ("merchant", "merchant-other-tenant"):
        own = await db.db["audit_log"].count_documents({"tenant_id": world.tenant_id})
        assert own - audit_before == audited
    else:
        assert audited == 0
    before.pop("audit_log", None)
    after.pop("audit_log", None)
    # A portal createReturn may legitimately write (anonymous is how customers call it).
    portal_write = who == "anonymous" and "createReturn" in document
    if (
        refused or who in ("anonymous", "garbage-bearer", "merchant-other-tenant")
    ) and not portal_write:
        assert after == before, (document, body)
