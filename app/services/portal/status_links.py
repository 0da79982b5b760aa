"""Status links: the unguessable, signed address at which a customer follows a return.

A link is `{return id}.{tag}`, the tag an HMAC-SHA256 (truncated to 128 bits) of the tenant and
the return, keyed with a key derived from the app's API secret. Nothing is stored: a link for
another shop, another return or with one character changed does not verify, and a return's link
works for as long as the return exists. Changing `SHOPIFY_API_SECRET` invalidates every link sent
before (the emails' links among them); rotating that secret is rare and already a re-install.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import Settings
from app.models import Return, Tenant

_TAG_BYTES = 16
_TOKEN = re.compile(r"([0-9a-f]{24})\.([A-Za-z0-9_-]{22})")
_KEY_INFO = b"returns-portal status link v1"


@lru_cache(maxsize=4)
def _link_key(secret: str) -> bytes:
    # Its own key, so a status link's tag is never a valid HMAC for anything else the secret signs.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret.encode()
    )


def _tag(secret: str, tenant_id: str, return_id: str) -> str:
    digest = hmac.new(
        _link_key(secret), f"{tenant_id}\n{return_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:_TAG_BYTES]).decode().rstrip("=")


def status_token(secret: str, tenant_id: str, return_id: str) -> str:
    """The token of a return's status link."""
    return f"{return_id}.{_tag(secret, tenant_id, return_id)}"


def verified_return_id(secret: str, tenant_id: str, token: str) -> str | None:
    """The return id a token names when it was made for this tenant; `None` otherwise."""
    matched = _TOKEN.fullmatch(token.strip()) if len(token) < 100 else None
    if matched is None:
        return None
    return_id, tag = matched.groups()
    if not hmac.compare_digest(tag.encode(), _tag(secret, tenant_id, return_id).encode()):
        return None
    return return_id


def status_links(settings: Settings) -> Callable[[Return, Tenant], str]:
    """A return's status page at the app's own address, for its customer's emails (it needs no
    app proxy, so it works for any shop and from any mail client)."""

    def link(record: Return, tenant: Tenant) -> str:
        token = status_token(settings.shopify_api_secret, record.tenant_id, str(record.id))
        return f"{settings.app_url.rstrip('/')}/portal/{tenant.shop_domain}/returns/{token}"

    return link
