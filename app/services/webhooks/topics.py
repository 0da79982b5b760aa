"""The webhook topics we accept, by family."""

from __future__ import annotations

ORDERS_CREATE = "orders/create"
ORDERS_UPDATED = "orders/updated"
APP_UNINSTALLED = "app/uninstalled"
APP_SCOPES_UPDATE = "app/scopes_update"
CUSTOMERS_DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"

ORDER_TOPICS = frozenset({ORDERS_CREATE, ORDERS_UPDATED})
COMPLIANCE_TOPICS = frozenset({CUSTOMERS_DATA_REQUEST, CUSTOMERS_REDACT, SHOP_REDACT})
WEBHOOK_TOPICS = frozenset({*ORDER_TOPICS, APP_UNINSTALLED, APP_SCOPES_UPDATE, *COMPLIANCE_TOPICS})
