"""A tenant's Shopify integration over its life: connect, reconnect, disconnect, uninstall.

Tokens only ever reach the database encrypted (`TokenCipher`, MultiFernet), and no function
here returns or logs one in clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument

from app.clock import utcnow
from app.config import Settings
from app.models import ShopifyIntegration, SyncJob, WebhookEndpoint
from app.models.integration import IntegrationStatus
from app.models.sync_job import ACTIVE_SYNC_STATUSES, SyncStatus
from app.observability import metrics
from app.services.integration.session import grant_fields
from app.services.integration.token_cipher import TokenCipher, TokenDecryptionError, token_prefix
from app.shopify.oauth_client import TokenGrant


class IntegrationErrorCode(StrEnum):
    NOT_CONNECTED = "NOT_CONNECTED"
    WEBHOOK_REGISTRATION_FAILED = "WEBHOOK_REGISTRATION_FAILED"
    TOO_LONG = "TOO_LONG"  # refused at the edge (see app/services/user_errors.py)
    INVALID = "INVALID"


def parse_scopes(scope: str | Iterable[str]) -> list[str]:
    """`"read_orders, write_returns"` -> `["read_orders", "write_returns"]` (sorted, unique)."""
    parts = scope.split(",") if isinstance(scope, str) else list(scope)
    return sorted({part.strip() for part in parts if part.strip()})


def missing_scopes(required: Iterable[str], granted: Iterable[str]) -> list[str]:
    """Required scopes the grant does not cover; `write_x` covers `read_x` (Shopify implies it)."""
    have = set(parse_scopes(list(granted)))
    missing = []
    for scope in parse_scopes(list(required)):
        if scope in have:
            continue
        if scope.startswith("read_") and "write_" + scope.removeprefix("read_") in have:
            continue
        missing.append(scope)
    return missing


async def get_integration(tenant_id: str) -> ShopifyIntegration | None:
    return await ShopifyIntegration.find_one({"tenant_id": tenant_id})


async def connect_integration(
    tenant_id: str, shop_domain: str, grant: TokenGrant, settings: Settings
) -> ShopifyIntegration:
    """Create or reconnect the tenant's integration with a fresh token grant.

    A reconnect (re-install after an uninstall or disconnect) keeps the record and its history
    (created_at; orders and returns live elsewhere and are never touched) and clears
    `uninstalled_at`.
    """
    now = utcnow()
    cipher = TokenCipher(settings.encryption_keys)
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id},
        {
            "$set": {
                "shop_domain": shop_domain,
                **grant_fields(grant, cipher),
                "scopes": parse_scopes(grant.scope),
                "status": IntegrationStatus.CONNECTED.value,
                "api_version": settings.shopify_api_version,
                "installed_at": now,
                "uninstalled_at": None,
                "disconnected_at": None,
                "token_refresh_lease_until": None,
                "token_refresh_lease_owner": None,
                "token_refreshed_at": None,
                "last_error": None,
                "updated_at": now,
            },
            "$setOnInsert": {
                "tenant_id": tenant_id,
                "webhooks": [],
                "webhooks_error": None,
                "webhooks_checked_at": None,
                "created_at": now,
            },
        },
        upsert=True,
    )
    integration = await get_integration(tenant_id)
    assert integration is not None
    return integration


async def disconnect_integration(tenant_id: str) -> ShopifyIntegration | None:
    """Mark the integration disconnected and drop both tokens. `None` if there is none."""
    now = utcnow()
    doc = await ShopifyIntegration.get_pymongo_collection().find_one_and_update(
        {"tenant_id": tenant_id},
        {
            "$set": {
                "status": IntegrationStatus.DISCONNECTED.value,
                "disconnected_at": now,
                "updated_at": now,
                **_dropped_tokens(),
            }
        },
        projection={"_id": 1},
        return_document=ReturnDocument.AFTER,
    )
    return None if doc is None else await get_integration(tenant_id)


class UninstallOutcome(StrEnum):
    UNINSTALLED = "uninstalled"  # recorded now
    ALREADY_UNINSTALLED = "already uninstalled"
    SUPERSEDED = "superseded"  # installed again (or a new token stored) after the event
    NO_INTEGRATION = "no integration"


@dataclass(frozen=True, slots=True)
class UninstallResult:
    outcome: UninstallOutcome
    jobs_canceled: int = 0

    @property
    def changed(self) -> bool:
        return self.outcome is UninstallOutcome.UNINSTALLED

    def describe(self) -> str:
        """The webhook event's result."""
        if self.outcome is UninstallOutcome.UNINSTALLED:
            return f"uninstalled: jobs_canceled={self.jobs_canceled}"
        if self.outcome is UninstallOutcome.SUPERSEDED:
            return "ignored: the shop reinstalled the app after this event"
        return f"ignored: {self.outcome.value}"


UNINSTALLED_SYNC_ERROR = "app uninstalled"


async def mark_uninstalled(
    tenant_id: str, *, at: datetime | None = None, token: str | None = None
) -> UninstallResult:
    """Record an uninstall: status uninstalled, tokens dropped (Shopify revoked them), webhook
    subscriptions forgotten, the tenant's active sync jobs canceled.

    The only place an uninstall is written (`app/uninstalled` calls it). `at` is when Shopify
    says it happened: an integration installed since (a reinstall) is left alone. `token`, the
    stored access-token ciphertext Shopify was seen to refuse, narrows it to that install: a
    reinstall racing the caller keeps its new token. Orders, returns and the tenant are kept, so
    a reinstall picks up the history; merchant credentials are refused until then.
    """
    moment = at or utcnow()
    now = utcnow()
    query: dict[str, Any] = {
        "tenant_id": tenant_id,
        "status": {"$ne": IntegrationStatus.UNINSTALLED.value},
        "$or": [{"installed_at": None}, {"installed_at": {"$lt": moment}}],
    }
    if token is not None:
        query["access_token"] = token
    integrations = ShopifyIntegration.get_pymongo_collection()
    result = await integrations.update_one(
        query,
        {
            "$set": {
                "status": IntegrationStatus.UNINSTALLED.value,
                "uninstalled_at": moment,
                "webhooks": [],  # Shopify deletes an app's subscriptions on uninstall
                "updated_at": now,
                **_dropped_tokens(),
            }
        },
    )
    if not result.modified_count:
        current = await integrations.find_one({"tenant_id": tenant_id}, {"status": 1})
        if current is None:
            return UninstallResult(UninstallOutcome.NO_INTEGRATION)
        if current.get("status") == IntegrationStatus.UNINSTALLED.value:
            # A retry after a crash between the two writes: finish the job cancels.
            canceled = await _cancel_active_syncs(tenant_id, now)
            return UninstallResult(UninstallOutcome.ALREADY_UNINSTALLED, canceled)
        return UninstallResult(UninstallOutcome.SUPERSEDED)
    return UninstallResult(UninstallOutcome.UNINSTALLED, await _cancel_active_syncs(tenant_id, now))


async def _cancel_active_syncs(tenant_id: str, now: datetime) -> int:
    jobs = await SyncJob.get_pymongo_collection().update_many(
        {"tenant_id": tenant_id, "status": {"$in": [s.value for s in ACTIVE_SYNC_STATUSES]}},
        {
            "$set": {
                "status": SyncStatus.CANCELED.value,
                "error": UNINSTALLED_SYNC_ERROR,
                "active": None,
                "cancel_requested": True,
                "finished_at": now,
                "updated_at": now,
            }
        },
    )
    if jobs.modified_count:
        metrics.sync_jobs_finished(metrics.SWEPT, SyncStatus.CANCELED.value, jobs.modified_count)
    return int(jobs.modified_count)


def _dropped_tokens() -> dict[str, Any]:
    return {
        "access_token": None,
        "refresh_token": None,
        "expires_at": None,
        "refresh_token_expires_at": None,
        "token_refresh_lease_until": None,
        "token_refresh_lease_owner": None,
    }


# Token maintenance (operators: `rms tokens check|rotate-keys`) ------------------------------
TOKEN_FIELDS = ("access_token", "refresh_token")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown of one stored token: a prefix, and which key decrypted it."""

    field: str
    prefix: str | None  # token_prefix() of the plaintext; None when undecryptable
    key_index: int | None  # 0-based ENCRYPTION_KEYS entry; None when undecryptable


@dataclass(frozen=True, slots=True)
class TokenCheck:
    tenant_id: str
    shop_domain: str
    status: str
    tokens: list[TokenInfo]
    expires_at: datetime | None
    refresh_token_expires_at: datetime | None

    @property
    def readable(self) -> bool:
        return bool(self.tokens) and all(info.key_index is not None for info in self.tokens)


async def check_tokens(tenant_id: str, settings: Settings) -> TokenCheck | None:
    """Decrypt the tenant's stored tokens; reports prefixes and key indexes, never the tokens."""
    integration = await get_integration(tenant_id)
    if integration is None:
        return None
    cipher = TokenCipher(settings.encryption_keys)
    infos = []
    for name in TOKEN_FIELDS:
        ciphertext = getattr(integration, name)
        if not ciphertext:
            continue
        try:
            decrypted = cipher.decrypt_with_key_index(ciphertext)
        except TokenDecryptionError:
            infos.append(TokenInfo(name, None, None))
            continue
        infos.append(TokenInfo(name, token_prefix(decrypted.plaintext), decrypted.key_index))
    return TokenCheck(
        tenant_id=tenant_id,
        shop_domain=integration.shop_domain,
        status=integration.status.value,
        tokens=infos,
        expires_at=integration.expires_at,
        refresh_token_expires_at=integration.refresh_token_expires_at,
    )


@dataclass
class RotationReport:
    rotated: int = 0  # re-encrypted with the first key
    current: int = 0  # already encrypted with the first key
    failed: list[str] = field(default_factory=list)  # "tenant-x:access_token" no key decrypts


async def rotate_token_keys(settings: Settings) -> RotationReport:
    """Re-encrypt every stored token with the first ENCRYPTION_KEYS entry. Safe to rerun.

    Each write is conditional on the ciphertext it replaces, so a token refreshed meanwhile
    (already written with the first key) is never overwritten with an older one.
    """
    cipher = TokenCipher(settings.encryption_keys)
    report = RotationReport()
    collection = ShopifyIntegration.get_pymongo_collection()
    cursor = collection.find(
        {"$or": [{name: {"$ne": None}} for name in TOKEN_FIELDS]},
        {"tenant_id": 1, **{name: 1 for name in TOKEN_FIELDS}},
    )
    async for doc in cursor:
        for name in TOKEN_FIELDS:
            ciphertext = doc.get(name)
            if not isinstance(ciphertext, str) or not ciphertext:
                continue
            try:
                if not cipher.needs_rotation(ciphertext):
                    report.current += 1
                    continue
                rotated = cipher.rotate(ciphertext)
            except TokenDecryptionError:
                report.failed.append(f"{doc.get('tenant_id')}:{name}")
                continue
            result = await collection.update_one(
                {"_id": doc["_id"], name: ciphertext}, {"$set": {name: rotated}}
            )
            if result.modified_count:
                report.rotated += 1
            else:
                report.current += 1  # replaced meanwhile by a refresh, written with the first key
    await _rotate_endpoint_secrets(cipher, report)
    return report


async def _rotate_endpoint_secrets(cipher: TokenCipher, report: RotationReport) -> None:
    """Merchants' webhook signing secrets are stored with the same keys: re-encrypted too, so
    retiring a key never leaves one that no key decrypts. Each write is conditional on the
    whole list it replaces (a rotation by the merchant meanwhile wins)."""
    endpoints = WebhookEndpoint.get_pymongo_collection()
    async for doc in endpoints.find({}, {"tenant_id": 1, "secrets": 1}):
        secrets = doc.get("secrets") or []
        changed = False
        rewritten = []
        for index, secret in enumerate(secrets):
            ciphertext = secret.get("ciphertext")
            try:
                if isinstance(ciphertext, str) and cipher.needs_rotation(ciphertext):
                    secret = {**secret, "ciphertext": cipher.rotate(ciphertext)}
                    changed = True
                else:
                    report.current += 1
            except TokenDecryptionError:
                report.failed.append(
                    f"{doc.get('tenant_id')}:webhook_endpoint:{doc['_id']}:{index}"
                )
            rewritten.append(secret)
        if changed:
            result = await endpoints.update_one(
                {"_id": doc["_id"], "secrets": secrets}, {"$set": {"secrets": rewritten}}
            )
            report.rotated += int(result.modified_count)
