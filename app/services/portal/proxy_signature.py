"""Shopify's app proxy signature: what proves a storefront request came through Shopify.

Shopify forwards `https://{shop}/apps/returns/...` to our proxy URL and adds `shop`,
`logged_in_customer_id`, `path_prefix`, `timestamp` and `signature` to the query. The signature is
the hex HMAC-SHA256, keyed with the app's API secret, of every other parameter written as
`key=value` (a key given several times: its values joined by `,`), sorted by key and concatenated
with no separator. Until it is verified, `shop` and `logged_in_customer_id` are claims anyone can
make, so nothing reads them before `verify_proxy_request` has said yes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain

# How far a request's `timestamp` may be from our clock. Shopify signs each forwarded request as
# it forwards it, so a genuine one is seconds old; a copied URL is refused once this has passed.
MAX_SKEW_SECONDS = 90
MAX_CUSTOMER_ID_LENGTH = 32
DEFAULT_PATH_PREFIX = "/apps/returns"
_SHOPIFY_PARAMS = frozenset({"shop", "logged_in_customer_id", "path_prefix", "timestamp"})
_PATH_PREFIX = re.compile(r"/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


class ProxySignatureError(Exception):
    """The request did not come through Shopify's app proxy (or came too late)."""


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """What a verified proxy request says: the shop, and its signed-in customer if any."""

    shop_domain: str
    customer_id: str | None  # Shopify's numeric customer id; None when nobody is signed in
    path_prefix: str  # the storefront path the proxy is mounted at, e.g. `/apps/returns`
    timestamp: int


def proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """The signature Shopify computes for these query parameters (`signature` itself excluded)."""
    joined: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            joined.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(joined.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_proxy_request(
    params: Iterable[tuple[str, str]], secret: str, now: datetime
) -> ProxyRequest:
    """The verified request, or `ProxySignatureError`. `params`: the query string's pairs in
    order, repeated keys included (a multi-valued key is part of what Shopify signed)."""
    pairs = list(params)
    signatures = [value for key, value in pairs if key == "signature"]
    if len(signatures) != 1:
        raise ProxySignatureError("the request carries no single signature")
    expected = proxy_signature(pairs, secret)
    if not hmac.compare_digest(expected.encode(), signatures[0].strip().lower().encode()):
        raise ProxySignatureError("the signature does not match")
    # Signed: from here the values are Shopify's. Each must still be what Shopify sends, once:
    # `a=1&...&a=` signs as `a=1,`, and which of the two counts would be ours to guess.
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in _SHOPIFY_PARAMS and key in values:
            raise ProxySignatureError(f"{key} is given more than once")
        values[key] = value
    try:
        timestamp = int(values.get("timestamp", ""))
    except ValueError as exc:
        raise ProxySignatureError("the timestamp is not a number") from exc
    if abs(now.timestamp() - timestamp) > MAX_SKEW_SECONDS:
        raise ProxySignatureError("the request is stale")
    try:
        shop_domain = normalize_shop_domain(values.get("shop"))
    except InvalidShopDomain as exc:
        raise ProxySignatureError("the shop is not a shop domain") from exc
    customer_id = values.get("logged_in_customer_id", "").strip()
    if customer_id and (not customer_id.isdigit() or len(customer_id) > MAX_CUSTOMER_ID_LENGTH):
        raise ProxySignatureError("the customer id is not Shopify's")
    # The page builds its asset and API URLs on it: only a plain path is taken.
    path_prefix = values.get("path_prefix", "").rstrip("/")
    if len(path_prefix) > 100 or not _PATH_PREFIX.fullmatch(path_prefix):
        path_prefix = DEFAULT_PATH_PREFIX
    return ProxyRequest(shop_domain, customer_id or None, path_prefix, timestamp)


def shopper_address(forwarded_for: str | None, peer: str) -> str:
    """The shopper's address of a verified proxy request. Shopify puts the shopper's address in
    `X-Forwarded-For`; a load balancer of ours appends Shopify's, which is then our `peer`
    (uvicorn's `--proxy-headers` resolved it). So: the entry just left of the peer's, or the last
    one when the peer is Shopify itself. Without it every shopper of a shop would share one
    address, and one of them could exhaust the portal's failed-lookup limit for all. Only read
    once the signature has been verified."""
    entries = [e.strip() for e in (forwarded_for or "").split(",") if e.strip()]
    while entries and entries[-1] == peer:
        entries.pop()  # the hops our own side added (Shopify, as our proxies saw it)
    candidate = entries[-1] if entries else ""
    return candidate[:64] if candidate and all(c in _ADDRESS_CHARS for c in candidate) else peer


_ADDRESS_CHARS = frozenset("0123456789abcdefABCDEF.:")
