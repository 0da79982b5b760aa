"""Persisted queries shared through the database: what a merchant registers through one app
instance another runs by hash; only documents that validated, and only merchants'
registrations, are shared; a hash never names another text."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models.persisted_query import PERSISTED_QUERIES_COLLECTION
from app.services.persisted_queries import (
    HashMismatch,
    find_persisted_query,
    save_persisted_query,
)
from tests.factories import make_tenant, merchant_headers

QUERY = "query Hello { __typename }"
INVALID = "query Broken { noSuchField }"


def _by_hash(text: str) -> dict[str, Any]:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}


@pytest.fixture
async def two_apps(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    first, second = (create_app(settings, configure_logs=False) for _ in range(2))
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as b,
    ):
        yield a, b


async def test_a_query_registered_on_one_instance_runs_by_hash_on_another(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database
) -> None:
    a, b = two_apps
    headers = await merchant_headers((await make_tenant("apq")).id)
    registered = await a.post("/graphql", json={"query": QUERY, **_by_hash(QUERY)}, headers=headers)
    assert registered.json()["data"] == {"__typename": "Query"}
    by_hash = await b.post("/graphql", json=_by_hash(QUERY), headers=headers)
    assert by_hash.json()["data"] == {"__typename": "Query"}
    assert await find_persisted_query(_by_hash(QUERY)["extensions"]["persistedQuery"]["sha256Hash"])


async def test_a_document_that_fails_validation_is_not_shared(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database
) -> None:
    a, b = two_apps
    headers = await merchant_headers((await make_tenant("apq")).id)
    refused = await a.post(
        "/graphql", json={"query": INVALID, **_by_hash(INVALID)}, headers=headers
    )
    assert refused.json()["errors"]
    assert await db.db[PERSISTED_QUERIES_COLLECTION].count_documents({}) == 0
    unknown = await b.post("/graphql", json=_by_hash(INVALID), headers=headers)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_anonymous_registration_stays_in_its_process(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient], db: Database
) -> None:
    """Anyone may register a valid document, each one unique with a comment: the database
    keeps only merchants' registrations."""
    a, b = two_apps
    portal = {"X-Tenant-Id": (await make_tenant("apq")).id}
    text = QUERY + "\n# " + "x" * 1000
    registered = await a.post("/graphql", json={"query": text, **_by_hash(text)}, headers=portal)
    assert registered.json()["data"] == {"__typename": "Query"}
    again = await a.post("/graphql", json=_by_hash(text), headers=portal)
    assert again.json()["data"] == {"__typename": "Query"}  # this process remembers it
    assert await db.db[PERSISTED_QUERIES_COLLECTION].count_documents({}) == 0
    other = await b.post("/graphql", json=_by_hash(text), headers=portal)
    assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_is_never_stored_with_another_text(db: Database) -> None:
    sha = hashlib.sha256(QUERY.encode()).hexdigest()
    with pytest.raises(HashMismatch):
        await save_persisted_query(sha, INVALID)
    assert await find_persisted_query(sha) is None
    await save_persisted_query(sha.upper(), QUERY)
    await save_persisted_query(sha, QUERY)  # again: no error, still one document
    assert await find_persisted_query(sha) == QUERY
    assert await db.db[PERSISTED_QUERIES_COLLECTION].count_documents({}) == 1
