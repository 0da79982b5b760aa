"""The simulator's storefront app proxy: `https://{shop}/apps/returns/...` forwarded to the app
with Shopify's signed parameters, liquid rendered in the theme layout, customer sign-in."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.simulator_fixtures import *  # noqa: F403
from tests.simulator_fixtures import SIM_API_SECRET
from tools.shopify_sim import SimulatorControl, SimulatorServer, ThreadedASGIServer
from tools.shopify_sim.control_client import InstalledShop

COOKIE = "_sim_customer"
ADDED = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature")


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    server: ThreadedASGIServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/proxy"

    def last(self) -> Seen:
        assert self.seen, "the upstream got no request"
        return self.seen[-1]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    holder: list[Upstream] = []

    async def handle(request: Request) -> Response:
        body = await request.body()
        holder[0].seen.append(
            Seen(
                request.method,
                request.url.path,
                parse_qsl(request.url.query, keep_blank_values=True),
                dict(request.headers),
                body,
            )
        )
        tail = request.path_params.get("rest", "")
        if tail == "page":
            return Response(
                "<h1>Your returns</h1>{{ customer.first_name }}",
                media_type="application/liquid",
                headers={"Set-Cookie": "app=1; Path=/", "Cache-Control": "no-store"},
            )
        if tail == "bare":
            return Response(
                "{% layout none %}<!doctype html><p>bare</p>", media_type="application/liquid"
            )
        if tail == "slow":
            await asyncio.sleep(2)
        if tail == "moved":
            return Response(status_code=302, headers={"Location": "/apps/returns/page"})
        return JSONResponse(
            {"ok": True},
            status_code=201 if request.method == "POST" else 200,
            headers={
                "Cache-Control": "private, max-age=60",
                "Content-Security-Policy": "frame-ancestors 'none'",
                "Set-Cookie": "session=abc; Path=/",
                "X-Upstream": "yes",
            },
        )

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    app = Starlette(
        routes=[
            Route("/proxy", handle, methods=methods),
            Route("/proxy/{rest:path}", handle, methods=methods),
        ]
    )
    server = ThreadedASGIServer(app).start()
    holder.append(Upstream(server))
    yield holder[0]
    server.stop()


@pytest.fixture
async def proxy(upstream: Upstream, sim_control: SimulatorControl) -> AsyncIterator[Upstream]:
    await sim_control.set_app_proxy(upstream.url)
    upstream.seen.clear()
    yield upstream
    await sim_control.clear_app_proxy()


@pytest.fixture
async def storefront(simulator: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator; requests name the shop in their Host header."""
    async with httpx.AsyncClient(base_url=simulator.base_url, trust_env=False, timeout=10) as http:
        yield http


def expected_signature(pairs: list[tuple[str, str]]) -> str:
    """Shopify's documented app proxy signature, computed independently of the simulator."""
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        if key != "signature":
            values.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values[key])}" for key in sorted(values))
    return hmac.new(SIM_API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def params(seen: Seen) -> dict[str, str]:
    return dict(seen.query)


async def test_forwards_with_signed_shopify_parameters(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    before = int(time.time())
    response = await storefront.get(
        "/apps/returns/assets/x.js?v=1", headers={"Host": f"{sim_shop.domain}:443"}
    )
    assert response.status_code == 200, response.text
    seen = proxy.last()
    assert (seen.method, seen.path) == ("GET", "/proxy/assets/x.js")
    assert [key for key, _ in seen.query] == ["v", *ADDED]
    got = params(seen)
    assert got["v"] == "1"
    assert got["shop"] == sim_shop.domain
    assert got["logged_in_customer_id"] == ""
    assert got["path_prefix"] == "/apps/returns"
    assert before <= int(got["timestamp"]) <= int(time.time())
    assert got["signature"] == expected_signature(seen.query)
    tampered = [(k, sim_shop.domain + "x" if k == "shop" else v) for k, v in seen.query]
    assert got["signature"] != expected_signature(tampered)

    root = await storefront.get("/apps/returns", headers={"Host": sim_shop.domain})
    assert root.status_code == 200
    assert proxy.last().path == "/proxy"


async def test_repeated_keys_are_joined_with_commas(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    response = await storefront.get(
        "/apps/returns/search?tag=b&q=x%20y&tag=a&empty=", headers={"Host": sim_shop.domain}
    )
    assert response.status_code == 200
    seen = proxy.last()
    got = params(seen)
    assert [v for k, v in seen.query if k == "tag"] == ["b", "a"]
    assert (got["q"], got["empty"]) == ("x y", "")
    # spelled out: sorted keys, `key=value`, repeated values joined by `,`, no separator
    message = (
        "empty=logged_in_customer_id=path_prefix=/apps/returnsq=x y"
        f"shop={sim_shop.domain}tag=b,atimestamp={got['timestamp']}"
    )
    digest = hmac.new(SIM_API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert got["signature"] == digest == expected_signature(seen.query)


async def test_customer_cannot_set_shopify_parameters(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    await storefront.get(
        "/apps/returns/x?shop=evil.myshopify.com&logged_in_customer_id=1&signature=00&a=1",
        headers={"Host": sim_shop.domain},
    )
    seen = proxy.last()
    for key in ADDED:
        assert [k for k, _ in seen.query].count(key) == 1, key
    assert params(seen)["shop"] == sim_shop.domain
    assert params(seen)["logged_in_customer_id"] == ""
    assert params(seen)["signature"] == expected_signature(seen.query)


async def test_post_body_method_and_headers_forwarded(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    response = await storefront.post(
        "/apps/returns/api/returns?x=1",
        content=b'{"order": "#1001"}',
        headers={
            "Host": sim_shop.domain,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Language": "de-CH",
            "User-Agent": "Browser/1.0",
            "X-Requested-With": "XMLHttpRequest",
            "Cookie": f"{COOKIE}=1; other=2",
            "Authorization": "Bearer secret",
            "X-Custom": "no",
            "X-Forwarded-For": "10.9.9.9",  # the shopper's own claim: not passed on
        },
    )
    assert response.status_code == 201
    seen = proxy.last()
    assert (seen.method, seen.path, seen.body) == (
        "POST",
        "/proxy/api/returns",
        b'{"order": "#1001"}',
    )
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["accept-language"] == "de-CH"
    assert seen.headers["user-agent"] == "Browser/1.0"
    assert seen.headers["x-requested-with"] == "XMLHttpRequest"
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"  # the shopper, as Shopify saw them
    for dropped in ("cookie", "authorization", "x-custom"):
        assert dropped not in seen.headers
    assert params(seen)["signature"] == expected_signature(seen.query)

    for method in ("PUT", "DELETE"):
        await storefront.request(method, "/apps/returns/x", headers={"Host": sim_shop.domain})
        assert proxy.last().method == method


async def test_liquid_is_rendered_in_the_theme_layout(
    proxy: Upstream,
    storefront: httpx.AsyncClient,
    sim_control: SimulatorControl,
    sim_shop: InstalledShop,
) -> None:
    response = await storefront.get("/apps/returns/page", headers={"Host": sim_shop.domain})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    page = response.text
    name = (await sim_control.shop_state(sim_shop.domain))["name"]
    assert page.startswith("<!doctype html>")
    assert '<html lang="en">' in page
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport"' in page
    assert f"<title>{name}</title>" in page
    assert name in page.split("<header", 1)[1].split("</header>", 1)[0]
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<h1>Your returns</h1>{{ customer.first_name }}" in main

    bare = await storefront.get("/apps/returns/bare", headers={"Host": sim_shop.domain})
    assert bare.headers["content-type"] == "text/html; charset=utf-8"
    assert bare.text == "<!doctype html><p>bare</p>"


async def test_other_responses_pass_through(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    response = await storefront.get("/apps/returns/data.json", headers={"Host": sim_shop.domain})
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "private, max-age=60"
    for dropped in ("set-cookie", "content-security-policy", "x-upstream"):
        assert dropped not in response.headers
    assert COOKIE not in response.cookies and "session" not in storefront.cookies

    # the upstream's cookies are not kept by Shopify either: nothing comes back on the next call
    await storefront.get("/apps/returns/again", headers={"Host": sim_shop.domain})
    assert "cookie" not in proxy.last().headers

    moved = await storefront.get("/apps/returns/moved", headers={"Host": sim_shop.domain})
    assert moved.status_code == 302
    assert moved.headers["location"] == "/apps/returns/page"


async def test_sign_in_and_out(
    proxy: Upstream,
    storefront: httpx.AsyncClient,
    sim_control: SimulatorControl,
    sim_shop: InstalledShop,
) -> None:
    host = {"Host": sim_shop.domain}
    order = (await sim_control.orders(sim_shop.domain, limit=1))["orders"][0]
    customer_id = await sim_control.customer_id_for_order(sim_shop.domain, order["name"])
    assert order["customer"]["id"] == f"gid://shopify/Customer/{customer_id}"
    customers = await sim_control.customers(sim_shop.domain)
    mine = next(c for c in customers if c["customer_id"] == customer_id)
    assert order["name"] in [o["name"] for o in mine["orders"]]

    login = await storefront.get(
        "/account/login",
        params={"customer_id": customer_id, "return_to": "/apps/returns/orders?x=1"},
        headers=host,
    )
    assert login.status_code == 303
    assert login.headers["location"] == "/apps/returns/orders?x=1"
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={customer_id};")
    assert "domain=" not in cookie.lower()  # host-only: scoped to the shop's storefront
    await storefront.get("/apps/returns/orders", headers=host)
    seen = proxy.last()
    assert params(seen)["logged_in_customer_id"] == customer_id
    assert "cookie" not in seen.headers
    assert params(seen)["signature"] == expected_signature(seen.query)

    # the cookie means nothing on another shop's storefront
    other = await sim_control.create_bare_shop(orders=1)
    await storefront.get("/apps/returns/orders", headers={"Host": other["domain"]})
    assert params(proxy.last())["logged_in_customer_id"] == ""

    logout = await storefront.get("/account/logout", headers=host)
    assert logout.status_code == 303
    assert logout.headers["location"] == "/apps/returns"
    await storefront.get("/apps/returns/orders", headers=host)
    assert params(proxy.last())["logged_in_customer_id"] == ""

    # the control client's shortcut: sign in, get the cookie for a browser or another client
    cookies = await sim_control.storefront_sign_in(sim_shop.domain, customer_id)
    assert cookies == {COOKIE: customer_id}


async def test_sign_in_refusals(
    proxy: Upstream, storefront: httpx.AsyncClient, sim_shop: InstalledShop
) -> None:
    host = {"Host": sim_shop.domain}
    assert (await storefront.get("/account/login", headers=host)).status_code == 400
    unknown = await storefront.get("/account/login?customer_id=1", headers=host)
    assert unknown.status_code == 404
    assert COOKIE not in unknown.headers.get("set-cookie", "")
    customer = (await storefront.get(f"/_sim/shops/{sim_shop.domain}/customers")).json()[
        "customers"
    ][0]
    elsewhere = await storefront.get(
        "/account/login",
        params={"customer_id": customer["customer_id"], "return_to": "https://evil.test/x"},
        headers=host,
    )
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == "/apps/returns"  # not an open redirect
    by_gid = await storefront.get(
        "/account/login", params={"customer_id": customer["id"]}, headers=host
    )
    assert by_gid.status_code == 303


async def test_unknown_host_unconfigured_proxy_and_other_paths_404(
    upstream: Upstream,
    storefront: httpx.AsyncClient,
    sim_control: SimulatorControl,
    sim_shop: InstalledShop,
) -> None:
    await sim_control.clear_app_proxy()
    host = {"Host": sim_shop.domain}
    response = await storefront.get("/apps/returns/x", headers=host)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")

    await sim_control.set_app_proxy(upstream.url)
    try:
        upstream.seen.clear()
        nowhere = {"Host": "no-such-shop-0000.myshopify.com"}
        assert (await storefront.get("/apps/returns/x", headers=nowhere)).status_code == 404
        assert (await storefront.get("/account/login", headers=nowhere)).status_code == 404
        assert (await storefront.get("/apps/returnsx", headers=host)).status_code == 404
        assert (await storefront.get("/apps/other/x", headers=host)).status_code == 404
        assert (await storefront.get("/", headers=host)).status_code == 404
        assert upstream.seen == []
        # the admin and control routes still answer under a shop Host
        state = await storefront.get(f"/_sim/shops/{sim_shop.domain}", headers=host)
        assert state.status_code == 200
        assert "app_proxy_requests" not in state.json()["counters"]
        graphql = await storefront.post(
            f"/{sim_shop.domain}/admin/api/2026-10/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={**host, "X-Shopify-Access-Token": sim_shop.access_token},
        )
        assert graphql.status_code == 200 and "errors" not in graphql.json()
    finally:
        await sim_control.clear_app_proxy()


async def test_other_prefix_and_subpath(
    proxy: Upstream,
    storefront: httpx.AsyncClient,
    sim_control: SimulatorControl,
    sim_shop: InstalledShop,
) -> None:
    answer = await sim_control.set_app_proxy(proxy.url + "/", prefix="a", subpath="rms")
    assert answer["path_prefix"] == "/a/rms"
    assert (
        await storefront.get("/apps/returns/x", headers={"Host": sim_shop.domain})
    ).status_code == 404
    await storefront.get("/a/rms/x/y%2Fz", headers={"Host": sim_shop.domain})
    seen = proxy.last()
    assert seen.path == "/proxy/x/y/z"  # the upstream decodes the forwarded `y%2Fz`
    assert params(seen)["path_prefix"] == "/a/rms"
    for bad in (
        {"prefix": "shop"},
        {"subpath": "a/b"},
        {"url": "ftp://x"},
        {"url": "http://h/?q=1"},
    ):
        response = await sim_control.http.put(
            f"{sim_control.base_url}/_sim/app-proxy", json={"url": proxy.url, **bad}
        )
        assert response.status_code == 400, bad


async def test_upstream_unreachable_or_slow_is_502(
    proxy: Upstream,
    storefront: httpx.AsyncClient,
    sim_control: SimulatorControl,
    sim_shop: InstalledShop,
) -> None:
    host = {"Host": sim_shop.domain}
    await sim_control.set_app_proxy(proxy.url, timeout=0.3)
    slow = await storefront.get("/apps/returns/slow", headers=host)
    assert slow.status_code == 502
    assert slow.headers["content-type"].startswith("text/html")

    closed = ThreadedASGIServer(Starlette()).start()
    url = closed.base_url
    closed.stop()
    await sim_control.set_app_proxy(url)
    assert (await storefront.get("/apps/returns/x", headers=host)).status_code == 502
    counters = (await sim_control.shop_state(sim_shop.domain))["counters"]
    assert counters["app_proxy_failures"] == 2
