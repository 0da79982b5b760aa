"""Tenant queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.permissions import IsMerchant
from app.graphql.tenant.types import Tenant
from app.services.tenants import get_tenant


@strawberry.type
class TenantQueries:
    @strawberry.field(permission_classes=[IsMerchant], description="The caller's tenant.")
    async def tenant(self, info: Info) -> Tenant | None:
        record = await get_tenant(info.context.tenant_id)
        return Tenant(record=record) if record else None
