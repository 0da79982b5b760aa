"""`create_app(settings) -> FastAPI`; `app = create_app()` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI

from app.config import Settings
from app.cors import add_cors
from app.db import Database, MongoListener, connect
from app.graphql.graphiql import GraphiQLOptions, mount_graphiql, page_hosts
from app.graphql.persisted_queries import PersistedQueryStore
from app.graphql.returns.snapshot import make_return_renderer
from app.graphql.router import (
    DatabasePersistedQueries,
    ServiceGraphQLRouter,
    make_context_getter,
    make_proxy_context_getter,
)
from app.graphql.schema import build_schema
from app.http import carrier_webhooks, health, metrics, portal, shopify_oauth, shopify_webhooks
from app.http.body_limit import BodyLimitMiddleware
from app.jobs.registry import build_workers
from app.jobs.runner import BackgroundRunner, make_worker_id
from app.observability import tracing
from app.observability.access_log import AccessLogMiddleware
from app.observability.logging import configure_logging
from app.observability.metrics_middleware import MetricsMiddleware
from app.security_headers import SecurityHeadersMiddleware
from app.services.returns.portal_attempts import ClientLocks
from app.shopify.http import ShopifyHttp, make_shopify_http


@dataclass(slots=True)
class Resources:
    """What the lifespan opens and closes; reachable as `app.state.resources`."""

    settings: Settings
    database: Database
    shopify_http: ShopifyHttp
    runner: BackgroundRunner | None
    # One portal attempt at a time per client in this process (services/returns/portal_attempts).
    portal_locks: ClientLocks = field(default_factory=ClientLocks)


def create_app(
    settings: Settings | None = None,
    *,
    mongo_listeners: list[MongoListener] | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)
    tracing.configure_tracing()  # from the OTEL_* variables; off unless they ask for traces

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await connect(settings, listeners=mongo_listeners)
        shopify_http = make_shopify_http()
        runner = None
        if settings.run_background_jobs:
            runner = BackgroundRunner(
                build_workers(
                    settings, shopify_http, make_worker_id(), make_return_renderer(settings)
                )
            )
            runner.start()
        app.state.resources = Resources(settings, database, shopify_http, runner)
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            await shopify_http.aclose()
            await database.close()

    app = FastAPI(
        title="Returns management for Shopify",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/api/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/api/openapi.json",
    )
    app.state.settings = settings

    ide_options = GraphiQLOptions(
        default_headers=_default_ide_headers(settings), allowed_hosts=page_hosts(settings.app_url)
    )
    schema = build_schema(settings)
    graphql = ServiceGraphQLRouter(
        schema,
        context_getter=make_context_getter(settings),
        graphql_ide="graphiql" if settings.graphiql_on else None,
        graphiql_options=ide_options,
        persisted_queries=PersistedQueryStore(shared=DatabasePersistedQueries()),
        multipart_uploads_enabled=False,
    )
    app.include_router(graphql, prefix="/graphql")
    if settings.graphiql_on:
        mount_graphiql(app, options=ide_options)
    # The storefront portal's API through Shopify's app proxy: before the portal's pages, whose
    # `/portal/proxy/{rest}` would otherwise take it.
    proxied_graphql = ServiceGraphQLRouter(
        schema,
        context_getter=make_proxy_context_getter(settings),
        graphql_ide=None,
        multipart_uploads_enabled=False,
    )
    app.include_router(proxied_graphql, prefix=portal.PROXY_PREFIX + "/graphql")
    app.include_router(portal.router)
    app.include_router(health.router)
    app.include_router(shopify_oauth.router)
    # Before Shopify's `/api/webhooks/{topic:path}`, which would take this path as a topic.
    app.include_router(carrier_webhooks.router)
    app.include_router(shopify_webhooks.router)
    app.include_router(metrics.router)

    add_cors(app, settings.cors_allowed_origins)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(AccessLogMiddleware)
    tracing.add_server_spans(app)  # outermost: the span covers every other middleware
    return app


def _default_ide_headers(settings: Settings) -> dict[str, str]:
    """Headers GraphiQL opens with (`GRAPHIQL_DEFAULT_HEADERS`, JSON); bad JSON is ignored."""
    if not settings.graphiql_default_headers:
        return {}
    try:
        headers = orjson.loads(settings.graphiql_default_headers)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(headers, dict):
        return {}
    return {str(k): str(v) for k, v in headers.items()}


app = create_app()
