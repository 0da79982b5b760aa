"""`returns`: a customer's return of items from one order, with its full history."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from beanie import DecimalAnnotation, Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from app.clock import utcnow
from app.models.money import DEFAULT_CURRENCY
from app.models.return_policy import LabelPayer, ResolutionType, ReturnMethod


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    RECEIVED = "received"
    RESOLVED = "resolved"
    CANCELED = "canceled"


# Statuses whose items still count against what the order can return.
ACTIVE_RETURN_STATUSES = frozenset(
    {ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.RESOLVED}
)


class ReturnReason(StrEnum):
    """Shopify's ReturnReason enum."""

    COLOR = "color"
    DEFECTIVE = "defective"
    NOT_AS_DESCRIBED = "not_as_described"
    OTHER = "other"
    SIZE_TOO_LARGE = "size_too_large"
    SIZE_TOO_SMALL = "size_too_small"
    STYLE = "style"
    UNKNOWN = "unknown"
    UNWANTED = "unwanted"
    WRONG_ITEM = "wrong_item"


class ReturnSource(StrEnum):
    """Where the return was asked for."""

    PORTAL = "portal"  # the customer, through the portal's createReturn
    SHOPIFY = "shopify"  # staff in Shopify admin (adopted from a `returns/*` webhook)


class ItemCondition(StrEnum):
    NEW = "new"
    OPENED = "opened"
    DAMAGED = "damaged"
    MISSING = "missing"


class ReturnItem(BaseModel):
    line_item_id: str
    title: str = ""
    sku: str | None = None
    variant_id: str | None = None
    product_id: str | None = None
    product_type: str | None = None
    quantity: int
    reason: ReturnReason
    note: str | None = None
    unit_price: DecimalAnnotation = Decimal("0")
    unit_discount: DecimalAnnotation = Decimal("0")
    condition: ItemCondition | None = None
    restock: bool | None = None
    photo_ids: list[str] = Field(default_factory=list)  # `return_photos` the customer sent


class ReturnTransition(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    actor: str  # "customer", "staff:<principal>", "system"
    from_status: ReturnStatus | None = None
    to_status: ReturnStatus
    note: str | None = None


class ReturnOutcome(BaseModel):
    resolution_type: ResolutionType
    currency: str = DEFAULT_CURRENCY
    items_total: DecimalAnnotation = Decimal("0")
    restocking_fee: DecimalAnnotation = Decimal("0")
    return_shipping_fee: DecimalAnnotation = Decimal("0")
    # A prepaid label the customer pays for: its cost, deducted after the fees Shopify knows
    # (Shopify's suggested outcome never includes it; the mirror pays that much less).
    label_fee: DecimalAnnotation = Decimal("0")
    refund_amount: DecimalAnnotation = Decimal("0")
    store_credit_amount: DecimalAnnotation = Decimal("0")  # refund base + bonus
    store_credit_bonus: DecimalAnnotation = Decimal("0")  # the part credited on top
    exchange_variant_id: str | None = None
    exchange_total: DecimalAnnotation = Decimal("0")  # the exchange's price x units
    exchange_discount: DecimalAnnotation = Decimal("0")  # the part of a dearer one absorbed
    balance_due: DecimalAnnotation = Decimal("0")  # what the customer owes for a dearer one
    # The tax paid back with the items, as Shopify computes it for the returned lines: recorded
    # by the mirror before it pays (again by a retry while Shopify shows nothing paid); None until
    # then.
    tax: DecimalAnnotation | None = None
    # Where items that come back resellable are restocked (a Shopify Location GID), from the
    # policy when the return was resolved; None leaves the items awaiting a disposition.
    restock_location_id: str | None = None
    # Computed by a version that settles store credit and exchanges in Shopify; outcomes older
    # than that were settled by hand (only their card refunds are paid by the mirror).
    pays_in_shopify: bool = False


class RefundTransaction(BaseModel):
    """One payment of the order given back: Shopify's REFUND transaction and its parent."""

    shopify_transaction_id: str  # GID of the REFUND transaction
    # GID of the SALE/CAPTURE it gives back; None for a refund to store credit
    parent_transaction_id: str | None = None
    gateway: str
    amount: DecimalAnnotation


class ReturnRefund(BaseModel):
    """The money Shopify paid back when it processed the return, as Shopify recorded it."""

    shopify_refund_id: str  # GID
    amount: DecimalAnnotation
    currency: str
    transactions: list[RefundTransaction] = Field(default_factory=list)
    processed_at: datetime


class ReturnExchange(BaseModel):
    """The variant sent instead of the returned items, priced on Shopify when the customer
    asked; what Shopify made of it once processed (the order's new line items, the exchange's
    fulfillment order, held while the customer owes a balance)."""

    variant_id: str  # GID
    title: str = ""
    quantity: int
    unit_price: DecimalAnnotation
    total: DecimalAnnotation  # unit price x quantity
    absorbed: DecimalAnnotation = Decimal("0")  # the policy's discount on a dearer exchange
    shopify_line_item_ids: list[str] = Field(default_factory=list)
    fulfillment_order_id: str | None = None
    fulfillment_status: str | None = None  # Shopify's: OPEN, ON_HOLD, CLOSED, ...
    hold_reasons: list[str] = Field(default_factory=list)  # e.g. AWAITING_PAYMENT


class StoreCreditBonus(BaseModel):
    """The store-credit bonus credited on top of a store-credit refund, through Shopify's
    `storeCreditAccountCredit` (Shopify has no idempotency key for it): `requested_at` is
    written before the credit is sent, so an attempt whose answer was lost looks for that credit
    on the customer's account instead of sending a second one."""

    amount: DecimalAnnotation
    currency: str
    requested_at: datetime | None = None
    shopify_transaction_id: str | None = None  # GID of the credit transaction, once credited
    shopify_account_id: str | None = None
    credited_at: datetime | None = None


class ReturnRisk(BaseModel):
    """What the customer returned before this return, over the policy's window (returns not
    declined or canceled), and whether the tenant's serial-returner rule flags it."""

    window_days: int
    returns_count: int = 0
    units: int = 0
    value: DecimalAnnotation = Decimal("0")  # in the return's currency (other currencies left out)
    ordered_units: int = 0  # units the customer ordered over the window
    rate: float | None = None  # units / ordered_units; None without orders in the window
    flagged: bool = False
    reason: str | None = None


class ShipmentStatus(StrEnum):
    """A return parcel's label and journey. The first three are ours (buying the label); the
    rest follow the carrier's tracking, forward only (`TRACKING_ORDER`)."""

    AWAITING_REQUEST = "awaiting_request"  # bought when staff or the customer ask for it
    LABEL_PENDING = "label_pending"  # to be bought once the return is approved (the outbox)
    LABEL_FAILED = "label_failed"  # the purchase failed for good: `error` says why
    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILURE = "failure"  # lost, returned to sender, undeliverable
    VOIDED = "voided"  # the unused label was given back to the carrier (refunded)


# Tracking moves a shipment only forward along this order; DELIVERED and FAILURE are final.
TRACKING_ORDER: tuple[ShipmentStatus, ...] = (
    ShipmentStatus.LABEL_CREATED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED,
)


class TrackingUpdate(BaseModel):
    """One tracking status the carrier reported, as applied."""

    status: ShipmentStatus
    at: datetime  # the carrier's time of the update
    message: str | None = None


class ReturnShipment(BaseModel):
    """The return parcel's prepaid label, bought from the carrier through an outbox on the
    return itself: `next_attempt_at` is set while a purchase is due (claimed under the lease,
    which doubles as its retry time), `void_due_at` while an unused label is to be voided."""

    status: ShipmentStatus
    payer: LabelPayer = LabelPayer.MERCHANT
    drop_off: bool = False  # box-free drop-off: only carriers that give a QR code
    carrier: str | None = None
    service: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    label_url: str | None = None
    qr_code_url: str | None = None
    cost: DecimalAnnotation | None = None
    cost_currency: str | None = None
    # The carrier's ids: the shipment is recorded before it is bought, so a retry after a lost
    # answer reads it back instead of buying a second label.
    carrier_shipment_id: str | None = None
    # What that shipment was made from (addresses, weight), so a retry after the shop changed
    # them makes a new one rather than buying on the old (`labels.shipment_key`).
    carrier_shipment_key: str | None = None
    tracker_id: str | None = None
    attempts: int = 0
    error: str | None = None
    next_attempt_at: datetime | None = None
    void_due_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    tracking: list[TrackingUpdate] = Field(default_factory=list)
    shopify_reverse_delivery_id: str | None = None
    # When the mirror recorded that it is sending the reverse delivery (before sending it): an
    # attempt that finds none on Shopify waits until that send cannot still be on its way.
    shopify_delivery_requested_at: datetime | None = None
    # Shopify refused to attach the label (its userErrors): shown, never blocking the return's
    # own sync (a refund must not wait on a label's reverse delivery).
    shopify_delivery_error: str | None = None
    purchased_at: datetime | None = None
    delivered_at: datetime | None = None
    voided_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ShopifySyncStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


class ShopifySync(BaseModel):
    """Intent to mirror the latest decision to Shopify's Returns API, performed after the write."""

    status: ShopifySyncStatus = ShopifySyncStatus.PENDING
    action: str  # "request" | "approve" | "decline" | "process" | "cancel"
    attempts: int = 0
    error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ShopifyRequestedLine(BaseModel):
    fulfillment_line_item_id: str  # Shopify GID
    quantity: int


class ReturnEventType(StrEnum):
    """What happened to a return, as merchants' systems are told (`type` of a delivery)."""

    REQUESTED = "return.requested"
    APPROVED = "return.approved"
    DECLINED = "return.declined"
    RECEIVED = "return.received"
    RESOLVED = "return.resolved"
    CANCELED = "return.canceled"
    # Not a status: the prepaid label was bought (the customer's email carries it).
    LABEL_CREATED = "return.label_created"


class ReturnEvent(BaseModel):
    """An event of the return not yet handed to its notifications (the outbox, kept on the
    return itself: written by the same update as the status it reports)."""

    id: str  # "evt_<hex>": one per event, the deliveries' `webhook-id` derives from it
    type: ReturnEventType
    at: datetime


# Every due time is after this: the dispatcher's claim filters `$gte` it, which matches the
# partial index's filter (a bare range on a date would not be known to imply it).
EVENTS_DUE_SINCE = datetime(1970, 1, 1, tzinfo=UTC)


class Return(Document):
    tenant_id: str
    order_id: str  # the order's Shopify id, as in the runbook ("5813364687033")
    order_number: str
    customer_email: str  # lower-cased
    status: ReturnStatus = ReturnStatus.REQUESTED
    source: ReturnSource = ReturnSource.PORTAL
    items: list[ReturnItem]
    return_method: ReturnMethod
    resolution_type: ResolutionType
    exchange_variant_id: str | None = None
    exchange: ReturnExchange | None = None  # priced on Shopify when asked (connected shops)
    currency: str = DEFAULT_CURRENCY  # the order's, copied so resolving needs no order read
    # The policy's restocking fee when the customer asked (None: returns older than this field,
    # which take the policy's when resolved); sent to Shopify with the return's lines.
    restocking_fee_percent: DecimalAnnotation | None = None
    # The policy's return shipping fee when the customer asked, in the return's currency (None:
    # returns older than this field, which were shown none); sent to Shopify with the request.
    return_shipping_fee: DecimalAnnotation | None = None
    order_created_at: datetime | None = None
    # Its units are counted in the order's return ledger, so a decline or cancel gives them back.
    ledger_reserved: bool = False
    # Declined/canceled but its units not yet given back to the ledger: set by the same update
    # that changes the status, cleared by the (single) release; a sweeper finishes crashed ones.
    ledger_release_pending: bool = False
    decline_reason: str | None = None
    risk: ReturnRisk | None = None  # computed when the customer asked
    outcome: ReturnOutcome | None = None
    shopify_return_id: str | None = None
    # The lines of a `returnRequest` sent to Shopify whose answer may have been lost: recorded
    # before the request, so a retry adopts the return Shopify created instead of a second one.
    shopify_requested_lines: list[ShopifyRequestedLine] | None = None
    # When they were recorded: until `shopify_mirror.SEND_IN_FLIGHT` has passed, a request
    # Shopify does not show may still be on its way, and no other attempt sends one.
    shopify_requested_at: datetime | None = None
    shopify_sync: ShopifySync | None = None
    shopify_applied: list[str] = Field(default_factory=list)  # mirror steps Shopify has seen
    # Written once, from what Shopify answers (or shows when its answer was lost).
    refund: ReturnRefund | None = None
    store_credit_bonus: StoreCreditBonus | None = None
    shipment: ReturnShipment | None = None  # a prepaid label's purchase and tracking
    history: list[ReturnTransition] = Field(default_factory=list)
    # The outbox of its notifications: events pushed by the write that made them, taken off by
    # the dispatcher once their deliveries exist (`services/notifications/dispatch.py`);
    # `events_due_at` is set while any are pending (the dispatcher's claim, and its lease).
    pending_events: list[ReturnEvent] = Field(default_factory=list)
    events_due_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None

    @property
    def reference(self) -> str:
        """What customers and staff call it: the order number and the end of the id, e.g.
        `R1001-5C1A2B` (the id's last six digits are its counter: distinct within an order)."""
        return f"R{self.order_number.lstrip('#')}-{str(self.id)[-6:].upper()}"

    class Settings:
        name = "returns"
        use_revision = False
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("created_at", DESCENDING)],
                # MongoDB's default name, so the old runbook's createIndex is a no-op
                name="tenant_id_1_created_at_-1",
            ),
            IndexModel([("tenant_id", ASCENDING), ("order_id", ASCENDING)], name="tenant_order"),
            # One return of ours per Shopify return: a return adopted from Shopify admin by two
            # deliveries at once is inserted once.
            IndexModel(
                [("tenant_id", ASCENDING), ("shopify_return_id", ASCENDING)],
                name="tenant_shopify_return",
                unique=True,
                partialFilterExpression={"shopify_return_id": {"$type": "string"}},
            ),
            # One return of ours per store-credit bonus credit: two workers that both find the
            # same credit after lost answers cannot both adopt it (the second retries).
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    ("store_credit_bonus.shopify_transaction_id", ASCENDING),
                ],
                name="tenant_bonus_credit",
                unique=True,
                partialFilterExpression={
                    "store_credit_bonus.shopify_transaction_id": {"$type": "string"}
                },
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                name="tenant_status_created",
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("customer_email", ASCENDING)], name="tenant_email"
            ),
            IndexModel(
                [("tenant_id", ASCENDING), ("order_created_at", ASCENDING)],
                name="tenant_order_created",
            ),
            # The ledger's unledgered-returns scan and rebuild (equality fields first).
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    ("order_number", ASCENDING),
                    ("status", ASCENDING),
                    ("ledger_reserved", ASCENDING),
                ],
                name="tenant_order_number_status_ledgered",
            ),
            # Releases interrupted by a crash: only returns with a pending release are indexed.
            IndexModel(
                [("ledger_release_pending", ASCENDING), ("updated_at", ASCENDING)],
                name="ledger_release_pending",
                partialFilterExpression={"ledger_release_pending": True},
            ),
            # The Shopify mirror worker's queue: only returns with a pending sync are indexed.
            IndexModel(
                [("shopify_sync.status", ASCENDING), ("shopify_sync.lease_expires_at", ASCENDING)],
                name="shopify_sync_pending",
                partialFilterExpression={"shopify_sync.status": "pending"},
            ),
            # Its claim of a sync re-queued by a decision (attempts reset, no lease owner), which
            # skips the back-off; without it that claim reads every pending sync (migration 9).
            IndexModel(
                [("shopify_sync.attempts", ASCENDING), ("shopify_sync.lease_owner", ASCENDING)],
                name="shopify_sync_requeued",
                partialFilterExpression={"shopify_sync.status": "pending"},
            ),
            # The label worker's purchases: approved returns whose label is due (migration 12).
            IndexModel(
                [("status", ASCENDING), ("shipment.next_attempt_at", ASCENDING)],
                name="shipment_label_due",
                partialFilterExpression={"shipment.status": ShipmentStatus.LABEL_PENDING.value},
            ),
            # ... and its voids: labels of canceled returns (or switched methods) to give back.
            IndexModel(
                [("shipment.void_due_at", ASCENDING)],
                name="shipment_void_due",
                partialFilterExpression={"shipment.void_due_at": {"$gte": EVENTS_DUE_SINCE}},
            ),
            # A carrier's tracking event names its tracker, not the shop: looked up across
            # tenants by the tracker id (unique per carrier account), like a shop domain.
            # Sparse, not partial: SecantusDB plans an equality lookup on a partial `$type`
            # index as a collection scan (76 ms at 2,000 returns); returns without a shipment
            # are left out all the same.
            IndexModel([("shipment.tracker_id", ASCENDING)], name="shipment_tracker", sparse=True),
            # The notification dispatcher's queue: only returns with pending events (migration 10).
            IndexModel(
                [("events_due_at", ASCENDING)],
                name="events_due",
                partialFilterExpression={"events_due_at": {"$gte": EVENTS_DUE_SINCE}},
            ),
        ]
