"""Every mutation's `userErrors` are its domain's `<Domain>UserError`, whose `code` is a GraphQL
enum (Shopify's and Saleor's convention) that a client can switch on exhaustively; each such
enum also holds TOO_LONG and INVALID, which the edge's input bounds answer with for any mutation."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from app.config import Settings
from app.graphql.schema import build_schema


def _named(type_: object) -> object:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def test_every_payload_has_typed_user_errors(settings: Settings) -> None:
    schema = build_schema(settings)._schema
    mutation = schema.mutation_type
    assert mutation is not None
    seen: dict[str, set[str]] = {}
    for name, field in mutation.fields.items():
        payload = _named(field.type)
        assert isinstance(payload, GraphQLObjectType), name
        user_errors = payload.fields.get("userErrors")
        assert user_errors is not None, f"{name} has no userErrors"
        error_type = _named(user_errors.type)
        assert isinstance(error_type, GraphQLObjectType)
        assert error_type.name.endswith("UserError") and error_type.name != "UserError", name
        assert set(error_type.fields) == {"field", "code", "message"}, error_type.name
        code = _named(error_type.fields["code"].type)
        assert isinstance(code, GraphQLEnumType), f"{error_type.name}.code is {code}"
        assert isinstance(error_type.fields["code"].type, GraphQLNonNull)
        seen[error_type.name] = set(code.values)
    assert {
        "ReturnUserError",
        "SyncUserError",
        "IntegrationUserError",
        "WebhookEventUserError",
    } <= (seen.keys())
    for type_name, codes in seen.items():
        assert {"TOO_LONG", "INVALID"} <= codes, type_name
