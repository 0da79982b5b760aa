"""Orders by Shopify id, one query per batch, results in key order."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from app.models import Order
from app.services.orders.queries import orders_by_shopify_ids


class OrderByShopifyIdLoader(DataLoader[str, Order | None]):
    def __init__(self, tenant_id: str | None) -> None:
        self._tenant_id = tenant_id
        super().__init__(load_fn=self._load)

    async def _load(self, keys: list[str]) -> list[Order | None]:
        if self._tenant_id is None:
            return [None] * len(keys)
        return await orders_by_shopify_ids(self._tenant_id, keys)
