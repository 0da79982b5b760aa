"""app/uninstalled: confirmed with Shopify, then recorded by `integrations.mark_uninstalled`.

The body is a shop object Shopify signed once; `X-Shopify-Triggered-At` is not signed, so a
captured uninstall re-sent with a fresh timestamp would pass the "not older than the current
install" check. Shopify's own word decides instead: while a token is stored, one Admin API call
with it (`shopify_checks.stored_token_accepted`):

- the token works: the app is installed (a reinstall since, or a replay), the event is ignored;
- Shopify refuses it (401, refresh refused): the uninstall is real and is recorded, only over
  the token that was refused (a reinstall racing this keeps its new one);
- Shopify cannot be asked (down, throttling): `ShopifyUnreachable`, retried later, nothing done.

No token stored (disconnected, already uninstalled): there is nothing to ask Shopify with, and
recording the uninstall takes nothing away that a reinstall does not give back.
"""

from __future__ import annotations

import logging

from app.models import ShopifyIntegration
from app.models.integration import IntegrationStatus
from app.services.integration.integrations import mark_uninstalled
from app.services.integration.session import IntegrationNotConnected
from app.services.webhooks.context import WebhookContext
from app.services.webhooks.shopify_checks import stored_token_accepted

logger = logging.getLogger("app.webhooks")

STALE_UNINSTALL = "ignored: Shopify still accepts the stored token (a stale or replayed uninstall)"


async def apply_app_uninstalled(context: WebhookContext) -> str:
    tenant_id = context.tenant_id
    current = await ShopifyIntegration.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id}, {"status": 1, "access_token": 1}
    )
    refused_token = None
    if (
        current is not None
        and current.get("status") == IntegrationStatus.CONNECTED.value
        and current.get("access_token")
    ):
        try:
            if await stored_token_accepted(context):
                logger.warning(
                    "app/uninstalled ignored: the shop's token still works",
                    extra={"tenant_id": tenant_id, "event_id": context.event.get("event_id")},
                )
                return STALE_UNINSTALL
            refused_token = str(current["access_token"])
        except IntegrationNotConnected:
            pass  # changed meanwhile (uninstalled, disconnected): nothing left to confirm
    result = await mark_uninstalled(tenant_id, at=context.happened_at, token=refused_token)
    return result.describe()
