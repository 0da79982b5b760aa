"""Fixtures for the operations tests: a database without indexes, and raw-BSON snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument

from app.config import Settings
from app.db import Database, connect

RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)


@pytest.fixture
async def bare_db(settings: Settings) -> AsyncIterator[Database]:
    """Beanie initialised but no index created: what a brand-new deployment starts from."""
    database = await connect(settings, create_indexes=False)
    try:
        yield database
    finally:
        await database.client.drop_database(settings.mongodb_db)
        await database.close()


async def index_state(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Collections and their index specs, comparable across runs."""
    state = {}
    for name in sorted(await db.list_collection_names()):
        cursor = await db[name].list_indexes()
        specs = [{k: v for k, v in dict(spec).items() if k != "ns"} async for spec in cursor]
        state[name] = sorted(specs, key=lambda spec: str(spec["name"]))
    return state


async def raw_documents(db: Any) -> dict[str, list[bytes]]:
    """Every document of every collection as the exact bytes the server holds, in _id order."""
    contents = {}
    for name in sorted(await db.list_collection_names()):
        collection = db.get_collection(name, codec_options=RAW)
        contents[name] = [bytes(doc.raw) async for doc in collection.find({}).sort("_id", 1)]
    return contents
