"""Fault scenarios. Each builds its own stack, injects its fault and returns `Figures`.

The fast test slice (tests/faults) runs them small; `rms chaos` runs them larger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from tools.chaos.figures import Figures
from tools.chaos.scenarios.clock import workers_with_jumped_clocks
from tools.chaos.scenarios.restore import restore_with_database_restart
from tools.chaos.scenarios.returns import returns_with_database_restart
from tools.chaos.scenarios.stall import stalled_database
from tools.chaos.scenarios.sync import sync_with_database_restart, sync_with_shopify_faults
from tools.chaos.scenarios.tokens import token_refresh_with_database_restart
from tools.chaos.scenarios.webhooks import webhooks_with_database_restart
from tools.chaos.scenarios.workers import workers_killed_with_work_claimed, workers_racing

Scenario = Callable[[Path], Awaitable[Figures]]


def scenarios(quick: bool) -> list[Scenario]:
    """The `rms chaos` run: small with `--quick`, larger otherwise."""
    scale = 1 if quick else 5

    async def ingest(root: Path) -> Figures:
        return await webhooks_with_database_restart(root, events=12 * scale)

    async def sync_restart(root: Path) -> Figures:
        return await sync_with_database_restart(root, orders=150 * scale)

    async def sync_faults(root: Path) -> Figures:
        return await sync_with_shopify_faults(root, orders=150 * scale)

    async def killed(root: Path) -> Figures:
        return await workers_killed_with_work_claimed(root, events=20 * scale, orders=60 * scale)

    async def racing(root: Path) -> Figures:
        return await workers_racing(root, events=30 * scale, shops=3, orders=40 * scale)

    async def clocks(root: Path) -> Figures:
        return await workers_with_jumped_clocks(root, shops=3, orders=40 * scale, events=30 * scale)

    async def tokens(root: Path) -> Figures:
        return await token_refresh_with_database_restart(root, rounds=2 * scale)

    async def stall(root: Path) -> Figures:
        return await stalled_database(root, clients=4 * scale)

    async def restore(root: Path) -> Figures:
        return await restore_with_database_restart(root, orders=100 * scale)

    async def returns_restart(root: Path) -> Figures:
        return await returns_with_database_restart(root, orders=10 * scale)

    return [
        ingest,
        sync_restart,
        sync_faults,
        killed,
        racing,
        clocks,
        tokens,
        stall,
        restore,
        returns_restart,
    ]


__all__ = [
    "Scenario",
    "restore_with_database_restart",
    "returns_with_database_restart",
    "scenarios",
    "stalled_database",
    "sync_with_database_restart",
    "sync_with_shopify_faults",
    "token_refresh_with_database_restart",
    "webhooks_with_database_restart",
    "workers_killed_with_work_claimed",
    "workers_racing",
    "workers_with_jumped_clocks",
]
