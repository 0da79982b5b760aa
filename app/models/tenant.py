"""`tenants`: one per shop. `_id` and the runbook's `id` field both hold the tenant id."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow
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
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

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
