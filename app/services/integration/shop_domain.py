"""Shopify shop domains: the only shape we accept, normalised to lower case."""

from __future__ import annotations

import re

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class InvalidShopDomain(ValueError):
    pass


def normalize_shop_domain(raw: str | None) -> str:
    """Return the lower-cased `name.myshopify.com`, or raise `InvalidShopDomain`."""
    if raw is None:
        raise InvalidShopDomain("shop is required")
    if not raw.isascii():  # Unicode case folding could map a look-alike onto a real shop
        raise InvalidShopDomain("shop must look like your-store.myshopify.com")
    shop = raw.strip().lower()
    if len(shop) > 255 or not _SHOP_DOMAIN.fullmatch(shop):
        raise InvalidShopDomain("shop must look like your-store.myshopify.com")
    return shop
