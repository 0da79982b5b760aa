"""app/scopes_update: the scopes the shop grants the app changed (a new app version asked for
more and the merchant approved, or some were taken away). The body lists them, but no header
binds a body to its shop, so the handler asks Shopify for the scopes granted now
(`shopify_checks.granted_scopes`) and stores those: a replayed body, or one re-sent under another
shop's header, can only store the truth. Scopes the service needs but no longer has are logged
as a warning and shown as `shopifyIntegration.missingScopes`."""

from __future__ import annotations

import logging

from app.models import ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration.integrations import missing_scopes
from app.services.integration.session import IntegrationNotConnected
from app.services.webhooks.context import WebhookContext
from app.services.webhooks.shopify_checks import StoredTokenRefused, granted_scopes

logger = logging.getLogger("app.webhooks")

NOT_CONNECTED = "ignored: the shop is not connected"


async def apply_scopes_update(context: WebhookContext) -> str:
    tenant_id = context.tenant_id
    try:
        scopes = await granted_scopes(context)
    except (IntegrationNotConnected, StoredTokenRefused):
        return NOT_CONNECTED
    # Written only when it changes, so a replay leaves the document as it was.
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {
            "tenant_id": tenant_id,
            "status": IntegrationStatus.CONNECTED.value,
            "scopes": {"$ne": scopes},
        },
        {"$set": {"scopes": scopes, "updated_at": context.now}},
    )
    missing = missing_scopes(context.settings.shopify_scopes, scopes)
    if missing:
        logger.warning(
            "app/scopes_update: the shop no longer grants scopes the service needs",
            extra={"tenant_id": tenant_id, "missing_scopes": missing},
        )
        return f"scopes {','.join(scopes)}; missing required: {', '.join(missing)}"
    return f"scopes {','.join(scopes)}"
