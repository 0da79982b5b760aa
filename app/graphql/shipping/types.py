"""A return's parcel (`Return.shipment`) and the shop's shipping settings
(`ReturnPolicy.shipping`, set through `updateReturnPolicy(input: {shipping})`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.graphql.core.money import MoneyV2, money_v2
from app.models.return_policy import CarrierService as CarrierServiceRecord
from app.models.return_policy import LabelPayer, LabelTiming
from app.models.return_policy import ReturnAddress as ReturnAddressRecord
from app.models.return_policy import ShippingSettings as ShippingSettingsRecord
from app.models.return_request import ReturnShipment as ReturnShipmentRecord
from app.models.return_request import ShipmentStatus
from app.models.return_request import TrackingUpdate as TrackingUpdateRecord

ShipmentStatusEnum = strawberry.enum(
    ShipmentStatus,
    name="ShipmentStatus",
    description="AWAITING_REQUEST, LABEL_PENDING and LABEL_FAILED are the label's purchase; "
    "the rest follow the carrier's tracking, forward only.",
)
LabelPayerEnum = strawberry.enum(LabelPayer, name="LabelPayer")
LabelTimingEnum = strawberry.enum(LabelTiming, name="LabelTiming")


@strawberry.type(description="A tracking status the carrier reported.")
class ShipmentTrackingUpdate:
    record: strawberry.Private[TrackingUpdateRecord]

    @strawberry.field
    def status(self) -> ShipmentStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field(description="The carrier's time of the update.")
    def at(self) -> datetime:
        return self.record.at

    @strawberry.field
    def message(self) -> str | None:
        return self.record.message


@strawberry.type(
    description="The return parcel's prepaid label and its journey (PREPAID_LABEL and DROP_OFF "
    "returns). The label is bought in the background once the return is approved (or when "
    "asked for: `createReturnLabel`); `error` says why it is not bought yet."
)
class Shipment:
    record: strawberry.Private[ReturnShipmentRecord]

    @strawberry.field
    def status(self) -> ShipmentStatusEnum:  # type: ignore[valid-type]
        return self.record.status

    @strawberry.field
    def carrier(self) -> str | None:
        return self.record.carrier

    @strawberry.field
    def service(self) -> str | None:
        return self.record.service

    @strawberry.field
    def tracking_number(self) -> str | None:
        return self.record.tracking_number

    @strawberry.field(description="The carrier's public tracking page.")
    def tracking_url(self) -> str | None:
        return self.record.tracking_url

    @strawberry.field(description="The label to print (PDF).")
    def label_url(self) -> str | None:
        return self.record.label_url

    @strawberry.field(description="A QR code shown at the carrier's counter instead of a label.")
    def qr_code_url(self) -> str | None:
        return self.record.qr_code_url

    @strawberry.field(description="What the label cost; null until bought.")
    def cost(self) -> MoneyV2 | None:
        if self.record.cost is None or self.record.cost_currency is None:
            return None
        return money_v2(self.record.cost, self.record.cost_currency)

    @strawberry.field(description="CUSTOMER: the cost is deducted from the refund.")
    def payer(self) -> LabelPayerEnum:  # type: ignore[valid-type]
        return self.record.payer

    @strawberry.field(description="Box-free drop-off: a carrier that gives a QR code.")
    def drop_off(self) -> bool:
        return self.record.drop_off

    @strawberry.field(description="Why the label is not bought (or not voided) yet.")
    def error(self) -> str | None:
        return self.record.error

    @strawberry.field
    def attempts(self) -> int:
        return self.record.attempts

    @strawberry.field(description="Tracking so far, oldest first (the latest 50).")
    def tracking(self) -> list[ShipmentTrackingUpdate]:
        return [ShipmentTrackingUpdate(record=update) for update in self.record.tracking]

    @strawberry.field(description="Being voided (the return was canceled or its method changed).")
    def void_requested(self) -> bool:
        return self.record.void_due_at is not None

    @strawberry.field
    def purchased_at(self) -> datetime | None:
        return self.record.purchased_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.record.delivered_at

    @strawberry.field
    def voided_at(self) -> datetime | None:
        return self.record.voided_at

    @strawberry.field(description="The reverse delivery carrying the label in Shopify.")
    def shopify_reverse_delivery_id(self) -> strawberry.ID | None:
        found = self.record.shopify_reverse_delivery_id
        return strawberry.ID(found) if found else None

    @strawberry.field(
        description="Why Shopify would not take the label (it is not tried again; the "
        "return's own sync goes on)."
    )
    def shopify_delivery_error(self) -> str | None:
        return self.record.shopify_delivery_error


@strawberry.type(description="Where returned parcels go.")
class ReturnAddress:
    record: strawberry.Private[ReturnAddressRecord]

    @strawberry.field
    def name(self) -> str:
        return self.record.name

    @strawberry.field
    def company(self) -> str | None:
        return self.record.company

    @strawberry.field
    def street1(self) -> str:
        return self.record.street1

    @strawberry.field
    def street2(self) -> str | None:
        return self.record.street2

    @strawberry.field
    def city(self) -> str:
        return self.record.city

    @strawberry.field
    def province(self) -> str | None:
        return self.record.province

    @strawberry.field
    def zip(self) -> str:
        return self.record.zip

    @strawberry.field
    def country_code(self) -> str:
        return self.record.country_code

    @strawberry.field
    def phone(self) -> str | None:
        return self.record.phone


@strawberry.type(description="A carrier whose labels the shop accepts (any service when null).")
class CarrierService:
    record: strawberry.Private[CarrierServiceRecord]

    @strawberry.field
    def carrier(self) -> str:
        return self.record.carrier

    @strawberry.field
    def service(self) -> str | None:
        return self.record.service


@strawberry.type(description="Prepaid return labels and tracking.")
class ShippingSettings:
    record: strawberry.Private[ShippingSettingsRecord]

    @strawberry.field(description="Null: no label can be bought.")
    def return_address(self) -> ReturnAddress | None:
        found = self.record.return_address
        return ReturnAddress(record=found) if found else None

    @strawberry.field(description="The cheapest allowed rate is bought; empty: any carrier.")
    def allowed_services(self) -> list[CarrierService]:
        return [CarrierService(record=item) for item in self.record.allowed_services]

    @strawberry.field
    def label_payer(self) -> LabelPayerEnum:  # type: ignore[valid-type]
        return self.record.label_payer

    @strawberry.field
    def label_timing(self) -> LabelTimingEnum:  # type: ignore[valid-type]
        return self.record.label_timing

    @strawberry.field(
        description="A parcel delivered back receives its return (APPROVED -> RECEIVED)."
    )
    def receive_on_delivery(self) -> bool:
        return self.record.receive_on_delivery

    @strawberry.field(description="The parcel's declared weight, in ounces.")
    def parcel_weight_oz(self) -> Decimal:
        return self.record.parcel_weight_oz


@strawberry.input
class ReturnAddressInput:
    name: str
    street1: str
    city: str
    zip: str
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. US.")
    company: str | None = None
    street2: str | None = None
    province: str | None = None
    phone: str | None = None

    def to_record(self) -> ReturnAddressRecord:
        return ReturnAddressRecord(
            name=self.name,
            company=self.company,
            street1=self.street1,
            street2=self.street2,
            city=self.city,
            province=self.province,
            zip=self.zip,
            country_code=self.country_code,
            phone=self.phone,
        )


@strawberry.input
class CarrierServiceInput:
    carrier: str = strawberry.field(description='As the carrier API names it: "USPS", "UPS".')
    service: str | None = strawberry.field(default=None, description="Null: any service.")


@strawberry.input(description="The shop's shipping settings, replaced as a whole.")
class ShippingSettingsInput:
    return_address: ReturnAddressInput | None = None
    allowed_services: list[CarrierServiceInput] = strawberry.field(default_factory=list)
    label_payer: LabelPayerEnum = LabelPayer.MERCHANT  # type: ignore[valid-type]
    label_timing: LabelTimingEnum = LabelTiming.ON_APPROVAL  # type: ignore[valid-type]
    receive_on_delivery: bool = True
    parcel_weight_oz: Decimal = Decimal(16)

    def to_record(self) -> ShippingSettingsRecord:
        return ShippingSettingsRecord(
            return_address=self.return_address.to_record() if self.return_address else None,
            allowed_services=[
                CarrierServiceRecord(carrier=item.carrier, service=item.service)
                for item in self.allowed_services
            ],
            label_payer=self.label_payer,
            label_timing=self.label_timing,
            receive_on_delivery=self.receive_on_delivery,
            parcel_weight_oz=self.parcel_weight_oz,
        )
