"""The simulated EasyPost's state and rules: accounts, shipments and their rates, purchases,
refunds, trackers moving on the simulated clock, and the Events those changes make.

The server runs in its own thread and event loop, and tests may look at the state from theirs:
every read and change happens under `CarrierState.lock` (never held across an `await`).
Methods raise `ApiError` for what EasyPost answers with an error; the routes turn it into
EasyPost's error shape.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from tools.shopify_sim.models import iso
from tools.shopify_sim.money import parse_amount

from . import documents, pricing
from .config import TRACKER_STATUSES, CarrierSimConfig, ScriptStep
from .models import (
    AT_SENDER,
    JSON,
    STATUS_TEXT,
    Account,
    EventRecord,
    Fault,
    FaultQueues,
    Shipment,
    SimClock,
    Tracker,
    WebhookTarget,
    money,
    new_id,
    stable_id,
)

ADDRESS_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "city",
    "state",
    "zip",
    "country",
    "phone",
    "email",
)
REQUIRED_ADDRESS_FIELDS = ("street1", "city", "zip", "country")
ENDPOINTS = ("create", "buy", "refund", "retrieve", "form", "tracker", "any")
# forms created on request after purchase (`POST /v2/shipments/{id}/forms`)
FORM_TYPES = ("label_qr_code",)
API_FAULTS = ("error_500", "error_503", "timeout", "apply_then_drop")
WEBHOOK_FAULTS = ("duplicate", "reorder", "forged", "fail_n")
# a label that has been scanned can no longer be voided
REFUNDABLE_STATUSES = frozenset({"pre_transit", "unknown"})


class ApiError(Exception):
    """An EasyPost error answer: `{"error": {"code", "message", "errors"}}` with `status`."""

    def __init__(
        self, status: int, code: str, message: str, errors: Sequence[JSON | str] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors)

    def body(self) -> JSON:
        return {"error": {"code": self.code, "message": self.message, "errors": self.errors}}


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource could not be found.")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    shown = str(value).strip()
    return shown or None


@dataclass
class Move:
    """A tracker status change to apply at `at` (from its script, or a test's jump)."""

    at: datetime
    tracker: Tracker
    step: ScriptStep


@dataclass
class CarrierState:
    config: CarrierSimConfig
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: SimClock = field(default_factory=SimClock)
    accounts: dict[str, Account] = field(default_factory=dict)  # by API key
    shipments: dict[str, Shipment] = field(default_factory=dict)
    trackers: dict[str, Tracker] = field(default_factory=dict)
    events: dict[str, EventRecord] = field(default_factory=dict)
    deliveries: list[JSON] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path -> (body, type)
    default_webhook: WebhookTarget | None = None
    tracker_script: list[ScriptStep] = field(default_factory=list)
    faults: FaultQueues = field(default_factory=FaultQueues)  # for every account
    webhook_faults: FaultQueues = field(default_factory=FaultQueues)
    # tracking codes stay unique across resets and, thanks to the run's digits, across restarts
    run_digits: str = field(default_factory=lambda: f"{secrets.randbelow(10**6):06d}")
    serial: int = 0

    def __post_init__(self) -> None:
        self.reset()

    # Accounts and configuration ------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.clock = SimClock()
            self.accounts.clear()
            self.shipments.clear()
            self.trackers.clear()
            self.events.clear()
            self.deliveries.clear()
            self.files.clear()
            self.faults.clear()
            self.webhook_faults.clear()
            self.tracker_script = list(self.config.tracker_script)
            self.default_webhook = (
                WebhookTarget(self.config.webhook_url, self.config.webhook_secret)
                if self.config.webhook_url
                else None
            )
            for key in self.config.api_keys:
                self.add_account(key)

    def add_account(
        self, api_key: str | None = None, webhook: WebhookTarget | None = None
    ) -> Account:
        with self.lock:
            key = api_key or f"EZTK{secrets.token_hex(16)}"
            account = self.accounts.get(key)
            if account is None:
                account = Account(id=new_id("user"), api_key=key)
                self.accounts[key] = account
            account.active = True
            if webhook is not None:
                account.webhook = webhook
            return account

    def account_by_key(self, api_key: str | None) -> Account | None:
        with self.lock:
            return self.accounts.get(api_key or "")

    def account_by_id(self, account_id: str) -> Account | None:
        with self.lock:
            return next((a for a in self.accounts.values() if a.id == account_id), None)

    def webhook_for(self, account: Account) -> WebhookTarget | None:
        with self.lock:
            return account.webhook or self.default_webhook

    def webhook_for_id(self, account_id: str) -> WebhookTarget | None:
        with self.lock:
            account = self.account_by_id(account_id)
            return self.webhook_for(account) if account is not None else self.default_webhook

    def take_fault(self, account: Account, endpoint: str) -> Fault | None:
        with self.lock:
            return account.faults.take(endpoint, "any") or self.faults.take(endpoint, "any")

    def take_webhook_fault(self, account_id: str, kind: str) -> Fault | None:
        with self.lock:
            account = self.account_by_id(account_id)
            taken = account.webhook_faults.take(kind) if account else None
            return taken or self.webhook_faults.take(kind)

    # Shipments -----------------------------------------------------------------------------
    def create_shipment(self, account: Account, body: JSON) -> Shipment:
        request = body.get("shipment")
        if not isinstance(request, dict):
            raise ApiError(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter: shipment.",
                [{"field": "shipment", "message": "cannot be blank"}],
            )
        errors: list[JSON] = []
        addresses = {
            which: self._address(request.get(which), which, errors)
            for which in ("to_address", "from_address")
        }
        weight = self._parcel_weight(request.get("parcel"), errors)
        if errors:
            missing = any(error["message"] == "cannot be blank" for error in errors)
            described = "; ".join(f"{error['field']} {error['message']}" for error in errors)
            raise ApiError(
                422,
                "PARAMETER.REQUIRED" if missing else "PARAMETER.INVALID",
                f"Invalid shipment: {described}.",
                errors,
            )
        assert weight is not None
        with self.lock:
            now = self.clock.now()
            stamp = {"mode": self.config.mode, "created_at": iso(now), "updated_at": iso(now)}
            to_address = self._stamped(addresses["to_address"], "adr", "Address", stamp)
            from_address = self._stamped(addresses["from_address"], "adr", "Address", stamp)
            parcel = self._stamped(self._parcel(request["parcel"], weight), "prcl", "Parcel", stamp)
            shipment = Shipment(
                id=new_id("shp"),
                account_id=account.id,
                reference=_text(request.get("reference")),
                is_return=bool(request.get("is_return", False)),
                to_address=to_address,
                from_address=from_address,
                parcel=parcel,
                options={"currency": "USD"}
                | (request["options"] if isinstance(request.get("options"), dict) else {}),
                rates=[],
                created_at=now,
                updated_at=now,
            )
            shipment.rates = [
                {
                    "id": new_id("rate"),
                    "object": "Rate",
                    "mode": self.config.mode,
                    "carrier": service.carrier,
                    "service": service.service,
                    "carrier_account_id": stable_id("ca", account.id, service.carrier),
                    "shipment_id": shipment.id,
                    "rate": money(amount),
                    "currency": "USD",
                    "retail_rate": money(amount * Decimal("1.15")),
                    "retail_currency": "USD",
                    "list_rate": money(amount),
                    "list_currency": "USD",
                    "billing_type": "easypost",
                    "delivery_days": service.delivery_days,
                    "delivery_date": None,
                    "delivery_date_guaranteed": False,
                    "est_delivery_days": service.delivery_days,
                    "created_at": iso(now),
                    "updated_at": iso(now),
                }
                for service in self.config.services
                for amount in [
                    pricing.price(
                        service, weight, from_address["zip"] or "", to_address["zip"] or ""
                    )
                ]
            ]
            self.shipments[shipment.id] = shipment
            return shipment

    @staticmethod
    def _address(value: Any, which: str, errors: list[JSON]) -> JSON:
        if not isinstance(value, dict):
            errors.append({"field": which, "message": "cannot be blank"})
            return {}
        address = {name: _text(value.get(name)) for name in ADDRESS_FIELDS}
        for name in REQUIRED_ADDRESS_FIELDS:
            if address[name] is None:
                errors.append({"field": f"{which}.{name}", "message": "cannot be blank"})
        country = address["country"]
        if country is not None:
            if len(country) != 2 or not country.isalpha():
                errors.append(
                    {
                        "field": f"{which}.country",
                        "message": "must be a two-letter ISO 3166 country code",
                    }
                )
            address["country"] = country.upper()
        return address

    @staticmethod
    def _parcel_weight(value: Any, errors: list[JSON]) -> Decimal | None:
        if not isinstance(value, dict):
            errors.append({"field": "parcel", "message": "cannot be blank"})
            return None
        weight = parse_amount(value.get("weight"))
        if value.get("weight") in (None, ""):
            errors.append({"field": "parcel.weight", "message": "cannot be blank"})
        elif weight is None or weight <= 0:
            errors.append({"field": "parcel.weight", "message": "must be greater than 0 (ounces)"})
        for name in ("length", "width", "height"):
            if value.get(name) not in (None, ""):
                size = parse_amount(value.get(name))
                if size is None or size <= 0:
                    errors.append({"field": f"parcel.{name}", "message": "must be greater than 0"})
        return weight if weight is not None and weight > 0 else None

    @staticmethod
    def _parcel(value: JSON, weight: Decimal) -> JSON:
        sizes = {
            name: None if value.get(name) in (None, "") else float(str(value[name]))
            for name in ("length", "width", "height")
        }
        return sizes | {"weight": float(weight), "predefined_package": None}

    @staticmethod
    def _stamped(fields: JSON, prefix: str, kind: str, stamp: JSON) -> JSON:
        extra: JSON = (
            {
                "residential": None,
                "carrier_facility": None,
                "federal_tax_id": None,
                "state_tax_id": None,
                "verifications": {},
            }
            if kind == "Address"
            else {}
        )
        return {"id": new_id(prefix), "object": kind} | fields | extra | stamp

    def shipment_of(self, account: Account, shipment_id: str) -> Shipment:
        """The account's shipment; another account's is as unknown as a made-up id."""
        with self.lock:
            shipment = self.shipments.get(shipment_id)
            if shipment is None or shipment.account_id != account.id:
                raise not_found()
            return shipment

    def tracker_of(self, account: Account, tracker_id: str) -> Tracker:
        with self.lock:
            tracker = self.trackers.get(tracker_id)
            if tracker is None or tracker.account_id != account.id:
                raise not_found()
            return tracker

    def buy(
        self, account: Account, shipment_id: str, body: JSON, base_url: str
    ) -> tuple[Shipment, list[EventRecord]]:
        with self.lock:
            shipment = self.shipment_of(account, shipment_id)
            shipment.buy_attempts += 1
            if shipment.postage_label is not None:
                raise ApiError(
                    422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment."
                )
            wanted = body.get("rate")
            rate_id = wanted.get("id") if isinstance(wanted, dict) else None
            if not rate_id:
                raise ApiError(
                    422,
                    "PARAMETER.REQUIRED",
                    "Missing required parameter: rate.",
                    [{"field": "rate", "message": "cannot be blank"}],
                )
            rate = next((r for r in shipment.rates if r["id"] == rate_id), None)
            if rate is None:
                raise ApiError(
                    422,
                    "SHIPMENT.RATE.INVALID",
                    f"Rate {rate_id} is not a rate of shipment {shipment.id}.",
                    [{"field": "rate", "message": "must be one of the shipment's rates"}],
                )
            return shipment, self._purchase(account, shipment, rate, base_url)

    def _purchase(
        self, account: Account, shipment: Shipment, rate: JSON, base_url: str
    ) -> list[EventRecord]:
        now = self.clock.now()
        amount = Decimal(rate["rate"])
        carrier, service = rate["carrier"], rate["service"]
        code = self._tracking_code(carrier)
        label_id = new_id("pl")
        label_path = f"/files/labels/{label_id}.pdf"
        ship_from, ship_to = label_route(shipment)
        self.files[label_path] = (
            documents.label_pdf(carrier, service, code, ship_from, ship_to),
            "application/pdf",
        )
        shipment.postage_label = {
            "id": label_id,
            "object": "PostageLabel",
            "created_at": iso(now),
            "updated_at": iso(now),
            "date_advance": 0,
            "integrated_form": "none",
            "label_date": iso(now),
            "label_resolution": 300,
            "label_size": "4x6",
            "label_type": "default",
            "label_file_type": "application/pdf",
            "label_url": f"{base_url}{label_path}",
            "label_pdf_url": f"{base_url}{label_path}",
            "label_epl2_url": None,
            "label_zpl_url": None,
            "label_file": None,
        }
        tracker = Tracker(
            id=new_id("trk"),
            account_id=account.id,
            shipment_id=shipment.id,
            tracking_code=code,
            carrier=carrier,
            service=service,
            purchased_at=now,
            est_delivery_date=now + timedelta(days=int(rate["delivery_days"])),
            from_address=ship_from,
            to_address=ship_to,
            public_url=f"{base_url}/track/{code}",
            script=list(self.tracker_script),
            updated_at=now,
        )
        tracker.details.append(self._detail(tracker, ScriptStep(0, "pre_transit"), now))
        self.trackers[tracker.id] = tracker
        shipment.selected_rate = rate
        shipment.tracker_id = tracker.id
        shipment.tracking_code = code
        shipment.fees = [
            {
                "object": "Fee",
                "type": "LabelFee",
                "amount": "0.00000",
                "charged": True,
                "refunded": False,
            },
            {
                "object": "Fee",
                "type": "PostageFee",
                "amount": f"{amount:.5f}",
                "charged": True,
                "refunded": False,
            },
        ]
        shipment.charged = amount
        shipment.purchases += 1
        shipment.updated_at = now
        account.purchases += 1
        account.charges += amount
        if not self.config.emit_tracker_created:
            return []
        # EasyPost makes a Tracker for every label it sells and announces it with an Event
        return [
            self._event(account, "tracker.created", {}, self.tracker_json(tracker), tracker.id, now)
        ]

    def create_form(
        self, account: Account, shipment_id: str, body: JSON, base_url: str
    ) -> Shipment:
        """`POST /v2/shipments/{id}/forms`: a Form for a bought label. Only `label_qr_code`
        (the box-free drop-off QR code, a PNG of the tracking code), only for
        `qr_code_carriers`; asked again, the shipment keeps its one QR code form."""
        self.shipment_of(account, shipment_id)  # an unknown shipment: 404 before anything
        request = body.get("form")
        form_type = request.get("type") if isinstance(request, dict) else None
        if not form_type:
            raise ApiError(
                422,
                "PARAMETER.REQUIRED",
                "Missing required parameter: form.type.",
                [{"field": "form.type", "message": "cannot be blank"}],
            )
        if form_type not in FORM_TYPES:
            raise ApiError(
                422,
                "PARAMETER.INVALID",
                f"Invalid form type {form_type!r}: must be one of {', '.join(FORM_TYPES)}.",
                [{"field": "form.type", "message": f"must be one of {', '.join(FORM_TYPES)}"}],
            )
        with self.lock:
            shipment = self.shipment_of(account, shipment_id)
            rate = shipment.selected_rate
            if shipment.postage_label is None or rate is None or shipment.tracking_code is None:
                raise ApiError(
                    422,
                    "SHIPMENT.POSTAGE.REQUIRED",
                    "This shipment has no postage label: buy one before creating a form.",
                    [{"field": "shipment", "message": "must be purchased"}],
                )
            carrier = rate["carrier"]
            if carrier not in self.config.qr_code_carriers:
                raise ApiError(
                    422,
                    "FORM.UNSUPPORTED",
                    f"{form_type} forms are not available for {carrier} labels"
                    f" (only {', '.join(self.config.qr_code_carriers) or 'no carrier'}).",
                    [{"field": "form.type", "message": f"is not supported by {carrier}"}],
                )
            if any(form["form_type"] == form_type for form in shipment.forms):
                return shipment
            now = self.clock.now()
            form_id = new_id("form")
            form_path = f"/files/forms/{form_id}.png"
            self.files[form_path] = (documents.qr_png(shipment.tracking_code), "image/png")
            shipment.forms.append(
                {
                    "object": "Form",
                    "id": form_id,
                    "mode": self.config.mode,
                    "form_type": form_type,
                    "form_url": f"{base_url}{form_path}",
                    "submitted_electronically": None,
                    "created_at": iso(now),
                    "updated_at": iso(now),
                }
            )
            shipment.updated_at = now
            return shipment

    def _tracking_code(self, carrier: str) -> str:
        """Carrier-like and unique: USPS 22 digits (`9400...`), UPS `1Z` + 16, FedEx 12."""
        self.serial += 1
        number, run = self.serial, self.run_digits
        if carrier == "USPS":
            return f"9400{run}{number:012d}"
        if carrier == "UPS":
            return f"1ZSIM{run[:3]}03{number:08d}"
        if carrier == "FedEx":
            return f"{run[:4]}{number:08d}"
        return f"EZ{run}{number:08d}"

    def refund(self, account: Account, shipment_id: str) -> Shipment:
        with self.lock:
            shipment = self.shipment_of(account, shipment_id)
            if shipment.postage_label is None or shipment.tracker_id is None:
                raise ApiError(
                    422,
                    "SHIPMENT.REFUND.UNAVAILABLE",
                    "This shipment has no postage label to refund: buy one first.",
                )
            if shipment.refund_status is not None:
                raise ApiError(
                    422,
                    "SHIPMENT.REFUND.UNAVAILABLE",
                    f"A refund of this label was already requested ({shipment.refund_status}).",
                )
            tracker = self.trackers[shipment.tracker_id]
            if tracker.status not in REFUNDABLE_STATUSES:
                raise ApiError(
                    422,
                    "SHIPMENT.REFUND.UNAVAILABLE",
                    f"The label has been used (tracking status {tracker.status}) and can no"
                    " longer be refunded.",
                )
            now = self.clock.now()
            shipment.refund_status = "submitted"
            shipment.refund_submitted_at = now
            shipment.updated_at = now
            tracker.stopped = True  # a voided label never reaches the carrier
            return shipment

    # Time and tracking ---------------------------------------------------------------------
    def advance(self, hours: float) -> list[EventRecord]:
        """Move the clock; apply every script step that fell due (all trackers, in time order)
        and complete submitted refunds."""
        with self.lock:
            self.clock.offset += timedelta(hours=hours)
            now = self.clock.now()
            moves: list[Move] = []
            for tracker in self.trackers.values():
                while not tracker.stopped and tracker.next_step < len(tracker.script):
                    step = tracker.script[tracker.next_step]
                    at = tracker.purchased_at + timedelta(hours=step.hours)
                    if at > now:
                        break
                    tracker.next_step += 1
                    moves.append(Move(at, tracker, step))
            moves.sort(key=lambda move: move.at)  # stable: a tracker's steps keep their order
            events = [event for move in moves if (event := self._move(move)) is not None]
            events.extend(self._complete_refunds(now))
            return events

    def _complete_refunds(self, now: datetime) -> list[EventRecord]:
        events = []
        for shipment in self.shipments.values():
            if shipment.refund_status != "submitted" or shipment.tracker_id is None:
                continue
            shipment.refund_status = "refunded"
            shipment.updated_at = now
            for fee in shipment.fees:
                fee["refunded"] = True
            account = self.account_by_id(shipment.account_id)
            assert account is not None
            account.refunds += shipment.charged
            refund = {
                "id": new_id("rfnd"),
                "object": "Refund",
                "mode": self.config.mode,
                "tracking_code": shipment.tracking_code,
                "confirmation_number": None,
                "status": "refunded",
                "carrier": (shipment.selected_rate or {}).get("carrier"),
                "shipment_id": shipment.id,
                "created_at": iso(now),
                "updated_at": iso(now),
            }
            events.append(
                self._event(account, "refund.successful", {}, refund, shipment.tracker_id, now)
            )
        return events

    def jump(
        self,
        tracker_id: str,
        status: str,
        status_detail: str | None = None,
        message: str | None = None,
        keep_script: bool = False,
    ) -> tuple[Tracker, EventRecord | None]:
        """Move a tracker to `status` now. Its script stops, unless `keep_script`."""
        check_status(status)
        with self.lock:
            tracker = self.trackers.get(tracker_id)
            if tracker is None:
                raise not_found()
            event = self._move(
                Move(self.clock.now(), tracker, ScriptStep(0, status, status_detail, message))
            )
            tracker.stopped = tracker.stopped or not keep_script
            return tracker, event

    def set_script(self, tracker_id: str | None, steps: list[ScriptStep]) -> Tracker | None:
        """Replace a tracker's script (it starts over: at the next clock advance every step
        that is due fires), or with no tracker, the script of trackers bought from now on."""
        for step in steps:
            check_status(step.status)
        ordered = sorted(steps, key=lambda step: step.hours)
        with self.lock:
            if tracker_id is None:
                self.tracker_script = ordered
                return None
            tracker = self.trackers.get(tracker_id)
            if tracker is None:
                raise not_found()
            tracker.script = ordered
            tracker.next_step = 0
            tracker.stopped = False
            return tracker

    def _move(self, move: Move) -> EventRecord | None:
        tracker, step = move.tracker, move.step
        if step.status == tracker.status:
            return None  # no change, nothing to tell
        previous = tracker.status
        detail = self._detail(tracker, step, move.at)
        tracker.status = step.status
        tracker.status_detail = detail["status_detail"]
        tracker.details.append(detail)
        tracker.updated_at = move.at
        shipment = self.shipments[tracker.shipment_id]
        shipment.updated_at = max(shipment.updated_at, move.at)
        account = self.account_by_id(tracker.account_id)
        assert account is not None
        return self._event(
            account,
            "tracker.updated",
            {"status": previous},
            self.tracker_json(tracker),
            tracker.id,
            move.at,
        )

    def _detail(self, tracker: Tracker, step: ScriptStep, at: datetime) -> JSON:
        status_detail, message = STATUS_TEXT[step.status]
        where = tracker.from_address if step.status in AT_SENDER else tracker.to_address
        return {
            "object": "TrackingDetail",
            "message": step.message or message,
            "description": "",
            "status": step.status,
            "status_detail": step.status_detail or status_detail,
            "datetime": iso(at),
            "source": tracker.carrier,
            "carrier_code": "",
            "tracking_location": {
                "object": "TrackingLocation",
                "city": where.get("city"),
                "state": where.get("state"),
                "country": where.get("country"),
                "zip": where.get("zip"),
            },
        }

    # Events --------------------------------------------------------------------------------
    def _event(
        self,
        account: Account,
        description: str,
        previous: JSON,
        result: JSON,
        chain: str,
        at: datetime,
    ) -> EventRecord:
        target = self.webhook_for(account)
        payload: JSON = {
            "id": new_id("evt"),
            "object": "Event",
            "mode": self.config.mode,
            "description": description,
            "previous_attributes": previous,
            "result": result,
            "status": "pending",
            # EasyPost lists the webhook URLs the Event is still to reach
            "pending_urls": [target.url] if target else [],
            "completed_urls": [],
            "user_id": account.id,
            "created_at": iso(at),
            "updated_at": iso(at),
        }
        record = EventRecord(
            id=payload["id"],
            account_id=account.id,
            description=description,
            chain=chain,
            payload=payload,
            body=orjson.dumps(payload),
        )
        self.events[record.id] = record
        return record

    # Views ---------------------------------------------------------------------------------
    def tracker_json(self, tracker: Tracker) -> JSON:
        with self.lock:
            shipment = self.shipments[tracker.shipment_id]
            return {
                "id": tracker.id,
                "object": "Tracker",
                "mode": self.config.mode,
                "tracking_code": tracker.tracking_code,
                "status": tracker.status,
                "status_detail": tracker.status_detail,
                "signed_by": None,
                "weight": shipment.parcel["weight"],
                "est_delivery_date": iso(tracker.est_delivery_date),
                "shipment_id": tracker.shipment_id,
                "carrier": tracker.carrier,
                "tracking_details": [dict(detail) for detail in tracker.details],
                "carrier_detail": {
                    "object": "CarrierDetail",
                    "service": tracker.service,
                    "container_type": None,
                    "origin_location": _place(tracker.from_address),
                    "destination_location": _place(tracker.to_address),
                },
                "public_url": tracker.public_url,
                "fees": [],
                "created_at": iso(tracker.purchased_at),
                "updated_at": iso(tracker.updated_at or tracker.purchased_at),
            }

    def tracker_by_code(self, tracking_code: str) -> Tracker | None:
        with self.lock:
            return next(
                (t for t in self.trackers.values() if t.tracking_code == tracking_code), None
            )

    def shipment_json(self, shipment: Shipment) -> JSON:
        with self.lock:
            tracker = self.trackers.get(shipment.tracker_id or "")
            moved = tracker is not None and tracker.status != "pre_transit"
            return {
                "id": shipment.id,
                "object": "Shipment",
                "mode": self.config.mode,
                "reference": shipment.reference,
                "is_return": shipment.is_return,
                # "unknown" until the carrier has the parcel; then the tracker's status
                "status": tracker.status if tracker is not None and moved else "unknown",
                "to_address": shipment.to_address,
                "from_address": shipment.from_address,
                "return_address": shipment.from_address,
                "buyer_address": shipment.to_address,
                "parcel": shipment.parcel,
                "options": shipment.options,
                "customs_info": None,
                "insurance": None,
                "rates": shipment.rates,
                "messages": [],
                "selected_rate": shipment.selected_rate,
                "postage_label": shipment.postage_label,
                "tracking_code": shipment.tracking_code,
                "tracker": None if tracker is None else self.tracker_json(tracker),
                "forms": shipment.forms,
                "fees": shipment.fees,
                "refund_status": shipment.refund_status,
                "scan_form": None,
                "batch_id": None,
                "batch_status": None,
                "batch_message": None,
                "created_at": iso(shipment.created_at),
                "updated_at": iso(shipment.updated_at),
            }

    def shipment_summary(self, shipment: Shipment) -> JSON:
        """What the control API shows of a shipment: the purchase bookkeeping."""
        with self.lock:
            tracker = self.trackers.get(shipment.tracker_id or "")
            rate = shipment.selected_rate
            return {
                "id": shipment.id,
                "account_id": shipment.account_id,
                "reference": shipment.reference,
                "is_return": shipment.is_return,
                "purchases": shipment.purchases,
                "buy_attempts": shipment.buy_attempts,
                "charged": money(shipment.charged),
                "refund_status": shipment.refund_status,
                "selected_rate": None
                if rate is None
                else {"carrier": rate["carrier"], "service": rate["service"], "rate": rate["rate"]},
                "tracking_code": shipment.tracking_code,
                "tracker_id": shipment.tracker_id,
                "tracker_status": None if tracker is None else tracker.status,
                "created_at": iso(shipment.created_at),
            }

    def account_summary(self, account: Account) -> JSON:
        with self.lock:
            target = self.webhook_for(account)
            return {
                "id": account.id,
                "api_key": account.api_key,
                "active": account.active,
                "charges_total": money(account.charges),
                "refunds_total": money(account.refunds),
                "net_total": money(account.charges - account.refunds),
                "purchases": account.purchases,
                "shipments": sum(1 for s in self.shipments.values() if s.account_id == account.id),
                "webhook": None if target is None else target.public(),
                "faults": account.faults.public(),
                "webhook_faults": account.webhook_faults.public(),
            }


def label_route(shipment: Shipment) -> tuple[JSON, JSON]:
    """Where the parcel really goes: (ship-from, ship-to). A return shipment is created with
    the outbound shipment's addresses (`from_address` the shop, `to_address` the customer) and
    EasyPost switches them: its label ships from the customer to the shop."""
    if shipment.is_return:
        return shipment.to_address, shipment.from_address
    return shipment.from_address, shipment.to_address


def _place(address: JSON) -> str:
    return " ".join(str(address[name]) for name in ("city", "state", "zip") if address.get(name))


def check_status(status: str) -> None:
    if status not in TRACKER_STATUSES:
        raise ApiError(
            400,
            "PARAMETER.INVALID",
            f"status must be one of {', '.join(TRACKER_STATUSES)}",
            [{"field": "status", "message": "is not a tracker status"}],
        )
