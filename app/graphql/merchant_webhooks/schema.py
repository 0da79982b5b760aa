"""Merchants' webhook endpoints: create, list, update, delete, rotate the secret; the delivery
log and its replay."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import user_errors
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.merchant_webhooks.types import (
    DeleteWebhookEndpointPayload,
    NotificationUserError,
    ReplayWebhookDeliveryPayload,
    WebhookDelivery,
    WebhookDeliveryStatusEnum,
    WebhookEndpoint,
    WebhookEndpointPayload,
    WebhookEndpointSecretPayload,
    WebhookEndpointTopic,
)
from app.services.notifications.delivery import ReplayRefused, list_deliveries, replay_delivery
from app.services.notifications.endpoints import (
    EndpointInput,
    EndpointResult,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    rotate_secret,
    update_endpoint,
)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where to POST: https:// (loopback http:// too outside production)."
    )
    topics: list[WebhookEndpointTopic]
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = None
    topics: list[WebhookEndpointTopic] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None,
        description="true: enable it (again, after it was disabled); false: stop sending to "
        "it (what falls due meanwhile fails: replay it once enabled).",
    )


def _service_input(
    url: str | None,
    topics: list[WebhookEndpointTopic] | None,
    description: str | None,
    enabled: bool | None = None,
) -> EndpointInput:
    return EndpointInput(
        url=url,
        topics=None if topics is None else [topic.value for topic in topics],
        description=description,
        enabled=enabled,
    )


def _payload(result: EndpointResult) -> WebhookEndpointPayload:
    return WebhookEndpointPayload(
        webhook_endpoint=WebhookEndpoint(record=result.endpoint) if result.endpoint else None,
        user_errors=user_errors(result.user_errors, NotificationUserError),
    )


def _secret_payload(result: EndpointResult) -> WebhookEndpointSecretPayload:
    return WebhookEndpointSecretPayload(
        webhook_endpoint=WebhookEndpoint(record=result.endpoint) if result.endpoint else None,
        secret=result.secret,
        user_errors=user_errors(result.user_errors, NotificationUserError),
    )


@strawberry.type
class MerchantWebhookQueries:
    @strawberry.field(
        permission_classes=[IsMerchant], description="The shop's webhook endpoints, newest first."
    )
    async def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WebhookEndpoint]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_endpoints(info.context.tenant_id, request)
        return Connection[WebhookEndpoint].from_page(
            page, lambda record: WebhookEndpoint(record=record)
        )

    @strawberry.field(permission_classes=[IsMerchant], description="One webhook endpoint.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
        record = await get_endpoint(info.context.tenant_id, argument_id(id, "WebhookEndpoint"))
        return WebhookEndpoint(record=record) if record else None

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Messages sent to the shop's endpoints, newest first, with their attempts.",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        endpoint_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> Connection[WebhookDelivery]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_deliveries(
            info.context.tenant_id,
            request,
            endpoint_id=None
            if endpoint_id is None
            else argument_id(endpoint_id, "WebhookEndpoint"),
            status=status,
        )
        return Connection[WebhookDelivery].from_page(
            page, lambda record: WebhookDelivery(record=record)
        )


@strawberry.type
class MerchantWebhookMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Subscribe a system of the merchant's to return events; the answer shows "
        "its signing secret, this once.",
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointSecretPayload:
        result = await create_endpoint(
            info.context.tenant_id,
            _service_input(input.url, input.topics, input.description),
            info.context.settings,
        )
        return _secret_payload(result)

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Change an endpoint's URL, topics or description, or enable/disable it.",
    )
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        result = await update_endpoint(
            info.context.tenant_id,
            argument_id(id, "WebhookEndpoint"),
            _service_input(input.url, input.topics, input.description, input.enabled),
            info.context.settings,
        )
        return _payload(result)

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Delete an endpoint; what it had still to receive is not sent.",
    )
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> DeleteWebhookEndpointPayload:
        result = await delete_endpoint(info.context.tenant_id, argument_id(id, "WebhookEndpoint"))
        return DeleteWebhookEndpointPayload(
            deleted_webhook_endpoint_id=id if result.endpoint else None,
            user_errors=user_errors(result.user_errors, NotificationUserError),
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="A new signing secret, shown this once; the previous one keeps signing "
        "beside it for 24 hours, so receivers can switch over.",
    )
    async def rotate_webhook_endpoint_secret(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointSecretPayload:
        result = await rotate_secret(
            info.context.tenant_id, argument_id(id, "WebhookEndpoint"), info.context.settings
        )
        return _secret_payload(result)

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Send a delivered or failed message again, now (same body and webhook-id).",
    )
    async def replay_webhook_delivery(
        self, info: Info, id: strawberry.ID
    ) -> ReplayWebhookDeliveryPayload:
        try:
            record = await replay_delivery(
                info.context.tenant_id, argument_id(id, "WebhookDelivery")
            )
        except ReplayRefused as exc:
            return ReplayWebhookDeliveryPayload(
                webhook_delivery=None,
                user_errors=[NotificationUserError(field=["id"], code=exc.code, message=str(exc))],
            )
        return ReplayWebhookDeliveryPayload(
            webhook_delivery=WebhookDelivery(record=record), user_errors=[]
        )
