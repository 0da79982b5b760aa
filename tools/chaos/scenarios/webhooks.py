"""Webhook ingest while the database is killed and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path

from tools.chaos.environment import Stack, eventually
from tools.chaos.figures import Figures
from tools.chaos.scenarios.common import cross_tenant_reads, order_ids


async def webhooks_with_database_restart(root: Path, events: int = 12) -> Figures:
    """Orders created in Shopify while our database is killed and restarted: every event
    Shopify got a 2xx for is stored once and processed once; refused ones are retried."""
    figures = Figures("webhooks: db killed during ingest")
    started = time.monotonic()
    async with Stack(
        root,
        serve_app=True,
        socket_timeout_ms=None,  # as deployed: the ingest path answers 503 while the db is down
        webhook_lease_seconds=2.0,
        webhook_retry_base_seconds=0.2,
        webhook_idle_seconds=0.05,
    ) as stack:
        victim_shop = await stack.new_shop(orders=0)
        other_shop = await stack.new_shop(orders=0, prefix="other")
        victim = await stack.install_through_the_app(victim_shop)
        other = await stack.install_through_the_app(other_shop)
        kill_at, restart_at = events // 3, (2 * events) // 3
        for index in range(events):
            if index == kill_at:
                await stack.kill_database()
            if index == restart_at:
                await asyncio.sleep(1.5)  # deliveries meet the outage and are retried
                await stack.restart_database()
            await stack.control.create_order(victim_shop)
        await stack.control.settle(victim_shop, timeout=60)

        async def all_processed() -> bool:
            stored: int = await stack.raw["webhook_events"].count_documents({"tenant_id": victim})
            done: int = await stack.raw["webhook_events"].count_documents(
                {"tenant_id": victim, "processed": True}
            )
            return stored > 0 and stored == done

        with contextlib.suppress(TimeoutError):
            await eventually(all_processed, 60, 0.1)
        deliveries = (await stack.control.deliveries(victim_shop))["deliveries"]
        attempts = [
            d for d in deliveries if d.get("event_id") and d.get("topic") == "orders/create"
        ]
        sent = {d["event_id"] for d in attempts}
        acknowledged = {
            d["event_id"] for d in attempts if 200 <= int(d.get("status_code") or 0) < 300
        }
        refused = sum(1 for d in attempts if int(d.get("status_code") or 0) >= 500)
        stored_docs = (
            await stack.raw["webhook_events"]
            .find({"tenant_id": victim, "topic": "orders/create"}, {"event_id": 1, "processed": 1})
            .to_list(None)
        )
        stored_ids = Counter(doc["event_id"] for doc in stored_docs)
        figures.acknowledged = len(acknowledged)
        figures.stored = len(acknowledged & set(stored_ids))
        processed = sum(1 for doc in stored_docs if doc.get("processed"))
        figures.check(
            processed == len(stored_docs), f"{len(stored_docs)} stored, {processed} processed"
        )
        figures.check(acknowledged == sent, f"{len(sent - acknowledged)} never acknowledged")
        orders = await order_ids(stack.raw, victim)
        figures.check(len(set(orders)) == events, f"{len(set(orders))} of {events} orders stored")
        figures.duplicated = sum(count - 1 for count in stored_ids.values()) + (
            len(orders) - len(set(orders))
        )
        figures.details = {"sent": len(sent), "processed": processed, "refused_5xx": refused}
        figures.cross_tenant_reads = await cross_tenant_reads(
            stack, await stack.api_key(other), victim
        )
    figures.seconds = time.monotonic() - started
    return figures
