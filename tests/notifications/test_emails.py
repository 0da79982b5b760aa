"""Emails about returns end to end, through a real SMTP server on loopback (aiosmtpd): what a
return's life sends to its customer and to staff (MIME parsed), the shop's switches and
language, a server that is down then back, a recipient refused for good, a sender dying
between the server's 250 and our record."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.models import EmailNotification
from app.models.email_notification import EmailStatus
from app.services.notifications.addresses import AddressPolicy
from app.services.notifications.delivery import DeliveryPolicy, DeliveryWorker
from app.services.notifications.dispatch import ReturnEventDispatcher
from app.services.notifications.email import EmailPolicy, EmailSender, SmtpTarget, send_email
from app.services.portal.status_links import status_links
from tests.conftest import make_settings
from tests.factories import graphql, lapse_lease, make_tenant, merchant_headers
from tests.notifications.conftest import MailServer
from tests.returns.builders import create, return_input, shop_order
from tests.returns.test_transitions import act
from tests.simulator_fixtures import WebhookReceiver

SETTINGS = """
mutation($input: UpdateNotificationSettingsInput!) {
  updateNotificationSettings(input: $input) {
    notificationSettings { customerEvents staffEvents staffEmail locale }
    userErrors { field code message }
  }
}"""
LOG = """
query($status: NotificationStatus) {
  notifications(first: 50, filter: {status: $status}) {
    nodes { id to recipient topic subject status attempts error sentAt }
  }
}"""
QUICK = EmailPolicy(schedule=(timedelta(0), timedelta(0)))


@pytest.fixture
def settings(mongo_uri: str, mail_server: MailServer) -> Settings:
    return make_settings(
        mongo_uri,
        smtp_url=f"smtp://127.0.0.1:{mail_server.port}",
        mail_from="Returns of Ada's <returns@ada.example>",
    )


async def _drain(settings: Settings, policy: EmailPolicy = QUICK) -> None:
    dispatcher = ReturnEventDispatcher(
        "test:events",
        make_return_renderer(settings),
        emails=True,
        status_url=status_links(settings),
    )
    sender = EmailSender("test:emails", settings, policy)
    while await dispatcher.run_once() or await sender.run_once():
        pass


async def _configure(
    client: httpx.AsyncClient, headers: dict[str, str], **values: Any
) -> dict[str, Any]:
    body = await graphql(client, SETTINGS, {"input": values}, headers)
    payload: dict[str, Any] = body["data"]["updateNotificationSettings"]
    return payload


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


async def test_a_returns_life_emails_its_customer_and_the_staff(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("mailing")
    headers = await merchant_headers(tenant.id)
    configured = await _configure(client, headers, staffEmail="desk@mailing.example")
    assert configured["userErrors"] == []
    order = await shop_order(tenant.id, 1001)
    return_id = (await create(client, tenant.id, return_input(order)))["return"]["id"]
    await _drain(settings)
    for step in ("approve", "receive", "resolve"):
        assert (await act(client, headers, step, return_id))["userErrors"] == []
        await _drain(settings)

    customer = mail_server.to("customer@example.com")
    assert [m["Subject"] for m in customer] == [
        "We received your return request for order #1001",
        "Your return for order #1001 is approved",
        "We received the items of order #1001",
        "Your return for order #1001 is complete",
    ]
    assert all(m["From"] == "Returns of Ada's <returns@ada.example>" for m in customer)
    assert len({m["Message-ID"] for m in customer}) == 4
    text, html = _parts(customer[-1])
    assert "Refund: 25.00 USD" in text and "Items:\n- 1 x T-shirt" in text.replace("\r", "")
    assert "<strong>Refund:</strong> 25.00 USD" in html and html.startswith("<!doctype html>")
    [staff] = mail_server.to("desk@mailing.example")
    assert staff["Subject"] == "Return #1001: requested"

    # Every customer email links the return's status page, which opens; staff get no such link.
    link = f"http://testserver/portal/{tenant.shop_domain}/returns/"
    assert all(link in _parts(m)[0] and f'href="{link}' in _parts(m)[1] for m in customer)
    status_page = text.split("Follow your return: ", 1)[1].split()[0]
    assert (await client.get(status_page.removeprefix("http://testserver"))).status_code == 200
    assert "/portal/" not in _parts(staff)[0]

    log = (await graphql(client, LOG, {}, headers))["data"]["notifications"]["nodes"]
    assert len(log) == 5 and {n["status"] for n in log} == {"SENT"}
    assert {n["recipient"] for n in log} == {"CUSTOMER", "STAFF"}


async def test_the_shops_switches_and_language_choose_what_is_sent(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("quiet")
    headers = await merchant_headers(tenant.id)
    for bad in ("not an address", "desk@x.example\nBcc: evil@y.example", "a@x.example,b@y.example"):
        refused = await _configure(client, headers, staffEmail=bad)
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
            (["staffEmail"], "INVALID")
        ], bad
    assert (await _configure(client, headers, locale="de"))["userErrors"][0]["code"] == "INVALID"
    configured = await _configure(
        client, headers, customerEvents=["RETURN_DECLINED"], staffEvents=[], locale="fr"
    )
    assert configured["notificationSettings"] == {
        "customerEvents": ["RETURN_DECLINED"],
        "staffEvents": [],
        "staffEmail": None,
        "locale": "fr",
    }
    order = await shop_order(tenant.id, 1002)
    return_id = (await create(client, tenant.id, return_input(order)))["return"]["id"]
    assert (await act(client, headers, "decline", return_id))["userErrors"] == []
    await _drain(settings)
    [declined] = mail_server.to("customer@example.com")
    assert declined["Subject"] == "Votre retour pour la commande #1002 a été refusé"
    assert declined["Content-Language"] == "fr"
    text, _html = _parts(declined)
    assert "Motif: worn" in text


async def test_a_server_that_is_down_is_tried_again_and_a_refused_recipient_is_given_up(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("flaky-mail")
    headers = await merchant_headers(tenant.id)
    await _configure(
        client, headers, staffEmail="gone@flaky.example", customerEvents=["RETURN_REQUESTED"]
    )
    mail_server.refused.add("gone@flaky.example")
    mail_server.stop()
    order = await shop_order(tenant.id, 1003)
    await create(client, tenant.id, return_input(order))
    dispatcher = ReturnEventDispatcher("t", make_return_renderer(settings), emails=True)
    assert await dispatcher.run_once()
    sender = EmailSender("test:emails", settings, QUICK)
    assert await sender.run_once() and await sender.run_once()
    waiting = await EmailNotification.find({"tenant_id": tenant.id}).to_list()
    assert {(e.status, e.attempts) for e in waiting} == {(EmailStatus.PENDING, 1)}
    assert {e.error for e in waiting} == {"the mail server could not be reached"}

    mail_server.start()
    await sender.run_until_idle()
    settled = {e.to: e for e in await EmailNotification.find({"tenant_id": tenant.id}).to_list()}
    assert settled["customer@example.com"].status is EmailStatus.SENT
    assert settled["gone@flaky.example"].status is EmailStatus.FAILED  # 550: not tried again
    assert settled["gone@flaky.example"].error == "the mail server refused the recipient"
    assert len(mail_server.to("customer@example.com")) == 1
    failed = (await graphql(client, LOG, {"status": "FAILED"}, headers))["data"]["notifications"]
    assert [n["to"] for n in failed["nodes"]] == ["gone@flaky.example"]


async def test_a_sender_dying_after_the_servers_answer_sends_it_again_with_its_message_id(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("dying-mail")
    order = await shop_order(tenant.id, 1004)
    await create(client, tenant.id, return_input(order))
    dispatcher = ReturnEventDispatcher("t", make_return_renderer(settings), emails=True)
    assert await dispatcher.run_once()
    dying = EmailSender("test:dying", settings, EmailPolicy())
    claimed = await dying.claim()
    assert claimed is not None
    await send_email(claimed, dying.target, settings.mail_from, 5.0)  # 250, then it died
    other = EmailSender("test:other", settings, EmailPolicy())
    assert await other.claim() is None  # the lease holds meanwhile
    await lapse_lease(
        EmailNotification, claimed.id, "next_attempt_at", held_for=EmailPolicy().lease_seconds
    )
    assert await other.run_once() and not await other.run_once()
    first, second = mail_server.to("customer@example.com")
    assert first["Message-ID"].strip() == second["Message-ID"].strip() == claimed.message_id


async def test_staff_are_told_when_a_webhook_endpoint_is_disabled(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    mail_server: MailServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    tenant = await make_tenant("hooks-down")
    headers = await merchant_headers(tenant.id)
    await _configure(client, headers, staffEmail="ops@hooks-down.example", staffEvents=[])
    broken = webhook_receiver.new_path(503)
    made = await graphql(
        client,
        """mutation($input: CreateWebhookEndpointInput!) {
          createWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { code } }
        }""",
        {"input": {"url": webhook_receiver.url(broken), "topics": ["RETURN_REQUESTED"]}},
        headers,
    )
    assert made["data"]["createWebhookEndpoint"]["userErrors"] == []
    order = await shop_order(tenant.id, 1005)
    await create(client, tenant.id, return_input(order))
    dispatcher = ReturnEventDispatcher("t", make_return_renderer(settings), emails=True)
    hooks = DeliveryWorker(
        "test:hooks",
        settings,
        DeliveryPolicy(
            schedule=(timedelta(0),),
            addresses=AddressPolicy(allow_loopback=True),
            batch_wait_seconds=60.0,  # outcomes are read right after `run_once`
        ),
    )
    mails = EmailSender("test:emails", settings, QUICK)
    while await dispatcher.run_once() or await hooks.run_once() or await mails.run_once():
        pass
    assert [m.status for m in webhook_receiver.at(broken)] == [503, 503]
    [told] = mail_server.to("ops@hooks-down.example")
    assert told["Subject"] == "Your webhook endpoint was disabled"
    text, _html = _parts(told)
    assert webhook_receiver.url(broken) in text and "answered 503" in text


TEMPLATE = """
mutation($input: UpdateNotificationTemplateInput!) {
  updateNotificationTemplate(input: $input) {
    notificationSettings { templates { topic recipient subject message } }
    userErrors { field code message }
  }
}"""
PREVIEW = """
query($id: ID!) {
  previewNotification(returnId: $id, topic: RETURN_APPROVED) { subject text html }
}"""


async def test_a_shops_own_words_are_checked_when_saved_previewed_and_sent(
    client: httpx.AsyncClient, settings: Settings, db: Database, mail_server: MailServer
) -> None:
    tenant = await make_tenant("wordsmith")
    headers = await merchant_headers(tenant.id)

    async def save(subject: str | None, message: str | None) -> dict[str, Any]:
        variables = {
            "input": {
                "topic": "RETURN_APPROVED",
                "recipient": "CUSTOMER",
                "subject": subject,
                "message": message,
            }
        }
        body = await graphql(client, TEMPLATE, variables, headers)
        payload: dict[str, Any] = body["data"]["updateNotificationTemplate"]
        return payload

    broken = await save("Order {{ order", None)
    assert [(e["field"], e["code"]) for e in broken["userErrors"]] == [(["subject"], "INVALID")]
    unknown = await save(None, "Hello {{ customer.password }}")
    assert unknown["userErrors"][0]["field"] == ["message"]
    assert "Unknown variable customer" in unknown["userErrors"][0]["message"]
    for hostile in (
        "{{ ''.__class__.__mro__ }}",  # the sandbox refuses it
        "{{ 'x' * 10**10 }}",  # would take the memory before any length check
        "{{ 'x' * 100000 }}",
        "{{ 1 // 0 }}",
    ):
        refused = await save(None, hostile)
        assert refused["userErrors"][0]["code"] == "INVALID", hostile
    # Passes on the sample (one item), fails on a return of two: the standard words are sent.
    assert (await save(None, "{{ 1 // (items|length - 2) }}"))["userErrors"] == []
    assert (await save(None, None))["userErrors"] == []
    saved = await save(
        "{{ shop }}: order {{ order }} can come back",
        "Send {% for item in items %}{{ item.quantity }} x {{ item.title }}{% endfor %}"
        " to <our warehouse>.",
    )
    assert saved["userErrors"] == []
    assert saved["notificationSettings"]["templates"] == [
        {
            "topic": "RETURN_APPROVED",
            "recipient": "CUSTOMER",
            "subject": "{{ shop }}: order {{ order }} can come back",
            "message": "Send {% for item in items %}{{ item.quantity }} x {{ item.title }}"
            "{% endfor %} to <our warehouse>.",
        }
    ]

    order = await shop_order(tenant.id, 1006)
    return_id = (await create(client, tenant.id, return_input(order)))["return"]["id"]
    preview = (await graphql(client, PREVIEW, {"id": return_id}, headers))["data"][
        "previewNotification"
    ]
    assert preview["subject"] == "wordsmith: order #1006 can come back"
    assert "Send 1 x T-shirt to <our warehouse>." in preview["text"]
    assert "to &lt;our warehouse&gt;." in preview["html"]  # escaped in HTML
    stranger = await merchant_headers((await make_tenant("nosy")).id)
    assert (await graphql(client, PREVIEW, {"id": return_id}, stranger))["data"] == {
        "previewNotification": None
    }
    assert mail_server.received == []  # a preview sends nothing

    assert (await act(client, headers, "approve", return_id))["userErrors"] == []
    await _drain(settings)
    approved = [m for m in mail_server.to("customer@example.com") if "come back" in m["Subject"]]
    assert [m["Subject"] for m in approved] == ["wordsmith: order #1006 can come back"]
    cleared = await save("", "")
    assert cleared["notificationSettings"]["templates"] == []


def test_a_bad_smtp_url_is_refused_at_start_without_repeating_it() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, smtp_url="smtp://user:s3cr/et@mail.example:587")
    assert "s3cr" not in str(refused.value) and "SMTP_URL must be" in str(refused.value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, smtp_url="http://mail.example")
    target = SmtpTarget.parse("smtps://user:p%40ss@mail.example")
    assert (target.host, target.port, target.password, target.implicit_tls) == (
        "mail.example",
        465,
        "p@ss",
        True,
    )
    assert "p@ss" not in repr(target)
