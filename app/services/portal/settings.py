"""A tenant's portal branding: checked when saved, so the page never renders a bad value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.clock import utcnow
from app.models import Tenant
from app.models.bson import to_bson
from app.models.portal_settings import PortalSettings
from app.services.portal.page import logo_origin
from app.services.portal.shops import forget
from app.services.user_errors import UserFacingError

MAX_TEXT_LENGTH = 500
MAX_URL_LENGTH = 2048
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class PortalErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_URL = "INVALID_URL"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"


class PortalUserError(UserFacingError[PortalErrorCode]):
    """An expected failure of a portal settings change."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class PortalSettingsInput:
    """What to change; None leaves a field as it is, "" resets it to the default."""

    logo_url: str | None = None
    accent_color: str | None = None
    heading: str | None = None
    intro: str | None = None
    confirmation_text: str | None = None


def _check(given: PortalSettingsInput) -> list[PortalUserError]:
    errors: list[PortalUserError] = []
    if given.logo_url:
        url = given.logo_url.strip()
        if len(url) > MAX_URL_LENGTH or logo_origin(url) is None:
            errors.append(
                PortalUserError(
                    ["logo_url"],
                    PortalErrorCode.INVALID_URL,
                    "The logo must be an https:// address of a named host (at most 2,048 "
                    "characters).",
                )
            )
    if given.accent_color and not _HEX_COLOR.fullmatch(given.accent_color.strip()):
        errors.append(
            PortalUserError(
                ["accent_color"], PortalErrorCode.INVALID, "A colour like #1f5fbf (six hex digits)."
            )
        )
    for name in ("heading", "intro", "confirmation_text"):
        text = getattr(given, name)
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            errors.append(
                PortalUserError(
                    [name], PortalErrorCode.TOO_LONG, f"At most {MAX_TEXT_LENGTH} characters."
                )
            )
    return errors


def _applied(current: PortalSettings, given: PortalSettingsInput) -> PortalSettings:
    changed = current.model_copy()
    if given.logo_url is not None:
        changed.logo_url = given.logo_url.strip() or None
    if given.accent_color is not None:
        changed.accent_color = given.accent_color.strip().lower() or PortalSettings().accent_color
    for name in ("heading", "intro", "confirmation_text"):
        text = getattr(given, name)
        if text is not None:
            setattr(changed, name, text.strip() or None)
    return changed


async def update_portal_settings(
    tenant_id: str, given: PortalSettingsInput
) -> tuple[PortalSettings | None, list[PortalUserError]]:
    """Change the tenant's portal branding; any bad value is a user error and changes nothing.
    Texts are stored as typed: the page renders them as text, never as markup."""
    if errors := _check(given):
        return None, errors
    tenant = await Tenant.find_one({"_id": tenant_id})
    if tenant is None:
        return None, [PortalUserError(["tenant"], PortalErrorCode.NOT_FOUND, "No such shop.")]
    settings = _applied(tenant.portal_settings, given)
    await Tenant.get_pymongo_collection().update_one(
        {"_id": tenant_id},
        {"$set": {"portal_settings": to_bson(settings), "updated_at": utcnow()}},
    )
    forget(tenant.shop_domain)
    return settings, []
