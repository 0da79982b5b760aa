"""`integrations_shopify`: a tenant's connection to its shop. Tokens are Fernet ciphertext."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from app.clock import utcnow


class IntegrationStatus(StrEnum):
    CONNECTED = "connected"
    UNINSTALLED = "uninstalled"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class WebhookSubscriptionRecord(BaseModel):
    topic: str  # "orders/create"
    address: str
    shopify_id: str | None = None  # gid://shopify/WebhookSubscription/...
    registered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class ShopifyIntegration(Document):
    tenant_id: str
    shop_domain: str
    access_token: str | None = None  # ciphertext
    refresh_token: str | None = None  # ciphertext
    expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    scopes: list[str] = Field(default_factory=list)  # as granted by Shopify
    status: IntegrationStatus = IntegrationStatus.CONNECTED
    api_version: str = ""
    webhooks: list[WebhookSubscriptionRecord] = Field(default_factory=list)
    webhooks_error: str | None = None  # why the last webhook registration failed, if it did
    webhooks_checked_at: datetime | None = None
    installed_at: datetime | None = None
    uninstalled_at: datetime | None = None
    disconnected_at: datetime | None = None
    # Lease taken by the worker refreshing the token, so two workers never refresh at once.
    token_refresh_lease_until: datetime | None = None
    token_refresh_lease_owner: str | None = None
    token_refreshed_at: datetime | None = None
    last_error: str | None = None
    # When a `shop/redact` arrived while the shop was connected, and was refused (it comes 48 h
    # after an uninstall; for a connected shop it is a replay or a mistake): alerted on.
    shop_redact_refused_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "integrations_shopify"
        use_revision = False
        indexes = [
            IndexModel([("tenant_id", ASCENDING)], name="tenant_unique", unique=True),
            IndexModel([("shop_domain", ASCENDING)], name="shop_domain_unique", unique=True),
        ]
