"""The portal's pages: served directly and through Shopify's app proxy, verified first."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from app.models.email_notification import LOCALES
from app.services.portal.page import _asset, asset, catalog, content_security_policy
from app.services.portal.shops import forget
from app.services.portal.status_links import status_token
from tests.conftest import TEST_API_SECRET
from tests.factories import make_order, make_return, make_tenant
from tests.portal.helpers import proxy_query


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="portal-config">(.*?)</script>', html)
    assert found, html[:500]
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_direct_page_is_a_guest_lookup_with_a_strict_csp(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("portal-shop")
    response = await client.get("/portal/portal-shop.myshopify.com")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    config = page_config(response.text)
    assert config["mode"] == "guest"
    assert config["tenantId"] == tenant.id
    assert config["graphqlUrl"] == "/graphql"
    assert config["statusPath"] == "/portal/portal-shop.myshopify.com/returns/"
    assert config["messages"]  # the catalog travels with the page: no round trip for it
    assert "<script>" not in response.text.replace('<script type="application/json"', "")


async def test_unknown_or_malformed_shop_is_404(client: httpx.AsyncClient, db: object) -> None:
    for path in ("/portal/nobody.myshopify.com", "/portal/not a shop", "/portal/x.example.com"):
        response = await client.get(path)
        assert response.status_code == 404, path


async def test_language_from_accept_language_then_the_shops(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("lang-shop")
    url = "/portal/lang-shop.myshopify.com"
    french = await client.get(url, headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert page_config(french.text)["locale"] == "fr"
    assert '<html lang="fr">' in french.text
    weighted = await client.get(url, headers={"Accept-Language": "de, en;q=0.4, fr;q=0.8"})
    assert page_config(weighted.text)["locale"] == "fr"
    assert page_config((await client.get(url)).text)["locale"] == "en"
    tenant.notifications.locale = "fr"
    await tenant.save()
    forget(tenant.shop_domain)  # the page's cache of the shop (another process: 5 s)
    assert (
        page_config((await client.get(url, headers={"Accept-Language": "de"})).text)["locale"]
        == "fr"
    )


async def test_shop_texts_cannot_break_out_of_the_config_block(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("xss-shop")
    tenant.portal_settings.heading = "</script><script>alert(1)</script>{{ shop.secret }}"
    await tenant.save()
    forget(tenant.shop_domain)
    response = await client.get("/portal/xss-shop.myshopify.com")
    assert "</script><script>alert(1)" not in response.text
    assert page_config(response.text)["branding"]["heading"] == tenant.portal_settings.heading
    proxied = await client.get(
        "/portal/proxy?" + proxy_query("xss-shop.myshopify.com"),
    )
    assert "{{" not in proxied.text and "{%" not in proxied.text  # nothing Liquid would run


async def test_logo_origin_is_the_only_other_image_source(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("logo-shop")
    for logo, source in (
        ("https://cdn.shopify.com/s/files/logo.png", "https://cdn.shopify.com"),
        ("https://例え.jp:8443/logo.png", "https://xn--r8jz45g.jp:8443"),  # as a header can carry
    ):
        tenant.portal_settings.logo_url = logo
        await tenant.save()
        forget(tenant.shop_domain)
        response = await client.get("/portal/logo-shop.myshopify.com")
        assert response.status_code == 200
        assert f"img-src 'self' {source};" in response.headers["content-security-policy"]
    # Whatever a stored value holds, nothing of it becomes a directive.
    assert content_security_policy("https://a.example;script-src https:;x/") == (
        content_security_policy(None)
    )


def test_only_the_assets_take_places_in_the_asset_cache() -> None:
    asset("portal.js")
    before = _asset.cache_info()
    for name in ("x1", "x2", "x3", "../config.py"):
        assert asset(name) is None
    assert asset("portal.js") is not None
    after = _asset.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)


async def test_proxy_page_is_liquid_in_the_shops_theme(
    client: httpx.AsyncClient, db: object
) -> None:
    await make_tenant("proxy-shop")
    guest = await client.get("/portal/proxy?" + proxy_query("proxy-shop.myshopify.com"))
    assert guest.status_code == 200
    assert guest.headers["content-type"].startswith("application/liquid")
    assert "<html" not in guest.text  # a fragment: the theme has the document
    config = page_config(guest.text)
    assert config["mode"] == "guest" and config["tenantId"] is None
    assert config["graphqlUrl"] == "/apps/returns/graphql"
    assert config["statusPath"] == "/apps/returns/returns/"
    assert 'src="/apps/returns/assets/portal.js?v=' in guest.text
    signed_in = await client.get(
        "/portal/proxy/?" + proxy_query("proxy-shop.myshopify.com", "820982911946154508")
    )
    assert page_config(signed_in.text)["mode"] == "customer"


async def test_forged_unsigned_or_stale_proxy_requests_get_401_and_nothing_else(
    client: httpx.AsyncClient, db: object
) -> None:
    await make_tenant("guarded-shop")
    shop = "guarded-shop.myshopify.com"
    good = proxy_query(shop, "1")
    refused = [
        "",
        f"shop={shop}&logged_in_customer_id=1&path_prefix=/apps/returns&timestamp=1",
        good.replace("logged_in_customer_id=1", "logged_in_customer_id=2"),
        good.replace(shop, "other-shop.myshopify.com"),
        # Signed with the customer id twice: which one counts would be a guess.
        proxy_query(shop, "", extra=[("logged_in_customer_id", "1")]),
        proxy_query(shop, "1", secret="another-apps-secret"),
        proxy_query(shop, "1", at=time.time() - 3600),
    ]
    for query in refused:
        for path in ("/portal/proxy", "/portal/proxy/returns/x", "/portal/proxy/assets/portal.js"):
            response = await client.get(f"{path}?{query}")
            assert response.status_code == 401, (path, query)
            assert response.text == "Unauthorized"
        api = await client.post(
            f"/portal/proxy/graphql?{query}",
            json={"query": "{ customerOrders { id } }"},
        )
        assert api.status_code == 401, query
        assert "data" not in api.text


async def test_assets_are_compressed_and_cached_by_version(
    client: httpx.AsyncClient, db: object
) -> None:
    plain = await client.get("/portal/assets/portal.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.headers["cache-control"] == "no-cache"
    zipped = await client.get("/portal/assets/portal.js?v=1", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "immutable" in zipped.headers["cache-control"]
    assert zipped.content == plain.content  # httpx decodes
    again = await client.get(
        "/portal/assets/portal.js", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert again.status_code == 304
    assert (await client.get("/portal/assets/../../config.py")).status_code == 404
    assert (await client.get("/portal/assets/secret.txt")).status_code == 404


async def test_status_page_only_for_a_valid_link_of_this_shop(
    client: httpx.AsyncClient, db: object
) -> None:
    tenant = await make_tenant("status-shop")
    other = await make_tenant("other-status-shop")
    record = await make_return(await make_order(tenant.id, 1001))
    token = status_token(TEST_API_SECRET, tenant.id, str(record.id))
    ok = await client.get(f"/portal/status-shop.myshopify.com/returns/{token}")
    assert ok.status_code == 200
    assert page_config(ok.text) | {"messages": None} == page_config(ok.text) | {
        "mode": "status",
        "statusToken": token,
        "messages": None,
    }
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (
        f"/portal/status-shop.myshopify.com/returns/{tampered}",
        f"/portal/{other.shop_domain}/returns/{token}",
        "/portal/status-shop.myshopify.com/returns/not-a-token",
    ):
        refused = await client.get(path)
        assert refused.status_code == 404, path
        assert page_config(refused.text)["statusToken"] is None
    proxied = await client.get(
        f"/portal/proxy/returns/{token}?" + proxy_query("status-shop.myshopify.com")
    )
    assert proxied.status_code == 200 and page_config(proxied.text)["statusToken"] == token


def test_every_language_has_every_message_with_the_same_placeholders() -> None:
    english = catalog("en")
    for locale in LOCALES:
        translated = catalog(locale)
        assert translated.keys() == english.keys(), locale
        for key, text in english.items():
            wanted = set(re.findall(r"\{(\w+)\}", text))
            assert set(re.findall(r"\{(\w+)\}", translated[key])) == wanted, (locale, key)
    # What the server itself puts in the shell.
    assert {"page.title", "page.loading", "page.noscript"} <= english.keys()


async def test_first_load_is_well_under_150_kb_compressed(
    client: httpx.AsyncClient, db: object
) -> None:
    """The page, its script and its styles as a browser first fetches them (gzip): what a
    customer on a phone waits for. The catalog travels in the page, the API calls come after."""
    await make_tenant("weight-shop")
    gzip = {"Accept-Encoding": "gzip"}
    page = await client.get("/portal/weight-shop.myshopify.com", headers=gzip)
    total = len(page.content)  # not compressed by us: counted as sent
    for src in re.findall(r'(?:src|href)="(/portal/assets/[^"]+)"', page.text):
        asset = await client.get(src, headers=gzip)
        assert asset.status_code == 200
        total += int(asset.headers["content-length"])
    assert total <= 150 * 1024, total
