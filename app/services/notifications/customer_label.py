"""What a return's customer is shown of its prepaid label (their emails, the status page): the
label only while it can be used, and links only to web addresses. Never the cost, the carrier's
error or its ids."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.models.return_request import TRACKING_ORDER, ReturnShipment, ShipmentStatus

# Bought, and possibly moving: a label the customer has (tracking goes forward along these).
LABEL_BOUGHT = frozenset(TRACKING_ORDER)
# A label method's label not bought yet: "being prepared", "will follow".
LABEL_NOT_BOUGHT = frozenset(
    {ShipmentStatus.AWAITING_REQUEST, ShipmentStatus.LABEL_PENDING, ShipmentStatus.LABEL_FAILED}
)


def web_url(url: str | None) -> str | None:
    """`url` when it is a web address (http or https, as carriers give them): nothing else is
    linked (no `javascript:`, no `data:`)."""
    text = (url or "").strip()
    parts = urlsplit(text)
    return text if parts.scheme in ("https", "http") and parts.netloc else None


def usable_label(shipment: ReturnShipment | None) -> ReturnShipment | None:
    """The shipment when its label can be used: bought (or already moving), neither voided nor
    being voided (the return was canceled), with a label to print."""
    if (
        shipment is None
        or shipment.status not in LABEL_BOUGHT
        or shipment.void_due_at is not None
        or web_url(shipment.label_url) is None
    ):
        return None
    return shipment


def tracked(shipment: ReturnShipment | None) -> ReturnShipment | None:
    """The shipment when its parcel's tracking means something to the customer: bought and
    not given back (a parcel lost on the way is still tracked)."""
    if shipment is None or shipment.void_due_at is not None:
        return None
    moving = shipment.status in LABEL_BOUGHT or shipment.status is ShipmentStatus.FAILURE
    return shipment if moving else None
