"""Security headers: baseline on every response, pages with their own CSP keep it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.types import Message, Receive, Scope, Send

from app.security_headers import API_CSP, SecurityHeadersMiddleware, embedded_app_csp

SHOP = "rms34.myshopify.com"


def build_app(*, hsts: bool = True) -> FastAPI:
    app = FastAPI()

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/app")
    async def embedded_page() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>app</title>",
            headers={
                "Content-Security-Policy": embedded_app_csp(SHOP),
                "Referrer-Policy": "strict-origin-when-cross-origin",
            },
        )

    app.add_middleware(SecurityHeadersMiddleware, hsts=hsts)
    return app


async def get(
    path: str, *, base_url: str = "http://testserver", hsts: bool = True
) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_app(hsts=hsts))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        return await client.get(path)


async def test_api_responses_get_the_baseline_headers() -> None:
    response = await get("/api/health")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_page_with_its_own_csp_keeps_it_and_can_be_framed_by_shopify() -> None:
    response = await get("/app")

    assert response.headers["content-security-policy"] == (
        f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    assert "x-frame-options" not in response.headers
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_headers_are_not_duplicated() -> None:
    response = await get("/app")

    assert response.headers.get_list("content-security-policy") == [embedded_app_csp(SHOP)]
    assert response.headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"]


async def test_hsts_is_sent_over_https() -> None:
    response = await get("/api/health", base_url="https://testserver")

    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


async def test_hsts_is_never_sent_over_plain_http() -> None:
    response = await get("/api/health", base_url="http://testserver")

    assert "strict-transport-security" not in response.headers


async def test_hsts_can_be_turned_off() -> None:
    response = await get("/api/health", base_url="https://testserver", hsts=False)

    assert "strict-transport-security" not in response.headers


async def test_non_http_scopes_pass_through_untouched() -> None:
    sent: list[Message] = []

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "lifespan.startup.complete"})

    async def record(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    await SecurityHeadersMiddleware(lifespan_app)({"type": "lifespan"}, receive, record)

    assert sent == [{"type": "lifespan.startup.complete"}]


@pytest.mark.parametrize(
    "shop", ["evil.example; script-src *", "rms34.myshopify.com https://evil.example", ""]
)
def test_embedded_app_csp_refuses_anything_but_a_hostname(shop: str) -> None:
    with pytest.raises(ValueError, match="not a shop hostname"):
        embedded_app_csp(shop)
