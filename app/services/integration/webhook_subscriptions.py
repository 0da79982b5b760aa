"""The shop's webhook subscriptions for this app: registered, repaired, read back live.

Subscriptions are listed per app, so every one Shopify returns is ours: one pointing at an
address other than `settings.webhook_address(topic)` (an old APP_URL) is moved to the right
address (`webhookSubscriptionUpdate`), and duplicates of a topic are deleted.
Compliance topics are configured in the app's settings at Shopify, not registered here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

from app.clock import utcnow
from app.config import Settings
from app.models import ShopifyIntegration
from app.models.bson import to_bson
from app.models.integration import IntegrationStatus, WebhookSubscriptionRecord
from app.services.integration.session import admin_client_for
from app.shopify.client import ShopifyAdminClient
from app.shopify.documents.webhooks import (
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTION_DELETE,
    WEBHOOK_SUBSCRIPTION_UPDATE,
    WEBHOOK_SUBSCRIPTIONS,
)
from app.shopify.errors import ShopifyError, raise_for_user_errors
from app.shopify.pagination import paginate

logger = logging.getLogger(__name__)

WEBHOOK_TOPICS = (
    "orders/create",
    "orders/updated",
    "app/uninstalled",
    # Returns staff handle in Shopify admin reach us (`handlers/returns.py`).
    "returns/request",
    "returns/approve",
    "returns/decline",
    "returns/cancel",
    "returns/close",
    "returns/reopen",
    "returns/process",
    # Refunds made on those returns (staff refunding in admin) are recorded on ours.
    "refunds/create",
)
_ENUM_TO_TOPIC = {topic.upper().replace("/", "_"): topic for topic in WEBHOOK_TOPICS}


def topic_enum(topic: str) -> str:
    """`orders/create` -> `ORDERS_CREATE` (Shopify's WebhookSubscriptionTopic)."""
    return topic.upper().replace("/", "_")


def topic_from_enum(value: str) -> str:
    """`ORDERS_CREATE` -> `orders/create` (first underscore is the slash for unknown topics)."""
    return _ENUM_TO_TOPIC.get(value) or value.lower().replace("_", "/", 1)


@dataclass(frozen=True, slots=True)
class LiveSubscription:
    topic: str  # "orders/create"
    address: str
    shopify_id: str


@dataclass(frozen=True, slots=True)
class WebhookIssue:
    topic: str | None  # None: the whole operation failed (e.g. the list could not be read)
    message: str


@dataclass
class WebhookReport:
    """What `ensure_webhook_subscriptions` did; `subscriptions` is what is now recorded."""

    subscriptions: list[WebhookSubscriptionRecord] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[WebhookIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str | None:
        if not self.errors:
            return None
        return "; ".join(f"{e.topic or 'webhooks'}: {e.message}" for e in self.errors)


@dataclass(frozen=True, slots=True)
class WebhookStatusEntry:
    topic: str
    address: str
    shopify_id: str | None
    registered: bool | None  # does Shopify have it? None: unknown (the live read failed)
    address_current: bool  # points at this deployment's APP_URL


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    entries: list[WebhookStatusEntry]
    live_read: bool  # entries come from Shopify (True) or only from the stored list (False)
    error: str | None = None


def _live(node: dict[str, object]) -> LiveSubscription:
    address = node.get("callbackUrl") or node.get("uri") or ""
    return LiveSubscription(
        topic=topic_from_enum(str(node.get("topic") or "")),
        address=str(address),
        shopify_id=str(node["id"]),
    )


async def list_live_subscriptions(
    tenant_id: str,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    client: ShopifyAdminClient | None = None,
) -> list[LiveSubscription]:
    """Every subscription Shopify holds for this app and shop (raises `ShopifyError`)."""
    admin = client or await admin_client_for(tenant_id, settings, http)
    return [
        _live(node)
        async for node in paginate(
            admin, WEBHOOK_SUBSCRIPTIONS, {"first": 100}, "webhookSubscriptions"
        )
    ]


async def _create(client: ShopifyAdminClient, topic: str, address: str) -> LiveSubscription:
    data = await client.execute(
        WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic_enum(topic), "callbackUrl": address}
    )
    payload = raise_for_user_errors(data, "webhookSubscriptionCreate", shop=client.shop_domain)
    return _live(payload["webhookSubscription"])


async def _move(client: ShopifyAdminClient, shopify_id: str, address: str) -> LiveSubscription:
    data = await client.execute(
        WEBHOOK_SUBSCRIPTION_UPDATE, {"id": shopify_id, "callbackUrl": address}
    )
    payload = raise_for_user_errors(data, "webhookSubscriptionUpdate", shop=client.shop_domain)
    return _live(payload["webhookSubscription"])


async def _delete(client: ShopifyAdminClient, shopify_id: str) -> None:
    data = await client.execute(WEBHOOK_SUBSCRIPTION_DELETE, {"id": shopify_id})
    raise_for_user_errors(data, "webhookSubscriptionDelete", shop=client.shop_domain)


async def _record(tenant_id: str, report: WebhookReport, keep_stored: bool) -> None:
    update: dict[str, object] = {
        "webhooks_error": report.error_text(),
        "webhooks_checked_at": utcnow(),
        "updated_at": utcnow(),
    }
    if not keep_stored:
        update["webhooks"] = [to_bson(record) for record in report.subscriptions]
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id}, {"$set": update}
    )


async def ensure_webhook_subscriptions(
    tenant_id: str, settings: Settings, http: httpx.AsyncClient
) -> WebhookReport:
    """Register `orders/create`, `orders/updated`, `app/uninstalled` at this APP_URL.

    Creates what is missing, moves subscriptions whose address no longer matches APP_URL,
    deletes duplicates, and records the result on `integrations_shopify.webhooks`. Shopify
    failures do not raise: they are in `report.errors` and on `webhooks_error`. Raises only
    `IntegrationNotConnected`. Safe to repeat.
    """
    client = await admin_client_for(tenant_id, settings, http)
    report = WebhookReport()
    try:
        live = await list_live_subscriptions(tenant_id, settings, http, client=client)
    except ShopifyError as exc:
        report.errors.append(WebhookIssue(None, f"could not list subscriptions: {exc}"))
        logger.warning("webhook registration for %s failed: %s", tenant_id, exc)
        await _record(tenant_id, report, keep_stored=True)
        return report
    now = utcnow()
    for topic in WEBHOOK_TOPICS:
        address = settings.webhook_address(topic)
        same_topic = [sub for sub in live if sub.topic == topic]
        kept = next((sub for sub in same_topic if sub.address == address), None)
        try:
            if kept is not None:
                report.unchanged.append(topic)
            elif same_topic:
                kept = await _move(client, same_topic[0].shopify_id, address)
                report.updated.append(topic)
            else:
                kept = await _create(client, topic, address)
                report.created.append(topic)
            for extra in same_topic:
                if extra.shopify_id != kept.shopify_id:
                    await _delete(client, extra.shopify_id)
                    report.deleted.append(extra.shopify_id)
        except ShopifyError as exc:
            report.errors.append(WebhookIssue(topic, str(exc)))
            logger.warning("webhook %s for %s not registered: %s", topic, tenant_id, exc)
        if kept is not None:
            report.subscriptions.append(
                WebhookSubscriptionRecord(
                    topic=topic, address=kept.address, shopify_id=kept.shopify_id, registered_at=now
                )
            )
    await _record(tenant_id, report, keep_stored=False)
    return report


async def record_webhook_failure(tenant_id: str, error: str) -> None:
    """Note on the integration why registration could not even start."""
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id},
        {
            "$set": {
                "webhooks_error": error,
                "webhooks_checked_at": utcnow(),
                "updated_at": utcnow(),
            }
        },
    )


async def webhook_status(
    integration: ShopifyIntegration, settings: Settings, http: httpx.AsyncClient | None
) -> WebhookStatus:
    """The subscriptions as Shopify has them now, or the stored list when that read fails."""

    def entry(
        topic: str, address: str, shopify_id: str | None, registered: bool | None
    ) -> WebhookStatusEntry:
        return WebhookStatusEntry(
            topic=topic,
            address=address,
            shopify_id=shopify_id,
            registered=registered,
            address_current=address == settings.webhook_address(topic),
        )

    stored = integration.webhooks
    if integration.status != IntegrationStatus.CONNECTED or not integration.access_token:
        return WebhookStatus(
            entries=[entry(r.topic, r.address, r.shopify_id, None) for r in stored],
            live_read=False,
            error=f"integration is {integration.status.value}",
        )
    if http is None:
        return WebhookStatus(
            entries=[entry(r.topic, r.address, r.shopify_id, None) for r in stored],
            live_read=False,
            error="no HTTP client for Shopify",
        )
    try:
        live = await list_live_subscriptions(integration.tenant_id, settings, http)
    except Exception as exc:  # a status read must not fail the query (Shopify down, ...)
        logger.warning("live webhook read for %s failed: %s", integration.tenant_id, exc)
        return WebhookStatus(
            entries=[entry(r.topic, r.address, r.shopify_id, None) for r in stored],
            live_read=False,
            error=f"{type(exc).__name__}: {exc}",
        )
    live_ids = {sub.shopify_id for sub in live}
    entries = [entry(sub.topic, sub.address, sub.shopify_id, True) for sub in live]
    entries += [
        entry(r.topic, r.address, r.shopify_id, False)
        for r in stored
        if r.shopify_id not in live_ids
    ]
    return WebhookStatus(entries=entries, live_read=True)


async def forget_live_subscriptions(
    tenant_id: str, settings: Settings, http: httpx.AsyncClient
) -> int:
    """Best effort, before a disconnect: delete this app's subscriptions at Shopify.

    Never raises (a disconnect must work while Shopify is unreachable); returns how many
    were deleted.
    """
    deleted = 0
    try:
        client = await admin_client_for(tenant_id, settings, http)
        for sub in await list_live_subscriptions(tenant_id, settings, http, client=client):
            await _delete(client, sub.shopify_id)
            deleted += 1
    except Exception as exc:  # Shopify down, token refused, not connected: disconnect anyway
        logger.warning("could not delete webhook subscriptions of %s: %s", tenant_id, exc)
    return deleted
