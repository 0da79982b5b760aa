"""Per-request context handed to the simulator's resolvers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from .models import ShopState
    from .state import SimState
    from .webhooks import WebhookDispatcher


@dataclass
class ResolveContext:
    state: SimState
    shop: ShopState
    api_version: str
    base_url: str
    schema: GraphQLSchema
    dispatcher: WebhookDispatcher
    bulk: bool = False
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scopes: frozenset[str] = frozenset()  # the calling token's access scopes

    def has_any_scope(self, wanted: tuple[str, ...]) -> bool:
        """Whether the token holds one of `wanted`; as on Shopify, `write_x` grants `read_x`."""
        implied = {
            "read_" + s.removeprefix("write_") for s in self.scopes if s.startswith("write_")
        }
        return any(scope in self.scopes or scope in implied for scope in wanted)

    def schedule(self, event: tuple[str, dict[str, Any]]) -> None:
        """Queue a webhook event; the endpoint emits it once the operation has executed."""
        self.events.append(event)
