"""The portal's page shell: a small HTML document (or, through the app proxy, a Liquid fragment
the shop's theme wraps) that carries the page's configuration and loads `portal.js`.

Everything the first screen needs is in the shell (the shop's branding, the message catalog of
the customer's language), so the page is interactive after one API round trip at most. The
configuration is a JSON data block, not a script: the page's CSP allows scripts from this origin
only, and `</script>` inside a shop's text cannot end the block (`<`, `>` and `&` are escaped).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from app.models.email_notification import LOCALES
from app.models.portal_settings import PortalSettings

PORTAL_DIR: Final = Path(__file__).resolve().parents[2] / "portal"
STATIC_DIR: Final = PORTAL_DIR / "static"
MESSAGES_DIR: Final = PORTAL_DIR / "messages"
ASSETS: Final = {
    "portal.js": "text/javascript; charset=utf-8",
    "portal.css": "text/css; charset=utf-8",
}
DEFAULT_LOCALE: Final = "en"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class PageConfig:
    """What the shell tells portal.js (mode `guest`, `customer` or `status`)."""

    mode: str
    graphql_url: str
    photos_url: str  # POST a photo there (`services/returns/photos.py`)
    tenant_id: str | None  # sent as X-Tenant-Id; None through the proxy (the shop is signed)
    status_path: str
    status_token: str | None
    shop_name: str
    shop_domain: str
    locale: str
    branding: PortalSettings


def asset(name: str) -> Asset | None:
    """A portal asset, read once per process (with its gzip), or None for any other name."""
    # Checked before the cache: other names must not take the assets' places in it.
    return _asset(name) if name in ASSETS else None


@lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> Asset:
    media_type = ASSETS[name]
    body = (STATIC_DIR / name).read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        media_type=media_type,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
    )


@lru_cache(maxsize=1)
def assets_version() -> str:
    """Changes whenever an asset does: the shell's asset URLs carry it, so they can be cached
    for a year and a deploy is still seen at once."""
    digest = hashlib.sha256()
    for name in sorted(ASSETS):
        found = asset(name)
        digest.update(found.body if found else b"")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=len(LOCALES))
def catalog(locale: str) -> dict[str, str]:
    """The page's messages in one of `LOCALES`."""
    loaded = json.loads((MESSAGES_DIR / f"{locale}.json").read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in loaded.items()}


def negotiate_locale(accept_language: str | None, shop_locale: str | None) -> str:
    """The customer's language when we have it (`Accept-Language`, by its weights), else the
    shop's, else English."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        language = tag.strip().lower().split("-", 1)[0]
        if language in LOCALES and weight > 0:
            ranked.append((-weight, position, language))
    if ranked:
        return min(ranked)[2]
    return shop_locale if shop_locale in LOCALES else DEFAULT_LOCALE


_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")


def logo_origin(url: str) -> str | None:
    """`https://host[:port]` of an https address with a plain DNS name, or None. What goes into
    the CSP header is rebuilt from the parts, never copied: a netloc can hold `;` and a
    directive of its own, or characters a header cannot carry."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme != "https" or parts.username or parts.password or not _HOST.fullmatch(host):
        return None
    return f"https://{host}" + (f":{port}" if port else "")


def content_security_policy(logo_url: str | None) -> str:
    """Scripts, styles and API calls from this origin only; images also from the logo's origin
    (the merchant's own, https by `updatePortalSettings`)."""
    images = "'self'"
    origin = logo_origin(logo_url) if logo_url else None
    if origin:
        images += f" {origin}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


def _config_json(config: PageConfig) -> str:
    branding = config.branding
    data: dict[str, Any] = {
        "mode": config.mode,
        "graphqlUrl": config.graphql_url,
        "photosUrl": config.photos_url,
        "tenantId": config.tenant_id,
        "statusPath": config.status_path,
        "statusToken": config.status_token,
        "shop": {"name": config.shop_name, "domain": config.shop_domain},
        "locale": config.locale,
        "branding": {
            "logoUrl": branding.logo_url,
            "accentColor": branding.accent_color,
            "heading": branding.heading,
            "intro": branding.intro,
            "confirmationText": branding.confirmation_text,
        },
        "messages": catalog(config.locale),
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    # Through the proxy, Shopify reads the answer as Liquid, where `{{` and `{%` open a tag. In
    # JSON both can only occur inside strings, where an escaped brace means the same.
    return text.replace("{{", "\\u007b\\u007b").replace("{%", "\\u007b%")


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def render_page(config: PageConfig, asset_base: str, *, fragment: bool) -> str:
    """The shell: a whole document, or (`fragment`, the app proxy's Liquid answer) the part a
    theme puts in its body. Liquid would read `{{` and `{%` in a shop's text as its own: the
    JSON block escapes `{{` and `{%`, so nothing in it is ever a Liquid tag."""
    version = assets_version()
    messages = catalog(config.locale)
    config_json = _config_json(config)
    loading = _escape(messages["page.loading"])
    noscript = _escape(messages["page.noscript"])
    # Inside a theme the page is a region of the theme's own <main>: one main landmark a page.
    tag = "div" if fragment else "main"
    body = (
        f'<link rel="stylesheet" href="{asset_base}/portal.css?v={version}">\n'
        f'<{tag} id="portal" class="portal" lang="{config.locale}">'
        f"<p>{loading}</p><noscript><p>{noscript}</p></noscript></{tag}>\n"
        f'<script type="application/json" id="portal-config">{config_json}</script>\n'
        f'<script src="{asset_base}/portal.js?v={version}" defer></script>\n'
    )
    if fragment:
        return body
    title = _escape(messages["page.title"].replace("{shop}", config.shop_name))
    return (
        f'<!doctype html>\n<html lang="{config.locale}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
