"""The status page's parcel: `returnStatus(token)` shows a label return's shipment as its
customer may see it (the label to print, the drop-off QR code, tracking; never the cost, the
carrier's error or its ids), null for a return the customer ships themselves; the query
portal.js sends is the one the API answers, and every shipment status has its words."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.clock import utcnow
from app.models import Order, Return
from app.models.email_notification import LOCALES
from app.models.return_policy import ReturnMethod
from app.models.return_request import (
    ReturnShipment,
    ReturnStatus,
    ShipmentStatus,
    TrackingUpdate,
)
from app.services.portal.page import catalog
from app.services.portal.status_links import status_token
from tests.conftest import TEST_API_SECRET
from tests.factories import graphql, make_order, make_return, make_tenant
from tests.portal.helpers import proxy_query

PORTAL_JS = Path(__file__).parents[2] / "app" / "portal" / "static" / "portal.js"
STATUS = """
query ($token: String!) { returnStatus(token: $token) {
  reference returnMethod
  shipment { status carrier service trackingNumber trackingUrl labelUrl qrCodeUrl
             tracking { status at } } } }
"""
LABEL_URL = "https://carrier.example/files/postage_label/lbl_1.pdf"
QR_URL = "https://carrier.example/files/qr/lbl_1.png"
TRACKING_URL = "https://carrier.example/track/9400111899223197428490"
CARRIER_ERROR = "Carrier refused: account acct_93 over its limit"
SECRET_IDS = ("shp_secret_7", "trk_secret_7", "gid://shopify/ReverseDelivery/77")


def label_shipment(status: ShipmentStatus, *, qr: bool = False, **extra: Any) -> ReturnShipment:
    """A shipment in `status`, with the carrier's label, QR code (`qr`: box-free drop-off) and
    tracking once bought, and what only the merchant may see (cost, ids, the carrier's words)."""
    now = utcnow()
    bought = status not in (
        ShipmentStatus.AWAITING_REQUEST,
        ShipmentStatus.LABEL_PENDING,
        ShipmentStatus.LABEL_FAILED,
    )
    fields: dict[str, Any] = {
        "status": status,
        "drop_off": qr,
        "cost": Decimal("7.45"),
        "cost_currency": "USD",
        "carrier_shipment_id": SECRET_IDS[0],
        "tracker_id": SECRET_IDS[1],
        "shopify_reverse_delivery_id": SECRET_IDS[2],
        "attempts": 2,
    }
    if bought:
        fields.update(
            carrier="USPS",
            service="GroundAdvantage",
            tracking_number="9400111899223197428490",
            tracking_url=TRACKING_URL,
            label_url=LABEL_URL,
            qr_code_url=QR_URL if qr else None,
            purchased_at=now - timedelta(hours=2),
            tracking=[
                TrackingUpdate(
                    status=ShipmentStatus.LABEL_CREATED,
                    at=now - timedelta(hours=2),
                    message="Shipping label created by acct_93",
                ),
                TrackingUpdate(
                    status=ShipmentStatus.IN_TRANSIT, at=now - timedelta(hours=1), message="Hub"
                ),
            ],
        )
    return ReturnShipment(**{**fields, **extra})


async def label_return(
    order: Order,
    method: ReturnMethod,
    shipment: ReturnShipment | None,
    status: ReturnStatus = ReturnStatus.APPROVED,
) -> tuple[Return, str]:
    """A return of one unit of the order's first line with this method and shipment (written
    as it is once approved, by default), and its status token."""
    record = await make_return(order, status=status)
    record.return_method = method
    record.shipment = shipment
    await record.save()
    return record, status_token(TEST_API_SECRET, order.tenant_id, str(record.id))


async def _status(client: httpx.AsyncClient, tenant_id: str, token: str) -> tuple[Any, str]:
    response = await client.post(
        "/graphql",
        json={"query": STATUS, "variables": {"token": token}},
        headers={"X-Tenant-Id": tenant_id},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["returnStatus"], response.text


def _leaks(text: str) -> list[str]:
    secrets = [CARRIER_ERROR, "7.45", "acct_93", "Hub", *SECRET_IDS]
    return [secret for secret in secrets if secret in text]


async def test_a_bought_label_shows_what_the_customer_needs_and_nothing_else(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("parcel-shop")
    order = await make_order(tenant.id, 1001)
    _record, token = await label_return(
        order, ReturnMethod.PREPAID_LABEL, label_shipment(ShipmentStatus.IN_TRANSIT)
    )
    found, text = await _status(client, tenant.id, token)
    shipment = found["shipment"]
    assert {key: value for key, value in shipment.items() if key != "tracking"} == {
        "status": "IN_TRANSIT",
        "carrier": "USPS",
        "service": "GroundAdvantage",
        "trackingNumber": "9400111899223197428490",
        "trackingUrl": TRACKING_URL,
        "labelUrl": LABEL_URL,
        "qrCodeUrl": None,
    }
    assert [update["status"] for update in shipment["tracking"]] == ["LABEL_CREATED", "IN_TRANSIT"]
    assert all(update["at"] for update in shipment["tracking"])
    assert _leaks(text) == []

    # Through Shopify's app proxy (the storefront's status page): the same answer.
    proxied = await client.post(
        "/portal/proxy/graphql?" + proxy_query(tenant.shop_domain),
        json={"query": STATUS, "variables": {"token": token}},
    )
    assert proxied.json()["data"]["returnStatus"]["shipment"] == shipment

    # The customer-facing type has no cost, error or ids to ask for at all.
    for field in ("cost { amount }", "error", "attempts", "carrierShipmentId", "payer"):
        asked = await graphql(
            client,
            "query ($t: String!) { returnStatus(token: $t) { shipment { " + field + " } } }",
            {"t": token},
            {"X-Tenant-Id": tenant.id},
        )
        assert asked.get("errors"), field
        assert "data" not in asked or asked["data"] is None, field


async def test_drop_off_shows_its_qr_code_and_other_methods_show_no_shipment(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("qr-shop")
    order = await make_order(tenant.id, 1002)
    _record, token = await label_return(
        order, ReturnMethod.DROP_OFF, label_shipment(ShipmentStatus.LABEL_CREATED, qr=True)
    )
    found, text = await _status(client, tenant.id, token)
    assert found["returnMethod"] == "DROP_OFF"
    assert (found["shipment"]["qrCodeUrl"], found["shipment"]["labelUrl"]) == (QR_URL, LABEL_URL)
    assert _leaks(text) == []

    _record, own_way = await label_return(order, ReturnMethod.CUSTOMER_SHIPS, None)
    found, _text = await _status(client, tenant.id, own_way)
    assert found == {
        "reference": found["reference"],
        "returnMethod": "CUSTOMER_SHIPS",
        "shipment": None,
    }


async def test_a_label_being_prepared_failed_or_voided_gives_nothing_to_print(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("pending-shop")
    order = await make_order(tenant.id, 1003)
    cases = {
        "pending": (label_shipment(ShipmentStatus.LABEL_PENDING), "LABEL_PENDING"),
        "awaiting": (label_shipment(ShipmentStatus.AWAITING_REQUEST), "AWAITING_REQUEST"),
        # The carrier's words stay with the merchant: the customer sees the status only.
        "failed": (
            label_shipment(ShipmentStatus.LABEL_FAILED, error=CARRIER_ERROR),
            "LABEL_FAILED",
        ),
        # Canceled: the label is being given back, then is; it can no longer be printed.
        "voiding": (
            label_shipment(ShipmentStatus.LABEL_CREATED, qr=True, void_due_at=utcnow()),
            "LABEL_CREATED",
        ),
        "voided": (label_shipment(ShipmentStatus.VOIDED, qr=True, voided_at=utcnow()), "VOIDED"),
        # Only web addresses are ever linked.
        "hostile": (
            label_shipment(
                ShipmentStatus.LABEL_CREATED,
                qr=True,
                label_url="javascript:alert(1)",
                qr_code_url="data:image/png;base64,AAAA",
                tracking_url="javascript:alert(2)",
            ),
            "LABEL_CREATED",
        ),
    }
    for name, (shipment, status) in cases.items():
        _record, token = await label_return(order, ReturnMethod.DROP_OFF, shipment)
        found, text = await _status(client, tenant.id, token)
        shown = found["shipment"]
        assert shown["status"] == status, name
        assert (shown["labelUrl"], shown["qrCodeUrl"]) == (None, None), name
        assert _leaks(text) == [], name
        assert "javascript:" not in text and "data:image" not in text, name
        if name in ("pending", "awaiting", "failed"):
            assert shown["trackingUrl"] is None and shown["tracking"] == [], name


def test_the_status_page_asks_what_the_api_answers_and_has_words_for_every_status() -> None:
    script = PORTAL_JS.read_text(encoding="utf-8")
    query = re.search(r"const STATUS = `(.*?)`;", script, re.S)
    assert query is not None
    asked = " ".join(query.group(1).split())
    assert (
        "shipment { status carrier service trackingNumber trackingUrl labelUrl qrCodeUrl "
        "tracking { status at } }" in asked
    )
    used = set(re.findall(r"""["'](shipment\.\w+)["']""", script))  # every message it names
    assert {
        "shipment.printLabel",
        "shipment.preparing",
        "shipment.afterApproval",
        "shipment.qrHelp",
        "shipment.qrHelpPrinted",
        "shipment.track",
    } <= used
    for locale in LOCALES:
        messages = catalog(locale)
        assert used <= messages.keys(), locale
        for status in ShipmentStatus:
            assert f"shipmentStatus.{status.name}" in messages, (locale, status)
        for key in ("shipment.qrHelp", "shipment.qrHelpPrinted"):
            assert "{carrier}" in messages[key], (locale, key)
    # The QR code is linked, not embedded: the page's CSP shows no image of the carrier's host.
    assert "qrCodeUrl" in script and not re.search(r'h\(\s*"img"[^)]*qrCode', script)


async def test_the_query_portal_js_sends_is_answered(client: httpx.AsyncClient, db: object) -> None:
    script = PORTAL_JS.read_text(encoding="utf-8")
    query = re.search(r"const STATUS = `(.*?)`;", script, re.S)
    assert query is not None
    tenant = await make_tenant("js-shop")
    order = await make_order(tenant.id, 1004)
    _record, token = await label_return(
        order, ReturnMethod.DROP_OFF, label_shipment(ShipmentStatus.LABEL_CREATED, qr=True)
    )
    body = await graphql(client, query.group(1), {"token": token}, {"X-Tenant-Id": tenant.id})
    assert "errors" not in body, body
    shipment = body["data"]["returnStatus"]["shipment"]
    assert shipment["labelUrl"] == LABEL_URL and shipment["qrCodeUrl"] == QR_URL
    assert _leaks(orjson.dumps(body).decode()) == []
