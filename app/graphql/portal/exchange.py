"""The portal's exchange picker: what a returned item can be exchanged for, as Shopify prices and
stocks it now.

The caller proves the order as for createReturn: with its email (checked as `lookupOrder`
checks it: one attempt per client at a time, a wrong one counted towards the client's limit),
or through Shopify's app proxy as the customer Shopify signed in, whose order's own email then
proves it. A wrong order, line or email gives the same null.
"""

from __future__ import annotations

import asyncio
import contextlib

import strawberry

from app.clock import utcnow
from app.graphql.core.context import Info
from app.graphql.core.errors import BadUserInput, RateLimited
from app.graphql.core.money import MoneyV2, money_v2
from app.graphql.core.node import argument_id
from app.graphql.core.permissions import IsPortalRequest
from app.graphql.portal.schema import RATE_LIMITED_MESSAGE
from app.graphql.returns.catalog import shopify_catalog
from app.models import Order
from app.models.return_policy import ResolutionType, ReturnPolicy
from app.services.returns import exchange
from app.services.returns.errors import PortalRateLimited
from app.services.returns.ledger import reserved_units
from app.services.returns.policy import evaluate_order
from app.services.returns.policy_store import load_policy
from app.services.returns.portal import MAX_EMAIL_LENGTH, email_matches, signed_in_customer_email
from app.services.returns.portal_attempts import (
    ClientLocks,
    is_limited,
    recent_failures,
    record_failure,
)
from app.services.shopify_values import numeric_id

EMAIL_REQUIRED = "Enter the email address of the order."


@strawberry.type(description="A variant the customer may ask for instead of the returned item.")
class ExchangeOption:
    record: strawberry.Private[exchange.ExchangeOption]
    currency: strawberry.Private[str]  # the order's: the shop's, which Shopify prices in

    @strawberry.field(description="Shopify's id of the variant: createReturn's exchangeVariantId.")
    def variant_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.variant.gid)

    @strawberry.field(description="The product's and the variant's title, e.g. `Polo - Navy / M`.")
    def title(self) -> str:
        return self.record.variant.title

    @strawberry.field(description="Its price on Shopify now, per unit.")
    def price(self) -> MoneyV2:
        return money_v2(self.record.variant.price, self.currency)

    @strawberry.field(description="At least one unit in stock.")
    def in_stock(self) -> bool:
        return self.record.in_stock


@strawberry.type(description="What a returned item can be exchanged for.")
class ExchangeOptionsPayload:
    options: list[ExchangeOption] = strawberry.field(
        description="The other variants of the item's product, sorted by title."
    )
    available: bool = strawberry.field(
        description="False when Shopify cannot be asked now (`options` is then empty): the "
        "customer may try again in a minute."
    )


@strawberry.type
class PortalExchangeQueries:
    @strawberry.field(
        permission_classes=[IsPortalRequest],
        description=(
            "What the order's line can be exchanged for, or null when the order or line is not "
            "found or not the caller's, the line cannot be returned now or the shop offers no "
            "exchanges. Proven as for createReturn: `customerEmail` (wrong ones are "
            "rate-limited), or the customer signed in to the shop's storefront. `inStock`: "
            "`quantity` units (the units being returned) are."
        ),
    )
    async def exchange_options(
        self,
        info: Info,
        order_id: strawberry.ID,
        *,  # the optional email between the two ids, where the schema lists it
        customer_email: str | None = None,
        line_item_id: strawberry.ID,
        quantity: int = 1,
    ) -> ExchangeOptionsPayload | None:
        context = info.context
        tenant_id = context.portal_tenant_id
        order_key = numeric_id(argument_id(order_id, "Order")) or ""
        email = customer_email
        if context.portal_customer_id is not None and not email:
            # Shopify signed the customer in: the order's own email proves the request.
            email = await signed_in_customer_email(tenant_id, order_key, context.portal_customer_id)
            if email is None:
                return None
        if not email:
            raise BadUserInput(EMAIL_REQUIRED)
        try:
            proven = await _order_of_email(
                tenant_id, order_key, email, context.client_ip, context.portal_locks
            )
        except PortalRateLimited as exc:
            raise RateLimited(RATE_LIMITED_MESSAGE) from exc
        if proven is None:
            return None
        order, policy = proven
        line_id = numeric_id(line_item_id) or ""
        if not await _exchangeable(order, policy, line_id):
            return None
        options = await exchange.exchange_options(
            tenant_id, order, line_id, shopify_catalog(tenant_id, info), max(1, quantity)
        )
        if options is None:
            return ExchangeOptionsPayload(options=[], available=False)
        return ExchangeOptionsPayload(
            options=[ExchangeOption(record=option, currency=order.currency) for option in options],
            available=True,
        )


async def _order_of_email(
    tenant_id: str, order_id: str, email: str, client_ip: str, locks: ClientLocks | None
) -> tuple[Order, ReturnPolicy] | None:
    """The order and the tenant's policy when `email` is the order's, else None and a failure
    recorded; `PortalRateLimited` when the client has used up its failures (as `lookup_order`)."""
    lock = (
        locks.one_at_a_time(tenant_id, client_ip) if locks is not None else contextlib.nullcontext()
    )
    async with lock:
        # The client's failures are read with the order; a limited client's reads are discarded.
        # Every outcome is collected, so none is left running unobserved when one fails.
        outcomes = await asyncio.gather(
            recent_failures(tenant_id, client_ip),
            load_policy(tenant_id),
            Order.get_pymongo_collection().find_one(
                {"tenant_id": tenant_id, "shopify_id": order_id}
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        failures, policy, raw = outcomes
        if is_limited(failures):
            raise PortalRateLimited()
        if raw is None or policy is None or not email_matches(raw, email[:MAX_EMAIL_LENGTH]):
            await record_failure(tenant_id, client_ip)
            return None
        return Order.model_validate(raw), policy


async def _exchangeable(order: Order, policy: ReturnPolicy, line_id: str) -> bool:
    """The policy offers exchanges and the line can be returned now (as createReturn judges it)."""
    if ResolutionType.EXCHANGE not in policy.allowed_resolutions:
        return False
    reserved = await reserved_units(order.tenant_id, order.order_number)
    line = evaluate_order(order, policy, reserved, utcnow()).line(line_id)
    return line is not None and line.eligible
