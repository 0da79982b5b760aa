"""Tokens and secrets never appear in responses, logs or errors.

Every request the suites make of the app (every operation with the owner's and an attacker's
credential, webhooks, install, health, metrics, malformed input) runs with all logs captured;
the plaintext Shopify access and refresh tokens, the API secret, tenant API keys and the
stored ciphertexts are then searched for in every response and every log record, both as the
app writes them (JsonFormatter) and raw (any other handler would see these).
"""

from __future__ import annotations

import logging
import uuid

import httpx
import orjson
import pytest

from app.config import Settings
from app.db import Database
from app.observability.logging import JsonFormatter
from app.shopify.hmac import sign_webhook
from tests.factories import forget_portal_attempts
from tests.fuzz.graphql_documents import introspect
from tests.isolation.operations import calls_for, documents, operations
from tests.isolation.world import (
    ATTACKER_TOKEN,
    VICTIM_REFRESH,
    VICTIM_SHOP,
    VICTIM_TOKEN,
    World,
)


async def _exercise(client: httpx.AsyncClient, world: World, settings: Settings) -> list[str]:
    """Drive the app broadly; return every response text."""
    texts: list[str] = []
    schema = await introspect(client)
    for headers, owner in (
        (world.victim.headers, world.victim),
        (world.attacker.headers, world.victim),
        ({"X-Tenant-Id": world.victim.tenant_id}, world.victim),
        ({"Authorization": "Bearer " + VICTIM_TOKEN}, world.victim),
    ):
        for kind, name, field in operations(schema):
            calls = calls_for(schema, owner, kind, name, field)[:3]
            for document, _ in documents(calls):
                response = await client.post("/graphql", json={"query": document}, headers=headers)
                texts.append(response.text)
    body = orjson.dumps({"id": 1, "email": "x@y.z", "token": VICTIM_TOKEN})
    for signature in (sign_webhook(body, settings.shopify_api_secret), "bad"):
        response = await client.post(
            "/api/webhooks/orders/create",
            content=body,
            headers={
                "x-shopify-hmac-sha256": signature,
                "x-shopify-shop-domain": VICTIM_SHOP,
                "x-shopify-event-id": str(uuid.uuid4()),
            },
        )
        texts.append(response.text)
    for url in (
        f"/api/auth/shopify/install?shop={VICTIM_SHOP}",
        f"/api/auth/shopify/callback?shop={VICTIM_SHOP}&code=c&state=s&hmac=00",
        "/api/health",
        "/metrics",
        "/graphql?query=%7B%20shopifyIntegration%20%7B%20status%20%7D%20%7D",
    ):
        response = await client.get(url, headers=world.victim.headers)
        texts.append(response.text + str(response.headers))
    return texts


async def test_no_secret_reaches_a_response_or_a_log(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await forget_portal_attempts(db.db)
    integration = await db.db["integrations_shopify"].find_one(
        {"tenant_id": world.victim.tenant_id}
    )
    assert integration is not None
    ciphertexts = [integration["access_token"], integration["refresh_token"]]
    assert VICTIM_TOKEN not in str(integration)  # stored encrypted
    secrets = {
        "victim access token": VICTIM_TOKEN,
        "victim refresh token": VICTIM_REFRESH,
        "attacker access token": ATTACKER_TOKEN,
        "API secret": settings.shopify_api_secret,
        "victim API key": world.victim.api_key,
        "attacker API key": world.attacker.api_key,
        "access token ciphertext": ciphertexts[0],
        "refresh token ciphertext": ciphertexts[1],
    }
    with caplog.at_level(logging.DEBUG):
        texts = await _exercise(client, world, settings)
    assert len(texts) > 50
    formatter = JsonFormatter()
    written = [formatter.format(record) for record in caplog.records]
    raw = [
        " ".join(
            [
                record.getMessage(),
                str(record.exc_info[1]) if record.exc_info else "",
                *(str(v) for k, v in vars(record).items() if k not in ("msg", "args")),
            ]
        )
        for record in caplog.records
    ]
    for label, secret in secrets.items():
        assert not [t for t in texts if secret in t], f"{label} in a response"
        assert not [line for line in written if secret in line], f"{label} in the written log"
        assert not [line for line in raw if secret in line], f"{label} in a raw log record"
