"""The MongoDB client and Beanie initialisation; created in the lifespan, closed there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from app.config import Settings
from app.models import DOCUMENT_MODELS
from app.models.write_concerns import DURABLE_WRITES
from app.observability.metrics import MongoPoolListener

Mongo = AsyncMongoClient[dict[str, Any]]


@dataclass(slots=True)
class Database:
    client: Mongo
    db: AsyncDatabase[dict[str, Any]]

    async def ping(self) -> None:
        await self.db.command("ping")

    async def close(self) -> None:
        await self.client.close()


def make_client(settings: Settings, listeners: list[CommandListener] | None = None) -> Mongo:
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
        w=DURABLE_WRITES.document["w"],
        journal=DURABLE_WRITES.document["j"],
        event_listeners=[*(listeners or []), MongoPoolListener()],
    )


async def connect(
    settings: Settings,
    *,
    listeners: list[CommandListener] | None = None,
    create_indexes: bool = True,
) -> Database:
    """Open the client and initialise Beanie with the explicit model list."""
    client = make_client(settings, listeners)
    db = client.get_database(settings.mongodb_db)
    await init_beanie(database=db, document_models=DOCUMENT_MODELS, skip_indexes=not create_indexes)
    return Database(client=client, db=db)
