"""Configuration of the simulated EasyPost account(s): keys, carriers and prices, the default
tracking script, webhook delivery and fault timing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# EasyPost's Tracker statuses (the simulator refuses any other in scripts and status jumps).
TRACKER_STATUSES = (
    "unknown",
    "pre_transit",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "available_for_pickup",
    "return_to_sender",
    "failure",
    "cancelled",
    "error",
)


@dataclass(frozen=True)
class CarrierService:
    """One service an account can buy, priced `base + per_lb * pounds + per_zone * distance`
    (see `pricing.py`); every amount has whole cents, so every price does too."""

    carrier: str
    service: str
    base: Decimal
    per_lb: Decimal
    per_zone: Decimal
    delivery_days: int


@dataclass(frozen=True)
class ScriptStep:
    """A tracker moves to `status` this many hours after the label was bought."""

    hours: float
    status: str
    status_detail: str | None = None
    message: str | None = None


DEFAULT_SERVICES: tuple[CarrierService, ...] = (
    CarrierService("USPS", "GroundAdvantage", Decimal("4.75"), Decimal("0.85"), Decimal("0.40"), 5),
    CarrierService("USPS", "Priority", Decimal("7.90"), Decimal("1.20"), Decimal("0.65"), 3),
    CarrierService("USPS", "Express", Decimal("26.35"), Decimal("2.10"), Decimal("1.45"), 1),
    CarrierService("UPS", "Ground", Decimal("9.15"), Decimal("1.05"), Decimal("0.55"), 5),
    CarrierService("UPS", "2ndDayAir", Decimal("18.60"), Decimal("2.35"), Decimal("1.10"), 2),
    CarrierService("FedEx", "FEDEX_GROUND", Decimal("8.95"), Decimal("1.00"), Decimal("0.60"), 5),
    CarrierService("FedEx", "FEDEX_2_DAY", Decimal("17.85"), Decimal("2.25"), Decimal("1.20"), 2),
)

DEFAULT_TRACKER_SCRIPT: tuple[ScriptStep, ...] = (
    ScriptStep(12, "in_transit"),
    ScriptStep(48, "out_for_delivery"),
    ScriptStep(56, "delivered"),
)


@dataclass(frozen=True)
class CarrierSimConfig:
    """What the simulator trusts and how it behaves.

    `api_keys`: keys that exist at start, one account each (`POST /_sim/api_keys` adds more).
    `webhook_url`/`webhook_secret`: where every account's Events go unless the account has its
    own (None: Events are recorded, not sent); without a secret Events go unsigned, as EasyPost
    sends them for a webhook created without `webhook_secret`.
    `webhook_time_scale` multiplies every retry delay (1.0: 1 s, 2 s, 4 s ...; tests pass e.g.
    0.005 so retries happen in milliseconds), as the Shopify simulator's does.
    `fault_timeout_seconds`: how long a `timeout` fault holds the answer before its 504.
    `qr_code_carriers`: carriers whose bought labels can be given a box-free drop-off QR code
    form (`POST /v2/shipments/{id}/forms`, type `label_qr_code`): USPS's Label Broker.
    `public_base_url`: the base of label, QR and tracking page URLs (None: the request's).
    """

    api_keys: tuple[str, ...] = ("sim-easypost-key",)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    services: tuple[CarrierService, ...] = DEFAULT_SERVICES
    qr_code_carriers: tuple[str, ...] = ("USPS",)
    tracker_script: tuple[ScriptStep, ...] = DEFAULT_TRACKER_SCRIPT
    emit_tracker_created: bool = True
    webhook_time_scale: float = 1.0
    webhook_retry_base_seconds: float = 1.0
    webhook_max_retries: int = 6
    webhook_connect_timeout: float = 1.0
    webhook_read_timeout: float = 5.0
    fault_timeout_seconds: float = 30.0
    public_base_url: str | None = None
    mode: str = "test"
