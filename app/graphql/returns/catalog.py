"""The shop's Shopify catalogue for a request that creates a return (exchange variants)."""

from __future__ import annotations

from app.graphql.core.context import Info
from app.services.returns.exchange import ExchangeCatalog, ShopifyCatalog


def shopify_catalog(tenant_id: str, info: Info) -> ExchangeCatalog | None:
    """None when the process has no client for Shopify calls (nothing is then asked)."""
    http = info.context.shopify_http
    if http is None:
        return None
    return ShopifyCatalog(tenant_id, info.context.settings, http)
