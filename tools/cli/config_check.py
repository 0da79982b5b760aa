"""`rms config check`: the runbook's "verify APP_URL and redirect URLs", and the secrets around it.

Prints the URLs the Shopify app configuration must hold, and flags what breaks installs or
webhooks: a trailing slash or http:// in APP_URL, bad Fernet keys, placeholder secrets.
Exit code 1 when anything is an error.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pydantic import ValidationError

from app.config import DEVELOPMENT_ENCRYPTION_KEY, PLACEHOLDER_SECRETS, Settings

# Registered through the Admin API (`registerShopifyWebhooks`) at these addresses.
SUBSCRIBED_TOPICS = ("orders/create", "orders/updated", "app/uninstalled")
# Mandatory privacy webhooks: set in the Partner dashboard / app configuration, not by the API.
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# App-wide subscriptions in shopify.app.toml (no per-shop registration exists for them).
APP_CONFIG_TOPICS = ("app/scopes_update",)
REQUIRED_SCOPES = ("read_orders", "read_customers")
_API_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "testserver"}


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "error" | "warning"
    setting: str
    message: str


def raw_values(env_file: Path | None) -> dict[str, str]:
    """What the settings are read from, before validation: `.env`, then the environment."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.exists():
        values.update({k.upper(): v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update({k.upper(): v for k, v in os.environ.items()})
    return values


def _is_placeholder(value: str | None) -> bool:
    return value is None or value.strip().lower() in PLACEHOLDER_SECRETS


def check_values(raw: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    production = raw.get("ENVIRONMENT", "development").strip().lower() == "production"
    serious = "error" if production else "warning"

    def add(level: str, setting: str, message: str) -> None:
        findings.append(Finding(level, setting, message))

    app_url = raw.get("APP_URL", "").strip()
    if not app_url:
        add(serious, "APP_URL", "not set: the default http://127.0.0.1:8000 is used")
    else:
        parts = urlsplit(app_url)
        if app_url.endswith("/"):
            add(
                "warning",
                "APP_URL",
                "has a trailing slash: it is stripped here, but the App URL and redirection URL "
                "in the Shopify app settings must be entered without one",
            )
        if parts.scheme not in ("http", "https") or not parts.netloc:
            add("error", "APP_URL", f"{app_url!r} is not an absolute http(s) URL")
        elif parts.scheme == "http" and (production or parts.hostname not in _LOCAL_HOSTS):
            add(
                serious,
                "APP_URL",
                "uses http://: Shopify requires https for the redirection URL and webhooks",
            )
        if parts.query or parts.fragment:
            add("error", "APP_URL", "must not carry a query string or fragment")

    for name in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET"):
        if _is_placeholder(raw.get(name)):
            add(serious, name, "missing or a placeholder value")

    keys = [k.strip() for k in raw.get("ENCRYPTION_KEYS", "").split(",") if k.strip()]
    if not keys:
        add(serious, "ENCRYPTION_KEYS", "not set: the development key encrypts Shopify tokens")
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            add("error", "ENCRYPTION_KEYS", f"entry {index} is not a valid Fernet key")
    if DEVELOPMENT_ENCRYPTION_KEY in keys:
        add(serious, "ENCRYPTION_KEYS", "still holds the development key")
    if len(set(keys)) != len(keys):
        add("warning", "ENCRYPTION_KEYS", "lists the same key twice")

    scopes = [s.strip() for s in raw.get("SHOPIFY_SCOPES", "").split(",") if s.strip()]
    if scopes:
        missing = [scope for scope in REQUIRED_SCOPES if scope not in scopes]
        if missing:
            add("warning", "SHOPIFY_SCOPES", f"lacks {', '.join(missing)}: sync cannot read them")

    version = raw.get("SHOPIFY_API_VERSION", "").strip()
    if version and not _API_VERSION.match(version):
        add(
            "warning",
            "SHOPIFY_API_VERSION",
            f"{version!r} is not a Shopify release (YYYY-01/04/07/10)",
        )

    smtp = raw.get("SMTP_URL", "").strip()
    if not smtp:
        add("warning", "SMTP_URL", "not set: no emails are sent to customers or staff")
    else:
        parts = urlsplit(smtp)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            # never repeated: it may hold a password
            add("error", "SMTP_URL", "is not smtp://[user:pass@]host[:port] or smtps://...")
        elif production and parts.hostname in _LOCAL_HOSTS:
            add("warning", "SMTP_URL", "points at this machine (a local relay?) in production")

    if (
        raw.get("EASYPOST_API_KEY", "").strip()
        and not raw.get("EASYPOST_WEBHOOK_SECRET", "").strip()
    ):
        add(
            "warning",
            "EASYPOST_WEBHOOK_SECRET",
            "not set while labels are bought: every tracking event is refused (401); set the"
            " secret of the EasyPost webhook posting to {APP_URL}/api/webhooks/easypost",
        )

    admin = raw.get("SHOPIFY_ADMIN_BASE_URL", "").strip()
    if admin and "{shop}" not in admin:
        add("error", "SHOPIFY_ADMIN_BASE_URL", "must contain the {shop} placeholder")
    elif admin and production and not admin.startswith("https://"):
        add("error", "SHOPIFY_ADMIN_BASE_URL", "is not https:// (the simulator?) in production")
    return findings


APP_TOML = "shopify.app.toml"
# Asked for in shopify.app.toml so Shopify sets the app proxy up; no API call of ours uses it.
APP_PROXY_SCOPE = "write_app_proxy"
CONFIGURATION_SCOPES = frozenset({APP_PROXY_SCOPE})


def portal_proxy_url(app_url: str) -> str:
    """The app proxy's URL: Shopify forwards the storefront's `/apps/returns/...` there."""
    return f"{app_url.rstrip('/')}/portal/proxy"


def check_app_toml(path: Path, settings: Settings) -> list[Finding]:
    """Where `shopify.app.toml` (what Shopify is told) and the settings (what the service does)
    disagree: each difference breaks installs, webhooks or API calls in its own way."""
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [Finding("error", APP_TOML, f"cannot be read: {exc}")]
    findings: list[Finding] = []
    level = "error" if settings.is_production else "warning"

    def differs(key: str, found: object, expected: object, why: str) -> None:
        if found != expected:
            findings.append(
                Finding(
                    level, f"{APP_TOML} {key}", f"is {found!r}, settings say {expected!r}: {why}"
                )
            )

    differs("client_id", config.get("client_id"), settings.shopify_api_key, "session tokens fail")
    # What Shopify opens in the admin: the embedded front end when there is one.
    front_end = (settings.shopify_app_home_url or settings.app_url).rstrip("/")
    differs(
        "application_url",
        str(config.get("application_url", "")).rstrip("/"),
        front_end,
        "Shopify opens another address in the admin",
    )
    redirects = (config.get("auth") or {}).get("redirect_urls") or []
    if settings.oauth_redirect_uri not in redirects:
        findings.append(
            Finding(
                level,
                f"{APP_TOML} auth.redirect_urls",
                f"lacks {settings.oauth_redirect_uri}: Shopify refuses the install callback",
            )
        )
    scopes = str((config.get("access_scopes") or {}).get("scopes", ""))
    listed = {s.strip() for s in scopes.split(",") if s.strip()}
    differs(
        "access_scopes.scopes",
        sorted(listed - CONFIGURATION_SCOPES),
        sorted(set(settings.shopify_scopes) - CONFIGURATION_SCOPES),
        "installs are refused for missing scopes, or ask for more than the service uses",
    )
    proxy = config.get("app_proxy") or {}
    differs(
        "app_proxy.url",
        str(proxy.get("url", "")).rstrip("/"),
        portal_proxy_url(settings.app_url),
        "the storefront returns page is forwarded elsewhere",
    )
    if APP_PROXY_SCOPE not in listed:
        findings.append(
            Finding(
                level,
                f"{APP_TOML} access_scopes.scopes",
                f"lacks {APP_PROXY_SCOPE}: Shopify does not set up the app proxy without it",
            )
        )
    webhooks = config.get("webhooks") or {}
    differs(
        "webhooks.api_version",
        webhooks.get("api_version"),
        settings.shopify_api_version,
        "payloads arrive in another version than the Admin API calls use",
    )
    subscribed = {
        topic: str(entry.get("uri", ""))
        for entry in webhooks.get("subscriptions") or []
        for topic in [*(entry.get("compliance_topics") or []), *(entry.get("topics") or [])]
    }
    for topic in (*COMPLIANCE_TOPICS, *APP_CONFIG_TOPICS):
        expected = f"{settings.app_url}/api/webhooks/{topic}"
        if subscribed.get(topic) != expected:
            findings.append(
                Finding(
                    level,
                    f"{APP_TOML} webhooks",
                    f"topic {topic} goes to {subscribed.get(topic)!r}, not {expected}",
                )
            )
    return findings


def check_settings(env_file: Path | None) -> tuple[Settings | None, list[Finding]]:
    try:
        return Settings(_env_file=env_file), []
    except ValidationError as exc:
        return None, [
            Finding("error", "settings", f"the service refuses to start: {error['msg']}")
            for error in exc.errors()
        ]


def run(args: argparse.Namespace) -> int:
    env_file = Path(args.env_file) if args.env_file else None
    raw = raw_values(env_file)
    findings = check_values(raw)
    settings, refused = check_settings(env_file)
    findings += refused
    app_toml = Path(args.app_toml)
    if settings is not None and app_toml.exists():
        findings += check_app_toml(app_toml, settings)
    app_url = settings.app_url if settings else raw.get("APP_URL", "").strip().rstrip("/")
    redirect = f"{app_url}/api/auth/shopify/callback"
    print("Shopify app configuration (Partner dashboard > App setup) must hold exactly:")
    print(f"  App URL                  {app_url}")
    print(f"  Allowed redirection URL  {redirect}")
    print(f"  App proxy URL            {portal_proxy_url(app_url)}  (prefix apps, subpath returns)")
    print("Webhook subscriptions (registered by registerShopifyWebhooks / on install):")
    for topic in SUBSCRIBED_TOPICS:
        print(f"  {topic:<24} {app_url}/api/webhooks/{topic}")
    print("App configuration webhooks (shopify.app.toml, or the Partner dashboard):")
    for topic in (*APP_CONFIG_TOPICS, *COMPLIANCE_TOPICS):
        print(f"  {topic:<24} {app_url}/api/webhooks/{topic}")
    errors = [f for f in findings if f.level == "error"]
    if findings:
        print("Findings:")
        for finding in sorted(findings, key=lambda f: f.level):
            print(f"  {finding.level.upper():<7} {finding.setting}: {finding.message}")
    print(
        f"{len(errors)} errors, {len(findings) - len(errors)} warnings"
        if findings
        else "configuration OK"
    )
    return 1 if errors else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check the configuration")
    commands = parser.add_subparsers(title="config commands", metavar="ACTION", required=True)
    check = commands.add_parser(
        "check", help="print the URLs Shopify must have; flag bad URLs, keys and secrets"
    )
    check.add_argument("--env-file", default=".env", help="the .env file to read (default .env)")
    check.add_argument(
        "--app-toml",
        default=APP_TOML,
        help=f"the Shopify app configuration to compare with the settings (default {APP_TOML})",
    )
    check.set_defaults(func=run)
