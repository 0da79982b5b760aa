"""`tenants`: one per shop. `_id` and the runbook's `id` field both hold the tenant id.

Documents of the old system carry only `id`, `shop_domain`, `name` and `created_at`, under an
ObjectId `_id`: migration 3 re-keys them; until then the model fills what they lack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import ConfigDict, Field, model_validator
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow
from app.models.email_notification import NotificationSettings
from app.models.portal_settings import PortalSettings
from app.models.return_policy import ReturnPolicy


def tenant_id_for_shop(shop_domain: str) -> str:
    """`rms34.myshopify.com` -> `tenant-rms34` (the runbook's naming)."""
    return "tenant-" + shop_domain.split(".", 1)[0].lower()


class Tenant(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # `_id`: the tenant id itself, e.g. "tenant-rms34"
    # Stored as the runbook's `id` field so `db.tenants.findOne({id: ...})` works verbatim.
    public_id: str = Field(alias="id")
    tenant_id: str
    shop_domain: str
    name: str
    return_policy: ReturnPolicy = Field(default_factory=ReturnPolicy)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    portal_settings: PortalSettings = Field(default_factory=PortalSettings)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _old_shape(cls, data: Any) -> Any:
        """The runbook's shape: the tenant id in `id` alone, no `tenant_id`, maybe no name."""
        if not isinstance(data, dict):
            return data
        tenant_id = data.get("tenant_id") or data.get("id") or data.get("_id")
        if tenant_id is None:
            return data
        filled = {"tenant_id": str(tenant_id), "id": str(tenant_id), **data}
        filled["_id"] = filled["tenant_id"] if not isinstance(data.get("_id"), str) else data["_id"]
        if "name" not in filled and isinstance(filled.get("shop_domain"), str):
            filled["name"] = filled["shop_domain"].split(".", 1)[0]
        return filled

    class Settings:
        name = "tenants"
        use_revision = False
        indexes = [
            IndexModel([("id", ASCENDING)], name="id_unique", unique=True),
            IndexModel([("shop_domain", ASCENDING)], name="shop_domain_unique", unique=True),
        ]

    @classmethod
    def new(cls, tenant_id: str, shop_domain: str, name: str) -> Tenant:
        tenant: Tenant = cls.model_validate(
            {
                "_id": tenant_id,
                "id": tenant_id,
                "tenant_id": tenant_id,
                "shop_domain": shop_domain,
                "name": name,
            }
        )
        return tenant
