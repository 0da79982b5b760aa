"""Emails to customers and staff: the shop's switches and the log of what was sent."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.connection import Connection, checked_page_args
from app.graphql.core.context import Info
from app.graphql.core.errors import user_errors
from app.graphql.core.node import Node, argument_id, global_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.merchant_webhooks.types import (
    NotificationUserError as NotificationUserErrorType,
)
from app.graphql.merchant_webhooks.types import WebhookEndpointTopic
from app.models import EmailNotification as EmailNotificationRecord
from app.models.email_notification import EmailStatus, Recipient
from app.models.email_notification import NotificationSettings as NotificationSettingsRecord
from app.services.notifications.email import (
    NotificationSettingsInput as SettingsInput,
)
from app.services.notifications.email import (
    list_emails,
    parse_template_key,
    preview_notification,
    update_notification_settings,
    update_notification_template,
)
from app.services.tenants import get_tenant

NotificationStatusEnum = strawberry.enum(EmailStatus, name="NotificationStatus")
NotificationRecipientEnum = strawberry.enum(Recipient, name="NotificationRecipient")


@strawberry.type(description="An email about a return, to its customer or to the shop's staff.")
class Notification(Node):
    record: strawberry.Private[EmailNotificationRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("Notification", self.record.id)

    @strawberry.field
    def return_id(self) -> strawberry.ID | None:
        found = self.record.return_id
        return global_id("Return", found) if found else None

    @strawberry.field(
        description="The return event it tells of; null for one about the shop's webhook "
        "endpoints (one disabled after failing)."
    )
    def topic(self) -> WebhookEndpointTopic | None:
        found = self.record.event_type
        return WebhookEndpointTopic(found) if found else None

    @strawberry.field
    def recipient(self) -> NotificationRecipientEnum:  # type: ignore[valid-type]
        return self.record.recipient

    @strawberry.field
    def to(self) -> str:
        return self.record.to

    @strawberry.field
    def locale(self) -> str:
        return self.record.locale

    @strawberry.field
    def subject(self) -> str:
        return self.record.subject

    @strawberry.field
    def status(self) -> NotificationStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field(description="Failed attempts since it was queued (or retried).")
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field(description="The last failure, as the mail server answered.")
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def sent_at(self) -> datetime | None:
        return self.record.sent_at


@strawberry.type(description="Which return events email the customer and the staff.")
class NotificationSettings:
    record: strawberry.Private[NotificationSettingsRecord]

    @strawberry.field
    def customer_events(self) -> list[WebhookEndpointTopic]:
        return [WebhookEndpointTopic(event) for event in self.record.customer_events]

    @strawberry.field
    def staff_events(self) -> list[WebhookEndpointTopic]:
        return [WebhookEndpointTopic(event) for event in self.record.staff_events]

    @strawberry.field(description="Where staff emails go; none are sent without it.")
    def staff_email(self) -> str | None:
        return self.record.staff_email

    @strawberry.field(description="The emails' language: en or fr.")
    def locale(self) -> str:
        return self.record.locale

    @strawberry.field(description="The shop's own words, where it set them.")
    def templates(self) -> list[NotificationTemplate]:
        found = []
        for key, own in sorted(self.record.templates.items()):
            recipient, event = parse_template_key(key)
            found.append(
                NotificationTemplate(
                    topic=WebhookEndpointTopic(event),
                    recipient=recipient,
                    subject=own.subject,
                    message=own.message,
                )
            )
        return found


@strawberry.type(
    description="A shop's own subject and message for one email, in the template language: "
    "`{{ shop }}`, `{{ order }}`, `{{ reason }}`, `{{ refund }}`, `{{ store_credit }}`, "
    "`{{ method }}`, `{{ balance_due }}`, `{{ status_url }}`, the prepaid label's "
    "`{{ label_url }}`, `{{ qr_code_url }}` (box-free drop-off), `{{ carrier }}`, "
    "`{{ tracking_number }}` and `{{ tracking_url }}` (set in the label's email and the "
    "approved one once it is bought; tracking in the received one), and "
    "`{% for item in items %}{{ item.quantity }} x {{ item.title }}{% endfor %}`; a value the "
    "email does not have is null (`{% if label_url %}...{% endif %}`)."
)
class NotificationTemplate:
    topic: WebhookEndpointTopic
    recipient: NotificationRecipientEnum  # type: ignore[valid-type]
    subject: str | None
    message: str | None


@strawberry.type(description="An email as it would be sent now (nothing is sent).")
class NotificationPreview:
    subject: str
    text: str
    html: str


@strawberry.input
class UpdateNotificationTemplateInput:
    topic: WebhookEndpointTopic
    recipient: NotificationRecipientEnum  # type: ignore[valid-type]
    subject: str | None = strawberry.field(default=None, description='null or "": the standard.')
    message: str | None = strawberry.field(default=None, description='null or "": the standard.')


@strawberry.input
class UpdateNotificationSettingsInput:
    customer_events: list[WebhookEndpointTopic] | None = None
    staff_events: list[WebhookEndpointTopic] | None = None
    staff_email: str | None = strawberry.field(default=None, description='"" removes it.')
    locale: str | None = None


@strawberry.input
class NotificationFilterInput:
    status: NotificationStatusEnum | None = None  # type: ignore[valid-type]
    return_id: strawberry.ID | None = None


@strawberry.type
class UpdateNotificationSettingsPayload:
    notification_settings: NotificationSettings | None
    user_errors: list[NotificationUserErrorType]


@strawberry.type
class NotificationQueries:
    @strawberry.field(permission_classes=[IsMerchant])
    async def notification_settings(self, info: Info) -> NotificationSettings | None:
        tenant = await get_tenant(info.context.tenant_id)
        return NotificationSettings(record=tenant.notifications) if tenant else None

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Emails about the shop's returns, newest first (queued, sent or failed).",
    )
    async def notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: NotificationFilterInput | None = None,
    ) -> Connection[Notification]:
        request = checked_page_args(
            first, after, last, before, info.context.settings.graphql_max_page_size
        )
        page = await list_emails(
            info.context.tenant_id,
            request,
            status=filter.status if filter else None,
            return_id=argument_id(filter.return_id, "Return")
            if filter and filter.return_id is not None
            else None,
        )
        return Connection[Notification].from_page(page, lambda record: Notification(record=record))

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="Render an email against one of the shop's returns, as it would be sent now "
        "(with the shop's own words); nothing is sent. Null for a return the shop does not have.",
    )
    async def preview_notification(
        self,
        info: Info,
        return_id: strawberry.ID,
        topic: WebhookEndpointTopic,
        recipient: NotificationRecipientEnum = Recipient.CUSTOMER,  # type: ignore[valid-type]
    ) -> NotificationPreview | None:
        rendered = await preview_notification(
            info.context.tenant_id, argument_id(return_id, "Return"), topic.value, recipient
        )
        if rendered is None:
            return None
        return NotificationPreview(subject=rendered.subject, text=rendered.text, html=rendered.html)


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Which return events email the customer and the staff, the staff's address, "
        "and the emails' language.",
    )
    async def update_notification_settings(
        self, info: Info, input: UpdateNotificationSettingsInput
    ) -> UpdateNotificationSettingsPayload:
        tenant, errors = await update_notification_settings(
            info.context.tenant_id,
            SettingsInput(
                customer_events=None
                if input.customer_events is None
                else [topic.value for topic in input.customer_events],
                staff_events=None
                if input.staff_events is None
                else [topic.value for topic in input.staff_events],
                staff_email=input.staff_email,
                locale=input.locale,
            ),
        )
        return UpdateNotificationSettingsPayload(
            notification_settings=NotificationSettings(record=tenant.notifications)
            if tenant
            else None,
            user_errors=user_errors(errors, NotificationUserErrorType),
        )

    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="The shop's own subject and message for one email (checked now: a template "
        "that does not parse or names an unknown variable is refused, never a failed send).",
    )
    async def update_notification_template(
        self, info: Info, input: UpdateNotificationTemplateInput
    ) -> UpdateNotificationSettingsPayload:
        tenant, errors = await update_notification_template(
            info.context.tenant_id, input.recipient, input.topic.value, input.subject, input.message
        )
        return UpdateNotificationSettingsPayload(
            notification_settings=NotificationSettings(record=tenant.notifications)
            if tenant
            else None,
            user_errors=user_errors(errors, NotificationUserErrorType),
        )
