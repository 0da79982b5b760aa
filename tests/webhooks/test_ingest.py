"""POST /api/webhooks/<topic>: verify, persist, dedupe; nothing else on the request path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson

from app.models import WebhookEvent
from app.shopify.hmac import sign_webhook
from tests.simulator_fixtures import SIM_API_SECRET
from tests.webhooks.helpers import deliver, order_payload, webhook_headers


async def _stored() -> list[WebhookEvent]:
    return await WebhookEvent.find({}).to_list()


async def test_verified_delivery_is_persisted_unprocessed_with_its_headers(
    client: httpx.AsyncClient,
) -> None:
    payload = order_payload(number=1001)
    response = await deliver(client, "orders/create", payload, event_id="evt-1", webhook_id="wh-1")
    assert response.status_code == 200, response.text
    [event] = await _stored()
    assert event.processed is False and event.dead is False and event.attempts == 0
    assert (event.tenant_id, event.shop_domain, event.topic) == (
        "tenant-rms34",
        "rms34.myshopify.com",
        "orders/create",
    )
    assert (event.event_id, event.webhook_id, event.api_version) == ("evt-1", "wh-1", "2026-10")
    assert event.payload["id"] == payload["id"]
    assert event.customer_id == str(payload["customer"]["id"])
    assert event.triggered_at is not None and event.triggered_at.tzinfo is not None
    assert event.headers["x-shopify-topic"] == "orders/create"
    assert "x-shopify-hmac-sha256" not in event.headers  # proves the body once; never stored
    assert {"x-shopify-event-id", "x-shopify-triggered-at"} <= set(event.headers)


async def test_wrong_missing_or_truncated_hmac_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    body = orjson.dumps(order_payload())
    good = sign_webhook(body, SIM_API_SECRET)
    for topic, hmac_value in (
        ("orders/create", sign_webhook(body, "another-secret")),
        ("orders/create", ""),
        ("orders/create", good[:-4]),
        ("customers/redact", "not base64 at all"),
        ("shop/redact", good[:10]),
    ):
        headers = webhook_headers(topic, body, hmac_value=hmac_value)
        response = await client.post(f"/api/webhooks/{topic}", content=body, headers=headers)
        assert response.status_code == 401, (topic, hmac_value)
    headers = webhook_headers("orders/create", body)
    del headers["X-Shopify-Hmac-Sha256"]
    response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 401
    # A signature over other bytes (re-serialised JSON) is not the raw body's signature.
    reformatted = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    response = await client.post(
        "/api/webhooks/orders/create",
        content=reformatted,
        headers=webhook_headers("orders/create", body),
    )
    assert response.status_code == 401
    assert await _stored() == []


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = webhook_headers("orders/create", body)
    response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 413

    # No Content-Length: the middleware counts what arrives.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"x" * 65536

    response = await client.post("/api/webhooks/orders/create", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert await _stored() == []


async def test_invalid_json_is_400(client: httpx.AsyncClient) -> None:
    for body in (b"{not json", b"", b"[1, 2]"):
        response = await deliver(client, "orders/create", body)
        assert response.status_code == 400, body
        assert response.json()["error"] in {"invalid_json", "invalid_payload"}
    assert await _stored() == []


async def test_unknown_topic_is_404(client: httpx.AsyncClient) -> None:
    for topic in ("orders/deleted", "products/create", "orders"):
        response = await deliver(client, topic, {"id": 1})
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_topic"


async def test_topic_header_must_match_the_path(client: httpx.AsyncClient) -> None:
    body = orjson.dumps(order_payload())
    headers = webhook_headers("orders/updated", body)
    response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "topic_mismatch"
    del headers["X-Shopify-Topic"]  # absent: refused too (the HMAC does not cover headers)
    response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 400


async def test_shop_domain_is_normalised_and_validated(client: httpx.AsyncClient) -> None:
    response = await deliver(client, "orders/create", order_payload(), shop=" RMS34.MyShopify.com ")
    assert response.status_code == 200
    [event] = await _stored()
    assert event.shop_domain == "rms34.myshopify.com"
    for shop in ("evil.example.com", "", "rms34.myshopify.com.evil.io"):
        response = await deliver(client, "orders/create", order_payload(), shop=shop)
        assert response.status_code == 400, shop
        assert response.json()["error"] == "invalid_shop_domain"


async def test_same_event_five_times_concurrently_is_stored_once(
    client: httpx.AsyncClient,
) -> None:
    body = orjson.dumps(order_payload())
    headers = webhook_headers("orders/create", body, event_id="evt-dup")

    async def send() -> int:
        response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
        return response.status_code

    statuses = await asyncio.gather(*(send() for _ in range(5)))
    assert statuses == [200] * 5
    assert len(await _stored()) == 1


async def test_dedupe_falls_back_to_the_webhook_id(client: httpx.AsyncClient) -> None:
    body = orjson.dumps(order_payload())
    headers = webhook_headers("orders/create", body, webhook_id="wh-only")
    del headers["X-Shopify-Event-Id"]
    for _ in range(2):
        response = await client.post("/api/webhooks/orders/create", content=body, headers=headers)
        assert response.status_code == 200
    [event] = await _stored()
    assert event.event_id == "wh-only"


async def test_same_event_id_of_another_shop_is_another_event(client: httpx.AsyncClient) -> None:
    for shop in ("one.myshopify.com", "two.myshopify.com"):
        response = await deliver(client, "orders/create", order_payload(), shop=shop, event_id="e")
        assert response.status_code == 200
    assert len(await _stored()) == 2


async def test_a_signed_body_cannot_be_replayed_against_another_shop(
    client: httpx.AsyncClient,
) -> None:
    # The HMAC covers the body only: the payload's shop must agree with the unsigned header.
    body = orjson.dumps({"shop_id": 1, "shop_domain": "attacker.myshopify.com"})
    headers = webhook_headers("shop/redact", body, shop="victim.myshopify.com")
    response = await client.post("/api/webhooks/shop/redact", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "shop_mismatch"
    missing = orjson.dumps({"shop_id": 1})
    headers = webhook_headers("customers/redact", missing, shop="victim.myshopify.com")
    response = await client.post("/api/webhooks/customers/redact", content=missing, headers=headers)
    assert response.status_code == 400
    assert await _stored() == []


async def test_a_triggered_at_in_the_future_is_clamped_to_receipt(
    client: httpx.AsyncClient,
) -> None:
    from datetime import timedelta

    from app.clock import utcnow

    future = utcnow() + timedelta(days=365)
    response = await deliver(client, "orders/create", order_payload(), triggered_at=future)
    assert response.status_code == 200
    [event] = await _stored()
    assert event.triggered_at is not None
    assert event.triggered_at <= event.received_at
