"""`POST /api/webhooks/<topic>`: verified, persisted, deduplicated; nothing else.

Order of checks: unknown topic 404; HMAC (base64 over the raw body, constant time) 401 before
anything is parsed; topic header mismatch, bad shop domain, invalid JSON, a body that is not the
topic's payload (`payload_topic_mismatch`: a captured body re-sent under another topic) or that
names another shop 400; then one insert.
A body over the global limit never gets here (BodyLimitMiddleware answers 413). Persisted or
already stored: 200. Database unreachable or slow: 503, so Shopify retries.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app.config import Settings
from app.http.responses import json_response
from app.services.webhooks.ingest import (
    DatabaseUnavailable,
    IngestOutcome,
    RejectedWebhook,
    build_event_document,
    is_known_topic,
    persist_event,
    shopify_headers,
)
from app.shopify.hmac import verify_webhook

logger = logging.getLogger("app.webhooks")

router = APIRouter(prefix="/api/webhooks", tags=["shopify"])

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'


def _error(status_code: int, code: str, message: str) -> Response:
    return json_response({"error": code, "message": message}, status_code=status_code)


@router.post("/{topic:path}", include_in_schema=True, summary="Receive a Shopify webhook")
async def receive_webhook(topic: str, request: Request) -> Response:
    topic = topic.strip("/").lower()
    if not is_known_topic(topic):
        return _error(404, "unknown_topic", f"no webhook topic {topic!r} here")
    body = await request.body()
    settings: Settings = request.app.state.settings
    if not verify_webhook(
        body, request.headers.get("x-shopify-hmac-sha256"), settings.shopify_api_secret
    ):
        logger.warning("webhook refused: bad HMAC", extra={"topic": topic})
        return _error(401, "invalid_hmac", "X-Shopify-Hmac-Sha256 does not match the body")
    try:
        document = build_event_document(topic, shopify_headers(request.scope["headers"]), body)
        result = await persist_event(document)
    except RejectedWebhook as exc:
        return _error(400, exc.code, exc.message)
    except DatabaseUnavailable as exc:
        logger.error("webhook not persisted: database unavailable (%s)", exc)
        return _error(503, "database_unavailable", "try again later")
    content = _ACCEPTED if result.outcome is IngestOutcome.ACCEPTED else _DUPLICATE
    return Response(content=content, status_code=200, media_type="application/json")
