"""One access-log line per request, and the request id on every response (pure ASGI).

What the client chose (path, user agent) is cut before it is logged: the line of a request with
a 60,000-character path costs what any other line costs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logging import scrub
from app.observability.request_context import RequestInfo, bind_request, unbind_request

logger = logging.getLogger("app.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# A longer path is an attack or a bug, and its start is enough to tell which.
MAX_LOGGED_PATH = 1_024
MAX_LOGGED_USER_AGENT = 200


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        info = RequestInfo(request_id=request_id)
        scope.setdefault("state", {})["request_info"] = info
        token = bind_request(info)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            path = scrub(scope["path"], MAX_LOGGED_PATH)
            user_agent = headers.get(b"user-agent", b"")[:MAX_LOGGED_USER_AGENT]
            logger.info(
                "%s %s %s",
                scope["method"],
                path,
                status,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "response_time_ms": elapsed_ms,
                    "operation": info.operation,
                    "client_ip": (scope.get("client") or ("-",))[0],
                    "user_agent": user_agent.decode("latin-1"),
                },
            )
            unbind_request(token)
