"""Reverse deliveries: how an OPEN return's goods travel back to the merchant.

`reverseDeliveryCreateWithShipping` adds a `ReverseDelivery` to a reverse fulfillment order:
some units of its lines, and a `ReverseDeliveryShippingDeliverable` (tracking and/or a return
label). A reverse fulfillment order may have several (one parcel per label), but together they
carry at most each line's `totalQuantity`. Delivery and delivery line ids come from the shop's
`returns_rng` stream, as the other return extras' do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .models import HTTP_URL, JSON, ShopState, gid, gid_number, iso, user_error, utcnow

LINES = "reverseDeliveryLineItems"
# Shopify names the carrier it recognises (`carrierName`); the simulator recognises these hosts
# of the tracking URL (or a subdomain of one) and leaves any other carrier unnamed (null).
CARRIERS_BY_HOST = {
    "ups.com": "UPS",
    "usps.com": "USPS",
    "fedex.com": "FedEx",
    "dhl.com": "DHL Express",
    "canadapost-postescanada.ca": "Canada Post",
    "royalmail.com": "Royal Mail",
    "auspost.com.au": "Australia Post",
}


@dataclass
class DeliveryDraft:
    """A checked `reverseDeliveryCreateWithShipping` input, nothing saved yet."""

    lines: list[tuple[JSON, int]] = field(default_factory=list)  # reverse order line, quantity
    tracking: JSON | None = None
    label_url: str | None = None
    errors: list[JSON] = field(default_factory=list)


def _reverse_orders(shop: ShopState) -> Iterator[tuple[JSON, JSON]]:
    """(return, reverse fulfillment order) for each reverse fulfillment order of the shop."""
    for record in shop.returns.values():
        for reverse in record.get("_reverse_fulfillment_orders", []):
            yield record, reverse


def find_reverse_order(shop: ShopState, reverse_id: Any) -> tuple[JSON, JSON] | None:
    """(return, reverse fulfillment order) of this shop with that id; None when there is none
    (another shop's id included: ids are global, records are per shop)."""
    return next((found for found in _reverse_orders(shop) if found[1]["id"] == reverse_id), None)


def find_delivery(shop: ShopState, delivery_id: Any) -> JSON | None:
    return next(
        (
            delivery
            for _record, reverse in _reverse_orders(shop)
            for delivery in reverse.get("_deliveries", [])
            if delivery["id"] == delivery_id
        ),
        None,
    )


def undelivered(reverse: JSON, line: JSON) -> int:
    """Units of a reverse fulfillment order line not yet on any of the order's deliveries."""
    taken = sum(
        int(delivery_line["quantity"])
        for delivery in reverse.get("_deliveries", [])
        for delivery_line in delivery["_lines"]
        if delivery_line["reverseFulfillmentOrderLineItem"] is line
    )
    return int(line["totalQuantity"]) - taken


def _check_lines(reverse: JSON, wanted: list[Any], draft: DeliveryDraft) -> None:
    """Each line of this reverse fulfillment order, quantity >= 1 and, summed over repeats, at
    most what is still undelivered. No lines: every line's undelivered units (Shopify gives an
    empty list the whole order)."""
    lines = {line["id"]: line for line in reverse["_lines"]}
    if not wanted:
        draft.lines = [
            (line, left) for line in reverse["_lines"] if (left := undelivered(reverse, line)) > 0
        ]
        if not draft.lines:
            draft.errors.append(
                user_error(
                    [LINES],
                    "Every item of the reverse fulfillment order is already on a reverse delivery.",
                    "INVALID",
                )
            )
        return
    asked: Counter[str] = Counter()
    for index, spec in enumerate(wanted):
        path = [LINES, str(index)]
        spec = spec if isinstance(spec, dict) else {}
        line = lines.get(str(spec.get("reverseFulfillmentOrderLineItemId")))
        if line is None:
            draft.errors.append(
                user_error(
                    [*path, "reverseFulfillmentOrderLineItemId"],
                    "Reverse fulfillment order line item does not exist on this reverse"
                    " fulfillment order.",
                    "NOT_FOUND",
                )
            )
            continue
        quantity = spec.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            draft.errors.append(
                user_error([*path, "quantity"], "Quantity must be greater than 0.", "GREATER_THAN")
            )
            continue
        asked[line["id"]] += quantity
        remaining = undelivered(reverse, line)
        if asked[line["id"]] > remaining:
            draft.errors.append(
                user_error(
                    [*path, "quantity"],
                    f"Quantity exceeds the quantity not yet on a reverse delivery ({remaining}).",
                    "LESS_THAN_OR_EQUAL_TO",
                )
            )
            continue
        draft.lines.append((line, quantity))


def _url(value: Any, path: list[str], draft: DeliveryDraft) -> str | None:
    """An http(s) URL, or None (absent, or a user error at `path`)."""
    if value is None:
        return None
    if not isinstance(value, str) or not HTTP_URL.match(value):
        draft.errors.append(user_error(path, "URL must be an http or https address.", "INVALID"))
        return None
    return value


def carrier_name(url: str | None) -> str | None:
    if url is None:
        return None
    host = urlsplit(url).hostname or ""
    return next(
        (
            name
            for domain, name in CARRIERS_BY_HOST.items()
            if host == domain or host.endswith("." + domain)
        ),
        None,
    )


def _check_shipping(args: JSON, draft: DeliveryDraft) -> None:
    """Tracking (a number and/or an http(s) URL; neither: none) and the label's file URL."""
    tracking = args.get("trackingInput") or {}
    url = _url(tracking.get("url"), ["trackingInput", "url"], draft)
    number = str(tracking.get("number") or "").strip() or None
    if number is not None or url is not None:
        draft.tracking = {"number": number, "url": url, "carrierName": carrier_name(url)}
    label = args.get("labelInput")
    if label is not None:
        draft.label_url = _url(label.get("fileUrl"), ["labelInput", "fileUrl"], draft)


def check(record: JSON, reverse: JSON, args: JSON) -> DeliveryDraft:
    """The return must be OPEN (its reverse fulfillment order too: they change together), then
    every line and the shipping information is checked, all errors reported at once."""
    draft = DeliveryDraft()
    if record["status"] != "OPEN":
        draft.errors.append(
            user_error(
                ["reverseFulfillmentOrderId"],
                f"Reverse fulfillment order is {reverse['status'].lower()}: its return is"
                f" {record['status']}, only an OPEN return's goods can be sent back.",
                "INVALID_STATE",
            )
        )
        return draft
    _check_lines(reverse, list(args.get(LINES) or []), draft)
    _check_shipping(args, draft)
    return draft


def _save(shop: ShopState, record: JSON, reverse: JSON, draft: DeliveryDraft, notify: bool) -> JSON:
    rng = shop.returns_rng
    now = iso(utcnow())
    deliverable = None
    if draft.tracking is not None or draft.label_url is not None:
        deliverable = {
            "__typename": "ReverseDeliveryShippingDeliverable",
            "tracking": draft.tracking,
            "label": None
            if draft.label_url is None
            else {"publicFileUrl": draft.label_url, "createdAt": now, "updatedAt": now},
        }
    delivery: JSON = {
        "id": gid("ReverseDelivery", shop.next_id("ReverseDelivery", rng=rng)),
        "deliverable": deliverable,
        "reverseFulfillmentOrder": reverse,
        "createdAt": now,
        "_return": record,
        "_lines": [
            {
                "id": gid(
                    "ReverseDeliveryLineItem", shop.next_id("ReverseDeliveryLineItem", rng=rng)
                ),
                "quantity": quantity,
                "reverseFulfillmentOrderLineItem": line,
            }
            for line, quantity in draft.lines
        ],
        "_notify_customer": notify,
        # Shopify emails delivery instructions only when there is a label to send
        "_customer_notified": notify and draft.label_url is not None,
    }
    reverse.setdefault("_deliveries", []).append(delivery)
    return delivery


def create_with_shipping(shop: ShopState, args: JSON) -> JSON:
    """`reverseDeliveryCreateWithShipping`: all or nothing (user errors, nothing saved)."""
    found = find_reverse_order(shop, args.get("reverseFulfillmentOrderId"))
    if found is None:
        return {
            "reverseDelivery": None,
            "userErrors": [
                user_error(
                    ["reverseFulfillmentOrderId"],
                    "Reverse fulfillment order does not exist.",
                    "NOT_FOUND",
                )
            ],
        }
    record, reverse = found
    draft = check(record, reverse, args)
    if draft.errors:
        return {"reverseDelivery": None, "userErrors": draft.errors}
    # an explicit null counts as false; omitted, the argument's default (true) applies
    notify = bool(args.get("notifyCustomer"))
    return {"reverseDelivery": _save(shop, record, reverse, draft, notify), "userErrors": []}


def _shipping(delivery: JSON) -> tuple[JSON | None, JSON | None]:
    """(tracking, label) of a delivery's deliverable; None for what it does not have."""
    deliverable = delivery["deliverable"] or {}
    return deliverable.get("tracking"), deliverable.get("label")


def _rest_tracking(tracking: JSON | None) -> JSON | None:
    """Tracking in the webhook's REST names (the control API shows it the same way)."""
    if tracking is None:
        return None
    return {
        "carrier_name": tracking["carrierName"],
        "tracking_number": tracking["number"],
        "tracking_url": tracking["url"],
    }


def public(delivery: JSON) -> JSON:
    """A reverse delivery as the control API shows it."""
    tracking, label = _shipping(delivery)
    return {
        "id": delivery["id"],
        "reverse_fulfillment_order_id": delivery["reverseFulfillmentOrder"]["id"],
        "created_at": delivery["createdAt"],
        "tracking": _rest_tracking(tracking),
        "label_url": None if label is None else label["publicFileUrl"],
        "notify_customer": delivery["_notify_customer"],
        "customer_notified": delivery["_customer_notified"],
        "line_items": [
            {
                "id": line["id"],
                "reverse_fulfillment_order_line_item_id": line["reverseFulfillmentOrderLineItem"][
                    "id"
                ],
                "quantity": line["quantity"],
            }
            for line in delivery["_lines"]
        ],
    }


def webhook_payload(delivery: JSON) -> JSON:
    """The body of `reverse_deliveries/attach_deliverable` (REST shape, as Shopify sends it)."""
    record = delivery["_return"]
    tracking, label = _shipping(delivery)
    return {
        "id": gid_number(delivery["id"]),
        "admin_graphql_api_id": delivery["id"],
        "return": {"id": gid_number(record["id"]), "admin_graphql_api_id": record["id"]},
        "shipping_deliverable": {
            "tracking": _rest_tracking(tracking),
            "label": None
            if label is None
            else {"public_file_url": label["publicFileUrl"], "created_at": label["createdAt"]},
        },
    }
