"""A return as the API shows it, for merchants' webhooks: GraphQL's `Return`, rendered by running
a query against our own schema as the return's merchant.

The query selects every field of `Return` and of the types inside it (not the `order`, which is
its own object with its own id; not the photos' expiring addresses; not fields that take
required arguments), derived from the
schema itself: a field added to the API appears in the webhooks too, with the same names and
formats (global ids, MoneyV2, enums).
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
)

from app.config import Settings
from app.graphql.core.context import Context
from app.graphql.core.node import global_id
from app.graphql.loaders import Loaders
from app.graphql.schema import build_schema
from app.models import Return
from app.services.auth import Principal, PrincipalKind
from app.services.notifications.dispatch import RenderReturn

# The order is its own object; a photo's address expires within the hour, while a delivery may
# be replayed days later (`photoCount` says there are photos: the API gives fresh addresses).
SKIPPED_FIELDS = {("Return", "order"), ("ReturnItem", "photos")}
MAX_NESTING = 4


def _named(kind: GraphQLType) -> GraphQLType:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _selection(schema: GraphQLSchema, type_name: str, depth: int = 0) -> str:
    kind = schema.get_type(type_name)
    assert isinstance(kind, GraphQLObjectType)
    parts: list[str] = []
    for name, found in kind.fields.items():
        if (type_name, name) in SKIPPED_FIELDS:
            continue
        if any(isinstance(arg.type, GraphQLNonNull) for arg in found.args.values()):
            continue
        inner = _named(found.type)
        if isinstance(inner, GraphQLObjectType):
            if depth + 1 >= MAX_NESTING:
                continue
            parts.append(f"{name} {{ {_selection(schema, inner.name, depth + 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def return_snapshot_query(schema: strawberry.Schema) -> str:
    graphql_schema = schema._schema
    return f"query ReturnSnapshot($id: ID!) {{ return(id: $id) {{ {_selection(graphql_schema, 'Return')} }} }}"


class SnapshotFailed(RuntimeError):
    pass


def make_return_renderer(settings: Settings) -> RenderReturn:
    schema = build_schema(settings)
    query = return_snapshot_query(schema)

    async def render(record: Return) -> dict[str, Any]:
        context = Context(
            settings=settings,
            request_id=f"notifications:{record.id}",
            client_ip="-",
            principal=Principal(record.tenant_id, PrincipalKind.API_KEY, "notifications"),
            requested_tenant_id=record.tenant_id,
            loaders=Loaders.for_tenant(record.tenant_id),
        )
        result = await schema.execute(
            query,
            variable_values={"id": str(global_id("Return", record.id))},
            context_value=context,
        )
        if result.errors or not result.data or result.data.get("return") is None:
            raise SnapshotFailed(f"return {record.id} could not be rendered: {result.errors}")
        rendered: dict[str, Any] = result.data["return"]
        return rendered

    return render
