"""returns/request, approve, decline, cancel, close, reopen, process: a return changed in
Shopify admin (or the echo of our own mirror call). Neither the topic nor the body is trusted for
what to apply: the handler reads the return from Shopify with the shop's token and applies what
Shopify shows (`services.returns.from_shopify`), so a replayed or re-topiced delivery can only
apply the truth."""

from __future__ import annotations

from app.services.returns.from_shopify import (
    OrderNotHeldYet,
    ShopifyReturn,
    apply_shopify_return,
)
from app.services.webhooks.context import HandlerError, WebhookContext
from app.services.webhooks.shopify_checks import CannotVerify, shopify_return_now


async def apply_return_event(context: WebhookContext) -> str:
    return_gid = str(context.payload["admin_graphql_api_id"])  # shape-checked at ingest
    try:
        node = await shopify_return_now(context, return_gid)
    except CannotVerify as exc:
        return f"ignored: cannot ask Shopify ({exc})"
    if node is None:
        return f"ignored: Shopify has no return {return_gid} for this shop"
    try:
        return await apply_shopify_return(context.tenant_id, ShopifyReturn.from_node(node))
    except OrderNotHeldYet as exc:
        raise HandlerError(str(exc)) from exc
