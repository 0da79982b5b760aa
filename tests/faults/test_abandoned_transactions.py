"""A transaction abandoned because its request's database deadline ran out must not hold its
documents: the driver's own abort runs under that spent deadline and is never sent, and the
server kept the transaction (and its write lock) until it reaped it 60 s later. Seen in the
chaos returns burst: every customer of two orders was refused for 30 s."""

from __future__ import annotations

import asyncio
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from app.db import Database
from app.models import transactions
from app.models.transactions import in_transaction
from tools.chaos.environment import eventually


async def test_a_transaction_cut_by_its_deadline_releases_its_documents(
    db: Database, mongo_uri: str
) -> None:
    collection = db.db["transaction_probe"]
    await collection.insert_one({"_id": 1, "n": 0})

    async def slow_body(session: AsyncClientSession) -> None:
        await collection.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
        await asyncio.sleep(0.5)  # the request's deadline runs out meanwhile
        await collection.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)

    with pytest.raises(PyMongoError), pymongo.timeout(0.3):
        await in_transaction(db.client, db.db.name, "tenant-probe", slow_body)

    # Another process (its own client, so no pooled session of ours is reused): its transaction
    # on the same document must not meet the abandoned one's lock.
    other: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
    try:
        others = other[db.db.name]["transaction_probe"]

        async def bump(session: AsyncClientSession) -> None:
            await others.update_one({"_id": 1}, {"$inc": {"n": 10}}, session=session)

        async with other.start_session() as session:
            with pymongo.timeout(5):  # a bound on a hang, not a timing assertion
                await session.with_transaction(bump)
    finally:
        await other.close()
    found = await collection.find_one({"_id": 1})
    assert found is not None and found["n"] == 10  # nothing of the abandoned one landed


class _Kills(CommandListener):
    """The sessions `killSessions` was sent for, in order."""

    def __init__(self) -> None:
        self.killed: list[Any] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "killSessions":
            self.killed.extend(event.command["killSessions"])

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


async def test_an_abandoned_session_is_never_reused_and_is_killed_again_later(
    db: Database, mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded server a command of the abandoned transaction still queued from its closed
    connection can run after the kill and open the transaction again (a chaos run: one order's
    customers met a write conflict on its ledger for 30 s and more). So its session is never
    pooled again, and it is killed again once nothing it sent can still be queued."""
    monkeypatch.setattr(transactions, "LATE_KILL_DELAYS_SECONDS", (0.1, 0.2))
    kills = _Kills()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, event_listeners=[kills])
    try:
        collection = client[db.db.name]["transaction_probe"]
        await collection.insert_one({"_id": 1, "n": 0})
        used: list[Any] = []

        async def failing_body(session: AsyncClientSession) -> None:
            used.append(session.session_id)
            await collection.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
            raise RuntimeError("the request gave up")

        with pytest.raises(RuntimeError):
            await in_transaction(client, db.db.name, "tenant-probe", failing_body)
        assert kills.killed == [used[0]]  # at once

        async def next_body(session: AsyncClientSession) -> None:
            used.append(session.session_id)

        await in_transaction(client, db.db.name, "tenant-probe", next_body)
        assert used[1] != used[0]  # the abandoned session was not pooled again

        async def killed_twice_more() -> bool:  # later: waited for, a busy server is slow
            return len(kills.killed) >= 3

        await eventually(killed_twice_more, 10)
        await asyncio.sleep(0.3)  # and no more than that
        assert kills.killed == [used[0]] * 3
    finally:
        await client.close()
