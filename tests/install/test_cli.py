"""`rms oauth|tokens|tenants` against the test database (the CLI runs in its own thread and loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from beanie import init_beanie
from cryptography.fernet import Fernet

from app.config import Settings
from app.db import Database
from app.models import DOCUMENT_MODELS, ApiKey, OAuthState, Tenant
from app.services.integration.install import issue_state
from app.services.integration.integrations import check_tokens
from tests.install.helpers import connect_sim_shop
from tools.cli import main
from tools.shopify_sim import SimulatorControl

Rms = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def rms(
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Rms:
    """Run `rms ...` with this test's settings in the environment; returns (code, out, err)."""

    async def run(*argv: str, keys: list[str] | None = None) -> tuple[int, str, str]:
        env = {
            "ENVIRONMENT": "test",
            "MONGODB_URI": settings.mongodb_uri,
            "MONGODB_DB": settings.mongodb_db,
            "ENCRYPTION_KEYS": ",".join(keys or settings.encryption_keys),
            "SHOPIFY_API_KEY": settings.shopify_api_key,
            "SHOPIFY_API_SECRET": settings.shopify_api_secret,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            code = await asyncio.to_thread(main, list(argv))
        finally:
            # The CLI initialised Beanie on its own (now closed) client: bind ours again.
            await init_beanie(database=db.db, document_models=DOCUMENT_MODELS, skip_indexes=True)
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def test_clear_states_deletes_pending_oauth_states(rms: Rms) -> None:
    await issue_state("a.myshopify.com")
    await issue_state("b.myshopify.com")
    code, out, _ = await rms("oauth", "clear-states")
    assert code == 0
    assert "deleted 2" in out
    assert await OAuthState.count() == 0


async def test_tokens_check_prints_a_prefix_and_the_key(
    rms: Rms, sim_control: SimulatorControl, settings: Settings
) -> None:
    tenant_id, shop = await connect_sim_shop(sim_control, settings)
    check = await check_tokens(tenant_id, settings)
    assert check is not None

    code, out, _ = await rms("tokens", "check", tenant_id)

    assert code == 0
    assert shop in out
    assert "access_token: shpat_... (38 chars) decrypted with key index 0" in out
    assert "refresh_token: shprt_..." in out
    assert "expires at 20" in out


async def test_tokens_check_fails_when_no_key_decrypts(
    rms: Rms, sim_control: SimulatorControl, settings: Settings
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    code, out, _ = await rms("tokens", "check", tenant_id, keys=[Fernet.generate_key().decode()])
    assert code == 1
    assert "UNDECRYPTABLE" in out


async def test_tokens_check_of_an_unknown_tenant_fails(rms: Rms) -> None:
    code, _, err = await rms("tokens", "check", "tenant-nobody")
    assert code == 1
    assert "no Shopify integration" in err


async def test_rotate_keys_then_the_old_key_can_go(
    rms: Rms, sim_control: SimulatorControl, settings: Settings
) -> None:
    tenant_id, _ = await connect_sim_shop(sim_control, settings)
    new_key = Fernet.generate_key().decode()
    keys = [new_key, *settings.encryption_keys]

    first = await rms("tokens", "rotate-keys", keys=keys)
    second = await rms("tokens", "rotate-keys", keys=keys)
    checked = await rms("tokens", "check", tenant_id, keys=[new_key])

    assert first[0] == 0 and "rotated 2, already on the first key 0, undecryptable 0" in first[1]
    assert second[0] == 0 and "rotated 0, already on the first key 2" in second[1]
    assert checked[0] == 0 and "decrypted with key index 0" in checked[1]


async def test_generate_key_prints_a_fernet_key(rms: Rms) -> None:
    code, out, _ = await rms("tokens", "generate-key")
    assert code == 0
    Fernet(out.strip().encode())


async def test_tenants_create_list_keys_and_revoke(rms: Rms) -> None:
    code, out, _ = await rms("tenants", "create", "RMS34.myshopify.com")
    assert code == 0 and out.strip() == "tenant-rms34\trms34.myshopify.com"
    assert (await rms("tenants", "create", "tenant-rms35"))[0] == 0
    assert (await rms("tenants", "create", "evil.com/x"))[0] == 2

    code, out, _ = await rms("tenants", "list")
    assert code == 0
    assert "tenant-rms34\trms34.myshopify.com\tnot installed" in out
    assert "tenant-rms35" in out
    assert await Tenant.count() == 2

    code, out, _ = await rms("tenants", "create-key", "tenant-rms34")
    assert code == 0 and out.startswith("rk_")
    assert await ApiKey.find({"tenant_id": "tenant-rms34"}).count() == 1
    assert (await rms("tenants", "create-key", "tenant-nobody"))[0] == 1

    code, out, _ = await rms("tenants", "revoke-keys", "tenant-rms34")
    assert code == 0 and "revoked 1" in out
