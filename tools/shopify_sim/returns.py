"""Shopify Returns API state machine: REQUESTED -> OPEN -> CLOSED, or DECLINED / CANCELED."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from .models import JSON, ShopState, gid, iso, utcnow
from .money import fits_currency, minor_digits, parse_amount, rounded
from .payments import REFUNDABLE_KINDS, add_refund, apply_refund_to_order, refundable

ACTIVE = {"REQUESTED", "OPEN", "CLOSED"}
TRANSFER = ["input", "financialTransfer"]
ORDER_TRANSACTIONS = [*TRANSFER, "issueRefund", "orderTransactions"]
EXCEEDS = "Refund amount exceeds the refundable amount of the transaction."


def user_error(field: list[str] | None, message: str, code: str) -> JSON:
    return {"field": field, "message": message, "code": code}


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


def request_return(shop: ShopState, data: JSON) -> JSON:
    order = shop.orders_by_id.get(str(data.get("orderId")))
    if order is None:
        return {
            "return": None,
            "userErrors": [user_error(["input", "orderId"], "Order does not exist.", "NOT_FOUND")],
        }
    requested = data.get("returnLineItems") or []
    if not requested:
        return {
            "return": None,
            "userErrors": [
                user_error(
                    ["input", "returnLineItems"], "Return line items can't be blank.", "BLANK"
                )
            ],
        }
    available = {item["id"]: remaining for item, remaining in returnable_items(shop, order)}
    by_line: dict[str, list[str]] = {}
    for item_id in available:
        by_line.setdefault(shop.fulfillment_line_items_by_id[item_id]["lineItem"]["id"], []).append(
            item_id
        )
    lines: list[JSON] = []
    errors: list[JSON] = []
    for index, spec in enumerate(requested):
        path = ["input", "returnLineItems", str(index)]
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
        lines.append(
            {
                "id": gid("ReturnLineItem", shop.next_id("ReturnLineItem")),
                "quantity": quantity,
                "processedQuantity": 0,
                "returnReason": spec.get("returnReason") or "UNKNOWN",
                "returnReasonNote": spec.get("returnReasonNote") or "",
                "customerNote": spec.get("customerNote"),
                "fulfillmentLineItem": shop.fulfillment_line_items_by_id[item_id],
            }
        )
    if errors:
        return {"return": None, "userErrors": errors}
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
        "_lines": lines,
        "_refunds": [],
    }
    shop.returns[record["id"]] = record
    return {"return": record, "userErrors": []}


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
        record["status"] = "OPEN"
        record["requestApprovedAt"] = iso(utcnow())
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


def process(shop: ShopState, data: JSON) -> JSON:
    record, errors = _find(shop, data.get("returnId"), ["input", "returnId"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["input", "returnId"], "processed", {"OPEN"})
    if errors:
        return {"return": record, "userErrors": errors}
    lines = {line["id"]: line for line in record["_lines"]}
    wanted = data.get("returnLineItems")
    if wanted is None:
        wanted = [
            {"id": line["id"], "quantity": line["quantity"] - line["processedQuantity"]}
            for line in record["_lines"]
        ]
    for index, spec in enumerate(wanted):
        line = lines.get(str(spec.get("id")))
        path = ["input", "returnLineItems", str(index)]
        if line is None:
            errors.append(
                user_error([*path, "id"], "Return line item does not exist.", "NOT_FOUND")
            )
        elif int(spec.get("quantity") or 0) > line["quantity"] - line["processedQuantity"]:
            errors.append(
                user_error(
                    [*path, "quantity"], "Quantity exceeds the processable quantity.", "INVALID"
                )
            )
    shares, note, transfer_errors = refund_plan(record["order"], data.get("financialTransfer"))
    errors.extend(transfer_errors)
    if errors:
        return {"return": record, "userErrors": errors}
    for spec in wanted:
        lines[str(spec["id"])]["processedQuantity"] += int(spec.get("quantity") or 0)
    now = utcnow()
    if all(line["processedQuantity"] >= line["quantity"] for line in record["_lines"]):
        record["status"] = "CLOSED"
        record["closedAt"] = iso(now)
    result: JSON = {"return": record, "userErrors": []}
    if shares or note:
        order = record["order"]
        refund = add_refund(shop, order, shares, at=now, note=note, return_record=record)
        apply_refund_to_order(order, refund)
        moment = max(now, order["_updated"] + timedelta(seconds=1))  # strictly newer
        order["_updated"] = moment
        order["updatedAt"] = iso(moment)
        result["_refund"] = refund  # for the resolver's refunds/create event
    return result


def _refund_methods_note(methods: list[Any]) -> str | None:
    """`refundMethods` (store credit) are not paid by the simulator; the refund notes them."""
    described = []
    for method in methods:
        credit = method.get("storeCreditRefund") if isinstance(method, dict) else None
        amount = credit.get("amount") if isinstance(credit, dict) else None
        if isinstance(amount, dict):
            described.append(f"store credit {amount.get('amount')} {amount.get('currencyCode')}")
        else:
            described.append(f"refund method {method!r}")
    if not described:
        return None
    return "Not issued by the simulator: " + "; ".join(described)


def refund_plan(
    order: JSON, transfer: Any
) -> tuple[list[tuple[JSON, Decimal]], str | None, list[JSON]]:
    """`financialTransfer.issueRefund` checked against the order's payments, changing nothing:
    (parent transaction, amount) shares, a note for refund methods, user errors."""
    if transfer is None:
        return [], None, []
    if not isinstance(transfer, dict):
        return [], None, [user_error(TRANSFER, "Financial transfer must be an object.", "INVALID")]
    issue = transfer.get("issueRefund")
    if issue is None:
        return [], None, []
    if not isinstance(issue, dict):
        return (
            [],
            None,
            [user_error([*TRANSFER, "issueRefund"], "Issue refund must be an object.", "INVALID")],
        )
    entries = issue.get("orderTransactions") or []
    methods = issue.get("refundMethods") or []
    if not isinstance(entries, list) or not isinstance(methods, list):
        return (
            [],
            None,
            [user_error([*TRANSFER, "issueRefund"], "Issue refund is invalid.", "INVALID")],
        )
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
        money = entry.get("transactionAmount")
        money = money if isinstance(money, dict) else {}
        if money.get("currencyCode") != currency:
            errors.append(
                user_error(
                    [*path, "transactionAmount", "currencyCode"],
                    f"Currency must be the order's presentment currency ({currency}).",
                    "INVALID",
                )
            )
            continue
        amount = parse_amount(money.get("amount"))
        amount_path = [*path, "transactionAmount", "amount"]
        if amount is None or amount <= 0:
            errors.append(user_error(amount_path, "Amount must be greater than 0.", "INVALID"))
            continue
        if not fits_currency(amount, currency):
            digits = minor_digits(currency)
            errors.append(
                user_error(
                    amount_path,
                    f"Amount has more decimal places than {currency} allows ({digits}).",
                    "INVALID",
                )
            )
            continue
        amount = rounded(amount, currency)
        taken[parent["id"]] = taken.get(parent["id"], Decimal(0)) + amount
        if not over_refunding and taken[parent["id"]] > refundable(order, parent):
            errors.append(user_error(amount_path, EXCEEDS, "INVALID"))
            continue
        shares.append((parent, amount))
    if errors:
        return [], None, errors
    return shares, _refund_methods_note(methods), []


def cancel(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "canceled", {"REQUESTED", "OPEN"})
    if not errors and any(line["processedQuantity"] for line in record["_lines"]):
        errors = [
            user_error(
                ["id"], "Return has processed items and cannot be canceled.", "INVALID_STATE"
            )
        ]
    if not errors:
        record["status"] = "CANCELED"
    return {"return": record, "userErrors": errors}


def close(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "closed", {"OPEN"})
    if not errors:
        record["status"] = "CLOSED"
        record["closedAt"] = iso(utcnow())
    return {"return": record, "userErrors": errors}


def reopen(shop: ShopState, return_id: Any) -> JSON:
    record, errors = _find(shop, return_id, ["id"])
    if record is None:
        return {"return": None, "userErrors": errors}
    errors = _wrong_state(record, ["id"], "reopened", {"CLOSED"})
    if not errors:
        record["status"] = "OPEN"
        record["closedAt"] = None
    return {"return": record, "userErrors": errors}


def public(record: JSON) -> JSON:
    """A return as the control API shows it."""
    return {
        "id": record["id"],
        "name": record["name"],
        "status": record["status"],
        "order_id": record["order"]["id"],
        "decline": record["decline"],
        "created_at": record["createdAt"],
        "closed_at": record["closedAt"],
        "refund_ids": [refund["id"] for refund in record.get("_refunds", [])],
        "line_items": [
            {
                "id": line["id"],
                "quantity": line["quantity"],
                "processed_quantity": line["processedQuantity"],
                "return_reason": line["returnReason"],
                "customer_note": line["customerNote"],
                "fulfillment_line_item_id": line["fulfillmentLineItem"]["id"],
                "line_item_id": line["fulfillmentLineItem"]["lineItem"]["id"],
            }
            for line in record["_lines"]
        ],
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
