"""createReturn: validate everything first, then reserve units and insert; nothing on refusal.

The guarded ledger reservation (what makes concurrent requests safe) and the insert of the return
run in one transaction: a crash, a timeout or a cancellation at any point leaves both or neither,
so units are never held by a return that does not exist.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from beanie import PydanticObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.clock import utcnow
from app.models import Order, Return
from app.models.money import round_to_minor_unit
from app.models.order import LineItem
from app.models.return_policy import ResolutionType, ReturnMethod, ReturnPolicy
from app.models.return_request import (
    ReturnItem,
    ReturnReason,
    ReturnStatus,
    ReturnTransition,
    ShopifySync,
)
from app.models.transactions import in_transaction
from app.services.orders.queries import normalize_email
from app.services.returns.errors import PortalRateLimited, ReturnErrorCode, ReturnUserError
from app.services.returns.events import queue_creation_events
from app.services.returns.exchange import ExchangeCatalog, price_exchange
from app.services.returns.ledger import ensure_ledger, reserve, reserved_units, units_by_line
from app.services.returns.photos import MAX_PHOTOS_PER_ITEM, claim_photos, unclaimed_photos
from app.services.returns.policy import Ineligibility, OrderEligibility, evaluate_order
from app.services.returns.policy_store import load_policy
from app.services.returns.portal import email_matches
from app.services.returns.portal_attempts import (
    ClientLocks,
    is_limited,
    recent_failures,
    record_failure,
)
from app.services.returns.risk import assess, is_blocked
from app.services.returns.shopify_mirror import (
    MirrorAction,
    announce_mirror_work,
    shopify_connected,
)
from app.services.shipping.labels import plan_shipment
from app.services.shopify_values import numeric_id

MAX_NOTE_LENGTH = 1000
MAX_ITEMS = 100
CUSTOMER_ACTOR = "customer"
SYSTEM_ACTOR = "system:auto-approve"


@dataclass(frozen=True, slots=True)
class RequestedItem:
    line_item_id: str
    quantity: int
    reason: ReturnReason
    note: str | None = None
    photo_tokens: tuple[str, ...] = ()  # from uploads (`services/returns/photos.py`)


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    order_id: str
    customer_email: str
    return_method: ReturnMethod
    resolution_type: ResolutionType
    items: list[RequestedItem]
    exchange_variant_id: str | None = None
    # The client's id of this request: sent again after a lost answer, it gets the return the
    # first attempt made (`request_return_id`), never a second one.
    request_id: str | None = None


@dataclass(slots=True)
class CreateResult:
    record: Return | None = None
    user_errors: list[ReturnUserError] = field(default_factory=list)


ORDER_NOT_FOUND = ReturnUserError(
    ["order_id"], ReturnErrorCode.ORDER_NOT_FOUND, "No order matches this id and email."
)
_REQUEST_ID_TAKEN = ReturnUserError(
    ["request_id"], ReturnErrorCode.INVALID, "This request id was used for another order."
)
_PHOTO_GONE = ReturnUserError(
    ["items"],
    ReturnErrorCode.PHOTO_NOT_FOUND,
    "A photo could not be found (photos are kept for a day); please add it again.",
)
# A customer on the tenant's block list: told to contact the store, not that they are blocked.
_BLOCKED = ReturnUserError(
    ["customer_email"],
    ReturnErrorCode.ORDER_NOT_ELIGIBLE,
    "Returns for this order can't be requested online; please contact the store.",
)


def validate_request(
    request: ReturnRequest, policy: ReturnPolicy, eligibility: OrderEligibility
) -> list[ReturnUserError]:
    errors: list[ReturnUserError] = []
    codes = ReturnErrorCode
    # With no returnable items left, the per-item errors say which item and why.
    order_blocked = eligibility.ineligible_reason not in (None, Ineligibility.NO_RETURNABLE_ITEMS)
    if order_blocked:
        reason = eligibility.ineligible_reason
        errors.append(
            ReturnUserError(
                ["order_id"], codes.ORDER_NOT_ELIGIBLE, f"This order cannot be returned ({reason})."
            )
        )
    if request.return_method not in policy.allowed_methods:
        errors.append(
            ReturnUserError(
                ["return_method"], codes.METHOD_NOT_ALLOWED, "This return method is not offered."
            )
        )
    if request.resolution_type not in policy.allowed_resolutions:
        errors.append(
            ReturnUserError(
                ["resolution_type"], codes.RESOLUTION_NOT_ALLOWED, "This resolution is not offered."
            )
        )
    variant = (request.exchange_variant_id or "").strip()
    if request.resolution_type is ResolutionType.EXCHANGE and not variant:
        errors.append(
            ReturnUserError(
                ["exchange_variant_id"],
                codes.EXCHANGE_VARIANT_REQUIRED,
                "An exchange needs the variant to send instead.",
            )
        )
    if request.resolution_type is not ResolutionType.EXCHANGE and variant:
        errors.append(
            ReturnUserError(
                ["exchange_variant_id"],
                codes.EXCHANGE_VARIANT_NOT_ALLOWED,
                "An exchange variant is only accepted with the EXCHANGE resolution.",
            )
        )
    if not request.items:
        errors.append(ReturnUserError(["items"], codes.BLANK, "Choose at least one item."))
    if len(request.items) > MAX_ITEMS:
        errors.append(ReturnUserError(["items"], codes.TOO_LONG, f"At most {MAX_ITEMS} items."))
    requested = units_by_line(
        [((numeric_id(i.line_item_id) or ""), max(i.quantity, 0)) for i in request.items]
    )
    seen: set[str] = set()
    for index, item in enumerate(request.items):
        path = ["items", str(index)]
        line_id = numeric_id(item.line_item_id) or ""
        line = eligibility.line(line_id)
        if line is None:
            errors.append(
                ReturnUserError(
                    [*path, "line_item_id"],
                    codes.LINE_ITEM_NOT_FOUND,
                    "This order has no such item.",
                )
            )
            continue
        if line_id in seen:
            errors.append(
                ReturnUserError(
                    [*path, "line_item_id"], codes.DUPLICATE_LINE_ITEM, "This item is listed twice."
                )
            )
            continue
        seen.add(line_id)
        if item.note is not None and len(item.note) > MAX_NOTE_LENGTH:
            errors.append(
                ReturnUserError(
                    [*path, "note"], codes.TOO_LONG, f"At most {MAX_NOTE_LENGTH} characters."
                )
            )
        blocked = line.ineligible_reason not in (None, Ineligibility.ALREADY_RETURNED)
        if not order_blocked and blocked:
            errors.append(
                ReturnUserError(
                    [*path, "line_item_id"],
                    codes.ITEM_NOT_RETURNABLE,
                    f"This item cannot be returned ({line.ineligible_reason}).",
                )
            )
            continue
        if item.quantity < 1:
            errors.append(
                ReturnUserError(
                    [*path, "quantity"], codes.INVALID_QUANTITY, "Quantity must be >= 1."
                )
            )
        elif requested[line_id] > line.returnable_quantity:
            errors.append(
                ReturnUserError(
                    [*path, "quantity"],
                    codes.QUANTITY_EXCEEDS_RETURNABLE,
                    f"At most {line.returnable_quantity} can be returned.",
                )
            )
    return errors


def _auto_approves(policy: ReturnPolicy, order: Order, request: ReturnRequest) -> bool:
    rule = policy.auto_approve
    if not rule.enabled:
        return False
    if rule.max_order_total is not None and order.total_price > rule.max_order_total:
        return False
    allowed = {reason.strip().lower() for reason in rule.reasons}
    return not allowed or all(item.reason.value in allowed for item in request.items)


def returned_item(
    line: LineItem, quantity: int, reason: ReturnReason, note: str | None
) -> ReturnItem:
    """`quantity` units of the order's `line` coming back, priced as the customer paid them."""
    # Per-unit share of the line's discount, unrounded; the outcome is rounded once.
    unit_discount = line.total_discount / line.quantity if line.quantity else Decimal("0")
    return ReturnItem(
        line_item_id=line.id,
        title=line.title,
        sku=line.sku,
        variant_id=line.variant_id,
        product_id=line.product_id,
        product_type=line.product_type,
        quantity=quantity,
        reason=reason,
        note=note,
        unit_price=line.price,
        unit_discount=unit_discount,
    )


def build_return(
    tenant_id: str,
    order: Order,
    request: ReturnRequest,
    policy: ReturnPolicy,
    status: ReturnStatus,
    connected: bool,
    now: datetime,
) -> Return:
    lines = {line.id: line for line in order.line_items}
    items = [
        returned_item(
            lines[numeric_id(item.line_item_id) or ""],
            item.quantity,
            item.reason,
            (item.note or "").strip() or None,
        )
        for item in request.items
    ]
    history = [ReturnTransition(at=now, actor=CUSTOMER_ACTOR, to_status=ReturnStatus.REQUESTED)]
    if status is ReturnStatus.APPROVED:
        history.append(
            ReturnTransition(
                at=now,
                actor=SYSTEM_ACTOR,
                from_status=ReturnStatus.REQUESTED,
                to_status=ReturnStatus.APPROVED,
                note="Approved automatically by the return policy.",
            )
        )
    if connected:
        announce_mirror_work()  # its request is queued for the mirror with the return
    variant = (request.exchange_variant_id or "").strip()
    return Return(
        tenant_id=tenant_id,
        order_id=order.shopify_id,
        order_number=order.order_number,
        customer_email=normalize_email(request.customer_email),
        status=status,
        items=items,
        return_method=request.return_method,
        resolution_type=request.resolution_type,
        exchange_variant_id=numeric_id(variant) if variant else None,
        currency=order.currency,
        order_created_at=order.created_at,
        # The fee the customer was shown applies, whatever the policy says when it is resolved.
        restocking_fee_percent=(
            Decimal(0)
            if request.resolution_type is ResolutionType.EXCHANGE
            else policy.restocking_fee_percent
        ),
        return_shipping_fee=(
            Decimal(0)
            if request.resolution_type is ResolutionType.EXCHANGE
            else round_to_minor_unit(max(policy.return_shipping_fee, Decimal(0)), order.currency)
        ),
        shopify_sync=ShopifySync(action=MirrorAction.REQUEST.value) if connected else None,
        # A label method's label: bought once approved (or when asked for), by `LabelWorker`.
        shipment=plan_shipment(request.return_method, policy.shipping, now),
        history=history,
        created_at=now,
        updated_at=now,
    )


async def create_return(
    tenant_id: str,
    request: ReturnRequest,
    client_ip: str,
    *,
    locks: ClientLocks | None = None,
    now: datetime | None = None,
    catalog: ExchangeCatalog | None = None,
) -> CreateResult:
    """A customer's return request; refused with user errors and nothing written, or created.
    `PortalRateLimited` when the client has used up its failures; `locks` as for
    `lookup_order`; `catalog`: the shop's Shopify catalogue, where an exchange variant is checked
    and priced (`exchange.price_exchange`)."""
    lock = (
        locks.one_at_a_time(tenant_id, client_ip) if locks is not None else contextlib.nullcontext()
    )
    async with lock:
        return await _create_return(tenant_id, request, client_ip, now, catalog)


async def _create_return(
    tenant_id: str,
    request: ReturnRequest,
    client_ip: str,
    now: datetime | None,
    catalog: ExchangeCatalog | None,
) -> CreateResult:
    if is_limited(await recent_failures(tenant_id, client_ip)):
        raise PortalRateLimited()
    moment = now or utcnow()
    order_id = numeric_id(request.order_id) or ""
    order = (
        await Order.find_one({"tenant_id": tenant_id, "shopify_id": order_id}) if order_id else None
    )
    if order is None or not email_matches(order, request.customer_email):
        await record_failure(tenant_id, client_ip)
        return CreateResult(user_errors=[ORDER_NOT_FOUND])
    policy = await load_policy(tenant_id)
    if policy is None:
        await record_failure(tenant_id, client_ip)
        return CreateResult(user_errors=[ORDER_NOT_FOUND])
    return_id = request_return_id(tenant_id, request.request_id) if request.request_id else None
    if return_id is not None:
        done = await Return.find_one({"_id": return_id, "tenant_id": tenant_id})
        if done is not None and done.order_id == order.shopify_id:
            return CreateResult(record=done)  # an answer that was lost: the same return
        if done is not None:
            return CreateResult(user_errors=[_REQUEST_ID_TAKEN])
    reserved = await reserved_units(tenant_id, order.order_number)
    eligibility = evaluate_order(order, policy, reserved, moment)
    errors = validate_request(request, policy, eligibility)
    if errors:
        return CreateResult(user_errors=errors)
    if is_blocked(policy, request.customer_email):
        return CreateResult(user_errors=[_BLOCKED])

    connected = await shopify_connected(tenant_id)
    record = build_return(
        tenant_id, order, request, policy, ReturnStatus.REQUESTED, connected, moment
    )
    risk = await assess(
        tenant_id, request.customer_email, record.items, order.currency, policy, moment
    )
    # A flagged customer's request waits for staff, whatever the auto-approve rule says.
    if not risk.flagged and _auto_approves(policy, order, request):
        record = build_return(
            tenant_id, order, request, policy, ReturnStatus.APPROVED, connected, moment
        )
    record.risk = risk
    if errors := await checked_exchange(record, policy, connected, catalog):
        return CreateResult(user_errors=errors)
    photo_ids, errors = await _photos(tenant_id, request)
    if errors:
        return CreateResult(user_errors=errors)
    for item, requested in zip(record.items, request.items, strict=True):
        item.photo_ids = [photo_ids[token] for token in requested.photo_tokens]
    record.id = return_id
    return await reserve_and_insert_return(record, order, request, policy, moment)


def request_return_id(tenant_id: str, request_id: str) -> PydanticObjectId:
    """The id of the return a client's request makes: the same for every attempt of it."""
    digest = hashlib.sha256(f"{tenant_id}\n{request_id}".encode()).digest()
    return PydanticObjectId(digest[:12])


async def _photos(
    tenant_id: str, request: ReturnRequest
) -> tuple[dict[str, str], list[ReturnUserError]]:
    """The photo ids the request's tokens name, or why they cannot be used."""
    errors = [
        ReturnUserError(
            ["items", str(index), "photo_tokens"],
            ReturnErrorCode.INVALID,
            f"At most {MAX_PHOTOS_PER_ITEM} photos per item.",
        )
        for index, item in enumerate(request.items)
        if len(item.photo_tokens) > MAX_PHOTOS_PER_ITEM
    ]
    tokens = [token for item in request.items for token in item.photo_tokens]
    if errors or not tokens:
        return {}, errors
    found = await unclaimed_photos(tenant_id, tokens)
    if found is None:
        return {}, [_PHOTO_GONE]
    return found, []


async def checked_exchange(
    record: Return, policy: ReturnPolicy, connected: bool, catalog: ExchangeCatalog | None
) -> list[ReturnUserError]:
    """An exchange of a shop connected to Shopify, checked and priced there (nothing for other
    resolutions, or without a connection to ask)."""
    if record.resolution_type is not ResolutionType.EXCHANGE or not connected or catalog is None:
        return []
    return await price_exchange(record, policy, catalog)


async def reserve_and_insert_return(
    record: Return, order: Order, request: ReturnRequest, policy: ReturnPolicy, moment: datetime
) -> CreateResult:
    """Hold the units and insert `record` in one transaction: both or neither, whatever
    crashes or times out. Units someone else took meanwhile: user errors, nothing written."""
    tenant_id = record.tenant_id
    wanted = units_by_line(
        [((numeric_id(i.line_item_id) or ""), i.quantity) for i in request.items]
    )
    limits = {line.id: line.fulfilled_quantity for line in order.line_items if line.id in wanted}
    record.ledger_reserved = True
    # Our own id: a commit retried after its first attempt landed finds the return by it. A
    # request id given by the client makes it the same for every attempt of that request.
    if record.id is None:
        record.id = PydanticObjectId()
    queue_creation_events(record)  # inserted with it: the outbox is the return (events.py)
    await ensure_ledger(tenant_id, order.shopify_id, order.order_number)

    photo_ids = [photo for item in record.items for photo in item.photo_ids]
    photos_taken = False

    async def reserve_and_insert(session: AsyncClientSession) -> bool:
        nonlocal photos_taken
        if not await reserve(tenant_id, order.order_number, wanted, limits, session):
            await session.abort_transaction()
            return False
        # Its photos stop expiring with the insert, not before: never a return without them.
        assert record.id is not None
        if not await claim_photos(tenant_id, record.id, photo_ids, session):
            photos_taken = True
            await session.abort_transaction()
            return False
        await record.insert(session=session)
        return True

    try:
        database = Return.get_pymongo_collection().database
        created = await in_transaction(
            database.client, database.name, tenant_id, reserve_and_insert
        )
    except DuplicateKeyError:
        # A retried transaction met the return its first, committed attempt inserted.
        if not await _exists(record):
            raise
        created = True
    if not created and await _exists(record):
        # A commit whose outcome was unknown landed; the retried body then found the units
        # taken by this very return and gave up.
        created = True
    if not created and photos_taken:
        return CreateResult(user_errors=[_PHOTO_GONE])  # another request took one meanwhile
    if not created:
        # Someone else took the units since we read the ledger: report against fresh counters.
        fresh = evaluate_order(
            order, policy, await reserved_units(tenant_id, order.order_number), moment
        )
        return CreateResult(user_errors=validate_request(request, policy, fresh) or [_conflict()])
    return CreateResult(record=record)


async def _exists(record: Return) -> bool:
    found = await Return.get_pymongo_collection().find_one(
        {"_id": record.id, "tenant_id": record.tenant_id}, {"_id": 1}
    )
    return found is not None


def _conflict() -> ReturnUserError:
    return ReturnUserError(
        ["items"],
        ReturnErrorCode.QUANTITY_EXCEEDS_RETURNABLE,
        "These items were just returned by another request.",
    )
