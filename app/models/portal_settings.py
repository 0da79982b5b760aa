"""A tenant's storefront portal branding (`tenants.portal_settings`): safe defaults when unset."""

from __future__ import annotations

from pydantic import BaseModel

DEFAULT_ACCENT_COLOR = "#1f5fbf"  # 6.1:1 against white: buttons stay readable


class PortalSettings(BaseModel):
    logo_url: str | None = None  # https only; checked when saved
    accent_color: str = DEFAULT_ACCENT_COLOR  # `#rrggbb`
    heading: str | None = None  # None: the catalog's, in the customer's language
    intro: str | None = None
    confirmation_text: str | None = None
