"""The returns chaos scenario, small (`rms chaos` runs it larger): customers competing for the
same units and merchants deciding over HTTP while the database is killed inside a createReturn,
right after its commit, right after a decision and right after a mirrored Shopify request."""

from __future__ import annotations

from pathlib import Path

from tools.chaos.scenarios.returns import returns_with_database_restart


async def test_returns_bursts_through_database_crashes_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    figures = await returns_with_database_restart(tmp_path, orders=6, customers_per_order=3)
    assert figures.ok, (figures.problems(), figures.notes, figures.details)
    details = {name: int(value) for name, value in figures.details.items()}
    assert details["outages"] == 4
    assert details["refused"] > 0  # the long outage outlasted requests in progress
    assert figures.acknowledged == figures.stored
    assert figures.acknowledged == details["creates_acked"] + details["decisions_acked"]
    assert details["creates_acked"] >= 6  # each order has units for its first customer
    # Every return, acknowledged or not, was taken to the end, and mirrored once.
    returns = details["creates_acked"] + details["unacked_stored"]
    assert details["resolved"] == details["shopify_returns"] == returns
    assert details["refunds"] == returns  # each paid once, through every crash
    assert figures.duplicated == 0
    assert figures.cross_tenant_reads == 0
