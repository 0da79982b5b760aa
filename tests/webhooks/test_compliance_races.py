"""Compliance and uninstall handlers: nothing personal or shop-owned left behind, and a reinstall
racing an uninstall or shop/redact keeps its new tokens (the install check is in the write)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import Order, Return, ReturnLedger, ShopifyIntegration, Tenant
from app.models.integration import IntegrationStatus
from app.models.return_request import ReturnStatus, ReturnTransition
from app.services.integration.integrations import mark_uninstalled
from app.services.returns.ledger import ledger_collection
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import make_return, make_tenant
from tests.webhooks.helpers import ConnectedShop, shop_payload, store_event
from tools.shopify_sim import SimulatorControl

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0)
SHOP = "rms34.myshopify.com"
TENANT = "tenant-rms34"


async def _process(settings: Settings) -> int:
    return await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()


async def _integration(**fields: Any) -> None:
    await ShopifyIntegration(
        tenant_id=TENANT,
        shop_domain=SHOP,
        access_token="old-cipher",
        refresh_token="old-refresh",
        installed_at=utcnow() - timedelta(days=10),
        **fields,
    ).insert()


async def _reinstall() -> None:
    """What `connect_integration` writes for a fresh install."""
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": TENANT},
        {
            "$set": {
                "status": IntegrationStatus.CONNECTED.value,
                "access_token": "new-cipher",
                "refresh_token": "new-refresh",
                "installed_at": utcnow(),
                "uninstalled_at": None,
            }
        },
    )


class _ReinstallBeforeWrites:
    """The integrations collection, where a reinstall lands just before the first write: after
    any check the handler may have read, before its update or delete."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.reinstalled = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def _race(self) -> None:
        if not self.reinstalled:
            self.reinstalled = True
            await _reinstall()

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._race()
        return await self._inner.update_one(*args, **kwargs)

    async def update_many(self, *args: Any, **kwargs: Any) -> Any:
        await self._race()
        return await self._inner.update_many(*args, **kwargs)

    async def delete_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._race()
        return await self._inner.delete_one(*args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        await self._race()
        return await self._inner.delete_many(*args, **kwargs)


def _race_reinstall(monkeypatch: pytest.MonkeyPatch) -> _ReinstallBeforeWrites:
    racing = _ReinstallBeforeWrites(ShopifyIntegration.get_pymongo_collection())
    monkeypatch.setattr(
        ShopifyIntegration, "get_pymongo_collection", classmethod(lambda cls: racing)
    )
    return racing


async def test_an_uninstall_racing_a_reinstall_keeps_the_new_tokens(
    settings: Settings,
    shop: ConnectedShop,
    sim_control: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await sim_control.uninstall(SHOP)  # real: Shopify refuses the stored token
    await store_event(
        "app/uninstalled", shop_payload(SHOP), triggered_at=utcnow() - timedelta(minutes=1)
    )
    racing = _race_reinstall(monkeypatch)
    await _process(settings)
    monkeypatch.undo()
    assert racing.reinstalled
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None
    assert integration.status == IntegrationStatus.CONNECTED
    assert (integration.access_token, integration.refresh_token) == ("new-cipher", "new-refresh")
    assert integration.uninstalled_at is None


async def test_a_shop_redact_racing_a_reinstall_keeps_the_new_integration(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_tenant("rms34")
    await _integration(status=IntegrationStatus.UNINSTALLED)
    await store_event(
        "shop/redact",
        {"shop_id": 1, "shop_domain": SHOP},
        triggered_at=utcnow() - timedelta(minutes=1),
    )
    racing = _race_reinstall(monkeypatch)
    await _process(settings)
    monkeypatch.undo()
    assert racing.reinstalled
    integration = await ShopifyIntegration.find_one({"tenant_id": TENANT})
    assert integration is not None and integration.status == IntegrationStatus.CONNECTED
    assert (integration.access_token, integration.refresh_token) == ("new-cipher", "new-refresh")


async def test_shop_redact_deletes_the_return_ledgers(
    settings: Settings, shop: ConnectedShop
) -> None:
    await make_tenant("other")
    await store_event("orders/create", shop.order(number=1001))
    await _process(settings)
    order = await Order.find_one({"tenant_id": TENANT})
    assert order is not None
    await make_return(order)
    for tenant_id in (TENANT, "tenant-other"):
        await ledger_collection().insert_one(
            {
                "_id": f"{tenant_id}:1001",
                "tenant_id": tenant_id,
                "order_id": order.shopify_id,
                "order_number": "1001",
                "reserved": {order.line_items[0].id: 1},
                "updated_at": utcnow(),
            }
        )
    assert (await mark_uninstalled(TENANT)).changed
    await store_event("shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    await _process(settings)
    assert await Tenant.get(TENANT) is None
    assert await ReturnLedger.find({"tenant_id": TENANT}).count() == 0
    assert await ReturnLedger.find({"tenant_id": "tenant-other"}).count() == 1


async def test_customer_redaction_clears_the_free_text_notes_of_their_returns(
    settings: Settings, shop: ConnectedShop
) -> None:
    customer_id = 7_300_000_000_101
    mine = shop.order(number=1001, customer_id=customer_id, email="ada@example.com")
    other = shop.order(number=1002, email="bob@example.com")
    for payload in (mine, other):
        await store_event("orders/create", payload)
    await _process(settings)
    notes: dict[str, Any] = {}
    for payload in (mine, other):
        order = await Order.find_one({"tenant_id": TENANT, "shopify_id": str(payload["id"])})
        assert order is not None
        record = await make_return(order)
        record.items[0].note = f"call {order.email} at +1555 about the stain"
        record.history = [
            ReturnTransition(
                actor="customer", to_status=ReturnStatus.REQUESTED, note="Ada: ring my flat 3"
            ),
            ReturnTransition(actor="system", to_status=ReturnStatus.REQUESTED),
        ]
        await record.save()
        notes[str(payload["id"])] = record.id
    await store_event(
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "customer": {"id": customer_id, "email": "ada@example.com", "phone": None},
            "orders_to_redact": [mine["id"]],
        },
    )
    await _process(settings)
    redacted = await Return.get(notes[str(mine["id"])])
    assert redacted is not None and redacted.customer_email.startswith("redacted-")
    assert [item.note for item in redacted.items] == [None]
    assert [step.note for step in redacted.history] == [None, None]
    kept = await Return.get(notes[str(other["id"])])
    assert kept is not None and kept.items[0].note is not None
    assert kept.history[0].note == "Ada: ring my flat 3"
