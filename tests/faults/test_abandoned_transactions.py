"""A transaction abandoned because its request's database deadline ran out must not hold its
documents: the driver's own abort runs under that spent deadline and is never sent, and the
server kept the transaction (and its write lock) until it reaped it 60 s later. Seen in the
chaos returns burst: every customer of two orders was refused for 30 s."""

from __future__ import annotations

import asyncio

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from app.db import Database
from app.models.transactions import in_transaction


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
