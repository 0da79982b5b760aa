"""Settings: `.env.example` lists every one; production refuses placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert listed == expected


def test_app_url_trailing_slash_is_stripped() -> None:
    settings = Settings(_env_file=None, app_url="https://rms.example.com/")
    assert settings.oauth_redirect_uri == "https://rms.example.com/api/auth/shopify/callback"
    assert (
        settings.webhook_address("orders/create")
        == "https://rms.example.com/api/webhooks/orders/create"
    )


def test_lists_come_from_comma_separated_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_SCOPES", "read_orders, write_returns")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example,https://b.example")
    settings = Settings(_env_file=None)
    assert settings.shopify_scopes == ["read_orders", "write_returns"]
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]


def test_production_refuses_placeholder_secrets() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, environment="production", app_url="https://x.example")
    message = str(raised.value)
    assert "SHOPIFY_API_SECRET" in message
    assert "ENCRYPTION_KEYS" in message


def test_production_starts_with_real_secrets_and_serves_no_graphiql() -> None:
    settings = Settings(
        _env_file=None,
        environment="production",
        app_url="https://rms.example.com",
        shopify_api_key="a1b2c3",
        shopify_api_secret="shpss_realistic_secret_value",
        encryption_keys=[Fernet.generate_key().decode()],
    )
    assert settings.graphiql_on is False


def test_invalid_encryption_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, encryption_keys=["not-a-key"])


def test_env_example_itself_is_a_valid_configuration() -> None:
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings.graphiql_enabled is None
    assert settings.graphiql_on is True


def test_page_size_cannot_exceed_the_contracts_cap() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, graphql_max_page_size=500)
