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
    now = context.now
    # The install-time condition is in the write itself: a reinstall landing between a read
    # and the write would otherwise lose its new tokens.
    updated = await integrations.update_one(
        {
            "tenant_id": tenant_id,
            "$or": [{"installed_at": None}, {"installed_at": {"$lte": context.happened_at}}],
        },
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
    if (
        updated.matched_count == 0
        and await integrations.find_one({"tenant_id": tenant_id}, {"_id": 1}) is not None
    ):
        # A late delivery of an uninstall that came before the current install.
        return "ignored: the shop reinstalled the app after this event"
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
