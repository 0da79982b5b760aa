"""returns/request, approve, decline, cancel, close, reopen, process: a return changed in
Shopify admin (or the echo of our own mirror call); refunds/create: a refund made on a return.
Neither the topic nor the body is trusted for what to apply: the handler reads the return from
Shopify with the shop's token and applies what Shopify shows (`services.returns.from_shopify`),
so a replayed or re-topiced delivery can only apply the truth."""

from __future__ import annotations

from app.services.returns.from_shopify import (
    OrderNotHeldYet,
    ShopifyReturn,
    apply_shopify_return,
    record_shopify_refund,
)
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.shopify_checks import CannotVerify, shopify_return_now


async def apply_return_event(context: WebhookContext) -> str:
    return_gid = str(context.payload["admin_graphql_api_id"])  # shape-checked at ingest
    return await _apply_as_shopify_shows(context, return_gid)


async def apply_refund_event(context: WebhookContext) -> str:
    """The refund's return, as Shopify shows it, is applied like a `returns/*` event (a return
    processed in admin resolves ours, with the refund); then the refund is recorded on ours if
    it was already resolved here without one. A refund outside any return changes nothing here
    (the order's own `orders/updated` carries it)."""
    linked = context.payload.get("return") or {}  # shape-checked at ingest
    return_gid = linked.get("admin_graphql_api_id")
    if not return_gid:
        return "ignored: a refund outside any return"
    refund_gid = str(context.payload["admin_graphql_api_id"])
    return await _apply_as_shopify_shows(context, str(return_gid), refund_gid)


async def _apply_as_shopify_shows(
    context: WebhookContext, return_gid: str, refund_gid: str | None = None
) -> str:
    try:
        node = await shopify_return_now(context, return_gid)
    except CannotVerify as exc:
        return f"ignored: cannot ask Shopify ({exc})"
    if node is None:
        return f"ignored: Shopify has no return {return_gid} for this shop"
    shopify = ShopifyReturn.from_node(node)
    try:
        applied = await apply_shopify_return(context.tenant_id, shopify)
    except OrderNotHeldYet as exc:
        raise HandlerError(str(exc)) from exc
    if refund_gid is None:
        return applied
    return f"{applied}; {await record_shopify_refund(context.tenant_id, shopify, refund_gid)}"
