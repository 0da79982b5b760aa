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

Money: a resolved REFUND return's `returnProcess` carries `financialTransfer.issueRefund`, the
refund spread over the order's payments (`refund_allocation`), and the refund Shopify made is read
back and recorded on the return (`refund`). At most once: Shopify closes the return in the same
operation that pays, and `_process` reads the return's status before sending, so a return already
closed (an answer lost after Shopify paid, a worker that died before recording) is only read back.

No duplicate Shopify return: the lines of a `returnRequest` are recorded on our return before it
is sent. An attempt that finds them recorded but no Shopify id (the answer was lost, or the
worker or database died before the id was stored) first looks for that return among the order's
returns on Shopify and adopts it; it requests again only when Shopify has none.

The worker takes a per-tenant client factory (`client_for(tenant_id)`); `app/jobs/returns_mirror.py`
wires it to `app.services.integration.session.admin_client_for` (anything with `async execute(query,
variables)` returning the response's `data` works). The documents are in
`app/shopify/documents/returns.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pymongo import ReturnDocument

from app.clock import utcnow
from app.models import Return, ShopifyIntegration
from app.models.bson import to_bson
from app.models.integration import IntegrationStatus
from app.models.return_policy import ResolutionType
from app.models.return_request import (
    RefundTransaction,
    ReturnRefund,
    ReturnStatus,
    ShopifyRequestedLine,
    ShopifySync,
    ShopifySyncStatus,
)
from app.services.returns.refund_allocation import (
    RefundNotPossible,
    allocate_refund,
    financial_transfer,
    refundable_payments,
)
from app.services.shopify_values import numeric_id, parse_time
from app.shopify.client import RetryPolicy
from app.shopify.documents.returns import (
    MAX_FULFILLMENT_PAGES,
    ORDER_PAYMENTS,
    ORDER_RETURNS,
    RETURN_APPROVE,
    RETURN_CANCEL,
    RETURN_DECLINE,
    RETURN_PROCESS,
    RETURN_REFUNDS,
    RETURN_REQUEST,
    RETURN_STATE,
    RETURNABLE_FULFILLMENTS,
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


def mirror_intent(action: MirrorAction) -> dict[str, Any]:
    """The whole `shopify_sync` value recording that `action` should reach Shopify; only for a
    return with no sync yet (no worker can hold a lease on it)."""
    encoded: dict[str, Any] = to_bson(ShopifySync(action=action.value))
    return encoded


def mirror_requeue(action: MirrorAction, now: datetime) -> dict[str, Any]:
    """`$set` fields re-queueing an existing sync for `action`. The lease is left alone: a worker
    inside a push keeps it (no second worker claims the return meanwhile) and releases it when
    its settle finds the newer decision; `attempts: 0` lets an idle sync be claimed at once."""
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
    a line Shopify does not consider returnable), so the sync is recorded as failed at once."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def plan_steps(record: Return) -> list[MirrorAction]:
    """What Shopify still needs, in order, to match our status."""
    steps: list[MirrorAction] = []
    if record.shopify_return_id is None:
        if record.status is ReturnStatus.CANCELED:
            return []  # never reached Shopify: nothing to cancel
        steps.append(MirrorAction.REQUEST)
    by_status = {
        ReturnStatus.REQUESTED: [],
        ReturnStatus.APPROVED: [MirrorAction.APPROVE],
        ReturnStatus.RECEIVED: [MirrorAction.APPROVE],
        ReturnStatus.RESOLVED: [MirrorAction.APPROVE, MirrorAction.PROCESS],
        ReturnStatus.DECLINED: [MirrorAction.DECLINE],
        ReturnStatus.CANCELED: [MirrorAction.CANCEL],
    }
    done = set(record.shopify_applied)
    steps.extend(step for step in by_status[record.status] if step.value not in done)
    return steps


def _check(payload: dict[str, Any], key: str) -> dict[str, Any]:
    result = payload.get(key) or {}
    errors = result.get("userErrors") or []
    if errors:
        raise MirrorError(f"{key}: {errors[0].get('message')}", permanent=True)
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
    """`returnLineItems` for our items, each spread over the fulfillments that shipped it."""
    lines: list[dict[str, Any]] = []
    for item in record.items:
        wanted = item.quantity
        for entry in returnable.get(item.line_item_id, []):
            take = min(wanted, entry[1])
            if take <= 0:
                continue
            entry[1] -= take
            wanted -= take
            lines.append(
                {
                    "fulfillmentLineItemId": entry[0],
                    "quantity": take,
                    "returnReason": item.reason.value.upper(),
                    "customerNote": item.note or "",
                }
            )
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

    async def sent_request(self) -> list[dict[str, Any]] | None:
        """The lines of a `returnRequest` an earlier attempt sent, if any."""

    async def taken_return_ids(self) -> set[str]:
        """Shopify ids our other returns of the same order hold."""

    async def sending_request(self, lines: list[dict[str, Any]]) -> None:
        """Record the lines before `returnRequest` is sent (durably)."""

    async def step_done(self, step: MirrorAction, shopify_id: str | None) -> None:
        """A step reached Shopify (`shopify_id`: the return's id after REQUEST)."""

    async def refund_paid(self, refund: ReturnRefund) -> None:
        """Record the refund Shopify made (once: an earlier record is kept)."""


async def shopify_return(api: ShopifyGraphQL, return_gid: str) -> dict[str, Any]:
    """Shopify's view of a return: status and line items with their processable quantity."""
    data = await api.execute(RETURN_STATE, {"id": return_gid})
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
) -> None:
    """One status change on Shopify; refused but already in the target status counts as done.
    Sent once per attempt (`may_repeat=False`): a lost answer is settled by the next attempt,
    which reads Shopify first."""
    try:
        _check(await api.execute(query, variables, may_repeat=False), key)
    except MirrorError:
        current = await shopify_return(api, return_gid)
        if current.get("status") not in REACHED[step]:
            raise


def pays_refund(record: Return) -> bool:
    """Whether processing `record` on Shopify pays money back to the order's payments."""
    outcome = record.outcome
    return (
        outcome is not None
        and outcome.resolution_type is ResolutionType.REFUND
        and outcome.refund_amount > 0
    )


async def _refund_transfer(api: ShopifyGraphQL, record: Return) -> dict[str, Any]:
    """`financialTransfer` paying the return's refund to the order's payments
    (`refund_allocation`); a refund they cannot carry is a permanent failure, nothing sent."""
    outcome = record.outcome
    assert outcome is not None
    data = await api.execute(ORDER_PAYMENTS, {"id": f"gid://shopify/Order/{record.order_id}"})
    order = data.get("order") or {}
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
        shares = allocate_refund(outcome.refund_amount, outcome.currency, payments)
    except RefundNotPossible as exc:
        raise MirrorError(f"refund not sent: {exc}", permanent=True) from exc
    return financial_transfer(shares, outcome.currency)


async def _process(
    api: ShopifyGraphQL, record: Return, return_gid: str, journal: MirrorJournal
) -> None:
    """`returnProcess` for every line's processable quantity (Shopify requires the lines), paying
    the refund when the return has one. At most once: nothing is paid when our return records a
    refund or Shopify's return already has one (an earlier attempt whose answer was lost, a
    worker that died before recording, a return staff reopened after it was paid); a return
    already closed, or with no line left to process, is not processed again. What Shopify paid
    is then read back."""
    current = await shopify_return(api, return_gid)
    lines = [
        {"id": node["id"], "quantity": int(node["processableQuantity"])}
        for node in (current.get("returnLineItems") or {}).get("nodes") or []
        if int(node.get("processableQuantity") or 0) > 0
    ]
    if current.get("status") not in REACHED[MirrorAction.PROCESS] and lines:
        process_input: dict[str, Any] = {"returnId": return_gid, "returnLineItems": lines}
        paid_before = record.refund is not None or bool((current.get("refunds") or {}).get("nodes"))
        if pays_refund(record) and not paid_before:
            process_input["financialTransfer"] = await _refund_transfer(api, record)
        await _transition(
            api,
            MirrorAction.PROCESS,
            return_gid,
            RETURN_PROCESS,
            {"input": process_input},
            "returnProcess",
        )
    if pays_refund(record) and record.refund is None:
        await journal.refund_paid(await _paid_refund(api, record, return_gid))


def _money(node: dict[str, Any], key: str) -> tuple[Decimal, str]:
    money = (node.get(key) or {}).get("presentmentMoney") or {}
    return Decimal(str(money.get("amount") or "0")), str(money.get("currencyCode") or "")


async def _paid_refund(api: ShopifyGraphQL, record: Return, return_gid: str) -> ReturnRefund:
    """The refund Shopify made for `record` when it processed it, read back from Shopify."""
    outcome = record.outcome
    assert outcome is not None
    data = await api.execute(RETURN_REFUNDS, {"id": return_gid})
    refunds = (((data.get("return") or {}).get("refunds")) or {}).get("nodes") or []
    found = []
    for refund in refunds:
        amount, currency = _money(refund, "totalRefundedSet")
        found.append(f"{amount} {currency}")
        if amount == outcome.refund_amount and currency == outcome.currency:
            return ReturnRefund(
                shopify_refund_id=str(refund["id"]),
                amount=amount,
                currency=currency,
                processed_at=parse_time(refund.get("createdAt")) or utcnow(),
                transactions=[
                    RefundTransaction(
                        shopify_transaction_id=str(node["id"]),
                        parent_transaction_id=str((node.get("parentTransaction") or {}).get("id")),
                        gateway=str(node.get("gateway") or ""),
                        amount=_money(node, "amountSet")[0],
                    )
                    for node in (refund.get("transactions") or {}).get("nodes") or []
                ],
            )
    # Processed on Shopify without our refund (by staff, say): never paid a second time here.
    raise MirrorError(
        f"the return was processed on Shopify without a refund of {outcome.refund_amount}"
        f" {outcome.currency} (refunds found: {', '.join(found) or 'none'}); check it in Shopify"
        " admin",
        permanent=True,
    )


async def push_return(record: Return, api: ShopifyGraphQL, journal: MirrorJournal) -> None:
    """Apply `plan_steps(record)` to Shopify, recording each step in `journal` as it succeeds."""
    return_gid = record.shopify_return_id
    order_gid = f"gid://shopify/Order/{record.order_id}"
    for step in plan_steps(record):
        if step is MirrorAction.REQUEST:
            return_gid = await _request(record, api, journal, order_gid)
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
        await journal.step_done(step, return_gid)


async def _request(
    record: Return, api: ShopifyGraphQL, journal: MirrorJournal, order_gid: str
) -> str:
    """The Shopify return of `record`: one another attempt recorded or created, else a new one.
    Checked before reading what Shopify still finds returnable (which another attempt's return
    would have used up) and again right before creating the return."""
    existing = await journal.stored_return_id()
    if existing is not None:
        return existing
    sent = await journal.sent_request()
    if sent is not None:
        adopted = await requested_on_shopify(api, order_gid, sent, await journal.taken_return_ids())
        if adopted is not None:
            return adopted
    lines = request_lines(record, await returnable_lines(api, order_gid))
    existing = await journal.stored_return_id()
    if existing is not None:
        return existing
    await journal.sending_request(lines)
    created = _check(
        await api.execute(
            RETURN_REQUEST,
            {"input": {"orderId": order_gid, "returnLineItems": lines}},
            may_repeat=False,  # a second request would be a second return on Shopify
        ),
        "returnRequest",
    )
    if not created.get("id"):
        raise MirrorError("returnRequest answered without a return")
    return str(created["id"])


class _ReturnJournal:
    """`MirrorJournal` on the return document itself."""

    def __init__(self, record: Return) -> None:
        self.record = record
        self.mine = {"_id": record.id, "tenant_id": record.tenant_id}

    async def stored_return_id(self) -> str | None:
        fresh = await Return.get_pymongo_collection().find_one(self.mine, {"shopify_return_id": 1})
        found = (fresh or {}).get("shopify_return_id")
        return str(found) if found else None

    async def sent_request(self) -> list[dict[str, Any]] | None:
        fresh = await Return.get_pymongo_collection().find_one(
            self.mine, {"shopify_requested_lines": 1}
        )
        recorded = (fresh or {}).get("shopify_requested_lines")
        if not recorded:
            return None
        return [
            {
                "fulfillmentLineItemId": line["fulfillment_line_item_id"],
                "quantity": line["quantity"],
            }
            for line in recorded
        ]

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

    async def sending_request(self, lines: list[dict[str, Any]]) -> None:
        recorded = [
            ShopifyRequestedLine(
                fulfillment_line_item_id=line["fulfillmentLineItemId"], quantity=line["quantity"]
            )
            for line in lines
        ]
        await Return.get_pymongo_collection().update_one(
            {**self.mine, "shopify_return_id": None},
            {"$set": {"shopify_requested_lines": to_bson(recorded)}},
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


ClientFactory = Callable[[str], Awaitable[ShopifyGraphQL | None]]


class ReturnMirrorWorker:
    """Claims one return with a pending Shopify sync (leased) and mirrors it."""

    name = "returns-shopify-mirror"
    idle_seconds = 5.0

    def __init__(self, worker_id: str, client_for: ClientFactory) -> None:
        self.worker_id = worker_id
        self.client_for = client_for

    async def run_once(self) -> bool:
        now = utcnow()
        collection = Return.get_pymongo_collection()
        raw = await collection.find_one_and_update(
            {
                "shopify_sync.status": ShopifySyncStatus.PENDING.value,
                "$or": [
                    {"shopify_sync.lease_expires_at": None},
                    {"shopify_sync.lease_expires_at": {"$lt": now}},
                    # A decision since the last attempt (attempts reset) skips that attempt's
                    # back-off, but never a lease a running worker still holds (owner set).
                    {"shopify_sync.attempts": 0, "shopify_sync.lease_owner": None},
                ],
            },
            {
                "$set": {
                    "shopify_sync.lease_owner": self.worker_id,
                    "shopify_sync.lease_expires_at": now + timedelta(seconds=LEASE_SECONDS),
                },
                "$inc": {"shopify_sync.attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return False
        record = Return.model_validate(raw)
        await self._mirror(record, raw["updated_at"])
        return True

    async def _mirror(self, record: Return, seen_updated_at: datetime) -> None:
        sync = record.shopify_sync
        assert sync is not None
        collection = Return.get_pymongo_collection()
        mine = {"_id": record.id, "shopify_sync.lease_owner": self.worker_id}
        # Only settle the sync if no newer decision re-queued it meanwhile (updated_at unchanged)
        # and the lease is still ours.
        guard = {"tenant_id": record.tenant_id, "updated_at": seen_updated_at, **mine}
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
            final = sync.attempts >= MAX_ATTEMPTS or (
                isinstance(exc, MirrorError) and exc.permanent
            )
            settled = await collection.update_one(
                guard,
                {
                    "$set": {
                        "shopify_sync.status": (
                            ShopifySyncStatus.FAILED if final else ShopifySyncStatus.PENDING
                        ).value,
                        "shopify_sync.error": str(exc)[:500],
                        "shopify_sync.lease_owner": None,
                        # Back off: the lease doubles as the retry time.
                        "shopify_sync.lease_expires_at": utcnow()
                        + timedelta(seconds=retry_delay(sync.attempts)),
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
