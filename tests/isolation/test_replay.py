"""The replay family: every captured delivery (one per topic the service takes, compliance topics
included) re-sent under every topic, with its own shop's header and with the other shop's, a
fresh event id and a fresh timestamp. Nothing is applied that the original did not mean: both
tenants' data is what it was before the replays, and every replay the route accepted ends with
a result that changed nothing."""

from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.models import WebhookEvent
from app.services.operations.alerts import AlertState, DiskUsage, evaluate_alerts
from app.services.webhooks.handlers.app_uninstalled import STALE_UNINSTALL
from app.services.webhooks.handlers.compliance import SHOP_REDACT_REFUSED
from app.services.webhooks.topics import ORDER_TOPICS, RETURN_TOPICS, WEBHOOK_TOPICS
from tests.conftest import make_settings
from tests.factories import graphql
from tests.isolation.replay_world import (
    ReplayTenant,
    build_history,
    process_all,
    tenant_state,
)
from tests.simulator_fixtures import SIM_API_KEY, SIM_API_SECRET, WebhookReceiver
from tests.webhooks.capture import Capturer
from tools.shopify_sim import SimulatorControl, SimulatorServer


@pytest.fixture
def settings(mongo_uri: str, simulator: SimulatorServer) -> Settings:
    """The simulator is Shopify here, with its app credentials: it signs the deliveries."""
    return make_settings(
        mongo_uri,
        shopify_admin_base_url=simulator.admin_base_template,
        shopify_api_key=SIM_API_KEY,
        shopify_api_secret=SIM_API_SECRET,
    )


# Bodies that do not name their shop: the route cannot tell a re-sent one from the shop's own.
UNNAMED_SHOP = {*ORDER_TOPICS, *RETURN_TOPICS, "refunds/create", "app/scopes_update"}
# Bodies of one object shared by several topics (a return's under every `returns/*` topic): the
# handler reads the object from Shopify rather than trusting the topic.
ONE_KIND = (ORDER_TOPICS, RETURN_TOPICS)


def _expected_status(kind: str, route: str, own_shop: bool) -> int:
    """What the route answers: the body must be the route's topic's (orders/create and
    orders/updated share one), and a body naming its shop must name the header's."""
    same_kind = route == kind or any(route in kin and kind in kin for kin in ONE_KIND)
    if not same_kind:
        return 400
    if kind not in UNNAMED_SHOP and not own_shop:
        return 400  # the body names its shop; the header names another
    return 200


def _harmless(kind: str, result: str | None, own_shop: bool) -> bool:
    """A result that changed nothing the original had not already done."""
    text = result or ""
    if not own_shop:  # a body that does not name its shop, under the other shop's header
        if kind == "app/scopes_update":  # the other shop's own scopes, asked of Shopify
            return text.startswith("scopes ")
        if kind in RETURN_TOPICS or kind == "refunds/create":  # no such return in that shop
            return text.startswith("ignored: Shopify has no return")
        return kind in ORDER_TOPICS and text.startswith("refused: order ")
    if kind in RETURN_TOPICS:  # what Shopify shows now, which ours already follows
        return text.startswith("echo: ")
    if kind == "refunds/create":  # the return as Shopify shows it, its refund already ours
        return text.startswith("echo: ") and "recorded:" not in text
    if kind in ORDER_TOPICS:
        return text.startswith("applied: order ") and text.endswith(
            "unchanged (stored order is as new)"
        )
    return {
        "app/uninstalled": text == STALE_UNINSTALL,
        "shop/redact": text == SHOP_REDACT_REFUSED,
        "customers/redact": text.startswith("redacted "),  # the same customer, again
        "customers/data_request": text.startswith("exported "),  # the same export, again
        "app/scopes_update": text.startswith("scopes "),  # Shopify's answer, unchanged
    }[kind]


async def test_replayed_deliveries_apply_nothing_the_original_did_not_mean(
    client: httpx.AsyncClient,
    settings: Settings,
    db: Database,
    sim_control: SimulatorControl,
    webhook_receiver: WebhookReceiver,
) -> None:
    capturer = Capturer(sim_control, webhook_receiver, settings)
    victim = await build_history(client, sim_control, settings, capturer, "replayv")
    attacker = await build_history(client, sim_control, settings, capturer, "replaya")
    tenants = (victim, attacker)
    before = {t.tenant_id: await tenant_state(db.db, t.tenant_id) for t in tenants}
    already = {e.id for e in await WebhookEvent.find({}).to_list()}

    sent: dict[str, tuple[str, bool]] = {}  # event id -> (captured topic, own shop header)
    for holder in tenants:
        other = attacker if holder is victim else victim
        assert set(holder.captured) == {*WEBHOOK_TOPICS}, "capture one delivery of each topic"
        for kind, delivery in sorted(holder.captured.items()):
            for route in sorted(WEBHOOK_TOPICS):
                for target in (holder, other):
                    own = target is holder
                    headers = delivery.headers(topic=route, shop=target.shop)
                    response = await client.post(
                        f"/api/webhooks/{route}", content=delivery.body, headers=headers
                    )
                    expected = _expected_status(kind, route, own)
                    assert response.status_code == expected, (kind, route, own, response.text)
                    if expected == 200:
                        sent[headers["X-Shopify-Event-Id"]] = (kind, own)
    await process_all(settings)

    for tenant in tenants:
        after = await tenant_state(db.db, tenant.tenant_id)
        assert after == before[tenant.tenant_id], f"{tenant.shop}: replays changed stored data"
    replays = [e for e in await WebhookEvent.find({}).to_list() if e.id not in already]
    assert {e.event_id for e in replays} == set(sent)  # the 400s stored nothing
    for event in replays:
        kind, own = sent[event.event_id]
        assert event.processed and not event.dead, (kind, own, event.error)
        assert _harmless(kind, event.result, own), (kind, event.topic, own, event.result)
    await _assert_merchants_still_served(client, tenants)
    alerts = await evaluate_alerts(
        settings, request_window=None, pool_usage=None, disk_usage=lambda _: DiskUsage(9, 1, 8)
    )
    [refused] = [alert for alert in alerts if alert.name == "shop_redact_refused"]
    assert refused.state is AlertState.FIRING  # the replayed shop/redacts were noticed


async def _assert_merchants_still_served(
    client: httpx.AsyncClient, tenants: tuple[ReplayTenant, ...]
) -> None:
    """No replayed uninstall took effect: each merchant's credential still works."""
    for tenant in tenants:
        body = await graphql(
            client, "{ tenant { tenantId } }", headers={"Authorization": f"Bearer {tenant.api_key}"}
        )
        assert body.get("data") and body["data"]["tenant"]["tenantId"] == tenant.tenant_id, body
