"""Shopify's two signatures: hex HMAC over OAuth query parameters, base64 HMAC over webhook bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def _escape(text: str, *, key: bool) -> str:
    # Shopify's rule: `%` and `&` are percent-encoded (and `=` in keys), so no value can
    # smuggle in a parameter of its own and keep the signature valid.
    escaped = text.replace("%", "%25").replace("&", "%26")
    return escaped.replace("=", "%3D") if key else escaped


def oauth_query_message(params: Iterable[tuple[str, str]]) -> str:
    """Drop `hmac` (and the legacy `signature`), sort, join as `k=v` with `&`, escaped."""
    kept = sorted(
        (_escape(k, key=True), _escape(v, key=False))
        for k, v in params
        if k not in ("hmac", "signature")
    )
    return "&".join(f"{k}={v}" for k, v in kept)


def sign_oauth_query(params: Iterable[tuple[str, str]], secret: str) -> str:
    message = oauth_query_message(params)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_oauth_query(params: Iterable[tuple[str, str]], secret: str) -> bool:
    """Constant-time check of the `hmac` query parameter (hex)."""
    pairs = list(params)
    received = [v for k, v in pairs if k == "hmac"]
    if len(received) != 1 or not received[0].isascii():
        return False
    expected = sign_oauth_query(pairs, secret)
    return hmac.compare_digest(expected, received[0].lower())


def sign_webhook(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of `X-Shopify-Hmac-Sha256` (base64) over the raw body."""
    if not header:
        return False
    return hmac.compare_digest(sign_webhook(body, secret).encode(), header.strip().encode())
