"""Prepaid return labels, bought and voided through an outbox on the return itself.

A return asked for with a label method (`PREPAID_LABEL`, or `DROP_OFF`: box-free, QR code)
gets a `shipment` when it is created (`plan_shipment`): `label_pending` (bought once the return
is approved) or `awaiting_request` (bought when staff or the customer ask). Approving writes
nothing more: the approval itself makes the purchase claimable, so the mutation never waits for
the carrier. `LabelWorker` then claims one due purchase (or void) under a lease, and:

- buys **at most one label per shipment**: the carrier's shipment id is recorded before anything
  is bought; a retry (lost answer, crash, lease taken over) reads that shipment back and records
  the label it already has instead of buying again (the carrier also refuses a second purchase);
- chooses the cheapest rate among the carriers and services the shop allows (a drop-off return:
  only carriers that give a QR code);
- records the label and re-queues the Shopify mirror, which attaches it to the return's reverse
  fulfillment order (`reverseDeliveryCreateWithShipping`);
- voids the label of a return canceled (or switched to another method) before the parcel
  moves; a label already moving is kept, with the reason.
Failures stay visible on the shipment (`error`) and are retried with back-off; a failure that
cannot pass (no return address, no allowed rate, an address the carrier refuses) or too many
attempts leave it `label_failed`, and `createReturnLabel` tries again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.carriers.easypost import (
    Address,
    CarrierError,
    EasyPostClient,
    Label,
    Shipment,
    cheapest_rate,
)
from app.clock import utcnow
from app.models import Order, Return
from app.models.bson import to_bson
from app.models.return_policy import LabelPayer, LabelTiming, ReturnMethod, ShippingSettings
from app.models.return_request import (
    EVENTS_DUE_SINCE,
    ReturnShipment,
    ReturnStatus,
    ShipmentStatus,
    ShopifySyncStatus,
    TrackingUpdate,
)
from app.services.returns.events import event_update, label_event
from app.services.returns.policy_store import load_policy
from app.services.returns.shopify_mirror import MirrorAction, mirror_requeue

logger = logging.getLogger("app.shipping.labels")

LABEL_METHODS = frozenset({ReturnMethod.PREPAID_LABEL, ReturnMethod.DROP_OFF})
# A purchase is about three carrier calls of at most 15 s each.
LEASE_SECONDS = 120
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 10.0
RETRY_MAX_SECONDS = 3600.0
CLAIM_CANDIDATES = 5
MAX_ERROR_LENGTH = 500
# A shipment whose label can still be voided (nothing moved yet) when its return is canceled.
VOIDABLE = (
    ShipmentStatus.AWAITING_REQUEST,
    ShipmentStatus.LABEL_PENDING,
    ShipmentStatus.LABEL_FAILED,
    ShipmentStatus.LABEL_CREATED,
)
# A return whose label may be bought: approved, its label not being given up (a cancel or a
# method switched since the claim's read, checked again by the claim and before the purchase).
PURCHASABLE: dict[str, Any] = {"status": "approved", "shipment.void_due_at": None}
# A parcel on its way: its label can no longer be voided.
MOVING = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY)
# The carrier client of the runner (None: no carrier account configured).
CarrierFactory = Callable[[], EasyPostClient | None]


class LabelFailure(Exception):
    """A purchase or void that failed; `final`: trying again cannot help until someone acts."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def plan_shipment(
    method: ReturnMethod, shipping: ShippingSettings, now: datetime
) -> ReturnShipment | None:
    """The shipment a new return starts with: none unless the method ships a label."""
    if method not in LABEL_METHODS:
        return None
    on_approval = shipping.label_timing is LabelTiming.ON_APPROVAL
    return ReturnShipment(
        status=ShipmentStatus.LABEL_PENDING if on_approval else ShipmentStatus.AWAITING_REQUEST,
        payer=shipping.label_payer,
        drop_off=method is ReturnMethod.DROP_OFF,
        next_attempt_at=now if on_approval else None,
        updated_at=now,
    )


def cancel_voids(now: datetime) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(filter, $set) pairs a cancel adds to its own update, one per state of the label: one
    not yet moving is to be voided (written by the same update as the status, so a crash right
    after cannot leave a paid label behind); one already moving is kept, and says why."""
    return [
        (
            {"shipment.status": {"$in": [status.value for status in VOIDABLE]}},
            {"shipment.void_due_at": now, "shipment.attempts": 0, "shipment.updated_at": now},
        ),
        (
            {"shipment.status": {"$in": [status.value for status in MOVING]}},
            {
                "shipment.error": "label not voided: the parcel is already in transit",
                "shipment.updated_at": now,
            },
        ),
    ]


def _customer_address(order: Order | None) -> Address:
    shipping = order.shipping_address if order is not None else None
    if shipping is None:
        raise LabelFailure("the order has no shipping address to send the label from", final=True)
    country = shipping.country_code or (
        shipping.country if shipping.country and len(shipping.country) == 2 else None
    )
    missing = [
        name
        for name, value in (
            ("street", shipping.address1),
            ("city", shipping.city),
            ("postal code", shipping.zip),
            ("country", country),
        )
        if not value
    ]
    if missing:
        raise LabelFailure("the order's shipping address has no " + ", ".join(missing), final=True)
    assert shipping.address1 and shipping.city and shipping.zip and country
    return Address(
        name=shipping.name or "Customer",
        street1=shipping.address1,
        street2=shipping.address2,
        city=shipping.city,
        state=shipping.province_code or shipping.province,
        zip=shipping.zip,
        country=country,
        phone=shipping.phone,
    )


def _shop_address(shipping: ShippingSettings) -> Address:
    address = shipping.return_address
    if address is None:
        raise LabelFailure(
            "the shop has no return address yet (updateReturnPolicy, shipping.returnAddress)",
            final=True,
        )
    return Address(
        name=address.name,
        company=address.company,
        street1=address.street1,
        street2=address.street2,
        city=address.city,
        state=address.province,
        zip=address.zip,
        country=address.country_code,
        phone=address.phone,
    )


def shipment_key(customer: Address, shop: Address, weight_oz: Decimal) -> str:
    """What a carrier shipment was made from, as a short digest (compared, never read)."""
    made_from = [customer.as_json(), shop.as_json(), str(weight_oz)]
    return hashlib.sha256(json.dumps(made_from, sort_keys=True).encode()).hexdigest()[:32]


def _from_carrier(exc: CarrierError) -> LabelFailure:
    return LabelFailure(str(exc), final=not exc.transient)


@dataclass(slots=True)
class _Claim:
    raw: dict[str, Any]
    void: bool  # a void, else a purchase


class LabelWorker:
    """Claims one due purchase or void at a time; any number may run against one database."""

    idle_seconds = 1.0  # an approval's label is bought within about a second

    def __init__(
        self, worker_id: str, carrier_for: CarrierFactory, name: str = "return-labels"
    ) -> None:
        self.worker_id = worker_id
        self.carrier_for = carrier_for
        self.name = name
        self._turn = 0

    @property
    def _returns(self) -> Any:
        return Return.get_pymongo_collection()

    async def run_once(self) -> bool:
        claim = await self._claim()
        if claim is None:
            return False
        record = Return.model_validate(claim.raw)
        if claim.void:
            await self._void(record)
        else:
            await self._purchase(record)
        return True

    async def _claim(self) -> _Claim | None:
        """Read a few due candidates, then lease one with a conditional update that lands only
        while its shipment is as read (no other claim or write since)."""
        now = utcnow()
        queues: list[tuple[bool, str, dict[str, Any]]] = [
            (
                False,
                "next_attempt_at",
                {
                    "status": ReturnStatus.APPROVED.value,
                    "shipment.status": ShipmentStatus.LABEL_PENDING.value,
                    "shipment.next_attempt_at": {"$lte": now},
                    # Not one being given up (its method switched): only voided from now on.
                    "shipment.void_due_at": None,
                },
            ),
            (
                True,
                "void_due_at",
                {"shipment.void_due_at": {"$lte": now, "$gte": EVENTS_DUE_SINCE}},
            ),
        ]
        first = self._turn % len(queues)
        self._turn += 1
        for void, due_field, query in queues[first:] + queues[:first]:
            candidates: list[dict[str, Any]] = await self._returns.find(
                query, limit=CLAIM_CANDIDATES
            ).to_list(None)
            random.shuffle(candidates)
            for seen in candidates:
                shipment = seen["shipment"]
                held_until = shipment.get("lease_expires_at")
                if held_until is not None and held_until.replace(tzinfo=UTC) > now:
                    # Another worker holds it (a purchase while a void is due, or the reverse):
                    # one worker at a time per shipment, so a void never races a purchase.
                    continue
                lease_end = now + timedelta(seconds=LEASE_SECONDS)
                lease = {
                    "shipment.lease_owner": self.worker_id,
                    "shipment.lease_expires_at": lease_end,
                    # The lease doubles as the retry time: due again only if this worker dies.
                    f"shipment.{due_field}": lease_end,
                }
                claimed = await self._returns.update_one(
                    {
                        "_id": seen["_id"],
                        "tenant_id": seen["tenant_id"],
                        f"shipment.{due_field}": shipment.get(due_field),
                        "shipment.status": shipment.get("status"),
                        "shipment.lease_owner": shipment.get("lease_owner"),
                        "shipment.lease_expires_at": held_until,
                        **(PURCHASABLE if not void else {}),
                    },
                    {"$set": lease, "$inc": {"shipment.attempts": 1}},
                )
                if claimed.matched_count == 1:
                    shipment.update(
                        lease_owner=self.worker_id,
                        lease_expires_at=lease_end,
                        attempts=int(shipment.get("attempts") or 0) + 1,
                    )
                    shipment[due_field] = lease_end
                    return _Claim(seen, void)
        return None

    def _mine(self, record: Return) -> dict[str, Any]:
        return {
            "_id": record.id,
            "tenant_id": record.tenant_id,
            "shipment.lease_owner": self.worker_id,
        }

    async def _record(self, record: Return, fields: dict[str, Any], **extra: Any) -> bool:
        """`$set` shipment fields while the lease is ours; False when it was lost."""
        now = utcnow()
        update: dict[str, Any] = {
            "$set": {
                **{f"shipment.{key}": value for key, value in fields.items()},
                "shipment.updated_at": now,
                "updated_at": now,
                **extra.pop("also", {}),
            }
        }
        if push := extra.pop("push", None):
            update["$push"] = push
        done = await self._returns.update_one(
            {**self._mine(record), **extra.pop("where", {})}, update
        )
        return bool(done.matched_count == 1)

    async def _purchase(self, record: Return) -> None:
        shipment = record.shipment
        assert shipment is not None
        try:
            label, carrier_shipment_id = await self._buy(record, shipment)
        except LabelFailure as exc:
            if not exc.final and shipment.attempts >= MAX_ATTEMPTS:
                # The last try: the carrier may have bought it and lost the answer. Read it
                # back once before giving up, so a paid label is never left unseen.
                found = await self._read_back(shipment)
                if found is not None:
                    await self._label_bought(record, found, str(shipment.carrier_shipment_id))
                    return
            await self._failed(record, shipment, str(exc), final=exc.final)
            return
        except Exception as exc:  # recorded on the shipment and retried, never lost
            logger.exception("buying the label of return %s failed", record.id)
            await self._failed(record, shipment, f"{type(exc).__name__}: {exc}", final=False)
            return
        await self._label_bought(record, label, carrier_shipment_id)

    async def _read_back(self, shipment: ReturnShipment) -> Label | None:
        """The label on the recorded carrier shipment, if one was bought; None otherwise or
        when the carrier cannot say now."""
        carrier = self.carrier_for()
        if carrier is None or shipment.carrier_shipment_id is None:
            return None
        try:
            found = await carrier.retrieve_shipment(shipment.carrier_shipment_id)
        except CarrierError:
            return None
        return found.label

    async def _buy(self, record: Return, shipment: ReturnShipment) -> tuple[Label, str]:
        carrier = self.carrier_for()
        if carrier is None:
            raise LabelFailure("no carrier account is configured (EASYPOST_API_KEY)", final=True)
        policy = await load_policy(record.tenant_id)
        if policy is None:
            raise LabelFailure("the shop is gone", final=True)
        settings = policy.shipping
        order = await Order.find_one({"tenant_id": record.tenant_id, "shopify_id": record.order_id})
        try:
            found = None
            if shipment.carrier_shipment_id is not None:
                # An earlier attempt got this far: what it bought (if its answer was lost) is
                # on the carrier's shipment.
                found = await carrier.retrieve_shipment(shipment.carrier_shipment_id)
            if found is not None and found.label is not None:
                # Bought by an attempt whose answer was lost.
                return await self._with_qr_code(carrier, shipment, found), found.id
            customer, shop = _customer_address(order), _shop_address(settings)
            key = shipment_key(customer, shop, settings.parcel_weight_oz)
            if found is None or key != shipment.carrier_shipment_key:
                # None yet, or nothing bought on one made from other addresses or weight (the
                # shop changed them since): a new one from the settings as they are now.
                found = await carrier.create_return_shipment(
                    customer=customer,
                    shop=shop,
                    weight_oz=settings.parcel_weight_oz,
                    reference=f"{record.tenant_id}:{record.id}",
                )
                # Recorded before buying: a retry finds this shipment instead of making one more.
                recorded = {"carrier_shipment_id": found.id, "carrier_shipment_key": key}
                if not await self._record(record, recorded):
                    raise LabelFailure("lease lost before buying", final=False)
                shipment.carrier_shipment_id = found.id  # what a last try reads back
            if found.label is None:
                allowed = [(item.carrier, item.service) for item in settings.allowed_services]
                rate = cheapest_rate(found.rates, allowed, drop_off=shipment.drop_off)
                if rate is None:
                    offered = ", ".join(sorted({f"{r.carrier} {r.service}" for r in found.rates}))
                    kind = (
                        "allowed drop-off (QR code) rate" if shipment.drop_off else "allowed rate"
                    )
                    raise LabelFailure(
                        f"the carrier offered no {kind} (offered: {offered or 'none'})",
                        final=True,
                    )
                # Still ours, still wanted (not canceled, not switched away) right before money
                # moves: a cancel after this point is a void of what was bought.
                if not await self._record(record, {}, where=PURCHASABLE):
                    raise LabelFailure(
                        "the label is no longer wanted, or the lease was lost", final=False
                    )
                found = await carrier.buy(found.id, rate.id)
            if found.label is None:
                raise LabelFailure("the carrier shows no label after the purchase", final=False)
            return await self._with_qr_code(carrier, shipment, found), found.id
        except CarrierError as exc:
            raise _from_carrier(exc) from exc

    async def _with_qr_code(
        self, carrier: EasyPostClient, shipment: ReturnShipment, found: Shipment
    ) -> Label:
        """The label, with its QR code for a drop-off (made after the purchase: asked for until
        it is there; a retry reads the label back and asks again)."""
        assert found.label is not None
        if not shipment.drop_off or found.label.qr_code_url is not None:
            return found.label
        with_code = await carrier.qr_code(found.id)
        if with_code.label is None or with_code.label.qr_code_url is None:
            raise LabelFailure("the carrier made no QR code for the drop-off", final=False)
        return with_code.label

    async def _label_bought(self, record: Return, label: Label, carrier_shipment_id: str) -> None:
        now = utcnow()
        fields = {
            "status": ShipmentStatus.LABEL_CREATED.value,
            "carrier": label.carrier,
            "service": label.service,
            "tracking_number": label.tracking_number,
            "tracking_url": label.tracking_url,
            "label_url": label.label_url,
            "qr_code_url": label.qr_code_url,
            "cost": to_bson(label.cost),
            "cost_currency": label.currency,
            "carrier_shipment_id": carrier_shipment_id,
            "tracker_id": label.tracker_id,
            "error": None,
            "attempts": 0,  # a void counts its own
            "next_attempt_at": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "purchased_at": now,
            "tracking": [to_bson(TrackingUpdate(status=ShipmentStatus.LABEL_CREATED, at=now))],
        }
        # The customer is told (email with the label, merchants' webhooks): queued by this write.
        event_set, event_push = event_update(label_event(now))
        pending = ShipmentStatus.LABEL_PENDING.value
        # Shopify shows the label too: the mirror attaches it to the return's reverse
        # fulfillment order (unless the shop's sync failed for good: staff retry that).
        mirrored = await self._record(
            record,
            fields,
            where={
                "shipment.status": pending,
                "shopify_sync.status": {
                    "$in": [ShopifySyncStatus.PENDING.value, ShopifySyncStatus.SYNCED.value]
                },
            },
            also={**mirror_requeue(MirrorAction.DELIVERY, now), **event_set},
            push=event_push,
        )
        if not mirrored and not await self._record(
            record, fields, where={"shipment.status": pending}, also=event_set, push=event_push
        ):
            logger.warning(
                "return %s: label %s bought but not recorded (lease lost); a retry reads it back",
                record.id,
                label.tracking_number,
            )

    async def _failed(
        self, record: Return, shipment: ReturnShipment, error: str, *, final: bool
    ) -> None:
        final = final or shipment.attempts >= MAX_ATTEMPTS
        logger.warning(
            "label of return %s not bought (%s): %s",
            record.id,
            "final" if final else "retried",
            error,
        )
        next_at = None if final else utcnow() + timedelta(seconds=retry_delay(shipment.attempts))
        await self._record(
            record,
            {
                "status": (
                    ShipmentStatus.LABEL_FAILED if final else ShipmentStatus.LABEL_PENDING
                ).value,
                "error": error[:MAX_ERROR_LENGTH],
                "next_attempt_at": next_at,
                "lease_owner": None,
                "lease_expires_at": None,
            },
            where={"shipment.status": ShipmentStatus.LABEL_PENDING.value},
        )

    async def _void(self, record: Return) -> None:
        shipment = record.shipment
        assert shipment is not None
        try:
            voided = await self._give_back(shipment)
        except Exception as exc:  # recorded on the shipment and retried, never lost
            # Only a refusal ends the void (the parcel moved); anything else is tried again,
            # backing off to hourly: a paid label of a canceled return is never left as is.
            final = isinstance(exc, LabelFailure) and exc.final
            if not isinstance(exc, LabelFailure):
                logger.exception("voiding the label of return %s failed", record.id)
            fields: dict[str, Any] = {
                "error": f"label not voided: {exc}"[:MAX_ERROR_LENGTH],
                "lease_owner": None,
                "lease_expires_at": None,
                "void_due_at": None
                if final
                else utcnow() + timedelta(seconds=retry_delay(shipment.attempts)),
            }
            await self._record(record, fields)
            return
        if voided is not None:
            # Bought by an attempt whose answer was lost: recorded, so the return shows what
            # was paid and voided.
            fields = {
                "carrier": voided.carrier,
                "service": voided.service,
                "tracking_number": voided.tracking_number,
                "label_url": voided.label_url,
                "cost": to_bson(voided.cost),
                "cost_currency": voided.currency,
            }
        else:
            fields = {}
        await self._record(
            record,
            {
                **fields,
                "status": ShipmentStatus.VOIDED.value,
                "voided_at": utcnow(),
                "void_due_at": None,
                "next_attempt_at": None,
                "error": None,
                "lease_owner": None,
                "lease_expires_at": None,
            },
            # Not over a tracking update that landed during the refund call.
            where={"shipment.status": {"$in": [status.value for status in VOIDABLE]}},
        )

    async def _give_back(self, shipment: ReturnShipment) -> Label | None:
        """Void the label if one was bought; the label that was, if any. Nothing bought (no
        carrier shipment, or one without a label): nothing to give back."""
        if shipment.status not in VOIDABLE:
            raise LabelFailure(f"the parcel is already {shipment.status.value}", final=True)
        if shipment.carrier_shipment_id is None:
            return None
        carrier = self.carrier_for()
        if carrier is None:
            raise LabelFailure("no carrier account is configured (EASYPOST_API_KEY)", final=False)
        try:
            found = await carrier.retrieve_shipment(shipment.carrier_shipment_id)
            if found.label is None:
                return None
            if found.refund_status not in ("submitted", "refunded"):
                await carrier.void(found.id)
        except CarrierError as exc:
            raise _from_carrier(exc) from exc
        return found.label


def shipment_reset(status: ShipmentStatus, now: datetime, previous: ReturnShipment | None) -> Any:
    """A fresh shipment to buy a new label (after a failure, a void, or for a return asked for
    without one), keeping who pays and whether it is a drop-off."""
    fresh = ReturnShipment(
        status=status,
        payer=previous.payer if previous else LabelPayer.MERCHANT,
        drop_off=previous.drop_off if previous else False,
        next_attempt_at=now if status is ShipmentStatus.LABEL_PENDING else None,
        updated_at=now,
    )
    return to_bson(fresh)


def label_fee(shipment: ReturnShipment | None, currency: str) -> Decimal:
    """What a customer-paid label costs the customer, in the return's currency (a label
    priced in another currency, or not bought, costs them nothing here)."""
    if (
        shipment is None
        or shipment.payer is not LabelPayer.CUSTOMER
        or shipment.cost is None
        or shipment.cost_currency != currency
        or shipment.status is ShipmentStatus.VOIDED
    ):
        return Decimal(0)
    return shipment.cost


# A label may be asked for again from these: nothing bought yet, given back, or failed.
REQUESTABLE = (ShipmentStatus.AWAITING_REQUEST, ShipmentStatus.LABEL_FAILED, ShipmentStatus.VOIDED)


async def request_label(tenant_id: str, oid: Any, now: datetime | None = None) -> Return | None:
    """Ask for a return's label now (a shop that buys labels on request, a purchase that
    failed, a label voided, or a return asked for before labels were set up): one conditional
    update per form the shipment may be in, so two requests at once queue one purchase. The
    label is bought once the return is approved. None when nothing could be asked for (the
    caller says why)."""
    moment = now or utcnow()
    returns = Return.get_pymongo_collection()
    mine = {
        "_id": oid,
        "tenant_id": tenant_id,
        "status": {"$in": [ReturnStatus.REQUESTED.value, ReturnStatus.APPROVED.value]},
        "return_method": {"$in": [method.value for method in LABEL_METHODS]},
    }
    due = {
        "shipment.status": ShipmentStatus.LABEL_PENDING.value,
        "shipment.next_attempt_at": moment,
        "shipment.attempts": 0,
        "shipment.error": None,
        "shipment.updated_at": moment,
        "updated_at": moment,
    }
    found = await returns.find_one(mine, {"return_method": 1, "shipment": 1})
    if found is None:
        return None
    shipment = found.get("shipment")
    status = ShipmentStatus(shipment["status"]) if shipment else None
    guard: dict[str, Any]
    if status is ShipmentStatus.LABEL_FAILED:
        # A failed purchase keeps its carrier shipment: what it may have bought is read back.
        guard, to_set = {"shipment.status": status.value}, due
    elif status is None or status in REQUESTABLE:
        previous = ReturnShipment.model_validate(shipment) if shipment else None
        if previous is None:
            policy = await load_policy(tenant_id)
            previous = ReturnShipment(
                status=ShipmentStatus.LABEL_PENDING,
                payer=policy.shipping.label_payer if policy else LabelPayer.MERCHANT,
                drop_off=found["return_method"] == ReturnMethod.DROP_OFF.value,
            )
        guard = {"shipment.status": status.value} if status else {"shipment": None}
        to_set = {
            "shipment": shipment_reset(ShipmentStatus.LABEL_PENDING, moment, previous),
            "updated_at": moment,
        }
    else:
        return None
    done = await returns.update_one({**mine, **guard}, {"$set": to_set})
    if done.matched_count != 1:
        return None
    raw = await returns.find_one({"_id": oid, "tenant_id": tenant_id})
    return Return.model_validate(raw) if raw else None


async def change_method(
    tenant_id: str, oid: Any, method: ReturnMethod, now: datetime | None = None
) -> tuple[Return | None, str | None]:
    """Switch a REQUESTED or APPROVED return to another method: (the return, None), or (None,
    why not). Away from a label: a label not yet moving is voided (the worker gives it back).
    To a label method: one is planned as for a new request (bought once approved, or when asked
    for). Between the two label methods: only before a label is bought (void it first by
    switching to CUSTOMER_SHIPS). One conditional update on the return and its shipment as read,
    so a purchase landing meanwhile makes it fail rather than be overwritten."""
    moment = now or utcnow()
    returns = Return.get_pymongo_collection()
    open_statuses = [ReturnStatus.REQUESTED.value, ReturnStatus.APPROVED.value]
    found = await returns.find_one(
        {"_id": oid, "tenant_id": tenant_id}, {"status": 1, "return_method": 1, "shipment": 1}
    )
    if found is None:
        return None, None
    if found["status"] not in open_statuses:
        return None, f"Cannot change the method of a return that is {found['status']}."
    shipment = ReturnShipment.model_validate(found["shipment"]) if found.get("shipment") else None
    label_state = shipment.status if shipment else None
    to_set: dict[str, Any] = {"return_method": method.value, "updated_at": moment}
    if method not in LABEL_METHODS:
        if label_state in MOVING:
            return None, "The parcel is already on its way back with its label."
        if label_state in VOIDABLE:
            to_set |= {
                "shipment.void_due_at": moment,
                "shipment.attempts": 0,
                "shipment.updated_at": moment,
            }
    elif label_state is None or label_state is ShipmentStatus.VOIDED:
        policy = await load_policy(tenant_id)
        if policy is None:
            return None, None
        to_set["shipment"] = to_bson(plan_shipment(method, policy.shipping, moment))
    elif label_state in (
        ShipmentStatus.LABEL_PENDING,
        ShipmentStatus.AWAITING_REQUEST,
        ShipmentStatus.LABEL_FAILED,
    ):
        to_set |= {
            "shipment.drop_off": method is ReturnMethod.DROP_OFF,
            "shipment.updated_at": moment,
        }
    else:
        return None, (
            "Its label is bought already: switch to CUSTOMER_SHIPS to void it, then to the new "
            "method."
        )
    guard: dict[str, Any] = {
        "_id": oid,
        "tenant_id": tenant_id,
        "status": found["status"],
        "return_method": found["return_method"],
    }
    guard |= {"shipment.status": label_state.value} if label_state else {"shipment": None}
    done = await returns.update_one(guard, {"$set": to_set})
    if done.matched_count != 1:
        return None, "The return changed meanwhile; try again."
    raw = await returns.find_one({"_id": oid, "tenant_id": tenant_id})
    return (Return.model_validate(raw) if raw else None), None
