"""EasyPost's REST API (`/v2`): shipments, rates, buying and voiding labels, trackers; and the
verification of its `tracker.updated` webhooks.

Only what return labels need. Amounts come back as decimal strings ("7.58") and stay `Decimal`.
Every failure is a `CarrierError`; `transient` tells the outbox whether trying again later can
help (5xx, timeouts, connection failures, rate limits) or not (our request refused).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

# One call; the label outbox retries on its own schedule, so a call gives up rather than wait.
CALL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SIGNATURE_PREFIX = "hmac-sha256-hex="
# Carriers that give a QR code for box-free drop-off at a counter (EasyPost's `label_qr_code`
# form, made after the purchase; USPS's Label Broker): a drop-off return is offered only theirs.
QR_CODE_CARRIERS = frozenset({"USPS"})
POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"


class CarrierError(Exception):
    """A call to the carrier failed. `code`: the carrier's error code when it gave one."""

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    street1: str
    city: str
    zip: str
    country: str
    street2: str | None = None
    state: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None

    def as_json(self) -> dict[str, str]:
        fields = {
            "name": self.name,
            "company": self.company,
            "street1": self.street1,
            "street2": self.street2,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
            "phone": self.phone,
            "email": self.email,
        }
        return {key: value for key, value in fields.items() if value}


@dataclass(frozen=True, slots=True)
class Rate:
    id: str
    carrier: str
    service: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Label:
    """A bought label, as the shipment shows it."""

    carrier: str
    service: str
    cost: Decimal
    currency: str
    tracking_number: str
    label_url: str
    tracker_id: str | None
    tracking_url: str | None
    qr_code_url: str | None


@dataclass(frozen=True, slots=True)
class Shipment:
    id: str
    rates: tuple[Rate, ...]
    label: Label | None  # None until bought
    refund_status: str | None


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise CarrierError(
            f"the carrier sent an amount that is not one: {value!r}", transient=False
        ) from exc


def _rate(node: dict[str, Any]) -> Rate:
    return Rate(
        id=str(node["id"]),
        carrier=str(node.get("carrier") or ""),
        service=str(node.get("service") or ""),
        amount=_decimal(node.get("rate")),
        currency=str(node.get("currency") or "USD"),
    )


def _label(node: dict[str, Any]) -> Label | None:
    postage = node.get("postage_label") or None
    selected = node.get("selected_rate") or None
    if not postage or not selected or not node.get("tracking_code"):
        return None
    tracker = node.get("tracker") or {}
    qr_code = next(
        (
            str(form["form_url"])
            for form in node.get("forms") or []
            if form.get("form_type") == "label_qr_code" and form.get("form_url")
        ),
        None,
    )
    rate = _rate(selected)
    return Label(
        carrier=rate.carrier,
        service=rate.service,
        cost=rate.amount,
        currency=rate.currency,
        tracking_number=str(node["tracking_code"]),
        label_url=str(postage.get("label_pdf_url") or postage.get("label_url") or ""),
        tracker_id=str(tracker["id"]) if tracker.get("id") else None,
        tracking_url=str(tracker["public_url"]) if tracker.get("public_url") else None,
        qr_code_url=qr_code,
    )


def shipment_from_json(node: dict[str, Any]) -> Shipment:
    try:
        return Shipment(
            id=str(node["id"]),
            rates=tuple(_rate(rate) for rate in node.get("rates") or []),
            label=_label(node),
            refund_status=node.get("refund_status"),
        )
    except (KeyError, TypeError) as exc:
        raise CarrierError(
            f"the carrier's shipment is not as expected: {exc}", transient=True
        ) from exc


class EasyPostClient:
    """Calls on one shared `httpx.AsyncClient`; the API key is the HTTP Basic user name."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(api_key, "")

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method,
                f"{self._base_url}{path}",
                json=body,
                auth=self._auth,
                timeout=CALL_TIMEOUT,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            # A timeout may come after the carrier acted (a label bought): the caller reads the
            # shipment back before trying again.
            raise CarrierError(
                f"the carrier did not answer: {type(exc).__name__}", transient=True
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        error = (data or {}).get("error") if isinstance(data, dict) else None
        code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else None
        message = (
            str(error.get("message")) if isinstance(error, dict) and error.get("message") else ""
        )
        status = response.status_code
        # 5xx, a timeout at a proxy and rate limits pass; a refusal of our request does not.
        transient = status >= 500 or status in (408, 429)
        raise CarrierError(
            f"the carrier answered {status}"
            + (f" {code}" if code else "")
            + (f": {message}" if message else ""),
            transient=transient,
            code=code,
        )

    async def create_return_shipment(
        self, *, customer: Address, shop: Address, weight_oz: Decimal, reference: str
    ) -> Shipment:
        """A return shipment (the customer sends to the shop) with its rates; nothing is bought.
        EasyPost takes a return's addresses as those of the original shipment (from the shop to
        the customer) and switches them itself (`is_return`)."""
        body = {
            "shipment": {
                "from_address": shop.as_json(),
                "to_address": customer.as_json(),
                "parcel": {"weight": float(weight_oz)},
                "is_return": True,
                "reference": reference,
                # A PDF to print (EasyPost's default is a PNG image).
                "options": {"label_format": "PDF"},
            }
        }
        return shipment_from_json(await self._call("POST", "/shipments", body))

    async def retrieve_shipment(self, shipment_id: str) -> Shipment:
        return shipment_from_json(await self._call("GET", f"/shipments/{shipment_id}"))

    async def buy(self, shipment_id: str, rate_id: str) -> Shipment:
        """Buy the label at `rate_id`. Bought already (an earlier answer lost): the carrier
        refuses with POSTAGE_EXISTS, and the shipment as it is is returned instead."""
        try:
            data = await self._call(
                "POST", f"/shipments/{shipment_id}/buy", {"rate": {"id": rate_id}}
            )
        except CarrierError as exc:
            if exc.code == POSTAGE_EXISTS:
                return await self.retrieve_shipment(shipment_id)
            raise
        return shipment_from_json(data)

    async def qr_code(self, shipment_id: str) -> Shipment:
        """Ask for the bought label's QR code (box-free drop-off): EasyPost's `label_qr_code`
        form, made after the purchase; the shipment with it in `forms`."""
        body = {"form": {"type": "label_qr_code"}}
        return shipment_from_json(await self._call("POST", f"/shipments/{shipment_id}/forms", body))

    async def void(self, shipment_id: str) -> Shipment:
        """Ask for the unused label's refund (EasyPost's `refund`)."""
        return shipment_from_json(await self._call("POST", f"/shipments/{shipment_id}/refund"))


def cheapest_rate(
    rates: tuple[Rate, ...], allowed: list[tuple[str, str | None]], *, drop_off: bool
) -> Rate | None:
    """The cheapest rate among the allowed (carrier, service or None for any) pairs; any rate
    when none are listed. Drop-off: only carriers that give a QR code. Ties: by carrier, then
    service, so the choice is the same every time."""

    def allowed_rate(rate: Rate) -> bool:
        if drop_off and rate.carrier.upper() not in QR_CODE_CARRIERS:
            return False
        if not allowed:
            return True
        return any(
            rate.carrier.lower() == carrier.lower()
            and (service is None or rate.service.lower() == service.lower())
            for carrier, service in allowed
        )

    candidates = [rate for rate in rates if allowed_rate(rate)]
    if not candidates:
        return None
    return min(candidates, key=lambda rate: (rate.amount, rate.carrier, rate.service))


def webhook_signature(body: bytes, secret: str) -> str:
    """The `X-Hmac-Signature` value EasyPost sends for `body`: the secret NFKD-normalised."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_webhook(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of EasyPost's signature over the raw body; no secret: refused."""
    if not secret or not header:
        return False
    return hmac.compare_digest(webhook_signature(body, secret).encode(), header.strip().encode())
