"""Fault tests run against an on-disk database they can SIGKILL and restart (`Stack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.db import connect
from tools.chaos.environment import Stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A killable database and the Shopify simulator, with Beanie connected to the database."""
    async with Stack(tmp_path) as running:
        database = await connect(running.settings)
        try:
            yield running
        finally:
            await database.close()


async def crash(stack: Stack) -> None:
    """SIGKILL the database right now and start it again on its data."""
    await stack.kill_database()
    await stack.restart_database()
