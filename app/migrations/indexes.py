"""Index helpers for migrations: the indexes declared on the Beanie models, created or dropped."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from typing import Any

from beanie import Document
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

Db = AsyncDatabase[dict[str, Any]]
# Server error codes that mean "already gone": IndexNotFound, NamespaceNotFound.
_ALREADY_GONE = {26, 27}


def collection_name(model: type[Document]) -> str:
    settings = getattr(model, "Settings", None)
    return str(getattr(settings, "name", None) or model.__name__)


def declared_indexes(model: type[Document]) -> list[IndexModel]:
    """`Settings.indexes` as IndexModels (Beanie also accepts a field name or a key list)."""
    indexes: list[IndexModel] = []
    for index in getattr(getattr(model, "Settings", None), "indexes", None) or []:
        if isinstance(index, IndexModel):
            indexes.append(index)
        elif isinstance(index, str):
            indexes.append(IndexModel([(index, 1)]))
        else:
            indexes.append(IndexModel(list(index)))
    return indexes


def index_name(index: IndexModel) -> str:
    return str(index.document["name"])


async def existing_index_names(db: Db, collection: str) -> set[str]:
    cursor = await db[collection].list_indexes()
    return {str(spec["name"]) async for spec in cursor}


async def create_model_indexes(
    db: Db, models: Sequence[type[Document]], names: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """Create the models' declared indexes (only `names`, if given); rerunning is a no-op.

    All or nothing: when one fails (e.g. a unique index over duplicate data), the indexes this
    call created are dropped again before the error propagates. Returns (collection, index)
    pairs created.
    """
    created: list[tuple[str, str]] = []
    try:
        for model in models:
            collection = collection_name(model)
            existing = await existing_index_names(db, collection)
            for index in declared_indexes(model):
                name = index_name(index)
                if names is not None and name not in names:
                    continue
                await db[collection].create_indexes([index])
                if name not in existing:
                    created.append((collection, name))
    except BaseException:
        for collection, name in reversed(created):
            with contextlib.suppress(OperationFailure):
                await db[collection].drop_index(name)
        raise
    return created


async def drop_model_indexes(
    db: Db, models: Sequence[type[Document]], names: Collection[str] | None = None
) -> None:
    """Drop the models' declared indexes (only `names`, if given); missing ones are skipped."""
    for model in models:
        collection = collection_name(model)
        for index in declared_indexes(model):
            name = index_name(index)
            if names is not None and name not in names:
                continue
            try:
                await db[collection].drop_index(name)
            except OperationFailure as exc:
                if exc.code not in _ALREADY_GONE:
                    raise
