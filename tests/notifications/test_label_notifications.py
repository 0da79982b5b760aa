"""A bought return label, told: the `return.label_created` event the label's own write queues on
the return (`event_update(label_event(now))`) becomes the customer's email with the label (sent
through a real SMTP server on loopback, MIME parsed), the staff's if they asked, and a signed
delivery to the endpoints subscribed to RETURN_LABEL_CREATED only. The approved email says a
label will follow (or carries it), the received one the parcel's tracking; a shop's own words
use the label's variables; a label voided meanwhile is not emailed."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.models import EmailNotification, Return, WebhookDelivery
from app.models.return_policy import ReturnMethod
from app.models.return_request import ReturnEvent, ReturnEventType, ReturnStatus, ShipmentStatus
from app.services.notifications.delivery import DeliveryWorker
from app.services.notifications.dispatch import ReturnEventDispatcher, message_body
from app.services.notifications.email import EmailSender
from app.services.portal.status_links import status_links
from app.services.returns.events import event_update, label_event, new_event
from tests.conftest import make_settings
from tests.factories import graphql, make_order, make_tenant, merchant_headers
from tests.notifications.conftest import MailServer
from tests.notifications.test_emails import QUICK as QUICK_EMAILS
from tests.notifications.test_emails import SETTINGS, TEMPLATE, _parts
from tests.notifications.test_merchant_webhooks import QUICK as QUICK_HOOKS
from tests.notifications.test_merchant_webhooks import _endpoint
from tests.portal.test_status_shipment import (
    LABEL_URL,
    QR_URL,
    TRACKING_URL,
    label_return,
    label_shipment,
)
from tests.simulator_fixtures import WebhookReceiver

CUSTOMER = "ada@example.com"
TRACKING_NUMBER = "9400111899223197428490"
PREVIEW = """
query($id: ID!) {
  previewNotification(returnId: $id, topic: RETURN_LABEL_CREATED) { subject text html }
}"""


@pytest.fixture
def settings(mongo_uri: str, mail_server: MailServer) -> Settings:
    return make_settings(
        mongo_uri,
        smtp_url=f"smtp://127.0.0.1:{mail_server.port}",
        mail_from="Returns <returns@labels.example>",
    )


async def _drain(settings: Settings) -> None:
    """Dispatch every due event, then send every due delivery and email, as the runner does."""
    dispatcher = ReturnEventDispatcher(
        "test:events",
        make_return_renderer(settings),
        emails=True,
        status_url=status_links(settings),
    )
    hooks = DeliveryWorker("test:webhooks", settings, QUICK_HOOKS)
    emails = EmailSender("test:emails", settings, QUICK_EMAILS)
    while await dispatcher.run_once() or await hooks.run_once() or await emails.run_once():
        pass


async def _queue(record: Return, event: ReturnEvent) -> None:
    """The event pushed as the label worker's (or a transition's) own write pushes it."""
    event_set, event_push = event_update(event)
    await Return.get_pymongo_collection().update_one(
        {"_id": record.id, "tenant_id": record.tenant_id},
        {"$set": event_set, "$push": event_push},
    )


async def _call(
    client: httpx.AsyncClient, document: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    body = await graphql(client, document, variables, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


def _read(message: EmailMessage) -> tuple[str, str]:
    text, html = _parts(message)
    return text.replace("\r", ""), html


async def test_a_bought_label_emails_its_customer_and_reaches_subscribed_endpoints_only(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    mail_server: MailServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    tenant = await make_tenant("labelled")
    headers = await merchant_headers(tenant.id)
    # A new shop emails its customers about labels; staff when they ask for it.
    configured = await _call(
        client,
        SETTINGS,
        headers,
        input={"staffEmail": "desk@labelled.example", "staffEvents": ["RETURN_LABEL_CREATED"]},
    )
    assert configured["userErrors"] == []
    assert "RETURN_LABEL_CREATED" in configured["notificationSettings"]["customerEvents"]
    subscribed = webhook_receiver.new_path(200)
    made = await _endpoint(
        client, headers, webhook_receiver.url(subscribed), ["RETURN_LABEL_CREATED"]
    )
    assert made["webhookEndpoint"]["topics"] == ["RETURN_LABEL_CREATED"]
    secret = made["secret"]
    others = webhook_receiver.new_path(200)
    await _endpoint(
        client, headers, webhook_receiver.url(others), ["RETURN_APPROVED", "RETURN_RECEIVED"]
    )

    order = await make_order(tenant.id, 1001, email=CUSTOMER)
    record, _token = await label_return(
        order, ReturnMethod.PREPAID_LABEL, label_shipment(ShipmentStatus.LABEL_CREATED)
    )
    event = label_event(utcnow())
    await _queue(record, event)
    await _drain(settings)

    [mail] = mail_server.to(CUSTOMER)
    assert mail["Subject"] == "Your return label for order #1001 is ready"
    text, html = _read(mail)
    assert text.startswith("Your return label is ready\n")
    assert f"Print your label (PDF) and stick it on the parcel: {LABEL_URL}\n" in text
    assert f"Track your parcel: {TRACKING_URL}\n" in text
    assert "Carrier: USPS (GroundAdvantage)\n" in text
    assert f"Tracking number: {TRACKING_NUMBER}\n" in text
    assert f'<a href="{LABEL_URL}"' in html and f'<a href="{TRACKING_URL}"' in html
    assert "Follow your return: http://testserver/portal/" in text
    # No QR code for a label to print, and nothing of what the label cost. (Its wording, not
    # "QR" alone: the portal link's random token may hold those two letters.)
    for part in (text, html):
        assert "QR code" not in part and "Show this code" not in part
        assert "/qr/" not in part and "7.45" not in part
    [staff] = mail_server.to("desk@labelled.example")
    assert staff["Subject"] == "Return #1001: label created"
    assert "label_created" not in _read(staff)[0]

    [message] = webhook_receiver.at(subscribed)
    payload: dict[str, Any] = Webhook(secret).verify(message.body, message.headers)
    assert payload["type"] == "return.label_created"
    assert message.headers["webhook-id"] == event.id == payload["data"]["eventId"]
    # Not a change of status: the return's own, as it was when handed over.
    assert payload["data"]["status"] == "APPROVED"
    shown = payload["data"]["return"]["shipment"]
    assert (shown["status"], shown["labelUrl"], shown["trackingNumber"]) == (
        "LABEL_CREATED",
        LABEL_URL,
        TRACKING_NUMBER,
    )
    assert webhook_receiver.at(others) == []
    [delivery] = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert delivery.event_type is ReturnEventType.LABEL_CREATED
    log = await graphql(
        client, "{ webhookDeliveries(first: 5) { nodes { topic status } } }", {}, headers
    )
    assert log["data"]["webhookDeliveries"]["nodes"] == [
        {"topic": "RETURN_LABEL_CREATED", "status": "SUCCEEDED"}
    ]
    stored = await Return.find_one({"_id": record.id})
    assert stored is not None and stored.pending_events == [] and stored.events_due_at is None


async def test_a_drop_off_label_email_carries_its_qr_code_in_the_shops_language(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("qr-mail")
    headers = await merchant_headers(tenant.id)
    assert (await _call(client, SETTINGS, headers, input={"locale": "fr"}))["userErrors"] == []
    order = await make_order(tenant.id, 1002, email=CUSTOMER)
    record, _token = await label_return(
        order, ReturnMethod.DROP_OFF, label_shipment(ShipmentStatus.LABEL_CREATED, qr=True)
    )
    await _queue(record, label_event(utcnow()))
    await _drain(settings)

    [mail] = mail_server.to(CUSTOMER)
    assert mail["Subject"] == "Votre étiquette de retour pour la commande #1002 est prête"
    assert mail["Content-Language"] == "fr"
    text, html = _read(mail)
    assert f"Imprimez votre étiquette (PDF) et collez-la sur le colis: {LABEL_URL}\n" in text
    qr = "Ni imprimante ni carton ? Présentez ce code à un comptoir USPS"
    assert f"{qr}: {QR_URL}\n" in text
    assert f'{qr}: <a href="{QR_URL}">Ouvrir le code QR</a>' in html
    assert f'<a href="{TRACKING_URL}">Suivre votre colis</a>' in html


async def test_the_approved_email_says_a_label_will_follow_or_carries_it_and_received_tracks(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("approving")
    follows = "Your prepaid return label will follow in a separate email."
    cases = [
        # (method, shipment, with a QR code, status): the customer of order 1101, 1102, ...
        (ReturnMethod.PREPAID_LABEL, ShipmentStatus.LABEL_PENDING, False, ReturnStatus.APPROVED),
        (ReturnMethod.DROP_OFF, ShipmentStatus.LABEL_CREATED, True, ReturnStatus.APPROVED),
        (ReturnMethod.CUSTOMER_SHIPS, None, False, ReturnStatus.APPROVED),
        (ReturnMethod.PREPAID_LABEL, ShipmentStatus.DELIVERED, False, ReturnStatus.RECEIVED),
        # Some carriers give a label to print a QR code too: printed at their counter.
        (ReturnMethod.PREPAID_LABEL, ShipmentStatus.LABEL_CREATED, True, ReturnStatus.APPROVED),
    ]
    for number, (method, shipment_status, qr, status) in enumerate(cases, start=1101):
        order = await make_order(tenant.id, number, email=f"c{number}@example.com")
        drop_off = method is ReturnMethod.DROP_OFF
        shipment = (
            label_shipment(shipment_status, qr=qr, drop_off=drop_off) if shipment_status else None
        )
        record, _token = await label_return(order, method, shipment, status)
        await _queue(record, new_event(status, utcnow()))
    await _drain(settings)

    def email_of(number: int) -> tuple[str, str, str]:
        [mail] = mail_server.to(f"c{number}@example.com")
        return (str(mail["Subject"]), *_read(mail))

    subject, text, html = email_of(1101)  # label not bought yet: it will follow
    assert subject == "Your return for order #1101 is approved"
    assert follows in text and f"<p>{follows}</p>" in html
    assert LABEL_URL not in text + html and TRACKING_URL not in text + html

    _subject, text, html = email_of(1102)  # bought before the approval's email: included
    assert follows not in text
    assert f"Print your label (PDF) and stick it on the parcel: {LABEL_URL}\n" in text
    assert f"No printer or box? Show this code at a USPS counter: {QR_URL}\n" in text
    assert f'<a href="{QR_URL}">Open the QR code</a>' in html

    _subject, text, html = email_of(1103)  # the customer ships: no word of a label
    assert "label" not in text.lower() and "label" not in html.lower()

    subject, text, html = email_of(1104)  # received: the parcel's tracking, no label to print
    assert subject == "We received the items of order #1104"
    assert f"Track your parcel: {TRACKING_URL}\n" in text and f'href="{TRACKING_URL}"' in html
    assert LABEL_URL not in text + html

    _subject, text, html = email_of(1105)  # a label to print, or to have printed
    printed = "No printer? Show this code at a USPS counter to have the label printed"
    assert f"{printed}: {QR_URL}\n" in text and f'{printed}: <a href="{QR_URL}">' in html
    assert "or box" not in text


async def test_a_label_voided_meanwhile_or_switched_off_is_not_emailed(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("voiding")
    order = await make_order(tenant.id, 1201, email="canceled@example.com")
    # The return was canceled before the dispatcher ran: its label is being given back.
    voiding = label_shipment(ShipmentStatus.LABEL_CREATED, void_due_at=utcnow())
    record, _token = await label_return(order, ReturnMethod.PREPAID_LABEL, voiding)
    await _queue(record, label_event(utcnow()))

    quiet = await make_tenant("no-label-mail")
    headers = await merchant_headers(quiet.id)
    switched = await _call(client, SETTINGS, headers, input={"customerEvents": ["RETURN_APPROVED"]})
    assert switched["notificationSettings"]["customerEvents"] == ["RETURN_APPROVED"]
    other = await make_order(quiet.id, 1202, email="quiet@example.com")
    bought = label_shipment(ShipmentStatus.LABEL_CREATED)
    quiet_record, _token = await label_return(other, ReturnMethod.PREPAID_LABEL, bought)
    await _queue(quiet_record, label_event(utcnow()))
    await _drain(settings)

    assert mail_server.received == []
    assert await EmailNotification.find({}).count() == 0
    for done in (record, quiet_record):
        stored = await Return.find_one({"_id": done.id})
        assert stored is not None and stored.pending_events == []


async def test_a_shops_own_words_for_the_label_email_use_the_labels_variables(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("label-words")
    headers = await merchant_headers(tenant.id)

    async def save(subject: str | None, message: str | None) -> dict[str, Any]:
        own = {"topic": "RETURN_LABEL_CREATED", "recipient": "CUSTOMER"}
        return await _call(
            client, TEMPLATE, headers, input={**own, "subject": subject, "message": message}
        )

    refused = await save(None, "It cost {{ cost }}")
    assert refused["userErrors"][0]["field"] == ["message"]
    assert "Unknown variable cost" in refused["userErrors"][0]["message"]
    saved = await save(
        "{{ carrier }} label for {{ order }}",
        "Print {{ label_url }}{% if qr_code_url %} or show {{ qr_code_url }}{% endif %}; "
        "track {{ tracking_number }} at {{ tracking_url }}.",
    )
    assert saved["userErrors"] == []
    assert saved["notificationSettings"]["templates"][0]["topic"] == "RETURN_LABEL_CREATED"

    order = await make_order(tenant.id, 1301, email=CUSTOMER)
    record, _token = await label_return(
        order, ReturnMethod.DROP_OFF, label_shipment(ShipmentStatus.LABEL_CREATED, qr=True)
    )
    words = f"Print {LABEL_URL} or show {QR_URL}; track {TRACKING_NUMBER} at {TRACKING_URL}."
    preview = await _call(client, PREVIEW, headers, id=str(record.id))
    assert preview["subject"] == "USPS label for #1301"
    assert words in preview["text"] and words in preview["html"]
    assert mail_server.received == []  # a preview sends nothing

    await _queue(record, label_event(utcnow()))
    await _drain(settings)
    [mail] = mail_server.to(CUSTOMER)
    assert mail["Subject"] == "USPS label for #1301"
    assert words in _read(mail)[0]


def test_the_label_events_body_shows_the_returns_status() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    event = ReturnEvent(id="evt_label", type=ReturnEventType.LABEL_CREATED, at=at)
    for current, shown in (
        (ReturnStatus.APPROVED, "APPROVED"),
        (ReturnStatus.RECEIVED, "RECEIVED"),
        (None, "APPROVED"),
    ):
        assert orjson.loads(message_body(event, {"id": "r"}, current)) == {
            "type": "return.label_created",
            "timestamp": "2026-03-04T05:06:07Z",
            "data": {"eventId": "evt_label", "status": shown, "return": {"id": "r"}},
        }
    # A status event keeps its own status, whatever the return shows by then.
    approved = ReturnEvent(id="evt_a", type=ReturnEventType.APPROVED, at=at)
    body = orjson.loads(message_body(approved, {"id": "r"}, ReturnStatus.RESOLVED))
    assert body["data"]["status"] == "APPROVED"
