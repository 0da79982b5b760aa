"""The service as deployed: its own background runner (`RUN_BACKGROUND_JOBS=true`) dispatches a
return's events and sends them, to a webhook receiver and through SMTP, with nothing driven by
the test but the API. What `build_workers` wires (the renderer handed in from the GraphQL edge,
the email senders only with `SMTP_URL`) is what runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import graphql, make_tenant, merchant_headers
from tests.notifications.conftest import MailServer
from tests.returns.builders import create, return_input, shop_order
from tests.simulator_fixtures import WebhookReceiver

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret userErrors { code } }
}"""


@pytest.fixture
def settings(mongo_uri: str, mail_server: MailServer) -> Settings:
    return make_settings(
        mongo_uri, run_background_jobs=True, smtp_url=f"smtp://127.0.0.1:{mail_server.port}"
    )


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


async def _until(check: object, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "the runner did not deliver in time"
        await asyncio.sleep(0.1)


async def test_the_runner_delivers_a_new_returns_webhook_and_email(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    webhook_receiver: WebhookReceiver,
    mail_server: MailServer,
) -> None:
    tenant = await make_tenant("wired")
    headers = await merchant_headers(tenant.id)
    path = webhook_receiver.new_path(200)
    made = await graphql(
        client,
        CREATE,
        {"input": {"url": webhook_receiver.url(path), "topics": ["RETURN_REQUESTED"]}},
        headers,
    )
    secret = made["data"]["createWebhookEndpoint"]["secret"]
    order = await shop_order(tenant.id, 1001)
    await create(client, tenant.id, return_input(order))
    await _until(lambda: webhook_receiver.at(path) and mail_server.to("customer@example.com"))
    [message] = webhook_receiver.at(path)
    assert Webhook(secret).verify(message.body, message.headers)["type"] == "return.requested"
    [mail] = mail_server.to("customer@example.com")
    assert mail["Subject"] == "We received your return request for order #1001"
