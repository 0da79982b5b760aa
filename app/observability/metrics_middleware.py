"""Request count and latency by route template and GraphQL operation (pure ASGI).

Add it inside `AccessLogMiddleware` (i.e. `app.add_middleware(MetricsMiddleware)` *before*
`app.add_middleware(AccessLogMiddleware)`), so the request facts it reads are already bound.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.metrics import observe_graphql_operation, observe_request
from app.observability.request_context import RequestInfo, current_request

UNMATCHED_ROUTE = "<unmatched>"
GRAPHQL_PATH = "/graphql"


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/webhooks/{topic}`), never a raw unmatched path:
    label values stay bounded whatever URLs clients send."""
    effective = getattr(scope.get("effective_route_context"), "path_format", None)
    if isinstance(effective, str) and effective:
        return effective
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED_ROUTE
    # A route of a router included with a prefix (`/graphql`) carries only its own part.
    included = (scope.get("fastapi") or {}).get("included_router")
    prefix = getattr(getattr(included, "include_context", None), "prefix", "")
    if isinstance(prefix, str) and not template.startswith(prefix):
        template = prefix + template
    return template or UNMATCHED_ROUTE


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            observe_request(scope["method"], route, status, elapsed)
            if route == GRAPHQL_PATH:
                info = scope.get("state", {}).get("request_info")
                request = info if isinstance(info, RequestInfo) else current_request()
                observe_graphql_operation(request.operation, elapsed, ok=status < 500)
