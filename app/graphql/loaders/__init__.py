"""Per-request DataLoaders, one class per file; `Loaders` bundles them for the context."""

from __future__ import annotations

from dataclasses import dataclass

from app.graphql.loaders.order_by_shopify_id import OrderByShopifyIdLoader
from app.graphql.loaders.returns_by_order import ReturnsByOrderLoader


@dataclass(frozen=True, slots=True)
class Loaders:
    order_by_shopify_id: OrderByShopifyIdLoader
    returns_by_order: ReturnsByOrderLoader

    @classmethod
    def for_tenant(cls, tenant_id: str | None) -> Loaders:
        return cls(
            order_by_shopify_id=OrderByShopifyIdLoader(tenant_id),
            returns_by_order=ReturnsByOrderLoader(tenant_id),
        )
