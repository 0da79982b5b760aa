"""The fast slice of the chaos run (`rms chaos` runs the same scenarios larger).

Each scenario crashes at a chosen moment (right after a recorded sync page, right after Shopify
answered, between two events a worker claimed), not at a random time: a bug that needs the
crash to land at the worst moment shows in every run, so one small run per scenario is enough
to catch what a timed kill caught one run in three (the lost sync page of issue 14 failed
10 of 10 runs of `test_a_sync_survives_a_database_crash_and_resumes` before its fix).
"""

from __future__ import annotations

from pathlib import Path

from tools.chaos import scenarios
from tools.chaos.figures import Figures


def _assert_nothing_lost_or_duplicated(figures: Figures) -> None:
    assert figures.ok, (figures.problems(), figures.notes, figures.details)


async def test_webhooks_during_a_database_crash_are_refused_or_kept_never_doubled(
    tmp_path: Path,
) -> None:
    figures = await scenarios.webhooks_with_database_restart(tmp_path, events=9)
    _assert_nothing_lost_or_duplicated(figures)
    # Refused deliveries came back (Shopify retries) and were stored and processed once.
    assert figures.acknowledged == figures.stored == 9
    assert figures.cross_tenant_reads == 0


async def test_a_sync_survives_a_database_crash_and_resumes(tmp_path: Path) -> None:
    figures = await scenarios.sync_with_database_restart(tmp_path, orders=100)  # 5 pages
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.details["jobs_done"] == 1
    assert figures.acknowledged == figures.stored == 100


async def test_a_sync_survives_shopify_5xx_timeouts_throttling_and_token_expiry(
    tmp_path: Path,
) -> None:
    figures = await scenarios.sync_with_shopify_faults(tmp_path, orders=60)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.details["jobs_done"] == 1


async def test_work_of_killed_workers_is_taken_over_once(tmp_path: Path) -> None:
    figures = await scenarios.workers_killed_with_work_claimed(tmp_path, events=10, orders=30)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.details["events_done"] == 10
    assert figures.details["jobs_done"] == figures.details["resumed"] == 1


async def test_racing_workers_never_do_the_same_work_twice(tmp_path: Path) -> None:
    figures = await scenarios.workers_racing(tmp_path, events=12, shops=2, orders=20)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.details["events_done"] == 12
    assert figures.details["jobs_done"] == 2


async def test_workers_with_jumped_clocks_neither_steal_nor_keep_leases(tmp_path: Path) -> None:
    figures = await scenarios.workers_with_jumped_clocks(tmp_path, shops=2, orders=40, events=12)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.details["events_done"] == 12
    assert figures.details["jobs_done"] == 3  # two shared jobs, and the dead worker's job


async def test_refreshed_tokens_survive_a_crash_right_after_shopify_issued_them(
    tmp_path: Path,
) -> None:
    figures = await scenarios.token_refresh_with_database_restart(tmp_path, rounds=2)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.acknowledged == figures.stored == 2


async def test_a_stalled_database_fails_requests_fast_and_recovers(tmp_path: Path) -> None:
    figures = await scenarios.stalled_database(tmp_path, clients=2, orders=3)
    _assert_nothing_lost_or_duplicated(figures)
    assert int(figures.details["refused_in_stall"]) > 0
    assert int(figures.details["health_503"]) > 0


async def test_a_restore_killed_midway_is_never_reported_done_and_resumes_whole(
    tmp_path: Path,
) -> None:
    figures = await scenarios.restore_with_database_restart(tmp_path, orders=40)
    _assert_nothing_lost_or_duplicated(figures)
    assert figures.acknowledged == figures.stored
    assert int(figures.details["documents"]) > 40
