"""Exchanges: a return's `ExchangeLineItem`s and what processing them does to the order.

An exchange line keeps the variant's price when the return was created (`_unit_price`) and its
applied discount on the whole line (`_discount`), both Decimals in the order's currency.
Processing `quantity` of it adds a line item to the order (that price, its share of the
discount), takes the units from `available` at the main warehouse and opens a
`FulfillmentOrder` for them, held `AWAITING_PAYMENT` when the customer owes a balance.
Every id here comes from the shop's `returns_rng` stream (never `shop.rng`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .models import JSON, ShopState, gid
from .money import amount_text, rounded_half_up
from .seed import line_item_node

AWAITING_PAYMENT = "AWAITING_PAYMENT"


@dataclass
class ExchangeDraft:
    """A checked `ExchangeLineItemInput`, nothing saved yet."""

    variant: JSON
    quantity: int
    unit_price: Decimal
    discount: Decimal
    description: str | None = None
    gift_card_codes: list[str] = field(default_factory=list)


def new_exchange_line(shop: ShopState, draft: ExchangeDraft) -> JSON:
    number = shop.next_id("ExchangeLineItem", rng=shop.returns_rng)
    return {
        "id": gid("ExchangeLineItem", number),
        "quantity": draft.quantity,
        "processedQuantity": 0,
        "variantId": draft.variant["id"],
        "_variant": draft.variant,
        "_unit_price": draft.unit_price,
        "_discount": draft.discount,
        "_discount_description": draft.description,
        "_gift_card_codes": draft.gift_card_codes,
        "_line_items": [],
    }


def processable(line: JSON) -> int:
    return int(line["quantity"]) - int(line["processedQuantity"])


def subtotal(line: JSON, quantity: int, currency: str) -> Decimal:
    """`quantity` units of an exchange line after its discount: round half up of quantity x
    (unit price - discount / the line's quantity), the division exact (the whole line: price x
    quantity - discount)."""
    share = Decimal(line["_discount"]) / max(int(line["quantity"]), 1)
    return rounded_half_up(quantity * (Decimal(line["_unit_price"]) - share), currency)


def value(lines: dict[str, JSON], asked: dict[str, int], currency: str, rate: Decimal) -> Decimal:
    """What the customer gets in exchange: per line, subtotal + tax (each rounded half up)."""
    total = Decimal(0)
    for line_id, quantity in asked.items():
        if quantity <= 0:
            continue
        line_total = subtotal(lines[line_id], quantity, currency)
        total += line_total + rounded_half_up(line_total * rate, currency)
    return total


def add_line_item(shop: ShopState, order: JSON, line: JSON, quantity: int) -> JSON:
    """The order's new (unfulfilled) line item for `quantity` units of an exchange line."""
    currency = order["presentmentCurrencyCode"]
    variant = line["_variant"]
    product = variant["_product"]
    unit = Decimal(line["_unit_price"])
    total = unit * quantity
    discounted = subtotal(line, quantity, currency)
    number = shop.next_id("LineItem", rng=shop.returns_rng)
    item = line_item_node(
        number, product["title"], product, variant, quantity, unit, total - discounted, currency
    )
    order["_lineItems"].append(item)
    shop.line_items_by_id[item["id"]] = item
    line["_line_items"].append(item)
    return item


def take_stock(shop: ShopState, variant_id: str, quantity: int) -> None:
    """Units promised to the customer: `available` at the main warehouse drops by `quantity`
    (not below 0) and `committed` grows by it; `on_hand` stays until shipped."""
    item = shop.inventory_items.get(variant_id)
    if item is None or not shop.locations:
        return
    level = next(lv for lv in item["_levels"] if lv["location"] is shop.locations[0])
    quantities = level["_quantities"]
    quantities["available"] = max(0, int(quantities["available"]) - quantity)
    quantities["committed"] = int(quantities.get("committed", 0)) + quantity


def open_fulfillment_order(
    shop: ShopState,
    order: JSON,
    record: JSON,
    items: list[JSON],
    owed: Decimal,
    at: datetime,
) -> JSON:
    """A fulfillment order for the exchange's new line items: ON_HOLD (AWAITING_PAYMENT) when the
    customer owes `owed` > 0, else OPEN."""
    currency = order["presentmentCurrencyCode"]
    rng = shop.returns_rng
    held = owed > 0
    fulfillment_order: JSON = {
        "id": gid("FulfillmentOrder", shop.next_id("FulfillmentOrder", rng=rng)),
        "status": "ON_HOLD" if held else "OPEN",
        "fulfillmentHolds": (
            [
                {
                    "reason": AWAITING_PAYMENT,
                    "reasonNotes": f"Awaiting payment of {amount_text(owed, currency)}"
                    f" {currency} for exchange items.",
                }
            ]
            if held
            else []
        ),
        "_lines": [
            {
                "id": gid(
                    "FulfillmentOrderLineItem", shop.next_id("FulfillmentOrderLineItem", rng=rng)
                ),
                "totalQuantity": item["quantity"],
                "lineItem": item,
            }
            for item in items
        ],
        "_return": record,
        "_created": at,
    }
    order.setdefault("_fulfillment_orders", []).append(fulfillment_order)
    if order["displayFulfillmentStatus"] == "FULFILLED":
        order["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED"
    return fulfillment_order


def public_line(line: JSON, currency: str) -> JSON:
    """An exchange line as the control API shows it."""
    return {
        "id": line["id"],
        "variant_id": line["variantId"],
        "quantity": line["quantity"],
        "processed_quantity": line["processedQuantity"],
        "unit_price": amount_text(Decimal(line["_unit_price"]), currency),
        "discount": amount_text(Decimal(line["_discount"]), currency),
        "discount_description": line["_discount_description"],
        "line_item_ids": [item["id"] for item in line["_line_items"]],
    }


def public_fulfillment_order(fulfillment_order: JSON) -> JSON:
    """A fulfillment order as the control API's order view shows it."""
    record = fulfillment_order.get("_return")
    return {
        "id": fulfillment_order["id"],
        "status": fulfillment_order["status"],
        "hold_reasons": [hold["reason"] for hold in fulfillment_order["fulfillmentHolds"]],
        "return_id": None if record is None else record["id"],
        "line_items": [
            {
                "id": line["id"],
                "line_item_id": line["lineItem"]["id"],
                "variant_id": (line["lineItem"].get("variant") or {}).get("id"),
                "quantity": line["totalQuantity"],
            }
            for line in fulfillment_order["_lines"]
        ],
    }
