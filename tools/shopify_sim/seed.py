"""Deterministic shop contents: random.Random(f"{seed}:{shop}") drives every choice.

Orders are plain dicts in the Admin GraphQL shape (camelCase); keys starting with `_` are
internal (sort keys, child lists) and never reach a client except through resolvers.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .config import BucketConfig
from .models import JSON, Bucket, ShopState, gid, iso, utcnow
from .money import money_bag, rounded
from .payments import Payment, PaymentError, add_payments, refund_all, seeded_payments

FIRST_NAMES = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mia",
    "Lucas",
    "Amelia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Isla",
    "Leo",
    "Zoe",
    "Hugo",
    "Nora",
    "Aria",
    "Elijah",
    "Layla",
    "Kai",
    "Maya",
    "Omar",
    "Lena",
    "Ivan",
    "Yuki",
    "Priya",
    "Chen",
    "Fatima",
    "Jonas",
    "Clara",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Kim",
    "Nguyen",
    "Patel",
    "Silva",
    "Cohen",
    "Novak",
    "Jensen",
    "Dubois",
    "Haddad",
    "Tanaka",
    "Okafor",
    "Larsen",
    "Moreau",
    "Kowalski",
    "Santos",
    "Brown",
    "Ivanova",
    "Ali",
    "Schmidt",
    "Costa",
]
PRODUCT_TYPES = {
    "Shirts": ("Linen Shirt", "Oxford Shirt", "Flannel Shirt", "Graphic Tee", "Polo"),
    "Shoes": ("Runner", "Chelsea Boot", "Canvas Sneaker", "Loafer", "Trail Shoe"),
    "Pants": ("Chino", "Selvedge Jeans", "Cargo Pant", "Jogger"),
    "Dresses": ("Wrap Dress", "Slip Dress", "Shirt Dress"),
    "Jackets": ("Rain Jacket", "Denim Jacket", "Puffer", "Blazer"),
    "Accessories": ("Wool Beanie", "Leather Belt", "Tote Bag", "Sunglasses", "Scarf"),
}
COLORS = ("Black", "White", "Navy", "Olive", "Sand", "Red", "Grey")
SIZES = ("XS", "S", "M", "L", "XL")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44")
CITIES = (
    ("Berlin", "DE", "Berlin", "10115"),
    ("Toronto", "CA", "Ontario", "M5V 2T6"),
    ("Austin", "US", "Texas", "73301"),
    ("Lyon", "FR", "Auvergne-Rhône-Alpes", "69001"),
    ("Leeds", "GB", "England", "LS1 4AP"),
    ("Portland", "US", "Oregon", "97201"),
)
ORDER_TAGS = ("vip", "wholesale", "gift", "first-order", "repeat", "influencer", "preorder")
ID_BASES = {
    "Order": 5_813_364_687_033,
    "Customer": 7_412_300_118_201,
    "LineItem": 14_250_113_900_321,
    "Product": 8_301_442_001_001,
    "ProductVariant": 44_702_100_300_101,
    "Fulfillment": 5_122_873_000_451,
    "FulfillmentLineItem": 11_904_552_000_009,
    "Return": 19_443_000_001,
    "ReturnLineItem": 27_001_000_001,
    "ReverseFulfillmentOrder": 31_001_000_001,
    "WebhookSubscription": 1_402_331_000_001,
    "BulkOperation": 3_288_000_001,
    "MailingAddress": 9_100_200_300_001,
    "OrderTransaction": 6_712_004_100_017,
    "Refund": 912_300_400_001,
    # kinds added later count from their own random streams (see ShopState)
    "Location": 72_615_000_001,
    "InventoryItem": 46_800_200_100_001,
    "ReverseFulfillmentOrderLineItem": 41_002_000_001,
    "ReverseFulfillmentOrderDisposition": 51_003_000_001,
    "RestockingFee": 61_004_000_001,
    "ReturnShippingFee": 62_005_000_001,
    "StoreCreditAccount": 73_006_000_001,
    "StoreCreditAccountTransaction": 84_007_000_001,
    "ExchangeLineItem": 95_008_000_001,
    "FulfillmentOrder": 6_301_009_000_001,
    "FulfillmentOrderLineItem": 13_402_010_000_001,
    "ReverseDelivery": 22_011_000_001,
    "ReverseDeliveryLineItem": 24_012_000_001,
}
# Seeded orders are taxed at a flat rate on their discounted subtotal (kept on each order as
# `_tax_rate`: what `Return.suggestedFinancialOutcome` taxes a returned line at).
TAX_RATE = Decimal("0.08")
LOCATION_NAMES = ("Main warehouse", "Returns center")
OUT_OF_STOCK_SHARE = 0.1  # seeded variants with no stock at the main warehouse
SEED_WINDOW = timedelta(days=182)
# Shopify's ids are global: no two shops share an order (or customer, line item...) id. Each
# shop counts up from its own region of 2**31 ids (one of 4096, chosen by its domain), so shops
# never collide unless their domains pick the same region or one shop outgrows its region.
SHOP_ID_REGIONS = 4096
SHOP_ID_REGION_SIZE = 2**31


def shop_id_bases(domain: str) -> dict[str, int]:
    """Where this shop's ids of each kind start (deterministic for a domain)."""
    offset = (zlib.crc32(b"ids:" + domain.encode()) % SHOP_ID_REGIONS) * SHOP_ID_REGION_SIZE
    return {kind: base + offset for kind, base in ID_BASES.items()}


def money(amount: Decimal, currency: str) -> JSON:
    """A MoneyBag rounded to the currency's minor unit (2 decimals, JPY 0, KWD 3)."""
    return money_bag(amount, currency)


def shop_rng(seed: int, domain: str) -> random.Random:
    return random.Random(f"{seed}:{domain}")


def new_shop(
    domain: str,
    *,
    seed: int,
    orders: int,
    bucket: BucketConfig,
    compliance_url: str | None,
    currency: str = "USD",
    now: datetime | None = None,
) -> ShopState:
    """Create a shop with `orders` orders spread over the ~6 months before `now`."""
    rng = shop_rng(seed, domain)
    handle = domain.split(".", 1)[0]
    shop = ShopState(
        domain=domain,
        shop_id=60_000_000_000 + zlib.crc32(domain.encode()) % 9_000_000_000,
        name=handle.replace("-", " ").title(),
        email=f"owner@{handle}.example",
        currency=currency,
        seed=seed,
        rng=rng,
        bucket=Bucket.from_config(bucket),
        compliance_url=compliance_url,
        id_counters=shop_id_bases(domain),
    )
    shop.faults.rng = random.Random(f"faults:{seed}:{domain}")
    shop.payments_rng = random.Random(f"payment-ids:{seed}:{domain}")
    shop.inventory_rng = random.Random(f"inventory:{seed}:{domain}")
    shop.returns_rng = random.Random(f"return-extras:{seed}:{domain}")
    shop.store_credit_rng = random.Random(f"store-credit:{seed}:{domain}")
    _seed_products(shop)
    _seed_inventory(shop)
    now = now or utcnow()
    customer_count = max(1, orders // 3)
    for _ in range(customer_count):
        created = now - timedelta(
            seconds=rng.randint(int(SEED_WINDOW.total_seconds()), 400 * 86400)
        )
        add_customer(shop, created=created)
    window = int(SEED_WINDOW.total_seconds())
    moments = sorted(now - timedelta(seconds=rng.randint(60, window)) for _ in range(orders))
    for created in moments:
        age = now - created
        customer = shop.customers[rng.randrange(customer_count)]
        updated = min(now, created + timedelta(seconds=rng.randint(0, 20 * 86400)))
        fulfilled = age > timedelta(days=5) or rng.random() < 0.3
        add_order(shop, created=created, updated=updated, customer=customer, fulfilled=fulfilled)
    return shop


def _seed_products(shop: ShopState) -> None:
    rng = shop.rng
    for product_type, titles in PRODUCT_TYPES.items():
        for title in titles:
            product_number = shop.next_id("Product")
            price = Decimal(rng.randint(15, 240)) + Decimal(rng.choice((0, 0, 50, 99))) / 100
            sizes = SHOE_SIZES if product_type == "Shoes" else SIZES
            colors = rng.sample(COLORS, rng.randint(1, 3))
            tags = sorted(rng.sample(("summer", "winter", "sale", "new", "core", "final-sale"), 2))
            product: JSON = {
                "id": gid("Product", product_number),
                "legacyResourceId": str(product_number),
                "title": title,
                "productType": product_type,
                "vendor": shop.name,
                "tags": tags,
                "_variants": [],
            }
            sku_stem = "".join(word[:3] for word in title.upper().split())
            for color in colors:
                for size in rng.sample(sizes, 3):
                    variant_number = shop.next_id("ProductVariant")
                    variant: JSON = {
                        "id": gid("ProductVariant", variant_number),
                        "legacyResourceId": str(variant_number),
                        "title": f"{color} / {size}",
                        "displayName": f"{title} - {color} / {size}",
                        "sku": f"{sku_stem}-{color[:3].upper()}-{size}",
                        "price": str(rounded(price, shop.currency)),
                        "_product": product,
                    }
                    product["_variants"].append(variant)
                    shop.variants_by_id[variant["id"]] = variant
            shop.products.append(product)


def _seed_inventory(shop: ShopState) -> None:
    """Two locations; every variant stocked at the main warehouse (a few at 0), none at the
    returns center. Ids and quantities come from `inventory_rng` alone."""
    rng = shop.inventory_rng
    for name in LOCATION_NAMES:
        number = shop.next_id("Location", rng=rng)
        shop.locations.append(
            {"id": gid("Location", number), "name": name, "isActive": True, "_number": number}
        )
    main = shop.locations[0]
    for product in shop.products:
        for variant in product["_variants"]:
            item_number = shop.next_id("InventoryItem", rng=rng)
            stocked = 0 if rng.random() < OUT_OF_STOCK_SHARE else rng.randint(1, 40)
            levels = [
                {
                    # Shopify's InventoryLevel ids name the location and the inventory item
                    "id": f"gid://shopify/InventoryLevel/{location['_number']}"
                    f"?inventory_item_id={item_number}",
                    "location": location,
                    "_quantities": {
                        "available": stocked if location is main else 0,
                        "on_hand": stocked if location is main else 0,
                    },
                }
                for location in shop.locations
            ]
            shop.inventory_items[variant["id"]] = {
                "id": gid("InventoryItem", item_number),
                "_variant_id": variant["id"],
                "_levels": levels,
            }


def add_customer(shop: ShopState, *, created: datetime, email: str | None = None) -> JSON:
    rng = shop.rng
    number = shop.next_id("Customer")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, country, province, zip_code = rng.choice(CITIES)
    address = {
        "id": gid("MailingAddress", shop.next_id("MailingAddress")),
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}",
        "address1": f"{rng.randint(1, 240)} {rng.choice(('Main', 'Oak', 'Harbour', 'Lindenstr.'))}",
        "address2": None,
        "city": city,
        "province": province,
        "provinceCode": None,
        "country": country,
        "countryCodeV2": country,
        "zip": zip_code,
        "phone": None,
        "company": None,
    }
    ascii_last = last.encode("ascii", "ignore").decode().lower() or "x"
    customer: JSON = {
        "id": gid("Customer", number),
        "legacyResourceId": str(number),
        "email": email or f"{first.lower()}.{ascii_last}.{number % 100000}@example.com",
        "firstName": first,
        "lastName": last,
        "displayName": f"{first} {last}",
        "phone": f"+1555{rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else None,
        "state": "ENABLED",
        "tags": [],
        "note": None,
        "verifiedEmail": True,
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "defaultAddress": address,
        "numberOfOrders": "0",
        "_created": created,
        "_updated": created,
        "_orders": [],
    }
    shop.customers.append(customer)
    shop.customers_by_id[customer["id"]] = customer
    return customer


def line_item_node(
    number: int,
    title: str,
    product: JSON,
    variant: JSON,
    quantity: int,
    unit: Decimal,
    discount: Decimal,
    currency: str,
) -> JSON:
    """An order's `LineItem`: `quantity` units of `variant` at `unit`, `discount` off the line."""
    total = unit * quantity
    return {
        "id": gid("LineItem", number),
        "title": title,
        "name": f"{title} - {variant['title']}",
        "sku": variant["sku"],
        "vendor": product["vendor"],
        "variantTitle": variant["title"],
        "quantity": quantity,
        "currentQuantity": quantity,
        "refundableQuantity": quantity,
        "unfulfilledQuantity": quantity,
        "requiresShipping": True,
        "taxable": True,
        "variant": {k: v for k, v in variant.items() if not k.startswith("_")},
        "product": {k: v for k, v in product.items() if not k.startswith("_")},
        "originalUnitPriceSet": money(unit, currency),
        "discountedUnitPriceSet": money((total - discount) / quantity, currency),
        "originalTotalSet": money(total, currency),
        "discountedTotalSet": money(total - discount, currency),
        "totalDiscountSet": money(discount, currency),
        "discountAllocations": (
            [{"allocatedAmountSet": money(discount, currency)}] if discount else []
        ),
    }


def add_order(
    shop: ShopState,
    *,
    created: datetime,
    updated: datetime | None = None,
    customer: JSON | None = None,
    fulfilled: bool = False,
    allow_partial: bool = True,
    lines: list[dict[str, Any]] | None = None,
    financial_status: str | None = None,
    tags: list[str] | None = None,
    payments: list[Payment] | Callable[[Decimal, str], list[Payment]] | None = None,
) -> JSON:
    """Append an order; `lines` items may carry `variant_id`, `quantity`, `price`, `title`.

    Amounts are rounded to the currency's minor unit. `payments` (or a function of the total
    price and the financial status giving them, which may raise `PaymentError`: the order is
    then not placed) become the order's transactions; by default `seeded_payments`."""
    rng = shop.rng
    currency = shop.currency
    if customer is None:
        customer = add_customer(shop, created=created)
    number = shop.next_id("Order")
    order_number = shop.next_order_number
    shop.next_order_number += 1
    specs = lines or [{} for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4)))]
    line_items: list[JSON] = []
    subtotal = Decimal(0)
    discounts = Decimal(0)
    for spec in specs:
        product = rng.choice(shop.products)
        variant = rng.choice(product["_variants"])
        if spec.get("variant_id"):
            variant = find_variant(shop, str(spec["variant_id"])) or variant
            product = variant["_product"]
        quantity = int(spec.get("quantity") or rng.choice((1, 1, 1, 2, 3)))
        unit = rounded(Decimal(str(spec.get("price") or variant["price"])), currency)
        discount = Decimal(0)
        if spec.get("discount") is not None:
            discount = rounded(Decimal(str(spec["discount"])), currency)
        elif rng.random() < 0.2:
            discount = rounded(unit * quantity * Decimal("0.15"), currency)
        line_number = shop.next_id("LineItem")
        total = unit * quantity
        title = str(spec.get("title") or product["title"])
        line = line_item_node(
            line_number, title, product, variant, quantity, unit, discount, currency
        )
        line_items.append(line)
        subtotal += total - discount
        discounts += discount
    shipping = Decimal("0") if subtotal > 100 else rounded(Decimal("7.95"), currency)
    tax = rounded(subtotal * TAX_RATE, currency)
    if financial_status is None:
        roll = rng.random()
        financial_status = (
            "PAID"
            if roll < 0.86
            else "PARTIALLY_REFUNDED"
            if roll < 0.91
            else "REFUNDED"
            if roll < 0.95
            else "AUTHORIZED"
            if roll < 0.98
            else "PENDING"
        )
    updated = updated or created
    city, country, province, zip_code = rng.choice(CITIES)
    address = {
        "firstName": customer["firstName"],
        "lastName": customer["lastName"],
        "name": customer["displayName"],
        "address1": customer["defaultAddress"]["address1"],
        "address2": None,
        "city": city,
        "province": province,
        "provinceCode": None,
        "country": country,
        "countryCodeV2": country,
        "zip": zip_code,
        "phone": customer["phone"],
        "company": None,
    }
    order: JSON = {
        "id": gid("Order", number),
        "legacyResourceId": str(number),
        "name": f"#{order_number}",
        "email": customer["email"],
        "phone": customer["phone"],
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "processedAt": iso(created),
        "cancelledAt": None,
        "cancelReason": None,
        "closedAt": None,
        "closed": False,
        "test": False,
        "note": None,
        "tags": sorted(
            tags if tags is not None else rng.sample(ORDER_TAGS, rng.choice((0, 0, 1, 2)))
        ),
        "currencyCode": currency,
        "presentmentCurrencyCode": currency,
        "displayFinancialStatus": financial_status,
        "displayFulfillmentStatus": "UNFULFILLED",
        "subtotalPriceSet": money(subtotal, currency),
        "totalDiscountsSet": money(discounts, currency),
        "totalShippingPriceSet": money(shipping, currency),
        "totalTaxSet": money(tax, currency),
        "totalPriceSet": money(subtotal + shipping + tax, currency),
        "totalRefundedSet": money(
            subtotal + shipping + tax if financial_status == "REFUNDED" else Decimal(0), currency
        ),
        "customer": customer,
        "shippingAddress": address,
        "billingAddress": address,
        "_number": number,
        "_order_number": order_number,
        "_tax_rate": TAX_RATE,
        "_created": created,
        "_updated": updated,
        "_lineItems": line_items,
        "_fulfillments": [],
        "_transactions": [],
        "_refunds": [],
    }
    total_price = subtotal + shipping + tax
    try:
        chosen = payments(total_price, financial_status) if callable(payments) else payments
    except PaymentError:
        shop.next_order_number -= 1  # the order was never placed
        raise
    if chosen is None:
        chosen = seeded_payments(shop, order, total_price)
    add_payments(shop, order, chosen, created)
    if financial_status == "REFUNDED":
        refund_all(shop, order, updated)
    for line in line_items:
        shop.line_items_by_id[line["id"]] = line
    if fulfilled:
        fulfill(
            shop,
            order,
            at=created + timedelta(hours=rng.randint(2, 72)),
            # seeded history has some partial shipments; an order asked for as fulfilled is whole
            partial=rng.random() < 0.08 and allow_partial,
        )
    shop.orders.append(order)
    shop.orders_by_id[order["id"]] = order
    customer["_orders"].append(order)
    customer["numberOfOrders"] = str(len(customer["_orders"]))
    return order


def fulfill(shop: ShopState, order: JSON, *, at: datetime, partial: bool = False) -> None:
    """Fulfil every unfulfilled line (or only the first when `partial` and there are several);
    lines of a fulfillment order on hold wait, and fulfillment orders all shipped close."""
    rng = shop.rng
    held = {
        id(line["lineItem"])
        for fulfillment_order in order.get("_fulfillment_orders", [])
        if fulfillment_order["status"] == "ON_HOLD"
        for line in fulfillment_order["_lines"]
    }
    pending = [
        line
        for line in order["_lineItems"]
        if line["unfulfilledQuantity"] > 0 and id(line) not in held
    ]
    if partial and len(pending) > 1:
        pending = pending[:1]
    if not pending:
        return
    delivered = at + timedelta(days=rng.randint(1, 6))
    now = utcnow()
    number = shop.next_id("Fulfillment")
    fulfillment: JSON = {
        "id": gid("Fulfillment", number),
        "legacyResourceId": str(number),
        "name": f"{order['name']}-F{len(order['_fulfillments']) + 1}",
        "status": "SUCCESS",
        "displayStatus": "DELIVERED" if delivered <= now else "IN_TRANSIT",
        "createdAt": iso(min(at, now)),
        "updatedAt": iso(min(delivered, now)),
        "deliveredAt": iso(delivered) if delivered <= now else None,
        "inTransitAt": iso(min(at, now)),
        "trackingInfo": [
            {
                "company": "UPS",
                "number": f"1Z{rng.randint(10**9, 10**10 - 1)}",
                "url": "https://www.ups.com/track",
            }
        ],
        "_fulfillmentLineItems": [],
    }
    for line in pending:
        item = {
            "id": gid("FulfillmentLineItem", shop.next_id("FulfillmentLineItem")),
            "quantity": line["unfulfilledQuantity"],
            "lineItem": line,
            "_fulfillment": fulfillment,
        }
        line["unfulfilledQuantity"] = 0
        fulfillment["_fulfillmentLineItems"].append(item)
        shop.fulfillment_line_items_by_id[item["id"]] = item
    order["_fulfillments"].append(fulfillment)
    for fulfillment_order in order.get("_fulfillment_orders", []):
        if all(
            line["lineItem"]["unfulfilledQuantity"] == 0 for line in fulfillment_order["_lines"]
        ):
            fulfillment_order["status"] = "CLOSED"
    remaining = any(line["unfulfilledQuantity"] > 0 for line in order["_lineItems"])
    order["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED" if remaining else "FULFILLED"


def find_variant(shop: ShopState, variant_id: str) -> JSON | None:
    wanted = (
        variant_id if variant_id.startswith("gid://") else gid("ProductVariant", int(variant_id))
    )
    for product in shop.products:
        for variant in product["_variants"]:
            if variant["id"] == wanted:
                return dict(variant)
    return None
