"""The dispatcher: turns a return's pending events into deliveries, one per subscribed endpoint,
and into the emails the tenant's switches ask for (when SMTP is set up).

It claims a return whose `events_due_at` has come (pushing it out by a lease, so no other
dispatcher takes it meanwhile), renders the return as the API shows it, writes one delivery per
(event, enabled endpoint subscribed to its type) and then takes those events off the return.
Dying anywhere is safe: the lease runs out, the events are still there, and a delivery that
exists already is not written twice (unique per tenant, event and endpoint; the first body
stays). Events no endpoint wants are taken off all the same.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models import Return, Tenant, WebhookDelivery, WebhookEndpoint
from app.models.bson import to_bson
from app.models.return_request import EVENTS_DUE_SINCE, ReturnEvent, ReturnStatus
from app.models.webhook_endpoint import DeliveryStatus, EndpointStatus
from app.services.notifications.email import queue_emails
from app.services.returns.events import EVENT_OF_STATUS

logger = logging.getLogger(__name__)

# The return as the API shows it (GraphQL's `Return`, camelCase), rendered by the edge that owns
# that shape and handed to the workers when they are built.
RenderReturn = Callable[[Return], Awaitable[dict[str, Any]]]
StatusUrl = Callable[[Return, Tenant], str]  # a return's status page, for its customer

DISPATCH_LEASE = timedelta(seconds=30)
STATUS_OF_EVENT = {event: status.name for status, event in EVENT_OF_STATUS.items()}


def event_status(event: ReturnEvent, current: ReturnStatus | None = None) -> str:
    """`data.status` of a delivery: the status a status event moved the return to; for an event
    that is no change of status (`return.label_created`), the return's status when the event is
    handed over (a label is bought once approved: APPROVED when it is not known)."""
    found = STATUS_OF_EVENT.get(event.type)
    if found is not None:
        return found
    return (current or ReturnStatus.APPROVED).name


def message_body(
    event: ReturnEvent, rendered: dict[str, Any], current: ReturnStatus | None = None
) -> str:
    """The Standard Webhooks payload: `type`, `timestamp` (the event's), `data`: the event's
    id, the status it moved the return to (`event_status`; `current` is the return's, for an
    event that moves none), and the return as the API shows it when the event is handed over (a
    later step may show already: `data.status` is the event's own; messages may arrive out of
    order, `timestamp` orders them)."""
    payload = {
        "type": event.type.value,
        "timestamp": event.at.isoformat().replace("+00:00", "Z"),
        "data": {
            "eventId": event.id,
            "status": event_status(event, current),
            "return": rendered,
        },
    }
    return orjson.dumps(payload).decode()


class ReturnEventDispatcher:
    """Claims one return with due events and hands them to their endpoints."""

    idle_seconds = 0.5  # an event reaches its deliveries within about half a second

    def __init__(
        self,
        worker_id: str,
        render: RenderReturn,
        name: str = "return-events",
        *,
        emails: bool = False,
        status_url: StatusUrl | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.render = render
        self.name = name
        self.emails = emails  # SMTP is set up: queue the tenant's emails too
        self.status_url = status_url  # the customer's status link in their emails

    async def claim(self) -> Return | None:
        returns = Return.get_pymongo_collection()
        now = utcnow()
        while True:
            due = await returns.find_one(
                {"events_due_at": {"$gte": EVENTS_DUE_SINCE, "$lte": now}},
                {"_id": 1, "tenant_id": 1, "events_due_at": 1},
                sort=[("events_due_at", 1)],
            )
            if due is None:
                return None
            taken = await returns.update_one(
                {
                    "_id": due["_id"],
                    "tenant_id": due["tenant_id"],
                    "events_due_at": due["events_due_at"],
                },
                {"$set": {"events_due_at": now + DISPATCH_LEASE}},
            )
            if taken.modified_count == 1:
                raw = await returns.find_one({"_id": due["_id"], "tenant_id": due["tenant_id"]})
                return Return.model_validate(raw) if raw is not None else None
            # another dispatcher took it (or a transition moved it): look again

    async def run_once(self) -> bool:
        record = await self.claim()
        if record is None:
            return False
        await self.dispatch(record)
        return True

    async def dispatch(self, record: Return) -> None:
        events = list(record.pending_events)
        if events:
            # Disabled ones too: their deliveries are written as failed, to replay once enabled.
            endpoints = await WebhookEndpoint.find({"tenant_id": record.tenant_id}).to_list()
            wanted = [(event, [e for e in endpoints if event.type in e.topics]) for event in events]
            if any(targets for _event, targets in wanted):
                rendered = await self.render(record)
                for event, targets in wanted:
                    body = message_body(event, rendered, record.status)
                    for endpoint in targets:
                        await _write_delivery(record, event, endpoint, body)
            if self.emails:
                tenant = await Tenant.find_one({"_id": record.tenant_id})
                link = self.status_url(record, tenant) if self.status_url and tenant else None
                for event in events:
                    await queue_emails(record, event, tenant, link)
        await self._take_off(record, [event.id for event in events])

    async def _take_off(self, record: Return, event_ids: list[str]) -> None:
        """The events are handed over; the return leaves the queue unless a newer event came.
        One update (a pipeline sees the list as it just left it), so a transition's newer
        event either lands before it and keeps the return queued, or after it and queues the
        return again itself."""
        left = {
            "$filter": {
                "input": {"$ifNull": ["$pending_events", []]},
                "cond": {"$not": [{"$in": ["$$this.id", {"$literal": event_ids}]}]},
            }
        }
        await Return.get_pymongo_collection().update_one(
            {"_id": record.id, "tenant_id": record.tenant_id},
            [
                {"$set": {"pending_events": left}},
                {
                    "$set": {
                        "events_due_at": {
                            "$cond": [
                                {"$eq": [{"$size": "$pending_events"}, 0]},
                                None,
                                "$events_due_at",
                            ]
                        }
                    }
                },
            ],
        )


async def _write_delivery(
    record: Return, event: ReturnEvent, endpoint: WebhookEndpoint, body: str
) -> None:
    endpoint_id = str(endpoint.id)
    now = utcnow()
    delivery = WebhookDelivery(
        tenant_id=record.tenant_id,
        endpoint_id=endpoint_id,
        event_id=event.id,
        event_type=event.type,
        return_id=str(record.id),
        body=body,
        created_at=now,
    )
    if endpoint.status is not EndpointStatus.ENABLED:
        delivery.status = DeliveryStatus.FAILED
        delivery.failure = "the endpoint was disabled when the event happened"
        delivery.next_attempt_at = None
        delivery.settled_at = now
    document = to_bson(delivery)
    document.pop("_id", None)
    document.pop("id", None)
    key = {"tenant_id": record.tenant_id, "event_id": event.id, "endpoint_id": endpoint_id}
    # Two dispatchers racing: the other's insert is the delivery.
    with contextlib.suppress(DuplicateKeyError):
        await WebhookDelivery.get_pymongo_collection().update_one(
            key, {"$setOnInsert": document}, upsert=True
        )
