"""Global object identification (Relay): `interface Node { id: ID! }` and global ids.

A global id is `gid://returns-management/<Type>/<id>`, the shape of Shopify's GIDs, where `<id>`
is the object's own key: the ObjectId of a return, sync job, webhook event or data export, the
Shopify id of an order or customer (also exposed as `shopifyId`), the tenant's id. Clients treat
it as opaque. Every argument that takes an id accepts the global id of its type, and the bare
id for clients written before global ids; a global id of another type names nothing.
"""

from __future__ import annotations

import strawberry

APP = "returns-management"
PREFIX = f"gid://{APP}/"


@strawberry.interface(
    description="An object with a global id: refetch it with `node(id:)` or `nodes(ids:)`."
)
class Node:
    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # every implementing type defines its own


def global_id(type_name: str, local: object) -> strawberry.ID:
    return strawberry.ID(f"{PREFIX}{type_name}/{local}")


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(type name, local id) of one of our global ids; None for anything else."""
    if value[: len(PREFIX)].lower() != PREFIX:
        return None
    type_name, _, local = value[len(PREFIX) :].partition("/")
    if not type_name or not local or "/" in local:
        return None
    return type_name, local


def argument_id(value: object, type_name: str) -> str:
    """The local id an `ID` argument names, for a service lookup: blank (which names nothing)
    for a global id of another type."""
    return local_id(str(value), type_name) or ""


def local_id(value: str, type_name: str) -> str | None:
    """The local id an argument names: from a global id of `type_name`, or a bare id as it is;
    None for a global id of another type (or a malformed one). Shopify's own GIDs name an
    order or a customer (`gid://shopify/Order/1`), and only of their own type."""
    value = value.strip()
    scheme = value[:6].lower()
    if scheme != "gid://":
        return value
    parsed = parse_global_id(value)
    if parsed is not None:
        return parsed[1] if parsed[0] == type_name else None
    if value.lower().startswith(f"gid://shopify/{type_name.lower()}/"):
        return value  # the services read Shopify's GIDs themselves
    return None
