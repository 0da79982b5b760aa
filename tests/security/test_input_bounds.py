"""String and Decimal inputs are bounded at the GraphQL edge: an over-long, malformed or extreme
value is refused before any resolver or service runs (findings 1 and 9)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, get_named_type

from app.config import Settings
from app.db import Database
from app.graphql.core.input_bounds import LONG_TEXT, decimal_problem, text_problem
from app.graphql.portal import schema as portal_schema
from app.graphql.sync import schema as sync_schema
from tests.factories import graphql, make_order, make_return, make_tenant, merchant_headers
from tests.fuzz.graphql_documents import introspect
from tests.fuzz.helpers import collection_counts
from tests.returns.builders import CREATE_RETURN, portal, return_input, shop_order
from tests.security.regex_probe import record_scans

CANCEL = """
mutation Cancel($id: ID!) {
  cancelSyncJob(id: $id) { job { id } userErrors { field code message } }
}
"""
POLICY = """
mutation Policy($input: UpdateReturnPolicyInput!) {
  updateReturnPolicy(input: $input) { tenant { id } userErrors { field code message } }
}
"""
APPROVE = """
mutation Approve($id: ID!, $note: String) {
  approveReturn(id: $id, note: $note) { return { status } userErrors { field code message } }
}
"""
LOOKUP = """
query Lookup($n: String!, $e: String!) { lookupOrder(orderNumber: $n, customerEmail: $e) { id } }
"""


@pytest.fixture(autouse=True)
def _patterns_record_instead_of_stalling(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Unbounded input used to reach the log and audit patterns (test_bounded_scanning.py pins
    that it no longer does); recorded, it fails these tests fast instead of stalling them."""
    return record_scans(monkeypatch)


async def _escaped(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """Like `graphql`, with the JSON ASCII-escaped (`\\ud800`), as a client can send a lone
    surrogate (httpx itself cannot encode one)."""
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    return body


def _called(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[object]:
    """Replace a service the resolver calls with one that records being called."""
    calls: list[object] = []
    original = getattr(module, name)

    async def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


async def test_an_over_long_id_is_a_too_long_user_error_before_the_service(
    client: httpx.AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("boundid")
    headers = await merchant_headers(tenant.id)
    calls = _called(monkeypatch, sync_schema, "cancel_sync_job")
    body = await graphql(client, CANCEL, {"id": "y" * 100_000}, headers)
    limit = settings.graphql_max_string_length
    assert body["data"]["cancelSyncJob"] == {
        "job": None,
        "userErrors": [
            {"field": ["id"], "code": "TOO_LONG", "message": f"At most {limit} characters."}
        ],
    }
    assert calls == []


async def test_an_over_long_policy_tag_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_tenant("boundtag")
    headers = await merchant_headers(tenant.id)
    before = await db.db["tenants"].find_one({"_id": tenant.id})
    body = await graphql(
        client, POLICY, {"input": {"nonReturnableTags": ["ok", "t" * 200_000]}}, headers
    )
    payload = body["data"]["updateReturnPolicy"]
    assert payload["tenant"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["nonReturnableTags", "1"], "TOO_LONG")
    ]
    assert str(settings.graphql_max_string_length) in payload["userErrors"][0]["message"]
    assert await db.db["tenants"].find_one({"_id": tenant.id}) == before


async def test_an_inline_over_long_string_is_refused_like_a_variable(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("boundinline")
    headers = await merchant_headers(tenant.id)
    document = (
        'mutation { updateReturnPolicy(input: {finalSaleTag: "' + "f" * 5_000 + '"}) '
        "{ userErrors { field code } } }"
    )
    body = await graphql(client, document, headers=headers)
    assert body["data"]["updateReturnPolicy"]["userErrors"] == [
        {"field": ["finalSaleTag"], "code": "TOO_LONG"}
    ]


async def test_an_over_long_query_argument_is_bad_user_input_naming_the_limit(
    client: httpx.AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await make_tenant("boundlookup")
    calls = _called(monkeypatch, portal_schema, "lookup_order")
    body = await graphql(client, LOOKUP, {"n": "1" * 100_000, "e": "a@b.co"}, portal(tenant.id))
    assert body["data"] == {"lookupOrder": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "orderNumber"
    assert error["extensions"]["maxLength"] == settings.graphql_max_string_length
    assert "GRAPHQL_MAX_STRING_LENGTH" in error["message"]
    assert str(settings.graphql_max_string_length) in error["message"]
    assert calls == []


async def test_a_filter_field_is_bounded_inside_its_input_object(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("boundfilter")
    headers = await merchant_headers(tenant.id)
    body = await graphql(
        client,
        "query($f: ReturnFilterInput) { returns(filter: $f) { nodes { id } } }",
        {"f": {"customerEmail": "e" * 10_000 + "@example.com"}},
        headers,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["argument"] == "filter.customerEmail"


async def test_free_text_keeps_its_own_longer_limit(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("boundnote")
    headers = await merchant_headers(tenant.id)
    order = await make_order(tenant.id, 1001)
    too_long = await graphql(
        client, APPROVE, {"id": str((await make_return(order)).id), "note": "n" * 1001}, headers
    )
    assert too_long["data"]["approveReturn"]["userErrors"] == [
        {"field": ["note"], "code": "TOO_LONG", "message": "At most 1000 characters."}
    ]
    fits = await graphql(
        client, APPROVE, {"id": str((await make_return(order)).id), "note": "n" * 1000}, headers
    )
    assert fits["data"]["approveReturn"] == {"return": {"status": "APPROVED"}, "userErrors": []}


@pytest.mark.parametrize("text", ["\ud800", "ok \udfff", "\udc00\ud800", "é\ud83d"])
async def test_a_lone_surrogate_in_a_note_is_an_invalid_user_error_not_a_500(
    client: httpx.AsyncClient, db: Database, text: str
) -> None:
    tenant = await make_tenant("boundsurrogate")
    order = await shop_order(tenant.id, 1001)
    data = return_input(order)
    data["items"][0]["note"] = text
    before = await collection_counts(db)
    body = await _escaped(client, CREATE_RETURN, {"input": data}, portal(tenant.id))
    payload = body["data"]["createReturn"]
    assert payload["return"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["items", "0", "note"], "INVALID")
    ]
    assert await collection_counts(db) == before


async def test_a_lone_surrogate_in_a_query_argument_is_bad_user_input(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("boundsurrogateq")
    body = await _escaped(client, LOOKUP, {"n": "1001", "e": "a\ud800@b.co"}, portal(tenant.id))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["argument"] == "customerEmail"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("restockingFeePercent", "1e-999999"),
        ("restockingFeePercent", "1E+999999"),
        ("restockingFeePercent", "0E-999999"),
        ("storeCreditBonusPercent", "NaN"),
        ("storeCreditBonusPercent", "sNaN"),
        ("storeCreditBonusPercent", "Infinity"),
        ("restockingFeePercent", "-Infinity"),
        ("restockingFeePercent", "0.0000000000000000001"),
    ],
)
async def test_an_extreme_or_non_finite_decimal_is_an_invalid_user_error_not_a_500(
    client: httpx.AsyncClient, db: Database, field: str, value: str
) -> None:
    tenant = await make_tenant("bounddecimal")
    headers = await merchant_headers(tenant.id)
    before = await db.db["tenants"].find_one({"_id": tenant.id})
    body = await graphql(client, POLICY, {"input": {field: value}}, headers)
    payload = body["data"]["updateReturnPolicy"]
    assert payload["tenant"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [([field], "INVALID")]
    assert await db.db["tenants"].find_one({"_id": tenant.id}) == before


async def test_a_nested_extreme_decimal_is_refused_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("bounddecimalnested")
    headers = await merchant_headers(tenant.id)
    rule = {"enabled": True, "maxOrderTotal": "1e-999999"}
    body = await graphql(client, POLICY, {"input": {"autoApprove": rule}}, headers)
    assert body["data"]["updateReturnPolicy"]["userErrors"][0]["field"] == [
        "autoApprove",
        "maxOrderTotal",
    ]


async def test_ordinary_decimals_and_text_pass_the_edge(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("boundfine")
    headers = await merchant_headers(tenant.id)
    body = await graphql(
        client,
        POLICY,
        {
            "input": {
                "restockingFeePercent": "12.5",
                "storeCreditBonusPercent": 7,
                "finalSaleTag": "Ausverkauf \u00fc \U0001f389 \u202e",
                "autoApprove": {"enabled": True, "maxOrderTotal": "999999999999999.99"},
            }
        },
        headers,
    )
    assert body["data"]["updateReturnPolicy"]["userErrors"] == []


def test_the_rules_on_their_own() -> None:
    assert text_problem("x" * 10, 10) is None
    assert text_problem("x" * 11, 10) == ("TOO_LONG", "At most 10 characters.")
    assert text_problem("\ud800", 10) is not None
    assert text_problem("\U0001f389\u0301\u200f\x00", 10) is None  # odd, but valid text
    from decimal import Decimal

    for fine in ("0", "-1", "100", "0.01", "999999999999999.999999999999999999", "1E+3"):
        assert decimal_problem(Decimal(fine)) is None, fine
    for bad in ("1e15", "1e-19", "NaN", "-Infinity", "1e-999999"):
        assert decimal_problem(Decimal(bad)) is not None, bad


async def test_every_free_text_exception_names_a_string_input_of_the_schema(
    client: httpx.AsyncClient, db: Database
) -> None:
    schema = await introspect(client)
    for coordinate in LONG_TEXT:
        type_name, rest = coordinate.split(".", 1)
        parent = schema.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType | GraphQLInputObjectType), coordinate
        if "(" in coordinate:
            assert isinstance(parent, GraphQLObjectType), coordinate
            field_name, argument = rest.rstrip(":)").split("(")
            target = parent.fields[field_name].args[argument].type
        else:
            target = parent.fields[rest].type
        assert get_named_type(target).name == "String", coordinate


async def test_an_over_long_tenant_header_never_reaches_the_database(
    settings: Settings, db: Database
) -> None:
    from pymongo import monitoring

    from app.main import create_app

    class Longest(monitoring.CommandListener):
        longest = 0

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            self.longest = max(self.longest, len(str(event.command)))

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    listener = Longest()
    app = create_app(settings, mongo_listeners=[listener], configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = await graphql(
                client, LOOKUP, {"n": "1001", "e": "a@b.co"}, {"X-Tenant-Id": "t" * 100_000}
            )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "X-Tenant-Id" in body["errors"][0]["message"]
    assert listener.longest < 10_000
