"""Typed failures of the Shopify boundary; callers catch these, never httpx exceptions."""

from __future__ import annotations

from typing import Any


class ShopifyError(Exception):
    """Base class: anything that went wrong talking to Shopify."""

    def __init__(self, message: str, *, shop: str | None = None) -> None:
        super().__init__(message)
        self.shop = shop


class ShopifyAuthError(ShopifyError):
    """401/403 that a token refresh did not cure (uninstalled app, revoked or missing scope)."""

    def __init__(
        self, message: str, *, shop: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, shop=shop)
        self.status_code = status_code


class ShopifyThrottledError(ShopifyError):
    """Still THROTTLED (or HTTP 429) after the allowed attempts or retry time."""


class ShopifyUnavailableError(ShopifyError):
    """5xx answers, timeouts or connection failures that outlasted the retries."""

    def __init__(
        self, message: str, *, shop: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, shop=shop)
        self.status_code = status_code


class ShopifyGraphQLError(ShopifyError):
    """GraphQL `errors` other than throttling: a bad query, a missing field, MAX_COST_EXCEEDED."""

    def __init__(
        self,
        errors: list[dict[str, Any]],
        *,
        shop: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.errors = errors
        self.messages = [str(error.get("message", error)) for error in errors]
        self.codes = [
            str((error.get("extensions") or {}).get("code"))
            for error in errors
            if isinstance(error, dict) and (error.get("extensions") or {}).get("code")
        ]
        self.data = data
        super().__init__("; ".join(self.messages) or "GraphQL error", shop=shop)


class ShopifyOAuthError(ShopifyAuthError):
    """The OAuth token endpoint refused a code exchange or refresh (HTTP 400): re-install needed."""

    def __init__(
        self,
        message: str,
        *,
        shop: str | None = None,
        error: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, shop=shop, status_code=status_code)
        self.error = error


class ShopifyUserError(ShopifyError):
    """A mutation answered with `userErrors` (Shopify's expected-failure channel)."""

    def __init__(
        self,
        user_errors: list[dict[str, Any]],
        *,
        shop: str | None = None,
        mutation: str | None = None,
    ) -> None:
        self.user_errors = user_errors
        self.mutation = mutation
        messages = "; ".join(str(error.get("message")) for error in user_errors)
        super().__init__(f"{mutation or 'mutation'} failed: {messages}", shop=shop)


def raise_for_user_errors(
    data: dict[str, Any], mutation: str, *, shop: str | None = None
) -> dict[str, Any]:
    """Return `data[mutation]`, raising ShopifyUserError when it carries userErrors."""
    payload = data.get(mutation)
    if not isinstance(payload, dict):
        raise ShopifyUserError(
            [{"field": None, "message": "empty payload"}], shop=shop, mutation=mutation
        )
    user_errors = payload.get("userErrors") or []
    if user_errors:
        raise ShopifyUserError(list(user_errors), shop=shop, mutation=mutation)
    return payload
