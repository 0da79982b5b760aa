"""What the portal tests share: signed proxy requests, as Shopify's app proxy sends them."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from tests.conftest import TEST_API_SECRET


def proxy_query(
    shop: str,
    customer_id: str = "",
    *,
    secret: str = TEST_API_SECRET,
    at: float | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> str:
    """The query string Shopify adds to a forwarded storefront request, signed."""
    params = [
        *(extra or []),
        ("shop", shop),
        ("logged_in_customer_id", customer_id),
        ("path_prefix", "/apps/returns"),
        ("timestamp", str(int(at if at is not None else time.time()))),
    ]
    joined: dict[str, list[str]] = {}
    for key, value in params:
        joined.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(joined.items()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode([*params, ("signature", signature)])
