"""updateReturnPolicy: a partial change of the tenant's policy, validated field by field."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.clock import utcnow
from app.models import Tenant
from app.models.bson import to_bson
from app.models.return_policy import (
    AutoApproveRule,
    CarrierService,
    ResolutionType,
    ReturnMethod,
    ReturnPolicy,
    SerialReturnerRule,
    ShippingSettings,
    WindowStart,
)
from app.models.return_request import ReturnReason
from app.services.orders.queries import normalize_email
from app.services.returns.errors import ReturnErrorCode, ReturnUserError
from app.services.shopify_values import gid, numeric_id
from app.services.tenants import get_tenant

MAX_WINDOW_DAYS = 3650
MAX_LIST_ENTRIES = 200
MAX_BLOCKED_EMAILS = 1000
MAX_SERIAL_UNITS = 100_000
MAX_CARRIER_SERVICES = 50
MAX_PARCEL_WEIGHT_OZ = Decimal(2400)  # 150 lb, beyond any parcel service


@dataclass(frozen=True, slots=True)
class AutoApproveChange:
    enabled: bool
    max_order_total: Decimal | None = None
    reasons: list[ReturnReason] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SerialReturnerChange:
    enabled: bool
    max_units: int = 10
    window_days: int = 365


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """`None` leaves a setting as it is."""

    window_days: int | None = None
    window_starts: WindowStart | None = None
    allowed_resolutions: list[ResolutionType] | None = None
    allowed_methods: list[ReturnMethod] | None = None
    non_returnable_tags: list[str] | None = None
    non_returnable_product_types: list[str] | None = None
    final_sale_tag: str | None = None
    restocking_fee_percent: Decimal | None = None
    store_credit_bonus_percent: Decimal | None = None
    auto_approve: AutoApproveChange | None = None
    blocked_emails: list[str] | None = None
    serial_returner: SerialReturnerChange | None = None
    restock_location_id: str | None = None  # "" clears it
    exchange_absorb_limit: Decimal | None = None
    return_shipping_fee: Decimal | None = None
    shipping: ShippingSettings | None = None  # replaces the shipping settings as a whole


@dataclass(slots=True)
class PolicyResult:
    tenant: Tenant | None = None
    user_errors: list[ReturnUserError] = field(default_factory=list)


def _percent_error(name: str, value: Decimal | None) -> ReturnUserError | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0 or value > 100:
        return ReturnUserError(
            [name], ReturnErrorCode.OUT_OF_RANGE, "Must be a percentage between 0 and 100."
        )
    return None


def location_gid(value: str) -> str | None:
    """A Shopify Location GID from a GID or a numeric id; None when it is neither."""
    text = value.strip()
    number = numeric_id(text) or ""
    is_location = text == number or text == f"gid://shopify/Location/{number}"
    if not is_location or not number.isascii() or not number.isdigit() or len(number) > 20:
        return None
    return gid("Location", int(number))


def _clean_list(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value.strip():
            seen.setdefault(value.strip(), None)
    return list(seen)


def validate_change(change: PolicyChange) -> list[ReturnUserError]:
    codes = ReturnErrorCode
    errors: list[ReturnUserError] = []
    if change.window_days is not None and not 0 <= change.window_days <= MAX_WINDOW_DAYS:
        errors.append(
            ReturnUserError(
                ["window_days"],
                codes.OUT_OF_RANGE,
                f"Must be between 0 and {MAX_WINDOW_DAYS} days.",
            )
        )
    for name, percent in (
        ("restocking_fee_percent", change.restocking_fee_percent),
        ("store_credit_bonus_percent", change.store_credit_bonus_percent),
    ):
        if error := _percent_error(name, percent):
            errors.append(error)
    if change.allowed_resolutions is not None and not change.allowed_resolutions:
        errors.append(
            ReturnUserError(["allowed_resolutions"], codes.BLANK, "Allow at least one resolution.")
        )
    if change.allowed_methods is not None and not change.allowed_methods:
        errors.append(
            ReturnUserError(["allowed_methods"], codes.BLANK, "Allow at least one method.")
        )
    for name, values in (
        ("non_returnable_tags", change.non_returnable_tags),
        ("non_returnable_product_types", change.non_returnable_product_types),
    ):
        if values is not None and len(values) > MAX_LIST_ENTRIES:
            errors.append(ReturnUserError([name], codes.TOO_LONG, f"At most {MAX_LIST_ENTRIES}."))
    if change.blocked_emails is not None and len(change.blocked_emails) > MAX_BLOCKED_EMAILS:
        errors.append(
            ReturnUserError(
                ["blocked_emails"], codes.TOO_LONG, f"At most {MAX_BLOCKED_EMAILS} addresses."
            )
        )
    serial = change.serial_returner
    if serial is not None and not 1 <= serial.max_units <= MAX_SERIAL_UNITS:
        errors.append(
            ReturnUserError(
                ["serial_returner", "max_units"],
                codes.OUT_OF_RANGE,
                f"Must be between 1 and {MAX_SERIAL_UNITS}.",
            )
        )
    if serial is not None and not 1 <= serial.window_days <= MAX_WINDOW_DAYS:
        errors.append(
            ReturnUserError(
                ["serial_returner", "window_days"],
                codes.OUT_OF_RANGE,
                f"Must be between 1 and {MAX_WINDOW_DAYS} days.",
            )
        )
    absorb = change.exchange_absorb_limit
    if absorb is not None and (not absorb.is_finite() or absorb < 0):
        errors.append(
            ReturnUserError(["exchange_absorb_limit"], codes.OUT_OF_RANGE, "Must not be negative.")
        )
    shipping = change.return_shipping_fee
    if shipping is not None and (not shipping.is_finite() or shipping < 0):
        errors.append(
            ReturnUserError(["return_shipping_fee"], codes.OUT_OF_RANGE, "Must not be negative.")
        )
    location = change.restock_location_id
    if location and location_gid(location) is None:
        errors.append(
            ReturnUserError(
                ["restock_location_id"],
                codes.INVALID,
                "Must be a Shopify location id (gid://shopify/Location/123 or 123).",
            )
        )
    rule = change.auto_approve
    limit = rule.max_order_total if rule is not None else None
    if limit is not None and (not limit.is_finite() or limit < 0):
        errors.append(
            ReturnUserError(
                ["auto_approve", "max_order_total"], codes.OUT_OF_RANGE, "Must not be negative."
            )
        )
    if change.shipping is not None:
        errors.extend(_shipping_errors(change.shipping))
    return errors


def _shipping_errors(shipping: ShippingSettings) -> list[ReturnUserError]:
    codes = ReturnErrorCode
    errors: list[ReturnUserError] = []
    address = shipping.return_address
    if address is not None:
        for name in ("name", "street1", "city", "zip"):
            if not str(getattr(address, name) or "").strip():
                errors.append(
                    ReturnUserError(["shipping", "return_address", name], codes.BLANK, "Required.")
                )
        code = address.country_code.strip()
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            errors.append(
                ReturnUserError(
                    ["shipping", "return_address", "country_code"],
                    codes.INVALID,
                    "Must be a two-letter country code (ISO 3166-1), e.g. US.",
                )
            )
    if len(shipping.allowed_services) > MAX_CARRIER_SERVICES:
        errors.append(
            ReturnUserError(
                ["shipping", "allowed_services"],
                codes.TOO_LONG,
                f"At most {MAX_CARRIER_SERVICES}.",
            )
        )
    for index, allowed in enumerate(shipping.allowed_services):
        if not allowed.carrier.strip():
            errors.append(
                ReturnUserError(
                    ["shipping", "allowed_services", str(index), "carrier"],
                    codes.BLANK,
                    "Required.",
                )
            )
    weight = shipping.parcel_weight_oz
    if not weight.is_finite() or not 0 < weight <= MAX_PARCEL_WEIGHT_OZ:
        errors.append(
            ReturnUserError(
                ["shipping", "parcel_weight_oz"],
                codes.OUT_OF_RANGE,
                f"Must be more than 0 and at most {MAX_PARCEL_WEIGHT_OZ} ounces.",
            )
        )
    return errors


def _clean_shipping(shipping: ShippingSettings) -> ShippingSettings:
    address = shipping.return_address
    if address is not None:
        address = address.model_copy(
            update={
                name: (value.strip() or None) if isinstance(value, str) else value
                for name, value in address.model_dump().items()
            }
            | {"country_code": address.country_code.strip().upper()}
        )
    services = {
        (item.carrier.strip(), (item.service or "").strip() or None): None
        for item in shipping.allowed_services
    }
    return shipping.model_copy(
        update={
            "return_address": address,
            "allowed_services": [
                CarrierService(carrier=carrier, service=service) for carrier, service in services
            ],
        }
    )


def changed_settings(change: PolicyChange) -> dict[str, object]:
    updates: dict[str, object] = {}
    if change.window_days is not None:
        updates["window_days"] = change.window_days
    if change.window_starts is not None:
        updates["window_starts"] = change.window_starts
    if change.allowed_resolutions is not None:
        updates["allowed_resolutions"] = list(dict.fromkeys(change.allowed_resolutions))
    if change.allowed_methods is not None:
        updates["allowed_methods"] = list(dict.fromkeys(change.allowed_methods))
    if change.non_returnable_tags is not None:
        updates["non_returnable_tags"] = _clean_list(change.non_returnable_tags)
    if change.non_returnable_product_types is not None:
        updates["non_returnable_product_types"] = _clean_list(change.non_returnable_product_types)
    if change.final_sale_tag is not None:
        updates["final_sale_tag"] = change.final_sale_tag.strip()
    if change.restocking_fee_percent is not None:
        updates["restocking_fee_percent"] = change.restocking_fee_percent
    if change.store_credit_bonus_percent is not None:
        updates["store_credit_bonus_percent"] = change.store_credit_bonus_percent
    if change.auto_approve is not None:
        updates["auto_approve"] = AutoApproveRule(
            enabled=change.auto_approve.enabled,
            max_order_total=change.auto_approve.max_order_total,
            reasons=[reason.value for reason in change.auto_approve.reasons],
        )
    if change.blocked_emails is not None:
        updates["blocked_emails"] = _clean_list(
            [normalize_email(email) for email in change.blocked_emails]
        )
    if change.serial_returner is not None:
        updates["serial_returner"] = SerialReturnerRule(
            enabled=change.serial_returner.enabled,
            max_units=change.serial_returner.max_units,
            window_days=change.serial_returner.window_days,
        )
    if change.restock_location_id is not None:
        updates["restock_location_id"] = location_gid(change.restock_location_id)
    if change.exchange_absorb_limit is not None:
        updates["exchange_absorb_limit"] = change.exchange_absorb_limit
    if change.return_shipping_fee is not None:
        updates["return_shipping_fee"] = change.return_shipping_fee
    if change.shipping is not None:
        updates["shipping"] = ShippingSettings.model_validate(
            _clean_shipping(change.shipping).model_dump()
        )
    return updates


async def change_return_policy(tenant_id: str, change: PolicyChange) -> PolicyResult:
    """Validate, merge into the current policy and store it; nothing is written on errors."""
    errors = validate_change(change)
    if errors:
        return PolicyResult(user_errors=errors)
    updates = changed_settings(change)
    ReturnPolicy.model_validate(updates)  # the model's own bounds, as a last check
    collection = Tenant.get_pymongo_collection()
    # Only the changed settings are set, so two concurrent partial updates don't undo each other.
    to_set = {f"return_policy.{name}": to_bson(value) for name, value in updates.items()}
    result = await collection.update_one(
        {"_id": tenant_id}, {"$set": {**to_set, "updated_at": utcnow()}}
    )
    tenant = await get_tenant(tenant_id) if result.matched_count else None
    if tenant is None:
        return PolicyResult(
            user_errors=[ReturnUserError(None, ReturnErrorCode.NOT_FOUND, "No such tenant.")]
        )
    return PolicyResult(tenant=tenant)
