"""In-memory records of the simulated EasyPost: accounts, shipments, trackers, events, faults,
and the simulated clock."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .config import ScriptStep

JSON = dict[str, Any]

# status -> (status_detail, message) of a tracking detail a step to that status adds, unless the
# step names its own; status_detail values are EasyPost's.
STATUS_TEXT: dict[str, tuple[str, str]] = {
    "unknown": ("unknown", "Status unknown"),
    "pre_transit": ("label_created", "Shipping Label Created"),
    "in_transit": ("arrived_at_facility", "Arrived at Regional Facility"),
    "out_for_delivery": ("out_for_delivery", "Out for Delivery"),
    "delivered": ("arrived_at_destination", "Delivered"),
    "available_for_pickup": ("arrived_at_pickup_location", "Available for Pickup"),
    "return_to_sender": ("return", "Return to Sender Processed"),
    "failure": ("delivery_exception", "Delivery Exception"),
    "cancelled": ("cancelled", "Shipment Cancelled"),
    "error": ("unknown", "Tracking Error"),
}

# Where each status happens: at the sender's address, or at the recipient's.
AT_SENDER = frozenset({"pre_transit", "in_transit", "return_to_sender", "cancelled"})


def new_id(prefix: str) -> str:
    """EasyPost's ids: a type prefix and 32 hex digits (`shp_...`, `rate_...`, `evt_...`)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def stable_id(prefix: str, *parts: str) -> str:
    """The same id for the same parts (a carrier account of an account, say)."""
    return f"{prefix}_{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(parts)).hex}"


def money(amount: Decimal) -> str:
    """EasyPost's money: a decimal string with cents, `"7.58"`."""
    return str(amount.quantize(Decimal("0.01")))


@dataclass
class SimClock:
    """Real time moved forward by what the tests advanced; seconds precision, UTC."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.offset


@dataclass
class Fault:
    """Injected misbehaviour, used up one request (or event, or attempt) at a time."""

    kind: str
    count: int = 1
    seconds: float | None = None  # `timeout`: how long to hold the answer
    status: str | None = None  # `forged`: the tracker status the forged copy claims

    def public(self) -> JSON:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass
class FaultQueues:
    """Queues of faults by key: an API endpoint (or `any`), or a webhook fault kind."""

    queues: dict[str, list[Fault]] = field(default_factory=dict)

    def add(self, key: str, fault: Fault) -> None:
        self.queues.setdefault(key, []).append(fault)

    def take(self, *keys: str) -> Fault | None:
        """Use up one of the first fault queued under the first of `keys` that has one."""
        for key in keys:
            queue = self.queues.get(key)
            if queue:
                fault = queue[0]
                fault.count -= 1
                if fault.count <= 0:
                    queue.pop(0)
                return Fault(fault.kind, 1, fault.seconds, fault.status)
        return None

    def clear(self) -> None:
        self.queues.clear()

    def public(self) -> JSON:
        return {key: [f.public() for f in queue] for key, queue in self.queues.items() if queue}


@dataclass
class WebhookTarget:
    url: str
    secret: str | None

    def public(self) -> JSON:
        return {"url": self.url, "signed": bool(self.secret)}


@dataclass
class Account:
    """One EasyPost user, known by its API key."""

    id: str
    api_key: str
    active: bool = True
    webhook: WebhookTarget | None = None
    charges: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")
    purchases: int = 0
    faults: FaultQueues = field(default_factory=FaultQueues)
    webhook_faults: FaultQueues = field(default_factory=FaultQueues)


@dataclass
class Shipment:
    id: str
    account_id: str
    reference: str | None
    is_return: bool
    to_address: JSON
    from_address: JSON
    parcel: JSON
    options: JSON
    rates: list[JSON]
    created_at: datetime
    updated_at: datetime
    selected_rate: JSON | None = None
    postage_label: JSON | None = None
    tracker_id: str | None = None
    tracking_code: str | None = None
    forms: list[JSON] = field(default_factory=list)
    fees: list[JSON] = field(default_factory=list)
    refund_status: str | None = None
    refund_submitted_at: datetime | None = None
    charged: Decimal = Decimal("0.00")
    purchases: int = 0
    buy_attempts: int = 0


@dataclass
class Tracker:
    id: str
    account_id: str
    shipment_id: str
    tracking_code: str
    carrier: str
    service: str
    purchased_at: datetime
    est_delivery_date: datetime
    from_address: JSON
    to_address: JSON
    public_url: str
    script: list[ScriptStep]
    status: str = "pre_transit"
    status_detail: str = "label_created"
    details: list[JSON] = field(default_factory=list)
    next_step: int = 0
    stopped: bool = False  # voided label, or a test took over with a status jump
    updated_at: datetime | None = None


@dataclass
class EventRecord:
    """An Event as sent (`payload`, `body`: the exact bytes signed) and to whom it went."""

    id: str
    account_id: str
    description: str
    chain: str  # Events of one chain (a tracker) are delivered in the order they happened
    payload: JSON
    body: bytes
    urls: list[str] = field(default_factory=list)
    completed_urls: list[str] = field(default_factory=list)

    def public(self) -> JSON:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "description": self.description,
            "urls": list(self.urls),
            "completed_urls": list(self.completed_urls),
            "payload": self.payload,
        }
