"""Random GraphQL documents built from the live schema (introspection): selections, arguments of
the right and the wrong types, aliases, deep nesting, huge lists, unicode."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_introspection_query,
)
from hypothesis import strategies as st

from tests.fuzz.helpers import hostile_text

MAX_FIELDS_PER_LEVEL = 4


async def introspect(client: httpx.AsyncClient) -> GraphQLSchema:
    """The schema as a client sees it (so new operations are fuzzed without changes here)."""
    response = await client.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 200, response.text[:300]
    return build_client_schema(response.json()["data"])


def literal(value: Any) -> str:
    """A Python value as a GraphQL literal (`Enum` values are wrapped in `EnumValue`)."""
    if isinstance(value, EnumValue):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(type(value))


@dataclass(frozen=True)
class EnumValue:
    name: str


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


class DocumentBuilder:
    """Draws one document per call from `st.data()`; `wrong_types` mixes in ill-typed values."""

    def __init__(self, schema: GraphQLSchema, data: st.DataObject, *, wrong_types: bool) -> None:
        self.schema = schema
        self.data = data
        self.wrong_types = wrong_types
        self.aliases = 0

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    # Input values ---------------------------------------------------------------------------
    def value(self, type_: GraphQLInputType, depth: int = 0) -> Any:
        if self.wrong_types and self.draw(st.integers(0, 5)) == 0:
            return self.draw(
                st.one_of(
                    st.integers(-(2**40), 2**40),
                    st.floats(allow_nan=False, allow_infinity=False),
                    hostile_text,
                    st.booleans(),
                    st.none(),
                    st.just([]),
                    st.just({}),
                )
            )
        if isinstance(type_, GraphQLNonNull):
            return self.value(type_.of_type, depth)
        if isinstance(type_, GraphQLList):
            if self.draw(st.integers(0, 9)) == 0:  # a huge list
                item = self.value(type_.of_type, depth + 1)
                return [item] * self.draw(st.sampled_from([500, 5000]))
            count = self.draw(st.integers(0, 3))
            return [self.value(type_.of_type, depth + 1) for _ in range(count)]
        if isinstance(type_, GraphQLEnumType):
            return EnumValue(self.draw(st.sampled_from(sorted(type_.values))))
        if isinstance(type_, GraphQLInputObjectType):
            result: dict[str, Any] = {}
            for name, field in type_.fields.items():
                required = isinstance(field.type, GraphQLNonNull)
                if required or (depth < 3 and self.draw(st.booleans())):
                    result[name] = self.value(field.type, depth + 1)
            return result
        assert isinstance(type_, GraphQLScalarType)
        return self.scalar(type_.name)

    def scalar(self, name: str) -> Any:
        if name == "Int":
            return self.draw(
                st.one_of(
                    st.integers(-5, 120),
                    st.sampled_from([0, -1, 101, 1000, 2**31 - 1, -(2**31)]),
                )
            )
        if name == "Float":
            return self.draw(st.floats(allow_nan=False, allow_infinity=False, width=32))
        if name == "Boolean":
            return self.draw(st.booleans())
        if name == "DateTime":
            return self.draw(
                st.one_of(
                    st.datetimes().map(lambda d: d.isoformat() + "Z"),
                    st.sampled_from(["2026-01-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59"]),
                    hostile_text,
                )
            )
        return self.draw(hostile_text)  # String, ID, Decimal, JSON and custom scalars

    # Selections ------------------------------------------------------------------------------
    def arguments(self, field: GraphQLField) -> str:
        parts = []
        for name, argument in field.args.items():
            required = isinstance(argument.type, GraphQLNonNull)
            if required or self.draw(st.booleans()):
                parts.append(f"{name}: {literal(self.value(argument.type))}")
        return f"({', '.join(parts)})" if parts else ""

    def selection(self, type_: GraphQLOutputType, depth: int, max_depth: int) -> str:
        named = _unwrap(type_)
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return ""
        if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
            members = (
                named.types
                if isinstance(named, GraphQLUnionType)
                else self.schema.get_implementations(named).objects
            )
            fragments = [
                f"... on {member.name} {self.selection(member, depth, max_depth)}"
                for member in members[:2]
            ]
            return "{ __typename " + " ".join(fragments) + " }"
        assert isinstance(named, GraphQLObjectType)
        names = sorted(named.fields)
        leaves = [n for n in names if isinstance(_unwrap(named.fields[n].type), GraphQLScalarType)]
        candidates = leaves if depth >= max_depth and leaves else names
        chosen = self.draw(
            st.lists(
                st.sampled_from(candidates),
                min_size=1,
                max_size=MAX_FIELDS_PER_LEVEL,
                unique=True,
            )
        )
        parts = ["__typename"]
        for name in chosen:
            field = named.fields[name]
            alias = ""
            if self.draw(st.integers(0, 4)) == 0:
                self.aliases += 1
                alias = f"a{self.aliases}_{name}: "
            inner = self.selection(field.type, depth + 1, max_depth)
            parts.append(f"{alias}{name}{self.arguments(field)} {inner}".strip())
        return "{ " + " ".join(parts) + " }"

    def document(self, operation: str, max_depth: int) -> tuple[str, str]:
        """`(operation type, document)` with 1..3 root fields of the given operation type."""
        root = self.schema.mutation_type if operation == "mutation" else self.schema.query_type
        assert root is not None
        names = self.draw(
            st.lists(st.sampled_from(sorted(root.fields)), min_size=1, max_size=3, unique=True)
        )
        parts = []
        for name in names:
            field = root.fields[name]
            inner = self.selection(field.type, 1, max_depth)
            parts.append(f"{name}{self.arguments(field)} {inner}".strip())
        return operation, f"{operation} Fuzz {{ {' '.join(parts)} }}"
