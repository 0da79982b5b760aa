"""The `/graphql` route: context built once per request, orjson-encoded responses."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import Request

from app.config import Settings
from app.graphql.core.context import Context
from app.graphql.graphiql import LocalGraphiQLRouter
from app.graphql.loaders import Loaders
from app.observability.request_context import current_request
from app.services.auth import AuthError, authenticate
from app.services.operator_access import OPERATOR_KEY_HEADER

TENANT_HEADER = "x-tenant-id"


def make_context_getter(settings: Settings) -> Any:
    async def get_context(request: Request) -> Context:
        info = current_request()
        principal = None
        auth_error = None
        try:
            principal = await authenticate(request.headers.get("authorization"), settings)
        except AuthError as exc:
            auth_error = str(exc)
        requested = (request.headers.get(TENANT_HEADER) or "").strip() or None
        tenant_id = principal.tenant_id if principal else requested
        info.tenant_id = tenant_id
        return Context(
            settings=settings,
            request_id=info.request_id,
            client_ip=request.client.host if request.client else "-",
            principal=principal,
            auth_error=auth_error,
            requested_tenant_id=requested,
            shopify_http=_shopify_http(request),
            operator_key=request.headers.get(OPERATOR_KEY_HEADER),
            loaders=Loaders.for_tenant(tenant_id),
        )

    return get_context


def _shopify_http(request: Request) -> httpx.AsyncClient | None:
    resources = getattr(request.app.state, "resources", None)
    return getattr(resources, "shopify_http", None)


class ServiceGraphQLRouter(LocalGraphiQLRouter[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
