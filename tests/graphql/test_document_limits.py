"""An oversized GraphQL document is refused before the work that grows with it: its bytes before
parsing, its tokens while parsing, its selections before validation, for a document sent as
text or by persisted-query hash, cached or not (finding 5)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from app.config import Settings
from app.graphql.core.limits import count_selections, utf8_length_over
from app.graphql.persisted_queries import PersistedQueryStore
from app.graphql.router import ServiceGraphQLRouter, make_context_getter
from app.graphql.schema import build_schema


def _cache_calls(cache: Any) -> int:
    info = cache.cache_info()
    return int(info.hits + info.misses)


class Caches:
    """How many times the shared parser and validation caches were consulted."""

    def __init__(self) -> None:
        self.parse = _get_parse_cache(1024)
        self.validate = _get_validate_cache(1024)
        self.parsed = _cache_calls(self.parse)
        self.validated = _cache_calls(self.validate)

    def parse_calls(self) -> int:
        return _cache_calls(self.parse) - self.parsed

    def validate_calls(self) -> int:
        return _cache_calls(self.validate) - self.validated


async def _post(client: httpx.AsyncClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/graphql", json=payload)
    assert response.status_code in (200, 400), response.text[:300]
    body: dict[str, Any] = response.json()
    return body


def _refusal(body: dict[str, Any], limit: str, maximum: int) -> None:
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "DOCUMENT_TOO_LARGE",
        "limit": limit,
        "maximum": maximum,
    }
    assert limit in error["message"] and str(maximum) in error["message"]


async def test_a_megabyte_of_repeated_fields_is_refused_before_parsing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # The attack: 90,000 `tenant{id}`, a fresh comment each time to miss the caches.
    query = "{" + " tenant{id}" * 90_000 + " }\n# " + uuid.uuid4().hex
    caches = Caches()
    body = await _post(client, {"query": query})
    _refusal(body, "GRAPHQL_MAX_DOCUMENT_BYTES", settings.graphql_max_document_bytes)
    assert caches.parse_calls() == 0
    assert caches.validate_calls() == 0


async def test_a_document_over_the_byte_limit_in_multibyte_characters_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # Fewer characters than the limit, more bytes.
    comment = "# " + "\u00e9" * (settings.graphql_max_document_bytes // 2 + 1)
    body = await _post(client, {"query": "{ __typename }\n" + comment})
    _refusal(body, "GRAPHQL_MAX_DOCUMENT_BYTES", settings.graphql_max_document_bytes)


async def test_a_document_over_the_token_limit_is_refused_while_parsing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    query = "{" + " a" * settings.graphql_max_tokens + " }"
    assert not utf8_length_over(query, settings.graphql_max_document_bytes)
    caches = Caches()
    body = await _post(client, {"query": query})
    assert body.get("data") is None
    message = body["errors"][0]["message"]
    assert f"more than {settings.graphql_max_tokens} tokens" in message
    assert caches.validate_calls() == 0


async def test_a_document_over_the_selection_limit_is_refused_before_validation(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.graphql_max_selections
    caches = Caches()
    body = await _post(client, {"query": "{" + " tenant{id}" * (limit // 2 + 1) + " }"})
    _refusal(body, "GRAPHQL_MAX_SELECTIONS", limit)
    assert caches.validate_calls() == 0


async def test_selections_in_fragments_count_too(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.graphql_max_selections
    query = "{ ...F } fragment F on Query { ... on Query {" + " __typename" * limit + " } }"
    body = await _post(client, {"query": query})
    _refusal(body, "GRAPHQL_MAX_SELECTIONS", limit)


async def test_a_document_at_the_limits_runs(client: httpx.AsyncClient, settings: Settings) -> None:
    body = await _post(
        client, {"query": "{" + " __typename" * settings.graphql_max_selections + " }"}
    )
    assert body == {"data": {"__typename": "Query"}, "extensions": body["extensions"]}


def test_counting_stops_just_past_the_limit() -> None:
    from graphql import parse

    document = parse("{" + " __typename" * 1000 + " }")
    assert count_selections(document, 10) == 11
    assert count_selections(document, 5000) == 1000


# Persisted queries ---------------------------------------------------------------------------
def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": _sha256(text)}}


@pytest.fixture
def store() -> PersistedQueryStore:
    return PersistedQueryStore()


@pytest.fixture
async def apq(settings: Settings, store: PersistedQueryStore) -> AsyncIterator[httpx.AsyncClient]:
    """The service's router and schema with a store the test can see into."""
    app = FastAPI()
    app.state.settings = settings
    app.include_router(
        ServiceGraphQLRouter(
            build_schema(settings),
            context_getter=make_context_getter(settings),
            persisted_queries=store,
        ),
        prefix="/graphql",
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_persisted_document_over_the_limit_is_refused_and_not_remembered(
    apq: httpx.AsyncClient, store: PersistedQueryStore, settings: Settings
) -> None:
    assert store.max_query_chars == settings.graphql_max_document_bytes
    query = "{ __typename }" + " " * settings.graphql_max_document_bytes
    body = await _post(apq, {"query": query, "extensions": _persisted(query)})
    _refusal(body, "GRAPHQL_MAX_DOCUMENT_BYTES", settings.graphql_max_document_bytes)
    assert _sha256(query) not in store


async def test_a_document_by_hash_alone_meets_the_same_limits(
    apq: httpx.AsyncClient, store: PersistedQueryStore, settings: Settings
) -> None:
    # Remembered before the limit was lowered, say: its hash alone must not get past it.
    limit = settings.graphql_max_selections
    query = "{" + " __typename" * (limit + 1) + " }"
    store.put(_sha256(query), query)
    caches = Caches()
    body = await _post(apq, {"extensions": _persisted(query)})
    _refusal(body, "GRAPHQL_MAX_SELECTIONS", limit)
    assert caches.validate_calls() == 0
    fine = "{ __typename }"
    await _post(apq, {"query": fine, "extensions": _persisted(fine)})
    by_hash = await _post(apq, {"extensions": _persisted(fine)})
    assert by_hash["data"] == {"__typename": "Query"} and "errors" not in by_hash
