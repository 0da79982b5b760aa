"""The replay family's world: two shops with the app installed in the simulator, each with a
history in which Shopify sent one delivery of every topic the service takes, all captured byte
for byte on the way (`tests.webhooks.capture`).

Each shop's history, as it would happen in production:
1. an order is created (`orders/create`) and updated (`orders/updated`), both applied;
2. a customer's data is requested (`customers/data_request`), the export made;
3. another customer is erased (`customers/redact`), applied;
4. `shop/redact` is captured but not applied: that delivery belongs to an earlier uninstall,
   after which the shop installed the app again (it would have erased the shop then);
5. the app is uninstalled (`app/uninstalled`, applied: Shopify refuses the old token) and
   installed again (new tokens).
Whatever the originals meant has happened; a replay may add nothing to it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import Settings
from app.models import Order
from app.services.auth import issue_api_key
from app.services.integration.webhook_subscriptions import WEBHOOK_TOPICS
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import make_return
from tests.webhooks.capture import CapturedDelivery, Capturer
from tests.webhooks.helpers import connect_shop, install_app
from tools.shopify_sim import SimulatorControl

SUBSCRIBED_TOPICS = WEBHOOK_TOPICS  # every topic the app registers per shop
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# Collections whose documents carry `tenant_id`, compared before and after the replays
# (`webhook_events` is checked event by event instead: every replay leaves its record there).
STATE_COLLECTIONS = (
    "tenants",
    "integrations_shopify",
    "orders",
    "customers",
    "returns",
    "return_ledgers",
    "sync_jobs",
    "customer_data_exports",
    "api_keys",
)
# Bookkeeping a repeat of an original rewrites with the same meaning: a customers/redact run
# again re-stamps its redaction, a customers/data_request rewrites its export's time and event;
# and a refused shop/redact is recorded on the integration (it raises the alert).
RESTAMPED_FIELDS = {
    "integrations_shopify": ("shop_redact_refused_at",),
    "customers": ("redacted_at", "updated_at"),
    "orders": ("redacted_at",),
    "customer_data_exports": ("created_at", "event_id"),
}
PROCESSING = ProcessingPolicy(max_attempts=2, retry_base_seconds=0.0)


@dataclass
class ReplayTenant:
    tenant_id: str
    shop: str
    api_key: str
    captured: dict[str, CapturedDelivery]


async def process_all(settings: Settings) -> int:
    return await WebhookProcessor(settings, "replay-world", policy=PROCESSING).run_until_idle()


async def _apply(client: httpx.AsyncClient, settings: Settings, delivery: CapturedDelivery) -> None:
    response = await delivery.deliver_original(client)
    assert response.status_code == 200, (delivery.topic, response.text)
    await process_all(settings)


async def build_history(
    client: httpx.AsyncClient,
    control: SimulatorControl,
    settings: Settings,
    capturer: Capturer,
    prefix: str,
) -> ReplayTenant:
    """One shop through the history above; returns what was captured on the way."""
    domain = f"{prefix}{uuid.uuid4().hex[:8]}.myshopify.com"
    shop = await connect_shop(control, settings, domain, orders=3)
    api_key = (await issue_api_key(shop.tenant_id, name="replay")).key
    captured: dict[str, CapturedDelivery] = {}
    await capturer.subscribe(domain, *SUBSCRIBED_TOPICS)

    email = f"buyer@{prefix}.test"
    # Paid by card alone: staff refund 1.00 of it below (a random order may be refunded
    # already, unpaid, or hold a gift card payment smaller than that).
    created = await control.create_order(
        domain,
        email=email,
        fulfilled=True,
        line_items=[{"quantity": 3}],
        financial_status="PAID",
        payments=[{"gateway": "shopify_payments"}],
    )
    captured["orders/create"] = await capturer.next(domain, "orders/create")
    await _apply(client, settings, captured["orders/create"])
    await control.update_order(domain, created["order"]["id"], tags=["replayed"])
    captured["orders/updated"] = await capturer.next(domain, "orders/updated")
    await _apply(client, settings, captured["orders/updated"])
    order = await Order.find_one({"tenant_id": shop.tenant_id})
    assert order is not None and order.tags == ["replayed"]
    await make_return(order)

    # Staff in Shopify admin: one return through every step (processed with a refund), one
    # declined, one canceled.
    line = created["order"]["lineItems"][0]["id"]
    sale = next(t for t in created["order"]["transactions"] if t["kind"] == "SALE")
    refund = {
        "issueRefund": {
            "orderTransactions": [
                {
                    "transactionId": sale["id"],
                    "transactionAmount": {
                        "amount": "1.00",
                        "currencyCode": created["order"]["presentmentCurrencyCode"],
                    },
                }
            ]
        }
    }
    first = await _staff_return(control, capturer, client, settings, domain, created, line)
    for action in ("approve", "process", "reopen", "close"):
        paid = {"financialTransfer": refund} if action == "process" else {}
        await control.staff_return(domain, action, id=first, returnId=first, **paid)
        captured[f"returns/{action}"] = await capturer.next(domain, f"returns/{action}")
        await _apply(client, settings, captured[f"returns/{action}"])
        if paid:
            captured["refunds/create"] = await capturer.next(domain, "refunds/create")
            await _apply(client, settings, captured["refunds/create"])
    captured["returns/request"] = await capturer.first_of(domain, "returns/request")
    for action in ("decline", "cancel"):
        other = await _staff_return(control, capturer, client, settings, domain, created, line)
        await control.staff_return(domain, action, id=other, declineReason="OTHER")
        captured[f"returns/{action}"] = await capturer.next(domain, f"returns/{action}")
        await _apply(client, settings, captured[f"returns/{action}"])

    url = capturer.compliance_url(domain)
    await control.compliance(domain, "customers/data_request", email=email, compliance_url=url)
    captured["customers/data_request"] = await capturer.next(domain, "customers/data_request")
    await _apply(client, settings, captured["customers/data_request"])
    await control.compliance(domain, "customers/redact", compliance_url=url)  # another customer
    captured["customers/redact"] = await capturer.next(domain, "customers/redact")
    await _apply(client, settings, captured["customers/redact"])
    granted = (await control.shop_state(domain))["granted_scope"]
    await control.change_scopes(domain, granted)  # approved again: the same scopes
    captured["app/scopes_update"] = await capturer.next(domain, "app/scopes_update")
    await _apply(client, settings, captured["app/scopes_update"])
    await control.compliance(domain, "shop/redact", compliance_url=url)
    captured["shop/redact"] = await capturer.next(domain, "shop/redact")

    await control.uninstall(domain)
    captured["app/uninstalled"] = await capturer.next(domain, "app/uninstalled")
    await _apply(client, settings, captured["app/uninstalled"])
    await install_app(control, settings, domain)
    return ReplayTenant(shop.tenant_id, domain, api_key, captured)


async def _staff_return(
    control: SimulatorControl,
    capturer: Capturer,
    client: httpx.AsyncClient,
    settings: Settings,
    domain: str,
    created: dict[str, Any],
    line: str,
) -> str:
    """A return of one unit requested by staff in Shopify admin, its delivery applied here."""
    requested = await control.staff_return(
        domain,
        "request",
        orderId=created["order"]["id"],
        returnLineItems=[{"lineItemId": line, "quantity": 1, "returnReason": "OTHER"}],
    )
    await _apply(client, settings, await capturer.next(domain, "returns/request"))
    return str(requested["return"]["id"])


async def tenant_state(db: Any, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the tenant, without the fields a repeat re-stamps."""
    state = {}
    for name in STATE_COLLECTIONS:
        key = "id" if name == "tenants" else "tenant_id"
        documents = await db[name].find({key: tenant_id}).sort("_id", 1).to_list(None)
        restamped = RESTAMPED_FIELDS.get(name, ())
        state[name] = [{k: v for k, v in d.items() if k not in restamped} for d in documents]
    return state
