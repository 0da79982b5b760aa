"""GraphQL types of the Shopify integration. No token (or ciphertext) is ever a field."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import strawberry

from app.config import Settings
from app.graphql.core.context import Info
from app.graphql.core.errors import FIELD_DESCRIPTION
from app.models.integration import IntegrationStatus
from app.models.integration import ShopifyIntegration as IntegrationRecord
from app.services.integration.integrations import IntegrationErrorCode, missing_scopes
from app.services.integration.webhook_subscriptions import (
    WebhookStatus,
    WebhookStatusEntry,
    webhook_status,
)

IntegrationStatusEnum = strawberry.enum(
    IntegrationStatus,
    name="ShopifyIntegrationStatus",
    description="CONNECTED; UNINSTALLED (by the merchant); DISCONNECTED (by us); ERROR.",
)


IntegrationErrorCodeEnum = strawberry.enum(IntegrationErrorCode, name="IntegrationErrorCode")


@strawberry.type(description="An expected failure of an operation on the Shopify integration.")
class IntegrationUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: IntegrationErrorCodeEnum  # type: ignore[valid-type]
    message: str


@strawberry.type(description="One webhook subscription of the shop for this app.")
class ShopifyWebhookSubscription:
    topic: str = strawberry.field(description="Shopify topic, e.g. `orders/create`.")
    address: str = strawberry.field(description="Where Shopify delivers it.")
    shopify_id: strawberry.ID | None = strawberry.field(
        description="The subscription's gid at Shopify."
    )
    registered_in_shopify: bool | None = strawberry.field(
        description="Whether Shopify still has it; null when Shopify could not be asked."
    )
    address_matches_app_url: bool = strawberry.field(
        description="Whether the address points at this deployment's APP_URL."
    )

    @classmethod
    def from_entry(cls, entry: WebhookStatusEntry) -> ShopifyWebhookSubscription:
        return cls(
            topic=entry.topic,
            address=entry.address,
            shopify_id=strawberry.ID(entry.shopify_id) if entry.shopify_id else None,
            registered_in_shopify=entry.registered,
            address_matches_app_url=entry.address_current,
        )


@strawberry.type(description="The tenant's connection to its Shopify shop.")
class ShopifyIntegration:
    record: strawberry.Private[IntegrationRecord]
    settings: strawberry.Private[Settings]
    http: strawberry.Private[httpx.AsyncClient | None]
    # One live read of the subscriptions per object, shared by `webhooks` and `webhooksReadLive`.
    live: strawberry.Private[asyncio.Task[WebhookStatus] | None] = None

    @strawberry.field
    def shop(self) -> str:
        return self.record.shop_domain

    @strawberry.field
    def status(self) -> IntegrationStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field(description="Scopes Shopify granted.")
    def scopes(self) -> list[str]:
        return self.record.scopes

    @strawberry.field(
        description="Scopes the service needs that the shop does not grant (empty when none): "
        "the merchant must approve them in Shopify for sync and returns to work."
    )
    def missing_scopes(self, info: Info) -> list[str]:
        return missing_scopes(info.context.settings.shopify_scopes, self.record.scopes)

    @strawberry.field(description="Admin API version in use when the shop was connected.")
    def api_version(self) -> str:
        return self.record.api_version

    @strawberry.field
    def installed_at(self) -> datetime | None:
        return self.record.installed_at

    @strawberry.field
    def uninstalled_at(self) -> datetime | None:
        return self.record.uninstalled_at

    @strawberry.field(description="When the current access token expires (it refreshes before).")
    def token_expires_at(self) -> datetime | None:
        return self.record.expires_at

    @strawberry.field(description="The last token or Shopify error, if any.")
    def last_error(self) -> str | None:
        return self.record.last_error

    @strawberry.field(description="Why the last webhook registration failed, if it did.")
    def webhooks_error(self) -> str | None:
        return self.record.webhooks_error

    async def _status(self) -> WebhookStatus:
        if self.live is None:
            self.live = asyncio.ensure_future(webhook_status(self.record, self.settings, self.http))
        return await self.live

    @strawberry.field(
        description="Subscriptions as Shopify has them now (the stored list if Shopify cannot "
        "be asked: see `webhooksReadLive`)."
    )
    async def webhooks(self) -> list[ShopifyWebhookSubscription]:
        status = await self._status()
        return [ShopifyWebhookSubscription.from_entry(entry) for entry in status.entries]

    @strawberry.field(description="Whether `webhooks` was read live from Shopify just now.")
    async def webhooks_read_live(self) -> bool:
        return (await self._status()).live_read


@strawberry.type
class RegisterShopifyWebhooksPayload:
    webhooks: list[ShopifyWebhookSubscription] = strawberry.field(
        description="The subscriptions now registered (and recorded)."
    )
    user_errors: list[IntegrationUserError]


@strawberry.type
class DisconnectShopifyPayload:
    integration: ShopifyIntegration | None
    user_errors: list[IntegrationUserError]
