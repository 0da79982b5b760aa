"""`create_simulator_app(config)`: the whole simulated Shopify as one ASGI app (admin, control
API, and the shops' storefronts by Host header)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .admin_api import graphql_endpoint
from .config import SimulatorConfig
from .control import control_routes
from .graphql_api import build_admin_schema
from .http import json_response
from .oauth import access_token, authorize
from .state import SimState, normalize_shop
from .storefront import StorefrontMiddleware, close_storefront
from .webhooks import WebhookDispatcher


async def bulk_result(request: Request) -> Response:
    state: SimState = request.app.state.sim
    shop = state.shops.get(normalize_shop(request.path_params["shop"]) or "")
    wanted = f"gid://shopify/BulkOperation/{request.path_params['operation']}"
    for operation in shop.bulk_operations if shop else []:
        if operation.id == wanted and operation.status == "COMPLETED":
            return Response(operation.result, media_type="application/jsonl")
    return json_response({"error": "not found"}, status_code=404)


def create_simulator_app(config: SimulatorConfig | None = None) -> Starlette:
    config = config or SimulatorConfig()
    state = SimState(config)
    dispatcher = WebhookDispatcher(config, default_api_version=config.api_versions[-1])

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await dispatcher.start()
        except Exception as exc:
            # uvicorn reports a failed startup as an exit code only: keep the cause for
            # `ThreadedASGIServer.start` to say (seen once, under heavy load, without a cause).
            app.state.startup_error = f"{type(exc).__name__}: {exc}"
            raise
        try:
            yield
        finally:
            await close_storefront(app)
            await dispatcher.close()

    routes = [
        *control_routes(),
        Route("/_sim/bulk/{shop}/{operation}.jsonl", bulk_result, methods=["GET"]),
        Route("/{shop}/admin/oauth/authorize", authorize, methods=["GET"]),
        Route("/{shop}/admin/oauth/access_token", access_token, methods=["POST"]),
        Route("/{shop}/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"]),
    ]
    # storefront requests (Host = a shop's domain: the app proxy, customer sign-in) go to
    # `storefront.py`; the path-based admin and control routes answer under any Host
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(StorefrontMiddleware)])
    app.state.sim = state
    app.state.dispatcher = dispatcher
    app.state.schema = build_admin_schema()
    app.state.config = config
    return app
