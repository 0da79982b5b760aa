"""Merchant decisions on a return: approve, decline, receive, resolve, cancel.

Each transition is ONE conditional update: `update_one({_id, tenant_id, status: from},
{$set: {status: to, ...}, $push: {history: ...}})`, then a read of the return for the answer
(which may show a later change already). Two staff deciding at once: the first update matches,
the second matches nothing and is answered INVALID_TRANSITION. Receive and resolve read
the return first to compute what they write, and still guard the write on the status they read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from app.clock import utcnow
from app.models import Return
from app.models.bson import to_bson
from app.models.return_policy import ReturnMethod
from app.models.return_request import (
    ItemCondition,
    ReturnStatus,
    ReturnTransition,
    ShopifySyncStatus,
    StoreCreditBonus,
)
from app.services.returns.errors import ReturnErrorCode, ReturnUserError
from app.services.returns.events import event_update, new_event
from app.services.returns.ledger import release_return_units
from app.services.returns.policy_store import load_policy
from app.services.returns.queries import parse_return_id
from app.services.returns.resolution import compute_outcome
from app.services.returns.shopify_mirror import (
    MirrorAction,
    announce_mirror_work,
    mirror_intent,
    mirror_requeue,
    shopify_connected,
)
from app.services.returns.state_machine import (
    RELEASES_UNITS,
    ReturnAction,
    allowed_from,
    can,
    target_of,
)
from app.services.shipping.labels import (
    LABEL_METHODS,
    cancel_voids,
    change_method,
    label_fee,
    request_label,
)
from app.services.shopify_values import numeric_id

MAX_NOTE_LENGTH = 1000

_MIRRORED: dict[ReturnAction, MirrorAction] = {
    ReturnAction.APPROVE: MirrorAction.APPROVE,
    ReturnAction.DECLINE: MirrorAction.DECLINE,
    ReturnAction.RESOLVE: MirrorAction.PROCESS,
    ReturnAction.CANCEL: MirrorAction.CANCEL,
}


@dataclass(slots=True)
class TransitionResult:
    record: Return | None = None
    user_errors: list[ReturnUserError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ItemReceipt:
    line_item_id: str
    condition: ItemCondition
    restock: bool | None = None  # default: restock what comes back new or opened


def _not_found() -> TransitionResult:
    return TransitionResult(
        user_errors=[ReturnUserError(["id"], ReturnErrorCode.NOT_FOUND, "No such return.")]
    )


def _invalid(action: ReturnAction, status: ReturnStatus) -> TransitionResult:
    return TransitionResult(
        user_errors=[
            ReturnUserError(
                ["id"],
                ReturnErrorCode.INVALID_TRANSITION,
                f"Cannot {action.value} a return that is {status.value}.",
            )
        ]
    )


def _too_long(field_name: str, value: str | None) -> TransitionResult | None:
    if value is not None and len(value) > MAX_NOTE_LENGTH:
        return TransitionResult(
            user_errors=[
                ReturnUserError(
                    [field_name], ReturnErrorCode.TOO_LONG, f"At most {MAX_NOTE_LENGTH} characters."
                )
            ]
        )
    return None


async def _apply(
    tenant_id: str,
    oid: ObjectId,
    action: ReturnAction,
    actor: str,
    note: str | None,
    *,
    from_statuses: tuple[ReturnStatus, ...] | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
    from_shopify: bool = False,
) -> TransitionResult:
    """One conditional update from each allowed status in turn. `from_shopify`: the decision
    was taken in Shopify admin, so nothing is queued for the mirror and the step is recorded as
    one Shopify has seen."""
    collection = Return.get_pymongo_collection()
    target = target_of(action)
    moment = now or utcnow()
    to_set: dict[str, Any] = {"status": target.value, "updated_at": moment, **(extra or {})}
    if target in RELEASES_UNITS:
        # Marked in the same write as the status, so a crash before the release below leaves a
        # flag `ledger.release_pending_units` finishes (units are given back exactly once).
        to_set["ledger_release_pending"] = True
    # (extra filter, extra $set) per form of the update, tried in order, each conditional.
    forms: list[tuple[dict[str, Any], dict[str, Any]]] = [({}, {})]
    mirrored = _MIRRORED.get(action)
    seen_on_shopify: dict[str, Any] = {}
    if from_shopify:
        if mirrored is not None:
            seen_on_shopify = {"$addToSet": {"shopify_applied": mirrored.value}}
    elif mirrored is not None and await shopify_connected(tenant_id):
        forms = [
            # A sync exists: re-queue it field by field, keeping a running worker's lease (so no
            # second worker claims it while the first is inside `returnRequest`).
            ({"shopify_sync": {"$type": "object"}}, mirror_requeue(mirrored, moment)),
            # No sync yet (created before the integration was connected): no lease can exist.
            ({"shopify_sync": None}, {"shopify_sync": mirror_intent(mirrored)}),
        ]
    if action is ReturnAction.CANCEL:
        # A prepaid label not yet moving is voided (one moving says why it is kept): asked for
        # by the cancel's own update. Only the form for the label's state as read is tried
        # first (each is conditional on it), then the plain cancel.
        seen = await collection.find_one({"_id": oid, "tenant_id": tenant_id}, {"shipment": 1})
        label_status = ((seen or {}).get("shipment") or {}).get("status")
        forms = [
            ({**extra_filter, **label_filter}, {**extra_set, **label_set})
            for label_filter, label_set in cancel_voids(moment)
            if label_status in label_filter["shipment.status"]["$in"]
            for extra_filter, extra_set in forms
        ] + forms
    # Its notifications' event, queued by the same update (the return is the outbox: events.py).
    event_set, event_push = event_update(new_event(target, moment))
    for from_status in from_statuses or allowed_from(action):
        entry = ReturnTransition(
            at=moment, actor=actor, from_status=from_status, to_status=target, note=note
        )
        for extra_filter, extra_set in forms:
            # A conditional update, then a read of the return: SecantusDB (development, tests)
            # applies a findAndModify that matched through a collection scan, which made each
            # decision cost a scan of every return; MongoDB pays one more round trip.
            applied = await collection.update_one(
                {"_id": oid, "tenant_id": tenant_id, "status": from_status.value, **extra_filter},
                {
                    "$set": {**to_set, **extra_set, **event_set},
                    "$push": {"history": to_bson(entry), **event_push},
                    **seen_on_shopify,
                },
            )
            raw = None
            if applied.matched_count == 1:
                raw = await collection.find_one({"_id": oid, "tenant_id": tenant_id})
            if raw is not None:
                record = Return.model_validate(raw)
                if record.ledger_release_pending and record.id is not None:
                    await release_return_units(record.id, tenant_id)
                    record.ledger_release_pending = False
                    record.ledger_reserved = False
                return TransitionResult(record=record)
    current = await collection.find_one({"_id": oid, "tenant_id": tenant_id}, {"status": 1})
    if current is None:
        return _not_found()
    return _invalid(action, ReturnStatus(current["status"]))


async def apply_shopify_decision(
    tenant_id: str,
    oid: ObjectId,
    action: ReturnAction,
    actor: str,
    note: str | None,
    extra: dict[str, Any] | None = None,
) -> TransitionResult:
    """A decision staff took in Shopify admin, applied here like a merchant's (one conditional
    update) but not mirrored back: Shopify has it already (`from_shopify.py`)."""
    return await _apply(tenant_id, oid, action, actor, note, extra=extra, from_shopify=True)


def _clean(note: str | None) -> str | None:
    return (note or "").strip() or None


async def _decide(
    tenant_id: str,
    return_id: str,
    action: ReturnAction,
    actor: str,
    text: str | None,
    field: str,
    extra: dict[str, Any] | None = None,
) -> TransitionResult:
    """Approve, decline or cancel: a free-text note (or reason) and one conditional update."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    return _too_long(field, text) or await _apply(
        tenant_id, oid, action, actor, _clean(text), extra=extra
    )


async def approve_return(
    tenant_id: str, return_id: str, actor: str, note: str | None = None
) -> TransitionResult:
    return await _decide(tenant_id, return_id, ReturnAction.APPROVE, actor, note, "note")


async def decline_return(
    tenant_id: str, return_id: str, actor: str, reason: str | None = None
) -> TransitionResult:
    extra = {"decline_reason": _clean(reason)}
    return await _decide(tenant_id, return_id, ReturnAction.DECLINE, actor, reason, "reason", extra)


async def cancel_return(
    tenant_id: str, return_id: str, actor: str, note: str | None = None
) -> TransitionResult:
    return await _decide(tenant_id, return_id, ReturnAction.CANCEL, actor, note, "note")


MAX_BULK_IDS = 100


@dataclass(slots=True)
class BulkResult:
    """The returns a bulk decision moved, and per-id errors (`ids.<index>`) for the others."""

    records: list[Return] = field(default_factory=list)
    user_errors: list[ReturnUserError] = field(default_factory=list)


async def bulk_decide(
    tenant_id: str,
    return_ids: list[str],
    action: ReturnAction,
    actor: str,
    text: str | None = None,
) -> BulkResult:
    """Approve or decline up to `MAX_BULK_IDS` returns, each on its own (one conditional update
    per return, as a single decision): one that cannot move is reported at its index and
    stops none of the others. The same id twice counts once."""
    if action not in (ReturnAction.APPROVE, ReturnAction.DECLINE):
        raise ValueError(f"no bulk {action.value}")
    text_field = "reason" if action is ReturnAction.DECLINE else "note"
    if len(return_ids) > MAX_BULK_IDS:
        problem = f"At most {MAX_BULK_IDS} returns at once; {len(return_ids)} given."
        return BulkResult(
            user_errors=[ReturnUserError(["ids"], ReturnErrorCode.OUT_OF_RANGE, problem)]
        )
    too_long = _too_long(text_field, text)
    if too_long is not None:
        return BulkResult(user_errors=too_long.user_errors)
    extra = {"decline_reason": _clean(text)} if action is ReturnAction.DECLINE else None
    result = BulkResult()
    seen: set[str] = set()
    for index, return_id in enumerate(return_ids):
        if return_id in seen:
            continue
        seen.add(return_id)
        oid = parse_return_id(return_id)
        one = (
            _not_found()
            if oid is None
            else await _apply(tenant_id, oid, action, actor, _clean(text), extra=extra)
        )
        if one.record is not None:
            result.records.append(one.record)
        result.user_errors.extend(
            ReturnUserError(["ids", str(index)], error.code, error.message)
            for error in one.user_errors
        )
    return result


async def _current(tenant_id: str, oid: ObjectId) -> Return | None:
    return await Return.find_one({"_id": oid, "tenant_id": tenant_id})


async def mark_return_received(
    tenant_id: str,
    return_id: str,
    actor: str,
    receipts: list[ItemReceipt] | None = None,
    note: str | None = None,
) -> TransitionResult:
    """Record what came back (condition, restock) and move APPROVED -> RECEIVED."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    record = await _current(tenant_id, oid)
    if record is None:
        return _not_found()
    if not can(ReturnAction.RECEIVE, record.status):
        return _invalid(ReturnAction.RECEIVE, record.status)
    items = [item.model_copy() for item in record.items]
    by_line = {item.line_item_id: item for item in items}
    errors: list[ReturnUserError] = []
    seen: set[str] = set()
    for index, receipt in enumerate(receipts or []):
        line_id = numeric_id(receipt.line_item_id) or ""
        item = by_line.get(line_id)
        path = ["items", str(index), "line_item_id"]
        if item is None:
            errors.append(
                ReturnUserError(
                    path, ReturnErrorCode.LINE_ITEM_NOT_FOUND, "This return has no such item."
                )
            )
            continue
        if line_id in seen:
            errors.append(
                ReturnUserError(
                    path, ReturnErrorCode.DUPLICATE_LINE_ITEM, "This item is listed twice."
                )
            )
            continue
        seen.add(line_id)
        item.condition = receipt.condition
        item.restock = (
            receipt.restock
            if receipt.restock is not None
            else receipt.condition in (ItemCondition.NEW, ItemCondition.OPENED)
        )
    if errors:
        return TransitionResult(user_errors=errors)
    if too_long := _too_long("note", note):
        return too_long
    return await _apply(
        tenant_id,
        oid,
        ReturnAction.RECEIVE,
        actor,
        _clean(note),
        from_statuses=(record.status,),
        extra={"items": to_bson(items)},
    )


async def resolve_return(tenant_id: str, return_id: str, actor: str) -> TransitionResult:
    """Compute the outcome under the tenant's current policy (with the restocking fee the
    customer was shown when asking) and move RECEIVED -> RESOLVED."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    record = await _current(tenant_id, oid)
    if record is None:
        return _not_found()
    if not can(ReturnAction.RESOLVE, record.status):
        return _invalid(ReturnAction.RESOLVE, record.status)
    policy = await load_policy(tenant_id)
    if policy is None:
        return _not_found()
    # The fees the customer was shown when asking apply (returns older than the shipping fee
    # were shown none).
    shown: dict[str, Decimal] = {"return_shipping_fee": record.return_shipping_fee or Decimal(0)}
    if record.restocking_fee_percent is not None:
        shown["restocking_fee_percent"] = record.restocking_fee_percent
    policy = policy.model_copy(update=shown)
    outcome = compute_outcome(
        record.resolution_type,
        record.items,
        policy,
        currency=record.currency,
        exchange_variant_id=record.exchange_variant_id,
        exchange=record.exchange,
        label_fee=label_fee(record.shipment, record.currency),
    )
    moment = utcnow()
    return await _apply(
        tenant_id,
        oid,
        ReturnAction.RESOLVE,
        actor,
        None,
        from_statuses=(record.status,),
        extra={
            "outcome": to_bson(outcome),
            "resolved_at": moment,
            # Due from now on; credited on Shopify by the mirror after the store-credit refund.
            "store_credit_bonus": to_bson(
                StoreCreditBonus(amount=outcome.store_credit_bonus, currency=outcome.currency)
            )
            if outcome.store_credit_bonus > 0
            else None,
        },
        now=moment,
    )


async def retry_shopify_sync(tenant_id: str, return_id: str) -> TransitionResult:
    """Queue again a Shopify sync that failed for good (a refund Shopify refused, a line it would
    not return...), once staff have fixed the cause: the mirror then tries from what Shopify
    shows now, so a step Shopify already applied (a refund paid) is never applied twice."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    now = utcnow()
    raw = await Return.get_pymongo_collection().find_one_and_update(
        {"_id": oid, "tenant_id": tenant_id, "shopify_sync.status": ShopifySyncStatus.FAILED.value},
        {
            "$set": {
                "shopify_sync.status": ShopifySyncStatus.PENDING.value,
                "shopify_sync.attempts": 0,
                "shopify_sync.lease_owner": None,
                "shopify_sync.lease_expires_at": None,
                "shopify_sync.updated_at": now,
                "updated_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if raw is not None:
        announce_mirror_work()
        return TransitionResult(record=Return.model_validate(raw))
    mine = {"_id": oid, "tenant_id": tenant_id}
    if await Return.get_pymongo_collection().find_one(mine, {"_id": 1}) is None:
        return _not_found()
    return TransitionResult(
        user_errors=[
            ReturnUserError(
                ["id"],
                ReturnErrorCode.SYNC_NOT_FAILED,
                "Only a Shopify sync that failed can be retried; this one has not failed.",
            )
        ]
    )


async def create_return_label(tenant_id: str, return_id: str) -> TransitionResult:
    """`createReturnLabel`: buy the return's label now, or again (`shipping.labels.request_label`)."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    record = await request_label(tenant_id, oid)
    if record is not None:
        return TransitionResult(record=record)
    current = await _current(tenant_id, oid)
    if current is None:
        return _not_found()
    shipment = current.shipment
    reason = (
        "This return's method ships no label."
        if current.return_method not in LABEL_METHODS
        else f"Cannot ask for a label of a return that is {current.status.value}."
        if current.status not in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
        else f"Its label is {shipment.status.value.replace('_', ' ')} already."
        if shipment is not None
        else "Try again."
    )
    return TransitionResult(
        user_errors=[ReturnUserError(["id"], ReturnErrorCode.LABEL_NOT_AVAILABLE, reason)]
    )


async def change_return_method(
    tenant_id: str, return_id: str, method: ReturnMethod
) -> TransitionResult:
    """`changeReturnMethod`: another way back for a REQUESTED or APPROVED return (a label not
    yet moving is voided; a label method plans its label): `shipping.labels.change_method`."""
    oid = parse_return_id(return_id)
    if oid is None:
        return _not_found()
    record, problem = await change_method(tenant_id, oid, method)
    if record is not None:
        return TransitionResult(record=record)
    if problem is None:
        return _not_found()
    return TransitionResult(
        user_errors=[ReturnUserError(["id"], ReturnErrorCode.LABEL_NOT_AVAILABLE, problem)]
    )
