"""Tenants: creation, lookup, policy."""

from __future__ import annotations

import logging
from typing import Any

from beanie import SortDirection
from pydantic import ValidationError

from app.clock import utcnow
from app.models import Tenant
from app.models.bson import to_bson
from app.models.return_policy import ReturnPolicy
from app.models.tenant import tenant_id_for_shop
from app.services.integration.shop_domain import normalize_shop_domain

logger = logging.getLogger(__name__)


async def get_tenant(tenant_id: str) -> Tenant | None:
    """The tenant, or None when there is none or its document cannot be read (logged: one bad
    record must not fail a whole request)."""
    doc = await Tenant.get_pymongo_collection().find_one({"_id": tenant_id})
    return None if doc is None else _readable(doc)


def _readable(doc: dict[str, Any]) -> Tenant | None:
    try:
        tenant: Tenant = Tenant.model_validate(doc)
    except ValidationError as exc:
        logger.error(
            "tenant document %s cannot be read (%s errors): %s",
            doc.get("_id"),
            exc.error_count(),
            ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"]),
        )
        return None
    return tenant


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
    """Every readable tenant (an unreadable document is logged and left out)."""
    cursor = Tenant.get_pymongo_collection().find({}).sort([("_id", SortDirection.ASCENDING)])
    return [tenant async for doc in cursor if (tenant := _readable(doc)) is not None]


async def update_return_policy(tenant_id: str, policy: ReturnPolicy) -> Tenant | None:
    collection = Tenant.get_pymongo_collection()
    result = await collection.update_one(
        {"_id": tenant_id},
        {"$set": {"return_policy": to_bson(policy), "updated_at": utcnow()}},
    )
    if result.matched_count == 0:
        return None
    return await Tenant.get(tenant_id)
