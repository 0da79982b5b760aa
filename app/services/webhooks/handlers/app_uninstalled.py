"""app/uninstalled: mark the integration uninstalled, drop its tokens, stop its sync jobs."""

from __future__ import annotations

from app.models import ShopifyIntegration, SyncJob
from app.models.integration import IntegrationStatus
from app.models.sync_job import ACTIVE_SYNC_STATUSES, SyncStatus
from app.services.webhooks.context import WebhookContext

UNINSTALLED_ERROR = "app uninstalled"


async def apply_app_uninstalled(context: WebhookContext) -> str:
    tenant_id = context.tenant_id
    integrations = ShopifyIntegration.get_pymongo_collection()
    integration = await integrations.find_one({"tenant_id": tenant_id}, {"installed_at": 1})
    installed_at = integration.get("installed_at") if integration else None
    if installed_at is not None and installed_at > context.happened_at:
        # A late delivery of an uninstall that came before the current install.
        return "ignored: the shop reinstalled the app after this event"
    now = context.now
    updated = await integrations.update_one(
        {"tenant_id": tenant_id},
        {
            "$set": {
                "status": IntegrationStatus.UNINSTALLED.value,
                "uninstalled_at": context.happened_at,
                "access_token": None,
                "refresh_token": None,
                "expires_at": None,
                "refresh_token_expires_at": None,
                "updated_at": now,
            }
        },
    )
    jobs = await SyncJob.get_pymongo_collection().update_many(
        {"tenant_id": tenant_id, "status": {"$in": [s.value for s in ACTIVE_SYNC_STATUSES]}},
        {
            "$set": {
                "status": SyncStatus.CANCELED.value,
                "error": UNINSTALLED_ERROR,
                "active": None,
                "cancel_requested": True,
                "finished_at": now,
                "updated_at": now,
            }
        },
    )
    return f"uninstalled: integration={updated.matched_count} jobs_canceled={jobs.modified_count}"
