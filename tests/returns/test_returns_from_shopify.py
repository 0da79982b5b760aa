"""Returns staff handle in Shopify admin reach us (`returns/*` webhooks): a return created there
appears here (source SHOPIFY), decisions there move ours forward with actor `shopify`, echoes of
our own mirror calls and duplicate or re-topiced deliveries change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from app.config import Settings
from app.db import Database
from app.models import Order, Return, WebhookEvent
from app.models.return_request import ReturnReason, ReturnSource, ReturnStatus
from app.services.returns.ledger import reserved_units
from app.services.webhooks.processing import ProcessingPolicy, WebhookProcessor
from tests.factories import merchant_headers
from tests.returns.builders import (
    SimTenant,
    connect_sim_tenant,
    create,
    resync,
    return_input,
    returnable_variants,
    sim_settings,
    sim_synced_order,
)
from tests.returns.test_shopify_mirror import decide, run_mirror
from tests.webhooks.helpers import store_event
from tools.shopify_sim import SimulatorControl, SimulatorServer

FAST = ProcessingPolicy(max_attempts=3, retry_base_seconds=0.0)


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    return sim_settings(mongo_uri, simulator)


@pytest.fixture
async def shop(
    db: Database,
    settings: Settings,
    simulator: SimulatorServer,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
) -> tuple[SimTenant, Order]:
    """A connected tenant and a paid, fulfilled order of two units, synced here."""
    tenant = await connect_sim_tenant(sim_control, settings)
    [variant] = returnable_variants(simulator, tenant.domain, 1)
    order = await sim_synced_order(
        sim_control, settings, sim_http, tenant, [{"variant_id": variant, "quantity": 2}]
    )
    return tenant, order


async def _deliver(
    settings: Settings, tenant: SimTenant, topic: str, shopify_return: dict[str, Any]
) -> str:
    """The `topic` delivery Shopify sends for the return, stored and processed; its result."""
    number = int(str(shopify_return["id"]).rsplit("/", 1)[-1])
    payload = {
        "id": number,
        "admin_graphql_api_id": shopify_return["id"],
        "status": str(shopify_return["status"]).lower(),
        "order": {"id": 1, "admin_graphql_api_id": shopify_return["order_id"]},
    }
    stored = await store_event(topic, payload, shop=tenant.domain)
    await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()
    event = await WebhookEvent.find_one({"event_id": stored["event_id"]})
    assert event is not None and event.processed, event
    return str(event.result)


async def _staff(
    control: SimulatorControl, tenant: SimTenant, action: str, **body: Any
) -> dict[str, Any]:
    answer = await control.staff_return(tenant.domain, action, **body)
    found: dict[str, Any] = answer["return"]
    return found


async def _staff_process_refunding(
    control: SimulatorControl, tenant: SimTenant, order: Order, return_gid: str, amount: str
) -> dict[str, Any]:
    """Staff process the return in Shopify admin, refunding `amount` USD to the card (a seeded
    15% of orders is paid partly by gift card: the card's payment is the one refunded)."""
    payments = await control.order(tenant.domain, order.shopify_id)
    sale = next(
        t for t in payments["transactions"] if t["kind"] == "SALE" and t["gateway"] != "gift_card"
    )
    transfer = {
        "transactionId": sale["id"],
        "transactionAmount": {"amount": amount, "currencyCode": "USD"},
    }
    return await _staff(
        control,
        tenant,
        "process",
        returnId=return_gid,
        financialTransfer={"issueRefund": {"orderTransactions": [transfer]}},
    )


async def test_a_return_created_in_shopify_admin_appears_here_and_follows_a_decline_there(
    settings: Settings, sim_control: SimulatorControl, shop: tuple[SimTenant, Order]
) -> None:
    tenant, order = shop
    line = order.line_items[0]
    requested = await _staff(
        sim_control,
        tenant,
        "request",
        orderId=f"gid://shopify/Order/{order.shopify_id}",
        returnLineItems=[
            {
                "lineItemId": f"gid://shopify/LineItem/{line.id}",
                "quantity": 1,
                "returnReason": "SIZE_TOO_SMALL",
                "customerNote": "Too tight",
            }
        ],
    )
    result = await _deliver(settings, tenant, "returns/request", requested)
    assert result.startswith("adopted"), result
    [adopted] = await Return.find({"tenant_id": tenant.tenant_id}).to_list()
    assert adopted.source is ReturnSource.SHOPIFY
    assert adopted.status is ReturnStatus.REQUESTED
    assert adopted.shopify_return_id == requested["id"]
    assert [(i.line_item_id, i.quantity, i.reason, i.note) for i in adopted.items] == [
        (line.id, 1, ReturnReason.SIZE_TOO_SMALL, "Too tight")
    ]
    assert [h.actor for h in adopted.history] == ["shopify"]
    assert adopted.shopify_sync is None  # nothing to push back
    assert await reserved_units(tenant.tenant_id, order.order_number) == {line.id: 1}

    # The same delivery again (Shopify retries): still one return.
    again = await _deliver(settings, tenant, "returns/request", requested)
    assert again.startswith("echo"), again
    assert await Return.find({"tenant_id": tenant.tenant_id}).count() == 1

    declined = await _staff(
        sim_control,
        tenant,
        "decline",
        id=requested["id"],
        declineReason="OTHER",
        declineNote="Worn",
    )
    result = await _deliver(settings, tenant, "returns/decline", declined)
    assert result.startswith("applied"), result
    stored = await Return.get(adopted.id)
    assert stored is not None and stored.status is ReturnStatus.DECLINED
    assert stored.decline_reason == "Worn"
    assert stored.history[-1].actor == "shopify"
    assert stored.shopify_sync is None
    assert await reserved_units(tenant.tenant_id, order.order_number) == {line.id: 0}


async def test_decisions_there_move_ours_and_our_own_mirror_calls_come_back_as_echoes(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    shop: tuple[SimTenant, Order],
) -> None:
    tenant, order = shop
    headers = await merchant_headers(tenant.tenant_id)
    mine = await create(client, tenant.tenant_id, return_input(order))
    return_id = str(mine["return"]["id"])
    await run_mirror(settings, sim_http)  # Shopify has it, REQUESTED
    stored = await Return.find_one({"tenant_id": tenant.tenant_id})
    assert stored is not None and stored.shopify_return_id is not None
    gid = stored.shopify_return_id

    approved = await _staff(sim_control, tenant, "approve", id=gid)
    assert (await _deliver(settings, tenant, "returns/approve", approved)).startswith("applied")
    after = await Return.get(stored.id)
    assert after is not None and after.status is ReturnStatus.APPROVED
    assert after.history[-1].actor == "shopify"
    assert "approve" in after.shopify_applied  # the mirror will not approve it again

    # Ours moves on; the mirror's own call comes back as a delivery: an echo, nothing moves.
    await decide(client, headers, "cancel", return_id)
    await run_mirror(settings, sim_http)
    canceled_there = {"id": gid, "status": "CANCELED", "order_id": approved["order_id"]}
    history = len((await Return.get(stored.id) or after).history)
    assert (await _deliver(settings, tenant, "returns/cancel", canceled_there)).startswith("echo")
    final = await Return.get(PydanticObjectId(stored.id))
    assert final is not None and final.status is ReturnStatus.CANCELED
    assert len(final.history) == history


async def test_a_body_re_sent_under_another_returns_topic_applies_only_what_shopify_shows(
    settings: Settings, sim_control: SimulatorControl, shop: tuple[SimTenant, Order]
) -> None:
    tenant, order = shop
    requested = await _staff(
        sim_control,
        tenant,
        "request",
        orderId=f"gid://shopify/Order/{order.shopify_id}",
        returnLineItems=[
            {"lineItemId": f"gid://shopify/LineItem/{order.line_items[0].id}", "quantity": 2}
        ],
    )
    await _deliver(settings, tenant, "returns/request", requested)
    # A captured request body posted as returns/decline (and as cancel): Shopify says REQUESTED.
    for topic in ("returns/decline", "returns/cancel", "returns/approve"):
        result = await _deliver(settings, tenant, topic, requested)
        assert result.startswith("echo"), (topic, result)
    [ours] = await Return.find({"tenant_id": tenant.tenant_id}).to_list()
    assert ours.status is ReturnStatus.REQUESTED


async def test_the_echo_of_our_own_request_whose_answer_was_lost_is_not_a_second_return(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    shop: tuple[SimTenant, Order],
) -> None:
    """The mirror's returnRequest reached Shopify but its answer was lost; Shopify's
    returns/request for it arrives before the mirror tries again. It is our return, recorded as
    such, not a return created in Shopify admin (which would hold the same units twice)."""
    tenant, order = shop
    await create(client, tenant.tenant_id, return_input(order))
    await sim_control.drop_next_responses(tenant.domain, 1, operation="returnRequest")
    await run_mirror(settings, sim_http)  # Shopify created it; we did not hear
    [ours] = await Return.find({"tenant_id": tenant.tenant_id}).to_list()
    assert ours.shopify_return_id is None and ours.shopify_requested_lines
    [on_shopify] = (await sim_control.shop_state(tenant.domain))["returns"]

    result = await _deliver(settings, tenant, "returns/request", on_shopify)
    assert result.startswith("echo: our own request"), result
    stored = await Return.find({"tenant_id": tenant.tenant_id}).to_list()
    assert [r.id for r in stored] == [ours.id]
    assert stored[0].shopify_return_id == on_shopify["id"]

    await Return.get_pymongo_collection().update_one(
        {"_id": ours.id}, {"$set": {"shopify_sync.lease_expires_at": None}}
    )
    await run_mirror(settings, sim_http)
    synced = await Return.get(ours.id)
    assert synced is not None and synced.shopify_sync is not None
    assert synced.shopify_sync.status == "synced"
    assert len((await sim_control.shop_state(tenant.domain))["returns"]) == 1


async def test_a_return_processed_in_shopify_admin_is_resolved_here_with_what_shopify_paid(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    shop: tuple[SimTenant, Order],
) -> None:
    tenant, order = shop
    headers = await merchant_headers(tenant.tenant_id)
    mine = await create(client, tenant.tenant_id, return_input(order))
    return_id = str(mine["return"]["id"])
    await decide(client, headers, "approve", return_id)
    await run_mirror(settings, sim_http)  # OPEN on Shopify
    stored = await Return.find_one({"tenant_id": tenant.tenant_id})
    assert stored is not None and stored.shopify_return_id is not None
    gid = stored.shopify_return_id

    # Staff process it in Shopify admin, refunding 5.00 to the card.
    processed = await _staff_process_refunding(sim_control, tenant, order, gid, "5.00")
    result = await _deliver(settings, tenant, "returns/process", processed)

    assert result == "applied: resolved (processed in Shopify admin; refunded 5.00 USD)"
    after = await Return.get(stored.id)
    assert after is not None and after.status is ReturnStatus.RESOLVED
    assert [step.actor for step in after.history[-2:]] == ["shopify", "shopify"]
    assert after.outcome is not None and after.outcome.refund_amount == 5
    assert after.refund is not None and after.refund.amount == 5
    [refund_id] = processed["refund_ids"]
    assert after.refund.shopify_refund_id == refund_id
    # The mirror has nothing left to do: no second refund.
    await run_mirror(settings, sim_http)
    assert len((await sim_control.order(tenant.domain, order.shopify_id))["refunds"]) == 1
    # A second delivery of the same event is an echo.
    again = await _deliver(settings, tenant, "returns/process", processed)
    assert again.startswith("echo")


async def _deliver_refund(
    settings: Settings, tenant: SimTenant, refund_gid: str, return_gid: str | None
) -> str:
    """The `refunds/create` delivery for a refund (of the return, if any), processed."""
    linked = (
        None
        if return_gid is None
        else {"id": int(return_gid.rsplit("/", 1)[-1]), "admin_graphql_api_id": return_gid}
    )
    payload = {
        "id": int(refund_gid.rsplit("/", 1)[-1]),
        "admin_graphql_api_id": refund_gid,
        "order_id": 1,
        "transactions": [],
        "return": linked,
    }
    stored = await store_event("refunds/create", payload, shop=tenant.domain)
    await WebhookProcessor(settings, "test", policy=FAST).run_until_idle()
    event = await WebhookEvent.find_one({"event_id": stored["event_id"]})
    assert event is not None and event.processed, event
    return str(event.result)


async def _resolved_here_not_yet_paid(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    simulator: SimulatorServer,
) -> tuple[SimTenant, Order, Return]:
    """A return of an order paid by card alone, on Shopify (OPEN), resolved here, its refund
    not paid yet."""
    tenant = await connect_sim_tenant(sim_control, settings)
    [variant] = returnable_variants(simulator, tenant.domain, 1)
    order = await sim_synced_order(
        sim_control,
        settings,
        sim_http,
        tenant,
        [{"variant_id": variant, "quantity": 2}],
        payments=[{"gateway": "shopify_payments"}],
    )
    headers = await merchant_headers(tenant.tenant_id)
    mine = await create(client, tenant.tenant_id, return_input(order))
    return_id = str(mine["return"]["id"])
    await decide(client, headers, "approve", return_id)
    await run_mirror(settings, sim_http)  # OPEN on Shopify
    for action in ("receive", "resolve"):
        await decide(client, headers, action, return_id)
    stored = await Return.find_one({"tenant_id": tenant.tenant_id})
    assert stored is not None and stored.shopify_return_id is not None
    assert stored.status is ReturnStatus.RESOLVED and stored.refund is None
    return tenant, order, stored


async def test_a_refund_staff_made_in_admin_on_a_return_resolved_here_is_recorded_on_it(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    simulator: SimulatorServer,
) -> None:
    """Resolved here, but processed (and refunded in full) by staff in Shopify admin before our
    mirror paid: `refunds/create` records Shopify's refund on ours, and the mirror then pays
    nothing (without it the mirror would fail the return: "processed without a refund of ...")."""
    tenant, order, stored = await _resolved_here_not_yet_paid(
        client, settings, sim_control, sim_http, simulator
    )
    assert stored.outcome is not None and stored.shopify_return_id is not None
    owed = stored.outcome.refund_amount + Decimal("0.50")  # a little more than due: fine
    processed = await _staff_process_refunding(
        sim_control, tenant, order, stored.shopify_return_id, f"{owed:.2f}"
    )
    [refund_gid] = processed["refund_ids"]

    outside = await _deliver_refund(settings, tenant, refund_gid, None)
    assert outside == "ignored: a refund outside any return"
    result = await _deliver_refund(settings, tenant, refund_gid, stored.shopify_return_id)
    assert result.endswith(f"recorded: refund {owed:.2f} USD on the return"), result
    after = await Return.get(stored.id)
    assert after is not None and after.refund is not None
    assert after.refund.shopify_refund_id == refund_gid
    assert after.refund.amount == owed

    await run_mirror(settings, sim_http)
    synced = await Return.get(stored.id)
    assert synced is not None and synced.shopify_sync is not None
    assert synced.shopify_sync.status.value == "synced", synced.shopify_sync
    assert len((await sim_control.order(tenant.domain, order.shopify_id))["refunds"]) == 1
    again = await _deliver_refund(settings, tenant, refund_gid, stored.shopify_return_id)
    assert again.endswith("echo: the refund is recorded, or the return is not resolved here")


async def test_a_smaller_refund_made_in_admin_is_not_taken_as_paid(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    simulator: SimulatorServer,
) -> None:
    """Staff refund less than ours is due: the refund is not recorded as ours, and the mirror
    reports the return as processed without its refund (the customer is not silently short)."""
    tenant, order, stored = await _resolved_here_not_yet_paid(
        client, settings, sim_control, sim_http, simulator
    )
    assert stored.outcome is not None and stored.shopify_return_id is not None
    processed = await _staff_process_refunding(
        sim_control, tenant, order, stored.shopify_return_id, "1.00"
    )
    [refund_gid] = processed["refund_ids"]

    result = await _deliver_refund(settings, tenant, refund_gid, stored.shopify_return_id)
    assert result.endswith(
        f"ignored: refund 1.00 USD is less than the {stored.outcome.refund_amount} USD due here"
        " (the mirror reports the return)"
    ), result
    await run_mirror(settings, sim_http)
    after = await Return.get(stored.id)
    assert after is not None and after.refund is None and after.shopify_sync is not None
    assert after.shopify_sync.status.value == "failed"
    assert "processed on Shopify without a refund of" in (after.shopify_sync.error or "")
    assert len((await sim_control.order(tenant.domain, order.shopify_id))["refunds"]) == 1


async def test_a_resync_brings_returns_whose_webhooks_were_missed(
    client: httpx.AsyncClient,
    settings: Settings,
    sim_control: SimulatorControl,
    sim_http: httpx.AsyncClient,
    shop: tuple[SimTenant, Order],
) -> None:
    """Staff create one return and decline another of ours in Shopify admin; neither webhook
    reaches us. The next resync adopts the first and declines ours."""
    tenant, order = shop
    await create(client, tenant.tenant_id, return_input(order))
    await run_mirror(settings, sim_http)  # ours is on Shopify, REQUESTED
    ours = await Return.find_one({"tenant_id": tenant.tenant_id})
    assert ours is not None and ours.shopify_return_id is not None
    await _staff(sim_control, tenant, "decline", id=ours.shopify_return_id, declineNote="No")
    line = f"gid://shopify/LineItem/{order.line_items[0].id}"
    theirs = await _staff(
        sim_control,
        tenant,
        "request",
        orderId=f"gid://shopify/Order/{order.shopify_id}",
        returnLineItems=[{"lineItemId": line, "quantity": 1, "returnReason": "SIZE_TOO_SMALL"}],
    )

    job = await resync(settings, sim_http, tenant)

    assert (job.progress.returns_seen, job.progress.returns_applied) == (2, 2)
    declined = await Return.get(ours.id)
    assert declined is not None and declined.status is ReturnStatus.DECLINED
    assert declined.history[-1].actor == "shopify"
    adopted = await Return.find_one(
        {"tenant_id": tenant.tenant_id, "shopify_return_id": theirs["id"]}
    )
    assert adopted is not None and adopted.source is ReturnSource.SHOPIFY
    assert adopted.status is ReturnStatus.REQUESTED
    # A second resync finds nothing left to apply.
    again = await resync(settings, sim_http, tenant)
    assert (again.progress.returns_seen, again.progress.returns_applied) == (2, 0)
