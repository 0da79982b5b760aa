"""What the portal's page shell needs of a shop, cached in the process for a few seconds.

The shell is served on every visit to a shop's returns page; the tenant read was four fifths of
its time (`rms bench --only portal`). What it reads is the shop's name, language and branding,
none of it about a customer: a change made in another process (`updatePortalSettings`, an
uninstall) shows here within `TTL_SECONDS`; in this process at once (`forget`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.models import Tenant
from app.models.portal_settings import PortalSettings
from app.models.tenant import tenant_id_for_shop

TTL_SECONDS = 5.0
MAX_SHOPS = 2048  # only shops that exist are kept; the oldest entry goes first past this


@dataclass(frozen=True, slots=True)
class PortalShop:
    tenant_id: str
    shop_domain: str
    name: str
    locale: str  # the shop's language (its emails'), used when the customer's is not offered
    branding: PortalSettings


_cache: dict[str, tuple[float, PortalShop]] = {}


async def portal_shop(shop_domain: str) -> PortalShop | None:
    """The shop of a normalized domain, or None when no tenant has it."""
    now = time.monotonic()
    cached = _cache.get(shop_domain)
    if cached is not None and cached[0] > now:
        return cached[1]
    tenant = await Tenant.find_one(
        {"_id": tenant_id_for_shop(shop_domain), "shop_domain": shop_domain}
    )
    if tenant is None:
        _cache.pop(shop_domain, None)
        return None
    shop = PortalShop(
        tenant_id=tenant.id,
        shop_domain=tenant.shop_domain,
        name=tenant.name,
        locale=tenant.notifications.locale,
        branding=tenant.portal_settings,
    )
    if len(_cache) >= MAX_SHOPS:
        _cache.pop(next(iter(_cache)))
    _cache[shop_domain] = (now + TTL_SECONDS, shop)
    return shop


def forget(shop_domain: str) -> None:
    """A change to the shop's portal settings: this process serves it from the next visit."""
    _cache.pop(shop_domain, None)


def forget_all() -> None:
    """Every shop (a process that switches databases: the tests)."""
    _cache.clear()
