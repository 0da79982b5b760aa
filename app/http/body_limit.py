"""The request body's arrival (pure ASGI): bodies over a limit get 413 before the handler reads
them, and a client that hangs up before its body has arrived ends the request as 499.

Starlette raises `ClientDisconnect` from the body read; unhandled, it reached uvicorn as
"Exception in ASGI application", was logged with a traceback and counted as a 500, so every
impatient or dropped client fed the 5xx alert. Answered with 499 (nginx's "client closed
request"), the access log and the metrics outside this middleware see that status, and the
server drops the answer nobody is waiting for.
"""

from __future__ import annotations

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLIENT_CLOSED_REQUEST = 499


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                await self._refuse(send)
                return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(send)
        except ClientDisconnect:
            if not response_started:
                await send({"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST})
                await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, send: Send) -> None:
        body = orjson.dumps(
            {"error": "payload_too_large", "message": f"request body over {self.max_bytes} bytes"}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
