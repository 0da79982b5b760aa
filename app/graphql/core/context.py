"""The typed per-request context: who is calling, for which tenant, with which loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import strawberry
from strawberry.fastapi import BaseContext

from app.config import Settings
from app.services.auth import Principal
from app.services.returns.portal_attempts import ClientLocks

if TYPE_CHECKING:
    from app.graphql.loaders import Loaders


@dataclass
class Context(BaseContext):
    settings: Settings
    request_id: str
    client_ip: str
    principal: Principal | None = None
    auth_error: str | None = None  # a credential was sent but is not valid
    requested_tenant_id: str | None = None  # the X-Tenant-Id header, if any
    tenant_header_error: str | None = None  # an X-Tenant-Id that cannot name a tenant
    shopify_http: httpx.AsyncClient | None = None  # the shared client for Shopify calls
    operator_key: str | None = None  # the X-Operator-Key header, if any
    # The process's queue of portal attempts per client (one at a time, see portal_attempts).
    portal_locks: ClientLocks | None = None
    # Through Shopify's app proxy (verified signature): the signed-in customer, if any.
    portal_customer_id: str | None = None
    loaders: Loaders = field(default=None)  # type: ignore[assignment]
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def tenant_id(self) -> str:
        """The authenticated merchant's tenant; only valid behind `IsMerchant`."""
        if self.principal is None:
            raise RuntimeError("tenant_id read without IsMerchant permission")
        return self.principal.tenant_id

    @property
    def portal_tenant_id(self) -> str:
        """The customer portal's tenant (X-Tenant-Id); only valid behind `IsPortalRequest`."""
        if self.requested_tenant_id is None:
            raise RuntimeError("portal_tenant_id read without IsPortalRequest permission")
        return self.requested_tenant_id


Info = strawberry.Info[Context, None]
