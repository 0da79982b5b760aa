"""Capturing what Shopify (the simulator) sends, byte for byte, to re-send it as an attacker can.

Whoever holds one delivery (a proxy log, a leaked request dump) holds a body and its valid HMAC;
the headers around them are theirs to choose: topic, shop, event id, time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from app.clock import utcnow
from app.config import Settings
from app.models import ShopifyIntegration
from app.services.integration.token_cipher import TokenCipher
from app.services.integration.webhook_subscriptions import WEBHOOK_TOPICS, topic_enum
from tests.simulator_fixtures import WebhookReceiver
from tools.shopify_sim import SimulatorControl

SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""
TOPIC_ENUMS = {topic: topic_enum(topic) for topic in WEBHOOK_TOPICS}


@dataclass(frozen=True)
class CapturedDelivery:
    """One delivery as Shopify sent it: its topic and shop, the raw body and its signature."""

    topic: str
    shop: str
    body: bytes
    signature: str
    original_headers: dict[str, str]  # every X-Shopify-* header as Shopify sent it

    async def deliver_original(self, client: httpx.AsyncClient) -> httpx.Response:
        """The delivery exactly as Shopify made it (what a relay in between would pass on)."""
        headers = {"Content-Type": "application/json", **self.original_headers}
        return await client.post(f"/api/webhooks/{self.topic}", content=self.body, headers=headers)

    def headers(self, *, topic: str | None = None, shop: str | None = None) -> dict[str, str]:
        """The signed body's headers, re-chosen: a fresh event id and timestamp, and the topic
        and shop the sender wants (the HMAC covers none of them)."""
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic or self.topic,
            "X-Shopify-Shop-Domain": shop or self.shop,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": utcnow().isoformat(),
            "X-Shopify-Hmac-Sha256": self.signature,
        }

    async def send(
        self, client: httpx.AsyncClient, *, topic: str | None = None, shop: str | None = None
    ) -> httpx.Response:
        """POST the captured body to `topic`'s route, with that topic and `shop` in the headers."""
        topic = topic or self.topic
        return await client.post(
            f"/api/webhooks/{topic}",
            content=self.body,
            headers=self.headers(topic=topic, shop=shop),
        )


class Capturer:
    """Points a shop's webhooks (its subscriptions and its compliance URL) at the receiver and
    hands back each delivery Shopify makes there."""

    def __init__(
        self, control: SimulatorControl, receiver: WebhookReceiver, settings: Settings
    ) -> None:
        self.control = control
        self.receiver = receiver
        self.settings = settings
        self._base = f"/capture/{uuid.uuid4().hex[:10]}"
        self._seen: dict[str, int] = {}

    def _path(self, shop: str, topic: str) -> str:
        return f"{self._base}/{shop}/{topic}"

    async def subscribe(self, shop: str, *topics: str) -> None:
        """Subscribe the receiver with the app's stored token (as `registerShopifyWebhooks`
        would subscribe the app)."""
        integration = await ShopifyIntegration.find_one({"shop_domain": shop})
        assert integration is not None and integration.access_token is not None
        token = TokenCipher(self.settings.encryption_keys).decrypt(integration.access_token)
        url = f"{self.control.base_url}/{shop}/admin/api/2026-10/graphql.json"
        for topic in topics:
            response = await self.control.http.post(
                url,
                json={
                    "query": SUBSCRIBE,
                    "variables": {
                        "topic": TOPIC_ENUMS[topic],
                        "sub": {
                            "callbackUrl": self.receiver.url(self._path(shop, topic)),
                            "format": "JSON",
                        },
                    },
                },
                headers={"X-Shopify-Access-Token": token},
            )
            body = response.json()
            assert not body["data"]["webhookSubscriptionCreate"]["userErrors"], body

    def compliance_url(self, shop: str) -> str:
        return self.receiver.url(f"{self._base}/{shop}/{{topic}}")

    async def next(self, shop: str, topic: str) -> CapturedDelivery:
        """The next delivery of `topic` to `shop`'s receiver (waits for it)."""
        path = self._path(shop, topic)
        wanted = self._seen.get(path, 0) + 1
        delivery = await self._delivery(shop, topic, wanted)
        self._seen[path] = wanted
        return delivery

    async def first_of(self, shop: str, topic: str) -> CapturedDelivery:
        """The first delivery of `topic` to `shop`'s receiver, however many came since."""
        return await self._delivery(shop, topic, 1)

    async def _delivery(self, shop: str, topic: str, number: int) -> CapturedDelivery:
        received = await self.receiver.wait_for(self._path(shop, topic), number)
        assert len(received) >= number, f"no {topic} delivery for {shop}"
        delivery = received[number - 1]
        return CapturedDelivery(
            topic=delivery.headers["x-shopify-topic"],
            shop=delivery.headers["x-shopify-shop-domain"],
            body=delivery.body,
            signature=delivery.headers["x-shopify-hmac-sha256"],
            original_headers={
                name: value
                for name, value in delivery.headers.items()
                if name.startswith("x-shopify-")
            },
        )
