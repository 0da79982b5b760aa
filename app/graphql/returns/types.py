"""GraphQL types for returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.clock import utcnow
from app.graphql.core.context import Info
from app.graphql.core.money import CurrencyCodeEnum, MoneyV2, currency_code_value, money_v2
from app.graphql.core.node import Node, global_id
from app.graphql.core.permissions import IsMerchant
from app.graphql.order.types import Order
from app.graphql.returns.enums import (
    ItemConditionEnum,
    ReturnReasonEnum,
    ReturnSourceEnum,
    ReturnStatusEnum,
    ShopifySyncStatusEnum,
)
from app.graphql.returns.errors import ReturnUserError
from app.graphql.shipping.types import Shipment
from app.graphql.tenant.types import ResolutionTypeEnum, ReturnMethodEnum, Tenant
from app.models import Return as ReturnRecord
from app.models.return_request import RefundTransaction as RefundTransactionRecord
from app.models.return_request import ReturnExchange as ReturnExchangeRecord
from app.models.return_request import ReturnItem as ReturnItemRecord
from app.models.return_request import ReturnOutcome as ReturnOutcomeRecord
from app.models.return_request import ReturnRefund as ReturnRefundRecord
from app.models.return_request import ReturnRisk as ReturnRiskRecord
from app.models.return_request import ReturnTransition as ReturnTransitionRecord
from app.models.return_request import ShopifySync as ShopifySyncRecord
from app.models.return_request import StoreCreditBonus as StoreCreditBonusRecord
from app.services.returns.analytics import Bucket as BucketRecord
from app.services.returns.analytics import ReturnsAnalytics as ReturnsAnalyticsRecord
from app.services.returns.photos import photo_url, photos_of


@strawberry.type
class ReturnItem:
    record: strawberry.Private[ReturnItemRecord]
    currency: strawberry.Private[str]  # the return's (its order's)
    tenant_id: strawberry.Private[str]

    @strawberry.field
    def line_item_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.line_item_id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def sku(self) -> str | None:
        return self.record.sku

    @strawberry.field
    def variant_id(self) -> str | None:
        return self.record.variant_id

    @strawberry.field
    def quantity(self) -> int:
        return self.record.quantity

    @strawberry.field
    def reason(self) -> ReturnReasonEnum:  # type: ignore[valid-type]
        return self.record.reason

    @strawberry.field
    def note(self) -> str | None:
        return self.record.note

    @strawberry.field
    def unit_price(self) -> MoneyV2:
        return money_v2(self.record.unit_price, self.currency)

    @strawberry.field
    def condition(self) -> ItemConditionEnum | None:  # type: ignore[valid-type]
        return self.record.condition

    @strawberry.field
    def restock(self) -> bool | None:
        return self.record.restock

    @strawberry.field(description="How many photos the customer sent of this item.")
    def photo_count(self) -> int:
        return len(self.record.photo_ids)

    @strawberry.field(
        permission_classes=[IsMerchant],
        description="The customer's photos of this item (each `url` works for an hour).",
    )
    async def photos(self, info: Info) -> list[ReturnPhoto]:
        if not self.record.photo_ids:
            return []
        settings = info.context.settings
        now = utcnow()
        found = await photos_of(self.tenant_id, self.record.photo_ids)
        return [
            ReturnPhoto(
                id=strawberry.ID(photo.id),
                content_type=photo.content_type,
                size=photo.size,
                width=photo.width,
                height=photo.height,
                url=photo_url(
                    settings.app_url, settings.shopify_api_secret, self.tenant_id, photo.id, now
                ),
            )
            for photo in found
        ]


@strawberry.type(description="A photo a customer sent with a return (re-encoded, no metadata).")
class ReturnPhoto:
    id: strawberry.ID
    content_type: str
    size: int
    width: int
    height: int
    url: str = strawberry.field(description="Signed; works for an hour, then ask again.")


@strawberry.type
class ReturnTransition:
    record: strawberry.Private[ReturnTransitionRecord]

    @strawberry.field
    def at(self) -> datetime:
        return self.record.at

    @strawberry.field
    def actor(self) -> str:
        return self.record.actor

    @strawberry.field
    def from_status(self) -> ReturnStatusEnum | None:  # type: ignore[valid-type]
        return self.record.from_status

    @strawberry.field
    def to_status(self) -> ReturnStatusEnum:  # type: ignore[valid-type]
        return self.record.to_status

    @strawberry.field
    def note(self) -> str | None:
        return self.record.note


@strawberry.type
class ReturnOutcome:
    record: strawberry.Private[ReturnOutcomeRecord]

    @strawberry.field
    def resolution_type(self) -> ResolutionTypeEnum:  # type: ignore[valid-type]
        return self.record.resolution_type

    @strawberry.field(deprecation_reason="Use `currencyCode`, or the amounts' own.")
    def currency(self) -> str:
        return self.record.currency

    @strawberry.field
    def currency_code(self) -> CurrencyCodeEnum:  # type: ignore[valid-type]
        return currency_code_value(self.record.currency)

    @strawberry.field
    def items_total(self) -> MoneyV2:
        return money_v2(self.record.items_total, self.record.currency)

    @strawberry.field
    def restocking_fee(self) -> MoneyV2:
        return money_v2(self.record.restocking_fee, self.record.currency)

    @strawberry.field(description="The policy's fixed fee for shipping the goods back.")
    def return_shipping_fee(self) -> MoneyV2:
        return money_v2(self.record.return_shipping_fee, self.record.currency)

    @strawberry.field(
        description="A prepaid label the customer pays for (`ShippingSettings.labelPayer` "
        "CUSTOMER), deducted from the refund or store credit after the fees."
    )
    def label_fee(self) -> MoneyV2:
        return money_v2(self.record.label_fee, self.record.currency)

    @strawberry.field(
        description="The tax paid back with the items, as Shopify computed it for the returned "
        "lines, on top of `refundAmount` (or of the store-credit refund); null until the refund "
        "is being paid in Shopify."
    )
    def tax(self) -> MoneyV2 | None:
        if self.record.tax is None:
            return None
        return money_v2(self.record.tax, self.record.currency)

    @strawberry.field
    def refund_amount(self) -> MoneyV2:
        return money_v2(self.record.refund_amount, self.record.currency)

    @strawberry.field(description="Store credit in all: the refund to store credit plus the bonus.")
    def store_credit_amount(self) -> MoneyV2:
        return money_v2(self.record.store_credit_amount, self.record.currency)

    @strawberry.field(description="The policy's bonus, credited on top of the store-credit refund.")
    def store_credit_bonus(self) -> MoneyV2:
        return money_v2(self.record.store_credit_bonus, self.record.currency)

    @strawberry.field(description="An exchange's price (price x units), before the absorbed part.")
    def exchange_total(self) -> MoneyV2:
        return money_v2(self.record.exchange_total, self.record.currency)

    @strawberry.field(description="The part of a dearer exchange's difference the shop absorbed.")
    def exchange_discount(self) -> MoneyV2:
        return money_v2(self.record.exchange_discount, self.record.currency)

    @strawberry.field(
        description="What the customer owes for a dearer exchange, before tax (Shopify's "
        "invoice adds it); Shopify holds the exchange's fulfillment until it is paid."
    )
    def balance_due(self) -> MoneyV2:
        return money_v2(self.record.balance_due, self.record.currency)

    @strawberry.field(description="Where resellable items are restocked (a Shopify Location GID).")
    def restock_location_id(self) -> str | None:
        return self.record.restock_location_id

    @strawberry.field
    def exchange_variant_id(self) -> str | None:
        return self.record.exchange_variant_id


@strawberry.type(
    description="What the customer returned before this return (not declined or canceled) over "
    "the policy's serial-returner window, and whether the rule flags it."
)
class ReturnRisk:
    record: strawberry.Private[ReturnRiskRecord]
    currency: strawberry.Private[str]

    @strawberry.field
    def window_days(self) -> int:
        return self.record.window_days

    @strawberry.field
    def returns_count(self) -> int:
        return self.record.returns_count

    @strawberry.field
    def units(self) -> int:
        return self.record.units

    @strawberry.field(description="In the return's currency (returns in others left out).")
    def value(self) -> MoneyV2:
        return money_v2(self.record.value, self.currency)

    @strawberry.field(description="Units the customer ordered over the window.")
    def ordered_units(self) -> int:
        return self.record.ordered_units

    @strawberry.field(
        description="Units returned before this return per unit ordered over the window, "
        "rounded to 4 places (above 1 when earlier returns were of orders older than the "
        "window); null when the customer ordered nothing in it."
    )
    def rate(self) -> float | None:
        return self.record.rate

    @strawberry.field(description="Flagged returns are never approved automatically.")
    def flagged(self) -> bool:
        return self.record.flagged

    @strawberry.field
    def reason(self) -> str | None:
        return self.record.reason


@strawberry.type(description="One payment of the order given back by a refund.")
class ReturnRefundTransaction:
    record: strawberry.Private[RefundTransactionRecord]
    currency: strawberry.Private[str]

    @strawberry.field(description="Shopify's id of the REFUND transaction.")
    def shopify_transaction_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.shopify_transaction_id)

    @strawberry.field(
        description="Shopify's id of the payment (SALE or CAPTURE) given back; null for a refund "
        "to store credit (gateway `shopify_store_credit`)."
    )
    def parent_transaction_id(self) -> strawberry.ID | None:
        parent = self.record.parent_transaction_id
        return strawberry.ID(parent) if parent else None

    @strawberry.field(description="The payment's gateway, e.g. `shopify_payments`, `gift_card`.")
    def gateway(self) -> str:
        return self.record.gateway

    @strawberry.field
    def amount(self) -> MoneyV2:
        return money_v2(self.record.amount, self.currency)


@strawberry.type(
    description="The money Shopify paid back when it processed the return, as Shopify recorded it."
)
class ReturnRefund:
    record: strawberry.Private[ReturnRefundRecord]

    @strawberry.field
    def shopify_refund_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.shopify_refund_id)

    @strawberry.field(description="In the currency the customer paid.")
    def amount(self) -> MoneyV2:
        return money_v2(self.record.amount, self.record.currency)

    @strawberry.field(description="Per payment, in the order Shopify refunded them.")
    def transactions(self) -> list[ReturnRefundTransaction]:
        return [
            ReturnRefundTransaction(record=transaction, currency=self.record.currency)
            for transaction in self.record.transactions
        ]

    @strawberry.field
    def processed_at(self) -> datetime:
        return self.record.processed_at


@strawberry.type(
    description="The variant sent instead of the returned items, priced on Shopify when the "
    "customer asked, and what Shopify made of it once the return was processed."
)
class ReturnExchange:
    record: strawberry.Private[ReturnExchangeRecord]
    currency: strawberry.Private[str]

    @strawberry.field(description="Shopify's ProductVariant GID.")
    def variant_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.variant_id)

    @strawberry.field
    def title(self) -> str:
        return self.record.title

    @strawberry.field
    def quantity(self) -> int:
        return self.record.quantity

    @strawberry.field
    def unit_price(self) -> MoneyV2:
        return money_v2(self.record.unit_price, self.currency)

    @strawberry.field(description="Unit price x quantity.")
    def total(self) -> MoneyV2:
        return money_v2(self.record.total, self.currency)

    @strawberry.field(description="The policy's discount on a dearer exchange.")
    def absorbed(self) -> MoneyV2:
        return money_v2(self.record.absorbed, self.currency)

    @strawberry.field(description="The order's line items Shopify added for the exchange.")
    def shopify_line_item_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(found) for found in self.record.shopify_line_item_ids]

    @strawberry.field(description="The exchange's fulfillment order on Shopify, once processed.")
    def fulfillment_order_id(self) -> strawberry.ID | None:
        found = self.record.fulfillment_order_id
        return strawberry.ID(found) if found else None

    @strawberry.field(description="Shopify's status of it: OPEN, ON_HOLD (a balance owed), ...")
    def fulfillment_status(self) -> str | None:
        return self.record.fulfillment_status

    @strawberry.field(description="Why Shopify holds it, e.g. AWAITING_PAYMENT.")
    def hold_reasons(self) -> list[str]:
        return self.record.hold_reasons


@strawberry.type(
    description="The store-credit bonus credited on the customer's store credit account in Shopify "
    "(`storeCreditAccountCredit`), on top of the refund to store credit."
)
class ReturnStoreCreditBonus:
    record: strawberry.Private[StoreCreditBonusRecord]

    @strawberry.field
    def amount(self) -> MoneyV2:
        return money_v2(self.record.amount, self.record.currency)

    @strawberry.field(description="Null until credited; `shopifySync` shows why while pending.")
    def shopify_transaction_id(self) -> strawberry.ID | None:
        found = self.record.shopify_transaction_id
        return strawberry.ID(found) if found else None

    @strawberry.field(description="The customer's store credit account in Shopify.")
    def shopify_account_id(self) -> strawberry.ID | None:
        found = self.record.shopify_account_id
        return strawberry.ID(found) if found else None

    @strawberry.field
    def credited_at(self) -> datetime | None:
        return self.record.credited_at


@strawberry.type(description="Mirroring of the latest decision to Shopify's Returns API.")
class ShopifySync:
    record: strawberry.Private[ShopifySyncRecord]

    @strawberry.field
    def status(self) -> ShopifySyncStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field
    def action(self) -> str:
        return self.record.action

    @strawberry.field
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at


@strawberry.type
class Return(Node):
    record: strawberry.Private[ReturnRecord]

    @strawberry.field(description="Global id (opaque).")
    def id(self) -> strawberry.ID:
        return global_id("Return", self.record.id)

    @strawberry.field(description="The order's Shopify id.")
    def order_id(self) -> strawberry.ID:
        return strawberry.ID(self.record.order_id)

    @strawberry.field
    def order_number(self) -> str:
        return self.record.order_number

    @strawberry.field(description="What the customer was given, e.g. `R1001-5C1A2B`.")
    def reference(self) -> str:
        return self.record.reference

    @strawberry.field
    def customer_email(self) -> str:
        return self.record.customer_email

    @strawberry.field
    def status(self) -> ReturnStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field
    def source(self) -> ReturnSourceEnum:  # type: ignore[valid-type]
        return self.record.source

    @strawberry.field
    def items(self) -> list[ReturnItem]:
        return [
            ReturnItem(record=item, currency=self.record.currency, tenant_id=self.record.tenant_id)
            for item in self.record.items
        ]

    @strawberry.field
    def return_method(self) -> ReturnMethodEnum:  # type: ignore[valid-type]
        return self.record.return_method

    @strawberry.field
    def resolution_type(self) -> ResolutionTypeEnum:  # type: ignore[valid-type]
        return self.record.resolution_type

    @strawberry.field
    def exchange_variant_id(self) -> str | None:
        return self.record.exchange_variant_id

    @strawberry.field
    def decline_reason(self) -> str | None:
        return self.record.decline_reason

    @strawberry.field(description="Null for returns asked for before risk signals existed.")
    def risk(self) -> ReturnRisk | None:
        risk = self.record.risk
        return ReturnRisk(record=risk, currency=self.record.currency) if risk else None

    @strawberry.field
    def outcome(self) -> ReturnOutcome | None:
        return ReturnOutcome(record=self.record.outcome) if self.record.outcome else None

    @strawberry.field(
        description="The refund Shopify paid when the return was processed there; null until "
        "then, and for returns resolved without a refund. `shopifySync` shows a pending or "
        "failed payment and why."
    )
    def refund(self) -> ReturnRefund | None:
        return ReturnRefund(record=self.record.refund) if self.record.refund else None

    @strawberry.field(
        description="An EXCHANGE return's variant, priced on Shopify when the customer asked "
        "(null for shops not connected to Shopify, and for returns older than this field)."
    )
    def exchange(self) -> ReturnExchange | None:
        found = self.record.exchange
        return ReturnExchange(record=found, currency=self.record.currency) if found else None

    @strawberry.field(
        description="The store-credit bonus of a STORE_CREDIT return, once it is due; a refund "
        "paid with the bonus still uncredited shows here (no transaction id) and in `shopifySync`."
    )
    def store_credit_bonus(self) -> ReturnStoreCreditBonus | None:
        bonus = self.record.store_credit_bonus
        return ReturnStoreCreditBonus(record=bonus) if bonus else None

    @strawberry.field(
        description="The parcel's prepaid label and tracking (PREPAID_LABEL and DROP_OFF "
        "returns); null for other methods."
    )
    def shipment(self) -> Shipment | None:
        found = self.record.shipment
        return Shipment(record=found) if found else None

    @strawberry.field
    def shopify_return_id(self) -> str | None:
        return self.record.shopify_return_id

    @strawberry.field
    def shopify_sync(self) -> ShopifySync | None:
        sync = self.record.shopify_sync
        return ShopifySync(record=sync) if sync else None

    @strawberry.field
    def currency(self) -> str:
        return self.record.currency

    @strawberry.field
    def history(self) -> list[ReturnTransition]:
        return [ReturnTransition(record=t) for t in self.record.history]

    @strawberry.field
    def created_at(self) -> datetime:
        return self.record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.record.updated_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.record.resolved_at

    @strawberry.field(description="The order this return belongs to (batched per request).")
    async def order(self, info: Info) -> Order | None:
        record = await info.context.loaders.order_by_shopify_id.load(self.record.order_id)
        return Order.from_record(record) if record else None


@strawberry.type
class ReturnPayload:
    return_: Return | None = strawberry.field(name="return")
    user_errors: list[ReturnUserError]


@strawberry.type
class BulkReturnsPayload:
    returns: list[Return] = strawberry.field(description="The returns the decision moved.")
    user_errors: list[ReturnUserError]


@strawberry.type
class UpdateReturnPolicyPayload:
    tenant: Tenant | None
    user_errors: list[ReturnUserError]


@strawberry.type
class ReturnsAnalyticsBucket:
    record: strawberry.Private[BucketRecord]

    @strawberry.field(description="Status, reason, resolution (enum value) or product id.")
    def key(self) -> str:
        return self.record.key

    @strawberry.field
    def label(self) -> str:
        return self.record.label

    @strawberry.field(description="Returns (status, resolution) or return lines (reason, product).")
    def count(self) -> int:
        return self.record.count

    @strawberry.field
    def units(self) -> int:
        return self.record.units


@strawberry.type(description="Over orders created in the range; active = not declined/canceled.")
class ReturnsAnalytics:
    record: strawberry.Private[ReturnsAnalyticsRecord]

    @strawberry.field
    def orders(self) -> int:
        return self.record.orders

    @strawberry.field
    def units_sold(self) -> int:
        return self.record.units_sold

    @strawberry.field(description="Active returns of those orders.")
    def returns(self) -> int:
        return self.record.returns

    @strawberry.field
    def units_returned(self) -> int:
        return self.record.units_returned

    @strawberry.field(description="unitsReturned / unitsSold, 4 decimal places.")
    def unit_return_rate(self) -> Decimal:
        return self.record.unit_return_rate

    @strawberry.field(description="returns / orders, 4 decimal places.")
    def order_return_rate(self) -> Decimal:
        return self.record.order_return_rate

    @strawberry.field(description="Every return, including declined and canceled.")
    def by_status(self) -> list[ReturnsAnalyticsBucket]:
        return [ReturnsAnalyticsBucket(record=b) for b in self.record.by_status]

    @strawberry.field
    def by_reason(self) -> list[ReturnsAnalyticsBucket]:
        return [ReturnsAnalyticsBucket(record=b) for b in self.record.by_reason]

    @strawberry.field
    def by_resolution(self) -> list[ReturnsAnalyticsBucket]:
        return [ReturnsAnalyticsBucket(record=b) for b in self.record.by_resolution]

    @strawberry.field
    def by_product(self) -> list[ReturnsAnalyticsBucket]:
        return [ReturnsAnalyticsBucket(record=b) for b in self.record.by_product]

    @strawberry.field(
        description="Refund amounts of resolved returns, one sum per currency (by currency code)."
    )
    def refund_total(self) -> list[MoneyV2]:
        return [money_v2(amount, code) for code, amount in self.record.refund_total.items()]

    @strawberry.field(description="Store credit of resolved returns, one sum per currency.")
    def store_credit_total(self) -> list[MoneyV2]:
        return [money_v2(amount, code) for code, amount in self.record.store_credit_total.items()]

    @strawberry.field
    def resolved(self) -> int:
        return self.record.resolved

    @strawberry.field(description="Mean seconds from request to resolution, resolved returns.")
    def average_resolution_seconds(self) -> Decimal | None:
        return self.record.average_resolution_seconds
