"""Cross-origin access for browser clients on other origins (e.g. a separate portal front end).

Bearer tokens travel in `Authorization`, never in cookies, so credentials stay off; browsers
then never attach cookies to cross-origin requests, and no origin can ride a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware

ALLOWED_METHODS: Final = ("GET", "POST", "OPTIONS")
ALLOWED_HEADERS: Final = ("Authorization", "Content-Type", "X-Tenant-Id", "X-Request-Id")
EXPOSED_HEADERS: Final = ("X-Request-Id",)
PREFLIGHT_MAX_AGE_SECONDS: Final = 600


def add_cors(app: Starlette, allowed_origins: Sequence[str]) -> None:
    """Let browsers on `allowed_origins` call the API; an empty list adds no CORS at all.

    Origins are exact (`https://portal.example.com`); a trailing slash is ignored.
    """
    origins = [normalize_origin(origin) for origin in allowed_origins]
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )


def normalize_origin(origin: str) -> str:
    """`scheme://host[:port]` without a trailing slash; `*` is kept; anything else is refused."""
    origin = origin.strip().rstrip("/")
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path or parts.query:
        raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


__all__ = ["ALLOWED_HEADERS", "add_cors", "normalize_origin"]
