"""Automatic persisted queries, Apollo-compatible: register with text + hash, then hash alone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from fastapi import FastAPI

from app.graphql.graphiql import LocalGraphiQLRouter
from app.graphql.persisted_queries import PersistedQueryError, PersistedQueryStore

QUERY = "query Hello { hello }"
JSON_ONLY = {"Accept": "application/json"}


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


SCHEMA = strawberry.Schema(query=Query)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(sha256_hash: str, version: int = 1) -> dict[str, object]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256_hash}}


def build_app(store: PersistedQueryStore | None) -> FastAPI:
    app = FastAPI()
    router: LocalGraphiQLRouter = LocalGraphiQLRouter(SCHEMA, persisted_queries=store)
    app.include_router(router, prefix="/graphql")
    return app


@pytest.fixture
def store() -> PersistedQueryStore:
    return PersistedQueryStore(max_entries=100)


@pytest.fixture
async def http(store: PersistedQueryStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_registered_query_runs_by_hash_alone(
    http: httpx.AsyncClient, store: PersistedQueryStore
) -> None:
    registered = await http.post(
        "/graphql", json={"query": QUERY, "extensions": persisted(sha256(QUERY))}
    )
    by_hash = await http.post("/graphql", json={"extensions": persisted(sha256(QUERY))})

    assert registered.json() == {"data": {"hello": "world"}}
    assert by_hash.status_code == 200
    assert by_hash.json() == {"data": {"hello": "world"}}
    assert sha256(QUERY) in store


async def test_registered_query_runs_by_hash_over_get(http: httpx.AsyncClient) -> None:
    await http.post("/graphql", json={"query": QUERY, "extensions": persisted(sha256(QUERY))})

    response = await http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(sha256(QUERY)))},
        headers={"Accept": "*/*"},  # would otherwise ask for GraphiQL: no `query` parameter
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "world"}}


async def test_query_can_be_registered_over_get(http: httpx.AsyncClient) -> None:
    params = {"query": QUERY, "extensions": json.dumps(persisted(sha256(QUERY)))}
    registered = await http.get("/graphql", params=params, headers=JSON_ONLY)
    by_hash = await http.post("/graphql", json={"extensions": persisted(sha256(QUERY))})

    assert registered.json() == {"data": {"hello": "world"}}
    assert by_hash.json() == {"data": {"hello": "world"}}


async def test_unknown_hash_is_persisted_query_not_found(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"extensions": persisted(sha256("{ nope }"))})

    assert response.status_code == 200  # Apollo clients retry with the text on this answer
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert "no-cache" in response.headers["cache-control"]


async def test_unknown_hash_over_get_is_not_found(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"extensions": json.dumps(persisted("0" * 64))}, headers=JSON_ONLY
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_mismatched_hash_is_rejected_and_not_stored(
    http: httpx.AsyncClient, store: PersistedQueryStore
) -> None:
    wrong = sha256("{ somethingElse }")
    response = await http.post("/graphql", json={"query": QUERY, "extensions": persisted(wrong)})

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"
    assert "data" not in response.json()
    assert len(store) == 0


async def test_unsupported_version_is_rejected(http: httpx.AsyncClient) -> None:
    extensions = persisted(sha256(QUERY), version=2)
    response = await http.post("/graphql", json={"query": QUERY, "extensions": extensions})

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Unsupported persisted query version"


async def test_malformed_hash_is_rejected(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"extensions": persisted("not-a-sha")})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_plain_queries_are_untouched(
    http: httpx.AsyncClient, store: PersistedQueryStore
) -> None:
    response = await http.post("/graphql", json={"query": QUERY})

    assert response.json() == {"data": {"hello": "world"}}
    assert len(store) == 0


async def test_without_a_store_hash_alone_is_a_missing_query() -> None:
    transport = httpx.ASGITransport(app=build_app(None))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/graphql", json={"extensions": persisted(sha256(QUERY))})

    assert response.status_code == 400


def test_least_recently_used_query_is_evicted_first() -> None:
    store = PersistedQueryStore(max_entries=2)
    first, second, third = "{ a }", "{ b }", "{ c }"
    for query in (first, second):
        store.resolve({"query": query, "extensions": persisted(sha256(query))})
    store.resolve({"extensions": persisted(sha256(first))})  # touch: `second` is now oldest

    store.resolve({"query": third, "extensions": persisted(sha256(third))})

    assert sha256(first) in store
    assert sha256(second) not in store
    assert sha256(third) in store


def test_total_size_is_bounded() -> None:
    store = PersistedQueryStore(max_entries=100, max_total_chars=25, max_query_chars=20)
    queries = ["{ " + "a" * 10 + " }", "{ " + "b" * 10 + " }"]
    for query in queries:
        store.put(sha256(query), query)

    assert len(store) == 1
    assert sha256(queries[1]) in store


def test_oversized_query_runs_but_is_not_remembered() -> None:
    store = PersistedQueryStore(max_query_chars=10)
    query = "{ " + "field " * 10 + "}"

    assert store.resolve({"query": query, "extensions": persisted(sha256(query))}) == query
    assert len(store) == 0


def test_hash_comparison_ignores_case() -> None:
    store = PersistedQueryStore()
    store.resolve({"query": QUERY, "extensions": persisted(sha256(QUERY).upper())})

    assert store.resolve({"extensions": persisted(sha256(QUERY))}) == QUERY


def test_resolve_reports_errors_as_values() -> None:
    outcome = PersistedQueryStore().resolve({"extensions": persisted(sha256(QUERY))})

    assert isinstance(outcome, PersistedQueryError)
    assert outcome.as_graphql_error().extensions == {"code": "PERSISTED_QUERY_NOT_FOUND"}
