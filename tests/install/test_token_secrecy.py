"""Tokens are never stored, logged or returned in clear; key rotation keeps every token readable."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from cryptography.fernet import Fernet

from app.clock import utcnow
from app.config import Settings
from app.db import Database
from app.models import ShopifyIntegration, WebhookEndpoint
from app.models.return_request import ReturnEventType
from app.services.integration.integrations import check_tokens, rotate_token_keys
from app.services.integration.session import StoredTokenSource, admin_client_for
from app.services.integration.token_cipher import TokenCipher
from app.services.notifications.endpoints import EndpointInput, create_endpoint, signing_secrets
from tests.factories import merchant_headers
from tests.install.helpers import connect_sim_shop, install
from tests.install.test_integration_graphql import INTEGRATION
from tools.shopify_sim import SimulatorControl


async def plaintexts(tenant_id: str, settings: Settings) -> list[str]:
    record = await ShopifyIntegration.find_one({"tenant_id": tenant_id})
    assert record is not None and record.access_token and record.refresh_token
    cipher = TokenCipher(settings.encryption_keys)
    return [cipher.decrypt(record.access_token), cipher.decrypt(record.refresh_token)]


async def every_document(db: Database) -> str:
    dump = []
    for name in await db.db.list_collection_names():
        dump += [repr(doc) async for doc in db.db[name].find({})]
    return "\n".join(dump)


async def test_tokens_never_appear_in_clear_in_db_logs_or_api(
    client: httpx.AsyncClient,
    sim_http: httpx.AsyncClient,
    sim_control: SimulatorControl,
    settings: Settings,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    done = await install(client, sim_http)
    secrets = await plaintexts(done.tenant_id, settings)
    await sim_control.expire_tokens(done.shop)  # force a refresh through a 401
    admin = await admin_client_for(done.tenant_id, settings, sim_http)
    await admin.execute("{ shop { name } }")
    secrets += await plaintexts(done.tenant_id, settings)
    assert len(set(secrets)) == 4
    response = await client.post(
        "/graphql", json={"query": INTEGRATION}, headers=await merchant_headers(done.tenant_id)
    )

    stored = await every_document(db)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    for secret in secrets:
        assert secret not in stored
        assert secret not in logged
        assert secret not in response.text
        assert secret not in done.response.text
        assert secret not in done.response.headers.get("location", "")


async def test_key_rotation_leaves_every_token_readable(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenants = [(await connect_sim_shop(sim_control, settings))[0] for _ in range(3)]
    before = {t: await plaintexts(t, settings) for t in tenants}
    # A merchant's webhook signing secret is stored with the same keys.
    hook = await create_endpoint(
        tenants[0],
        EndpointInput(url="https://hooks.example.com/returns", topics=list(ReturnEventType)),
        settings,
    )
    assert hook.endpoint is not None and hook.secret is not None
    new_key = Fernet.generate_key().decode()
    both = settings.model_copy(update={"encryption_keys": [new_key, *settings.encryption_keys]})
    only_new = settings.model_copy(update={"encryption_keys": [new_key]})

    first = await rotate_token_keys(both)
    again = await rotate_token_keys(both)

    assert (first.rotated, first.current, first.failed) == (7, 0, [])
    assert (again.rotated, again.current, again.failed) == (0, 7, [])
    stored = await WebhookEndpoint.find_one({"_id": hook.endpoint.id})
    assert stored is not None
    assert signing_secrets(stored, only_new, utcnow()) == [hook.secret]
    for tenant_id in tenants:
        assert await plaintexts(tenant_id, only_new) == before[tenant_id]
        check = await check_tokens(tenant_id, only_new)
        assert check is not None and check.readable
        assert [info.key_index for info in check.tokens] == [0, 0]
        assert all(before[tenant_id][0] not in (info.prefix or "") for info in check.tokens)
    # The rotated tokens still work against Shopify, refresh included.
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenants[0]}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    token = await StoredTokenSource(tenants[0], only_new, sim_http).access_token()
    assert token != before[tenants[0]][0]


async def test_rotation_reports_undecryptable_tokens(
    sim_control: SimulatorControl, settings: Settings, db: Database
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    stranger = settings.model_copy(update={"encryption_keys": [Fernet.generate_key().decode()]})
    report = await rotate_token_keys(stranger)
    assert report.rotated == 0
    assert report.failed == [f"{tenant_id}:access_token", f"{tenant_id}:refresh_token"]
    check = await check_tokens(tenant_id, stranger)
    assert check is not None and not check.readable


async def test_concurrent_rotation_and_refresh_lose_no_token(
    sim_control: SimulatorControl, sim_http: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    await ShopifyIntegration.get_pymongo_collection().update_one(
        {"tenant_id": tenant_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    new_key = Fernet.generate_key().decode()
    both = settings.model_copy(update={"encryption_keys": [new_key, *settings.encryption_keys]})
    token, _ = await asyncio.gather(
        StoredTokenSource(tenant_id, both, sim_http).access_token(), rotate_token_keys(both)
    )
    assert (await plaintexts(tenant_id, both))[0] == token
