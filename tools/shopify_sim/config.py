"""Configuration of the simulated Shopify platform (one app, many shops)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BucketConfig:
    """Leaky bucket of query cost, per shop and app."""

    maximum: float = 1000.0
    restore_rate: float = 50.0


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator trusts and how it behaves.

    `webhook_time_scale` multiplies every webhook retry delay (1.0 means 1 s, 2 s, 4 s ... 128 s;
    tests pass e.g. 0.01 so retries happen in milliseconds).

    `app_proxy_url`: where the storefront's app proxy (`https://{shop}/{prefix}/{subpath}/...`)
    forwards to; None: no app proxy (its paths answer 404). Changeable at runtime through
    `PUT /_sim/app-proxy`.
    """

    api_key: str = "sim-api-key"
    api_secret: str = "sim-api-secret"
    seed: int = 1
    default_orders: int = 250
    bucket: BucketConfig = field(default_factory=BucketConfig)
    single_query_max_cost: int = 1000
    token_lifetime_seconds: int = 3600
    refresh_token_lifetime_seconds: int = 90 * 24 * 3600
    webhook_time_scale: float = 1.0
    webhook_retry_base_seconds: float = 1.0
    webhook_max_retries: int = 8
    webhook_connect_timeout: float = 1.0
    webhook_read_timeout: float = 5.0
    remove_failing_subscriptions: bool = True
    compliance_url: str | None = None
    shops: tuple[str, ...] = ()
    app_proxy_url: str | None = None
    app_proxy_prefix: str = "apps"
    app_proxy_subpath: str = "returns"
    app_proxy_timeout_seconds: float = 10.0
    api_versions: tuple[str, ...] = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
