"""Accepting a webhook: validate what Shopify sent, then persist it with one raw insert.

Accepted means persisted: the route answers 200 only after the insert (or after finding the
event already stored). Nothing else happens on this path; the background processor applies it.
The HMAC is checked by the caller, over the raw body, before this module parses anything.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from bson.errors import InvalidDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from app.clock import utcnow
from app.models import WebhookEvent
from app.models.tenant import tenant_id_for_shop
from app.observability import metrics
from app.observability.tracing import current_trace_context
from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain
from app.services.shopify_values import numeric_id, parse_time
from app.services.webhooks.payload_shapes import PayloadShapeMismatch, check_payload_shape
from app.services.webhooks.topics import WEBHOOK_TOPICS

# Shopify waits 5 s for an answer; a stalled insert must turn into a quick 503 well before.
INGEST_TIMEOUT_SECONDS = 3.0
SHOPIFY_HEADER_PREFIX = "x-shopify-"


class IngestOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


class RejectedWebhook(Exception):
    """A delivery we refuse as it stands (the HTTP edge answers 400: Shopify should not retry
    it); `code` says why, for the answer and the logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DatabaseUnavailable(Exception):
    """The event could not be persisted (503: Shopify retries)."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: IngestOutcome
    event_id: str


SIGNATURE_HEADER = "x-shopify-hmac-sha256"  # proves the body once; never stored


def is_known_topic(topic: str) -> bool:
    return topic in WEBHOOK_TOPICS


def shopify_headers(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Every `X-Shopify-*` header, names lower-cased (ASGI gives them so)."""
    kept: dict[str, str] = {}
    for name, value in raw_headers:
        lowered = name.decode("latin-1").lower()
        if lowered.startswith(SHOPIFY_HEADER_PREFIX) and lowered != SIGNATURE_HEADER:
            kept[lowered] = value.decode("latin-1")
    return kept


# The payload field that names the shop, per topic; it must match X-Shopify-Shop-Domain.
PAYLOAD_SHOP_FIELD = {
    "customers/data_request": "shop_domain",
    "customers/redact": "shop_domain",
    "shop/redact": "shop_domain",
    "app/uninstalled": "myshopify_domain",
}


def _check_payload_shop(topic: str, shop: str, payload: Mapping[str, Any]) -> None:
    field = PAYLOAD_SHOP_FIELD.get(topic)
    if field is None:
        return
    named = payload.get(field)
    try:
        matches = isinstance(named, str) and normalize_shop_domain(named) == shop
    except InvalidShopDomain:
        matches = False
    if not matches:
        raise RejectedWebhook(
            "shop_mismatch", f"payload `{field}` does not match X-Shopify-Shop-Domain"
        )


def _customer_id(payload: Mapping[str, Any]) -> str | None:
    customer = payload.get("customer")
    return numeric_id(customer.get("id")) if isinstance(customer, Mapping) else None


def build_event_document(
    topic: str, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> dict[str, Any]:
    """The `webhook_events` document for a verified delivery, or `RejectedWebhook` (4xx).

    The topic must agree with the route and with the body (`payload_shapes`), and where the body
    names the shop, with `X-Shopify-Shop-Domain`; nothing that fails is stored.
    """
    # Shopify's HMAC covers the body only: every header that steers an event (topic, shop,
    # time) must agree with the route and with what the signed body says it is.
    header_topic = headers.get("x-shopify-topic")
    if header_topic is None or header_topic.strip().lower() != topic:
        raise RejectedWebhook(
            "topic_mismatch", f"X-Shopify-Topic {header_topic!r} does not match {topic!r}"
        )
    try:
        shop = normalize_shop_domain(headers.get("x-shopify-shop-domain"))
    except InvalidShopDomain as exc:
        raise RejectedWebhook("invalid_shop_domain", f"X-Shopify-Shop-Domain: {exc}") from exc
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RejectedWebhook("invalid_json", "body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise RejectedWebhook("invalid_payload", "body must be a JSON object")
    try:
        check_payload_shape(topic, payload)
    except PayloadShapeMismatch as exc:
        raise RejectedWebhook("payload_topic_mismatch", str(exc)) from exc
    _check_payload_shop(topic, shop, payload)
    webhook_id = (headers.get("x-shopify-webhook-id") or "").strip() or None
    event_id = (headers.get("x-shopify-event-id") or "").strip() or webhook_id
    if event_id is None:
        # No id at all (not Shopify's behaviour): an exact resend still dedupes.
        event_id = "sha256:" + hashlib.sha256(topic.encode() + b"\n" + body).hexdigest()
    received = now or utcnow()
    triggered = parse_time(headers.get("x-shopify-triggered-at"))
    if triggered is not None and triggered > received:
        triggered = received  # an unsigned header may not claim the future
    return event_document(
        tenant_id=tenant_id_for_shop(shop),
        source=shop,
        topic=topic,
        event_id=event_id,
        payload=payload,
        received=received,
        triggered=triggered,
        webhook_id=webhook_id,
        api_version=headers.get("x-shopify-api-version"),
        headers=dict(headers),
        customer_id=_customer_id(payload),
    )


def event_document(
    *,
    tenant_id: str | None,
    source: str,
    topic: str,
    event_id: str,
    payload: dict[str, Any],
    received: datetime,
    triggered: datetime | None,
    webhook_id: str | None = None,
    api_version: str | None = None,
    headers: dict[str, str] | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    """A new, due `webhook_events` document: Shopify's deliveries, and the carrier's tracking
    events (`source`, stored as `shop_domain`, is the shop or the carrier)."""
    document = {
        "tenant_id": tenant_id,
        "shop_domain": source,
        "topic": topic,
        "event_id": event_id,
        "webhook_id": webhook_id,
        "api_version": api_version,
        "headers": headers or {},
        "payload": payload,
        "customer_id": customer_id,
        "processed": False,
        "dead": False,
        "attempts": 0,
        "error": None,
        "result": None,
        "next_attempt_at": received,
        "lease_owner": None,
        "lease_expires_at": None,
        "received_at": received,
        "triggered_at": triggered,
        "processed_at": None,
    }
    trace_context = current_trace_context()  # empty while tracing is off
    if trace_context:
        document["trace_context"] = trace_context  # its processing continues this trace
    return document


async def persist_event(
    document: dict[str, Any], *, timeout: float = INGEST_TIMEOUT_SECONDS
) -> IngestResult:
    """Insert once; a duplicate `(shop_domain, event_id)` is already accepted.

    Journaled and majority-acknowledged (the client's `DURABLE_WRITES`): the 200 that follows
    tells Shopify the event is safe, so it must survive a crash of the database (or a failover)
    right after.
    """
    collection = WebhookEvent.get_pymongo_collection()
    try:
        async with asyncio.timeout(timeout):
            await collection.insert_one(document)
    except DuplicateKeyError:
        return IngestResult(IngestOutcome.DUPLICATE, document["event_id"])
    except (InvalidDocument, OverflowError) as exc:
        raise RejectedWebhook("invalid_payload", f"payload cannot be stored: {exc}") from exc
    except (PyMongoError, TimeoutError) as exc:
        raise DatabaseUnavailable(str(exc) or type(exc).__name__) from exc
    metrics.webhook_received(str(document["topic"]))
    return IngestResult(IngestOutcome.ACCEPTED, document["event_id"])
