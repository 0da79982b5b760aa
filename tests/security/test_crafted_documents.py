"""Crafted JSON and literals Python cannot convert are client errors, never a 500 or a masked
internal error (finding 9's general cause, in the request body and the document)."""

from __future__ import annotations

import logging

import httpx
import pytest

from app.db import Database
from app.graphql.core.limits import MAX_INTEGER_LITERAL_DIGITS, longest_integer_literal
from tests.factories import make_tenant, merchant_headers

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5_000 + b"}}",
        b'{"query": "{ __typename }", "variables": {"n": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
        b"[" * 100_000,
        b"0",
        b'"{ __typename }"',
    ],
    ids=["huge-integer", "deep-nesting", "deep-unterminated", "a-number", "a-string"],
)
async def test_a_json_body_the_service_cannot_take_is_a_400(
    client: httpx.AsyncClient, body: bytes
) -> None:
    response = await client.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 400


async def test_variables_python_cannot_decode_over_get_are_a_400(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": "{ __typename }", "variables": '{"n": ' + "9" * 5_000 + "}"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "{ orders(first: " + "9" * 5_000 + ") { nodes { id } } }",
        "query($n: Int = " + "9" * 5_000 + ") { orders(first: $n) { nodes { id } } }",
        "mutation { updateReturnPolicy(input: {restockingFeePercent: "
        + "1" * 5_000
        + "}) { userErrors { code } } }",
    ],
    ids=["argument", "variable-default", "decimal-argument"],
)
async def test_an_integer_literal_python_cannot_convert_is_bad_user_input(
    client: httpx.AsyncClient, db: Database, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    headers = await merchant_headers((await make_tenant("craftedint")).id)
    with caplog.at_level(logging.WARNING):
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(MAX_INTEGER_LITERAL_DIGITS) in error["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_integer_literals_are_found_wherever_they_are() -> None:
    from graphql import parse

    document = parse(
        "query Q($a: Int = 12) @d(x: 123) { f(a: [1, {b: 12345}]) { ... on T @d(x: 1234567) { g } }"
        " ...F } fragment F on T { h(x: 123456) }"
    )
    assert longest_integer_literal(document) == 7
