"""Shopify Returns API state machine: REQUESTED -> OPEN -> CLOSED, or DECLINED / CANCELED."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from . import exchanges, inventory
from . import store_credit as credits
from .models import JSON, ShopState, gid, iso, user_error, utcnow
from .money import (
    amount_text,
    bag_amount,
    fits_currency,
    minor_digits,
    money_bag,
    parse_amount,
    rounded,
    rounded_half_up,
)
from .payments import (
    REFUNDABLE_KINDS,
    add_refund,
    apply_refund_to_order,
    order_refundable,
    refundable,
)
from .seed import TAX_RATE

ACTIVE = {"REQUESTED", "OPEN", "CLOSED"}
TRANSFER = ["input", "financialTransfer"]
ISSUE_REFUND = [*TRANSFER, "issueRefund"]
ORDER_TRANSACTIONS = [*ISSUE_REFUND, "orderTransactions"]
REFUND_METHODS = [*ISSUE_REFUND, "refundMethods"]
EXCEEDS = "Refund amount exceeds the refundable amount of the transaction."
EXCEEDS_ORDER = "Refund amount exceeds the refundable amount of the order."
DISPOSITION_TYPES = {"MISSING", "NOT_RESTOCKED", "PROCESSING_REQUIRED", "RESTOCKED"}
HUNDRED = Decimal(100)


def returned_quantity(shop: ShopState, fulfillment_line_item_id: str) -> int:
    return sum(
        line["quantity"]
        for record in shop.returns.values()
        if record["status"] in ACTIVE
        for line in record["_lines"]
        if line["fulfillmentLineItem"]["id"] == fulfillment_line_item_id
    )


def returnable_items(shop: ShopState, order: JSON) -> list[tuple[JSON, int]]:
    """(fulfillment line item, quantity still returnable) for each fulfilled line of an order."""
    found = []
    for fulfillment in order["_fulfillments"]:
        for item in fulfillment["_fulfillmentLineItems"]:
            remaining = item["quantity"] - returned_quantity(shop, item["id"])
            if remaining > 0:
                found.append((item, remaining))
    return found


def line_subtotal(line_item: JSON, quantity: int, currency: str) -> Decimal:
    """`quantity` units of an order line after its discount: the original unit price less the
    line's total discount over its ordered quantity (exact), times `quantity`, rounded half up
    once."""
    unit = bag_amount(line_item["originalUnitPriceSet"])
    discount = bag_amount(line_item["totalDiscountSet"])
    ordered = max(int(line_item["quantity"]), 1)
    return rounded_half_up(quantity * (unit - discount / ordered), currency)


def percent_of(amount: Decimal, percentage: Any, currency: str) -> Decimal:
    return rounded_half_up(amount * Decimal(str(percentage)) / HUNDRED, currency)


def _restocking_percentage(spec: JSON, path: list[str]) -> tuple[float | None, list[JSON]]:
    fee = spec.get("restockingFee")
    if fee is None:
        return None, []
    value = fee.get("percentage") if isinstance(fee, dict) else None
    fee_path = [*path, "restockingFee", "percentage"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, [user_error(fee_path, "Percentage must be a number.", "NOT_A_NUMBER")]
    if value < 0:
        return None, [
            user_error(fee_path, "Percentage must be at least 0.", "GREATER_THAN_OR_EQUAL_TO")
        ]
    if value > 100:
        return None, [
            user_error(fee_path, "Percentage must be at most 100.", "LESS_THAN_OR_EQUAL_TO")
        ]
    return float(value), []


def _shipping_fee(order: JSON, data: JSON, root: str) -> tuple[Decimal | None, list[JSON]]:
    """`returnShippingFee: {amount: {amount, currencyCode}}` in the order's currency, >= 0."""
    fee = data.get("returnShippingFee")
    if fee is None:
        return None, []
    path = [root, "returnShippingFee", "amount"]
    money = fee.get("amount") if isinstance(fee, dict) else None
    money = money if isinstance(money, dict) else {}
    currency = order["presentmentCurrencyCode"]
    if money.get("currencyCode") != currency:
        return None, [
            user_error(
                [*path, "currencyCode"],
                f"Currency must be the order's presentment currency ({currency}).",
                "INVALID",
            )
        ]
    amount = parse_amount(money.get("amount"))
    if amount is None or amount < 0:
        return None, [
            user_error([*path, "amount"], "Amount must be at least 0.", "GREATER_THAN_OR_EQUAL_TO")
        ]
    if not fits_currency(amount, currency):
        return None, [
            user_error(
                [*path, "amount"],
                f"Amount has more decimal places than {currency} allows"
                f" ({minor_digits(currency)}).",
                "INVALID",
            )
        ]
    return rounded(amount, currency), []


@dataclass
class ReturnDraft:
    """A checked `returnRequest` / `returnCreate` input, nothing saved yet (`order` is None when
    the order does not exist)."""

    order: JSON | None
    lines: list[tuple[JSON, JSON, float | None]] = field(default_factory=list)  # spec, item, fee %
    shipping_fee: Decimal | None = None
    errors: list[JSON] = field(default_factory=list)


def _check_return(shop: ShopState, data: JSON, root: str) -> ReturnDraft:
    """The order, its return lines (fulfilled, still returnable quantities, fees) and the return
    shipping fee of a return input; user errors at `[root, ...]`."""
    order = shop.orders_by_id.get(str(data.get("orderId")))
    if order is None:
        return ReturnDraft(
            None, errors=[user_error([root, "orderId"], "Order does not exist.", "NOT_FOUND")]
        )
    requested = data.get("returnLineItems") or []
    if not requested:
        return ReturnDraft(
            order,
            errors=[
                user_error([root, "returnLineItems"], "Return line items can't be blank.", "BLANK")
            ],
        )
    available = {item["id"]: remaining for item, remaining in returnable_items(shop, order)}
    by_line: dict[str, list[str]] = {}
    for item_id in available:
        by_line.setdefault(shop.fulfillment_line_items_by_id[item_id]["lineItem"]["id"], []).append(
            item_id
        )
    shipping_fee, errors = _shipping_fee(order, data, root)
    draft = ReturnDraft(order, shipping_fee=shipping_fee, errors=errors)
    for index, spec in enumerate(requested):
        path = [root, "returnLineItems", str(index)]
        percentage, fee_errors = _restocking_percentage(spec, path)
        if fee_errors:
            errors.extend(fee_errors)
            continue
        quantity = int(spec.get("quantity") or 0)
        item_id = spec.get("fulfillmentLineItemId")
        if not item_id and spec.get("lineItemId"):
            candidates = by_line.get(str(spec["lineItemId"]), [])
            item_id = next(
                (c for c in candidates if available[c] >= quantity),
                candidates[0] if candidates else None,
            )
            if item_id is None:
                errors.append(
                    user_error(
                        [*path, "lineItemId"],
                        "Line item is not fulfilled or not returnable.",
                        "INVALID",
                    )
                )
                continue
        if (
            not item_id
            or item_id not in shop.fulfillment_line_items_by_id
            or (
                shop.fulfillment_line_items_by_id[item_id]["_fulfillment"]
                not in order["_fulfillments"]
            )
        ):
            errors.append(
                user_error(
                    [*path, "fulfillmentLineItemId"],
                    "Fulfillment line item does not exist.",
                    "NOT_FOUND",
                )
            )
            continue
        if quantity <= 0:
            errors.append(
                user_error([*path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
            )
            continue
        if quantity > available.get(item_id, 0):
            errors.append(
                user_error(
                    [*path, "quantity"],
                    "Quantity is greater than the returnable quantity.",
                    "LESS_THAN_OR_EQUAL_TO",
                )
            )
            continue
        available[item_id] -= quantity
        draft.lines.append((spec, shop.fulfillment_line_items_by_id[item_id], percentage))
    return draft


def _save_return(shop: ShopState, draft: ReturnDraft) -> JSON:
    """A REQUESTED return from a checked draft: its lines, their restocking fees, its shipping
    fee. Line and return ids come from the shop's own stream, fees' from `returns_rng`."""
    order = draft.order
    assert order is not None
    currency = order["presentmentCurrencyCode"]
    lines: list[JSON] = []
    for spec, item, percentage in draft.lines:
        quantity = int(spec["quantity"])
        line: JSON = {
            "id": gid("ReturnLineItem", shop.next_id("ReturnLineItem")),
            "quantity": quantity,
            "processedQuantity": 0,
            "returnReason": spec.get("returnReason") or "UNKNOWN",
            "returnReasonNote": spec.get("returnReasonNote") or "",
            "customerNote": spec.get("customerNote"),
            "fulfillmentLineItem": item,
            "restockingFee": None,
        }
        lines.append(line)
        if percentage is not None:
            subtotal = line_subtotal(item["lineItem"], quantity, currency)
            line["restockingFee"] = {
                "id": gid("RestockingFee", shop.next_id("RestockingFee", rng=shop.returns_rng)),
                "amountSet": money_bag(percent_of(subtotal, percentage, currency), currency),
                "percentage": percentage,
            }
    shipping_fees = []
    if draft.shipping_fee is not None:
        number = shop.next_id("ReturnShippingFee", rng=shop.returns_rng)
        shipping_fees.append(
            {
                "id": gid("ReturnShippingFee", number),
                "amountSet": money_bag(draft.shipping_fee, currency),
                "_amount": draft.shipping_fee,
            }
        )
    existing = sum(1 for record in shop.returns.values() if record["order"] is order)
    record: JSON = {
        "id": gid("Return", shop.next_id("Return")),
        "name": f"{order['name']}-R{existing + 1}",
        "status": "REQUESTED",
        "order": order,
        "decline": None,
        "createdAt": iso(utcnow()),
        "closedAt": None,
        "requestApprovedAt": None,
        "returnShippingFees": shipping_fees,
        "_lines": lines,
        "_exchange_lines": [],
        "_refunds": [],
        "_reverse_fulfillment_orders": [],
    }
    shop.returns[record["id"]] = record
    order.setdefault("_returns", []).append(record)  # for the `return_status` search filter
    return record


def request_return(shop: ShopState, data: JSON, root: str = "input") -> JSON:
    """`returnRequest`: a REQUESTED return (user errors at `[root, ...]`, nothing saved)."""
    draft = _check_return(shop, data, root)
    if draft.errors:
        return {"return": None, "userErrors": draft.errors}
    return {"return": _save_return(shop, draft), "userErrors": []}


def _applied_discount(
    spec: Any, line_total: Decimal, currency: str, path: list[str], errors: list[JSON]
) -> tuple[Decimal, str | None] | None:
    """`appliedDiscount: {description, value: {amount: MoneyInput} | {percentage}}` on an exchange
    line: (discount on the whole line, description); None after a user error."""
    if spec is None:
        return Decimal(0), None
    value = spec.get("value") if isinstance(spec, dict) else None
    value = value if isinstance(value, dict) else {}
    value_path = [*path, "value"]
    amount, percentage = value.get("amount"), value.get("percentage")
    if (amount is None) == (percentage is None):
        errors.append(
            user_error(value_path, "Give exactly one of amount or percentage.", "INVALID")
        )
        return None
    if amount is not None:
        discount = _money_amount(amount, currency, [*value_path, "amount"], errors)
        if discount is None:
            return None
        if discount > line_total:
            errors.append(
                user_error(
                    [*value_path, "amount", "amount"],
                    "Discount exceeds the line's price times its quantity.",
                    "INVALID",
                )
            )
            return None
    else:
        if isinstance(percentage, bool) or not isinstance(percentage, int | float):
            percentage = None
        if percentage is None or not 0 < percentage <= 100:
            errors.append(
                user_error(
                    [*value_path, "percentage"],
                    "Percentage must be greater than 0 and at most 100.",
                    "INVALID",
                )
            )
            return None
        discount = percent_of(line_total, percentage, currency)
    description = spec.get("description")
    return discount, None if description is None else str(description)


def _check_exchanges(
    shop: ShopState, order: JSON, data: JSON, root: str
) -> tuple[list[exchanges.ExchangeDraft], list[JSON]]:
    """`exchangeLineItems`: each a variant of the shop with enough stock available over all
    locations (summed per variant), quantity > 0, a discount not above price x quantity."""
    currency = order["presentmentCurrencyCode"]
    drafts: list[exchanges.ExchangeDraft] = []
    errors: list[JSON] = []
    wanted: dict[str, int] = {}
    for index, spec in enumerate(data.get("exchangeLineItems") or []):
        path = [root, "exchangeLineItems", str(index)]
        variant_id = spec.get("variantId") if isinstance(spec, dict) else None
        variant = (
            None
            if variant_id is None
            else shop.variants_by_id.get(inventory.normalize_gid("ProductVariant", str(variant_id)))
        )
        if variant is None:
            errors.append(
                user_error([*path, "variantId"], "Product variant does not exist.", "NOT_FOUND")
            )
            continue
        quantity = spec.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors.append(
                user_error([*path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
            )
            continue
        total = wanted.get(variant["id"], 0) + quantity
        item = shop.inventory_items.get(variant["id"])
        in_stock = 0 if item is None else inventory.available(item)
        if total > in_stock:
            errors.append(
                user_error(
                    [*path, "quantity"],
                    f"{variant['displayName']} is out of stock: {in_stock} available,"
                    f" {total} wanted.",
                    "INVALID",
                )
            )
            continue
        price = rounded(Decimal(str(variant["price"])), currency)
        discount = _applied_discount(
            spec.get("appliedDiscount"),
            price * quantity,
            currency,
            [*path, "appliedDiscount"],
            errors,
        )
        if discount is None:
            continue
        wanted[variant["id"]] = total
        drafts.append(
            exchanges.ExchangeDraft(
                variant=variant,
                quantity=quantity,
                unit_price=price,
                discount=discount[0],
                description=discount[1],
                gift_card_codes=[str(code) for code in spec.get("giftCardCodes") or []],
            )
        )
    return drafts, errors


def create_open(shop: ShopState, data: JSON, root: str = "input") -> JSON:
    """A return staff create in Shopify admin, and `returnCreate(returnInput:)`: the checks of
    `returnRequest` plus its exchange lines, all or nothing; OPEN at once, with its reverse
    fulfillment order and exchange lines (whose price is the variant's now)."""
    draft = _check_return(shop, data, root)
    if draft.order is None:
        return {"return": None, "userErrors": draft.errors}
    planned, exchange_errors = _check_exchanges(shop, draft.order, data, root)
    errors = draft.errors + exchange_errors
    if errors:
        return {"return": None, "userErrors": errors}
    record = _save_return(shop, draft)
    record["_requested_at"] = data.get("requestedAt")
    _open(shop, record)
    record["_exchange_lines"] = [exchanges.new_exchange_line(shop, plan) for plan in planned]
    return {"return": record, "userErrors": []}


def _open(shop: ShopState, record: JSON) -> None:
    """REQUESTED -> OPEN: the return gets one reverse fulfillment order, a line per return line."""
    record["status"] = "OPEN"
    record["requestApprovedAt"] = iso(utcnow())
    rng = shop.returns_rng
    number = shop.next_id("ReverseFulfillmentOrder", rng=rng)
    record["_reverse_fulfillment_orders"].append(
        {
            "id": gid("ReverseFulfillmentOrder", number),
            "status": "OPEN",
            "_lines": [
                {
                    "id": gid(
                        "ReverseFulfillmentOrderLineItem",
                        shop.next_id("ReverseFulfillmentOrderLineItem", rng=rng),
                    ),
                    "totalQuantity": line["quantity"],
                    "fulfillmentLineItem": line["fulfillmentLineItem"],
                    "dispositions": [],
                    "_return_line": line,
                }
                for line in record["_lines"]
            ],
            "_deliveries": [],  # reverse deliveries (reverse_deliveries.py)
        }
    )


def _set_reverse_status(record: JSON, status: str) -> None:
    for order in record.get("_reverse_fulfillment_orders", []):
        order["status"] = status


def _find(shop: ShopState, return_id: Any, field: list[str]) -> tuple[JSON | None, list[JSON]]:
    record = shop.returns.get(str(return_id))
    if record is None:
        return None, [user_error(field, "Return does not exist.", "NOT_FOUND")]
    return record, []


def _wrong_state(record: JSON, field: list[str], action: str, allowed: set[str]) -> list[JSON]:
    if record["status"] in allowed:
        return []
    wanted = " or ".join(sorted(allowed))
    return [
        user_error(
            field,
            f"Return is not {action}. Only returns with status {wanted} can be {action}.",
            "INVALID_STATE",
        )
    ]


def approve(shop: ShopState, data: JSON) -> JSON:
    record, errors = _find(shop, data.get("id"), ["input", "id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["input", "id"], "approved", {"REQUESTED"})
    if not errors:
        _open(shop, record)
    return {"return": record, "userErrors": errors}


def decline(shop: ShopState, data: JSON) -> JSON:
    record, errors = _find(shop, data.get("id"), ["input", "id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["input", "id"], "declined", {"REQUESTED"})
    if not errors:
        record["status"] = "DECLINED"
        record["decline"] = {
            "reason": data.get("declineReason") or "OTHER",
            "note": data.get("declineNote"),
        }
    return {"return": record, "userErrors": errors}


@dataclass
class Disposition:
    """A checked `dispositions` entry of `returnProcess`, applied once everything passed."""

    line: JSON  # the reverse fulfillment order line item
    quantity: int
    type: str
    location: JSON | None


@dataclass
class StoreCredit:
    amount: Decimal
    expires_at: str | None


@dataclass
class RefundPlan:
    """`financialTransfer.issueRefund` checked against the order, nothing changed yet."""

    shares: list[tuple[JSON, Decimal]] = field(default_factory=list)
    store_credits: list[StoreCredit] = field(default_factory=list)
    errors: list[JSON] = field(default_factory=list)


def _dispositions(
    shop: ShopState, record: JSON, line: JSON, spec: JSON, path: list[str]
) -> tuple[list[Disposition], list[JSON]]:
    """`returnLineItems[i].dispositions`: reverse fulfillment order line items of this return
    line, at most the quantity processed on it, a location of the shop to restock at."""
    given = spec.get("dispositions") or []
    if not isinstance(given, list):
        return [], [user_error([*path, "dispositions"], "Dispositions are invalid.", "INVALID")]
    reverse_lines = {
        reverse_line["id"]: reverse_line
        for order in record.get("_reverse_fulfillment_orders", [])
        for reverse_line in order["_lines"]
    }
    found: list[Disposition] = []
    errors: list[JSON] = []
    for index, entry in enumerate(given):
        entry_path = [*path, "dispositions", str(index)]
        if not isinstance(entry, dict):
            errors.append(user_error(entry_path, "Disposition is invalid.", "INVALID"))
            continue
        reverse_line = reverse_lines.get(str(entry.get("reverseFulfillmentOrderLineItemId")))
        id_path = [*entry_path, "reverseFulfillmentOrderLineItemId"]
        if reverse_line is None:
            errors.append(
                user_error(
                    id_path,
                    "Reverse fulfillment order line item does not exist on this return.",
                    "NOT_FOUND",
                )
            )
            continue
        if reverse_line["fulfillmentLineItem"] is not line["fulfillmentLineItem"]:
            errors.append(
                user_error(
                    id_path,
                    "Reverse fulfillment order line item is not of this return line item.",
                    "INVALID",
                )
            )
            continue
        quantity = entry.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors.append(
                user_error(
                    [*entry_path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN"
                )
            )
            continue
        kind = entry.get("dispositionType")
        if kind not in DISPOSITION_TYPES:
            errors.append(
                user_error(
                    [*entry_path, "dispositionType"], "Disposition type is invalid.", "INCLUSION"
                )
            )
            continue
        location = inventory.find_location(shop, entry.get("locationId"))
        location_path = [*entry_path, "locationId"]
        if entry.get("locationId") is None and kind == "RESTOCKED":
            errors.append(user_error(location_path, "A location is required to restock.", "BLANK"))
            continue
        if entry.get("locationId") is not None and location is None:
            errors.append(user_error(location_path, "Location does not exist.", "NOT_FOUND"))
            continue
        found.append(Disposition(reverse_line, quantity, str(kind), location))
    processed = int(spec.get("quantity") or 0)
    if not errors and sum(d.quantity for d in found) > processed:
        errors.append(
            user_error(
                [*path, "dispositions"],
                "Disposed quantity exceeds the quantity being processed.",
                "LESS_THAN_OR_EQUAL_TO",
            )
        )
    return ([] if errors else found), errors


def _dispose(shop: ShopState, disposition: Disposition, at: datetime) -> None:
    number = shop.next_id("ReverseFulfillmentOrderDisposition", rng=shop.returns_rng)
    disposition.line["dispositions"].append(
        {
            "id": gid("ReverseFulfillmentOrderDisposition", number),
            "quantity": disposition.quantity,
            "type": disposition.type,
            "location": disposition.location,
            "createdAt": iso(at),
        }
    )
    if disposition.type == "RESTOCKED" and disposition.location is not None:
        variant = disposition.line["fulfillmentLineItem"]["lineItem"].get("variant") or {}
        inventory.restock(shop, variant.get("id"), disposition.location, disposition.quantity)


def _exchange_quantities(
    record: JSON, wanted: list[Any], path_root: list[str], errors: list[JSON]
) -> dict[str, int]:
    """Exchange line id -> quantity asked for (summed over repeats), as user errors at
    `[*path_root, "<i>", ...]`: an exchange line of this return (NOT_FOUND), a quantity from 0 to
    what is still processable (INVALID)."""
    lines = {line["id"]: line for line in record.get("_exchange_lines", [])}
    asked: dict[str, int] = {}
    for index, spec in enumerate(wanted):
        path = [*path_root, str(index)]
        spec = spec if isinstance(spec, dict) else {}
        line = lines.get(str(spec.get("id")))
        if line is None:
            errors.append(
                user_error(
                    [*path, "id"], "Exchange line item does not exist on this return.", "NOT_FOUND"
                )
            )
            continue
        quantity = spec.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            errors.append(
                user_error([*path, "quantity"], "Quantity must be at least 0.", "INVALID")
            )
            continue
        asked[line["id"]] = asked.get(line["id"], 0) + quantity
        if asked[line["id"]] > exchanges.processable(line):
            errors.append(
                user_error(
                    [*path, "quantity"], "Quantity exceeds the processable quantity.", "INVALID"
                )
            )
    return asked


def _returned_value(
    record: JSON, asked: dict[str, int], currency: str, rate: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(discounted subtotal, restocking fees, tax) of `asked` return line quantities, each
    rounded half up once per line."""
    lines = {line["id"]: line for line in record["_lines"]}
    zero = rounded(Decimal(0), currency)
    subtotal, fees, tax = zero, zero, zero
    for line_id, quantity in asked.items():
        line = lines[line_id]
        line_total = line_subtotal(line["fulfillmentLineItem"]["lineItem"], quantity, currency)
        fee = line["restockingFee"]
        subtotal += line_total
        fees += zero if fee is None else percent_of(line_total, fee["percentage"], currency)
        tax += rounded_half_up(line_total * rate, currency)
    return subtotal, fees, tax


def _tax_rate(order: JSON) -> Decimal:
    return Decimal(str(order.get("_tax_rate", TAX_RATE)))


def process(shop: ShopState, data: JSON) -> JSON:
    record, errors = _find(shop, data.get("returnId"), ["input", "returnId"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["input", "returnId"], "processed", {"OPEN"})
    if errors:
        return {"return": record, "userErrors": errors}
    lines = {line["id"]: line for line in record["_lines"]}
    wanted = data.get("returnLineItems")
    wanted_exchanges = data.get("exchangeLineItems")
    if wanted is None:
        wanted = [
            {"id": line["id"], "quantity": line["quantity"] - line["processedQuantity"]}
            for line in record["_lines"]
        ]
        if wanted_exchanges is None:  # neither given: everything still to process
            wanted_exchanges = [
                {"id": line["id"], "quantity": exchanges.processable(line)}
                for line in record.get("_exchange_lines", [])
            ]
    dispositions: list[Disposition] = []
    returned: dict[str, int] = {}
    for index, spec in enumerate(wanted):
        line = lines.get(str(spec.get("id")))
        path = ["input", "returnLineItems", str(index)]
        if line is None:
            errors.append(
                user_error([*path, "id"], "Return line item does not exist.", "NOT_FOUND")
            )
            continue
        if int(spec.get("quantity") or 0) > line["quantity"] - line["processedQuantity"]:
            errors.append(
                user_error(
                    [*path, "quantity"], "Quantity exceeds the processable quantity.", "INVALID"
                )
            )
            continue
        returned[line["id"]] = returned.get(line["id"], 0) + max(int(spec.get("quantity") or 0), 0)
        found, disposition_errors = _dispositions(shop, record, line, spec, path)
        dispositions.extend(found)
        errors.extend(disposition_errors)
    exchanged = _exchange_quantities(
        record, wanted_exchanges or [], ["input", "exchangeLineItems"], errors
    )
    order = record["order"]
    currency = order["presentmentCurrencyCode"]
    rate = _tax_rate(order)
    subtotal, fees, tax = _returned_value(record, returned, currency, rate)
    exchange_lines = {line["id"]: line for line in record.get("_exchange_lines", [])}
    # what the customer owes for the exchange beyond what the returned goods are worth
    owed = exchanges.value(exchange_lines, exchanged, currency, rate) - (subtotal - fees + tax)
    plan = refund_plan(order, data.get("financialTransfer"))
    errors.extend(plan.errors)
    refunded = sum((amount for _parent, amount in plan.shares), Decimal(0)) + sum(
        (credit.amount for credit in plan.store_credits), Decimal(0)
    )
    if owed > 0 and refunded > 0:
        errors.append(
            user_error(
                TRANSFER,
                f"Nothing to refund: the customer owes {amount_text(owed, currency)} {currency}"
                " for the exchange.",
                "INVALID",
            )
        )
    if errors:
        return {"return": record, "userErrors": errors}
    for spec in wanted:
        lines[str(spec["id"])]["processedQuantity"] += int(spec.get("quantity") or 0)
    now = utcnow()
    for disposition in dispositions:
        _dispose(shop, disposition, now)
    new_items: list[JSON] = []
    for line_id, quantity in exchanged.items():
        if quantity <= 0:
            continue
        line = exchange_lines[line_id]
        line["processedQuantity"] += quantity
        new_items.append(exchanges.add_line_item(shop, order, line, quantity))
        exchanges.take_stock(shop, line["variantId"], quantity)
    if new_items:
        # held while the customer owes: the exchange is worth more than what they got back
        exchanges.open_fulfillment_order(shop, order, record, new_items, owed + refunded, now)
    if all(line["processedQuantity"] >= line["quantity"] for line in record["_lines"]) and all(
        exchanges.processable(line) <= 0 for line in record.get("_exchange_lines", [])
    ):
        record["status"] = "CLOSED"
        record["closedAt"] = iso(now)
        _set_reverse_status(record, "CLOSED")
    result: JSON = {"return": record, "userErrors": []}
    if plan.shares or plan.store_credits:
        refund = add_refund(
            shop,
            order,
            plan.shares,
            at=now,
            return_record=record,
            store_credits=[credit.amount for credit in plan.store_credits],
        )
        paid_to_credit = refund["_transactions"][len(plan.shares) :]
        for credit, transaction in zip(plan.store_credits, paid_to_credit, strict=True):
            account = credits.account_for(shop, order["customer"], order["presentmentCurrencyCode"])
            credits.credit(
                shop,
                account,
                credit.amount,
                at=now,
                expires_at=credit.expires_at,
                origin=transaction,
            )
        apply_refund_to_order(order, refund)
        result["_refund"] = refund  # for the resolver's refunds/create event
    if new_items or plan.shares or plan.store_credits:
        moment = max(now, order["_updated"] + timedelta(seconds=1))  # strictly newer
        order["_updated"] = moment
        order["updatedAt"] = iso(moment)
    return result


def _money_amount(money: Any, currency: str, path: list[str], errors: list[JSON]) -> Decimal | None:
    """A `{amount, currencyCode}` in the order's currency, > 0, within its minor unit."""
    money = money if isinstance(money, dict) else {}
    if money.get("currencyCode") != currency:
        errors.append(
            user_error(
                [*path, "currencyCode"],
                f"Currency must be the order's presentment currency ({currency}).",
                "INVALID",
            )
        )
        return None
    amount = parse_amount(money.get("amount"))
    if amount is None or amount <= 0:
        errors.append(user_error([*path, "amount"], "Amount must be greater than 0.", "INVALID"))
        return None
    if not fits_currency(amount, currency):
        errors.append(
            user_error(
                [*path, "amount"],
                f"Amount has more decimal places than {currency} allows"
                f" ({minor_digits(currency)}).",
                "INVALID",
            )
        )
        return None
    return rounded(amount, currency)


def _store_credits(order: JSON, methods: list[Any]) -> tuple[list[StoreCredit], list[JSON]]:
    """`refundMethods: [{storeCreditRefund: {amount: {amount, currencyCode}, expiresAt}}]`."""
    currency = order["presentmentCurrencyCode"]
    found: list[StoreCredit] = []
    errors: list[JSON] = []
    now = utcnow()
    for index, method in enumerate(methods):
        path = [*REFUND_METHODS, str(index)]
        refund = method.get("storeCreditRefund") if isinstance(method, dict) else None
        if not isinstance(refund, dict):
            errors.append(user_error(path, "Refund method must be a storeCreditRefund.", "INVALID"))
            continue
        path = [*path, "storeCreditRefund"]
        if order.get("customer") is None:
            errors.append(
                user_error(path, "The order has no customer to give store credit to.", "INVALID")
            )
            continue
        amount = _money_amount(refund.get("amount"), currency, [*path, "amount"], errors)
        if amount is None:
            continue
        expires_at = refund.get("expiresAt")
        expiry = None
        if expires_at is not None:
            try:
                expiry = credits.parse_datetime(expires_at)
            except ValueError:
                expiry = None
            if expiry is None or expiry <= now:
                errors.append(
                    user_error(
                        [*path, "expiresAt"], "The expiry date must be in the future.", "INVALID"
                    )
                )
                continue
        found.append(StoreCredit(amount, None if expiry is None else iso(expiry)))
    return found, errors


def refund_plan(order: JSON, transfer: Any) -> RefundPlan:
    """`financialTransfer.issueRefund` checked against the order's payments, changing nothing:
    (parent transaction, amount) shares, store credit to give, user errors."""
    if transfer is None:
        return RefundPlan()
    if not isinstance(transfer, dict):
        return RefundPlan(
            errors=[user_error(TRANSFER, "Financial transfer must be an object.", "INVALID")]
        )
    issue = transfer.get("issueRefund")
    if issue is None:
        return RefundPlan()
    if not isinstance(issue, dict):
        return RefundPlan(
            errors=[user_error(ISSUE_REFUND, "Issue refund must be an object.", "INVALID")]
        )
    entries = issue.get("orderTransactions") or []
    methods = issue.get("refundMethods") or []
    if not isinstance(entries, list) or not isinstance(methods, list):
        return RefundPlan(errors=[user_error(ISSUE_REFUND, "Issue refund is invalid.", "INVALID")])
    over_refunding = bool(issue.get("allowOverRefunding"))
    currency = order["presentmentCurrencyCode"]
    transactions = {transaction["id"]: transaction for transaction in order["_transactions"]}
    taken: dict[str, Decimal] = {}
    shares: list[tuple[JSON, Decimal]] = []
    errors: list[JSON] = []
    for index, entry in enumerate(entries):
        path = [*ORDER_TRANSACTIONS, str(index)]
        if not isinstance(entry, dict):
            errors.append(user_error(path, "Order transaction is invalid.", "INVALID"))
            continue
        parent = transactions.get(str(entry.get("transactionId")))
        if parent is None:
            errors.append(
                user_error(
                    [*path, "transactionId"],
                    "Order transaction does not exist on this order.",
                    "INVALID",
                )
            )
            continue
        if parent["kind"] not in REFUNDABLE_KINDS or parent["status"] != "SUCCESS":
            errors.append(
                user_error(
                    [*path, "transactionId"],
                    "Only successful sale or capture transactions can be refunded.",
                    "INVALID",
                )
            )
            continue
        amount = _money_amount(
            entry.get("transactionAmount"), currency, [*path, "transactionAmount"], errors
        )
        if amount is None:
            continue
        taken[parent["id"]] = taken.get(parent["id"], Decimal(0)) + amount
        if not over_refunding and taken[parent["id"]] > refundable(order, parent):
            errors.append(user_error([*path, "transactionAmount", "amount"], EXCEEDS, "INVALID"))
            continue
        shares.append((parent, amount))
    store_credits, credit_errors = _store_credits(order, methods)
    errors.extend(credit_errors)
    if errors:
        return RefundPlan(errors=errors)
    total = sum((amount for _parent, amount in shares), Decimal(0)) + sum(
        (credit.amount for credit in store_credits), Decimal(0)
    )
    if not over_refunding and total > order_refundable(order):
        return RefundPlan(errors=[user_error(ISSUE_REFUND, EXCEEDS_ORDER, "INVALID")])
    return RefundPlan(shares, store_credits)


def suggested_outcome(
    record: JSON, return_line_items: list[JSON], exchange_line_items: list[JSON] | None = None
) -> JSON:
    """`Return.suggestedFinancialOutcome`: in the order's currency, per return line (each rounded
    half up once): subtotal = round(quantity x discounted unit price), restocking fee =
    round(subtotal x percentage / 100), tax = round(subtotal x the order's tax rate); summed,
    fees plus the return's shipping fees. Exchange lines are worth, per line, round(quantity x
    (price - discount / quantity)) + its tax, rounded the same way. amount = subtotal - fees +
    tax - exchanges: a refund (at most what the order's payments can still refund) when >= 0,
    else an invoice of what the customer owes. An unknown line, or more than its processable
    quantity, is a GraphQL error."""
    order = record["order"]
    currency = order["presentmentCurrencyCode"]
    rate = _tax_rate(order)
    lines = {line["id"]: line for line in record["_lines"]}
    asked: dict[str, int] = {}
    for spec in return_line_items:
        line = lines.get(str(spec.get("id")))
        if line is None:
            raise GraphQLError(f"Return line item {spec.get('id')} does not exist on this return.")
        quantity = int(spec.get("quantity") or 0)
        if quantity < 0:
            raise GraphQLError("Quantity must be at least 0.")
        asked[line["id"]] = asked.get(line["id"], 0) + quantity
        if asked[line["id"]] > line["quantity"] - line["processedQuantity"]:
            raise GraphQLError(
                f"Quantity of return line item {line['id']} exceeds its processable quantity."
            )
    errors: list[JSON] = []
    exchanged = _exchange_quantities(
        record, exchange_line_items or [], ["exchangeLineItems"], errors
    )
    if errors:
        raise GraphQLError(f"{errors[0]['message']} ({'.'.join(errors[0]['field'])})")
    subtotal, fees, tax = _returned_value(record, asked, currency, rate)
    zero = rounded(Decimal(0), currency)
    fees += sum((fee["_amount"] for fee in record.get("returnShippingFees", [])), zero)
    exchange_lines = {line["id"]: line for line in record.get("_exchange_lines", [])}
    exchange_value = exchanges.value(exchange_lines, exchanged, currency, rate)
    maximum = rounded(order_refundable(order), currency)
    amount = min(subtotal - fees + tax - exchange_value, maximum)
    transfer: JSON = (
        {"__typename": "RefundReturnOutcome", "amount": money_bag(amount, currency)}
        if amount >= 0
        else {"__typename": "InvoiceReturnOutcome", "amount": money_bag(-amount, currency)}
    )
    return {
        "discountedSubtotal": money_bag(subtotal, currency),
        "totalAdditionalFees": money_bag(fees, currency),
        "totalTax": money_bag(tax, currency),
        "maximumRefundable": money_bag(maximum, currency),
        "financialTransfer": transfer,
    }


def cancel(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "canceled", {"REQUESTED", "OPEN"})
    if not errors and any(
        line["processedQuantity"]
        for line in [*record["_lines"], *record.get("_exchange_lines", [])]
    ):
        errors = [
            user_error(
                ["id"], "Return has processed items and cannot be canceled.", "INVALID_STATE"
            )
        ]
    if not errors:
        record["status"] = "CANCELED"
        _set_reverse_status(record, "CANCELED")
    return {"return": record, "userErrors": errors}


def close(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "closed", {"OPEN"})
    if not errors:
        record["status"] = "CLOSED"
        record["closedAt"] = iso(utcnow())
        _set_reverse_status(record, "CLOSED")
    return {"return": record, "userErrors": errors}


def reopen(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "reopened", {"CLOSED"})
    if not errors:
        record["status"] = "OPEN"
        record["closedAt"] = None
        _set_reverse_status(record, "OPEN")
    return {"return": record, "userErrors": errors}


def public(record: JSON) -> JSON:
    """A return as the control API shows it."""
    reverse_orders = record.get("_reverse_fulfillment_orders", [])
    reverse_lines = {
        reverse_line["_return_line"]["id"]: reverse_line
        for reverse in reverse_orders
        for reverse_line in reverse["_lines"]
    }
    return {
        "id": record["id"],
        "name": record["name"],
        "status": record["status"],
        "order_id": record["order"]["id"],
        "decline": record["decline"],
        "created_at": record["createdAt"],
        "closed_at": record["closedAt"],
        "refund_ids": [refund["id"] for refund in record.get("_refunds", [])],
        "return_shipping_fees": [
            {"id": fee["id"], "amount": fee["amountSet"]["presentmentMoney"]["amount"]}
            for fee in record.get("returnShippingFees", [])
        ],
        "exchange_line_items": [
            exchanges.public_line(line, record["order"]["presentmentCurrencyCode"])
            for line in record.get("_exchange_lines", [])
        ],
        "reverse_fulfillment_orders": [
            {
                "id": reverse["id"],
                "status": reverse["status"],
                "line_item_ids": [reverse_line["id"] for reverse_line in reverse["_lines"]],
            }
            for reverse in reverse_orders
        ],
        "line_items": [
            {
                "id": line["id"],
                "quantity": line["quantity"],
                "processed_quantity": line["processedQuantity"],
                "return_reason": line["returnReason"],
                "customer_note": line["customerNote"],
                "fulfillment_line_item_id": line["fulfillmentLineItem"]["id"],
                "line_item_id": line["fulfillmentLineItem"]["lineItem"]["id"],
                "restocking_fee": _public_fee(line.get("restockingFee")),
                "reverse_fulfillment_order_line_item_id": (
                    None if line["id"] not in reverse_lines else reverse_lines[line["id"]]["id"]
                ),
                "dispositions": [
                    {
                        "id": disposition["id"],
                        "quantity": disposition["quantity"],
                        "type": disposition["type"],
                        "location_id": None
                        if disposition["location"] is None
                        else disposition["location"]["id"],
                        "created_at": disposition["createdAt"],
                    }
                    for disposition in (
                        reverse_lines[line["id"]]["dispositions"]
                        if line["id"] in reverse_lines
                        else []
                    )
                ],
            }
            for line in record["_lines"]
        ],
    }


def _public_fee(fee: JSON | None) -> JSON | None:
    if fee is None:
        return None
    return {
        "id": fee["id"],
        "percentage": fee["percentage"],
        "amount": fee["amountSet"]["presentmentMoney"]["amount"],
    }


def webhook_payload(record: JSON) -> JSON:
    """The body of a `returns/*` delivery: the return in REST form, without its lines."""
    return {
        "id": int(record["id"].rsplit("/", 1)[-1]),
        "admin_graphql_api_id": record["id"],
        "status": str(record["status"]).lower(),
        "order": {"id": record["order"]["_number"], "admin_graphql_api_id": record["order"]["id"]},
        "total_return_line_items": len(record["_lines"]),
        "name": record["name"],
    }
