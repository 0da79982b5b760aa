"""Tenants: creation, lookup, policy."""

from __future__ import annotations

from beanie import SortDirection

from app.clock import utcnow
from app.models import Tenant
from app.models.bson import to_bson
from app.models.return_policy import ReturnPolicy
from app.models.tenant import tenant_id_for_shop
from app.services.shop_domain import normalize_shop_domain


async def get_tenant(tenant_id: str) -> Tenant | None:
    return await Tenant.get(tenant_id)


async def ensure_tenant(shop_domain: str, name: str | None = None) -> Tenant:
    """The shop's tenant, created on first sight (`tenant-<shop name>`)."""
    shop = normalize_shop_domain(shop_domain)
    tenant_id = tenant_id_for_shop(shop)
    existing = await Tenant.get(tenant_id)
    if existing is not None:
        return existing
    tenant = Tenant.new(tenant_id, shop, name or shop.split(".", 1)[0])
    await Tenant.get_pymongo_collection().update_one(
        {"_id": tenant_id},
        {"$setOnInsert": to_bson(tenant)},
        upsert=True,
    )
    found = await Tenant.get(tenant_id)
    assert found is not None
    return found


async def list_tenants() -> list[Tenant]:
    return await Tenant.find({}).sort([("_id", SortDirection.ASCENDING)]).to_list()


async def update_return_policy(tenant_id: str, policy: ReturnPolicy) -> Tenant | None:
    collection = Tenant.get_pymongo_collection()
    result = await collection.update_one(
        {"_id": tenant_id},
        {"$set": {"return_policy": to_bson(policy), "updated_at": utcnow()}},
    )
    if result.matched_count == 0:
        return None
    return await Tenant.get(tenant_id)
