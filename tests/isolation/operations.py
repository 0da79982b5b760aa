"""Calls to every root operation of the live schema, with arguments filled from a tenant's values.

Operations are enumerated by introspection, so a new operation is attacked without changes here;
an argument type this module cannot fill fails loudly (`Unfillable`) instead of being skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)

from tests.isolation.world import Tenantry

# Public by design (customer portal, scoped by X-Tenant-Id and proven by order number + email);
# attacked separately in test_portal.py. Anything else must require a merchant credential.
PUBLIC_OPERATIONS = frozenset(
    {"lookupOrder", "createReturn", "customerOrders", "returnStatus", "exchangeOptions"}
)
MAX_SELECTION_DEPTH = 3
MAX_ALIASES_PER_DOCUMENT = 20


class Unfillable(Exception):
    pass


@dataclass(frozen=True)
class Enum:
    name: str


@dataclass(frozen=True)
class Call:
    operation: str  # "query" | "mutation"
    field: str
    arguments: str  # "(a: 1, b: "x")" or ""
    selection: str
    inputs: frozenset[str]  # the tenant values this call sends (echoes of them are no leak)


def literal(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _strings_for(name: str, victim: Tenantry) -> list[str]:
    lowered = name.lower()
    if lowered in ("after", "before", "cursor"):
        return victim.cursors
    if "email" in lowered:
        return victim.emails
    if "number" in lowered:
        return victim.order_numbers + [f"#{n}" for n in victim.order_numbers]
    if "tenant" in lowered or "shop" in lowered:
        return [victim.tenant_id, victim.shop]
    return victim.all_ids() + victim.order_numbers


def _int_for(name: str) -> int:
    return {"first": 5, "days": 30, "windowMinutes": 100_000, "quantity": 1}.get(name, 1)


class ArgumentFiller:
    """Builds argument sets where every ID / string slot carries one of the victim's values."""

    def __init__(self, victim: Tenantry) -> None:
        self.victim = victim

    def candidates(self, name: str, type_: GraphQLInputType) -> list[Any]:
        named = _named(type_)
        as_list = isinstance(type_, GraphQLList) or (
            isinstance(type_, GraphQLNonNull) and isinstance(type_.of_type, GraphQLList)
        )
        values: list[Any]
        if isinstance(named, GraphQLScalarType):
            if named.name == "ID":
                values = self.victim.all_ids()
            elif named.name == "String":
                values = _strings_for(name, self.victim)
            elif named.name == "Int":
                values = [_int_for(name)]
            elif named.name == "Boolean":
                values = [True]
            elif named.name == "DateTime":
                values = [
                    "2100-01-01T00:00:00Z" if name in ("to", "before") else "2000-01-01T00:00:00Z"
                ]
            elif named.name in ("Decimal", "Float"):
                values = ["1"] if named.name == "Decimal" else [1.0]
            else:
                raise Unfillable(f"scalar {named.name} of argument {name}")
        elif isinstance(named, GraphQLEnumType):
            values = [Enum(sorted(named.values)[0])]
        elif isinstance(named, GraphQLInputObjectType):
            values = self.input_objects(named)
        else:
            raise Unfillable(f"argument {name}: {type_}")
        return [[value] for value in values] if as_list else values

    def input_objects(self, type_: GraphQLInputObjectType) -> list[dict[str, Any]]:
        """One object per victim value: every string/ID field set from it (by position)."""
        per_field = {
            name: self.candidates(name, field.type) for name, field in type_.fields.items()
        }
        width = max(len(values) for values in per_field.values())
        return [
            {name: values[index % len(values)] for name, values in per_field.items()}
            for index in range(width)
        ]

    def argument_sets(self, field: GraphQLField) -> list[dict[str, Any]]:
        if not field.args:
            return [{}]
        per_arg = {name: self.candidates(name, arg.type) for name, arg in field.args.items()}
        width = max(len(values) for values in per_arg.values())
        return [
            {name: values[index % len(values)] for name, values in per_arg.items()}
            for index in range(width)
        ]


def selection(type_: Any, depth: int = 1, schema: GraphQLSchema | None = None) -> str:
    """Every scalar field, and nested objects whose arguments are all optional, to a depth; for
    an interface (`node`), the same on every type that implements it."""
    named = _named(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(named, GraphQLInterfaceType) and schema is not None:
        # Scalars only on each type (they carry the markers): whole objects of every type
        # would be over the document's selection limit. A name two types give different types
        # (`customerEmail: String!` and `String`) is aliased per type: GraphQL will not merge it.
        implementations = schema.get_possible_types(named)
        scalars = {
            t.name: {
                name: str(field.type)
                for name, field in t.fields.items()
                if isinstance(_named(field.type), GraphQLScalarType | GraphQLEnumType)
                and not field.args
            }
            for t in implementations
        }
        typed: dict[str, set[str]] = {}
        for fields in scalars.values():
            for name, type_name in fields.items():
                typed.setdefault(name, set()).add(type_name)
        fragments = [
            f"... on {t.name} {{ "
            + " ".join(
                f"{t.name}_{name}: {name}" if len(typed[name]) > 1 else name
                for name in scalars[t.name]
            )
            + " }"
            for t in implementations
        ]
        return "{ __typename " + " ".join(fragments) + " }"
    if not isinstance(named, GraphQLObjectType):
        return "{ __typename }"
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(isinstance(arg.type, GraphQLNonNull) for arg in field.args.values()):
            continue
        inner_type = _named(field.type)
        if isinstance(inner_type, GraphQLScalarType | GraphQLEnumType):
            parts.append(name)
        elif depth < MAX_SELECTION_DEPTH:
            parts.append(f"{name} {selection(field.type, depth + 1, schema)}")
    return "{ " + " ".join(parts) + " }"


def _values_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value, value.lstrip("#")}
    if isinstance(value, list):
        return set().union(*(_values_in(item) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_values_in(item) for item in value.values())) if value else set()
    return set()


def operations(schema: GraphQLSchema) -> list[tuple[str, str, GraphQLField]]:
    found: list[tuple[str, str, GraphQLField]] = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if root is not None:
            found.extend((kind, name, field) for name, field in root.fields.items())
    return found


def calls_for(
    schema: GraphQLSchema, victim: Tenantry, kind: str, name: str, field: GraphQLField
) -> list[Call]:
    filler = ArgumentFiller(victim)
    calls = []
    for argument_set in filler.argument_sets(field):
        arguments = (
            "(" + ", ".join(f"{k}: {literal(v)}" for k, v in argument_set.items()) + ")"
            if argument_set
            else ""
        )
        calls.append(
            Call(
                kind,
                name,
                arguments,
                selection(field.type, schema=schema),
                frozenset(_values_in(argument_set)),
            )
        )
    return calls


def documents(calls: list[Call]) -> list[tuple[str, list[tuple[str, Call]]]]:
    """Batched documents of aliased calls: `(document, [(alias, call)])`."""
    batches = []
    for start in range(0, len(calls), MAX_ALIASES_PER_DOCUMENT):
        chunk = calls[start : start + MAX_ALIASES_PER_DOCUMENT]
        aliased = [(f"c{index}", call) for index, call in enumerate(chunk)]
        body = " ".join(f"{alias}: {c.field}{c.arguments} {c.selection}" for alias, c in aliased)
        batches.append((f"{chunk[0].operation} Attack {{ {body} }}", aliased))
    return batches
