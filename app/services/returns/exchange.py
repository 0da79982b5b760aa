"""Exchanges: the variant sent instead of the returned items, and the price difference.

When the customer asks (createReturn, createReturnForOrder) for a shop connected to Shopify, the
variant is looked up on Shopify: it must exist and have the units in stock (`inventoryQuantity`),
else the request is refused with nothing written; its price is recorded on the return
(`Return.exchange`). The returned items are worth their items total; the exchange is worth
price x units (as many units as are returned). When the exchange is dearer the policy's
`exchange_absorb_limit` absorbs the difference up to that amount (sent to Shopify as the
exchange line's discount); the customer owes the rest, Shopify holding the exchange's
fulfillment until it is paid. When it is cheaper, the difference is refunded (`resolution`).

A shop that is not connected to Shopify has no catalogue to check: its exchanges record the
variant id only and settle no difference.

Before asking, the portal shows what the item can be exchanged for (`exchange_options`): the
other variants of its product, as Shopify prices and stocks them now.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx

from app.config import Settings
from app.models import Order
from app.models.money import round_to_minor_unit
from app.models.return_policy import ReturnPolicy
from app.models.return_request import Return, ReturnExchange
from app.services.integration.session import IntegrationNotConnected, admin_client_for
from app.services.returns.errors import ReturnErrorCode, ReturnUserError
from app.services.returns.resolution import items_total
from app.services.returns.shopify_mirror import shopify_connected
from app.services.shopify_values import gid
from app.shopify.client import RetryPolicy
from app.shopify.documents.returns import PRODUCT_VARIANT, PRODUCT_VARIANTS
from app.shopify.errors import ShopifyError

# A customer waits on this lookup: a short budget, then "try again".
LOOKUP_RETRY = RetryPolicy(max_attempts=2, max_retry_time=5.0, read_timeout=5.0)


@dataclass(frozen=True, slots=True)
class ExchangeVariant:
    gid: str
    title: str
    price: Decimal
    available: int


@dataclass(frozen=True, slots=True)
class ExchangeOption:
    """A variant the customer may ask for instead of the returned one; its price is in the
    shop's currency (the order's `currency`)."""

    variant: ExchangeVariant
    in_stock: bool


class CatalogUnavailable(Exception):
    """Shopify could not be asked about the variant (outage, throttling, disconnected)."""


class ExchangeCatalog(Protocol):
    async def variant(self, variant_gid: str) -> ExchangeVariant | None:
        """The variant, or None when Shopify has none with that id."""

    async def product_variants(self, product_gid: str) -> list[ExchangeVariant] | None:
        """The product's variants (its first 100), or None when Shopify has no such product."""


def parse_variant(
    node: dict[str, Any] | None, product: dict[str, Any] | None = None
) -> ExchangeVariant | None:
    """`product`: the variant's product when the variant was read under it (not as a field)."""
    if not node:
        return None
    try:
        price = Decimal(str(node.get("price")))
    except InvalidOperation:
        return None
    product = product or node.get("product") or {}
    title = " - ".join(
        part for part in (str(product.get("title") or ""), str(node.get("title") or "")) if part
    )
    return ExchangeVariant(
        gid=str(node["id"]),
        title=title,
        price=price,
        available=int(node.get("inventoryQuantity") or 0),
    )


class ShopifyCatalog:
    """The tenant's Shopify catalogue, through its Admin API client (made on first use)."""

    def __init__(self, tenant_id: str, settings: Settings, http: httpx.AsyncClient) -> None:
        self.tenant_id = tenant_id
        self.settings = settings
        self.http = http

    async def variant(self, variant_gid: str) -> ExchangeVariant | None:
        data = await self._ask(PRODUCT_VARIANT, {"id": variant_gid})
        return parse_variant(data.get("productVariant"))

    async def product_variants(self, product_gid: str) -> list[ExchangeVariant] | None:
        data = await self._ask(PRODUCT_VARIANTS, {"id": product_gid})
        product = data.get("product")
        if not product:
            return None
        nodes = (product.get("variants") or {}).get("nodes") or []
        parsed = (parse_variant(node, product) for node in nodes)
        return [variant for variant in parsed if variant is not None]

    async def _ask(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            client = await admin_client_for(self.tenant_id, self.settings, self.http)
            client.retry = LOOKUP_RETRY
            return await client.execute(query, variables)
        except (ShopifyError, IntegrationNotConnected, httpx.HTTPError) as exc:
            raise CatalogUnavailable(str(exc)) from exc


async def exchange_options(
    tenant_id: str,
    order: Order,
    line_item_id: str,
    catalog: ExchangeCatalog | None,
    units: int = 1,
) -> list[ExchangeOption] | None:
    """What the order's line can be exchanged for: the other variants of its product, sorted by
    title, each in stock or not (`units` of it: the exchange sends as many as come back). None when Shopify cannot be asked now (the
    shop is not connected, the process has no client for it, an outage): the customer is asked
    to try again. A line the order does not have, or without a product (a custom item), has
    none."""
    if catalog is None or not await shopify_connected(tenant_id):
        return None
    line = next((item for item in order.line_items if item.id == line_item_id), None)
    if line is None or not line.product_id:
        return []
    try:
        variants = await catalog.product_variants(f"gid://shopify/Product/{line.product_id}")
    except CatalogUnavailable:
        return None
    returned = gid("ProductVariant", line.variant_id)
    options = [
        ExchangeOption(variant=variant, in_stock=variant.available >= units)
        for variant in variants or []
        if variant.gid != returned
    ]
    return sorted(options, key=lambda option: option.variant.title)


async def price_exchange(
    record: Return, policy: ReturnPolicy, catalog: ExchangeCatalog
) -> list[ReturnUserError]:
    """Check `record`'s exchange variant on Shopify and record it priced on `record.exchange`;
    user errors (nothing recorded) when it does not exist, is out of stock or cannot be asked."""
    if record.exchange_variant_id is None:
        return []
    field = ["exchange_variant_id"]
    units = sum(item.quantity for item in record.items)
    if not record.exchange_variant_id.isascii() or not record.exchange_variant_id.isdigit():
        return [
            ReturnUserError(
                field, ReturnErrorCode.EXCHANGE_VARIANT_NOT_FOUND, "This variant does not exist."
            )
        ]
    try:
        found = await catalog.variant(f"gid://shopify/ProductVariant/{record.exchange_variant_id}")
    except CatalogUnavailable:
        return [
            ReturnUserError(
                field,
                ReturnErrorCode.EXCHANGE_UNAVAILABLE,
                "The exchange cannot be checked right now; please try again in a minute.",
            )
        ]
    if found is None:
        return [
            ReturnUserError(
                field, ReturnErrorCode.EXCHANGE_VARIANT_NOT_FOUND, "This variant does not exist."
            )
        ]
    if found.available < units:
        return [
            ReturnUserError(
                field,
                ReturnErrorCode.EXCHANGE_OUT_OF_STOCK,
                f"Only {max(found.available, 0)} of this variant are in stock; {units} needed.",
            )
        ]
    currency = record.currency
    price = round_to_minor_unit(found.price, currency)
    total = round_to_minor_unit(price * units, currency)
    owed = total - items_total(record.items, currency)
    limit = round_to_minor_unit(max(policy.exchange_absorb_limit, Decimal(0)), currency)
    record.exchange = ReturnExchange(
        variant_id=found.gid,
        title=found.title,
        quantity=units,
        unit_price=price,
        total=total,
        absorbed=min(max(owed, Decimal(0)), limit),
    )
    return []
