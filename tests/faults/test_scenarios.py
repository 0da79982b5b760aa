"""The fast slice of the chaos run (`rms chaos` runs the same scenarios larger): database
crashes during ingest and sync, Shopify faults, killed and racing workers."""

from __future__ import annotations

from pathlib import Path

from tools.chaos import scenarios
from tools.chaos.figures import Figures


def _assert_nothing_lost_or_duplicated(figures: Figures) -> None:
    assert figures.ok, (figures.problems(), figures.notes)


async def test_webhooks_during_a_database_crash_are_refused_or_kept_never_doubled(
    tmp_path: Path,
) -> None:
    figures = await scenarios.webhooks_with_database_restart(tmp_path, events=9)
    # Refused deliveries came back (Shopify retries) and were stored and processed once.
    assert figures.events_sent == 9
    assert figures.events_acknowledged == 9
    assert figures.events_processed == figures.events_stored
    assert figures.events_completed_twice == 0
    assert figures.jobs_duplicated == 0  # no order stored twice
    assert figures.cross_tenant_reads == 0
    assert figures.events_stored == figures.events_acknowledged


async def test_a_sync_survives_a_database_crash_and_resumes(tmp_path: Path) -> None:
    figures = await scenarios.sync_with_database_restart(tmp_path, orders=60)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.jobs_completed == 1


async def test_a_sync_survives_shopify_5xx_timeouts_throttling_and_token_expiry(
    tmp_path: Path,
) -> None:
    figures = await scenarios.sync_with_shopify_faults(tmp_path, orders=60)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.jobs_completed == 1


async def test_work_of_killed_workers_is_taken_over_once(tmp_path: Path) -> None:
    figures = await scenarios.workers_killed_with_work_claimed(tmp_path, events=10, orders=30)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.events_processed == 10
    assert figures.jobs_completed == figures.jobs_resumed == 1


async def test_racing_workers_never_do_the_same_work_twice(tmp_path: Path) -> None:
    figures = await scenarios.workers_racing(tmp_path, events=12, shops=2, orders=20)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.events_processed == 12
    assert figures.jobs_completed == 2
