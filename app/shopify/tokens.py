"""Where the Admin client gets its access token (the implementation lives in app/services)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenSource(Protocol):
    """Current offline access token of one shop.

    `access_token()` returns a token that is valid as far as the source knows (it should refresh
    ahead of `expires_at`). `refresh(rejected_token)` is called after Shopify answered 401 to
    `rejected_token`; it must be single-flight: when another caller already replaced that token,
    return the newer one instead of refreshing again (a refresh token can be used only once).
    """

    async def access_token(self) -> str: ...

    async def refresh(self, rejected_token: str) -> str: ...
