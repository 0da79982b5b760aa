"""Returns per order, one query per batch, results in key order."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from app.models import Return
from app.services.returns.queries import returns_by_order_ids


class ReturnsByOrderLoader(DataLoader[str, list[Return]]):
    def __init__(self, tenant_id: str | None) -> None:
        self._tenant_id = tenant_id
        super().__init__(load_fn=self._load)

    async def _load(self, keys: list[str]) -> list[list[Return]]:
        if self._tenant_id is None:
            return [[] for _ in keys]
        return await returns_by_order_ids(self._tenant_id, keys)
