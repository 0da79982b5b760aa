"""The webhook topics we accept, by family."""

from __future__ import annotations

ORDERS_CREATE = "orders/create"
ORDERS_UPDATED = "orders/updated"
APP_UNINSTALLED = "app/uninstalled"
APP_SCOPES_UPDATE = "app/scopes_update"
CUSTOMERS_DATA_REQUEST = "customers/data_request"
CUSTOMERS_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
# Returns changed by staff in Shopify admin (or echoes of our own mirror calls).
RETURNS_REQUEST = "returns/request"
RETURNS_APPROVE = "returns/approve"
RETURNS_DECLINE = "returns/decline"
RETURNS_CANCEL = "returns/cancel"
RETURNS_CLOSE = "returns/close"
RETURNS_REOPEN = "returns/reopen"
RETURNS_PROCESS = "returns/process"
# A refund made in Shopify (by staff, or our own `returnProcess`): recorded on its return here.
REFUNDS_CREATE = "refunds/create"

ORDER_TOPICS = frozenset({ORDERS_CREATE, ORDERS_UPDATED})
COMPLIANCE_TOPICS = frozenset({CUSTOMERS_DATA_REQUEST, CUSTOMERS_REDACT, SHOP_REDACT})
RETURN_TOPICS = frozenset(
    {
        RETURNS_REQUEST,
        RETURNS_APPROVE,
        RETURNS_DECLINE,
        RETURNS_CANCEL,
        RETURNS_CLOSE,
        RETURNS_REOPEN,
        RETURNS_PROCESS,
    }
)
WEBHOOK_TOPICS = frozenset(
    {
        *ORDER_TOPICS,
        APP_UNINSTALLED,
        APP_SCOPES_UPDATE,
        *COMPLIANCE_TOPICS,
        *RETURN_TOPICS,
        REFUNDS_CREATE,
    }
)
