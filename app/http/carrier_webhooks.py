"""`POST /api/webhooks/easypost`: the carrier's tracking events, verified, persisted,
deduplicated; applied in the background (`services/shipping/tracking.py`).

Order of checks: `X-Hmac-Signature` (HMAC-SHA256 hex of the raw body with
`EASYPOST_WEBHOOK_SECRET`, constant time) 401 before anything is parsed; a stale event (its
signed `created_at` more than three days old, or in the future) 401 too: a replay is refused
like a forgery, nothing stored; not JSON, or not an EasyPost Event: 400; an event of another
kind (a refund's): 200 `ignored`, nothing stored. Then one insert; stored
or already stored: 200; database unreachable or slow: 503, so the carrier retries.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from app.carriers.easypost import verify_webhook
from app.config import Settings
from app.http.responses import json_response
from app.services.shipping.tracking import build_carrier_event
from app.services.webhooks.ingest import (
    DatabaseUnavailable,
    IngestOutcome,
    RejectedWebhook,
    persist_event,
)

logger = logging.getLogger("app.shipping.webhooks")

router = APIRouter(tags=["carrier"])

_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'
_IGNORED = b'{"status":"ignored"}'
# Refused like a bad signature: the carrier's own retries never make a stale event fresh.
_UNAUTHORIZED_CODES = frozenset({"stale_event"})


def _error(status_code: int, code: str, message: str) -> Response:
    return json_response({"error": code, "message": message}, status_code=status_code)


@router.post("/api/webhooks/easypost", summary="Receive EasyPost's tracking events")
async def receive_carrier_webhook(request: Request) -> Response:
    body = await request.body()
    settings: Settings = request.app.state.settings
    if not verify_webhook(
        body, request.headers.get("x-hmac-signature"), settings.easypost_webhook_secret
    ):
        logger.warning("carrier webhook refused: bad signature")
        return _error(401, "invalid_signature", "X-Hmac-Signature does not match the body")
    try:
        document = build_carrier_event(body)
        if document is None:  # an event of a kind this service does not use
            return Response(content=_IGNORED, status_code=200, media_type="application/json")
        result = await persist_event(document)
    except RejectedWebhook as exc:
        status = 401 if exc.code in _UNAUTHORIZED_CODES else 400
        logger.warning("carrier webhook refused: %s", exc.code)
        return _error(status, exc.code, str(exc))
    except DatabaseUnavailable as exc:
        logger.error("carrier webhook not persisted: database unavailable (%s)", exc)
        return _error(503, "database_unavailable", "try again later")
    content = _ACCEPTED if result.outcome is IngestOutcome.ACCEPTED else _DUPLICATE
    return Response(content=content, status_code=200, media_type="application/json")
