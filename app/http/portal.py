"""The storefront returns portal's pages: `/portal/{shop}` (directly), `/portal/proxy/...`
(through Shopify's app proxy) and the page's two assets.

The pages are a shell (`services/portal/page.py`); the page itself is a client of the GraphQL
API: `/graphql` with `X-Tenant-Id` when served directly, `/portal/proxy/graphql` through the proxy
(`app/main.py` mounts that one, which reads the shop and the signed-in customer from the verified
signature). Every proxy request is verified before anything in it is read: a forged, unsigned or
stale one gets 401 and nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from app.clock import utcnow
from app.config import Settings
from app.http.database_deadline import DatabaseDeadlineRoute
from app.http.responses import json_response
from app.services.integration.shop_domain import InvalidShopDomain, normalize_shop_domain
from app.services.portal.page import (
    PageConfig,
    asset,
    content_security_policy,
    negotiate_locale,
    render_page,
)
from app.services.portal.proxy_signature import (
    ProxySignatureError,
    shopper_address,
    verify_proxy_request,
)
from app.services.portal.shops import PortalShop, portal_shop
from app.services.portal.status_links import verified_return_id
from app.services.returns.photos import (
    PhotoRefusal,
    PhotoRefused,
    photo_at_signed_url,
    store_photo,
)

router = APIRouter(tags=["portal"], route_class=DatabaseDeadlineRoute)

ASSET_PREFIX = "/portal/assets"
PROXY_PREFIX = "/portal/proxy"
LIQUID = "application/liquid"
ONE_YEAR = 365 * 24 * 3600
_PAGE_HEADERS = {
    # The page can show a customer's order: nothing may keep it, or pass on its address.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_NOT_FOUND = "This shop has no returns page here."


def _peer(request: Request) -> str:
    return request.client.host if request.client else "-"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _page(
    request: Request,
    tenant: PortalShop,
    *,
    mode: str,
    status_token: str | None,
    proxy_prefix: str | None,
) -> PageConfig:
    """`proxy_prefix`: the storefront path the app proxy is mounted at, None when served here."""
    domain = tenant.shop_domain
    return PageConfig(
        mode=mode,
        graphql_url=f"{proxy_prefix}/graphql" if proxy_prefix else "/graphql",
        photos_url=f"{proxy_prefix}/photos" if proxy_prefix else f"/portal/{domain}/photos",
        tenant_id=None if proxy_prefix else tenant.tenant_id,
        status_path=f"{proxy_prefix}/returns/" if proxy_prefix else f"/portal/{domain}/returns/",
        status_token=status_token,
        shop_name=tenant.name,
        shop_domain=domain,
        locale=negotiate_locale(request.headers.get("accept-language"), tenant.locale),
        branding=tenant.branding,
    )


def _status_token(settings: Settings, tenant: PortalShop, token: str) -> str | None:
    """The token when it is this shop's (checked here without a read; the page shows "not a
    valid link" for None)."""
    return (
        token if verified_return_id(settings.shopify_api_secret, tenant.tenant_id, token) else None
    )


def _html(config: PageConfig, *, status_code: int = 200) -> Response:
    return Response(
        render_page(config, ASSET_PREFIX, fragment=False),
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={
            **_PAGE_HEADERS,
            "Content-Security-Policy": content_security_policy(config.branding.logo_url),
        },
    )


def _liquid(config: PageConfig, asset_base: str, *, status_code: int = 200) -> Response:
    # Shopify renders it inside the shop's theme; the storefront's own headers apply there.
    return Response(
        render_page(config, asset_base, fragment=True),
        status_code=status_code,
        media_type=LIQUID,
        headers=_PAGE_HEADERS,
    )


def _asset(request: Request, name: str) -> Response:
    found = asset(name)
    if found is None:
        return PlainTextResponse("Not found", status_code=404)
    # Versioned URLs (`?v=`) change with the content: those may be kept for a year.
    cache = (
        f"public, max-age={ONE_YEAR}, immutable" if request.query_params.get("v") else "no-cache"
    )
    headers = {"Cache-Control": cache, "ETag": found.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


@router.get(ASSET_PREFIX + "/{name}", include_in_schema=False)
async def portal_asset(request: Request, name: str) -> Response:
    return _asset(request, name)


@router.get(PROXY_PREFIX, include_in_schema=False)
@router.get(PROXY_PREFIX + "/{rest:path}", include_in_schema=False)
async def proxied(request: Request, rest: str = "") -> Response:
    """The storefront's `/apps/returns/{rest}`, forwarded by Shopify with a signed query."""
    settings = _settings(request)
    try:
        proxy = verify_proxy_request(
            request.query_params.multi_items(), settings.shopify_api_secret, utcnow()
        )
    except ProxySignatureError:
        return PlainTextResponse("Unauthorized", status_code=401)
    path = rest.strip("/")
    if path.startswith("assets/"):
        return _asset(request, path.removeprefix("assets/"))
    tenant = await portal_shop(proxy.shop_domain)
    if tenant is None:
        return PlainTextResponse(_NOT_FOUND, status_code=404)
    asset_base = f"{proxy.path_prefix}/assets"
    if path == "":
        mode = "customer" if proxy.customer_id else "guest"
        page = _page(request, tenant, mode=mode, status_token=None, proxy_prefix=proxy.path_prefix)
        return _liquid(page, asset_base)
    if path.startswith("returns/") and path.count("/") == 1:
        token = _status_token(settings, tenant, path.removeprefix("returns/"))
        page = _page(
            request, tenant, mode="status", status_token=token, proxy_prefix=proxy.path_prefix
        )
        return _liquid(page, asset_base, status_code=200 if token else 404)
    return PlainTextResponse("Not found", status_code=404)


async def _direct_tenant(shop_domain: str) -> PortalShop | None:
    try:
        shop = normalize_shop_domain(shop_domain)
    except InvalidShopDomain:
        return None
    return await portal_shop(shop)


@router.get("/portal/{shop_domain}", include_in_schema=False)
async def portal_page(request: Request, shop_domain: str) -> Response:
    """The portal at the app's own address: a guest finds the order by number and email."""
    tenant = await _direct_tenant(shop_domain)
    if tenant is None:
        return PlainTextResponse(_NOT_FOUND, status_code=404)
    return _html(_page(request, tenant, mode="guest", status_token=None, proxy_prefix=None))


@router.get("/portal/{shop_domain}/returns/{token}", include_in_schema=False)
async def status_page(request: Request, shop_domain: str, token: str) -> Response:
    """A return's status, at the signed link the confirmation and the emails give."""
    tenant = await _direct_tenant(shop_domain)
    if tenant is None:
        return PlainTextResponse(_NOT_FOUND, status_code=404)
    checked = _status_token(_settings(request), tenant, token)
    page = _page(request, tenant, mode="status", status_token=checked, proxy_prefix=None)
    return _html(page, status_code=200 if checked else 404)


# Photos ----------------------------------------------------------------------------------------

_PHOTO_STATUS = {
    PhotoRefusal.TOO_LARGE: 413,
    PhotoRefusal.NOT_AN_IMAGE: 415,
    PhotoRefusal.TOO_MANY: 429,
}


async def _upload(request: Request, tenant: PortalShop, client: str) -> Response:
    """The request's body is the photo (`Content-Type: image/...`); the answer is its claim
    token, which `createReturn` names it by."""
    if not request.headers.get("content-type", "").lower().startswith("image/"):
        return json_response(
            {"error": "not_an_image", "message": "Send the photo itself (image/jpeg, png, webp)."},
            status_code=415,
        )
    try:
        stored = await store_photo(tenant.tenant_id, client, await request.body())
    except PhotoRefused as exc:
        return json_response(
            {"error": exc.reason.value, "message": exc.message},
            status_code=_PHOTO_STATUS[exc.reason],
        )
    return json_response(
        {
            "token": stored.token,
            "contentType": stored.content_type,
            "size": stored.size,
            "width": stored.width,
            "height": stored.height,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.post(PROXY_PREFIX + "/photos", include_in_schema=False)
async def proxied_upload(request: Request) -> Response:
    try:
        proxy = verify_proxy_request(
            request.query_params.multi_items(), _settings(request).shopify_api_secret, utcnow()
        )
    except ProxySignatureError:
        return PlainTextResponse("Unauthorized", status_code=401)
    tenant = await portal_shop(proxy.shop_domain)
    if tenant is None:
        return PlainTextResponse(_NOT_FOUND, status_code=404)
    return await _upload(
        request, tenant, shopper_address(request.headers.get("x-forwarded-for"), _peer(request))
    )


@router.post("/portal/{shop_domain}/photos", include_in_schema=False)
async def upload(request: Request, shop_domain: str) -> Response:
    tenant = await _direct_tenant(shop_domain)
    if tenant is None:
        return PlainTextResponse(_NOT_FOUND, status_code=404)
    return await _upload(request, tenant, _peer(request))


@router.get("/api/return-photos/{tenant_id}/{photo_id}", include_in_schema=False)
async def staff_photo(
    request: Request, tenant_id: str, photo_id: str, expires: str = "", signature: str = ""
) -> Response:
    """A customer's photo, at the signed address staff were given (`ReturnItem.photos`)."""
    photo = await photo_at_signed_url(
        _settings(request).shopify_api_secret, tenant_id, photo_id, expires, signature, utcnow()
    )
    if photo is None:
        return PlainTextResponse("Not found", status_code=404)
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            # An image, never a document: nothing in it may run or load anything.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
