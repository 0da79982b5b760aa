"""Service settings: read once from the environment or `.env`, then injected everywhere."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values shipped in `.env.example`; production refuses to start with any of them.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "dev-secret",
        "dev-api-key",
        "your_shopify_secret",
        "your_shopify_api_key",
        "shpss_placeholder",
    }
)
# A well-known development-only Fernet key (the same one `.env.example` carries).
DEVELOPMENT_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZC11c2U="


SMTP_URL_HELP = (
    "SMTP_URL must be smtp://[user:pass@]host[:port] (STARTTLS) or smtps://... (implicit TLS); "
    "percent-encode / # ? @ in the user or password"
)


class Settings(BaseSettings):
    """Every setting of the public contract, plus the few operational knobs around it."""

    # A refused value is not repeated in the error: several hold secrets (SMTP_URL, keys).
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "production", "test"] = "development"

    mongodb_uri: str = "mongodb://127.0.0.1:27018"
    mongodb_db: str = "returns_management"
    mongodb_timeout_ms: int = Field(default=2000, ge=100)
    mongodb_max_pool_size: int = Field(default=100, ge=1)
    # No call waits forever on a database that died mid-answer (a socket read), or for a pooled
    # connection; a worker then fails the attempt and its lease lets another take over.
    mongodb_socket_timeout_ms: int = Field(default=30000, ge=1000)
    mongodb_wait_queue_timeout_ms: int = Field(default=10000, ge=100)
    # The database budget of one inbound request (GraphQL, OAuth): past it the request answers
    # SERVICE_UNAVAILABLE / 503 instead of waiting on a stalled database. Background workers
    # are not under it (their socket timeouts and leases bound them).
    mongodb_request_timeout_ms: int = Field(default=5000, ge=100)

    app_url: str = "http://127.0.0.1:8000"

    shopify_api_key: str = "dev-api-key"
    shopify_api_secret: str = "dev-secret"
    shopify_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["read_orders", "read_customers", "read_returns", "write_returns"]
    )
    shopify_api_version: str = "2026-10"
    shopify_admin_base_url: str = "https://{shop}"
    # Where the browser goes after a successful install (the embedded app's front end).
    shopify_app_home_url: str = ""

    encryption_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [DEVELOPMENT_ENCRYPTION_KEY]
    )

    graphiql_enabled: bool | None = None
    graphiql_default_headers: str = ""
    # Proxies whose X-Forwarded-For is trusted (comma-separated addresses, uvicorn's own variable
    # name); empty: none, so a client cannot choose its own address (the portal's rate limit).
    forwarded_allow_ips: str = ""
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    run_background_jobs: bool = True
    sync_workers: int = Field(default=1, ge=1, le=16)
    sync_bulk_threshold: int = Field(default=5000, ge=1)
    sync_lease_seconds: float = Field(default=60.0, gt=0)
    sync_stale_after_seconds: float = Field(default=3600.0, gt=0)
    sync_incremental_overlap_seconds: float = Field(default=300.0, ge=0)
    webhook_workers: int = Field(default=2, ge=1, le=32)
    webhook_idle_seconds: float = Field(default=0.5, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=1800.0, gt=0)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    # Returns mirrored to Shopify at once per runner process (each holds its own return's lease):
    # one slow shop does not hold up the others, and a binding rate limit is used in full.
    returns_mirror_workers: int = Field(default=4, ge=1, le=32)
    # Merchants' webhook senders per runner process, each sending batches of 32 at once (a
    # send slower than 2 s finishes beside the sender's next batches).
    merchant_webhook_workers: int = Field(default=2, ge=1, le=32)
    merchant_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Emails to customers and staff: `smtp://user:pass@host:587` (STARTTLS when the server
    # offers it), `smtps://...:465` (implicit TLS). Empty: no emails are queued.
    smtp_url: str = Field(default="", repr=False)  # carries the password
    mail_from: str = "Returns <returns@localhost>"
    email_workers: int = Field(default=2, ge=1, le=16)
    # Return labels and tracking (EasyPost's REST API). Without a key no label is bought:
    # prepaid-label returns wait, visibly, until one is configured. The base URL points at the
    # carrier simulator in development and tests.
    easypost_api_key: str = Field(default="", repr=False)
    easypost_api_base_url: str = "https://api.easypost.com/v2"
    # Signs EasyPost's tracking webhooks (`X-Hmac-Signature`); empty: every delivery is refused.
    easypost_webhook_secret: str = Field(default="", repr=False)
    # Labels bought (and voided) at once per runner process, each under its own lease.
    label_workers: int = Field(default=2, ge=1, le=16)
    # When set, `systemStatus` needs a matching `X-Operator-Key` header; unset, production
    # refuses it and development accepts any merchant credential.
    operator_api_key: str = ""
    alert_disk_path: str = "."
    backup_dir: str = "backups"
    log_level: str = "INFO"
    log_json: bool = True

    graphql_max_depth: int = Field(default=12, ge=2)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_page_size: int = Field(default=100, ge=1, le=100)
    graphql_max_cost: int = Field(default=2000, ge=10)
    # A document is refused before parsing over this many bytes, while parsing over this many
    # tokens, and before validation over this many selections (fields and fragments): the
    # validation of repeated fields grows with the square of their number.
    graphql_max_document_bytes: int = Field(default=32_768, ge=1024)
    graphql_max_tokens: int = Field(default=3_000, ge=100)
    graphql_max_selections: int = Field(default=300, ge=10)
    # Longest String or ID input (an argument or an input field, in a variable or inline); free
    # text (notes, reasons) has its own limit (app/graphql/core/input_bounds.py).
    graphql_max_string_length: int = Field(default=255, ge=64)
    # Who may introspect the schema: public, merchants (authenticated), or off. Blank: public
    # outside production, merchants in production (schema/schema.graphql is the contract).
    graphql_introspection: Literal["public", "merchants", "off"] | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("graphiql_enabled", "graphql_introspection", mode="before")
    @classmethod
    def _blank_means_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_form(cls, value: str) -> str:
        """Refused at start, with a message that never repeats the URL (it holds a password)."""
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 (raises for a port that is not a number)
        except ValueError:
            raise ValueError(SMTP_URL_HELP) from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(SMTP_URL_HELP)
        return value

    @field_validator("app_url", "easypost_api_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("shopify_scopes", "encryption_keys", "cors_allowed_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _keys_are_fernet(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("ENCRYPTION_KEYS needs at least one Fernet key")
        for index, key in enumerate(value):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key "
                    "(generate one with `rms tokens generate-key`)"
                ) from exc
        return value

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        problems = []
        if self.shopify_api_secret.strip().lower() in PLACEHOLDER_SECRETS:
            problems.append("SHOPIFY_API_SECRET is missing or a placeholder")
        if self.shopify_api_key.strip().lower() in PLACEHOLDER_SECRETS:
            problems.append("SHOPIFY_API_KEY is missing or a placeholder")
        if DEVELOPMENT_ENCRYPTION_KEY in self.encryption_keys:
            problems.append("ENCRYPTION_KEYS still holds the development key")
        if not self.app_url.startswith("https://"):
            problems.append("APP_URL must be https:// in production")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def mongodb_request_timeout_seconds(self) -> float:
        return self.mongodb_request_timeout_ms / 1000

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def introspection(self) -> str:
        """GRAPHQL_INTROSPECTION, or its default for the environment."""
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return "merchants" if self.is_production else "public"

    @property
    def graphiql_on(self) -> bool:
        """GraphiQL is on in development unless disabled, off in production unless enabled."""
        if self.graphiql_enabled is not None:
            return self.graphiql_enabled
        return not self.is_production

    @cached_property
    def oauth_redirect_uri(self) -> str:
        return f"{self.app_url}/api/auth/shopify/callback"

    def webhook_address(self, topic: str) -> str:
        return f"{self.app_url}/api/webhooks/{topic}"

    def admin_base_url(self, shop: str) -> str:
        return self.shopify_admin_base_url.replace("{shop}", shop).rstrip("/")
