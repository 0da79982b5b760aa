"""What CLI commands share: settings, a Beanie-initialised database for one command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from app.config import Settings
from app.db import Database, connect

T = TypeVar("T")


@asynccontextmanager
async def database(settings: Settings | None = None) -> AsyncIterator[Database]:
    db = await connect(settings or Settings(), create_indexes=False)
    try:
        yield db
    finally:
        await db.close()


def run_with_database(
    body: Callable[[Database], Awaitable[T]], settings: Settings | None = None
) -> T:
    """Run one async command body against the configured database."""

    async def runner() -> T:
        async with database(settings) as db:
            return await body(db)

    return asyncio.run(runner())
