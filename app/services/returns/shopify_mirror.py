"""Mirroring merchant decisions to Shopify's Returns API, never in the merchant's way.

The decision is written to our database first; when the tenant's Shopify integration is connected
the same conditional update sets `shopify_sync = {status: pending, action}` (an outbox entry on the
return). A background worker (`ReturnMirrorWorker`) claims pending returns with a lease and brings
Shopify's return to our status: `returnRequest` first if Shopify has no return yet, then
`returnApproveRequest` / `returnDeclineRequest` / `returnCancel` / `returnProcess` as the status
requires, recording `synced` or `failed` (with the error) on the return. A Shopify outage therefore
delays the mirror but never fails or slows a mutation.

Failures: transient ones (5xx, timeouts, throttling, integration not connected) keep the sync
`pending` and retry with exponential back-off (the lease doubles as the retry time) until
`MAX_ATTEMPTS`; Shopify's `userErrors` and lines Shopify will not return are `failed` at once with
the message (the same request would be refused again). A step Shopify refuses because its return
is already in the step's target status (an earlier attempt whose answer was lost) counts as done.
A refund Shopify refuses for its payments (`financialTransfer`) is transient: the payments changed
since they were read (two returns of one order paid by two workers at once), and the next attempt
allocates from a fresh read.

Money: a resolved REFUND return's `returnProcess` carries `financialTransfer.issueRefund`, the
refund spread over the order's payments (`refund_allocation`); a STORE_CREDIT return's carries the
refund base as a `storeCreditRefund` refund method, and its bonus is credited on the customer's
store credit account afterwards (`storeCreditAccountCredit`, `_credit_bonus`). Before paying,
Shopify's `suggestedFinancialOutcome` for the lines must agree with ours (items and fees, to the
minor unit); on a mismatch nothing is paid and the sync fails with both amounts. The tax on the
returned lines is paid with them: Shopify's suggested refund less what is due here, at most its
tax for the lines, recorded on the outcome (`ReturnOutcome.tax`) before paying. The refund
Shopify made is read back and recorded on the return (`refund`). At most once: Shopify closes the
return in the same operation that pays, and `_process` reads the return's status before sending,
so a return already closed (an answer lost after Shopify paid, a worker that died before
recording) is only read back; the bonus is recorded as requested before it is sent and looked for
on the customer's account before any second send.

Goods: each processed line carries its disposition from what `markReturnReceived` recorded
(resellable: RESTOCKED at the policy's restock location; otherwise NOT_RESTOCKED; MISSING).

No duplicate Shopify return: the lines of a `returnRequest` are recorded on our return before it
is sent. An attempt that finds them recorded but no Shopify id (the answer was lost, or the
worker or database died before the id was stored) first looks for that return among the order's
returns on Shopify and adopts it; it requests again only when Shopify has none and the request
was recorded over `SEND_IN_FLIGHT` ago (a worker whose lease ran out may still hear back).

The worker takes a per-tenant client factory (`client_for(tenant_id)`); `app/jobs/returns_mirror.py`
wires it to an Admin API client on the tenant's stored token (anything with `async execute(query,
variables)` returning the response's `data` works). The documents are in
`app/shopify/documents/returns.py`.

Claiming: the worker reads a few claimable returns (`claimable`: one indexed query per way a sync
is claimable) and leases one with a conditional update that lands only while its sync is as read,
so exactly one worker holds it. Idle, it polls every `idle_seconds`; a decision queued in the same
process wakes one idle worker at once (`announce_mirror_work`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError, PyMongoError

from app.clock import utcnow
from app.models import Return, ShopifyIntegration
from app.models.bson import to_bson
from app.models.integration import IntegrationStatus
from app.models.return_policy import ResolutionType
from app.models.return_request import (
    ItemCondition,
    RefundTransaction,
    ReturnItem,
    ReturnOutcome,
    ReturnRefund,
    ReturnStatus,
    ShipmentStatus,
    ShopifyRequestedLine,
    ShopifySync,
    ShopifySyncStatus,
    StoreCreditBonus,
)
from app.services.returns.refund_allocation import (
    RefundNotPossible,
    allocate_refund,
    financial_transfer,
    money_input,
    refundable_payments,
    store_credit_transfer,
)
from app.services.shopify_values import money, numeric_id, parse_time, presentment
from app.shopify.client import RetryPolicy
from app.shopify.documents.returns import (
    CUSTOMER_STORE_CREDIT,
    MAX_FULFILLMENT_PAGES,
    ORDER_RETURNS,
    RETURN_APPROVE,
    RETURN_CANCEL,
    RETURN_CREATE,
    RETURN_DECLINE,
    RETURN_EXCHANGE,
    RETURN_PROCESS_PAID,
    RETURN_REFUNDS,
    RETURN_REQUEST,
    RETURN_REVERSE_DELIVERIES,
    RETURN_STATE,
    RETURN_STATE_LINES,
    RETURN_SUGGESTED_OUTCOME,
    RETURNABLE_FULFILLMENTS,
    REVERSE_DELIVERY_CREATE,
    STORE_CREDIT_CREDIT,
)

logger = logging.getLogger("app.returns.mirror")

# A claim outlives a push: about 10 Admin API calls (more when an order has many fulfillments),
# each bounded by MIRROR_RETRY.
LEASE_SECONDS = 300
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 3600.0
# The outbox retries failed pushes itself, so one call gives up sooner than the client's default.
MIRROR_RETRY = RetryPolicy(max_attempts=3, max_retry_time=15.0, read_timeout=15.0)


def retry_delay(attempts: int) -> float:
    """Seconds before a failed push is tried again (after `attempts` tries)."""
    return float(min(2**attempts * RETRY_BASE_SECONDS, RETRY_MAX_SECONDS))


class MirrorAction(StrEnum):
    REQUEST = "request"
    APPROVE = "approve"
    DECLINE = "decline"
    RECEIVE = "receive"
    PROCESS = "process"
    CANCEL = "cancel"
    # The return's prepaid label and tracking attached to its reverse fulfillment order.
    DELIVERY = "delivery"


def mirror_intent(action: MirrorAction) -> dict[str, Any]:
    """The whole `shopify_sync` value recording that `action` should reach Shopify; only for a
    return with no sync yet (no worker can hold a lease on it). Wakes an idle mirror worker of
    this process (`announce_mirror_work`)."""
    encoded: dict[str, Any] = to_bson(ShopifySync(action=action.value))
    announce_mirror_work()
    return encoded


def mirror_requeue(action: MirrorAction, now: datetime) -> dict[str, Any]:
    """`$set` fields re-queueing an existing sync for `action`. The lease is left alone: a worker
    inside a push keeps it (no second worker claims the return meanwhile) and releases it when
    its settle finds the newer decision; `attempts: 0` lets an idle sync be claimed at once.
    Wakes an idle mirror worker of this process (`announce_mirror_work`)."""
    announce_mirror_work()
    return {
        "shopify_sync.status": ShopifySyncStatus.PENDING.value,
        "shopify_sync.action": action.value,
        "shopify_sync.attempts": 0,
        "shopify_sync.updated_at": now,
    }


async def shopify_connected(tenant_id: str) -> bool:
    """Whether decisions should be mirrored (one indexed count on `integrations_shopify`)."""
    count = await ShopifyIntegration.get_pymongo_collection().count_documents(
        {"tenant_id": tenant_id, "status": IntegrationStatus.CONNECTED.value}, limit=1
    )
    return count > 0


class ShopifyGraphQL(Protocol):
    async def execute(
        self, query: str, variables: dict[str, Any], *, may_repeat: bool = True
    ) -> dict[str, Any]: ...


# What Shopify's status is once a step has been applied (a retried step whose first attempt did
# reach Shopify answers INVALID_STATE; if Shopify is already there, the step is done).
REACHED: dict[MirrorAction, frozenset[str]] = {
    MirrorAction.APPROVE: frozenset({"OPEN", "CLOSED"}),
    MirrorAction.DECLINE: frozenset({"DECLINED"}),
    MirrorAction.CANCEL: frozenset({"CANCELED"}),
    MirrorAction.PROCESS: frozenset({"CLOSED"}),
}


class MirrorError(Exception):
    """Shopify refused a step. `permanent`: retrying the same request cannot succeed (userErrors,
    a line Shopify does not consider returnable), so the sync is recorded as failed at once.
    `waiting_until`: nothing failed; an earlier send may still be on its way until then, so the
    attempt is not counted against `MAX_ATTEMPTS`."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        field: list[str] | None = None,
        waiting_until: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.field = field or []  # the refused input's path, as Shopify's userErrors give it
        self.waiting_until = waiting_until


class AttemptSuperseded(MirrorError):
    """This attempt no longer holds the return (its lease ran out, another attempt took over or
    recorded the same send first): it sends nothing more, and records nothing on Shopify's
    behalf. Counted as an attempt, without back-off."""


def created_on_approval(record: Return) -> bool:
    """An exchange priced on Shopify reaches it only once approved, through `returnCreate`
    (open at once, with its exchange line): `returnRequest` takes no exchange lines."""
    return record.resolution_type is ResolutionType.EXCHANGE and record.exchange is not None


def plan_steps(record: Return) -> list[MirrorAction]:
    """What Shopify still needs, in order, to match our status."""
    steps: list[MirrorAction] = []
    done = set(record.shopify_applied)
    if record.shopify_return_id is None:
        if record.status is ReturnStatus.CANCELED:
            if not record.shopify_requested_lines:
                return []  # never sent to Shopify: nothing to cancel
            # A request sent before the cancel may have reached Shopify (its answer lost, or
            # still on its way): looked for, never sent, and canceled there if found.
            return [MirrorAction.REQUEST, MirrorAction.CANCEL]
        if created_on_approval(record):
            if record.status in (ReturnStatus.REQUESTED, ReturnStatus.DECLINED):
                return []  # not approved: nothing to tell Shopify yet, or ever
            done.add(MirrorAction.APPROVE.value)  # returnCreate opens it
        steps.append(MirrorAction.REQUEST)
    by_status = {
        ReturnStatus.REQUESTED: [],
        ReturnStatus.APPROVED: [MirrorAction.APPROVE],
        ReturnStatus.RECEIVED: [MirrorAction.APPROVE],
        ReturnStatus.RESOLVED: [MirrorAction.APPROVE, MirrorAction.PROCESS],
        ReturnStatus.DECLINED: [MirrorAction.DECLINE],
        ReturnStatus.CANCELED: [MirrorAction.CANCEL],
    }
    steps.extend(step for step in by_status[record.status] if step.value not in done)
    if needs_reverse_delivery(record):
        # Once Shopify's return is open (it has its reverse fulfillment order by then), before
        # it is processed (a closed return takes no delivery).
        at = next(
            (index for index, step in enumerate(steps) if step is MirrorAction.PROCESS),
            len(steps),
        )
        steps.insert(at, MirrorAction.DELIVERY)
    return steps


def needs_reverse_delivery(record: Return) -> bool:
    """A label bought here that Shopify does not show yet, on a return open there."""
    shipment = record.shipment
    return (
        shipment is not None
        and shipment.tracking_number is not None
        and shipment.shopify_reverse_delivery_id is None
        and shipment.shopify_delivery_error is None
        and shipment.status is not ShipmentStatus.VOIDED
        and record.status in (ReturnStatus.APPROVED, ReturnStatus.RECEIVED, ReturnStatus.RESOLVED)
        and MirrorAction.PROCESS.value not in record.shopify_applied
    )


def _check(payload: dict[str, Any], key: str) -> dict[str, Any]:
    result = payload.get(key) or {}
    errors = result.get("userErrors") or []
    if errors:
        raise MirrorError(
            f"{key}: {errors[0].get('message')}",
            permanent=True,
            field=[str(part) for part in errors[0].get("field") or []],
        )
    found: dict[str, Any] = result.get("return") or {}
    return found


async def returnable_lines(api: ShopifyGraphQL, order_gid: str) -> dict[str, list[list[Any]]]:
    """Line item id (numeric) -> [[fulfillment line item GID, returnable quantity], ...]."""
    by_line: dict[str, list[list[Any]]] = {}
    after: str | None = None
    for _ in range(MAX_FULFILLMENT_PAGES):
        data = await api.execute(RETURNABLE_FULFILLMENTS, {"orderId": order_gid, "after": after})
        page = data.get("returnableFulfillments") or {}
        for fulfillment in page.get("nodes") or []:
            for node in fulfillment["returnableFulfillmentLineItems"]["nodes"]:
                item = node["fulfillmentLineItem"]
                line_id = numeric_id(item["lineItem"]["id"]) or ""
                by_line.setdefault(line_id, []).append([item["id"], int(node["quantity"])])
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        after = info.get("endCursor")
    return by_line


def request_lines(record: Return, returnable: dict[str, list[list[Any]]]) -> list[dict[str, Any]]:
    """`returnLineItems` for our items, each spread over the fulfillments that shipped it, with
    the restocking fee the customer was shown (so Shopify's suggested outcome charges it too)."""
    fee = record.restocking_fee_percent
    lines: list[dict[str, Any]] = []
    for item in record.items:
        wanted = item.quantity
        for entry in returnable.get(item.line_item_id, []):
            take = min(wanted, entry[1])
            if take <= 0:
                continue
            entry[1] -= take
            wanted -= take
            line: dict[str, Any] = {
                "fulfillmentLineItemId": entry[0],
                "quantity": take,
                "returnReason": item.reason.value.upper(),
                "customerNote": item.note or "",
            }
            if fee:
                line["restockingFee"] = {"percentage": float(fee)}
            lines.append(line)
        if wanted > 0:
            raise MirrorError(
                f"line item {item.line_item_id} is not returnable on Shopify"
                f" ({item.quantity - wanted} of {item.quantity} returnable)",
                permanent=True,
            )
    return lines


def _line_totals(lines: list[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for fulfillment_line_item_id, quantity in lines:
        totals[fulfillment_line_item_id] = totals.get(fulfillment_line_item_id, 0) + quantity
    return totals


async def requested_on_shopify(
    api: ShopifyGraphQL, order_gid: str, sent: list[dict[str, Any]], taken: set[str]
) -> str | None:
    """The id of a return of the order on Shopify with exactly the lines `sent`, that none of our
    other returns holds (`taken`); None if Shopify has none."""
    wanted = _line_totals([(line["fulfillmentLineItemId"], int(line["quantity"])) for line in sent])
    data = await api.execute(ORDER_RETURNS, {"id": order_gid})
    for found in ((data.get("order") or {}).get("returns") or {}).get("nodes") or []:
        if found.get("id") in taken:
            continue
        lines = [
            (str((node.get("fulfillmentLineItem") or {}).get("id")), int(node.get("quantity") or 0))
            for node in (found.get("returnLineItems") or {}).get("nodes") or []
        ]
        if _line_totals(lines) == wanted:
            return str(found["id"])
    return None


class MirrorJournal(Protocol):
    """What `push_return` records on our return as it goes (and reads back)."""

    async def stored_return_id(self) -> str | None:
        """The Shopify id recorded by now (another attempt may have recorded it)."""

    async def sent_request(self) -> tuple[list[dict[str, Any]], datetime | None] | None:
        """The lines of a `returnRequest` an earlier attempt sent, and when, if any."""

    async def taken_return_ids(self) -> set[str]:
        """Shopify ids our other returns of the same order hold."""

    async def sending_request(
        self, lines: list[dict[str, Any]], after: datetime | None
    ) -> datetime:
        """Record the lines before `returnRequest` is sent (durably), and when: only while this
        attempt holds the return and the last request recorded is still the one sent at `after`
        (None: none); `MirrorError` otherwise, and nothing may be sent."""

    async def request_refused(self, at: datetime) -> None:
        """Shopify answered the request recorded at `at` without creating a return."""

    async def sibling_request_in_flight(self, lines: list[dict[str, Any]]) -> datetime | None:
        """Until when another of our returns of the order with these lines, not yet holding a
        Shopify id, may still hear back from its request (None: no such return)."""

    async def step_done(self, step: MirrorAction, shopify_id: str | None) -> None:
        """A step reached Shopify (`shopify_id`: the return's id after REQUEST)."""

    async def refund_paid(self, refund: ReturnRefund) -> None:
        """Record the refund Shopify made (once: an earlier record is kept)."""

    async def tax_planned(self, tax: Decimal) -> None:
        """Record, durably and before paying, the tax this attempt pays back with the items.
        Called only while Shopify shows the return unpaid, so an earlier attempt's figure (sent
        and refused, or never sent) is replaced: the order may give back less by now."""

    async def stored_payment(self) -> tuple[Decimal | None, bool]:
        """The tax recorded by now (an attempt that paid, or may have, recorded it first), and
        whether a refund is recorded by now (by that attempt, or by `refunds/create`)."""

    async def stored_bonus(self) -> StoreCreditBonus | None:
        """The store-credit bonus as recorded by now."""

    async def bonus_requested(self, at: datetime, after: datetime | None) -> None:
        """Record, durably and before it is sent, that the bonus credit is being requested:
        only while this attempt holds the return and the last request recorded is the one at
        `after` (None: none); `MirrorError` otherwise, and nothing may be sent."""

    async def bonus_credited(self, transaction_id: str, account_id: str | None) -> None:
        """Record the credit transaction Shopify made for the bonus (once)."""

    async def taken_bonus_credits(self) -> set[str]:
        """Credit transaction ids our other returns of the same customer hold as their bonus."""

    async def exchange_processed(self, processed: ProcessedExchange) -> None:
        """Record what Shopify made of the exchange once processed."""

    async def stored_delivery_request(self) -> datetime | None:
        """When the label's reverse delivery was recorded as being sent, as stored by now."""

    async def delivery_requested(self, at: datetime, after: datetime | None) -> None:
        """Record, durably and before it is sent, that the label's reverse delivery is being
        created: only while this attempt holds the return and the last request recorded is the
        one at `after` (None: none); `AttemptSuperseded` otherwise, and nothing may be sent."""

    async def reverse_delivery_created(self, delivery_id: str) -> None:
        """Record the reverse delivery that carries the label (for the label it was made for)."""

    async def reverse_delivery_refused(self, error: str) -> None:
        """Record that Shopify refused the label's reverse delivery (it is not tried again)."""


async def shopify_return(
    api: ShopifyGraphQL, return_gid: str, lines: int = RETURN_STATE_LINES
) -> dict[str, Any]:
    """Shopify's view of a return: status and (up to `lines` of its) line items with their
    processable quantity."""
    data = await api.execute(RETURN_STATE, {"id": return_gid, "lines": lines})
    found = data.get("return")
    if not found:
        raise MirrorError(f"return {return_gid} does not exist on Shopify", permanent=True)
    result: dict[str, Any] = found
    return result


async def _transition(
    api: ShopifyGraphQL,
    step: MirrorAction,
    return_gid: str,
    query: str,
    variables: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    """One status change on Shopify; refused but already in the target status counts as done.
    Sent once per attempt (`may_repeat=False`): a lost answer is settled by the next attempt,
    which reads Shopify first. The return as the answer shows it (empty when refused as done)."""
    try:
        return _check(await api.execute(query, variables, may_repeat=False), key)
    except MirrorError:
        current = await shopify_return(api, return_gid)
        if current.get("status") not in REACHED[step]:
            raise
        return {}


def refund_due(record: Return) -> Decimal:
    """What processing `record` on Shopify pays back through `returnProcess`: a REFUND's refund
    to the order's payments, a STORE_CREDIT's refund base to store credit (its bonus is credited
    separately), a cheaper EXCHANGE's difference to the order's payments; each with the tax
    Shopify computed for the returned lines once recorded (`ReturnOutcome.tax`)."""
    outcome = record.outcome
    if outcome is None:
        return Decimal(0)
    return items_due(outcome) + (outcome.tax or Decimal(0))


def items_due(outcome: ReturnOutcome) -> Decimal:
    """`refund_due` before tax: what the outcome pays for the items, less the fees."""
    if outcome.resolution_type is ResolutionType.REFUND:
        return outcome.refund_amount
    if not outcome.pays_in_shopify:
        return Decimal(0)  # resolved before store credit and exchanges were paid here
    if outcome.resolution_type is ResolutionType.STORE_CREDIT:
        return outcome.store_credit_amount - outcome.store_credit_bonus
    return outcome.refund_amount  # an exchange: a cheaper one's difference


def _refund_transfer(record: Return, due: Decimal, order: dict[str, Any]) -> dict[str, Any]:
    """`financialTransfer` paying `due`: to the order's payments (`refund_allocation`) for a
    refund, as a store-credit refund method for store credit (never more than the payments can
    still give back). `order`: the order's payments as `RETURN_STATE` reads them. A refund they
    cannot carry is a permanent failure, nothing sent."""
    outcome = record.outcome
    assert outcome is not None
    try:
        if not order:
            raise RefundNotPossible(
                "Shopify did not show the order's payments (an order older than 60 days needs"
                " the read_all_orders scope)"
            )
        paid_in = str(order.get("presentmentCurrencyCode") or "")
        if paid_in != outcome.currency:
            raise RefundNotPossible(
                f"the order was paid in {paid_in}; the return's amounts are in {outcome.currency}"
            )
        payments = refundable_payments(order.get("transactions") or [], outcome.currency)
        if outcome.resolution_type is ResolutionType.STORE_CREDIT:
            if not order.get("customer"):
                raise RefundNotPossible("the order has no customer to give store credit to")
            allocate_refund(due, outcome.currency, payments)  # within what was paid
            return store_credit_transfer(due, outcome.currency)
        shares = allocate_refund(due, outcome.currency, payments)
    except RefundNotPossible as exc:
        raise MirrorError(f"refund not sent: {exc}", permanent=True) from exc
    return financial_transfer(shares, outcome.currency)


def _by_line_item(record: Return) -> dict[str, ReturnItem]:
    return {item.line_item_id: item for item in record.items}


def _line_item_of(node: dict[str, Any]) -> str:
    return (
        numeric_id(((node.get("fulfillmentLineItem") or {}).get("lineItem") or {}).get("id")) or ""
    )


async def _check_outcome(
    api: ShopifyGraphQL,
    record: Return,
    return_gid: str,
    lines: list[dict[str, Any]],
    exchanges: list[dict[str, Any]],
    due: Decimal,
) -> Decimal | None:
    """Refuse to pay (permanently, nothing sent) unless Shopify's `suggestedFinancialOutcome`
    for the lines we refund agrees with ours on the items' value and the fees, to the minor
    unit. Items that came back MISSING are left out of both. The tax to pay back with `due`
    (what we pay for the items): Shopify's suggested refund less `due`, at most Shopify's tax
    for the lines (for an exchange, the tax on the difference; less when Shopify caps it at
    what the order can still refund). Shopify suggesting less than `due` gives None; more than
    its tax on top is refused the same way."""
    outcome = record.outcome
    assert outcome is not None
    items = _by_line_item(record)
    refunded = [
        {"id": line["id"], "quantity": line["quantity"]}
        for line in lines
        if (item := items.get(line["_line_item_id"])) is None
        or item.condition is not ItemCondition.MISSING
    ]
    if not refunded:
        return Decimal(0)
    data = await api.execute(
        RETURN_SUGGESTED_OUTCOME,
        {"id": return_gid, "lines": refunded, "exchanges": exchanges},
    )
    suggested = ((data.get("return") or {}).get("suggestedFinancialOutcome")) or {}
    subtotal, currency = presentment(suggested, "discountedSubtotal")
    fees, _ = presentment(suggested, "totalAdditionalFees")
    ours = outcome.restocking_fee + outcome.return_shipping_fee  # restocking and shipping
    if (subtotal, fees, currency) != (outcome.items_total, ours, outcome.currency):
        raise MirrorError(
            "refund not sent: Shopify's suggested outcome differs from ours: items"
            f" {subtotal} {currency} and fees {fees} {currency} on Shopify, items"
            f" {outcome.items_total} {outcome.currency} and fees {ours}"
            f" {outcome.currency} here; correct the return in Shopify admin or here, then retry",
            permanent=True,
        )
    if due <= 0:
        return Decimal(0)
    transfer = suggested.get("financialTransfer") or {}
    suggested_refund, _ = presentment(transfer, "amount")
    tax, _ = presentment(suggested, "totalTax")
    if transfer.get("__typename") != "RefundReturnOutcome" or suggested_refund < due:
        return None
    # Less than the whole tax when Shopify caps its suggestion at what the order can still give
    # back (per-line tax rounding can leave the last return of an order a cent short). A label
    # the customer pays for is ours alone: Shopify suggests refunding it, we keep it.
    # Shopify capping below the label's cost as well leaves no tax to pay (never less than
    # what is due for the items).
    extra = suggested_refund - due - outcome.label_fee
    if extra > tax:
        raise MirrorError(
            f"refund not sent: Shopify suggests refunding {suggested_refund} {currency}; the"
            f" {due} {outcome.currency} due here and Shopify's tax of {tax} {currency} make"
            f" {due + tax} {outcome.currency}; check the return in Shopify admin",
            permanent=True,
        )
    return max(extra, Decimal(0))


def _more_lines(current: dict[str, Any]) -> bool:
    """Whether Shopify's return (`RETURN_STATE`) has lines beyond those read."""
    page = (current.get("returnLineItems") or {}).get("pageInfo") or {}
    return bool(page.get("hasNextPage"))


def dispositions(
    record: Return, lines: list[dict[str, Any]], current: dict[str, Any]
) -> list[dict[str, Any]]:
    """`returnLineItems` for `returnProcess`, each with what becomes of its units, from what
    `markReturnReceived` recorded: resellable items RESTOCKED at the outcome's restock location,
    the others NOT_RESTOCKED, missing ones MISSING. Left out (Shopify then leaves the units
    awaiting a disposition) when an item was never inspected, when resellable items have no
    restock location, or when Shopify shows no reverse fulfillment order line for the line."""
    outcome = record.outcome
    location = outcome.restock_location_id if outcome is not None else None
    reverse_lines: dict[str, str] = {}
    for order in (current.get("reverseFulfillmentOrders") or {}).get("nodes") or []:
        for node in (order.get("lineItems") or {}).get("nodes") or []:
            fulfillment_line = (node.get("fulfillmentLineItem") or {}).get("id")
            if fulfillment_line:
                reverse_lines.setdefault(str(fulfillment_line), str(node["id"]))
    items = _by_line_item(record)
    processed: list[dict[str, Any]] = []
    for line in lines:
        entry = {"id": line["id"], "quantity": line["quantity"]}
        item = items.get(line["_line_item_id"])
        reverse_line = reverse_lines.get(line["_fulfillment_line_item_id"])
        kind: str | None = None
        if item is not None and item.condition is ItemCondition.MISSING:
            kind = "MISSING"
        elif item is not None and item.restock is True and location:
            kind = "RESTOCKED"
        elif item is not None and item.restock is False:
            kind = "NOT_RESTOCKED"
        if kind and reverse_line:
            disposition: dict[str, Any] = {
                "reverseFulfillmentOrderLineItemId": reverse_line,
                "quantity": line["quantity"],
                "dispositionType": kind,
            }
            if kind == "RESTOCKED":
                disposition["locationId"] = location
            entry["dispositions"] = [disposition]
        processed.append(entry)
    return processed


async def _process(
    api: ShopifyGraphQL, record: Return, return_gid: str, journal: MirrorJournal
) -> None:
    """`returnProcess` for every line's processable quantity (Shopify requires the lines), with
    their dispositions, paying what the return is due after Shopify's suggested outcome agreed
    with ours. At most once: nothing is paid when our return records a refund or Shopify's
    return already has one (an earlier attempt whose answer was lost, a worker that died before
    recording, a return staff reopened after it was paid); a return already closed, or with no
    line left to process, is not processed again. What Shopify paid is then read back, and a
    store-credit bonus credited (`_credit_bonus`)."""
    # As many lines as the return should have: a read sized for 50 asks Shopify's bucket for
    # 587 points before it runs (244 for one line), however few it then charges; when the bucket
    # binds, every refund would wait for that much to be free. The lines our request sent (one
    # per fulfillment line, so an item fulfilled twice is two), else one per item (a return
    # requested in Shopify admin, or one whose request this attempt sent: `record` was read
    # before it); more lines there: read them all.
    sent = len(record.shopify_requested_lines or ()) or len(record.items)
    expected = min(max(sent, 1), RETURN_STATE_LINES)
    current = await shopify_return(api, return_gid, expected)
    if _more_lines(current) and expected < RETURN_STATE_LINES:
        current = await shopify_return(api, return_gid)
    if _more_lines(current):
        raise MirrorError(
            f"the return has more than {RETURN_STATE_LINES} lines on Shopify; process it in"
            " Shopify admin (the return then follows from Shopify)",
            permanent=True,
        )
    lines = [
        {
            "id": node["id"],
            "quantity": int(node["processableQuantity"]),
            "_line_item_id": _line_item_of(node),
            "_fulfillment_line_item_id": str((node.get("fulfillmentLineItem") or {}).get("id")),
        }
        for node in (current.get("returnLineItems") or {}).get("nodes") or []
        if int(node.get("processableQuantity") or 0) > 0
    ]
    exchanges = [
        {"id": node["id"], "quantity": int(node["processableQuantity"])}
        for node in (current.get("exchangeLineItems") or {}).get("nodes") or []
        if int(node.get("processableQuantity") or 0) > 0
    ]
    due = refund_due(record)
    answered: dict[str, Any] = {}
    if current.get("status") not in REACHED[MirrorAction.PROCESS] and lines:
        process_input: dict[str, Any] = {
            "returnId": return_gid,
            "returnLineItems": dispositions(record, lines, current),
        }
        if exchanges:
            process_input["exchangeLineItems"] = exchanges
        if exchanges and any(item.condition is ItemCondition.MISSING for item in record.items):
            # Shopify would count the missing units as returned and ship the exchange.
            raise MirrorError(
                "an exchange with items that did not come back is not processed here; settle it"
                " in Shopify admin (the return then follows from Shopify)",
                permanent=True,
            )
        paid_before = record.refund is not None or bool((current.get("refunds") or {}).get("nodes"))
        if (due > 0 or exchanges) and not paid_before:
            items = items_due(record.outcome) if record.outcome is not None else Decimal(0)
            tax = await _check_outcome(api, record, return_gid, lines, exchanges, items)
            if tax is None:
                # Shopify would refund less than the items are due: the order's payments say
                # how much is left (a permanent failure), else the suggestion is refused.
                _refund_transfer(record, items, current.get("order") or {})
                raise MirrorError(
                    f"refund not sent: Shopify suggests refunding less than the {items}"
                    f" {record.currency} due here; check the return in Shopify admin",
                    permanent=True,
                )
            if due > 0:
                # Recorded before paying, so a retry after a lost answer knows what was paid.
                await journal.tax_planned(tax)
                assert record.outcome is not None
                record.outcome.tax = tax
                due = items + tax
        if due > 0 and not paid_before:
            process_input["financialTransfer"] = _refund_transfer(
                record, due, current.get("order") or {}
            )
        try:
            answered = await _transition(
                api,
                MirrorAction.PROCESS,
                return_gid,
                RETURN_PROCESS_PAID,
                {"input": process_input},
                "returnProcess",
            )
        except MirrorError as exc:
            if exc.field[:2] != ["input", "financialTransfer"]:
                raise
            # The order's payments changed between our read and Shopify's check (another
            # return of the order paid meanwhile, or staff refunded in admin): nothing was
            # paid, and the next attempt allocates from a fresh read (which fails for good,
            # with what is left, if the payments cannot carry the refund any more).
            raise MirrorError(
                f"{exc} (the order's payments changed while the refund was prepared; retried)"
            ) from exc
    refunded = record.refund is not None
    if due > 0 and not refunded and not answered and record.outcome is not None:
        # Paid (or maybe paid) before this attempt: with the tax that attempt recorded before
        # sending, and perhaps recorded since (`refunds/create`); this claim read the return
        # before either may have been written.
        record.outcome.tax, refunded = await journal.stored_payment()
        due = refund_due(record)
    if due > 0 and not refunded:
        await journal.refund_paid(await _paid_refund(api, record, return_gid, due, answered))
    if record.exchange is not None and record.exchange.fulfillment_order_id is None:
        await journal.exchange_processed(await _processed_exchange(api, return_gid))
    if record.store_credit_bonus is not None and record.outcome and record.outcome.pays_in_shopify:
        customer = ((current.get("order") or {}).get("customer") or {}).get("id")
        await _credit_bonus(api, journal, customer)


def refund_from_node(refund: dict[str, Any]) -> ReturnRefund:
    """Our record of a Shopify `Refund` (`RETURN_REFUNDS`' selection), in presentment money."""
    amount, currency = presentment(refund, "totalRefundedSet")
    return ReturnRefund(
        shopify_refund_id=str(refund["id"]),
        amount=amount,
        currency=currency,
        processed_at=parse_time(refund.get("createdAt")) or utcnow(),
        transactions=[
            RefundTransaction(
                shopify_transaction_id=str(node["id"]),
                parent_transaction_id=(node.get("parentTransaction") or {}).get("id"),
                gateway=str(node.get("gateway") or ""),
                amount=presentment(node, "amountSet")[0],
            )
            for node in (refund.get("transactions") or {}).get("nodes") or []
        ],
    )


async def _paid_refund(
    api: ShopifyGraphQL,
    record: Return,
    return_gid: str,
    due: Decimal,
    answered: dict[str, Any] | None = None,
) -> ReturnRefund:
    """The refund Shopify made for `record` when it processed it: from `returnProcess`'s answer
    (`answered`) when it carries it, else read back from Shopify."""
    outcome = record.outcome
    assert outcome is not None
    refunds = ((answered or {}).get("refunds") or {}).get("nodes") or []
    if not refunds:
        data = await api.execute(RETURN_REFUNDS, {"id": return_gid})
        refunds = (((data.get("return") or {}).get("refunds")) or {}).get("nodes") or []
    found = []
    for refund in refunds:
        amount, currency = presentment(refund, "totalRefundedSet")
        found.append(f"{amount} {currency}")
        if amount == due and currency == outcome.currency:
            return refund_from_node(refund)
    # Processed on Shopify without our refund (by staff, say): never paid a second time here.
    raise MirrorError(
        f"the return was processed on Shopify without a refund of {due} {outcome.currency}"
        f" (refunds found: {', '.join(found) or 'none'}); check it in Shopify admin",
        permanent=True,
    )


@dataclass(frozen=True, slots=True)
class ProcessedExchange:
    line_item_ids: list[str]
    fulfillment_order_id: str | None
    status: str | None
    hold_reasons: list[str]


async def _processed_exchange(api: ShopifyGraphQL, return_gid: str) -> ProcessedExchange:
    """The order's line items Shopify added for the exchange and their fulfillment order."""
    data = await api.execute(RETURN_EXCHANGE, {"id": return_gid})
    found = data.get("return") or {}
    line_ids = [
        str(item["id"])
        for node in (found.get("exchangeLineItems") or {}).get("nodes") or []
        for item in node.get("lineItems") or []
    ]
    orders = (((found.get("order") or {}).get("fulfillmentOrders")) or {}).get("nodes") or []
    for order in orders:
        items = {
            str((node.get("lineItem") or {}).get("id"))
            for node in (order.get("lineItems") or {}).get("nodes") or []
        }
        if items & set(line_ids):
            return ProcessedExchange(
                line_ids,
                str(order["id"]),
                order.get("status"),
                [str(hold.get("reason")) for hold in order.get("fulfillmentHolds") or []],
            )
    return ProcessedExchange(line_ids, None, None, [])


# How long before our recorded request a bonus credit found on the customer's account may have
# been made (clocks differ): a credit older than that is someone else's.
BONUS_CLOCK_SKEW = timedelta(minutes=5)
# How long a request sent with `may_repeat=False` (a return request, a bonus credit, a label's
# reverse delivery) may still be on its way (one send: the Admin client's connect and read
# timeouts, with a wide margin). An attempt that finds what an earlier attempt asked for neither recorded nor on Shopify sends
# again only after this, so it never races a send another worker (whose lease ran out while it
# waited for Shopify) has not heard back from yet.
SEND_IN_FLIGHT = timedelta(minutes=2)


def longest_send(policy: RetryPolicy = MIRROR_RETRY) -> timedelta:
    """How long after it was recorded one send can still reach Shopify: the client's retries,
    then a wait for a pooled connection, a connect, the write and the read (httpx takes the
    pool and write timeouts from the read timeout)."""
    return timedelta(
        seconds=policy.max_retry_time
        + policy.connect_timeout
        + 3 * policy.read_timeout  # pool, write, read
    )


async def _credit_bonus(api: ShopifyGraphQL, journal: MirrorJournal, customer: str | None) -> None:
    """Credit the store-credit bonus on the customer's account, once. Shopify's
    `storeCreditAccountCredit` has no idempotency key, so the request is recorded before it is
    sent; an attempt that finds it recorded without a transaction (the answer was lost, or the
    worker died) first looks for that credit among the customer's recent credits (same amount
    and currency, no origin, made after the request, held by none of our other returns) and
    adopts it; it credits again only when Shopify shows none."""
    bonus = await journal.stored_bonus()
    if bonus is None or bonus.shopify_transaction_id is not None or bonus.amount <= 0:
        return
    if not customer:
        raise MirrorError(
            "store-credit bonus not credited: the order has no customer", permanent=True
        )
    if bonus.requested_at is not None:
        adopted = await _bonus_on_account(
            api, str(customer), bonus, await journal.taken_bonus_credits()
        )
        if adopted is not None:
            await journal.bonus_credited(*adopted)
            return
        if utcnow() - bonus.requested_at < SEND_IN_FLIGHT:
            raise MirrorError(
                "store-credit bonus requested moments ago and not on the account yet: looked"
                " again later, never sent twice",
                waiting_until=bonus.requested_at + SEND_IN_FLIGHT,
            )
    # Recorded only while this attempt holds the return and the last request recorded is the
    # one it looked for (else another attempt's send may be on its way): then sent.
    await journal.bonus_requested(utcnow(), bonus.requested_at)
    answer = await api.execute(
        STORE_CREDIT_CREDIT,
        {
            "id": customer,
            "creditInput": {"creditAmount": money_input(bonus.amount, bonus.currency)},
        },
        may_repeat=False,  # a second send would be a second bonus
    )
    result = answer.get("storeCreditAccountCredit") or {}
    errors = result.get("userErrors") or []
    if errors:
        raise MirrorError(
            f"store-credit bonus not credited: {errors[0].get('message')}", permanent=True
        )
    made = result.get("storeCreditAccountTransaction") or {}
    if not made.get("id"):
        raise MirrorError("storeCreditAccountCredit answered without a transaction")
    await journal.bonus_credited(str(made["id"]), (made.get("account") or {}).get("id"))


async def _bonus_on_account(
    api: ShopifyGraphQL, customer: str, bonus: StoreCreditBonus, taken: set[str]
) -> tuple[str, str | None] | None:
    """(credit transaction id, account id) of the bonus credit a lost answer made, if any."""
    assert bonus.requested_at is not None
    since = bonus.requested_at - BONUS_CLOCK_SKEW
    data = await api.execute(CUSTOMER_STORE_CREDIT, {"id": customer})
    accounts = (((data.get("customer") or {}).get("storeCreditAccounts")) or {}).get("nodes") or []
    for account in accounts:
        transactions = account.get("transactions") or {}
        nodes = transactions.get("nodes") or []
        older = (transactions.get("pageInfo") or {}).get("hasPreviousPage")
        oldest = parse_time(nodes[0].get("createdAt")) if nodes else None
        if older and (oldest is None or oldest >= since):
            # Fifty credits and debits since the request: the bonus may be among older ones.
            raise MirrorError(
                "store-credit bonus: too many store credit transactions since it was requested to"
                " tell whether it was credited; check the customer's account in Shopify admin",
                permanent=True,
            )
        for node in nodes:
            made_at = parse_time(node.get("createdAt"))
            if (
                node.get("id")
                and str(node["id"]) not in taken
                and node.get("origin") is None
                and money(node.get("amount")) == bonus.amount
                and (node.get("amount") or {}).get("currencyCode") == bonus.currency
                and made_at is not None
                and made_at >= since
            ):
                return str(node["id"]), account.get("id")
    return None


async def push_return(record: Return, api: ShopifyGraphQL, journal: MirrorJournal) -> None:
    """Apply `plan_steps(record)` to Shopify, recording each step in `journal` as it succeeds."""
    return_gid = record.shopify_return_id
    order_gid = f"gid://shopify/Order/{record.order_id}"
    steps = plan_steps(record)
    for step in steps:
        if step is MirrorAction.REQUEST:
            sends = record.status is not ReturnStatus.CANCELED
            return_gid = await _request(record, api, journal, order_gid, sends=sends)
            if return_gid is None:
                return  # canceled before its request reached Shopify: nothing there to cancel
            if created_on_approval(record):
                await journal.step_done(MirrorAction.APPROVE, return_gid)
        elif return_gid is None:
            raise MirrorError(f"cannot {step.value}: the return was never requested on Shopify")
        elif step is MirrorAction.APPROVE:
            await _transition(
                api,
                step,
                return_gid,
                RETURN_APPROVE,
                {"input": {"id": return_gid}},
                "returnApproveRequest",
            )
        elif step is MirrorAction.DECLINE:
            await _transition(
                api,
                step,
                return_gid,
                RETURN_DECLINE,
                {
                    "input": {
                        "id": return_gid,
                        "declineReason": "OTHER",
                        "declineNote": record.decline_reason or "",
                    }
                },
                "returnDeclineRequest",
            )
        elif step is MirrorAction.CANCEL:
            await _transition(
                api, step, return_gid, RETURN_CANCEL, {"id": return_gid}, "returnCancel"
            )
        elif step is MirrorAction.PROCESS:
            await _process(api, record, return_gid, journal)
        elif step is MirrorAction.DELIVERY:
            refund_waits = MirrorAction.PROCESS in steps
            try:
                delivery_id = await _reverse_delivery(api, record, return_gid, journal)
            except (AttemptSuperseded, PyMongoError):
                # No longer holding the return, or our database failing: nothing to record on
                # the label (Shopify never refused it); the push ends and is retried.
                raise
            except Exception as exc:
                # Retried while nothing waits on it; a refund never waits on a label's delivery.
                if not refund_waits and not (isinstance(exc, MirrorError) and exc.permanent):
                    raise
                # Shopify will not take it as it stands (or another attempt's delivery may
                # still land, and a closed return takes none later): shown on the shipment, and
                # the return's own steps (processing, the refund) go on without it.
                await journal.reverse_delivery_refused(
                    UNCONFIRMED_DELIVERY
                    if isinstance(exc, MirrorError) and exc.waiting_until is not None
                    else str(exc)
                )
            else:
                await journal.reverse_delivery_created(delivery_id)
            continue  # recorded on the shipment: a new label needs a delivery of its own
        await journal.step_done(step, return_gid)


UNCONFIRMED_DELIVERY = (
    "the label was being attached by an earlier attempt, not confirmed before the return was"
    " processed: Shopify may or may not show it"
)


async def _reverse_delivery(
    api: ShopifyGraphQL, record: Return, return_gid: str, journal: MirrorJournal
) -> str:
    """Attach the label and its tracking to the return's reverse fulfillment order: every line
    in one delivery. A delivery with our tracking number already there (an earlier attempt's
    answer lost) is the one: Shopify allows several, so it is never created twice. Nor is one
    sent while an earlier attempt's may still be on its way (recorded before it is sent, less
    than `SEND_IN_FLIGHT` ago): a worker whose lease ran out while Shopify took its time would
    otherwise race the one that took the return over, and Shopify show the label twice."""
    shipment = record.shipment
    assert shipment is not None and shipment.tracking_number is not None
    data = await api.execute(RETURN_REVERSE_DELIVERIES, {"id": return_gid})
    orders = (((data.get("return") or {}).get("reverseFulfillmentOrders")) or {}).get("nodes")
    if not orders:
        raise MirrorError(
            "Shopify shows no reverse fulfillment order for the return", permanent=True
        )
    for order in orders:
        for delivery in (order.get("reverseDeliveries") or {}).get("nodes") or []:
            tracking = (delivery.get("deliverable") or {}).get("tracking") or {}
            if tracking.get("number") == shipment.tracking_number:
                return str(delivery["id"])
    # Read now, not as claimed: a worker whose lease ran out may have recorded its send since.
    requested = await journal.stored_delivery_request()
    if requested is not None and utcnow() - requested < SEND_IN_FLIGHT:
        raise MirrorError(
            "the label's reverse delivery was sent moments ago and is not on Shopify yet:"
            " looked for again later, never sent twice",
            waiting_until=requested + SEND_IN_FLIGHT,
        )
    await journal.delivery_requested(utcnow(), requested)
    order = orders[0]
    lines = [
        {"reverseFulfillmentOrderLineItemId": line["id"], "quantity": int(line["totalQuantity"])}
        for line in (order.get("lineItems") or {}).get("nodes") or []
        if int(line.get("totalQuantity") or 0) > 0
    ]
    payload = await api.execute(
        REVERSE_DELIVERY_CREATE,
        {
            "reverseFulfillmentOrderId": order["id"],
            "lines": lines,
            "tracking": {"number": shipment.tracking_number, "url": shipment.tracking_url},
            "label": {"fileUrl": shipment.label_url} if shipment.label_url else None,
            # Our own emails carry the label; Shopify's would be a second message.
            "notifyCustomer": False,
        },
        may_repeat=False,
    )
    _check(payload, "reverseDeliveryCreateWithShipping")  # its userErrors
    created = (payload.get("reverseDeliveryCreateWithShipping") or {}).get("reverseDelivery")
    if not created or not created.get("id"):
        raise MirrorError("Shopify answered no reverse delivery")
    return str(created["id"])


async def _request(
    record: Return,
    api: ShopifyGraphQL,
    journal: MirrorJournal,
    order_gid: str,
    *,
    sends: bool = True,
) -> str | None:
    """The Shopify return of `record`: one another attempt recorded or created, else a new one
    (`sends`; otherwise None). Checked before reading what Shopify still finds returnable
    (which another attempt's return would have used up) and again right before creating it."""
    existing = await journal.stored_return_id()
    if existing is not None:
        return existing
    sent = await journal.sent_request()
    sent_at: datetime | None = None
    if sent is not None:
        lines_sent, sent_at = sent
        if not sends:
            # Only looked for (the return was canceled): a Shopify return with these lines may
            # be a sibling's whose answer is still on its way; adopting it would cancel theirs.
            sibling_until = await journal.sibling_request_in_flight(lines_sent)
            if sibling_until is not None:
                raise MirrorError(
                    "another return of the order asked Shopify for the same units moments ago:"
                    " looked again once its answer is in",
                    waiting_until=sibling_until,
                )
        adopted = await requested_on_shopify(
            api, order_gid, lines_sent, await journal.taken_return_ids()
        )
        if adopted is not None:
            return adopted
        if sent_at is not None and utcnow() - sent_at < SEND_IN_FLIGHT:
            # Another attempt (its worker's lease ran out while it waited for Shopify) may not
            # have heard back yet: a second request now would be a second Shopify return.
            raise MirrorError(
                "a return request sent moments ago is not on Shopify yet: looked again later,"
                " never sent twice",
                waiting_until=sent_at + SEND_IN_FLIGHT,
            )
    if not sends:
        return None
    lines = request_lines(record, await returnable_lines(api, order_gid))
    existing = await journal.stored_return_id()
    if existing is not None:
        return existing
    # Recorded only while this attempt still holds the return and no other attempt recorded a
    # request since it looked (else that one's may be on its way): then sent.
    recorded_at = await journal.sending_request(lines, sent_at)
    if created_on_approval(record):
        mutation, key = RETURN_CREATE, "returnCreate"
        return_input: dict[str, Any] = {
            "orderId": order_gid,
            # `returnCreate`'s lines carry the customer's words as the reason's note.
            "returnLineItems": [
                {
                    **{key: value for key, value in line.items() if key != "customerNote"},
                    "returnReasonNote": line.get("customerNote") or "",
                }
                for line in lines
            ],
            "exchangeLineItems": [exchange_line(record)],
            "notifyCustomer": False,
        }
    else:
        mutation, key = RETURN_REQUEST, "returnRequest"
        return_input = {"orderId": order_gid, "returnLineItems": lines}
        if record.return_shipping_fee:
            # The fee the customer was shown, so Shopify's suggested outcome charges it too.
            return_input["returnShippingFee"] = {
                "amount": money_input(record.return_shipping_fee, record.currency)
            }
    # Sent once: a second request would be a second return on Shopify.
    answer = await api.execute(mutation, {"input": return_input}, may_repeat=False)
    try:
        created = _check(answer, key)
    except MirrorError:
        # Shopify answered and created nothing: the next attempt need not wait for this one.
        await journal.request_refused(recorded_at)
        raise
    if not created.get("id"):
        raise MirrorError(f"{key} answered without a return")
    return str(created["id"])


def exchange_line(record: Return) -> dict[str, Any]:
    """`exchangeLineItems` entry of an exchange: the variant, its units, and the part of a
    dearer exchange's difference the policy absorbs as its discount."""
    exchange = record.exchange
    assert exchange is not None
    line: dict[str, Any] = {"variantId": exchange.variant_id, "quantity": exchange.quantity}
    if exchange.absorbed > 0:
        line["appliedDiscount"] = {
            "description": "Price difference absorbed by the return policy",
            "value": {"amount": money_input(exchange.absorbed, record.currency)},
        }
    return line


class _ReturnJournal:
    """`MirrorJournal` on the return document itself."""

    def __init__(self, record: Return) -> None:
        self.record = record
        self.mine = {"_id": record.id, "tenant_id": record.tenant_id}

    async def stored_return_id(self) -> str | None:
        fresh = await Return.get_pymongo_collection().find_one(self.mine, {"shopify_return_id": 1})
        found = (fresh or {}).get("shopify_return_id")
        return str(found) if found else None

    async def sent_request(self) -> tuple[list[dict[str, Any]], datetime | None] | None:
        fresh = await Return.get_pymongo_collection().find_one(
            self.mine, {"shopify_requested_lines": 1, "shopify_requested_at": 1}
        )
        recorded = (fresh or {}).get("shopify_requested_lines")
        if not recorded:
            return None
        lines = [
            {
                "fulfillmentLineItemId": line["fulfillment_line_item_id"],
                "quantity": line["quantity"],
            }
            for line in recorded
        ]
        return lines, (fresh or {}).get("shopify_requested_at")

    async def taken_return_ids(self) -> set[str]:
        cursor = Return.get_pymongo_collection().find(
            {
                "tenant_id": self.record.tenant_id,
                "order_id": self.record.order_id,
                "_id": {"$ne": self.record.id},
                "shopify_return_id": {"$ne": None},
            },
            {"shopify_return_id": 1},
        )
        return {str(doc["shopify_return_id"]) async for doc in cursor}

    async def sending_request(
        self, lines: list[dict[str, Any]], after: datetime | None
    ) -> datetime:
        recorded = [
            ShopifyRequestedLine(
                fulfillment_line_item_id=line["fulfillmentLineItemId"], quantity=line["quantity"]
            )
            for line in lines
        ]
        now = utcnow()
        written = await Return.get_pymongo_collection().update_one(
            {
                **self.mine,
                "shopify_return_id": None,
                "shopify_requested_at": after,
                **self._holding(),
            },
            {
                "$set": {
                    "shopify_requested_lines": to_bson(recorded),
                    "shopify_requested_at": now,
                }
            },
        )
        if written.matched_count != 1:
            raise AttemptSuperseded(
                "this attempt's lease ran out, or another attempt took the return over or recorded"
                " its Shopify return, before this one sent its request: nothing sent"
            )
        return now

    async def sibling_request_in_flight(self, lines: list[dict[str, Any]]) -> datetime | None:
        wanted = _line_totals(
            [(line["fulfillmentLineItemId"], int(line["quantity"])) for line in lines]
        )
        latest: datetime | None = None
        async for doc in Return.get_pymongo_collection().find(
            {
                "tenant_id": self.record.tenant_id,
                "order_id": self.record.order_id,
                "_id": {"$ne": self.record.id},
                "shopify_return_id": None,
                "shopify_requested_at": {"$gt": utcnow() - SEND_IN_FLIGHT},
            },
            {"shopify_requested_lines": 1, "shopify_requested_at": 1},
        ):
            theirs = _line_totals(
                [
                    (str(line["fulfillment_line_item_id"]), int(line["quantity"]))
                    for line in doc.get("shopify_requested_lines") or []
                ]
            )
            if theirs == wanted and (latest is None or doc["shopify_requested_at"] > latest):
                latest = doc["shopify_requested_at"]
        return None if latest is None else latest + SEND_IN_FLIGHT

    async def request_refused(self, at: datetime) -> None:
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "shopify_return_id": None, "shopify_requested_at": at},
            {"$set": {"shopify_requested_at": None}},
        )

    async def step_done(self, step: MirrorAction, shopify_id: str | None) -> None:
        collection = Return.get_pymongo_collection()
        # Progress is kept even if the sync is re-queued, so no step runs twice.
        if step is not MirrorAction.REQUEST:
            await collection.update_one(self.mine, {"$addToSet": {"shopify_applied": step.value}})
            return
        # Never overwrite a Shopify id another attempt recorded first.
        recorded = await collection.update_one(
            {**self.mine, "shopify_return_id": None},
            {
                "$set": {"shopify_return_id": shopify_id},
                "$addToSet": {"shopify_applied": step.value},
            },
        )
        if recorded.matched_count == 1:
            return
        if await self.stored_return_id() != shopify_id:
            raise MirrorError(
                f"return {self.record.id} already has a Shopify return;"
                f" {shopify_id} was created as a duplicate"
            )
        # Our id was recorded by an earlier attempt (or adopted): mark the step done.
        await collection.update_one(self.mine, {"$addToSet": {"shopify_applied": step.value}})

    async def refund_paid(self, refund: ReturnRefund) -> None:
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "refund": None}, {"$set": {"refund": to_bson(refund)}}
        )

    async def tax_planned(self, tax: Decimal) -> None:
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "outcome": {"$ne": None}, "refund": None},
            {"$set": {"outcome.tax": to_bson(tax)}},
        )

    async def stored_payment(self) -> tuple[Decimal | None, bool]:
        fresh = await Return.get_pymongo_collection().find_one(
            self.mine, {"outcome.tax": 1, "refund": 1}
        )
        recorded = ((fresh or {}).get("outcome") or {}).get("tax")
        tax = None if recorded is None else Decimal(str(recorded))
        return tax, (fresh or {}).get("refund") is not None

    async def stored_bonus(self) -> StoreCreditBonus | None:
        fresh = await Return.get_pymongo_collection().find_one(self.mine, {"store_credit_bonus": 1})
        found = (fresh or {}).get("store_credit_bonus")
        return StoreCreditBonus.model_validate(found) if found else None

    async def bonus_requested(self, at: datetime, after: datetime | None) -> None:
        written = await Return.get_pymongo_collection().update_one(
            {
                **self.mine,
                "store_credit_bonus.shopify_transaction_id": None,
                "store_credit_bonus.requested_at": after,
                **self._holding(),
            },
            {"$set": {"store_credit_bonus.requested_at": at}},
        )
        if written.matched_count != 1:
            raise AttemptSuperseded(
                "this attempt's lease ran out, or another attempt took the return over or recorded"
                " its bonus, before this one sent the bonus credit: nothing sent"
            )

    def _holding(self) -> dict[str, Any]:
        """Filter: this attempt's lease on the return is still in force. A worker whose lease
        ran out (stalled past it) must never send beside the attempt that took over."""
        sync = self.record.shopify_sync
        if sync is None or sync.lease_owner is None:
            raise AttemptSuperseded("pushed without a lease on the return: nothing sent")
        return {
            "shopify_sync.lease_owner": sync.lease_owner,
            "shopify_sync.lease_expires_at": {"$gt": utcnow()},
        }

    async def bonus_credited(self, transaction_id: str, account_id: str | None) -> None:
        try:
            await Return.get_pymongo_collection().update_one(
                {**self.mine, "store_credit_bonus.shopify_transaction_id": None},
                {
                    "$set": {
                        "store_credit_bonus.shopify_transaction_id": transaction_id,
                        "store_credit_bonus.shopify_account_id": account_id,
                        "store_credit_bonus.credited_at": utcnow(),
                    }
                },
            )
        except DuplicateKeyError as exc:  # another return adopted that credit first
            raise MirrorError(
                f"store-credit credit {transaction_id} is another return's; looked again later"
            ) from exc

    async def taken_bonus_credits(self) -> set[str]:
        cursor = Return.get_pymongo_collection().find(
            {
                "tenant_id": self.record.tenant_id,
                "customer_email": self.record.customer_email,
                "_id": {"$ne": self.record.id},
                "store_credit_bonus.shopify_transaction_id": {"$type": "string"},
            },
            {"store_credit_bonus.shopify_transaction_id": 1},
        )
        return {str(doc["store_credit_bonus"]["shopify_transaction_id"]) async for doc in cursor}

    async def exchange_processed(self, processed: ProcessedExchange) -> None:
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "exchange": {"$ne": None}},
            {
                "$set": {
                    "exchange.shopify_line_item_ids": processed.line_item_ids,
                    "exchange.fulfillment_order_id": processed.fulfillment_order_id,
                    "exchange.fulfillment_status": processed.status,
                    "exchange.hold_reasons": processed.hold_reasons,
                }
            },
        )

    async def stored_delivery_request(self) -> datetime | None:
        shipment = self.record.shipment
        assert shipment is not None
        fresh = await Return.get_pymongo_collection().find_one(
            {**self.mine, "shipment.tracking_number": shipment.tracking_number},
            {"shipment.shopify_delivery_requested_at": 1},
        )
        found = ((fresh or {}).get("shipment") or {}).get("shopify_delivery_requested_at")
        return found if isinstance(found, datetime) else None

    async def delivery_requested(self, at: datetime, after: datetime | None) -> None:
        shipment = self.record.shipment
        assert shipment is not None
        written = await Return.get_pymongo_collection().update_one(
            {
                **self.mine,
                "shipment.tracking_number": shipment.tracking_number,
                "shipment.shopify_reverse_delivery_id": None,
                "shipment.shopify_delivery_requested_at": after,
                **self._holding(),
            },
            {"$set": {"shipment.shopify_delivery_requested_at": at}},
        )
        if written.matched_count != 1:
            raise AttemptSuperseded(
                "this attempt's lease ran out, or another attempt took the return over or recorded"
                " the label's reverse delivery, before this one sent it: nothing sent"
            )

    async def reverse_delivery_created(self, delivery_id: str) -> None:
        shipment = self.record.shipment
        assert shipment is not None
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "shipment.tracking_number": shipment.tracking_number},
            {"$set": {"shipment.shopify_reverse_delivery_id": delivery_id}},
        )

    async def reverse_delivery_refused(self, error: str) -> None:
        shipment = self.record.shipment
        assert shipment is not None
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "shipment.tracking_number": shipment.tracking_number},
            {"$set": {"shipment.shopify_delivery_error": error[:500]}},
        )


ClientFactory = Callable[[str], Awaitable[ShopifyGraphQL | None]]

# Before any lease a worker writes (`$gte` it keeps null leases out of the range).
EARLIEST = datetime.min.replace(tzinfo=UTC)
# Claimable returns a worker reads at once (it tries them in random order, so workers polling
# together rarely race for the same one).
CLAIM_CANDIDATES = 8


def claimable(now: datetime) -> list[dict[str, Any]]:
    """A pending sync is claimable when (1) it has no lease, (2) its lease ran out (a worker
    died, or a failed attempt's back-off is over), or (3) a decision re-queued it since its last
    attempt (attempts reset), which skips that attempt's back-off but never takes a lease a
    running worker still holds (owner set). One filter per case, each served by an index on
    the pending syncs only (`shopify_sync_pending`, `shopify_sync_requeued`): SecantusDB scans
    the whole collection for a filter with a top-level `$or`, and leaves an index unused for a
    bare `None` on a partial index's second field (hence `$eq`). A decision just queued is
    always in case (3) (`mirror_intent`, `mirror_requeue`: attempts 0), so it comes last."""
    pending = {"shopify_sync.status": ShopifySyncStatus.PENDING.value}
    return [
        {**pending, "shopify_sync.lease_expires_at": {"$eq": None}},
        {**pending, "shopify_sync.lease_expires_at": {"$gte": EARLIEST, "$lt": now}},
        {**pending, "shopify_sync.attempts": 0, "shopify_sync.lease_owner": None},
    ]


class _Wakeups:
    """The idle mirror workers of one event loop, woken one per decision queued in this process
    (other processes' workers find it by polling). Announcements made in one step of the loop
    wake one worker (a decision builds both forms of its write: `mirror_requeue` and
    `mirror_intent`), once that step has handed over (its write is on its way)."""

    def __init__(self) -> None:
        self.waiting: deque[asyncio.Future[None]] = deque()
        self.scheduled = False

    def announce(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self.wake_one)

    def wake_one(self) -> None:
        self.scheduled = False
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`; whether a decision was announced meanwhile."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        try:
            done, _ = await asyncio.wait({waiter}, timeout=seconds)
            return bool(done)
        finally:
            waiter.cancel()
            with contextlib.suppress(ValueError):
                self.waiting.remove(waiter)


_WAKEUPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Wakeups] = (
    weakref.WeakKeyDictionary()
)


def _wakeups(loop: asyncio.AbstractEventLoop) -> _Wakeups:
    found = _WAKEUPS.get(loop)
    if found is None:
        found = _WAKEUPS[loop] = _Wakeups()
    return found


def announce_mirror_work() -> None:
    """A decision is being queued for the mirror: wake one idle mirror worker of this process
    (of the running event loop; none: nothing to do, the workers poll). Called as the intent is
    built, just before the decision's write: the woken worker that finds nothing yet looks again
    shortly (`ReturnMirrorWorker.idle`)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    found = _WAKEUPS.get(loop)
    if found is not None:
        found.announce(loop)


class ReturnMirrorWorker:
    """Claims one return with a pending Shopify sync (leased) and mirrors it."""

    idle_seconds = 1.0  # a decision queued by another process reaches Shopify within about 1 s
    # Woken by a decision of this process whose write may not have landed yet: looked for again
    # after this long, then twice as long each time while under `recheck_max_seconds` (about
    # 0.3 s in all), unless found first; then back to `idle_seconds`.
    recheck_seconds = 0.02
    recheck_max_seconds = 0.2

    def __init__(
        self, worker_id: str, client_for: ClientFactory, name: str = "returns-shopify-mirror"
    ) -> None:
        self.worker_id = worker_id  # the lease owner: unique per worker
        self.client_for = client_for
        self.name = name
        self._turn = 0  # which claim filter goes first (each in turn: none waits on the others)
        self._recheck: float | None = None

    async def idle(self, seconds: float) -> None:
        """Wait up to `seconds` before the next claim (`app.jobs.runner`), less when a decision
        of this process is announced (`announce_mirror_work`) or was announced moments ago."""
        delay = seconds if self._recheck is None else min(seconds, self._recheck)
        if await _wakeups(asyncio.get_running_loop()).wait(delay):
            self._recheck = self.recheck_seconds
        elif self._recheck is not None:
            self._recheck *= 2
            if self._recheck > self.recheck_max_seconds:
                self._recheck = None

    async def run_once(self) -> bool:
        # Woken for a decision of this process: only case (3) of `claimable` can hold it.
        raw = await self._claim(announced=self._recheck is not None)
        if raw is None:
            return False
        self._recheck = None
        record = Return.model_validate(raw)
        await self._mirror(record, raw["updated_at"])
        return True

    async def _claim(self, announced: bool = False) -> dict[str, Any] | None:
        """Lease one claimable return (`claimable`; `announced`: a just-queued decision only):
        read a few candidates, then a conditional update per candidate that lands only while
        the sync is exactly as read (no other claim, settle, release or decision since: each
        changes `attempts`, the lease or `updated_at`), so one worker leases it. The claimed
        return as read plus the lease (its journal fields are as read: only a worker whose lease
        ran out can still be writing them, as after any claim)."""
        now = utcnow()
        collection = Return.get_pymongo_collection()
        filters = claimable(now)
        first = self._turn % len(filters)
        self._turn += 1
        # Woken by a decision: its re-queued return first, then the rest as usual (so a stream
        # of announcements never keeps this worker from lapsed leases and back-offs).
        order = filters[-1:] + filters[:-1] if announced else filters[first:] + filters[:first]
        for query in order:
            candidates: list[dict[str, Any]] = await collection.find(
                query, limit=CLAIM_CANDIDATES
            ).to_list(None)
            random.shuffle(candidates)
            for seen in candidates:
                sync = seen["shopify_sync"]
                lease = {
                    "lease_owner": self.worker_id,
                    "lease_expires_at": now + timedelta(seconds=LEASE_SECONDS),
                    "attempts": int(sync.get("attempts") or 0) + 1,
                }
                claimed = await collection.update_one(
                    {
                        "_id": seen["_id"],  # first: SecantusDB looks the return up by it
                        "tenant_id": seen["tenant_id"],  # the shard key: one shard is asked
                        "updated_at": seen["updated_at"],
                        "shopify_sync.status": ShopifySyncStatus.PENDING.value,
                        "shopify_sync.attempts": sync.get("attempts"),
                        "shopify_sync.lease_owner": sync.get("lease_owner"),
                        "shopify_sync.lease_expires_at": sync.get("lease_expires_at"),
                    },
                    {"$set": {f"shopify_sync.{key}": value for key, value in lease.items()}},
                )
                if claimed.matched_count == 1:
                    seen["shopify_sync"] = {**sync, **lease}
                    return seen
        return None

    async def _mirror(self, record: Return, seen_updated_at: datetime) -> None:
        sync = record.shopify_sync
        assert sync is not None
        collection = Return.get_pymongo_collection()
        mine = {"_id": record.id, "shopify_sync.lease_owner": self.worker_id}
        # Only settle the sync if no newer decision re-queued it meanwhile (updated_at unchanged)
        # and the lease is still ours. `_id` first: SecantusDB then looks the return up by it
        # (led by `tenant_id`, it read every return of the tenant).
        guard = {**mine, "tenant_id": record.tenant_id, "updated_at": seen_updated_at}
        try:
            api = await self.client_for(record.tenant_id)
            if api is None:
                raise MirrorError("Shopify integration is not connected")
            await push_return(record, api, _ReturnJournal(record))
            settled = await collection.update_one(
                guard,
                {
                    "$set": {
                        "shopify_sync.status": ShopifySyncStatus.SYNCED.value,
                        "shopify_sync.error": None,
                        "shopify_sync.lease_owner": None,
                        "shopify_sync.lease_expires_at": None,
                        "shopify_sync.updated_at": utcnow(),
                    }
                },
            )
            if settled.matched_count != 1:
                await self._release(mine)
        except Exception as exc:  # a failed mirror is recorded, never raised to a merchant
            logger.warning("mirroring return %s to Shopify failed: %s", record.id, exc)
            # An attempt that no longer held the return sent nothing. It is counted (a push that
            # always outlasts its lease must end, failed, after MAX_ATTEMPTS) but not backed
            # off: the return is claimable again at once (unless another attempt holds it).
            superseded = isinstance(exc, AttemptSuperseded)
            waiting = isinstance(exc, MirrorError) and exc.waiting_until is not None
            final = not waiting and (
                sync.attempts >= MAX_ATTEMPTS or (isinstance(exc, MirrorError) and exc.permanent)
            )
            # Waiting for an earlier send is no failure: the attempt is given back (never below
            # one: a sync at zero attempts is claimable at once, whatever its back-off).
            attempts = max(sync.attempts - 1, 1) if waiting else sync.attempts
            retry_at = utcnow() + timedelta(seconds=retry_delay(attempts))
            if superseded:
                retry_at = utcnow()
            elif isinstance(exc, MirrorError) and exc.waiting_until is not None:
                retry_at = min(retry_at, exc.waiting_until)  # looked again once it cannot be
            settled = await collection.update_one(
                guard,
                {
                    "$set": {
                        "shopify_sync.status": (
                            ShopifySyncStatus.FAILED if final else ShopifySyncStatus.PENDING
                        ).value,
                        "shopify_sync.error": str(exc)[:500],
                        "shopify_sync.attempts": attempts,
                        "shopify_sync.lease_owner": None,
                        # Back off: the lease doubles as the retry time.
                        "shopify_sync.lease_expires_at": retry_at,
                        "shopify_sync.updated_at": utcnow(),
                    }
                },
            )
            if settled.matched_count != 1:
                await self._release(mine)

    async def _release(self, mine: dict[str, Any]) -> None:
        """A newer decision re-queued the sync while we pushed: drop our lease (if still ours)
        so the newer intent is picked up now, not when the lease would have expired."""
        await Return.get_pymongo_collection().update_one(
            mine,
            {"$set": {"shopify_sync.lease_owner": None, "shopify_sync.lease_expires_at": None}},
        )
