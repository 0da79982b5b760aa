"""A tenant's webhook endpoints: create, update, delete, rotate the signing secret, list.

The signing secret is shown once (on create and on rotate) and stored encrypted. Rotating keeps
the old secret signing beside the new one for `ROTATION_GRACE`, so a receiver can switch over
without refusing a delivery. Bad input is a user error and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from app.clock import utcnow
from app.config import Settings
from app.models import WebhookEndpoint
from app.models.bson import to_bson
from app.models.return_request import ReturnEventType
from app.models.webhook_endpoint import EndpointSecret, EndpointStatus
from app.services.integration.token_cipher import TokenCipher
from app.services.notifications.addresses import AddressPolicy, AddressRefused, check_url
from app.services.notifications.errors import NotificationErrorCode, NotificationUserError
from app.services.notifications.signing import new_secret
from app.services.pagination import Page, PageRequest

MAX_ENDPOINTS_PER_TENANT = 20
MAX_DESCRIPTION_LENGTH = 500
ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class EndpointInput:
    url: str | None = None
    topics: list[ReturnEventType] | None = None
    description: str | None = None
    enabled: bool | None = None  # update only: re-enable (or pause) an endpoint


@dataclass(slots=True)
class EndpointResult:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = None  # only when just created or rotated
    user_errors: list[NotificationUserError] = field(default_factory=list)


def _error(path: str, code: NotificationErrorCode, message: str) -> EndpointResult:
    return EndpointResult(user_errors=[NotificationUserError([path], code, message)])


def parse_endpoint_id(raw: str) -> ObjectId | None:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        return None


def _checked_fields(
    given: EndpointInput, settings: Settings, *, creating: bool
) -> dict[str, Any] | EndpointResult:
    """The fields to write, or the user error of the first bad one."""
    values: dict[str, Any] = {}
    if given.url is not None or creating:
        url = (given.url or "").strip()
        if not url:
            return _error("url", NotificationErrorCode.BLANK, "A URL is required.")
        try:
            check_url(url, AddressPolicy.for_environment(settings.is_production))
        except AddressRefused as exc:
            return _error("url", NotificationErrorCode.INVALID_URL, str(exc))
        values["url"] = url
    if given.topics is not None or creating:
        topics = sorted(set(given.topics or []))
        if not topics:
            return _error("topics", NotificationErrorCode.BLANK, "Choose at least one topic.")
        values["topics"] = [topic.value for topic in topics]
    if given.description is not None:
        description = given.description.strip()
        if len(description) > MAX_DESCRIPTION_LENGTH:
            return _error(
                "description",
                NotificationErrorCode.TOO_LONG,
                f"At most {MAX_DESCRIPTION_LENGTH} characters.",
            )
        values["description"] = description or None
    return values


async def create_endpoint(
    tenant_id: str, given: EndpointInput, settings: Settings
) -> EndpointResult:
    checked = _checked_fields(given, settings, creating=True)
    if isinstance(checked, EndpointResult):
        return checked
    count = await WebhookEndpoint.find({"tenant_id": tenant_id}).count()
    if count >= MAX_ENDPOINTS_PER_TENANT:
        return _error(
            "url",
            NotificationErrorCode.TOO_MANY,
            f"At most {MAX_ENDPOINTS_PER_TENANT} endpoints per shop.",
        )
    secret = new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=checked["url"],
        topics=checked["topics"],
        description=checked.get("description"),
        secrets=[
            EndpointSecret(
                ciphertext=TokenCipher(settings.encryption_keys).encrypt(secret), created_at=now
            )
        ],
        created_at=now,
        updated_at=now,
    )
    await endpoint.insert()
    return EndpointResult(endpoint=endpoint, secret=secret)


async def get_endpoint(tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    oid = parse_endpoint_id(endpoint_id)
    if oid is None:
        return None
    return await WebhookEndpoint.find_one({"_id": oid, "tenant_id": tenant_id})


def _not_found() -> EndpointResult:
    return _error("id", NotificationErrorCode.NOT_FOUND, "No such webhook endpoint.")


async def _update(tenant_id: str, endpoint_id: str, update: dict[str, Any]) -> EndpointResult:
    oid = parse_endpoint_id(endpoint_id)
    if oid is None:
        return _not_found()
    raw = await WebhookEndpoint.get_pymongo_collection().find_one_and_update(
        {"_id": oid, "tenant_id": tenant_id}, update, return_document=ReturnDocument.AFTER
    )
    if raw is None:
        return _not_found()
    return EndpointResult(endpoint=WebhookEndpoint.model_validate(raw))


async def update_endpoint(
    tenant_id: str, endpoint_id: str, given: EndpointInput, settings: Settings
) -> EndpointResult:
    checked = _checked_fields(given, settings, creating=False)
    if isinstance(checked, EndpointResult):
        return checked
    now = utcnow()
    values: dict[str, Any] = {**checked, "updated_at": now}
    if given.enabled is True:
        values.update(status=EndpointStatus.ENABLED.value, disabled_reason=None, disabled_at=None)
    elif given.enabled is False:
        values.update(
            status=EndpointStatus.DISABLED.value,
            disabled_reason="Disabled by the merchant.",
            disabled_at=now,
        )
    return await _update(tenant_id, endpoint_id, {"$set": values})


async def delete_endpoint(tenant_id: str, endpoint_id: str) -> EndpointResult:
    """Deleted at once; its deliveries still to send fail as the endpoint's gone (the log is
    kept)."""
    found = await get_endpoint(tenant_id, endpoint_id)
    if found is None:
        return _not_found()
    await WebhookEndpoint.get_pymongo_collection().delete_one(
        {"_id": found.id, "tenant_id": tenant_id}
    )
    return EndpointResult(endpoint=found)


async def rotate_secret(tenant_id: str, endpoint_id: str, settings: Settings) -> EndpointResult:
    """A new signing secret (shown once); the current one keeps signing beside it for
    `ROTATION_GRACE` (one rotated out before is dropped: at most two sign). Written only over
    the secrets it read, so of two rotations at once one wins and the other is told to retry."""
    found = await get_endpoint(tenant_id, endpoint_id)
    if found is None:
        return _not_found()
    now = utcnow()
    secret = new_secret()
    current = found.secrets[0]
    previous = EndpointSecret(
        ciphertext=current.ciphertext,
        created_at=current.created_at,
        expires_at=now + ROTATION_GRACE,
    )
    newest = EndpointSecret(
        ciphertext=TokenCipher(settings.encryption_keys).encrypt(secret), created_at=now
    )
    raw = await WebhookEndpoint.get_pymongo_collection().find_one_and_update(
        {"_id": found.id, "tenant_id": tenant_id, "secrets": to_bson(found.secrets)},
        {"$set": {"secrets": to_bson([newest, previous]), "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        return _error(
            "id",
            NotificationErrorCode.INVALID,
            "The secret was changed meanwhile; read the endpoint and rotate again.",
        )
    return EndpointResult(endpoint=WebhookEndpoint.model_validate(raw), secret=secret)


def signing_secrets(endpoint: WebhookEndpoint, settings: Settings, now: datetime) -> list[str]:
    """The secrets that sign a message now: the newest, and rotated-out ones in their grace."""
    cipher = TokenCipher(settings.encryption_keys)
    return [
        cipher.decrypt(secret.ciphertext)
        for secret in endpoint.secrets
        if secret.expires_at is None or secret.expires_at > now
    ]


async def list_endpoints(tenant_id: str, page: PageRequest) -> Page[WebhookEndpoint]:
    query: dict[str, Any] = {"tenant_id": tenant_id, **page.filter()}
    items = await WebhookEndpoint.find(query).sort(page.sort).limit(page.limit).to_list()
    return page.page(items, lambda endpoint: (endpoint.created_at, endpoint.id))
