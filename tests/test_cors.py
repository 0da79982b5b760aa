"""CORS: allowed origins may send Authorization and X-Tenant-Id; other origins get nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.cors import add_cors, normalize_origin

PORTAL = "https://returns.rms34.example"
STRANGER = "https://evil.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-tenant-id",
}


def build_app(allowed_origins: list[str]) -> FastAPI:
    app = FastAPI()

    @app.post("/graphql")
    async def graphql() -> dict[str, object]:
        return {"data": {"hello": "world"}}

    add_cors(app, allowed_origins)
    return app


async def send(
    app: FastAPI, method: str, origin: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(
            method, "/graphql", headers={"Origin": origin, **(headers or {})}
        )


async def test_preflight_from_an_allowed_origin_passes() -> None:
    response = await send(build_app([PORTAL]), "OPTIONS", PORTAL, PREFLIGHT)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "x-tenant-id", "x-request-id"):
        assert header in allowed_headers
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
        "OPTIONS",
    }
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_another_origin_is_refused() -> None:
    response = await send(build_app([PORTAL]), "OPTIONS", STRANGER, PREFLIGHT)

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_for_a_header_not_on_the_list_is_refused() -> None:
    headers = {**PREFLIGHT, "Access-Control-Request-Headers": "x-shopify-hmac-sha256"}
    response = await send(build_app([PORTAL]), "OPTIONS", PORTAL, headers)

    assert response.status_code == 400


async def test_responses_to_an_allowed_origin_expose_the_request_id() -> None:
    response = await send(build_app([PORTAL]), "POST", PORTAL)

    assert response.headers["access-control-allow-origin"] == PORTAL
    assert response.headers["access-control-expose-headers"] == "X-Request-Id"


async def test_responses_to_another_origin_carry_no_cors_headers() -> None:
    response = await send(build_app([PORTAL]), "POST", STRANGER)

    assert "access-control-allow-origin" not in response.headers


async def test_an_empty_list_adds_no_cors() -> None:
    app = build_app([])
    preflight = await send(app, "OPTIONS", PORTAL, PREFLIGHT)

    assert not app.user_middleware
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_trailing_slash_in_the_setting_is_ignored() -> None:
    response = await send(build_app([PORTAL + "/"]), "OPTIONS", PORTAL, PREFLIGHT)

    assert response.headers["access-control-allow-origin"] == PORTAL


@pytest.mark.parametrize("origin", ["returns.example", "https://x.example/path", "ftp://x.example"])
def test_anything_but_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        normalize_origin(origin)
