"""What the body of each webhook topic looks like, so a body cannot be re-sent under another topic.

Shopify's HMAC covers the body, not `X-Shopify-Topic`: whoever holds one captured delivery can
post its body to any route with any topic header. What stops that is the body itself, which
says what it is. Each topic below names the fields its body must carry (with their types) and the
fields that mark the other topics' bodies, which it must not carry:

| topic | must carry | marks it |
| --- | --- | --- |
| `orders/create`, `orders/updated` | `id`, `admin_graphql_api_id` (`gid://shopify/Order/<id>`), `line_items`, `created_at`, `updated_at` | `admin_graphql_api_id`, `line_items` |
| `app/uninstalled` (a shop object) | `id`, `myshopify_domain` | `myshopify_domain` |
| `customers/data_request` | `shop_id`, `shop_domain`, `customer`, `orders_requested`, `data_request` | `orders_requested`, `data_request` |
| `customers/redact` | `shop_id`, `shop_domain`, `customer`, `orders_to_redact` | `orders_to_redact` |
| `shop/redact` | `shop_id`, `shop_domain` | neither a customer nor orders |
| `app/scopes_update` | `previous`, `current` (lists of scopes) | no `shop_domain`, customer or orders |
| `returns/*` | `id`, `admin_graphql_api_id` (`gid://shopify/Return/<id>`) | a Return GID, no `line_items` |
| `refunds/create` | `id`, `admin_graphql_api_id` (`gid://shopify/Refund/<id>`), `order_id`, `transactions`; `return` null or naming a Return GID | a Refund GID, no `line_items` |

Every pair of topics is told apart by one of these, except `orders/create` and `orders/updated`:
their bodies are the same order object and they run the same newer-wins upsert, so one sent as
the other changes nothing; and the `returns/*` topics, whose bodies are the same return object:
their handler reads the return's status from Shopify rather than from the topic, so one sent as
another applies only what Shopify shows. Fields not named here are allowed (Shopify adds fields over time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.services.webhooks.topics import (
    APP_SCOPES_UPDATE,
    APP_UNINSTALLED,
    CUSTOMERS_DATA_REQUEST,
    CUSTOMERS_REDACT,
    ORDERS_CREATE,
    ORDERS_UPDATED,
    REFUNDS_CREATE,
    RETURN_TOPICS,
    SHOP_REDACT,
)

ORDER_GID_PREFIX = "gid://shopify/Order/"
RETURN_GID_PREFIX = "gid://shopify/Return/"
REFUND_GID_PREFIX = "gid://shopify/Refund/"


class PayloadShapeMismatch(ValueError):
    """The body is not what the topic's payload looks like (400, before anything is stored)."""


def _numeric_id(value: Any) -> bool:
    """Shopify's REST ids are positive JSON integers."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _list(value: Any) -> bool:
    return isinstance(value, list)


def _customer(value: Any) -> bool:
    """`{id, email, phone}`: an object naming the customer by id or email."""
    return isinstance(value, Mapping) and (
        _numeric_id(value.get("id")) or _text(value.get("email"))
    )


def _data_request(value: Any) -> bool:
    return isinstance(value, Mapping) and _numeric_id(value.get("id"))


Check = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class PayloadShape:
    required: Mapping[str, tuple[Check, str]]  # field -> (check, what it must be)
    forbidden: frozenset[str]  # fields that mark another topic's body
    cross_check: Callable[[Mapping[str, Any]], str | None] | None = None  # a rule across fields

    def problem(self, payload: Mapping[str, Any]) -> str | None:
        """Why `payload` does not fit, or None."""
        for name, (check, expected) in self.required.items():
            if name not in payload:
                return f"missing `{name}`"
            if not check(payload[name]):
                return f"`{name}` must be {expected}"
        present = sorted(self.forbidden & payload.keys())
        if present:
            return f"carries `{present[0]}`, a field of another topic's payload"
        return self.cross_check(payload) if self.cross_check is not None else None


def _order_gid_matches_id(payload: Mapping[str, Any]) -> str | None:
    if payload["admin_graphql_api_id"] != f"{ORDER_GID_PREFIX}{payload['id']}":
        return "`admin_graphql_api_id` does not name the order `id`"
    return None


def _return_gid_matches_id(payload: Mapping[str, Any]) -> str | None:
    if payload["admin_graphql_api_id"] != f"{RETURN_GID_PREFIX}{payload['id']}":
        return "`admin_graphql_api_id` does not name the return `id`"
    return None


def _refund_gids_match(payload: Mapping[str, Any]) -> str | None:
    if payload["admin_graphql_api_id"] != f"{REFUND_GID_PREFIX}{payload['id']}":
        return "`admin_graphql_api_id` does not name the refund `id`"
    linked = payload.get("return")
    if linked is None:
        return None
    if not isinstance(linked, Mapping) or not str(
        linked.get("admin_graphql_api_id") or ""
    ).startswith(RETURN_GID_PREFIX):
        return "`return` must be null or name a Return GID"
    return None


_ORDER_MARKS = frozenset({"admin_graphql_api_id", "line_items"})
_SHOP_MARKS = frozenset({"myshopify_domain"})
_COMPLIANCE_ENVELOPE = frozenset({"shop_id", "shop_domain"})
_DATA_REQUEST_MARKS = frozenset({"orders_requested", "data_request"})
_REDACT_MARKS = frozenset({"orders_to_redact"})

_ORDER = PayloadShape(
    required={
        "id": (_numeric_id, "a positive integer"),
        "admin_graphql_api_id": (_text, "an Order GID"),
        "line_items": (_list, "a list"),
        "created_at": (_text, "a timestamp"),
        "updated_at": (_text, "a timestamp"),
    },
    forbidden=_SHOP_MARKS | _COMPLIANCE_ENVELOPE | _DATA_REQUEST_MARKS | _REDACT_MARKS,
    cross_check=_order_gid_matches_id,
)
_SHOP = PayloadShape(
    required={
        "id": (_numeric_id, "a positive integer"),
        "myshopify_domain": (_text, "a shop domain"),
    },
    forbidden=_ORDER_MARKS
    | _COMPLIANCE_ENVELOPE
    | _DATA_REQUEST_MARKS
    | _REDACT_MARKS
    | {"customer"},
)
_ENVELOPE: dict[str, tuple[Check, str]] = {
    "shop_id": (_numeric_id, "a positive integer"),
    "shop_domain": (_text, "a shop domain"),
}
_DATA_REQUEST = PayloadShape(
    required={
        **_ENVELOPE,
        "customer": (_customer, "an object with the customer's id or email"),
        "orders_requested": (_list, "a list"),
        "data_request": (_data_request, "an object with an `id`"),
    },
    forbidden=_ORDER_MARKS | _SHOP_MARKS | _REDACT_MARKS,
)
_CUSTOMERS_REDACT = PayloadShape(
    required={
        **_ENVELOPE,
        "customer": (_customer, "an object with the customer's id or email"),
        "orders_to_redact": (_list, "a list"),
    },
    forbidden=_ORDER_MARKS | _SHOP_MARKS | _DATA_REQUEST_MARKS,
)
_SHOP_REDACT = PayloadShape(
    required=_ENVELOPE,
    forbidden=_ORDER_MARKS | _SHOP_MARKS | _DATA_REQUEST_MARKS | _REDACT_MARKS | {"customer"},
)

_SCOPES_UPDATE = PayloadShape(
    required={"previous": (_list, "a list of scopes"), "current": (_list, "a list of scopes")},
    forbidden=_ORDER_MARKS
    | _SHOP_MARKS
    | _DATA_REQUEST_MARKS
    | _REDACT_MARKS
    | {"customer", "shop_domain"},
)

# Returns and refunds (told apart by their GIDs) carry none of the others' fields.
_RETURN_AND_REFUND_MARKS = (
    frozenset({"line_items"})
    | _SHOP_MARKS
    | _COMPLIANCE_ENVELOPE
    | _DATA_REQUEST_MARKS
    | _REDACT_MARKS
)
_RETURN = PayloadShape(
    required={
        "id": (_numeric_id, "a positive integer"),
        "admin_graphql_api_id": (_text, "a Return GID"),
    },
    forbidden=_RETURN_AND_REFUND_MARKS,
    cross_check=_return_gid_matches_id,
)

_REFUND = PayloadShape(
    required={
        "id": (_numeric_id, "a positive integer"),
        "admin_graphql_api_id": (_text, "a Refund GID"),
        "order_id": (_numeric_id, "a positive integer"),
        "transactions": (_list, "a list"),
    },
    forbidden=_RETURN_AND_REFUND_MARKS,
    cross_check=_refund_gids_match,
)

PAYLOAD_SHAPES: dict[str, PayloadShape] = {
    ORDERS_CREATE: _ORDER,
    ORDERS_UPDATED: _ORDER,
    APP_UNINSTALLED: _SHOP,
    CUSTOMERS_DATA_REQUEST: _DATA_REQUEST,
    CUSTOMERS_REDACT: _CUSTOMERS_REDACT,
    SHOP_REDACT: _SHOP_REDACT,
    APP_SCOPES_UPDATE: _SCOPES_UPDATE,
    **dict.fromkeys(RETURN_TOPICS, _RETURN),
    REFUNDS_CREATE: _REFUND,
}


def check_payload_shape(topic: str, payload: Mapping[str, Any]) -> None:
    """Raise `PayloadShapeMismatch` unless `payload` is what a `topic` delivery carries."""
    shape = PAYLOAD_SHAPES.get(topic)
    if shape is None:  # every accepted topic has a shape; a new one must add its own
        raise PayloadShapeMismatch(f"no payload shape is known for {topic!r}")
    problem = shape.problem(payload)
    if problem is not None:
        raise PayloadShapeMismatch(f"the body is not what {topic} sends: {problem}")
