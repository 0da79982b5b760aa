"""Returns that predate an order's ledger (imported from the old system) still count."""

from __future__ import annotations

import httpx

from app.db import Database
from tests.factories import make_return, make_tenant
from tests.returns.builders import create, line, return_input, shop_order


async def test_active_returns_from_before_the_ledger_hold_their_units(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_tenant("legacy")
    order = await shop_order(tenant.id, 1001, [line(2)])
    await make_return(order, quantity=2)  # written directly, as an import would: no ledger
    refused = await create(client, tenant.id, return_input(order))
    assert refused["return"] is None
    assert refused["userErrors"][0]["code"] == "QUANTITY_EXCEEDS_RETURNABLE"


async def test_canceling_an_imported_return_frees_its_units_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    from app.services.returns.transitions import cancel_return

    tenant = await make_tenant("legacy")
    order = await shop_order(tenant.id, 1001, [line(2)])
    imported = await make_return(order, quantity=1)
    first = await create(client, tenant.id, return_input(order))  # seeds the ledger: 1 + 1
    assert first["return"] is not None
    assert (await cancel_return(tenant.id, str(imported.id), "staff")).record is not None
    again = await create(client, tenant.id, return_input(order))  # the freed unit
    assert again["return"] is not None
    over = await create(client, tenant.id, return_input(order))
    assert over["return"] is None
