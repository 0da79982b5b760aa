"""Returns that staff handle in Shopify admin, brought here (the `returns/*` webhooks).

The handler gives this module the return as Shopify shows it now (read from the Admin API, never
from the webhook's topic or body: those are not signed). Then:

- A return of ours (`shopify_return_id`) follows Shopify forward only: approved there (OPEN) ->
  APPROVED here, declined -> DECLINED (with Shopify's note), canceled -> CANCELED, each through
  the same conditional update as a merchant's decision, with history actor `shopify` and nothing
  queued for the mirror. A status ours already has is an echo of our own mirror call (or a
  duplicate delivery) and changes nothing. A return processed in Shopify admin (CLOSED) while
  ours is not resolved moves on to RESOLVED here (approved and received first where needed,
  actor `shopify`), with what Shopify refunded as its outcome and the refund recorded; the
  processing counts as a step Shopify has seen, so the mirror pays nothing more.
- A return we do not hold, still REQUESTED or OPEN on Shopify, may be the answer to our own
  `returnRequest` that the mirror has not recorded yet (lost, or not back yet): it is matched
  with the lines the mirror recorded before sending, and its id recorded on ours. Otherwise
  (created in Shopify admin) it is adopted: a return of `source: shopify` for the same lines, its units counted in the order's
  ledger, Shopify's return id recorded (unique per tenant, so two deliveries adopt it once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from beanie import PydanticObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models import Order, Return
from app.models.bson import to_bson
from app.models.money import round_to_minor_unit
from app.models.return_policy import ResolutionType, ReturnMethod
from app.models.return_request import (
    ReturnOutcome,
    ReturnReason,
    ReturnRefund,
    ReturnSource,
    ReturnStatus,
    ReturnTransition,
    ShopifySyncStatus,
)
from app.models.transactions import in_transaction
from app.services.returns.create import returned_item
from app.services.returns.events import queue_creation_events
from app.services.returns.ledger import ensure_ledger, reserve, units_by_line
from app.services.returns.refund_allocation import STORE_CREDIT_GATEWAY
from app.services.returns.resolution import items_total
from app.services.returns.shopify_mirror import refund_due, refund_from_node
from app.services.returns.state_machine import ReturnAction, allowed_from, target_of
from app.services.returns.transitions import apply_shopify_decision
from app.services.shopify_values import numeric_id

SHOPIFY_ACTOR = "shopify"
# Shopify's return status -> what staff did there, as one of our decisions.
FOLLOWED: dict[str, ReturnAction] = {
    "OPEN": ReturnAction.APPROVE,
    "DECLINED": ReturnAction.DECLINE,
    "CANCELED": ReturnAction.CANCEL,
}
ADOPTED_STATUSES = {"REQUESTED": ReturnStatus.REQUESTED, "OPEN": ReturnStatus.APPROVED}


class OrderNotHeldYet(Exception):
    """The return's order has not reached us yet (its webhook or sync is on the way), or a
    request of ours to Shopify on that order is in flight (the return may be ours): retry."""


@dataclass(frozen=True, slots=True)
class ShopifyReturnLine:
    line_item_id: str
    fulfillment_line_item_id: str  # GID
    quantity: int
    reason: ReturnReason
    note: str | None


@dataclass(frozen=True, slots=True)
class ShopifyReturn:
    """A return as Shopify shows it (`app/shopify/documents/returns.SHOPIFY_RETURN`)."""

    gid: str
    status: str
    order_id: str  # numeric
    lines: list[ShopifyReturnLine]
    decline_note: str | None
    refunds: list[ReturnRefund] = field(default_factory=list)

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> ShopifyReturn:
        lines = []
        for line in (node.get("returnLineItems") or {}).get("nodes") or []:
            fulfilled = line.get("fulfillmentLineItem") or {}
            item = fulfilled.get("lineItem") or {}
            reason = str(line.get("returnReason") or "UNKNOWN").lower()
            lines.append(
                ShopifyReturnLine(
                    line_item_id=numeric_id(item.get("id")) or "",
                    fulfillment_line_item_id=str(fulfilled.get("id") or ""),
                    quantity=int(line.get("quantity") or 0),
                    reason=ReturnReason(reason)
                    if reason in ReturnReason.__members__.values()
                    else ReturnReason.UNKNOWN,
                    note=(str(line.get("customerNote") or "").strip() or None),
                )
            )
        decline = node.get("decline") or {}
        return cls(
            gid=str(node["id"]),
            status=str(node.get("status") or ""),
            order_id=numeric_id((node.get("order") or {}).get("id")) or "",
            lines=lines,
            refunds=[
                refund_from_node(refund)
                for refund in (node.get("refunds") or {}).get("nodes") or []
            ],
            decline_note=(str(decline.get("note") or "").strip() or None),
        )


async def apply_shopify_return(tenant_id: str, shopify: ShopifyReturn) -> str:
    """Bring what we hold in line with `shopify`; says what it did (the event's result).
    Raises `OrderNotHeldYet` when an adoptable return's order is not here yet."""
    ours = await Return.get_pymongo_collection().find_one(
        {"tenant_id": tenant_id, "shopify_return_id": shopify.gid}, {"status": 1}
    )
    if ours is not None:
        return await _follow(tenant_id, ours["_id"], ReturnStatus(ours["status"]), shopify)
    if shopify.status not in ADOPTED_STATUSES:
        return f"ignored: not ours, and already {shopify.status} on Shopify"
    return await _adopt(tenant_id, shopify)


async def record_shopify_refund(tenant_id: str, shopify: ShopifyReturn, refund_gid: str) -> str:
    """A refund Shopify made on one of our returns (`refunds/create`): recorded on ours when it
    is resolved, shows no refund yet, and the refund pays at least what ours is due (the items,
    and their tax once recorded: `refund_due`) (staff refunded it in admin after our mirror could not, or the echo of the mirror's
    own refund before the mirror recorded it: the same refund either way, and neither records a
    second). A smaller refund is left unrecorded, so the mirror flags the return as processed
    without its refund instead of taking it as paid. Says what it did."""
    refund = next(
        (found for found in shopify.refunds if found.shopify_refund_id == refund_gid), None
    )
    if refund is None:
        return f"ignored: Shopify shows no refund {refund_gid} on return {shopify.gid}"
    mine = {
        "tenant_id": tenant_id,
        "shopify_return_id": shopify.gid,
        "status": ReturnStatus.RESOLVED.value,
        "refund": None,
    }
    ours = await Return.find_one(mine)
    if ours is None or ours.outcome is None:
        return "echo: the refund is recorded, or the return is not resolved here"
    owed = refund_due(ours)  # the items, and their tax once the mirror recorded it
    if refund.currency != ours.outcome.currency or refund.amount < owed:
        return (
            f"ignored: refund {refund.amount} {refund.currency} is less than the {owed}"
            f" {ours.outcome.currency} due here (the mirror reports the return)"
        )
    # `updated_at` is left alone: it guards a mirror attempt in flight, which may then settle.
    result = await Return.get_pymongo_collection().update_one(
        {**mine, "_id": ours.id}, {"$set": {"refund": to_bson(refund)}}
    )
    if result.modified_count:
        return f"recorded: refund {refund.amount} {refund.currency} on the return"
    return "echo: the refund is recorded, or the return is not resolved here"


async def _follow(
    tenant_id: str, oid: PydanticObjectId, current: ReturnStatus, shopify: ShopifyReturn
) -> str:
    action = FOLLOWED.get(shopify.status)
    if action is None:
        if shopify.status == "CLOSED" and current in PROCESSED_FROM:
            return await _resolve_processed(tenant_id, oid, current, shopify)
        return f"echo: {shopify.status} on Shopify, {current.value} here"
    if current is target_of(action):
        return f"echo: already {current.value}"
    if current not in allowed_from(action):
        return f"ignored: {shopify.status} on Shopify, {current.value} here"
    extra = {"decline_reason": shopify.decline_note} if action is ReturnAction.DECLINE else None
    result = await apply_shopify_decision(
        tenant_id, oid, action, SHOPIFY_ACTOR, "Decided in Shopify admin.", extra
    )
    if result.record is None:
        return f"ignored: {result.user_errors[0].message if result.user_errors else 'raced'}"
    return f"applied: {result.record.status.value} (from Shopify admin)"


# Ours can follow a return processed in Shopify admin from these, through the steps after them.
PROCESSED_FROM = {
    ReturnStatus.REQUESTED: [ReturnAction.APPROVE, ReturnAction.RECEIVE, ReturnAction.RESOLVE],
    ReturnStatus.APPROVED: [ReturnAction.RECEIVE, ReturnAction.RESOLVE],
    ReturnStatus.RECEIVED: [ReturnAction.RESOLVE],
}


def processed_outcome(record: Return, shopify: ShopifyReturn) -> ReturnOutcome:
    """What a return processed in Shopify admin came to: Shopify's refunds of it in the return's
    currency, to store credit (gateway `shopify_store_credit`) or to the payments, with the
    items' value as we price them. No fee is invented: what Shopify kept is theirs to show."""
    currency = record.currency
    zero = round_to_minor_unit(Decimal(0), currency)
    to_payments, to_store_credit = zero, zero
    for refund in shopify.refunds:
        if refund.currency != currency:
            continue
        credited = sum(
            (t.amount for t in refund.transactions if t.gateway == STORE_CREDIT_GATEWAY), zero
        )
        to_store_credit += credited
        to_payments += refund.amount - credited
    return ReturnOutcome(
        resolution_type=record.resolution_type,
        currency=currency,
        items_total=items_total(record.items, currency),
        restocking_fee=zero,
        refund_amount=to_payments,
        store_credit_amount=to_store_credit,
        exchange_variant_id=record.exchange_variant_id,
    )


async def _resolve_processed(
    tenant_id: str, oid: PydanticObjectId, current: ReturnStatus, shopify: ShopifyReturn
) -> str:
    """Staff processed our return in Shopify admin: ours follows to RESOLVED, recording what
    Shopify paid, and the mirror counts the processing as done (nothing is paid twice)."""
    result = None
    for action in PROCESSED_FROM[current]:
        extra: dict[str, Any] | None = None
        if action is ReturnAction.RESOLVE:
            record = await Return.find_one({"_id": oid, "tenant_id": tenant_id})
            if record is None:
                return "ignored: the return is gone"
            outcome = processed_outcome(record, shopify)
            # (the step is recorded as one Shopify has seen, so the mirror never processes it)
            extra = {"outcome": to_bson(outcome), "resolved_at": utcnow()}
            if record.refund is None and shopify.refunds:
                extra["refund"] = to_bson(shopify.refunds[0])
        result = await apply_shopify_decision(
            tenant_id, oid, action, SHOPIFY_ACTOR, "Processed in Shopify admin.", extra
        )
        if result.record is None:
            return f"ignored: {result.user_errors[0].message if result.user_errors else 'raced'}"
    paid = ", ".join(f"{refund.amount} {refund.currency}" for refund in shopify.refunds)
    return f"applied: resolved (processed in Shopify admin; refunded {paid or 'nothing'})"


async def _claim_our_request(tenant_id: str, shopify: ShopifyReturn) -> bool:
    """Whether `shopify` is the return one of our requests created whose answer we have not
    recorded yet (the mirror records the lines before sending, the id after the answer): then
    its id is recorded on ours now, and it is not adopted as a second return of the same units.
    A request whose sync failed (its answers lost) may still claim it when its lines match.
    `OrderNotHeldYet` while a request of ours on the order is pending and none matches."""
    collection = Return.get_pymongo_collection()
    in_flight = await collection.find(
        {
            "tenant_id": tenant_id,
            "order_id": shopify.order_id,
            "shopify_return_id": None,
            "shopify_requested_lines": {"$type": "array"},
            # Pending, or failed after its answers were lost (a resync finds it much later): a
            # request Shopify refused created nothing, so only matching lines can claim.
            "shopify_sync.status": {
                "$in": [ShopifySyncStatus.PENDING.value, ShopifySyncStatus.FAILED.value]
            },
        },
        {"shopify_requested_lines": 1, "shopify_sync.status": 1},
    ).to_list(None)
    if not in_flight:
        return False
    wanted = units_by_line(
        [(line.fulfillment_line_item_id, line.quantity) for line in shopify.lines]
    )
    for doc in in_flight:
        sent = units_by_line(
            [
                (str(line.get("fulfillment_line_item_id")), int(line.get("quantity") or 0))
                for line in doc.get("shopify_requested_lines") or []
            ]
        )
        if sent != wanted:
            continue
        claimed = await collection.update_one(
            {"_id": doc["_id"], "tenant_id": tenant_id, "shopify_return_id": None},
            {
                "$set": {"shopify_return_id": shopify.gid},
                # An exchange's returnCreate opens it: approved on Shopify too.
                "$addToSet": {
                    "shopify_applied": {
                        "$each": ["request", *(["approve"] if shopify.status == "OPEN" else [])]
                    }
                },
            },
        )
        if claimed.matched_count == 1:
            return True
    pending = ShopifySyncStatus.PENDING.value
    if any((doc.get("shopify_sync") or {}).get("status") == pending for doc in in_flight):
        raise OrderNotHeldYet(f"a request of ours on order {shopify.order_id} is in flight")
    return False  # only failed requests of ours, none of them this one


async def _adopt(tenant_id: str, shopify: ShopifyReturn) -> str:
    order = await Order.find_one({"tenant_id": tenant_id, "shopify_id": shopify.order_id})
    if order is None:
        raise OrderNotHeldYet(f"order {shopify.order_id} of {shopify.gid} is not here yet")
    if await _claim_our_request(tenant_id, shopify):
        return "echo: our own request; its Shopify id recorded"
    lines = {line.id: line for line in order.line_items}
    wanted = units_by_line([(line.line_item_id, line.quantity) for line in shopify.lines])
    unknown = sorted(set(wanted) - set(lines))
    if unknown or not wanted:
        return f"ignored: lines {', '.join(unknown) or '(none)'} are not on order {order.name}"
    now = utcnow()
    status = ADOPTED_STATUSES[shopify.status]
    history = [
        ReturnTransition(
            at=now, actor=SHOPIFY_ACTOR, to_status=ReturnStatus.REQUESTED, note="In Shopify admin."
        )
    ]
    if status is ReturnStatus.APPROVED:
        history.append(
            ReturnTransition(
                at=now,
                actor=SHOPIFY_ACTOR,
                from_status=ReturnStatus.REQUESTED,
                to_status=ReturnStatus.APPROVED,
            )
        )
    record = Return(
        id=PydanticObjectId(),
        tenant_id=tenant_id,
        order_id=order.shopify_id,
        order_number=order.order_number,
        customer_email=(order.email or "").strip().lower(),
        status=status,
        source=ReturnSource.SHOPIFY,
        items=[
            returned_item(lines[line.line_item_id], line.quantity, line.reason, line.note)
            for line in shopify.lines
        ],
        return_method=ReturnMethod.CUSTOMER_SHIPS,
        resolution_type=ResolutionType.REFUND,
        currency=order.currency,
        order_created_at=order.created_at,
        # Fees on a return made in Shopify admin are Shopify's; ours charges none on top.
        restocking_fee_percent=Decimal(0),
        return_shipping_fee=Decimal(0),
        shopify_return_id=shopify.gid,
        shopify_applied=["request", *(["approve"] if status is ReturnStatus.APPROVED else [])],
        history=history,
        created_at=now,
        updated_at=now,
    )
    queue_creation_events(record)
    limits = {line_id: lines[line_id].fulfilled_quantity for line_id in wanted}
    await ensure_ledger(tenant_id, order.shopify_id, order.order_number)

    async def reserve_and_insert(session: AsyncClientSession) -> None:
        # Units another of our returns holds stay held: the adopted return is kept all the
        # same (Shopify took it), uncounted, and says so.
        record.ledger_reserved = await reserve(
            tenant_id, order.order_number, wanted, limits, session
        )
        if not record.ledger_reserved:
            record.history[0].note = "In Shopify admin; its units are also held by another return."
        await record.insert(session=session)

    database = Return.get_pymongo_collection().database
    try:
        await in_transaction(database.client, database.name, tenant_id, reserve_and_insert)
    except DuplicateKeyError:
        return "echo: already adopted"
    return f"adopted: {status.value} (created in Shopify admin)"
