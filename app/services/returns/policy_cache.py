"""Tenant return policies for the customer portal's lookups, cached in-process for a few seconds.

`lookupOrder` must cost one order find plus one ledger find, so it reads the policy from here.
A policy change made through `updateReturnPolicy` in this process is visible at once (the entry is
dropped); other processes see it within `POLICY_CACHE_SECONDS`. `createReturn` always re-reads the
policy from the database, so enforcement never uses a stale policy.
"""

from __future__ import annotations

import time

from app.models import Tenant
from app.models.return_policy import ReturnPolicy

POLICY_CACHE_SECONDS = 5.0
MAX_CACHED_TENANTS = 10_000

_cache: dict[tuple[str, str], tuple[float, ReturnPolicy | None]] = {}


def _scope() -> str:
    return Tenant.get_pymongo_collection().database.name


async def load_policy(tenant_id: str) -> ReturnPolicy | None:
    """The tenant's policy from the database; `None` if there is no such tenant."""
    doc = await Tenant.get_pymongo_collection().find_one({"_id": tenant_id}, {"return_policy": 1})
    if doc is None:
        return None
    return ReturnPolicy.model_validate(doc.get("return_policy") or {})


async def cached_policy(tenant_id: str) -> ReturnPolicy | None:
    key = (_scope(), tenant_id)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    policy = await load_policy(tenant_id)
    if len(_cache) >= MAX_CACHED_TENANTS:
        _cache.clear()
    _cache[key] = (now + POLICY_CACHE_SECONDS, policy)
    return policy


def forget_policy(tenant_id: str) -> None:
    _cache.pop((_scope(), tenant_id), None)
