"""An ASGI wrapper around the simulator that adds up the query cost each shop was charged.

Reads `extensions.cost.actualQueryCost` of every Admin GraphQL response (what the bucket really
lost after the refund), so "throttle budget used" is measured the same way for any client.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(slots=True)
class ShopCost:
    requests: int = 0
    throttled: int = 0
    points: float = 0.0


class CostMeter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._shops: dict[str, ShopCost] = {}

    def snapshot(self, shop: str) -> ShopCost:
        with self._lock:
            cost = self._shops.get(shop, ShopCost())
            return ShopCost(cost.requests, cost.throttled, cost.points)

    def __getattr__(self, name: str) -> Any:  # `state` etc. of the wrapped Starlette app
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.endswith("/graphql.json"):
            await self.app(scope, receive, send)
            return
        shop = path.strip("/").split("/", 1)[0].lower()
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        self._record(shop, b"".join(chunks))

    def _record(self, shop: str, body: bytes) -> None:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict):
            return
        cost = (payload.get("extensions") or {}).get("cost") or {}
        errors = payload.get("errors")
        throttled = isinstance(errors, list) and any(
            isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
            for e in errors
        )
        with self._lock:
            entry = self._shops.setdefault(shop, ShopCost())
            entry.requests += 1
            entry.throttled += int(throttled)
            entry.points += float(cost.get("actualQueryCost") or 0)
