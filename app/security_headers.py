"""Security headers on every HTTP response, as a pure ASGI middleware (no BaseHTTPMiddleware).

Each header is a default: a response that sets its own keeps it. That is how pages with other
needs opt out: GraphiQL sends its own CSP, and the embedded app page sends
`embedded_app_csp(shop)`, because the Shopify admin frames it; `X-Frame-Options` would forbid
that outright (it has no allow-list), so it is only added with the API's own deny-all CSP.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP: Final = "default-src 'none'; frame-ancestors 'none'"
SHOPIFY_ADMIN_ORIGIN: Final = "https://admin.shopify.com"
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")

_DEFAULTS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-permitted-cross-domain-policies", b"none"),
)
_CSP = b"content-security-policy"
_WITHOUT_OWN_CSP: Final = ((_CSP, API_CSP.encode()), (b"x-frame-options", b"DENY"))


def embedded_app_csp(shop_domain: str) -> str:
    """CSP for a page the Shopify admin embeds: framed by the shop and the admin only."""
    if not _HOSTNAME.fullmatch(shop_domain):
        raise ValueError(f"not a shop hostname: {shop_domain!r}")
    return f"frame-ancestors https://{shop_domain} {SHOPIFY_ADMIN_ORIGIN}"


class SecurityHeadersMiddleware:
    """Adds nosniff, referrer, opener, CSP and (over https, if `hsts`) HSTS headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool = True,
        hsts_max_age: int = 63_072_000,
    ) -> None:
        self.app = app
        self.hsts_header = (
            (b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode())
            if hsts
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # scope["scheme"] is https behind a TLS proxy only with uvicorn's --proxy-headers.
        hsts = self.hsts_header if scope.get("scheme") == "https" else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(item for item in _DEFAULTS if item[0] not in present)
                if _CSP not in present:
                    headers.extend(_WITHOUT_OWN_CSP)
                if hsts is not None and hsts[0] not in present:
                    headers.append(hsts)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["API_CSP", "SecurityHeadersMiddleware", "embedded_app_csp"]
