"""Small HTTP helpers shared by the simulator's routes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


async def read_params(request: Request) -> dict[str, Any]:
    """Query string merged with a JSON or form-encoded body (python-multipart is not needed)."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        try:
            loaded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return params
        if isinstance(loaded, dict):
            params.update(loaded)
        return params
    params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params
