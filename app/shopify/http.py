"""The one shared `httpx.AsyncClient` for calls to Shopify, created in the lifespan."""

from __future__ import annotations

import httpx

from app.observability.tracing import trace_http_client

ShopifyHttp = httpx.AsyncClient


def make_shopify_http() -> httpx.AsyncClient:
    """The client, with a span per call when tracing is on."""
    return trace_http_client(
        httpx.AsyncClient(
            timeout=httpx.Timeout(connect=3.0, read=30.0, write=10.0, pool=10.0),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            follow_redirects=False,
            headers={"User-Agent": "returns-management/0.1"},
        )
    )
