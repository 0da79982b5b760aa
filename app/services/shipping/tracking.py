"""The carrier's tracking events: verified and persisted at the edge, applied in the background.

EasyPost signs each delivery over its raw body (`X-Hmac-Signature`, checked by the route before
anything is read). `build_carrier_event` then refuses what is not a tracking event or is stale
(made more than `MAX_EVENT_AGE` ago, or claiming the future: the signature covers the body, not
the moment it is sent, so an old captured delivery could otherwise be replayed), and the event
joins Shopify's in `webhook_events` (topic `easypost/tracker.updated`, `shop_domain` the
carrier: the same queue, leases, retries, dead letters and replay; the carrier's event id is
the dedupe key). The tenant is not known at the edge: `apply_tracking_event` finds the return
by its tracker id.

Tracking moves a shipment forward only (`TRACKING_ORDER`): a late, duplicate or out-of-order
event changes nothing. A delivered parcel receives its return when the shop's shipping
settings say so (`receive_on_delivery`; staff then inspect the items).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from app.clock import utcnow
from app.models import Return
from app.models.bson import to_bson
from app.models.return_request import (
    TRACKING_ORDER,
    ReturnStatus,
    ShipmentStatus,
    TrackingUpdate,
)
from app.services.returns.errors import ReturnErrorCode
from app.services.returns.policy_store import load_policy
from app.services.returns.transitions import mark_return_received
from app.services.shopify_values import parse_time
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.ingest import RejectedWebhook, event_document

CARRIER_SOURCE = "easypost"  # `webhook_events.shop_domain` of carrier events
TOPIC_PREFIX = f"{CARRIER_SOURCE}/"
TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})
CARRIER_TOPICS = frozenset(TOPIC_PREFIX + description for description in TRACKER_EVENTS)
# EasyPost retries a delivery for a while; an event older than this is refused as a replay.
MAX_EVENT_AGE = timedelta(days=3)
MAX_CLOCK_SKEW = timedelta(minutes=5)
TRACKING_HISTORY = 50  # updates kept on a shipment
CARRIER_ACTOR = "carrier"

# EasyPost's tracker statuses as ours; `unknown` and `cancelled` (a voided label) move nothing.
STATUSES: dict[str, ShipmentStatus] = {
    "pre_transit": ShipmentStatus.LABEL_CREATED,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "return_to_sender": ShipmentStatus.FAILURE,
    "failure": ShipmentStatus.FAILURE,
    # `error` is the tracker's own failure (the carrier could not be asked), not the parcel's.
}


def earlier_than(status: ShipmentStatus) -> list[str]:
    """The statuses a shipment may move to `status` from: those before it on the way (a
    failure ends any journey not yet delivered)."""
    if status is ShipmentStatus.FAILURE:
        return [step.value for step in TRACKING_ORDER if step is not ShipmentStatus.DELIVERED]
    return [step.value for step in TRACKING_ORDER[: TRACKING_ORDER.index(status)]]


def build_carrier_event(body: bytes, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The `webhook_events` document for a verified carrier delivery; None for an event this
    service does not use (a refund's, a batch's: acknowledged and dropped, or the carrier would
    retry it and in the end disable the webhook); or `RejectedWebhook` (`stale_event` maps to 401
    at the edge, like a bad signature; the rest to 400)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RejectedWebhook("invalid_json", "body is not valid JSON") from exc
    if not isinstance(payload, dict) or payload.get("object") != "Event":
        raise RejectedWebhook("invalid_payload", "body must be an EasyPost Event object")
    event_id = payload.get("id")
    description = payload.get("description")
    result = payload.get("result")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 100:
        raise RejectedWebhook("invalid_payload", "the event has no id")
    if not isinstance(description, str):
        raise RejectedWebhook("invalid_payload", "the event has no description")
    if description not in TRACKER_EVENTS:
        return None
    if not isinstance(result, dict):
        raise RejectedWebhook("invalid_payload", "a tracker event without its tracker")
    received = now or utcnow()
    created = parse_time(payload.get("created_at"))
    if created is None or created < received - MAX_EVENT_AGE or created > received + MAX_CLOCK_SKEW:
        raise RejectedWebhook("stale_event", "the event's created_at is missing or not recent")
    return event_document(
        tenant_id=None,  # found from the tracker when applied
        source=CARRIER_SOURCE,
        topic=TOPIC_PREFIX + description,
        event_id=event_id.strip(),
        payload=payload,
        received=received,
        triggered=created,
    )


async def apply_tracking_event(ctx: WebhookContext) -> str:
    """Move the tracked return's shipment forward, and receive the return on delivery."""
    tracker = ctx.payload.get("result") or {}
    tracker_id = tracker.get("id")
    status = STATUSES.get(str(tracker.get("status") or ""))
    if not isinstance(tracker_id, str) or not tracker_id:
        return "ignored: no tracker id"
    if status is None:
        return f"ignored: tracker status {tracker.get('status')!r}"
    returns = Return.get_pymongo_collection()
    found = await returns.find_one(
        {"shipment.tracker_id": tracker_id}, {"tenant_id": 1, "status": 1, "shipment.status": 1}
    )
    if found is None:
        return "ignored: no return has this tracker"
    tenant_id = str(found["tenant_id"])
    at = parse_time(tracker.get("updated_at")) or ctx.now
    details = tracker.get("tracking_details") or []
    message = details[-1].get("message") if details and isinstance(details[-1], dict) else None
    update = TrackingUpdate(status=status, at=at, message=str(message)[:200] if message else None)
    fields: dict[str, Any] = {"shipment.status": status.value, "shipment.updated_at": ctx.now}
    if status is ShipmentStatus.DELIVERED:
        fields["shipment.delivered_at"] = at
    moved = await returns.update_one(
        {
            "_id": found["_id"],
            "tenant_id": tenant_id,
            "shipment.tracker_id": tracker_id,
            "shipment.status": {"$in": earlier_than(status)},
        },
        {
            "$set": {**fields, "updated_at": ctx.now},
            "$push": {
                "shipment.tracking": {"$each": [to_bson(update)], "$slice": -TRACKING_HISTORY}
            },
        },
    )
    outcome = f"shipment {status.value}" if moved.matched_count else "ignored: not newer"
    delivered = moved.matched_count == 1 or (found.get("shipment") or {}).get("status") == (
        ShipmentStatus.DELIVERED.value
    )
    if (
        status is ShipmentStatus.DELIVERED
        and delivered  # not a parcel that failed first (returned to the customer)
        and found.get("status") == ReturnStatus.APPROVED.value
    ):
        # Also after a retry whose first attempt moved the shipment and then died.
        outcome += await _receive_on_delivery(tenant_id, str(found["_id"]))
    return outcome


async def _receive_on_delivery(tenant_id: str, return_id: str) -> str:
    policy = await load_policy(tenant_id)
    if policy is None or not policy.shipping.receive_on_delivery:
        return ""
    result = await mark_return_received(
        tenant_id, return_id, CARRIER_ACTOR, note="Delivered back to the shop (carrier tracking)."
    )
    if result.record is not None:
        return "; return received"
    if any(error.code is ReturnErrorCode.INVALID_TRANSITION for error in result.user_errors):
        return ""  # staff received, canceled or resolved it meanwhile
    raise HandlerError("; ".join(error.message for error in result.user_errors))
