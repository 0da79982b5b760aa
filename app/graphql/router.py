"""The `/graphql` route: context built once per request, orjson-encoded responses, one database
deadline per request (`MONGODB_REQUEST_TIMEOUT_MS`)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
from cross_web import HTTPException
from fastapi import HTTPException as FastAPIHTTPException
from fastapi import Request
from starlette.responses import Response
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from app.clock import utcnow
from app.config import Settings
from app.graphql.core.context import Context
from app.graphql.core.errors import ErrorCode
from app.graphql.core.masking import is_unexpected, masked
from app.graphql.graphiql import LocalGraphiQLRouter
from app.graphql.loaders import Loaders
from app.http.database_deadline import (
    DatabaseDeadlineRoute,
    database_unavailable_message,
    restart_request_deadline,
)
from app.models.tenant import tenant_id_for_shop
from app.observability.request_context import current_request
from app.services.auth import AuthError, authenticate
from app.services.operations.operator_access import OPERATOR_KEY_HEADER
from app.services.persisted_queries import find_persisted_query, save_persisted_query
from app.services.portal.proxy_signature import (
    ProxySignatureError,
    shopper_address,
    verify_proxy_request,
)
from app.services.returns.portal_attempts import ClientLocks

TENANT_HEADER = "x-tenant-id"
# "tenant-" and a shop's subdomain (at most 63 characters): anything longer names no tenant, and
# is refused before it reaches a query, a log or the rate limiter's keys.
MAX_TENANT_HEADER_LENGTH = 100


def make_context_getter(settings: Settings) -> Any:
    async def get_context(request: Request) -> Context:
        info = current_request()
        principal = None
        auth_error = None
        try:
            principal = await authenticate(
                request.headers.get("authorization"), settings, _shopify_http(request)
            )
            if principal is not None and principal.installed_now:
                # Installing waited on Shopify, outside the request's database deadline;
                # the request itself starts its budget now.
                restart_request_deadline(settings.mongodb_request_timeout_seconds)
        except AuthError as exc:
            auth_error = str(exc)
        requested = (request.headers.get(TENANT_HEADER) or "").strip() or None
        tenant_header_error = None
        if requested is not None and len(requested) > MAX_TENANT_HEADER_LENGTH:
            tenant_header_error = (
                f"X-Tenant-Id is longer than {MAX_TENANT_HEADER_LENGTH} characters"
            )
            requested = None
        tenant_id = principal.tenant_id if principal else requested
        info.tenant_id = tenant_id
        return Context(
            settings=settings,
            request_id=info.request_id,
            client_ip=request.client.host if request.client else "-",
            principal=principal,
            auth_error=auth_error,
            requested_tenant_id=requested,
            tenant_header_error=tenant_header_error,
            shopify_http=_shopify_http(request),
            portal_locks=_portal_locks(request),
            operator_key=request.headers.get(OPERATOR_KEY_HEADER),
            loaders=Loaders.for_tenant(tenant_id),
        )

    return get_context


def make_proxy_context_getter(settings: Settings) -> Any:
    """The context of `/portal/proxy/graphql`: the storefront portal through Shopify's app proxy.

    The shop and the signed-in customer come from the verified signature, never from a header;
    a request that is not Shopify's gets 401 before anything else is read. No merchant credential
    counts here: the storefront is public.
    """

    async def get_context(request: Request) -> Context:
        try:
            proxy = verify_proxy_request(
                request.query_params.multi_items(), settings.shopify_api_secret, utcnow()
            )
        except ProxySignatureError as exc:
            raise FastAPIHTTPException(status_code=401, detail="Unauthorized") from exc
        info = current_request()
        tenant_id = tenant_id_for_shop(proxy.shop_domain)
        info.tenant_id = tenant_id
        peer = request.client.host if request.client else "-"
        return Context(
            settings=settings,
            request_id=info.request_id,
            client_ip=shopper_address(request.headers.get("x-forwarded-for"), peer),
            requested_tenant_id=tenant_id,
            shopify_http=_shopify_http(request),
            portal_locks=_portal_locks(request),
            portal_customer_id=proxy.customer_id,
            loaders=Loaders.for_tenant(tenant_id),
        )

    return get_context


def _portal_locks(request: Request) -> ClientLocks | None:
    resources = getattr(request.app.state, "resources", None)
    return getattr(resources, "portal_locks", None)


def _shopify_http(request: Request) -> httpx.AsyncClient | None:
    resources = getattr(request.app.state, "resources", None)
    return getattr(resources, "shopify_http", None)


class GraphQLRoute(DatabaseDeadlineRoute):
    """A request the database failed before execution (authentication in the context getter)
    is answered as GraphQL, with the same SERVICE_UNAVAILABLE a resolver would give."""

    def database_unavailable(self, request_id: str) -> Response:
        error = {
            "message": database_unavailable_message(request_id),
            "extensions": {"code": ErrorCode.SERVICE_UNAVAILABLE.value, "requestId": request_id},
        }
        return Response(
            content=orjson.dumps({"data": None, "errors": [error]}),
            status_code=503,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )


class DatabasePersistedQueries:
    """Persisted queries shared by every API process, in the service's database."""

    async def find(self, sha256_hash: str) -> str | None:
        return await find_persisted_query(sha256_hash)

    async def save(self, sha256_hash: str, query: str) -> None:
        await save_persisted_query(sha256_hash, query)


class ServiceGraphQLRouter(LocalGraphiQLRouter[Context, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, route_class=GraphQLRoute, **kwargs)
        limit = getattr(self.schema, "max_document_bytes", None)
        if self.persisted_queries is not None and limit is not None:
            # The schema refuses a longer document (GRAPHQL_MAX_DOCUMENT_BYTES): remembering
            # its text would only take the place of queries that run.
            store = self.persisted_queries
            store.max_query_chars = min(store.max_query_chars, limit)

    def may_share_registration(self, context: Context) -> bool:
        # Only merchants' (authenticated, accountable) registrations are stored for every
        # process: anyone may send a valid document, and comments make each one unique, so an
        # anonymous caller could otherwise fill the database. The portal's stay in its process.
        return context.principal is not None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # An exception an extension raises around execution skips MaskUnexpectedErrors, and
        # Strawberry would answer with its raw text (a PyMongo error names hosts and topology).
        if result.errors:
            result.errors = [masked(e) if is_unexpected(e) else e for e in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):  # Strawberry would call `.get` on a number: a 500
            raise HTTPException(400, "The request must be a JSON object (or a list of them)")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            # JSON that Python will not decode (an integer of over 4,300 digits, nesting past the
            # recursion limit) is answered like malformed JSON, a 400, instead of a 500.
            raise json.JSONDecodeError("Unable to decode the JSON", "", 0) from exc
