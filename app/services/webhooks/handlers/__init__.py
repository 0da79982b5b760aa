"""One handler per topic; each applies an event idempotently and says what it did."""

from __future__ import annotations

from app.services.shipping.tracking import CARRIER_TOPICS, apply_tracking_event
from app.services.webhooks.context import Handler
from app.services.webhooks.handlers.app_scopes_update import apply_scopes_update
from app.services.webhooks.handlers.app_uninstalled import apply_app_uninstalled
from app.services.webhooks.handlers.compliance import (
    customers_data_request,
    customers_redact,
    shop_redact,
)
from app.services.webhooks.handlers.orders import apply_order
from app.services.webhooks.handlers.returns import apply_refund_event, apply_return_event
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

HANDLERS: dict[str, Handler] = {
    ORDERS_CREATE: apply_order,
    ORDERS_UPDATED: apply_order,
    APP_UNINSTALLED: apply_app_uninstalled,
    APP_SCOPES_UPDATE: apply_scopes_update,
    CUSTOMERS_DATA_REQUEST: customers_data_request,
    CUSTOMERS_REDACT: customers_redact,
    SHOP_REDACT: shop_redact,
    **dict.fromkeys(RETURN_TOPICS, apply_return_event),
    REFUNDS_CREATE: apply_refund_event,
    # The carrier's tracking events ride the same queue (`services/shipping/tracking.py`).
    **dict.fromkeys(CARRIER_TOPICS, apply_tracking_event),
}

__all__ = ["HANDLERS"]
