"""A return's events: what its notifications (merchants' webhooks) report.

The outbox is the return itself: the write that moves a return (its insert, or a transition's
one conditional update) also pushes the event and sets `events_due_at`, so an event exists
exactly when its change does (no second write that a crash could lose, no transaction), and the
transition waits on no receiver. The dispatcher (`services/notifications/dispatch.py`) turns
pending events into deliveries, then takes them off.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.models.bson import to_bson
from app.models.return_request import Return, ReturnEvent, ReturnEventType, ReturnStatus

EVENT_OF_STATUS: dict[ReturnStatus, ReturnEventType] = {
    ReturnStatus.REQUESTED: ReturnEventType.REQUESTED,
    ReturnStatus.APPROVED: ReturnEventType.APPROVED,
    ReturnStatus.DECLINED: ReturnEventType.DECLINED,
    ReturnStatus.RECEIVED: ReturnEventType.RECEIVED,
    ReturnStatus.RESOLVED: ReturnEventType.RESOLVED,
    ReturnStatus.CANCELED: ReturnEventType.CANCELED,
}


def new_event(status: ReturnStatus, at: datetime) -> ReturnEvent:
    """The event of a return reaching `status`."""
    return ReturnEvent(id=f"evt_{uuid.uuid4().hex}", type=EVENT_OF_STATUS[status], at=at)


def label_event(at: datetime) -> ReturnEvent:
    """The event of a return's prepaid label being bought (queued by the label's own write)."""
    return ReturnEvent(id=f"evt_{uuid.uuid4().hex}", type=ReturnEventType.LABEL_CREATED, at=at)


def queue_creation_events(record: Return) -> None:
    """A new return's events, one per status of its history (requested, and approved when
    created approved), queued on it before its insert."""
    now = utcnow()
    record.pending_events = [new_event(entry.to_status, now) for entry in record.history]
    record.events_due_at = now if record.pending_events else None


def event_update(event: ReturnEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`$set`, `$push`) parts that queue `event` in the return's own update."""
    return {"events_due_at": event.at}, {"pending_events": to_bson(event)}
