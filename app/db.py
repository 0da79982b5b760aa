"""The MongoDB client and Beanie initialisation; created in the lifespan, closed there."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener, ConnectionPoolListener

from app.clock import server_time_known, set_server_time
from app.config import Settings
from app.models import DOCUMENT_MODELS, write_concerns
from app.observability import tracing
from app.observability.metrics import MongoPoolListener
from app.periodic import Periodic

# What a caller may add to the client's own listeners: commands (tests, tracing) and pool events.
MongoListener = CommandListener | ConnectionPoolListener

logger = logging.getLogger(__name__)

Mongo = AsyncMongoClient[dict[str, Any]]

# How often a connected process reads the database server's clock again (see app/clock.py).
SERVER_CLOCK_INTERVAL_SECONDS = 60.0
SERVER_CLOCK_TIMEOUT_SECONDS = 2.0
# A reading is off by at most half its round trip: a slower one is not worth taking.
SERVER_CLOCK_MAX_ROUND_TRIP_SECONDS = 0.5


@dataclass(slots=True)
class Database:
    client: Mongo
    db: AsyncDatabase[dict[str, Any]]
    _clock_reader: Periodic | None = field(default=None, repr=False)

    async def ping(self) -> None:
        await self.db.command("ping")

    def keep_reading_server_clock(self, interval: float = SERVER_CLOCK_INTERVAL_SECONDS) -> None:
        async def read() -> None:
            await read_server_clock(self.db)

        self._clock_reader = Periodic(read, interval, name="server-clock")
        self._clock_reader.start()

    async def close(self) -> None:
        if self._clock_reader is not None:
            await self._clock_reader.stop()
        await self.client.close()


async def read_server_clock(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Take "now" from the database server (`hello`'s `localTime`, at the middle of the round
    trip). A slow round trip (a stalled server) could be off by half its length: once there is
    a reading, a slower one is ignored, as is a failure, and the previous reading stays in use."""
    try:
        with pymongo.timeout(SERVER_CLOCK_TIMEOUT_SECONDS):
            sent = time.monotonic()
            reply = await db.command("hello")
            received = time.monotonic()
    except Exception as exc:  # the clock keeps running on its last reading
        logger.warning("could not read the database server's clock: %s", type(exc).__name__)
        return
    server_time = reply.get("localTime")
    if server_time_known() and received - sent > SERVER_CLOCK_MAX_ROUND_TRIP_SECONDS:
        logger.info("ignored a server clock reading with a %.2f s round trip", received - sent)
        return
    if isinstance(server_time, datetime):
        set_server_time(server_time, (sent + received) / 2)


def make_client(settings: Settings, listeners: list[MongoListener] | None = None) -> Mongo:
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        maxPoolSize=settings.mongodb_max_pool_size,
        socketTimeoutMS=settings.mongodb_socket_timeout_ms,
        waitQueueTimeoutMS=settings.mongodb_wait_queue_timeout_ms,
        appname="returns-management",
        w=write_concerns.DURABLE_WRITES.document["w"],
        journal=write_concerns.DURABLE_WRITES.document["j"],
        event_listeners=[*(listeners or []), *tracing.mongo_listeners(), MongoPoolListener()],
    )


async def connect(
    settings: Settings,
    *,
    listeners: list[MongoListener] | None = None,
    create_indexes: bool = True,
) -> Database:
    """Open the client, initialise Beanie with the explicit model list, and keep this process's
    clock on the database server's (app/clock.py)."""
    client = make_client(settings, listeners)
    db = client.get_database(settings.mongodb_db)
    await init_beanie(database=db, document_models=DOCUMENT_MODELS, skip_indexes=not create_indexes)
    await read_server_clock(db)
    database = Database(client=client, db=db)
    database.keep_reading_server_clock()
    return database
