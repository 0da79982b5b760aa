"""REST-style webhook payloads (snake_case, numeric ids) as Shopify sends them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .models import JSON, ShopState, gid_number, utcnow
from .money import amount_text

FINANCIAL = {"PARTIALLY_REFUNDED": "partially_refunded", "PARTIALLY_PAID": "partially_paid"}
FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": None}


def rest_time(moment: str | datetime | None) -> str | None:
    """Shopify REST timestamps carry an offset: 2026-01-01T10:00:00+00:00."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.isoformat()
    return moment.replace("Z", "+00:00")


def _amount(bag: JSON) -> str:
    return str(bag["shopMoney"]["amount"])


def _money_set(bag: JSON) -> JSON:
    return {
        "shop_money": {
            "amount": bag["shopMoney"]["amount"],
            "currency_code": bag["shopMoney"]["currencyCode"],
        },
        "presentment_money": {
            "amount": bag["presentmentMoney"]["amount"],
            "currency_code": bag["presentmentMoney"]["currencyCode"],
        },
    }


def _number(value: str | None) -> int | None:
    return None if value is None else gid_number(value)


def address(value: JSON | None) -> JSON | None:
    if value is None:
        return None
    return {
        "first_name": value.get("firstName"),
        "last_name": value.get("lastName"),
        "name": value.get("name"),
        "address1": value.get("address1"),
        "address2": value.get("address2"),
        "city": value.get("city"),
        "province": value.get("province"),
        "province_code": value.get("provinceCode"),
        "country": value.get("country"),
        "country_code": value.get("countryCodeV2"),
        "zip": value.get("zip"),
        "phone": value.get("phone"),
        "company": value.get("company"),
    }


def customer(value: JSON | None) -> JSON | None:
    if value is None:
        return None
    return {
        "id": _number(value["id"]),
        "admin_graphql_api_id": value["id"],
        "email": value.get("email"),
        "first_name": value.get("firstName"),
        "last_name": value.get("lastName"),
        "phone": value.get("phone"),
        "state": str(value.get("state", "ENABLED")).lower(),
        "tags": ", ".join(value.get("tags") or []),
        "verified_email": value.get("verifiedEmail", True),
        "created_at": rest_time(value.get("createdAt")),
        "updated_at": rest_time(value.get("updatedAt")),
        "default_address": address(value.get("defaultAddress")),
    }


def line_item(value: JSON) -> JSON:
    variant = value.get("variant") or {}
    product = value.get("product") or {}
    fulfilled = value["quantity"] - value["unfulfilledQuantity"]
    return {
        "id": _number(value["id"]),
        "admin_graphql_api_id": value["id"],
        "variant_id": _number(variant.get("id")),
        "product_id": _number(product.get("id")),
        "title": value["title"],
        "name": value["name"],
        "variant_title": value.get("variantTitle"),
        "sku": value.get("sku"),
        "vendor": value.get("vendor"),
        "product_type": product.get("productType"),
        "price": _amount(value["originalUnitPriceSet"]),
        "price_set": _money_set(value["originalUnitPriceSet"]),
        "quantity": value["quantity"],
        "current_quantity": value["currentQuantity"],
        "fulfillable_quantity": value["unfulfilledQuantity"],
        "fulfillment_status": None
        if fulfilled == 0
        else "fulfilled"
        if value["unfulfilledQuantity"] == 0
        else "partial",
        "requires_shipping": value["requiresShipping"],
        "taxable": value["taxable"],
        "gift_card": False,
        "grams": 400,
        "total_discount": _amount(value["totalDiscountSet"]),
        "total_discount_set": _money_set(value["totalDiscountSet"]),
        "discount_allocations": [
            {
                "amount": _amount(a["allocatedAmountSet"]),
                "amount_set": _money_set(a["allocatedAmountSet"]),
            }
            for a in value["discountAllocations"]
        ],
        "properties": [],
        "tax_lines": [],
    }


def fulfillment(value: JSON, order: JSON) -> JSON:
    return {
        "id": _number(value["id"]),
        "admin_graphql_api_id": value["id"],
        "order_id": order["_number"],
        "name": value["name"],
        "status": "success" if value["status"] == "SUCCESS" else str(value["status"]).lower(),
        "shipment_status": "delivered" if value.get("deliveredAt") else "in_transit",
        "created_at": rest_time(value["createdAt"]),
        "updated_at": rest_time(value["updatedAt"]),
        "tracking_company": value["trackingInfo"][0]["company"] if value["trackingInfo"] else None,
        "tracking_number": value["trackingInfo"][0]["number"] if value["trackingInfo"] else None,
        "line_items": [
            line_item(item["lineItem"]) | {"quantity": item["quantity"]}
            for item in value["_fulfillmentLineItems"]
        ],
    }


def order(value: JSON, shop: ShopState) -> JSON:
    lines = value["_lineItems"]
    line_total = sum((Decimal(_amount(line["originalTotalSet"])) for line in lines), Decimal(0))
    return {
        "id": value["_number"],
        "admin_graphql_api_id": value["id"],
        "app_id": None,
        "name": value["name"],
        "number": value["_order_number"] - 1000,
        "order_number": value["_order_number"],
        "confirmation_number": f"C{value['_number'] % 10**9:09d}"[:10],
        "confirmed": True,
        "email": value.get("email"),
        "contact_email": value.get("email"),
        "phone": value.get("phone"),
        "created_at": rest_time(value["createdAt"]),
        "updated_at": rest_time(value["updatedAt"]),
        "processed_at": rest_time(value["processedAt"]),
        "cancelled_at": rest_time(value.get("cancelledAt")),
        "cancel_reason": value.get("cancelReason"),
        "closed_at": rest_time(value.get("closedAt")),
        "currency": value["currencyCode"],
        "presentment_currency": value["presentmentCurrencyCode"],
        "financial_status": FINANCIAL.get(
            value["displayFinancialStatus"], str(value["displayFinancialStatus"]).lower()
        ),
        "fulfillment_status": FULFILLMENT.get(value["displayFulfillmentStatus"]),
        "test": value["test"],
        "note": value.get("note"),
        "tags": ", ".join(value["tags"]),
        "subtotal_price": _amount(value["subtotalPriceSet"]),
        "total_discounts": _amount(value["totalDiscountsSet"]),
        "total_line_items_price": amount_text(line_total, value["currencyCode"]),
        "total_tax": _amount(value["totalTaxSet"]),
        "total_price": _amount(value["totalPriceSet"]),
        "current_total_price": _amount(value["totalPriceSet"]),
        "total_price_set": _money_set(value["totalPriceSet"]),
        "subtotal_price_set": _money_set(value["subtotalPriceSet"]),
        "total_discounts_set": _money_set(value["totalDiscountsSet"]),
        "total_shipping_price_set": _money_set(value["totalShippingPriceSet"]),
        "discount_codes": [],
        "customer": customer(value.get("customer")),
        "shipping_address": address(value.get("shippingAddress")),
        "billing_address": address(value.get("billingAddress")),
        "line_items": [line_item(line) for line in lines],
        "fulfillments": [fulfillment(f, value) for f in value["_fulfillments"]],
        "refunds": [],
        "order_status_url": f"https://{shop.domain}/{shop.shop_id}/orders/{value['id'][-12:]}/authenticate",
    }


def shop_payload(shop: ShopState) -> JSON:
    return {
        "id": shop.shop_id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "myshopify_domain": shop.domain,
        "shop_owner": shop.name,
        "plan_name": "basic",
        "plan_display_name": "Basic",
        "currency": shop.currency,
        "iana_timezone": "UTC",
        "country_code": "US",
    }


def customers_redact(shop: ShopState, who: JSON, orders: list[Any]) -> JSON:
    return {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "customer": who,
        "orders_to_redact": orders,
    }


def customers_data_request(shop: ShopState, who: JSON, orders: list[Any], request_id: int) -> JSON:
    return {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "orders_requested": orders,
        "customer": who,
        "data_request": {"id": request_id},
    }


def scopes_update(shop: ShopState, previous: list[str], current: list[str]) -> JSON:
    return {
        "id": shop.shop_id,  # the app installation's id in Shopify; the shop's here
        "previous": previous,
        "current": current,
        "updated_at": rest_time(utcnow()),
        "shop_id": shop.shop_id,
    }


def shop_redact(shop: ShopState) -> JSON:
    return {"shop_id": shop.shop_id, "shop_domain": shop.domain}


def refund(value: JSON) -> JSON:
    """`refunds/create`: a Refund as Shopify's REST resource (numeric ids, lowercase enums)."""
    order = value["order"]
    record = value["return"]
    currency = order["presentmentCurrencyCode"]
    return {
        "id": value["_number"],
        "admin_graphql_api_id": value["id"],
        "order_id": order["_number"],
        "created_at": rest_time(value["createdAt"]),
        "processed_at": rest_time(value["createdAt"]),
        "note": value["note"],
        "restock": False,
        "user_id": None,
        "refund_line_items": [],
        "order_adjustments": [],
        "duties": [],
        "transactions": [
            {
                "id": transaction["_number"],
                "admin_graphql_api_id": transaction["id"],
                "order_id": order["_number"],
                "parent_id": transaction["parentTransaction"]["_number"]
                if transaction["parentTransaction"] is not None
                else None,
                "amount": amount_text(transaction["_amount"], currency),
                "currency": currency,
                "gateway": transaction["gateway"],
                "kind": "refund",
                "status": "success",
                "test": transaction["test"],
                "created_at": rest_time(transaction["createdAt"]),
                "processed_at": rest_time(transaction["processedAt"]),
            }
            for transaction in value["_transactions"]
        ],
        "return": None
        if record is None
        else {"id": gid_number(record["id"]), "admin_graphql_api_id": record["id"]},
    }
