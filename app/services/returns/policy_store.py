"""A tenant's return policy, read from its `tenants` document.

Read afresh by every portal lookup and return operation (one find by `_id`), never cached in a
process: a policy change made through any API process applies at once in all of them.
"""

from __future__ import annotations

from app.models import Tenant
from app.models.return_policy import ReturnPolicy


async def load_policy(tenant_id: str) -> ReturnPolicy | None:
    """The tenant's policy from the database; `None` if there is no such tenant."""
    doc = await Tenant.get_pymongo_collection().find_one({"_id": tenant_id}, {"return_policy": 1})
    if doc is None:
        return None
    return ReturnPolicy.model_validate(doc.get("return_policy") or {})
