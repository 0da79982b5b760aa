"""The shops' storefronts: Shopify's app proxy and a stand-in for customer sign-in.

A request whose Host (port stripped) is a `*.myshopify.com` domain is a storefront request, as
`https://{shop}/...` is on Shopify. The simulator's own path-based routes (`/{shop}/admin/...`,
`/_sim/...`) still answer under any Host.

- `/{prefix}/{subpath}[/rest]` (`/apps/returns/...` by default) is forwarded, any method and body,
  to the configured proxy URL plus `rest`, with the original query parameters (less the ones
  Shopify sets) and `shop`, `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature`
  added. Only a few request headers go along (never Cookie or Authorization). An upstream
  `application/liquid` answer is rendered inside the shop's theme layout; any other answer passes
  through (status, Content-Type, Cache-Control, Location, body; no Set-Cookie, no
  Content-Security-Policy). Unreachable or too slow: 502.
- `GET /account/login?customer_id=<id>&return_to=<path>` signs one of the shop's customers in
  (cookie `_sim_customer`, host-only) and redirects (303); `GET /account/logout` signs out.
- Anything else, an unknown shop, or no app proxy configured: a storefront 404 page.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import time
from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .models import AppProxy, ShopState, gid_number
from .state import SimState, normalize_shop

CUSTOMER_COOKIE = "_sim_customer"
# Shopify lets an app proxy live under one of these storefront prefixes only.
PROXY_PREFIXES = ("apps", "a", "community", "tools")
_SUBPATH = re.compile(r"^[A-Za-z0-9_-]+$")
# Parameters Shopify itself sets on a proxied request: a customer's own values are dropped.
PROXY_PARAMS = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature")
FORWARDED_REQUEST_HEADERS = (
    "content-type",
    "accept",
    "accept-language",
    "user-agent",
    "x-requested-with",
)
PASSED_RESPONSE_HEADERS = ("content-type", "cache-control", "location")
_LAYOUT_NONE = re.compile(r"\{%-?\s*layout\s+(none|'none'|\"none\")\s*-?%\}")
_ADMIN_PATH = re.compile(r"^/[a-z0-9][a-z0-9-]*\.myshopify\.com(/|$)", re.IGNORECASE)


def proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """Shopify's app proxy signature: every parameter but `signature`, sorted by key, each as
    `key=value` (a repeated key's values joined by `,`), concatenated with no separator, hex
    HMAC-SHA256 with the app's API secret."""
    joined: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            joined.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(joined.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def validate_app_proxy(body: dict[str, Any], default_timeout: float) -> AppProxy | str:
    """The app proxy a control request asks for (each field absent: its default), or what is
    wrong with it."""
    url = body.get("url")
    prefix = str(body.get("prefix") or "apps")
    subpath = str(body.get("subpath") or "returns")
    timeout = body.get("timeout")
    timeout = default_timeout if timeout is None else timeout
    if url in (None, ""):
        url = None
    else:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "url must be an absolute http(s) URL"
        if parts.query or parts.fragment:
            return "url may not have a query or fragment"
        url = str(url)
    if prefix not in PROXY_PREFIXES:
        return f"prefix must be one of {list(PROXY_PREFIXES)}"
    if not _SUBPATH.match(subpath):
        return "subpath may only contain letters, digits, '_' and '-'"
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        return "timeout must be a number of seconds in (0, 60]"
    return AppProxy(url=url, prefix=prefix, subpath=subpath, timeout_seconds=float(timeout))


def public_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """A customer as the control API shows it: ids, contact and orders (newest last)."""
    return {
        "id": customer["id"],
        "customer_id": customer["legacyResourceId"],
        "email": customer["email"],
        "name": customer["displayName"],
        "orders": [
            {"id": order["id"], "name": order["name"], "number": order["_order_number"]}
            for order in customer["_orders"]
        ],
    }


# -- pages -----------------------------------------------------------------------------------
def theme_layout(shop: ShopState, content: str) -> str:
    """A minimal theme layout around `content` (inserted verbatim, liquid tags and all)."""
    name = html.escape(shop.name)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{name}</title>\n"
        "</head>\n"
        "<body>\n"
        f'<header class="site-header"><span class="site-header__name">{name}</span></header>\n'
        f'<main id="MainContent" role="main">\n{content}\n</main>\n'
        "</body>\n"
        "</html>\n"
    )


def _page(shop: ShopState | None, status: int, title: str, message: str) -> Response:
    content = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>"
    if shop is None:
        body = (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{content}\n</body>\n</html>\n"
        )
    else:
        body = theme_layout(shop, content)
    return Response(body, status_code=status, media_type="text/html")


def _not_found(shop: ShopState | None) -> Response:
    return _page(shop, 404, "404 Page Not Found", "The page you requested does not exist.")


# -- routing ---------------------------------------------------------------------------------
def storefront_domain(scope: Scope) -> str | None:
    """The shop domain a request's Host names (port stripped), when it names one."""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            host = value.decode("latin-1").strip()
            if not host.startswith("["):
                host = host.rsplit(":", 1)[0] if ":" in host else host
            return normalize_shop(host.rstrip("."))
    return None


class StorefrontMiddleware:
    """Sends storefront requests (Host = a shop domain) to the storefront; the rest on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            domain = storefront_domain(scope)
            path: str = scope["path"]
            if domain is not None and not (path.startswith("/_sim/") or _ADMIN_PATH.match(path)):
                response = await storefront(Request(scope, receive), domain)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _proxy_rest(scope: Scope, proxy: AppProxy) -> str | None:
    """The (still percent-encoded) path after the proxy's prefix; None when not under it."""
    path: str = scope["path"]
    mount = proxy.path_prefix
    if path != mount and not path.startswith(mount + "/"):
        return None
    raw = (scope.get("raw_path") or b"").decode("latin-1").split("?", 1)[0]
    if raw == mount or raw.startswith(mount + "/"):
        return raw[len(mount) :]
    return quote(path[len(mount) :], safe="/:@!$&'()*+,;=-._~")


async def storefront(request: Request, domain: str) -> Response:
    state: SimState = request.app.state.sim
    shop = state.shops.get(domain)
    if shop is None:
        return _not_found(None)
    path = request.url.path
    if path in ("/account/login", "/account/logout"):
        if request.method not in ("GET", "HEAD"):
            return _page(shop, 405, "Method Not Allowed", "Use GET.")
        if path == "/account/login":
            return sign_in(request, state, shop)
        return sign_out(request, state)
    proxy = state.app_proxy
    rest = _proxy_rest(request.scope, proxy)
    if proxy.url is None or rest is None:
        return _not_found(shop)
    return await forward(request, state, shop, proxy, proxy.url, rest)


# -- customer accounts -----------------------------------------------------------------------
def _return_to(request: Request, default: str) -> str:
    """`return_to` (or Shopify's `return_url`) when it is a path on this site, else `default`."""
    wanted = request.query_params.get("return_to") or request.query_params.get("return_url")
    if not wanted or not wanted.startswith("/") or wanted.startswith("//") or "\\" in wanted:
        return default
    parts = urlsplit(wanted)
    return default if parts.scheme or parts.netloc else wanted


def sign_in(request: Request, state: SimState, shop: ShopState) -> Response:
    raw = request.query_params.get("customer_id", "").strip()
    number = gid_number(raw) if raw.isdigit() or raw.startswith("gid://shopify/Customer/") else None
    if number is None:
        return _page(shop, 400, "Sign in", "customer_id (a customer's id) is required.")
    customer = shop.customers_by_id.get(f"gid://shopify/Customer/{number}")
    if customer is None:
        return _page(shop, 404, "Sign in", "No such customer in this shop.")
    response = RedirectResponse(_return_to(request, state.app_proxy.path_prefix), status_code=303)
    response.set_cookie(
        CUSTOMER_COOKIE, customer["legacyResourceId"], path="/", httponly=True, samesite="lax"
    )
    return response


def sign_out(request: Request, state: SimState) -> Response:
    response = RedirectResponse(_return_to(request, state.app_proxy.path_prefix), status_code=303)
    response.delete_cookie(CUSTOMER_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def signed_in_customer(request: Request, shop: ShopState) -> str:
    """The signed-in customer's numeric id, "" when nobody (of this shop) is signed in."""
    value = request.cookies.get(CUSTOMER_COOKIE, "")
    if not value.isdigit():
        return ""
    return value if f"gid://shopify/Customer/{value}" in shop.customers_by_id else ""


# -- the app proxy ---------------------------------------------------------------------------
def _client(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient | None = getattr(request.app.state, "storefront_http", None)
    if client is None or client.is_closed:
        # no cookie jar: an upstream's Set-Cookie must never ride along on a later request
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        client = httpx.AsyncClient(follow_redirects=False, trust_env=False, cookies=jar)
        request.app.state.storefront_http = client
    return client


async def close_storefront(app: Any) -> None:
    client: httpx.AsyncClient | None = getattr(app.state, "storefront_http", None)
    if client is not None:
        await client.aclose()
        app.state.storefront_http = None


def signed_query(
    request: Request, state: SimState, shop: ShopState, proxy: AppProxy
) -> list[tuple[str, str]]:
    """The customer's query parameters (less those Shopify sets) plus Shopify's, signed."""
    pairs = [
        (key, value)
        for key, value in parse_qsl(request.url.query, keep_blank_values=True)
        if key not in PROXY_PARAMS
    ]
    pairs += [
        ("shop", shop.domain),
        ("logged_in_customer_id", signed_in_customer(request, shop)),
        ("path_prefix", proxy.path_prefix),
        ("timestamp", str(int(time.time()))),
    ]
    pairs.append(("signature", proxy_signature(pairs, state.config.api_secret)))
    return pairs


async def forward(
    request: Request, state: SimState, shop: ShopState, proxy: AppProxy, url: str, rest: str
) -> Response:
    base = url.rstrip("/") if rest else url
    target = f"{base}{rest}?{urlencode(signed_query(request, state, shop, proxy))}"
    headers = {
        name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers
    }
    # As Shopify does: the app learns the shopper's address from this header (its own peer is
    # Shopify). Whatever the shopper sent in it is not passed on.
    headers["x-forwarded-for"] = request.client.host if request.client else "0.0.0.0"
    body = await request.body()
    shop.count("app_proxy_requests")
    try:
        upstream = await _client(request).request(
            request.method,
            target,
            content=body or None,
            headers=headers,
            timeout=httpx.Timeout(proxy.timeout_seconds),
        )
    except httpx.HTTPError:
        shop.count("app_proxy_failures")
        return _page(
            shop, 502, "Bad Gateway", "The app that serves this page did not answer in time."
        )
    content_type = upstream.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() == "application/liquid":
        text = upstream.text
        page, layout_none = _LAYOUT_NONE.subn("", text)
        cache = upstream.headers.get("cache-control")
        return Response(
            page if layout_none else theme_layout(shop, text),
            status_code=upstream.status_code,
            media_type="text/html",
            headers={"cache-control": cache} if cache else None,
        )
    passed = {
        name: upstream.headers[name] for name in PASSED_RESPONSE_HEADERS if name in upstream.headers
    }
    return Response(upstream.content, status_code=upstream.status_code, headers=passed)
