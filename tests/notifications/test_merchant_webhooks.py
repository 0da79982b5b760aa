"""Merchants' webhooks end to end: endpoints made through GraphQL, a return's life turned into
signed deliveries that a real HTTP receiver on loopback verifies with the `standardwebhooks`
package, retries and disablement, a worker dying mid-send, secret rotation, and addresses a
webhook may never reach."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from bson import ObjectId
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.config import Settings
from app.db import Database
from app.graphql.returns.snapshot import make_return_renderer
from app.models import Return, WebhookDelivery, WebhookEndpoint
from app.models.return_request import ReturnEvent, ReturnEventType
from app.models.webhook_endpoint import DeliveryStatus
from app.services.notifications.addresses import (
    AddressPolicy,
    AddressRefused,
    ascii_host,
    check_url,
    resolve_checked,
)
from app.services.notifications.delivery import DeliveryPolicy, DeliveryWorker, send_once
from app.services.notifications.dispatch import ReturnEventDispatcher, message_body
from app.services.webhooks.handlers.compliance import redact_customer
from tests.factories import graphql, lapse_lease, make_tenant, merchant_headers
from tests.returns.builders import create, return_input, shop_order
from tests.returns.test_transitions import act
from tests.simulator_fixtures import ReceivedWebhook, WebhookReceiver

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id url topics status }
    secret
    userErrors { field code message }
  }
}"""
UPDATE = """
mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(id: $id, input: $input) {
    webhookEndpoint { id status disabledReason }
    userErrors { field code message }
  }
}"""
ROTATE = """
mutation($id: ID!) {
  rotateWebhookEndpointSecret(id: $id) {
    webhookEndpoint { id previousSecretExpiresAt }
    secret
    userErrors { field code message }
  }
}"""
DELIVERIES = """
query($endpoint: ID) {
  webhookDeliveries(first: 50, endpointId: $endpoint) {
    nodes { id messageId topic status failure attempts { statusCode error response } }
  }
}"""
REPLAY = """
mutation($id: ID!) {
  replayWebhookDelivery(id: $id) {
    webhookDelivery { id status }
    userErrors { field code message }
  }
}"""
ALL_TOPICS = [
    "RETURN_REQUESTED",
    "RETURN_APPROVED",
    "RETURN_DECLINED",
    "RETURN_RECEIVED",
    "RETURN_RESOLVED",
    "RETURN_CANCELED",
]
# Attempts without waiting: the schedule's steps are what is under test, not their lengths.
# A batch waits for all its sends (a loaded machine may take over 2 s): the tests read the
# outcomes right after `run_once`.
QUICK = DeliveryPolicy(
    schedule=(timedelta(0), timedelta(0)),
    addresses=AddressPolicy(allow_loopback=True),
    batch_wait_seconds=60.0,
)


async def _endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, topics: list[str] | None = None
) -> dict[str, Any]:
    body = await graphql(
        client, CREATE, {"input": {"url": url, "topics": topics or ALL_TOPICS}}, headers
    )
    payload: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload
    return payload


async def _drain(settings: Settings, policy: DeliveryPolicy = QUICK) -> None:
    """Dispatch every due event and send every due delivery, as the runner's workers would."""
    dispatcher = ReturnEventDispatcher("test:events", make_return_renderer(settings))
    sender = DeliveryWorker("test:webhooks", settings, policy)
    while await dispatcher.run_once() or await sender.run_once():
        pass


def _verified(secret: str, message: ReceivedWebhook) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(message.body, message.headers)
    return payload


async def test_a_returns_life_reaches_its_endpoints_signed_as_each_step_left_it(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    tenant = await make_tenant("hooked")
    headers = await merchant_headers(tenant.id)
    everything = webhook_receiver.new_path(200)
    approvals = webhook_receiver.new_path(200)
    secret = (await _endpoint(client, headers, webhook_receiver.url(everything)))["secret"]
    approvals_secret = (
        await _endpoint(client, headers, webhook_receiver.url(approvals), ["RETURN_APPROVED"])
    )["secret"]
    assert secret.startswith("whsec_") and approvals_secret != secret
    # Another shop's endpoint hears nothing of this shop's returns.
    other = await make_tenant("elsewhere")
    elsewhere = webhook_receiver.new_path(200)
    await _endpoint(client, await merchant_headers(other.id), webhook_receiver.url(elsewhere))

    order = await shop_order(tenant.id, 1001)
    created = await create(client, tenant.id, return_input(order))
    return_id = created["return"]["id"]
    await _drain(settings)
    for step in ("approve", "receive", "resolve"):
        assert (await act(client, headers, step, return_id))["userErrors"] == []
        await _drain(settings)

    messages = webhook_receiver.at(everything)
    payloads = [_verified(secret, message) for message in messages]
    assert [p["type"] for p in payloads] == [
        "return.requested",
        "return.approved",
        "return.received",
        "return.resolved",
    ]
    # Each shows the return as the API showed it when the event was handed over.
    assert [p["data"]["return"]["status"] for p in payloads] == [
        "REQUESTED",
        "APPROVED",
        "RECEIVED",
        "RESOLVED",
    ]
    assert {p["data"]["return"]["id"] for p in payloads} == {
        f"gid://returns-management/Return/{return_id}"
    }
    resolved = payloads[-1]["data"]["return"]
    assert resolved["outcome"]["refundAmount"]["currencyCode"] == "USD"
    assert [entry["toStatus"] for entry in resolved["history"]][-1] == "RESOLVED"
    ids = [message.headers["webhook-id"] for message in messages]
    assert ids == [p["data"]["eventId"] for p in payloads] and len(set(ids)) == 4
    with pytest.raises(WebhookVerificationError):  # signed with its own endpoint's secret only
        Webhook(approvals_secret).verify(messages[0].body, messages[0].headers)

    [approval] = webhook_receiver.at(approvals)
    assert _verified(approvals_secret, approval)["type"] == "return.approved"
    assert webhook_receiver.at(elsewhere) == []

    log = await graphql(client, DELIVERIES, {}, headers)
    nodes = log["data"]["webhookDeliveries"]["nodes"]
    assert len(nodes) == 5 and {n["status"] for n in nodes} == {"SUCCEEDED"}
    assert all(n["attempts"] == [{"statusCode": 200, "error": None, "response": ""}] for n in nodes)
    assert (await Return.find_one({"tenant_id": tenant.id})).events_due_at is None  # type: ignore[union-attr]


async def test_the_event_is_written_by_the_transition_itself(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No dispatcher has run: the approval's event is on the return, queued by its one update;
    a dispatcher that dies after writing the deliveries and runs again writes none twice."""
    tenant = await make_tenant("outboxed")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    await _endpoint(client, headers, webhook_receiver.url(path))
    order = await shop_order(tenant.id, 1001)
    return_id = (await create(client, tenant.id, return_input(order)))["return"]["id"]
    await act(client, headers, "approve", return_id)
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.events_due_at is not None
    assert [e.type.value for e in stored.pending_events] == ["return.requested", "return.approved"]

    dispatcher = ReturnEventDispatcher("test:events", make_return_renderer(settings))
    claimed = await dispatcher.claim()
    assert claimed is not None

    async def die(*_args: Any) -> None:
        raise RuntimeError("dispatcher died after writing the deliveries")

    with monkeypatch.context() as patched:
        patched.setattr(dispatcher, "_take_off", die)
        with pytest.raises(RuntimeError):
            await dispatcher.dispatch(claimed)
    await dispatcher.dispatch(claimed)  # as after the lease ran out
    deliveries = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert sorted(d.event_type.value for d in deliveries) == ["return.approved", "return.requested"]
    await _drain(settings)
    assert len(webhook_receiver.at(path)) == 2


async def test_an_event_that_arrives_while_the_earlier_ones_are_handed_over_stays_queued(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    webhook_receiver: WebhookReceiver,
) -> None:
    """Staff approve while the dispatcher hands over the request's event: the approval's event
    stays on the return, which stays queued for it (and only the handed-over one is taken
    off)."""
    tenant = await make_tenant("meanwhile")
    headers = await merchant_headers(tenant.id)
    await _endpoint(client, headers, webhook_receiver.url(webhook_receiver.new_path(200)))
    order = await shop_order(tenant.id, 1001)
    return_id = (await create(client, tenant.id, return_input(order)))["return"]["id"]
    render = make_return_renderer(settings)

    async def render_then_approve(record: Return) -> dict[str, Any]:
        rendered = await render(record)
        await act(client, headers, "approve", return_id)
        return rendered

    dispatcher = ReturnEventDispatcher("test:events", render_then_approve)
    claimed = await dispatcher.claim()
    assert claimed is not None and [e.type.value for e in claimed.pending_events] == [
        "return.requested"
    ]
    await dispatcher.dispatch(claimed)

    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None
    assert [e.type.value for e in stored.pending_events] == ["return.approved"]
    assert stored.events_due_at is not None
    # Queued for the approval: the next dispatcher hands it over, and then none is left.
    second = ReturnEventDispatcher("test:events", render)
    assert await second.run_once()
    stored = await Return.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.pending_events == [] and stored.events_due_at is None
    deliveries = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert sorted(d.event_type.value for d in deliveries) == ["return.approved", "return.requested"]


async def test_a_failing_receiver_gets_retries_then_its_endpoint_is_disabled(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    tenant = await make_tenant("failing")
    headers = await merchant_headers(tenant.id)
    flaky = webhook_receiver.new_path(500, 503, 200)  # recovers at the third attempt
    broken = webhook_receiver.new_path(500)  # never does
    await _endpoint(client, headers, webhook_receiver.url(flaky), ["RETURN_REQUESTED"])
    dead = (await _endpoint(client, headers, webhook_receiver.url(broken), ["RETURN_REQUESTED"]))[
        "webhookEndpoint"
    ]
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    await _drain(settings)

    assert [m.status for m in webhook_receiver.at(flaky)] == [500, 503, 200]
    assert [m.status for m in webhook_receiver.at(broken)] == [500, 500, 500]
    ids = {
        m.headers["webhook-id"] for m in [*webhook_receiver.at(flaky), *webhook_receiver.at(broken)]
    }
    assert len(ids) == 1  # every attempt, to every endpoint, is the one message
    log = (await graphql(client, DELIVERIES, {"endpoint": dead["id"]}, headers))["data"]
    [failed] = log["webhookDeliveries"]["nodes"]
    assert failed["status"] == "FAILED" and failed["failure"] == "answered 500"
    assert [a["statusCode"] for a in failed["attempts"]] == [500, 500, 500]

    endpoints = await graphql(
        client,
        "{ webhookEndpoints(first: 10) { nodes { id status disabledReason } } }",
        {},
        headers,
    )
    by_id = {n["id"]: n for n in endpoints["data"]["webhookEndpoints"]["nodes"]}
    assert by_id[dead["id"]]["status"] == "DISABLED"
    assert "answered 500" in by_id[dead["id"]]["disabledReason"]
    assert {n["status"] for i, n in by_id.items() if i != dead["id"]} == {"ENABLED"}

    # A replay waits for the endpoint to be enabled again; then it goes through.
    refused = await graphql(client, REPLAY, {"id": failed["id"]}, headers)
    assert refused["data"]["replayWebhookDelivery"]["userErrors"][0]["code"] == "INVALID"
    webhook_receiver.scripts[broken] = [200]
    enabled = await graphql(client, UPDATE, {"id": dead["id"], "input": {"enabled": True}}, headers)
    assert enabled["data"]["updateWebhookEndpoint"]["webhookEndpoint"]["status"] == "ENABLED"
    replayed = await graphql(client, REPLAY, {"id": failed["id"]}, headers)
    assert replayed["data"]["replayWebhookDelivery"]["webhookDelivery"]["status"] == "PENDING"
    await _drain(settings)
    assert [m.status for m in webhook_receiver.at(broken)] == [500, 500, 500, 200]
    assert len({m.headers["webhook-id"] for m in webhook_receiver.at(broken)}) == 1


async def test_a_worker_dying_mid_send_leaves_the_message_to_be_sent_again_under_its_id(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    """The receiver answered, the worker died before writing so: at least once, and the repeat
    carries the same `webhook-id` for the receiver to drop."""
    tenant = await make_tenant("dying")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    secret = (await _endpoint(client, headers, webhook_receiver.url(path)))["secret"]
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    dispatcher = ReturnEventDispatcher("test:events", make_return_renderer(settings))
    assert await dispatcher.run_once()

    policy = DeliveryPolicy(addresses=AddressPolicy(allow_loopback=True))
    dying = DeliveryWorker("test:dying", settings, policy)
    [claimed] = await dying.claim()
    endpoint = await WebhookEndpoint.find_one({"_id": ObjectId(claimed.endpoint_id)})
    assert endpoint is not None
    assert (await send_once(endpoint, claimed, settings, policy)).succeeded
    # ... and the worker is gone before recording it. Nobody else may take it meanwhile:
    other = DeliveryWorker("test:other", settings, policy)
    assert await other.claim() == []
    await lapse_lease(WebhookDelivery, claimed.id, "next_attempt_at", held_for=policy.lease_seconds)
    assert await other.run_once()
    assert not await other.run_once()
    first, second = webhook_receiver.at(path)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert _verified(secret, first) == _verified(secret, second)
    stored = await WebhookDelivery.find_one({"tenant_id": tenant.id})
    assert stored is not None and stored.status is DeliveryStatus.SUCCEEDED and stored.claims == 2


async def _endpoint_record(endpoint_id: str) -> Any:
    from bson import ObjectId

    from app.models import WebhookEndpoint

    return await WebhookEndpoint.find_one({"_id": ObjectId(endpoint_id)})


async def _wait_past(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_rotated_secret_signs_beside_the_new_one_for_its_grace(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    tenant = await make_tenant("rotating")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    made = await _endpoint(client, headers, webhook_receiver.url(path))
    await graphql(client, ROTATE, {"id": made["webhookEndpoint"]["id"]}, headers)
    # Rotated twice: the newest and the one before sign; the first is dropped at once.
    rotated = (await graphql(client, ROTATE, {"id": made["webhookEndpoint"]["id"]}, headers))[
        "data"
    ]["rotateWebhookEndpointSecret"]
    assert rotated["userErrors"] == [] and rotated["secret"] != made["secret"]
    assert rotated["webhookEndpoint"]["previousSecretExpiresAt"] is not None
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    await _drain(settings)
    [message] = webhook_receiver.at(path)
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    assert _verified(rotated["secret"], message)["type"] == "return.requested"
    with pytest.raises(WebhookVerificationError):
        _verified(made["secret"], message)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("https://10.0.0.7/hook", "not a public address"),
        ("https://192.168.1.1/hook", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::ffff:10.0.0.1]/hook", "not a public address"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://[fec0::1]/hook", "not a public address"),
        ("https://[64:ff9b::a00:5]/hook", "10.0.0.5 is not a public address"),  # NAT64
        ("https://[2002:a9fe:a9fe::]/hook", "metadata"),  # 6to4 around 169.254.169.254
        ("not a url", "https"),
    ],
)
async def test_urls_a_webhook_may_not_reach_are_refused_when_saved(
    client: httpx.AsyncClient, db: Database, url: str, why: str
) -> None:
    tenant = await make_tenant("ssrf")
    headers = await merchant_headers(tenant.id)
    body = await graphql(client, CREATE, {"input": {"url": url, "topics": ALL_TOPICS}}, headers)
    payload = body["data"]["createWebhookEndpoint"]
    assert payload["webhookEndpoint"] is None and payload["secret"] is None
    [error] = payload["userErrors"]
    assert error["field"] == ["url"] and error["code"] == "INVALID_URL"
    assert why in error["message"]
    empty = await graphql(client, "{ webhookEndpoints(first: 5) { nodes { id } } }", {}, headers)
    assert empty["data"]["webhookEndpoints"]["nodes"] == []


async def test_in_production_a_name_that_resolves_to_loopback_is_refused_at_delivery(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    """`localhost` passes the URL check (a name), then resolves to 127.0.0.1: refused when it
    is sent, and the receiver listening there hears nothing."""
    production = AddressPolicy.for_environment(production=True)
    assert check_url("https://localhost:8443/hook", production).host == "localhost"
    with pytest.raises(AddressRefused, match="loopback"):
        await resolve_checked(httpx.URL("https://localhost/hook"), production)
    with pytest.raises(AddressRefused, match="loopback"):
        check_url(webhook_receiver.url("/x"), production)  # loopback: development only
    with pytest.raises(AddressRefused, match="https"):
        check_url("http://localhost/x", production)

    tenant = await make_tenant("rebinding")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    port = httpx.URL(webhook_receiver.url(path)).port
    await _endpoint(client, headers, f"http://localhost:{port}{path}")
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    in_production = DeliveryPolicy(schedule=(), addresses=production)
    await _drain(settings, in_production)
    assert webhook_receiver.at(path) == []
    [delivery] = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.attempts[0].error is not None and "loopback" in delivery.attempts[0].error


def test_the_delivery_body_is_json_with_the_standard_fields() -> None:
    event = ReturnEvent(
        id="evt_1", type=ReturnEventType.CANCELED, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert orjson.loads(message_body(event, {"id": "r"})) == {
        "type": "return.canceled",
        "timestamp": "2026-01-02T03:04:05Z",
        "data": {"eventId": "evt_1", "status": "CANCELED", "return": {"id": "r"}},
    }


async def test_idn_and_embedded_addresses_name_what_goes_on_the_wire() -> None:
    """A Unicode name is looked up, certificate-checked and sent as its IDNA 2008 form (not
    Python's IDNA 2003, which maps `straße.de` to another domain, `strasse.de`); IPv6 forms
    that carry an IPv4 address are judged as that address."""
    assert ascii_host(httpx.URL("https://straße.de/hook")) == "xn--strae-oqa.de"
    production = AddressPolicy.for_environment(production=True)
    for form in ("::127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        with pytest.raises(AddressRefused, match=r"127\.0\.0\.1 is a loopback"):
            await resolve_checked(httpx.URL(f"https://[{form}]/hook"), production)
    assert await resolve_checked(httpx.URL("https://[2606:4700::1111]/x"), production)


async def test_events_while_an_endpoint_is_disabled_are_kept_to_replay(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    tenant = await make_tenant("paused")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    endpoint = (await _endpoint(client, headers, webhook_receiver.url(path)))["webhookEndpoint"]
    paused = await graphql(
        client, UPDATE, {"id": endpoint["id"], "input": {"enabled": False}}, headers
    )
    assert paused["data"]["updateWebhookEndpoint"]["webhookEndpoint"]["status"] == "DISABLED"
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    await _drain(settings)
    assert webhook_receiver.at(path) == []
    [kept] = (await graphql(client, DELIVERIES, {}, headers))["data"]["webhookDeliveries"]["nodes"]
    assert kept["status"] == "FAILED" and "disabled" in kept["failure"]
    await graphql(client, UPDATE, {"id": endpoint["id"], "input": {"enabled": True}}, headers)
    replayed = await graphql(client, REPLAY, {"id": kept["id"]}, headers)
    assert replayed["data"]["replayWebhookDelivery"]["userErrors"] == []
    await _drain(settings)
    [message] = webhook_receiver.at(path)
    assert message.headers["webhook-id"] == kept["messageId"]


async def test_a_delivery_that_fails_on_our_side_is_a_failed_attempt_and_spares_its_batch(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    """A secret no key decrypts (a key retired too early) fails that delivery's attempt; the
    other deliveries of the batch are sent and recorded."""
    tenant = await make_tenant("broken-secret")
    headers = await merchant_headers(tenant.id)
    good, bad = webhook_receiver.new_path(200), webhook_receiver.new_path(200)
    await _endpoint(client, headers, webhook_receiver.url(good), ["RETURN_REQUESTED"])
    broken = await _endpoint(client, headers, webhook_receiver.url(bad), ["RETURN_REQUESTED"])
    await WebhookEndpoint.get_pymongo_collection().update_one(
        {"_id": ObjectId(broken["webhookEndpoint"]["id"].rsplit("/", 1)[-1])},
        {"$set": {"secrets.0.ciphertext": "gAAAAAnot-a-token"}},
    )
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    dispatcher = ReturnEventDispatcher("test:events", make_return_renderer(settings))
    assert await dispatcher.run_once()
    sender = DeliveryWorker("test:webhooks", settings, QUICK)
    assert await sender.run_once()  # one batch: both deliveries
    assert len(webhook_receiver.at(good)) == 1 and webhook_receiver.at(bad) == []
    stored = {
        d.endpoint_id: d for d in await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    }
    failed = stored[broken["webhookEndpoint"]["id"].rsplit("/", 1)[-1]]
    assert failed.status is DeliveryStatus.PENDING and failed.failures == 1
    assert failed.attempts[0].error is not None and "internal error" in failed.attempts[0].error
    assert {d.status for d in stored.values()} == {DeliveryStatus.SUCCEEDED, DeliveryStatus.PENDING}


async def test_another_shops_deliveries_and_endpoints_are_not_there(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    owner = await make_tenant("owner")
    owner_headers = await merchant_headers(owner.id)
    path = webhook_receiver.new_path(200)
    endpoint = (await _endpoint(client, owner_headers, webhook_receiver.url(path)))[
        "webhookEndpoint"
    ]
    order = await shop_order(owner.id, 1001)
    await create(client, owner.id, return_input(order))
    await _drain(settings)
    [delivery] = (await graphql(client, DELIVERIES, {}, owner_headers))["data"][
        "webhookDeliveries"
    ]["nodes"]
    stranger = await merchant_headers((await make_tenant("stranger")).id)
    seen = await graphql(
        client,
        "query($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }",
        {"a": delivery["id"], "b": endpoint["id"]},
        stranger,
    )
    assert seen["data"] == {"a": None, "b": None}
    replay = await graphql(client, REPLAY, {"id": delivery["id"]}, stranger)
    assert replay["data"]["replayWebhookDelivery"]["userErrors"][0]["code"] == "NOT_FOUND"
    rotate = await graphql(client, ROTATE, {"id": endpoint["id"]}, stranger)
    assert rotate["data"]["rotateWebhookEndpointSecret"]["secret"] is None
    assert (await graphql(client, DELIVERIES, {}, stranger))["data"]["webhookDeliveries"][
        "nodes"
    ] == []


async def test_a_redacted_customers_messages_keep_only_the_event_and_the_returns_id(
    client: httpx.AsyncClient, settings: Settings, db: Database, webhook_receiver: WebhookReceiver
) -> None:
    tenant = await make_tenant("forgetful")
    headers = await merchant_headers(tenant.id)
    await _endpoint(client, headers, webhook_receiver.url(webhook_receiver.new_path(200)))
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    await _drain(settings)
    [before] = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert "customer@example.com" in before.body
    await redact_customer(
        secret=settings.shopify_api_secret,
        tenant_id=tenant.id,
        customer_id=None,
        email="customer@example.com",
        now=datetime.now(UTC),
    )
    [after] = await WebhookDelivery.find({"tenant_id": tenant.id}).to_list()
    assert "customer@example.com" not in after.body and after.redacted_at is not None
    body = orjson.loads(after.body)
    assert body["type"] == "return.requested"
    assert body["data"]["return"] == {
        "id": orjson.loads(before.body)["data"]["return"]["id"],
        "redacted": True,
    }


async def test_workers_claiming_at_once_each_lease_a_share_of_what_is_due(
    settings: Settings, db: Database
) -> None:
    """Four workers claiming batches of 8 from 32 due deliveries at the same moment: none goes
    away empty-handed (it would idle for a second with work due) and none is leased twice.
    Before claims read a window of the oldest, all four raced for the same 8 and one gave up."""
    now = datetime.now(UTC)
    await WebhookDelivery.insert_many(
        [
            WebhookDelivery(
                tenant_id="claims",
                endpoint_id=str(ObjectId()),
                event_id=f"evt_claim{index:03d}",
                event_type=ReturnEventType.APPROVED,
                return_id="r",
                body="{}",
                next_attempt_at=now - timedelta(seconds=index),
            )
            for index in range(32)
        ]
    )
    policy = DeliveryPolicy(batch=8, addresses=AddressPolicy(allow_loopback=True))
    workers = [DeliveryWorker(f"test:claim:{index}", settings, policy) for index in range(4)]
    batches = await asyncio.gather(*(worker.claim(policy.batch) for worker in workers))
    leased = [delivery.id for batch in batches for delivery in batch]
    assert all(batches), [len(batch) for batch in batches]
    assert len(leased) == len(set(leased))
