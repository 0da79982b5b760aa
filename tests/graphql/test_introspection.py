"""GRAPHQL_INTROSPECTION: who may read the schema through `__schema` / `__type`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import graphql, make_tenant, merchant_headers

SCHEMA = "{ __schema { queryType { name } } }"
NESTED = 'query { ...T } fragment T on Query { __type(name: "Order") { name } }'
TYPENAME = "{ __typename }"


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def merchants_only(mongo_uri: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(mongo_uri, mongodb_db=db.db.name, graphql_introspection="merchants")
    async for http in _client(settings):
        yield http


@pytest.fixture
async def off(mongo_uri: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(mongo_uri, mongodb_db=db.db.name, graphql_introspection="off")
    async for http in _client(settings):
        yield http


def _code(body: dict[str, object]) -> object:
    errors = body.get("errors") or []
    assert isinstance(errors, list) and errors, body
    return errors[0]["extensions"]["code"]


async def test_outside_production_anyone_may_introspect(client: httpx.AsyncClient) -> None:
    body = await graphql(client, SCHEMA)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_production_limits_introspection_to_merchants_by_default() -> None:
    assert Settings(_env_file=None).introspection == "public"
    production = Settings.model_construct(environment="production", graphql_introspection=None)
    assert production.introspection == "merchants"


async def test_merchants_only_refuses_an_outsider_even_inside_a_fragment(
    merchants_only: httpx.AsyncClient,
) -> None:
    assert _code(await graphql(merchants_only, SCHEMA)) == "UNAUTHENTICATED"
    nested = await graphql(merchants_only, NESTED)
    assert _code(nested) == "UNAUTHENTICATED" and not nested.get("data")
    # __typename is not introspection of the schema: clients need it.
    assert (await graphql(merchants_only, TYPENAME))["data"] == {"__typename": "Query"}


async def test_merchants_only_lets_a_merchant_introspect(
    merchants_only: httpx.AsyncClient,
) -> None:
    tenant = await make_tenant("introspect")
    body = await graphql(merchants_only, SCHEMA, None, await merchant_headers(tenant.id))
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_off_refuses_merchants_too(off: httpx.AsyncClient) -> None:
    tenant = await make_tenant("introspect-off")
    body = await graphql(off, SCHEMA, None, await merchant_headers(tenant.id))
    assert _code(body) == "FORBIDDEN"


async def test_an_outsider_gets_no_suggestions_that_would_map_the_schema(
    merchants_only: httpx.AsyncClient,
) -> None:
    """A guessed field, argument or enum value would otherwise be answered with the real names
    ("Did you mean 'returns'?"), the schema mapped one guess at a time."""
    guesses = [
        "{ retur { id } }",
        "{ returns(firs: 1) { nodes { id } } }",
        "{ returns(first: 1, filter: {status: REQUESTE}) { nodes { id } } }",
    ]
    for guess in guesses:
        body = await graphql(merchants_only, guess)
        messages = [error["message"] for error in body["errors"]]
        assert messages and not any("Did you mean" in m for m in messages), (guess, messages)


async def test_a_merchant_still_gets_suggestions(
    merchants_only: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("suggested")
    body = await graphql(
        merchants_only, "{ retur { id } }", headers=await merchant_headers(tenant.id)
    )
    assert "Did you mean" in body["errors"][0]["message"]
