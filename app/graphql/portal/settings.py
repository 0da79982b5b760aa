"""The merchant's side of the storefront portal: its branding (`tenant.portalSettings`)."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.errors import FIELD_DESCRIPTION, user_errors
from app.graphql.core.permissions import IsMerchant
from app.models.portal_settings import PortalSettings as PortalSettingsRecord
from app.services.portal.settings import (
    PortalErrorCode,
    PortalSettingsInput,
    update_portal_settings,
)

PortalErrorCodeEnum = strawberry.enum(PortalErrorCode, name="PortalErrorCode")


@strawberry.type(description="How the shop's returns page looks; texts are shown as plain text.")
class PortalSettings:
    record: strawberry.Private[PortalSettingsRecord]

    @strawberry.field(description="An https:// image shown at the top; null: the shop's name.")
    def logo_url(self) -> str | None:
        return self.record.logo_url

    @strawberry.field(description="`#rrggbb`; a colour too light for white text is darkened.")
    def accent_color(self) -> str:
        return self.record.accent_color

    @strawberry.field(
        description="The page's heading; null: the default, in the customer's language."
    )
    def heading(self) -> str | None:
        return self.record.heading

    @strawberry.field(description="A paragraph under the heading; null: the default.")
    def intro(self) -> str | None:
        return self.record.intro

    @strawberry.field(description="Shown once a return is requested; null: the default.")
    def confirmation_text(self) -> str | None:
        return self.record.confirmation_text


@strawberry.input(description="Fields left out keep their value; an empty string resets one.")
class UpdatePortalSettingsInput:
    logo_url: str | None = None
    accent_color: str | None = None
    heading: str | None = None
    intro: str | None = None
    confirmation_text: str | None = None


@strawberry.type(description="An expected failure of a portal settings change.")
class PortalUserError:
    field: list[str] | None = strawberry.field(description=FIELD_DESCRIPTION)
    code: PortalErrorCodeEnum  # type: ignore[valid-type]
    message: str


@strawberry.type
class UpdatePortalSettingsPayload:
    portal_settings: PortalSettings | None
    user_errors: list[PortalUserError]


@strawberry.type
class PortalSettingsMutations:
    @strawberry.mutation(
        permission_classes=[IsMerchant],
        description="Brand the storefront returns page: logo, accent colour and texts. A bad "
        "value is a user error and changes nothing.",
    )
    async def update_portal_settings(
        self, info: Info, input: UpdatePortalSettingsInput
    ) -> UpdatePortalSettingsPayload:
        settings, errors = await update_portal_settings(
            info.context.tenant_id,
            PortalSettingsInput(
                logo_url=input.logo_url,
                accent_color=input.accent_color,
                heading=input.heading,
                intro=input.intro,
                confirmation_text=input.confirmation_text,
            ),
        )
        return UpdatePortalSettingsPayload(
            portal_settings=PortalSettings(record=settings) if settings else None,
            user_errors=user_errors(errors, PortalUserError),
        )
