"""The Shopify integration: status, webhook repair, disconnect. Merged by app/graphql/schema.py."""

from __future__ import annotations

import logging

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.permissions import IsMerchant
from app.graphql.integration.types import (
    DisconnectShopifyPayload,
    IntegrationUserError,
    RegisterShopifyWebhooksPayload,
    ShopifyIntegration,
    ShopifyWebhookSubscription,
)
from app.http.database_deadline import beyond_request_deadline
from app.models.integration import ShopifyIntegration as IntegrationRecord
from app.services.integration.integrations import (
    IntegrationErrorCode,
    disconnect_integration,
    get_integration,
)
from app.services.integration.session import IntegrationNotConnected
from app.services.integration.webhook_subscriptions import (
    WebhookStatusEntry,
    ensure_webhook_subscriptions,
    forget_live_subscriptions,
)

logger = logging.getLogger(__name__)


def _integration(info: Info, record: IntegrationRecord) -> ShopifyIntegration:
    return ShopifyIntegration(
        record=record, settings=info.context.settings, http=info.context.shopify_http
    )


def _not_connected(error: IntegrationNotConnected) -> IntegrationUserError:
    return IntegrationUserError(
        field=None,
        code=IntegrationErrorCode.NOT_CONNECTED,
        message=f"The shop is not connected ({error.status or 'never installed'}): "
        "install the app again.",
    )


@strawberry.type
class IntegrationQueries:
    @strawberry.field(
        permission_classes=[IsMerchant],
        description="The caller's Shopify connection (null before the first install).",
    )
    async def shopify_integration(self, info: Info) -> ShopifyIntegration | None:
        record = await get_integration(info.context.tenant_id)
        return _integration(info, record) if record else None


@strawberry.type
class IntegrationMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Register the order and uninstall webhooks again, moving any whose address "
        "no longer matches APP_URL.",
    )
    async def register_shopify_webhooks(self, info: Info) -> RegisterShopifyWebhooksPayload:
        settings = info.context.settings
        http = info.context.shopify_http
        if http is None:
            raise RuntimeError("no Shopify HTTP client in this request")
        try:
            report = await beyond_request_deadline(
                ensure_webhook_subscriptions(info.context.tenant_id, settings, http)
            )
        except IntegrationNotConnected as error:
            return RegisterShopifyWebhooksPayload(webhooks=[], user_errors=[_not_connected(error)])
        webhooks = [
            ShopifyWebhookSubscription.from_entry(
                WebhookStatusEntry(
                    topic=r.topic,
                    address=r.address,
                    shopify_id=r.shopify_id,
                    registered=True,
                    address_current=r.address == settings.webhook_address(r.topic),
                )
            )
            for r in report.subscriptions
        ]
        user_errors = [
            IntegrationUserError(
                field=None if issue.topic is None else ["topic", issue.topic],
                code=IntegrationErrorCode.WEBHOOK_REGISTRATION_FAILED,
                message=issue.message,
            )
            for issue in report.errors
        ]
        return RegisterShopifyWebhooksPayload(webhooks=webhooks, user_errors=user_errors)

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Stop using the shop: status DISCONNECTED, stored tokens dropped. The "
        "webhook subscriptions are deleted at Shopify first when it can be reached.",
    )
    async def disconnect_shopify(self, info: Info) -> DisconnectShopifyPayload:
        tenant_id = info.context.tenant_id
        record = await get_integration(tenant_id)
        if record is None:
            return DisconnectShopifyPayload(
                integration=None,
                user_errors=[_not_connected(IntegrationNotConnected(tenant_id))],
            )
        http = info.context.shopify_http

        async def forget_then_disconnect() -> IntegrationRecord | None:
            if http is not None:
                await forget_live_subscriptions(tenant_id, info.context.settings, http)
            return await disconnect_integration(tenant_id)

        disconnected = await beyond_request_deadline(forget_then_disconnect())
        return DisconnectShopifyPayload(
            integration=_integration(info, disconnected) if disconnected else None,
            user_errors=[],
        )
