"""Tenant documents in the old system's shape (`id`, `shop_domain`, `name`, `created_at`, an
ObjectId `_id`, no `tenant_id`) read correctly: `rms db migrate` re-keys them, and until then a
request never fails as a whole on them."""

from __future__ import annotations

import httpx
from bson import ObjectId

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.migrations.runner import MigrationRunner
from app.models import Tenant
from app.services.auth import make_session_token
from app.services.tenants import get_tenant, list_tenants
from tests.factories import graphql

SHOP = "legacy.myshopify.com"
TENANT_ID = "tenant-legacy"
QUERY = "{ tenant { id shopDomain name returnPolicy { windowDays } } }"


async def _old_tenant(db: Database) -> ObjectId:
    oid = ObjectId()
    await db.db["tenants"].insert_one(
        {"_id": oid, "id": TENANT_ID, "shop_domain": SHOP, "name": "Legacy", "created_at": utcnow()}
    )
    return oid


async def test_a_session_token_of_an_old_tenant_is_served_not_a_500(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    await _old_tenant(db)
    headers = {"Authorization": f"Bearer {make_session_token(settings, SHOP)}"}
    before = await graphql(client, QUERY, None, headers)
    assert "errors" not in before, before  # at worst no tenant yet, never a failed request

    await MigrationRunner(db.db).migrate()

    body = await graphql(client, QUERY, None, headers)
    assert "errors" not in body, body
    assert body["data"]["tenant"]["shopDomain"] == SHOP
    assert body["data"]["tenant"]["name"] == "Legacy"
    stored = await db.db["tenants"].find_one({"shop_domain": SHOP})
    assert stored is not None
    assert (stored["_id"], stored["id"], stored["tenant_id"]) == (TENANT_ID, TENANT_ID, TENANT_ID)


async def test_migrating_old_tenants_twice_changes_nothing_more(db: Database) -> None:
    await _old_tenant(db)
    runner = MigrationRunner(db.db)
    await runner.migrate()
    first = await db.db["tenants"].find({}).to_list(None)
    await runner.rollback(runner.latest_version - 1)
    await runner.migrate()
    assert await db.db["tenants"].find({}).to_list(None) == first


async def test_an_unreadable_tenant_is_left_out_and_logged_not_raised(db: Database) -> None:
    await db.db["tenants"].insert_one(
        {"_id": "tenant-broken", "shop_domain": 7, "return_policy": "not a policy"}
    )
    assert await get_tenant("tenant-broken") is None
    assert all(t.id != "tenant-broken" for t in await list_tenants())
    assert await Tenant.get_pymongo_collection().count_documents({"_id": "tenant-broken"}) == 1
